/* SPDX-License-Identifier: GPL-2.0 */
/*
 * io_uring: file and socket operations that never pass a syscall of their own. The
 * tracepoints io_uring_submit_req (io_uring_submit_sqe on 6.0 .. 6.4) and
 * io_uring_complete hand over the request (struct io_kiocb); its opcode says what it
 * does, and its data what on (core_fixes.bpf.h). Each opcode is turned into what its
 * syscall twin does, through the same functions: a close releases the file at
 * submission (as sys_enter does), a path operation is remembered under the request's
 * address in path_ops until its completion (as sys_enter/sys_exit do under the thread),
 * reads, writes, opens and socket I/O are counted at completion, when the result is
 * known (as sys_exit does). Requests run in the submitting task, in its io-wq worker
 * threads or its SQPOLL thread: all threads of the submitting process (5.12+).
 */
#ifndef KFLOWD_URING_BPF_H
#define KFLOWD_URING_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include "records.h"
#include "maps.bpf.h"
#include "core_fixes.bpf.h"
#include "path.bpf.h"
#include "pathop.bpf.h"

/*
 * The names of an io_uring path operation in flight, key: the request's address. The
 * kernel frees its own copy when the operation ends, before the completion is seen, so
 * they are copied at submission. Not preallocated: memory only while operations run.
 */
struct uring_names {
	char name[2][PATH_END];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 256);
	__type(key, __u64);
	__type(value, struct uring_names);
} uring_names SEC(".maps");

const struct uring_names uring_names_zero SEC(".rodata.zero") = {};

/* processes counted in STAT_URING_UNSEEN, so that each is counted once */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u8);
} uring_unseen_procs SEC(".maps");

/* io_uring_setup() succeeded while io_uring requests are not monitored: counted per process. */
static __noinline void uring_unseen(void)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	__u8 one = 1;

	if (!bpf_map_update_elem(&uring_unseen_procs, &pid, &one, BPF_NOEXIST))
		stat_inc(STAT_URING_UNSEEN);
}

/* Copies the kernel's name at req + off into *dst; false if there is none. */
static __always_inline bool uring_copy_name(char *dst, const void *req, __u32 off)
{
	const char *name = uring_name(req, off);

	return name && bpf_probe_read_kernel_str(dst, PATH_END, name) > 0;
}

/*
 * A path operation (RENAMEAT, UNLINKAT, LINKAT, SYMLINKAT, SETXATTR) was submitted: its arguments
 * are remembered under the request, as path_op_begin() does under the thread, with the
 * names copied. io_uring runs these in an io-wq worker, where path_op_inode() finds the
 * request the worker runs; the completion ends it (path_op_end()).
 *
 * A global function: scalar arguments, verified once.
 */
__noinline int uring_path_op_begin(__u64 req_addr, __u32 opcode)
{
	const void *req = (const void *)req_addr;
	struct path_op op = {};
	struct uring_names *n;
	bool ok;

	op.dfd[0] = AT_FDCWD;
	op.dfd[1] = AT_FDCWD;
	if (bpf_map_update_elem(&uring_names, &req_addr, &uring_names_zero, BPF_ANY)) {
		stat_inc(STAT_PATH_OP_LOST);
		return 0;
	}
	n = bpf_map_lookup_elem(&uring_names, &req_addr);
	if (!n)
		return 0;
	switch (opcode) {
	case IORING_OP_UNLINKAT: {
		struct io_unlink *u = (void *)req;

		if (BPF_CORE_READ(u, flags) & AT_REMOVEDIR)
			goto drop;
		op.kind = PATH_OP_UNLINK | PATH_OP_KNAMES;
		op.dfd[0] = BPF_CORE_READ(u, dfd);
		ok = uring_copy_name(n->name[0], req, URING_NAME_OFF(io_unlink, filename));
		break;
	}
	case IORING_OP_RENAMEAT: {
		struct io_rename *rn = (void *)req;

		op.kind = PATH_OP_RENAME | PATH_OP_KNAMES;
		op.flags = BPF_CORE_READ(rn, flags);
		op.dfd[0] = BPF_CORE_READ(rn, old_dfd);
		op.dfd[1] = BPF_CORE_READ(rn, new_dfd);
		ok = uring_copy_name(n->name[0], req, URING_NAME_OFF(io_rename, oldpath)) &&
		     uring_copy_name(n->name[1], req, URING_NAME_OFF(io_rename, newpath));
		break;
	}
	case IORING_OP_LINKAT:
	case IORING_OP_SYMLINKAT: {
		struct io_link *l = (void *)req;

		/* symlinkat: oldpath is the link's content, only the new name is a file */
		op.kind = (opcode == IORING_OP_LINKAT ? PATH_OP_LINK : PATH_OP_SYMLINK) | PATH_OP_KNAMES;
		op.dfd[0] = BPF_CORE_READ(l, old_dfd);
		op.dfd[1] = BPF_CORE_READ(l, new_dfd);
		ok = uring_copy_name(n->name[1], req, URING_NAME_OFF(io_link, newpath));
		if (opcode == IORING_OP_LINKAT)
			ok = ok && uring_copy_name(n->name[0], req, URING_NAME_OFF(io_link, oldpath));
		break;
	}
	case IORING_OP_SETXATTR:
		/* by path, following a symbolic link, from the working directory (setxattr(2)) */
		op.kind = PATH_OP_ATTRIB | PATH_OP_KNAMES;
		ok = uring_copy_name(n->name[0], req, URING_NAME_OFF(io_xattr, filename));
		break;
	default:
		goto drop;
	}
	if (!ok)
		goto drop;
	op.upath[0] = n->name[0];
	op.upath[1] = n->name[1];
	if (bpf_map_update_elem(&path_ops, &req_addr, &op, BPF_ANY)) {
		stat_inc(STAT_PATH_OP_LOST);
		goto drop;
	}
	return 0;
drop:
	bpf_map_delete_elem(&uring_names, &req_addr);
	return 0;
}

/* The completion of the path operation of request req_addr (if one was begun): res is its result. */
static __always_inline void uring_path_op_end(__u64 req_addr, long res)
{
	path_op_end(res, req_addr);
	bpf_map_delete_elem(&uring_names, &req_addr);
}

#endif /* KFLOWD_URING_BPF_H */
