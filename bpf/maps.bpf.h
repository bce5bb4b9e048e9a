/* SPDX-License-Identifier: GPL-2.0 */
/* Maps shared by all hooks. Sizes here are defaults; the agent sets them before load. */
#ifndef KFLOWD_MAPS_BPF_H
#define KFLOWD_MAPS_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "records.h"

/* finished records to the agent; submitted without wakeup, drained on a timer */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} ring SEC(".maps");

/* open file aggregations; not preallocated, so memory follows the files in use */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 4096);
	__type(key, struct file_key);
	__type(value, struct rec_file);
} files SEC(".maps");

/* sockets with traffic, key: cookie (TCP, UDP) or socket inode | 1 << 63 (UNIX) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 8192);
	__type(key, __u64);
	__type(value, struct rec_sock);
} socks SEC(".maps");

/* loss and health counters, enum stat_id */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rec_stats);
} stats SEC(".maps");

/* scratch for building a new file record before it is inserted (scratch.bpf.h) */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, REC_SCRATCH_SLOTS);
	__type(key, __u32);
	__type(value, struct rec_file);
} file_scratch SEC(".maps");

static __always_inline void stat_inc(enum stat_id id)
{
	__u32 zero = 0;
	struct rec_stats *s = bpf_map_lookup_elem(&stats, &zero);

	/* atomic: a program preempted between load and store would lose another's count */
	if (s && id < STAT_COUNT)
		__sync_fetch_and_add(&s->counters[id], 1);
}

#endif /* KFLOWD_MAPS_BPF_H */
