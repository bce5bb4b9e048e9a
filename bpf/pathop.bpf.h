/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Path operations (unlink, rename, link, symlink, chmod, chown, utimes, xattrs,
 * truncate): sys_enter saves the syscall's arguments per thread, an inode source records
 * the inodes the operation touched while it runs, and sys_exit turns a successful
 * operation into events on the aggregation of the affected inode. Inode sources, chosen
 * by the agent: ctime tracepoints (6.13+), else kprobes on the security_inode_* hooks,
 * else none, and the event is reported with its path but without inode data.
 */
#ifndef KFLOWD_PATHOP_BPF_H
#define KFLOWD_PATHOP_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include "records.h"
#include "fs.bpf.h"
#include "syscalls.bpf.h"

enum path_op_kind {
	PATH_OP_UNLINK = 1,
	PATH_OP_RENAME = 2,
	PATH_OP_LINK = 3,
	PATH_OP_SYMLINK = 4,
	PATH_OP_ATTRIB = 5,
	PATH_OP_TRUNCATE = 6,
};

/*
 * Flag of path_op.kind: the names are kernel strings (an io_uring request's, copied at
 * submission into uring_names), not the syscall's user memory.
 */
#define PATH_OP_KNAMES 0x100
#define PATH_OP_KIND(k) ((k)&0xff)

#define AT_REMOVEDIR 0x200
#define RENAME_EXCHANGE (1 << 1)
/* non-directory inodes one operation can touch: both sides of RENAME_EXCHANGE */
#define OP_INODES_MAX 2

/* An inode as an operation saw it; the pointer is re-read at exit unless it was unlinked. */
struct inode_snap {
	struct inode *inode;
	__u64 ino;
	__u32 dev;
	__u32 pad;
	struct rec_inode st;
};

struct path_op {
	/* [0] the file (the old name of a rename or link), [1] the new name */
	const char *upath[2];
	__s64 dfd[2];
	__u32 kind;
	__u32 flags;
	__u32 nsnaps;
	/* directories whose inode changed: parents, or the target of a directory operation */
	__u32 ndirs;
	struct inode_snap snaps[OP_INODES_MAX];
};

/*
 * operations in flight, key: the thread (tid) of a syscall, or the address of an io_uring
 * request (kernel addresses never equal a tid); LRU so that threads killed mid-syscall
 * age out
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct path_op);
} path_ops SEC(".maps");

/* enum inode_tier attached, written by the agent after attaching */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} inode_tier SEC(".maps");

/*
 * sys_enter: remembers a path operation's arguments until its exit. nr is the native
 * number; compat: a 32-bit program's call, arguments where its ABI keeps them (ARG()).
 * Not inlined: its struct path_op would sit in sys_enter's frame, under the descriptor
 * walk of close_range (6 frames), past 5.10/6.1's combined 512 bytes.
 */
static __noinline void path_op_begin(struct pt_regs *regs, long nr, bool compat)
{
	struct path_op op = {};
	__u64 key;

	op.dfd[0] = AT_FDCWD;
	op.dfd[1] = AT_FDCWD;
	switch (nr) {
	case NR_unlink:
		op.kind = PATH_OP_UNLINK;
		op.upath[0] = (void *)ARG(1);
		break;
	case NR_unlinkat:
		if (ARG(3) & AT_REMOVEDIR)
			return;
		op.kind = PATH_OP_UNLINK;
		op.dfd[0] = (int)ARG(1);
		op.upath[0] = (void *)ARG(2);
		break;
	case NR_rename:
	case NR_link:
		op.kind = nr == NR_rename ? PATH_OP_RENAME : PATH_OP_LINK;
		op.upath[0] = (void *)ARG(1);
		op.upath[1] = (void *)ARG(2);
		break;
	case NR_renameat2:
		op.flags = ARG(5);
		/* fall through */
	case NR_renameat:
	case NR_linkat:
		op.kind = nr == NR_linkat ? PATH_OP_LINK : PATH_OP_RENAME;
		op.dfd[0] = (int)ARG(1);
		op.upath[0] = (void *)ARG(2);
		op.dfd[1] = (int)ARG(3);
		op.upath[1] = (void *)ARG(4);
		break;
	case NR_symlink:
		op.kind = PATH_OP_SYMLINK;
		op.upath[1] = (void *)ARG(2);
		break;
	case NR_symlinkat:
		op.kind = PATH_OP_SYMLINK;
		op.dfd[1] = (int)ARG(2);
		op.upath[1] = (void *)ARG(3);
		break;
	case NR_chmod:
	case NR_chown:
	case NR_lchown:
	case NR_utime:
	case NR_utimes:
	case NR_setxattr:
	case NR_lsetxattr:
	case NR_removexattr:
	case NR_lremovexattr:
		op.kind = PATH_OP_ATTRIB;
		op.upath[0] = (void *)ARG(1);
		break;
	case NR_utimensat:
		/* without a path it is futimens(), counted at exit through the descriptor */
		if (!ARG(2))
			return;
		/* fall through */
	case NR_fchmodat:
	case NR_fchmodat2:
	case NR_fchownat:
	case NR_futimesat:
		op.kind = PATH_OP_ATTRIB;
		op.dfd[0] = (int)ARG(1);
		op.upath[0] = (void *)ARG(2);
		break;
	case NR_truncate:
		op.kind = PATH_OP_TRUNCATE;
		op.upath[0] = (void *)ARG(1);
		break;
	default:
		return;
	}
	key = (__u32)bpf_get_current_pid_tgid();
	if (bpf_map_update_elem(&path_ops, &key, &op, BPF_ANY))
		stat_inc(STAT_PATH_OP_LOST);
}

