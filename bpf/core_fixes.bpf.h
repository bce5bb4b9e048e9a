/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every kernel-version difference the BPF side copes with, in one place. The vmlinux.h
 * we compile against is 6.18's; older layouts are described by ___flavour structs and
 * chosen at load time with bpf_core_field_exists(), so one object runs on 5.10 .. 6.18.
 */
#ifndef KFLOWD_CORE_FIXES_BPF_H
#define KFLOWD_CORE_FIXES_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

/*
 * The current task as a BTF pointer, bpf_get_current_task_btf(), exists since 5.11
 * ("bpf: Implement get_current_task_btf and RET_PTR_TO_BTF_ID"): its fields, and the
 * fields of the structs they point to, are then plain loads the verifier guards instead
 * of a bpf_probe_read_kernel call each. On 5.10 the helper is unknown; the check is
 * resolved at load time, so the verifier never sees the call there.
 */
static __always_inline bool have_task_btf(void)
{
	return bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_get_current_task_btf);
}

/*
 * struct file reference count: atomic_long_t f_count until 6.12; file_ref_t f_ref since
 * 6.13 ("fs: port files to file_ref"), where a counter of 0 means
 * one reference (FILE_REF_ONEREF).
 */
struct file___f_count {
	atomic_long_t f_count;
};

/* spelled out here so that the code also builds against headers older than 6.13 */
struct file_ref___kf {
	atomic64_t refcnt;
};

struct file___f_ref {
	struct file_ref___kf f_ref;
};

static __always_inline long file_ref_count(struct file *f)
{
	struct file___f_ref *fr = (void *)f;
	struct file___f_count *fc = (void *)f;

	if (bpf_core_field_exists(fr->f_ref))
		return BPF_CORE_READ(fr, f_ref.refcnt.counter) + 1;
	return BPF_CORE_READ(fc, f_count.counter);
}

/*
 * Inode times moved three times:
 *   <= 6.5  i_atime, i_mtime, i_ctime           (struct timespec64)
 *      6.6  i_ctime -> __i_ctime  ("fs: rename i_ctime field to __i_ctime")
 *      6.7  i_atime/i_mtime -> __i_atime/__i_mtime  ("fs: rename inode i_atime and i_mtime fields")
 *  >= 6.11  i_{a,m,c}time_sec + _nsec  ("fs: switch timespec64 fields in inode to discrete integers")
 */
struct inode___times_timespec {
	struct timespec64 i_atime;
	struct timespec64 i_mtime;
	struct timespec64 i_ctime;
};

struct inode___times_private {
	struct timespec64 __i_atime;
	struct timespec64 __i_mtime;
	struct timespec64 __i_ctime;
};

#define NSEC_PER_SEC 1000000000ULL
/*
 * Multigrain timestamps (6.13, "fs: add infrastructure for multigrain timestamps") keep
 * the flag I_CTIME_QUERIED in bit 31 of i_ctime_nsec; valid nanoseconds stay below 2^30.
 */
#define I_CTIME_QUERIED (1U << 31)

static __always_inline __u64 ts_ns(__s64 sec, __s64 nsec)
{
	return (__u64)sec * NSEC_PER_SEC + ((__u32)nsec & ~I_CTIME_QUERIED);
}

