/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Per-CPU scratch memory (records, paths, inode copies, messages being built) that a
 * program keeps when it is preempted. Programs run with migration disabled but, on
 * kernels whose tracepoints and cgroup hooks can be preempted (7.x with PREEMPT_LAZY, RT
 * kernels, preempt=full), another task's program can run on the same CPU half-way
 * through one: with one scratch buffer per CPU it overwrites the first one's record (seen
 * on Debian 7.3 amd64: a canary chmod's record carried a busybox exec's pid and inode).
 *
 * So each CPU has REC_SCRATCH_SLOTS buffers of each kind. A program takes a free slot
 * the first time it needs scratch and gives it back before it returns (scratch_done());
 * a preempted program keeps its slot, the program that runs meanwhile takes another.
 * Taking a slot must be atomic, yet 5.10's verifier refuses any program that holds a
 * compare-and-exchange instruction (5.12+), even unreached: the claim is an insert with
 * BPF_NOEXIST into a hash map (atomic in the map's code), scratch_claims, keyed by CPU
 * and slot. scratch_owners, per CPU, says which thread holds which slot, so a program
 * finds the slot it holds without a map operation. When every slot is taken the event is
 * dropped and counted (STAT_SCRATCH_BUSY).
 */
#ifndef KFLOWD_SCRATCH_BPF_H
#define KFLOWD_SCRATCH_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "records.h"
#include "maps.bpf.h"

/*
 * Key 0 of one-element maps, kept in map memory rather than on the stack: before 6.x
 * kernels count a global function's stack into its callers' 512 bytes, and
 * exec_script_by_name -> path_op_file -> path_walk has none to spare.
 */
const __u32 scratch_key SEC(".rodata.zero") = 0;

/*
 * The keys of the scratch maps' slots by slot & 7, REC_SCRATCH_SLOTS (none: lookups
 * fail) past them: lookups take their key from here, not from the stack.
 */
const __u32 scratch_slot_keys[8] SEC(".rodata.zero") = { 0, 1, 2, 3, 4, 4, 4, 4 };
_Static_assert(REC_SCRATCH_SLOTS == 4, "scratch_slot_keys lists every slot");

/*
 * Per CPU: the thread holding each slot (its tid + 1, as 0 is free), and the slots'
 * keys in scratch_claims. The keys live here, not on the stack, because the descriptor
 * walks (fd_range_release -> fd_release -> file_create -> path_walk) use the 512 bytes
 * 5.10 and 6.1 allow to the last 32; every program on this CPU writes the same keys.
 */
struct scratch_owners {
	__u32 tid[REC_SCRATCH_SLOTS];
	__u32 claim[REC_SCRATCH_SLOTS];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch_owners);
} scratch_owners SEC(".maps");

/* CPU * REC_SCRATCH_SLOTS + slot -> (nothing); sized by the agent (CPUs * slots) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, REC_SCRATCH_SLOTS);
	__type(key, __u32);
	__type(value, __u32);
} scratch_claims SEC(".maps");

/*
 * The current thread's scratch slot on this CPU, taken now if it has none;
 * REC_SCRATCH_SLOTS when every slot is taken. A global function, verified once: inlined
 * at every lookup, its paths multiplied the states of path_op_file() past what 6.1's
 * verifier takes.
 */
__noinline int scratch_slot(void)
{
	struct scratch_owners *o = bpf_map_lookup_elem(&scratch_owners, &scratch_key);
	__u32 tid = (__u32)bpf_get_current_pid_tgid() + 1;
	__u32 base = bpf_get_smp_processor_id() * REC_SCRATCH_SLOTS;

	if (!o)
		return REC_SCRATCH_SLOTS;
	for (__u32 i = 0; i < REC_SCRATCH_SLOTS; i++)
		if (o->tid[i] == tid)
			return i;
	for (__u32 i = 0; i < REC_SCRATCH_SLOTS; i++) {
		o->claim[i] = base + i;
		if (bpf_map_update_elem(&scratch_claims, &o->claim[i], &scratch_key, BPF_NOEXIST) == 0) {
			o->tid[i] = tid;
			return i;
		}
	}
	stat_inc(STAT_SCRATCH_BUSY);
	return REC_SCRATCH_SLOTS;
}

/* scratch_done()'s work, where a slot of this CPU is taken */
__noinline int scratch_free(void)
{
	struct scratch_owners *o = bpf_map_lookup_elem(&scratch_owners, &scratch_key);
	__u32 tid = (__u32)bpf_get_current_pid_tgid() + 1;
	__u32 base = bpf_get_smp_processor_id() * REC_SCRATCH_SLOTS;

	if (!o)
		return 0;
	for (__u32 i = 0; i < REC_SCRATCH_SLOTS; i++) {
		if (o->tid[i] != tid)
			continue;
		/* the owner first: a program running meanwhile sees the claim and takes another */
		o->tid[i] = 0;
		o->claim[i] = base + i;
		bpf_map_delete_elem(&scratch_claims, &o->claim[i]);
	}
	return 0;
}

/*
 * The current thread's program is done with scratch: its slot is free again. Most calls
 * took none (a read of a TCP socket, a close of a pipe): when no slot of this CPU is
 * taken at all, it returns after an inlined lookup and one test, without the call, the
 * thread id and the loop. A slot taken by a preempted program makes it look, and find
 * nothing of this thread's, as before.
 */
static __always_inline void scratch_done(void)
{
	struct scratch_owners *o = bpf_map_lookup_elem(&scratch_owners, &scratch_key);

	if (o && (o->tid[0] | o->tid[1] | o->tid[2] | o->tid[3]))
		scratch_free();
}

/* this thread's scratch of map m (a per-CPU array of REC_SCRATCH_SLOTS), or NULL */
#define SCRATCH(m) bpf_map_lookup_elem(&(m), &scratch_slot_keys[scratch_slot() & 7])

#endif /* KFLOWD_SCRATCH_BPF_H */
