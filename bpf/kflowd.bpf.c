// SPDX-License-Identifier: GPL-2.0
/*
 * kflowd's kernel side. Universal tier: raw syscall tracepoints (tp_btf) for file
 * activity and sched_process_exit for the end of processes; nothing here needs kprobes
 * or fentry, so it loads on every kernel with BTF from 5.10 on.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "records.h"
#include "maps.bpf.h"
#include "syscalls.bpf.h"
#include "fs.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* set by the agent before load; the only .rodata of this object */
const volatile struct kf_config cfg = {};

static __always_inline bool is_agent(void)
{
	return (bpf_get_current_pid_tgid() >> 32) == cfg.agent_pid;
}

/* Only releases must be seen before the syscall runs: afterwards the file is gone. */
SEC("tp_btf/sys_enter")
int BPF_PROG(sys_enter__file_release, struct pt_regs *regs, long id)
{
	long fd;
	struct file *f;

	if (id == NR_close) {
		fd = SYSCALL_ARG1(regs);
	} else if (id == NR_dup2 || id == NR_dup3) {
		/* dup2(old, new) closes new first, unless old == new */
		fd = SYSCALL_ARG2(regs);
		if (fd == (long)SYSCALL_ARG1(regs))
			return 0;
	} else {
		return 0;
	}
	if (is_agent())
		return 0;
	f = fd_file(fd);
	if (f)
		file_release(f);
	return 0;
}

static __always_inline void fd_event(long fd, __u32 ev)
{
	struct file *f = fd_file(fd);

	if (f)
		file_event(f, ev);
}

/* Opens, reads, writes and in-kernel copies are counted once they succeeded. */
SEC("tp_btf/sys_exit")
int BPF_PROG(sys_exit__file_event, struct pt_regs *regs, long ret)
{
	long nr;

	/* failures are not events; reads and writes of 0 bytes neither (checked below) */
	if (ret < 0)
		return 0;
	nr = SYSCALL_NR(regs);
	switch (nr) {
	case NR_open:
	case NR_openat:
	case NR_openat2:
	case NR_creat:
		if (!is_agent())
			fd_event(ret, FS_OPEN);
		return 0;
	case NR_read:
	case NR_pread64:
	case NR_readv:
	case NR_preadv:
	case NR_preadv2:
		if (ret > 0 && !is_agent())
			fd_event(SYSCALL_ARG1(regs), FS_ACCESS);
		return 0;
	case NR_write:
	case NR_pwrite64:
	case NR_writev:
	case NR_pwritev:
	case NR_pwritev2:
		if (ret > 0 && !is_agent())
			fd_event(SYSCALL_ARG1(regs), FS_MODIFY);
		return 0;
	case NR_sendfile:
		/* sendfile(out_fd, in_fd, ...): reads one file, writes the other */
		if (ret > 0 && !is_agent()) {
			fd_event(SYSCALL_ARG2(regs), FS_ACCESS);
			fd_event(SYSCALL_ARG1(regs), FS_MODIFY);
		}
		return 0;
	case NR_ftruncate:
	case NR_fallocate:
		if (!is_agent())
			fd_event(SYSCALL_ARG1(regs), FS_MODIFY);
		return 0;
	case NR_utimensat:
		/* utimensat(fd, NULL, ...) is futimens(fd); with a path it is a path operation */
		if (SYSCALL_ARG2(regs))
			return 0;
		/* fall through */
	case NR_fchmod:
	case NR_fchown:
	case NR_fsetxattr:
	case NR_fremovexattr:
		if (!is_agent())
			fd_event(SYSCALL_ARG1(regs), FS_ATTRIB);
		return 0;
	case NR_splice:
	case NR_copy_file_range:
		/* (fd_in, off_in, fd_out, ...) */
		if (ret > 0 && !is_agent()) {
			fd_event(SYSCALL_ARG1(regs), FS_ACCESS);
			fd_event(SYSCALL_ARG3(regs), FS_MODIFY);
		}
		return 0;
	default:
		return 0;
	}
}

/* A program was executed: OPEN_EXEC on its file, which stays in use until exit. */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(sched_process_exec__open_exec, struct task_struct *task, pid_t old_pid,
	     struct linux_binprm *bprm)
{
	struct file *f;

	if (is_agent())
		return 0;
	f = BPF_CORE_READ(bprm, file);
	if (f)
		file_event(f, FS_OPEN_EXEC);
	return 0;
}

/* The last thread of a process ended: the agent flushes what the process left open. */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(sched_process_exit__flush, struct task_struct *task)
{
	struct rec_exit *r;

	/* do_exit() decrements signal->live before this tracepoint */
	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0;
	if (BPF_CORE_READ(task, tgid) == cfg.agent_pid)
		return 0;
	r = bpf_ringbuf_reserve(&ring, sizeof(*r), 0);
	if (!r) {
		stat_inc(STAT_EXIT_LOST);
		return 0;
	}
	r->hdr.type = REC_TYPE_EXIT;
	r->hdr.version = REC_VERSION;
	r->hdr.size = sizeof(*r);
	r->hdr.ts_ns = bpf_ktime_get_ns();
	r->pid = BPF_CORE_READ(task, tgid);
	r->pad = 0;
	r->start_ns = BPF_CORE_READ(task, group_leader, start_time);
	bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
	return 0;
}
