/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The read-only configuration the agent writes before load (struct kf_config of
 * records.h, defined once in kflowd.bpf.c) and the questions every unit asks of it.
 */
#ifndef KFLOWD_CONFIG_BPF_H
#define KFLOWD_CONFIG_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "records.h"

extern const volatile struct kf_config cfg;

/* the agent's own activity is never reported */
static __always_inline bool is_agent(void)
{
	return (bpf_get_current_pid_tgid() >> 32) == cfg.agent_pid;
}

/* -m: files and sockets can be monitored alone (the verifier prunes what is off) */
static __always_inline bool monitor_files(void)
{
	return cfg.monitor & MONITOR_FILE;
}

static __always_inline bool monitor_sockets(void)
{
	return cfg.monitor & MONITOR_SOCKET;
}

#endif /* KFLOWD_CONFIG_BPF_H */