/* Records what sp (a copy of an inode) is in op, the current thread's operation. */
static __always_inline void path_op_snap(struct path_op *op, struct inode *inode, struct inode_span *sp)
{
	struct inode_snap *s;
	__u32 n;
	__u64 ino;

	if ((span_mode(sp) & S_IFMT) == S_IFDIR) {
		op->ndirs++;
		return;
	}
	ino = span_ino(sp);
	n = op->nsnaps;
	if (n > 0 && op->snaps[0].ino == ino)
		return;
	if (n > 1 && op->snaps[1].ino == ino)
		return;
	if (n >= OP_INODES_MAX)
		return;
	s = &op->snaps[n & 1];
	s->inode = inode;
	s->ino = ino;
	s->dev = BPF_CORE_READ(span_sb(sp), s_dev);
	inode_state(&s->st, sp);
	op->nsnaps = n + 1;
}

/*
 * An inode source saw inode change during the current thread's operation, if any: its
 * syscall's, or the io_uring request an io-wq worker runs.
 */
static __always_inline void path_op_inode(struct inode *inode)
{
	__u64 key = (__u32)bpf_get_current_pid_tgid();
	struct path_op *op = bpf_map_lookup_elem(&path_ops, &key);
	struct inode_span *sp;

	if (!op && cfg.uring) {
		key = uring_worker_req();
		op = key ? bpf_map_lookup_elem(&path_ops, &key) : NULL;
	}
	if (!op || !inode)
		return;
	sp = inode_span_get(inode);
	if (sp)
		path_op_snap(op, inode, sp);
	scratch_done();
}

/*
 * Puts the last bytes of the path (the old name of a rename) after r's path; kernel: a
 * kernel string, else user memory.
 */
static __always_inline void file_set_origin(struct rec_file *r, struct path_scratch *ps, const char *upath, bool kernel)
{
	char *user = ps->buf + PATH_END + 1;
	long n = kernel ? bpf_probe_read_kernel_str(user, PATH_END, upath)
			: bpf_probe_read_user_str(user, PATH_END, upath);
	__u32 len = n > 1 ? (__u32)(n - 1) & REC_PATH_MAX : 0;
	__u32 keep = len > REC_NAME_MAX ? REC_NAME_MAX : len;
	__u32 off = r->path_len;

	if (off > REC_PATH_MAX)
		off = REC_PATH_MAX;
	off += TAIL_NAMES(r);
	/* off <= 2 * REC_NAME_MAX + 1 + REC_PATH_MAX: the last name still fits the tail */
	bpf_probe_read_kernel(r->tail + off, keep & REC_NAME_MAX, user + ((len - keep) & REC_PATH_MAX));
	r->origin_len = keep;
}

/* Two directory descriptors in one scalar argument: where a file is now, and where it was. */
#define DFDS(now, was) ((__u64)(__u32)(now) | (__u64)(__u32)(was) << 32)
#define DFD_NOW(dfds) ((long)(int)(__u32)(dfds))
#define DFD_WAS(dfds) ((long)(int)(__u32)((dfds) >> 32))

/* path_op_file()'s snap when no inode source saw the file */
#define SNAP_NONE OP_INODES_MAX

/* path_op_file()'s first argument: the kind (with PATH_OP_KNAMES) and the snapshot */
#define OP_KS(kind, snap) ((kind) | (__u32)(snap) << 16)

