/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Syscall events the kernel skipped, taken by a second program. Since 7.0 tracepoints
 * run their BPF programs preemptibly (SRCU-fast, migration disabled only), and the
 * kernel still gives a program no event while that program is running on the CPU: a
 * thread preempted inside sys_exit's program makes every other thread's sys_exit on
 * that CPU go unseen until it resumes (counted in the program's recursion_misses). Seen
 * in the kernel matrix as a missing rm, ln -s or touch record, dozens of runs per minute
 * on 7.x guests.
 *
 * So sys_enter and sys_exit each have a rescuer: the same code in a second program,
 * attached after the first and run right after it in the same tracepoint call, which
 * acts only on events the first skipped. The first program, as its last act, notes the
 * thread's event (rescue_notes); the rescuer takes the event unless it finds the note,
 * and takes the note out. (Whether another thread is inside the first program says too
 * little: the kernel also counts the program as running in its own code around it,
 * where most preemptions of the short runs of unwanted calls land; measured on 7.2
 * guests, 12 of 53 skips had a thread inside. Per-CPU notes fail too: a thread can move
 * to another CPU between the two programs; on 6.18, 38 false rescues in 5 s.)
 * The rescuers are attached (and the first programs keep the list) only once the agent
 * has seen a skip: where tracepoints are not preemptible they cost nothing.
 *
 * Not rescued: events that come while the rescuer too is held by a preempted thread,
 * and a thread whose note aged out of the list. Both are counted (recursion_misses less
 * the rescues), and the agent reports them.
 */
#ifndef KFLOWD_RESCUE_BPF_H
#define KFLOWD_RESCUE_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "maps.bpf.h"

enum rescue_point {
	RESCUE_ENTER = 0,
	RESCUE_EXIT = 1,
};

/*
 * a note older than this is void: its rescuer was skipped too (the thread may be gone),
 * or its thread was held between the two programs this long
 */
#define RESCUE_NOTE_NS 1000000000ULL

/*
 * (point << 32 | tid) -> when the first program finished that thread's event at that
 * point. Per thread, not per CPU: since 6.13 a thread can be preempted and moved to
 * another CPU between the programs of a syscall tracepoint. LRU: notes whose rescuer
 * never came (it was skipped too) age out.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, __u64);
} rescue_notes SEC(".maps");

/* Per CPU: the key and value of a note being made or looked up (not on the full stacks). */
struct rescue_scratch {
	__u64 key;
	__u64 ts_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct rescue_scratch);
} rescue_scratch SEC(".maps");

/* map keys of the rescue points, in map memory rather than on the programs' full stacks */
const __u32 rescue_keys[2] SEC(".rodata.zero") = { RESCUE_ENTER, RESCUE_EXIT };

/*
 * set by the agent when it attaches the rescuers: the first programs note from then on;
 * alone in its section (a map of its own), at offset 0
 */
volatile __u32 rescue_on SEC(".data.rescue") = 0;

/* The current thread's note key at point p, in this CPU's scratch for point p. */
static __always_inline struct rescue_scratch *rescue_key(__u32 p)
{
	struct rescue_scratch *k = bpf_map_lookup_elem(&rescue_scratch, &rescue_keys[p & 1]);

	if (k)
		k->key = (__u64)(p & 1) << 32 | (__u32)bpf_get_current_pid_tgid();
	return k;
}

/* The first program of point p is done with the current thread's event: noted. */
static __always_inline void rescue_done(__u32 p)
{
	struct rescue_scratch *k;

	if (!rescue_on)
		return;
	k = rescue_key(p);
	if (!k)
		return;
	k->ts_ns = bpf_ktime_get_ns();
	bpf_map_update_elem(&rescue_notes, &k->key, &k->ts_ns, BPF_ANY);
}

/*
 * The rescuer of point p: whether the first program skipped the current thread's event
 * (no recent note of it); the note is taken out.
 */
static __always_inline bool rescue_needed(__u32 p)
{
	struct rescue_scratch *k = rescue_key(p);
	__u64 *ts;
	bool done;

	if (!k)
		return false;
	ts = bpf_map_lookup_elem(&rescue_notes, &k->key);
	if (!ts)
		return true;
	done = bpf_ktime_get_ns() - *ts < RESCUE_NOTE_NS;
	bpf_map_delete_elem(&rescue_notes, &k->key);
	return !done;
}

#endif /* KFLOWD_RESCUE_BPF_H */
