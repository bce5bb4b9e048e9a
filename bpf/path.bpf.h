/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Absolute path of a struct path, built in the kernel: walk d_parent up to the mount
 * root, cross to the parent mount at its mountpoint, repeat until the root mount.
 * Components are written right to left into a per-CPU scratch buffer.
 */
#ifndef KFLOWD_PATH_BPF_H
#define KFLOWD_PATH_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include "records.h"

/* directory levels plus mount crossings one walk may take; deeper paths are cut */
#define PATH_DEPTH_MAX 128
/* the path ends here in path_scratch.buf; REC_PATH_MAX + 1 is a power of two */
#define PATH_END (REC_PATH_MAX + 1)

struct path_scratch {
	/*
	 * The write position lives in map memory and is re-read every iteration: a value
	 * loaded from memory has no precise range, so the verifier can prune the loop's
	 * states instead of exploring every combination of branches (it otherwise exceeds
	 * its 1M-instruction limit).
	 */
	__u32 pos;
	__u32 truncated;
	/* a component of up to REC_NAME_MAX bytes may start at any masked position */
	char buf[PATH_END + REC_NAME_MAX + 1];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct path_scratch);
} path_scratch SEC(".maps");

/*
 * Builds the path of (dentry, vfsmnt) into ps->buf[ps->pos .. PATH_END). Sets
 * ps->truncated when the walk ran out of depth or room before reaching the root.
 */
static __noinline void path_walk(struct path_scratch *ps, struct dentry *dentry,
				 struct vfsmount *vfsmnt)
{
	struct mount *mnt = (void *)((char *)vfsmnt - bpf_core_field_offset(struct mount, mnt));

	ps->pos = PATH_END;
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
				return;
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
			return;
		pos -= len;
		bpf_probe_read_kernel(ps->buf + (pos & REC_PATH_MAX), len & REC_NAME_MAX, name);
		pos -= 1;
		ps->buf[pos & REC_PATH_MAX] = '/';
		ps->pos = pos;
		dentry = parent;
	}
}

#endif /* KFLOWD_PATH_BPF_H */