/*
 * One file affected by a finished operation of kind (enum path_op_kind, with
 * PATH_OP_KNAMES when the names are kernel strings): its inode, snapshot snap of the
 * struct path_op under key (SNAP_NONE when no inode source saw it), where it is now
 * (DFD_NOW(dfds), upath) and, for renames, where it was (DFD_WAS(dfds), oupath); both in
 * ks = OP_KS(kind, snap).
 *
 * A global function, verified once for both sides of a rename: scalar arguments only,
 * the addresses of the paths as numbers.
 */
__noinline int path_op_file(__u32 ks, __u64 op_key, __u64 dfds, __u64 upath_addr, __u64 oupath_addr)
{
	__u32 kind = PATH_OP_KIND(ks);
	__u32 snap = ks >> 16;
	bool knames = ks & PATH_OP_KNAMES;
	struct inode_snap *s = NULL;
	const char *upath = (const char *)upath_addr;
	const char *oupath = (const char *)oupath_addr;
	struct path_scratch *ps = SCRATCH(path_scratch);
	struct file_key key = {};
	struct rec_file *r = NULL;
	__u64 now = bpf_ktime_get_ns();
	bool ends = kind != PATH_OP_ATTRIB && kind != PATH_OP_TRUNCATE;
	bool in_map = false;
	/* -e reached by MOVED_FROM: that record goes out alone, under the old name */
	bool split = false;
	bool named;

	if (!ps)
		return 0;
	if (snap < OP_INODES_MAX) {
		struct path_op *op = bpf_map_lookup_elem(&path_ops, &op_key);

		if (!op)
			return 0;
		/* keeps the compiler from computing the address before the check */
		barrier_var(op);
		s = snap ? &op->snaps[1] : &op->snaps[0];
	}
	key.pid = bpf_get_current_pid_tgid() >> 32;
	if (s) {
		__u32 type = s->st.mode & S_IFMT;

		/* kflowd reports regular files and symlinks only */
		if (type != S_IFREG && type != S_IFLNK)
			return 0;
		key.dev = s->dev;
		key.ino = s->ino;
		r = bpf_map_lookup_elem(&files, &key);
		/*
		 * A new name for a file the process has a record of (opened, or changed by
		 * path): that record goes out under its name, the link gets one of its own.
		 */
		if (r && kind == PATH_OP_LINK) {
			file_export(r, &key);
			r = NULL;
		}
		in_map = r != NULL;
	}
	if (kind == PATH_OP_RENAME && cfg.events_max)
		split = (r ? r->events : 0) + 1 >= cfg.events_max;
	/*
	 * A record the process has is named already (attribute changes keep that name); it
	 * takes the name a rename gave or an unlink removed (another link's, perhaps).
	 */
	named = r != NULL && kind != PATH_OP_RENAME && kind != PATH_OP_UNLINK;
	if (!r) {
		r = file_begin(&key, now);
		if (!r)
			return 0;
		if (split) {
			path_resolve(ps, DFD_WAS(dfds), oupath, knames);
		} else {
			path_resolve(ps, DFD_NOW(dfds), upath, knames);
			named = true;
		}
		file_set_path(r, ps);
		if (s) {
			/* the state before the operation: what it changed is measured against it */
			r->inode = s->st;
			r->size_first = s->st.size;
			r->mtime_first_ns = s->st.mtime_ns;
		} else {
			r->flags |= FILE_FLAG_NO_INODE;
			/* what the operation itself says about the file */
			if (kind == PATH_OP_SYMLINK)
				r->inode.mode = S_IFLNK;
			if (kind == PATH_OP_LINK) {
				r->inode.mode = S_IFREG;
				r->inode.nlink = 2;
			}
		}
		if (s && !ends) {
			r = file_insert(&key, r);
			if (!r)
				return 0;
			in_map = true;
		}
	}
	if (split) {
		file_count(r, FS_MOVED_FROM);
		if (s)
			file_refresh(r, s->inode);
		file_touch(r, now);
		file_split(r);
	}
	if (!named) {
		path_resolve(ps, DFD_NOW(dfds), upath, knames);
		file_set_path(r, ps);
	}
	if (kind == PATH_OP_RENAME)
		file_set_origin(r, ps, oupath, knames);

	switch (kind) {
	case PATH_OP_UNLINK:
		file_count(r, FS_DELETE);
		break;
	case PATH_OP_RENAME:
		if (!split)
			file_count(r, FS_MOVED_FROM);
		file_count(r, FS_MOVED_TO);
		break;
	case PATH_OP_LINK:
	case PATH_OP_SYMLINK:
		file_count(r, FS_CREATE);
		break;
	case PATH_OP_ATTRIB:
		file_count(r, FS_ATTRIB);
		break;
	case PATH_OP_TRUNCATE:
		file_count(r, FS_MODIFY);
		break;
	}
	/* the state after the operation (file systems take the snapshot before or after it) */
	if (s && kind == PATH_OP_UNLINK)
		file_refresh_unlinked(r, s->inode);
	else if (s)
		file_refresh(r, s->inode);
	/* a new symlink had no state before: its snapshot may predate its own times */
	if (s && kind == PATH_OP_SYMLINK && !in_map) {
		r->size_first = r->inode.size;
		r->mtime_first_ns = r->inode.mtime_ns;
	}
	file_touch(r, now);
	if (!s || ends) {
		if (in_map)
			file_export(r, &key);
		else if (!file_output(r))
			stat_inc(STAT_RING_FULL);
	} else {
		file_split(r);
	}
	return 0;
}

