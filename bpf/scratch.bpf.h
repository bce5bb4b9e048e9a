/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Per-CPU scratch memory (records, paths, inode copies, messages being built) that a
 * program keeps when it is preempted. Programs run with migration disabled but, on
 * kernels whose tracepoints and cgroup hooks can be preempted (7.x with PREEMPT_LAZY, RT
 * kernels, preempt=full), another task's program can run on the same CPU half-way
 * through one: with one scratch buffer per CPU it overwrites the first one's record (seen
 * on Debian 7.3 amd64: a canary chmod's record carried a busybox exec's pid and inode).
 *
 * So each CPU has REC_SCRATCH_SLOTS buffers of each kind, and a table of which thread
 * owns which slot: a program takes a free slot the first time it needs scratch (an
 * atomic compare-and-exchange) and gives it back before it returns (scratch_done()). A
 * preempted program keeps its slot; the program that runs meanwhile takes another. When
 * every slot is taken the event is dropped and counted (STAT_SCRATCH_BUSY). Where the
 * kernel has no BPF atomics (before 5.12; its tracepoints also run with preemption
 * disabled) cfg.scratch_slots is 1 and slot 0 is everyone's, as before.
 */
#ifndef KFLOWD_SCRATCH_BPF_H
#define KFLOWD_SCRATCH_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "records.h"
#include "maps.bpf.h"

extern const volatile struct kf_config cfg;

/*
 * Key 0 of one-element maps, kept in map memory rather than on the stack: before 6.x
 * kernels count a global function's stack into its callers' 512 bytes, and
 * exec_script_by_name -> path_op_file -> path_resolve -> path_walk has none to spare.
 */
const __u32 scratch_key SEC(".rodata.zero") = 0;

/* the thread (tid) owning each slot of this CPU, 0 for none */
struct scratch_owners {
	__u64 tid[REC_SCRATCH_SLOTS];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch_owners);
} scratch_owners SEC(".maps");

/*
 * The current thread's scratch slot on this CPU, taken now if it has none; the key of
 * every scratch map lookup. REC_SCRATCH_SLOTS (no such key: lookups fail) when every
 * slot is taken.
 */
static __always_inline __u32 scratch_slot(void)
{
	struct scratch_owners *o;
	__u64 tid;

	if (cfg.scratch_slots <= 1)
		return 0;
	o = bpf_map_lookup_elem(&scratch_owners, &scratch_key);
	if (!o)
		return REC_SCRATCH_SLOTS;
	tid = (__u32)bpf_get_current_pid_tgid();
	for (__u32 i = 0; i < REC_SCRATCH_SLOTS; i++)
		if (o->tid[i] == tid)
			return i;
	for (__u32 i = 0; i < REC_SCRATCH_SLOTS; i++)
		if (__sync_val_compare_and_swap(&o->tid[i], 0, tid) == 0)
			return i;
	stat_inc(STAT_SCRATCH_BUSY);
	return REC_SCRATCH_SLOTS;
}

/* The current thread's program is done with scratch: its slot is free again. */
static __always_inline void scratch_done(void)
{
	struct scratch_owners *o;
	__u64 tid;

	if (cfg.scratch_slots <= 1)
		return;
	o = bpf_map_lookup_elem(&scratch_owners, &scratch_key);
	if (!o)
		return;
	tid = (__u32)bpf_get_current_pid_tgid();
	for (__u32 i = 0; i < REC_SCRATCH_SLOTS; i++)
		if (o->tid[i] == tid)
			o->tid[i] = 0;
}

/* this thread's scratch of map m (a per-CPU array of REC_SCRATCH_SLOTS), or NULL */
#define SCRATCH(m)                                                                                 \
	({                                                                                         \
		__u32 __slot = scratch_slot();                                                     \
		bpf_map_lookup_elem(&(m), &__slot);                                                \
	})

#endif /* KFLOWD_SCRATCH_BPF_H */
