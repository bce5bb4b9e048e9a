// SPDX-License-Identifier: GPL-2.0
/*
 * Never loaded: instantiates every shared type so that its BTF reaches the object that
 * bpf/gen-layout.ts reads. Compiled with -Wpadded -Werror, so an implicit hole fails.
 */
#include <linux/types.h>
#include "records.h"

struct rec_hdr layout_rec_hdr;
struct rec_task layout_rec_task;
struct rec_inode layout_rec_inode;
struct rec_file layout_rec_file;
struct file_key layout_file_key;
struct rec_exit layout_rec_exit;
struct rec_sock_dir layout_rec_sock_dir;
struct rec_sock layout_rec_sock;
struct rec_app layout_rec_app;
struct app_port layout_app_port;
enum app_kind layout_app_kind;
enum monitor_flags layout_monitor_flags;
enum app_limits layout_app_limits;
enum sock_limits layout_sock_limits;
enum sock_role layout_sock_role;
enum rec_sock_flags layout_rec_sock_flags;
struct rec_stats layout_rec_stats;
struct kf_config layout_kf_config;
enum rec_limits layout_rec_limits;
enum rec_type layout_rec_type;
enum rec_kernel_values layout_rec_kernel_values;
enum fs_event layout_fs_event;
enum file_flags layout_file_flags;
enum stat_id layout_stat_id;
enum inode_tier layout_inode_tier;

_Static_assert(sizeof(struct rec_file) % 8 == 0, "rec_file must stay 8-byte sized");
_Static_assert(sizeof(struct rec_exit) % 8 == 0, "rec_exit must stay 8-byte sized");
_Static_assert(sizeof(struct rec_sock) % 8 == 0, "rec_sock must stay 8-byte sized");
_Static_assert(__builtin_offsetof(struct rec_sock, ts_first_ns) == __builtin_offsetof(struct rec_file, ts_first_ns),
	       "the timeout scan reads ts_first_ns at one offset in both records");
_Static_assert(sizeof(struct kf_config) % 8 == 0, "kf_config must stay 8-byte sized");