/*
 * An exec went through a script (binfmt_script swapped in its interpreter, so the
 * kernel's file name and the interpreter's differ). With kprobes, security_bprm_check
 * reports the script with its inode; without, by the name the exec used.
 */
static __noinline void exec_script_by_name(struct linux_binprm *bprm)
{
	__u32 zero = 0;
	__u32 *tier = bpf_map_lookup_elem(&inode_tier, &zero);
	const char *name = BPF_CORE_READ(bprm, filename);

	struct path_scratch *ps = SCRATCH(path_scratch);
	struct file_key key = { .pid = bpf_get_current_pid_tgid() >> 32 };
	__u64 now = bpf_ktime_get_ns();
	struct rec_file *r;

	if (!tier || *tier == INODE_TIER_KPROBE || name == BPF_CORE_READ(bprm, interp) || !ps)
		return;
	r = file_begin(&key, now);
	if (!r)
		return;
	/* as it ran: a regular file, by the name the exec used (relative to the cwd) */
	path_resolve(ps, AT_FDCWD, name, true);
	file_set_path(r, ps);
	r->flags |= FILE_FLAG_NO_INODE;
	r->inode.mode = S_IFREG;
	file_count(r, FS_OPEN_EXEC);
	file_touch(r, now);
	if (!file_output(r))
		stat_inc(STAT_RING_FULL);
}

/*
 * The end of the path operation under key (a thread's syscall, or an io_uring request):
 * report it if it succeeded, and forget it. A global function: verified once for the
 * native and the 32-bit exits and io_uring's completions.
 */
__noinline int path_op_end(long ret, __u64 key)
{
	__u32 zero = 0;
	struct path_op *op = bpf_map_lookup_elem(&path_ops, &key);
	__u32 *tier = bpf_map_lookup_elem(&inode_tier, &zero);
	__u32 first;
	__u32 kind, knames;

	if (!op)
		return 0;
	kind = PATH_OP_KIND(op->kind);
	knames = op->kind & PATH_OP_KNAMES;
	first = op->nsnaps > 0 ? 0 : SNAP_NONE;
	if (ret != 0)
		goto done;
	/*
	 * An inode source is attached but saw no file: a directory was the target (or a
	 * filesystem that keeps no ctime); kflowd reports files only.
	 */
	if (first == SNAP_NONE && tier && *tier != INODE_TIER_NONE && op->ndirs > 0 &&
	    (kind == PATH_OP_ATTRIB || kind == PATH_OP_TRUNCATE || kind == PATH_OP_RENAME))
		goto done;
	if (kind == PATH_OP_RENAME || kind == PATH_OP_LINK || kind == PATH_OP_SYMLINK)
		path_op_file(OP_KS(kind | knames, first), key, DFDS(op->dfd[1], op->dfd[0]), (__u64)op->upath[1],
			     (__u64)op->upath[0]);
	else
		path_op_file(OP_KS(kind | knames, first), key, DFDS(op->dfd[0], AT_FDCWD), (__u64)op->upath[0], 0);
	/* RENAME_EXCHANGE: the other file moved the opposite way */
	if (kind == PATH_OP_RENAME && (op->flags & RENAME_EXCHANGE))
		path_op_file(OP_KS(kind | knames, op->nsnaps > 1 ? 1 : SNAP_NONE), key, DFDS(op->dfd[0], op->dfd[1]),
			     (__u64)op->upath[0], (__u64)op->upath[1]);
done:
	bpf_map_delete_elem(&path_ops, &key);
	return 0;
}

#endif /* KFLOWD_PATHOP_BPF_H */
