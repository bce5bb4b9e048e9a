/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Absolute paths, built in the kernel. path_walk() walks d_parent up to the mount root,
 * crosses to the parent mount at its mountpoint and repeats until the root mount,
 * writing components right to left into a per-CPU scratch buffer. path_resolve() puts a
 * user-supplied path (as given to a path syscall) after the walk of its directory.
 */
#ifndef KFLOWD_PATH_BPF_H
#define KFLOWD_PATH_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include "records.h"
#include "scratch.bpf.h"

/* directory levels plus mount crossings one walk may take; deeper paths are cut */
#define PATH_DEPTH_MAX 128
/* the walked directory ends here in path_scratch.buf; REC_PATH_MAX + 1 is a power of two */
#define PATH_END (REC_PATH_MAX + 1)
#define PATH_MASK (2 * PATH_END - 1)
#define AT_FDCWD -100

struct path_scratch {
	/*
	 * The write position lives in map memory and is re-read every iteration: a value
	 * loaded from memory has no precise range, so the verifier can prune the loop's
	 * states instead of exploring every combination of branches (it otherwise exceeds
	 * its 1M-instruction limit).
	 */
	__u32 pos;
	__u32 truncated;
	/* end of the path: PATH_END after a walk, further when a user path follows */
	__u32 end;
	__u32 pad;
	/* [walked directory][/][user path]: a component may start at any masked position */
	char buf[2 * PATH_END + REC_NAME_MAX + 1];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, REC_SCRATCH_SLOTS);
	__type(key, __u32);
	__type(value, struct path_scratch);
} path_scratch SEC(".maps");

/*
 * Builds the path of (dentry, vfsmnt) into the per-CPU path_scratch, buf[pos .. PATH_END).
 * Sets truncated when the walk ran out of depth or room before reaching the root.
 *
 * A global function, so that the verifier walks its loop once per program rather than
 * once per path into each of its callers: scalar arguments only (the kernel pointers),
 * the scratch looked up here. Returns -1 without a scratch, else 0.
 */
__noinline int path_walk(__u64 dentry_addr, __u64 vfsmnt_addr)
{
	struct path_scratch *ps = SCRATCH(path_scratch);
	struct dentry *dentry = (void *)dentry_addr;
	struct mount *mnt = (void *)(vfsmnt_addr - bpf_core_field_offset(struct mount, mnt));

	if (!ps)
		return -1;
	ps->pos = PATH_END;
	ps->end = PATH_END;
	ps->truncated = 1;
	for (int i = 0; i < PATH_DEPTH_MAX; i++) {
		struct dentry *parent = BPF_CORE_READ(dentry, d_parent);
		struct dentry *mnt_root = BPF_CORE_READ(mnt, mnt.mnt_root);
		const unsigned char *name;
		__u32 len, pos;

		if (dentry == mnt_root || dentry == parent) {
			struct mount *mnt_parent = BPF_CORE_READ(mnt, mnt_parent);

			if (!mnt_parent || mnt_parent == mnt) {
				ps->truncated = 0;
				return 0;
			}
			dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
			mnt = mnt_parent;
			continue;
		}
		name = BPF_CORE_READ(dentry, d_name.name);
		len = BPF_CORE_READ(dentry, d_name.len);
		pos = ps->pos;
		/* keep pos >= 1 so that the path stays within REC_PATH_MAX bytes */
		if (len > REC_NAME_MAX || len + 2 > pos)
			return 0;
		pos -= len;
		bpf_probe_read_kernel(ps->buf + (pos & REC_PATH_MAX), len & REC_NAME_MAX, name);
		pos -= 1;
		ps->buf[pos & REC_PATH_MAX] = '/';
		ps->pos = pos;
		dentry = parent;
	}
	return 0;
}

/*
 * The path a syscall names with (dfd, upath), into ps->buf[ps->pos .. ps->end): upath
 * itself when absolute, else the walked directory (dfd or the cwd), "/" and upath.
 * "." and ".." are left for user space; symlinks inside upath are not resolved. kernel:
 * upath is a kernel string (an exec's file name), not the syscall's user memory.
 * Inlined: as a frame of its own it made exit -> compat exit -> path_op_end ->
 * path_op_file -> path_resolve -> path_walk -> scratch_slot 32 bytes more than the 512
 * 5.10 and 6.1 allow.
 */
static __always_inline void path_resolve(struct path_scratch *ps, long dfd, const char *upath, bool kernel)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	char *user = ps->buf + PATH_END + 1;
	struct dentry *dentry;
	struct vfsmount *mnt;
	long n = kernel ? bpf_probe_read_kernel_str(user, PATH_END, upath)
			: bpf_probe_read_user_str(user, PATH_END, upath);
	__u32 ulen = n > 0 ? (__u32)(n - 1) & REC_PATH_MAX : 0;

	ps->truncated = n == PATH_END;
	if (ulen > 0 && user[0] == '/') {
		ps->pos = PATH_END + 1;
		ps->end = PATH_END + 1 + ulen;
		return;
	}
	if (dfd == AT_FDCWD) {
		dentry = BPF_CORE_READ(task, fs, pwd.dentry);
		mnt = BPF_CORE_READ(task, fs, pwd.mnt);
	} else {
		struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
		struct file **fds = BPF_CORE_READ(fdt, fd);
		struct file *f = NULL;

		if (dfd >= 0 && dfd < BPF_CORE_READ(fdt, max_fds))
			bpf_probe_read_kernel(&f, sizeof(f), &fds[dfd]);
		if (!f) {
			ps->pos = ps->end = PATH_END;
			return;
		}
		dentry = BPF_CORE_READ(f, f_path.dentry);
		mnt = BPF_CORE_READ(f, f_path.mnt);
	}
	path_walk((__u64)dentry, (__u64)mnt);
	/* an empty user path (AT_EMPTY_PATH) names the directory or file of dfd itself */
	if (ulen > 0) {
		ps->buf[PATH_END] = '/';
		ps->end = PATH_END + 1 + ulen;
	}
}

/* Bytes of the resolved path, cut to its last REC_PATH_MAX bytes; start in *start. */
static __always_inline __u32 path_span(struct path_scratch *ps, __u32 *start)
{
	__u32 pos = ps->pos, end = ps->end;
	__u32 len = end > pos ? end - pos : 0;

	if (len > REC_PATH_MAX) {
		pos = end - REC_PATH_MAX;
		len = REC_PATH_MAX;
		ps->truncated = 1;
	}
	*start = pos;
	return len;
}

#endif /* KFLOWD_PATH_BPF_H */