#define INODE_TIME(name)                                                                                               \
	static __always_inline __u64 inode_##name##_ns(struct inode *inode)                                            \
	{                                                                                                              \
		struct inode___times_timespec *ts = (void *)inode;                                                     \
		struct inode___times_private *pv = (void *)inode;                                                      \
		if (bpf_core_field_exists(inode->i_##name##_sec))                                                      \
			return ts_ns(BPF_CORE_READ(inode, i_##name##_sec), BPF_CORE_READ(inode, i_##name##_nsec));     \
		if (bpf_core_field_exists(pv->__i_##name))                                                             \
			return ts_ns(BPF_CORE_READ(pv, __i_##name.tv_sec), BPF_CORE_READ(pv, __i_##name.tv_nsec));     \
		return ts_ns(BPF_CORE_READ(ts, i_##name.tv_sec), BPF_CORE_READ(ts, i_##name.tv_nsec));                 \
	}

INODE_TIME(atime)
INODE_TIME(mtime)
INODE_TIME(ctime)

/*
 * The inode fields records report (mode, owner, links, size, times, plus i_sb and i_ino)
 * all lie in the first bytes of struct inode, in every layout above: up to 128 bytes on
 * 6.18, about 140 on 5.10. inode_span_read() copies them with one bpf_probe_read_kernel
 * call instead of one call per field; the fields are then taken from the copy at their
 * CO-RE offsets, which are constants by load time.
 */
#define INODE_SPAN_MAX 144

struct inode_span {
	__u64 w[INODE_SPAN_MAX / 8];
};

/* off is a constant by load time; one past the span (an unknown layout) reads offset 0 */
#define SPAN_AT(sp, type, off)                                                                                         \
	(*(const type *)((const char *)(sp) + ((off) <= INODE_SPAN_MAX - sizeof(type) ? (off) : 0)))
#define SPAN_END(type, field) (bpf_core_field_offset(type, field) + bpf_core_field_size(type, field))
#define SPAN_MAX(a, b) ((a) > (b) ? (a) : (b))

#define INODE_SPAN_TIME(name)                                                                                          \
	static __always_inline __u64 span_##name##_ns(const struct inode_span *sp)                                     \
	{                                                                                                              \
		if (bpf_core_field_exists(struct inode, i_##name##_sec))                                               \
			return ts_ns(SPAN_AT(sp, __s64, bpf_core_field_offset(struct inode, i_##name##_sec)),          \
				     SPAN_AT(sp, __u32, bpf_core_field_offset(struct inode, i_##name##_nsec)));        \
		if (bpf_core_field_exists(struct inode___times_private, __i_##name))                                   \
			return ts_ns(                                                                                  \
				SPAN_AT(sp, __s64,                                                                     \
					bpf_core_field_offset(struct inode___times_private, __i_##name.tv_sec)),       \
				SPAN_AT(sp, __u32,                                                                     \
					bpf_core_field_offset(struct inode___times_private, __i_##name.tv_nsec)));     \
		return ts_ns(                                                                                          \
			SPAN_AT(sp, __s64, bpf_core_field_offset(struct inode___times_timespec, i_##name.tv_sec)),     \
			SPAN_AT(sp, __u32, bpf_core_field_offset(struct inode___times_timespec, i_##name.tv_nsec)));   \
	}

INODE_SPAN_TIME(atime)
INODE_SPAN_TIME(mtime)
INODE_SPAN_TIME(ctime)

/* Bytes of struct inode up to the end of the last field the span is read for. */
static __always_inline __u32 inode_span_len(void)
{
	__u32 end = SPAN_MAX(SPAN_END(struct inode, i_size), SPAN_END(struct inode, i_ino));

	end = SPAN_MAX(end, SPAN_END(struct inode, i_sb));
	end = SPAN_MAX(end, SPAN_END(struct inode, i_nlink));
	end = SPAN_MAX(end, SPAN_END(struct inode, i_uid.val));
	end = SPAN_MAX(end, SPAN_END(struct inode, i_gid.val));
	if (bpf_core_field_exists(struct inode, i_ctime_sec)) {
		end = SPAN_MAX(end, SPAN_END(struct inode, i_atime_nsec));
		end = SPAN_MAX(end, SPAN_END(struct inode, i_mtime_nsec));
		end = SPAN_MAX(end, SPAN_END(struct inode, i_ctime_nsec));
		end = SPAN_MAX(end, SPAN_END(struct inode, i_ctime_sec));
	} else if (bpf_core_field_exists(struct inode___times_private, __i_ctime)) {
		end = SPAN_MAX(end, SPAN_END(struct inode___times_private, __i_atime));
		end = SPAN_MAX(end, SPAN_END(struct inode___times_private, __i_mtime));
		end = SPAN_MAX(end, SPAN_END(struct inode___times_private, __i_ctime));
	} else {
		end = SPAN_MAX(end, SPAN_END(struct inode___times_timespec, i_atime));
		end = SPAN_MAX(end, SPAN_END(struct inode___times_timespec, i_mtime));
		end = SPAN_MAX(end, SPAN_END(struct inode___times_timespec, i_ctime));
	}
	return end;
}

/*
 * Copies the first bytes of inode into sp; false if they are more than the span holds
 * (no known layout) or the read failed (sp is zeroed then).
 */
static __always_inline bool inode_span_read(struct inode_span *sp, const struct inode *inode)
{
	__u32 len = inode_span_len();

	if (len > sizeof(*sp)) {
		__builtin_memset(sp, 0, sizeof(*sp));
		return false;
	}
	return bpf_probe_read_kernel(sp, len, inode) == 0;
}

static __always_inline __u32 span_mode(const struct inode_span *sp)
{
	return SPAN_AT(sp, __u16, bpf_core_field_offset(struct inode, i_mode));
}

static __always_inline __u64 span_ino(const struct inode_span *sp)
{
	return SPAN_AT(sp, __u64, bpf_core_field_offset(struct inode, i_ino));
}

static __always_inline struct super_block *span_sb(const struct inode_span *sp)
{
	return (struct super_block *)SPAN_AT(sp, __u64, bpf_core_field_offset(struct inode, i_sb));
}

/*
 * Datagrams a socket dropped: sk_drops, and since 6.18 also per-NUMA-node counters that
 * busy protocols (UDP) count into instead, reached through sk_drop_counters.
 */
struct numa_drop_counters___kf {
	atomic_t drops0;
	atomic_t drops1;
} __attribute__((preserve_access_index));

/* relocated in plain loads too (sock_tcp_counters() reads a trusted socket directly) */
struct sock___drops {
	struct numa_drop_counters___kf *sk_drop_counters;
} __attribute__((preserve_access_index));

static __always_inline __u32 sk_drops(const struct sock *sk)
{
	struct sock___drops *sd = (void *)sk;
	__u32 n = BPF_CORE_READ(sk, sk_drops.counter);

	if (bpf_core_field_exists(sd->sk_drop_counters)) {
		struct numa_drop_counters___kf *c = BPF_CORE_READ(sd, sk_drop_counters);

		if (c)
			n += BPF_CORE_READ(c, drops0.counter) + BPF_CORE_READ(c, drops1.counter);
	}
	return n;
}

/*
 * io_uring requests (struct io_kiocb). Since 6.0 the tracepoints hand over the request
 * itself and the opcode's own data lies at its start (io_kiocb.cmd), as struct
 * io_rename, io_unlink, io_link, io_close, io_open, io_rw, io_sr_msg, io_accept (the
 * same in the BTF of Debian's 6.1, 6.12, 6.18 and 7.x kernels).
 *
 * Path names of path operations: a struct filename * up to 6.x; in 7.x a struct
 * delayed_filename that holds one (the name is copied at submission, its import
 * completed by the io-wq worker; Debian's 7.2 and 7.3 BTF). Either way the pointer is
 * the field's first 8 bytes; the kernel's copy of the name is filename->name, first in
 * struct filename in every layout (7.x moved it into an anonymous struct __filename_head).
 */
struct delayed_filename___kf {
	struct filename *__incomplete_filename;
};

struct io_rename___delayed {
	struct delayed_filename___kf oldpath;
	struct delayed_filename___kf newpath;
};

struct io_unlink___delayed {
	struct delayed_filename___kf filename;
};

struct io_link___delayed {
	struct delayed_filename___kf oldpath;
	struct delayed_filename___kf newpath;
};

struct io_xattr___delayed {
	struct delayed_filename___kf filename;
};

/* Offset of a path-name field of an io_uring op's data, in either layout. */
#define URING_NAME_OFF(type, field)                                                                                    \
	({                                                                                                             \
		__u32 __off;                                                                                           \
		if (bpf_core_field_exists(struct type##___delayed, field))                                             \
			__off = bpf_core_field_offset(struct type##___delayed, field);                                 \
		else                                                                                                   \
			__off = bpf_core_field_offset(struct type, field);                                             \
		__off;                                                                                                 \
	})

/* The kernel's copy of the path name whose struct filename * lies at req + off. */
static __always_inline const char *uring_name(const void *req, __u32 off)
{
	struct filename *fn = NULL;

	bpf_probe_read_kernel(&fn, sizeof(fn), (const char *)req + off);
	return fn ? BPF_CORE_READ(fn, name) : NULL;
}

/*
 * Registered ("fixed") files: the ring's table of slots, each a struct file pointer with
 * flag bits in its low bits. 6.13+ (Debian's 6.18, 7.x): io_file_table.data.nodes[slot]
 * ->file_ptr; before (6.1, 6.12): io_file_table.files[slot].file_ptr, ctx->nr_user_files slots.
 */
struct io_fixed_file___old {
	unsigned long file_ptr;
};

struct io_file_table___old {
	struct io_fixed_file___old *files;
};

struct io_rsrc_node___new {
	unsigned long file_ptr;
};

struct io_rsrc_data___new {
	unsigned int nr;
	struct io_rsrc_node___new **nodes;
};

struct io_file_table___new {
	struct io_rsrc_data___new data;
};

struct io_ring_ctx___new {
	struct io_file_table___new file_table;
};

struct io_ring_ctx___old {
	struct io_file_table___old file_table;
	unsigned int nr_user_files;
};

/* the struct file in slot of the ring of request req_addr, or NULL */
static __always_inline struct file *uring_slot_file(__u64 req_addr, __u32 slot)
{
	const struct io_kiocb *req = (void *)req_addr;
	struct io_ring_ctx *ctx = BPF_CORE_READ(req, ctx);
	unsigned long ptr = 0;

	if (!ctx)
		return NULL;
	if (bpf_core_field_exists(struct io_file_table___new, data)) {
		struct io_ring_ctx___new *c = (void *)ctx;
		struct io_rsrc_node___new **nodes = BPF_CORE_READ(c, file_table.data.nodes);
		struct io_rsrc_node___new *node = NULL;

		if (slot >= BPF_CORE_READ(c, file_table.data.nr))
			return NULL;
		bpf_probe_read_kernel(&node, sizeof(node), nodes + slot);
		ptr = node ? BPF_CORE_READ(node, file_ptr) : 0;
	} else if (bpf_core_field_exists(struct io_file_table___old, files)) {
		struct io_ring_ctx___old *old = (void *)ctx;
		struct io_fixed_file___old *files = BPF_CORE_READ(old, file_table.files);

		if (bpf_core_field_exists(old->nr_user_files) && slot >= BPF_CORE_READ(old, nr_user_files))
			return NULL;
		bpf_probe_read_kernel(&ptr, sizeof(ptr), &files[slot].file_ptr);
	}
	/* the flags (FFS_NOWAIT, FFS_ISREG, FFS_SCM): struct file is aligned to more */
	return (struct file *)(ptr & ~7UL);
}

/*
 * An io-wq worker (PF_IO_WORKER; since 5.12 a thread of the submitting process, made by
 * create_io_thread(), before that a kernel thread) runs one request at a time:
 * task->worker_private is its struct io_worker (named pf_io_worker before 5.19; 6.1's
 * BTF has worker_private), whose cur_work is &req->work. Returns that request's address,
 * or 0.
 */
#define PF_IO_WORKER 0x00000010

static __always_inline __u64 uring_worker_req(void)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	struct io_worker *w;
	struct io_wq_work *work;
	__u32 flags;

	if (!bpf_core_field_exists(task->worker_private))
		return 0;
	/* on every ctime change outside a syscall's path operation: a plain load where it can be */
	flags = have_task_btf() ? bpf_get_current_task_btf()->flags : BPF_CORE_READ(task, flags);
	if (!(flags & PF_IO_WORKER))
		return 0;
	w = BPF_CORE_READ(task, worker_private);
	if (!w)
		return 0;
	work = BPF_CORE_READ(w, cur_work);
	return work ? (__u64)work - bpf_core_field_offset(struct io_kiocb, work) : 0;
}

#endif /* KFLOWD_CORE_FIXES_BPF_H */
