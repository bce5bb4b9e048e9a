/* SPDX-License-Identifier: GPL-2.0 */
/* Process identity of the current task, as kflowd reports it (pid = tgid). */
#ifndef KFLOWD_TASK_BPF_H
#define KFLOWD_TASK_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include "records.h"
#include "config.bpf.h"
#include "core_fixes.bpf.h"

/* Copies the basename of task's executable to dst; returns its length (0 if none). */
static __always_inline __u32 task_exe_name(struct task_struct *task, char *dst)
{
	const unsigned char *name = BPF_CORE_READ(task, mm, exe_file, f_path.dentry, d_name.name);
	long n;

	if (!name)
		return 0;
	n = bpf_probe_read_kernel_str(dst, REC_NAME_MAX + 1, name);
	return n > 1 ? (__u32)(n - 1) & REC_NAME_MAX : 0;
}

/* Writes task's and its parent's exe names to the start of tail; returns the bytes used. */
static __always_inline __u32 task_names(struct rec_task *t, struct task_struct *task, struct task_struct *parent,
					char *tail)
{
	__u32 exe_len = task_exe_name(task, tail);
	/* exe_len <= REC_NAME_MAX, so both names fit in the first 2 * (REC_NAME_MAX + 1) bytes */
	__u32 parent_len = task_exe_name(parent, tail + (exe_len & REC_NAME_MAX));

	t->exe_len = exe_len;
	t->parent_exe_len = parent_len;
	return exe_len + parent_len;
}

/* task_identity() where the current task is read with a helper call per field */
static __always_inline __u32 task_identity_helpers(struct rec_task *t, char *tail)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	struct task_struct *parent = BPF_CORE_READ(task, real_parent);
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u64 uid_gid = bpf_get_current_uid_gid();

	t->pid = pid_tgid >> 32;
	t->tid = (__u32)pid_tgid;
	t->ppid = BPF_CORE_READ(parent, tgid);
	t->uid = (__u32)uid_gid;
	t->gid = uid_gid >> 32;
	t->start_ns = BPF_CORE_READ(task, group_leader, start_time);
	bpf_get_current_comm(t->comm, sizeof(t->comm));
	/*
	 * An io_uring worker thread (iou-wrk-N, iou-sqp-N) acts for its process: the request's
	 * activity is the process's, shown as its main thread's, as its syscall twin would be
	 */
	if (BPF_CORE_READ(task, flags) & PF_IO_WORKER) {
		struct task_struct *leader = BPF_CORE_READ(task, group_leader);

		t->tid = BPF_CORE_READ(leader, pid);
		BPF_CORE_READ_STR_INTO(&t->comm, leader, comm);
	}
	/* the default (v2) hierarchy's cgroup: one helper call, no walk */
	t->cgroup_id = bpf_get_current_cgroup_id();
	return task_names(t, task, parent, tail);
}

/* The basename of the executable of task (a BTF pointer) to dst; its length (0 if none). */
static __always_inline __u32 task_exe_name_btf(struct task_struct *task, char *dst)
{
	/* plain loads through the pointers (a fault reads 0: a kernel thread has no mm) */
	const unsigned char *name = task->mm->exe_file->f_path.dentry->d_name.name;
	long n;

	if (!name)
		return 0;
	n = bpf_probe_read_kernel_str(dst, REC_NAME_MAX + 1, name);
	return n > 1 ? (__u32)(n - 1) & REC_NAME_MAX : 0;
}

/*
 * task_identity() where the program may have the current task as a BTF pointer
 * (cfg.task_btf): the task's fields are plain loads instead of a bpf_probe_read_kernel()
 * call each (12 helper calls fewer per identity; sock_create and accept read one per
 * connection).
 */
static __always_inline __u32 task_identity_btf(struct rec_task *t, char *tail)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct task_struct *parent = task->real_parent;
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u64 uid_gid = bpf_get_current_uid_gid();
	__u32 exe_len, parent_len;

	t->pid = pid_tgid >> 32;
	t->tid = (__u32)pid_tgid;
	t->ppid = parent->tgid;
	t->uid = (__u32)uid_gid;
	t->gid = uid_gid >> 32;
	t->start_ns = task->group_leader->start_time;
	bpf_get_current_comm(t->comm, sizeof(t->comm));
	if (task->flags & PF_IO_WORKER) {
		struct task_struct *leader = task->group_leader;

		t->tid = leader->pid;
		BPF_CORE_READ_STR_INTO(&t->comm, leader, comm);
	}
	t->cgroup_id = bpf_get_current_cgroup_id();
	exe_len = task_exe_name_btf(task, tail);
	parent_len = task_exe_name_btf(parent, tail + (exe_len & REC_NAME_MAX));
	t->exe_len = exe_len;
	t->parent_exe_len = parent_len;
	return exe_len + parent_len;
}

/*
 * Fills the identity of the current task and writes the exe and parent exe names to the
 * start of tail (REC_FILE_TAIL bytes). Returns the bytes used in tail.
 */
static __always_inline __u32 task_identity(struct rec_task *t, char *tail)
{
	/* a constant of the loaded object: the verifier keeps one of the two */
	if (cfg.task_btf)
		return task_identity_btf(t, tail);
	return task_identity_helpers(t, tail);
}

/* The same for another task (an iterator's): everything read from its task_struct. */
static __always_inline __u32 task_identity_of(struct task_struct *task, struct rec_task *t, char *tail)
{
	struct task_struct *parent = BPF_CORE_READ(task, real_parent);

	t->pid = BPF_CORE_READ(task, tgid);
	t->tid = BPF_CORE_READ(task, pid);
	t->ppid = BPF_CORE_READ(parent, tgid);
	t->uid = BPF_CORE_READ(task, cred, uid.val);
	t->gid = BPF_CORE_READ(task, cred, gid.val);
	t->start_ns = BPF_CORE_READ(task, group_leader, start_time);
	BPF_CORE_READ_STR_INTO(&t->comm, task, comm);
	/* what bpf_get_current_cgroup_id() returns for current: its v2 cgroup's kernfs id */
	t->cgroup_id = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn, id);
	return task_names(t, task, parent, tail);
}

#endif /* KFLOWD_TASK_BPF_H */
