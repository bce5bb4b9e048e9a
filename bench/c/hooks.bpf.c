// SPDX-License-Identifier: GPL-2.0
/*
 * The floor of kflowd's hooks: one program that does nothing on each hook the agent
 * attaches for files and sockets (the same attach points, program types and count), so
 * that what remains of the agent's overhead above this is the work its programs do.
 * Loaded by hooks.c; see bench/floor.ts.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define NOOP_TP(name)                                                                                                  \
	SEC("tp_btf/" #name) int name##__noop(void *ctx)                                                               \
	{                                                                                                              \
		return 0;                                                                                              \
	}
#define NOOP_CG(sec, name)                                                                                             \
	SEC(sec) int name##__noop(void *ctx)                                                                           \
	{                                                                                                              \
		return 1;                                                                                              \
	}

NOOP_TP(sys_enter)
NOOP_TP(sys_exit)
NOOP_TP(sched_process_exec)
NOOP_TP(sched_process_exit)
NOOP_TP(inet_sock_set_state)
NOOP_TP(netif_receive_skb)
NOOP_CG("cgroup_skb/egress", egress)
NOOP_CG("cgroup_skb/ingress", ingress)
NOOP_CG("cgroup/sock_create", sock_create)
NOOP_CG("cgroup/sock_release", sock_release)
NOOP_CG("cgroup/connect4", connect4)
NOOP_CG("cgroup/connect6", connect6)
NOOP_CG("cgroup/bind4", bind4)
NOOP_CG("cgroup/bind6", bind6)

char LICENSE[] SEC("license") = "GPL";
