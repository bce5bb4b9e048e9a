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
#include "pathop.bpf.h"
#include "sock.bpf.h"
#include "app.bpf.h"
#include "uring.bpf.h"
#include "rescue.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* set by the agent before load; the only .rodata of this object (config.bpf.h) */
const volatile struct kf_config cfg = {};

/*
 * The descriptor that held the struct file at file_addr is about to be closed: a regular
 * file or a UNIX socket whose last reference that is ends. A global function with a
 * scalar argument, verified once for its callers (close, dup2, close_range's loop).
 */
__noinline int fd_release(__u64 file_addr)
{
	struct file *f = (void *)file_addr;
	struct inode *inode;
	__u32 type;

	if (!f)
		return 0;
	type = file_type(f, &inode);
	if (type == S_IFSOCK) {
		if (monitor_sockets())
			unix_release(f);
	} else if (type == S_IFREG && monitor_files()) {
		file_release(f, inode);
	}
	return 0;
}

#define CLOSE_RANGE_UNSHARE (1U << 1)
#define CLOSE_RANGE_CLOEXEC (1U << 2)
/*
 * Words of the open-descriptor bitmap close_range() walks: 4096 descriptors. Past these
 * the files are reported at the process's exit (or after the idle timeout).
 */
#define FD_WORDS_MAX 64

/*
 * Of the descriptors first .. last, releases those of word w (64 descriptors) of the
 * table fds_addr (an array of struct file pointers), if its open_fds word bits says any
 * of them is open. A global function: verified once. Each loop here has one branch per
 * iteration besides its bound, so that the verifier's work stays linear.
 */
__noinline int fd_word_release(__u64 fds_addr, __u64 bits, __u32 w, __u32 first, __u32 last)
{
	__u32 lo = w * 64, hi = w * 64 + 63;

	if (!bits)
		return 0;
	if (lo < first)
		lo = first;
	if (hi > last)
		hi = last;
	for (__u32 i = 0; i < 64; i++) {
		struct file *f = NULL;

		if (lo + i > hi)
			break;
		bpf_probe_read_kernel(&f, sizeof(f), (void *)(fds_addr + (__u64)(lo + i) * sizeof(f)));
		if (f)
			fd_release((__u64)f);
	}
	return 0;
}

/*
 * Releases the open descriptors first .. last (within the table) of the table fds_addr,
 * 64 at a time, as told by its open_fds bitmap at bits_addr.
 */
__noinline int fd_range_release(__u64 fds_addr, __u64 bits_addr, __u32 first, __u32 last)
{
	__u32 w0 = first / 64, w1 = last / 64;

	if (w1 - w0 >= FD_WORDS_MAX)
		stat_inc(STAT_CLOSE_RANGE_CUT);
	for (__u32 i = 0; i < FD_WORDS_MAX; i++) {
		__u64 bits = 0;

		if (w0 + i > w1)
			break;
		bpf_probe_read_kernel(&bits, sizeof(bits), (void *)(bits_addr + (__u64)(w0 + i) * sizeof(bits)));
		fd_word_release(fds_addr, bits, w0 + i, first, last);
	}
	return 0;
}

/*
 * close_range(first, last, flags) closes every open descriptor from first to last (the
 * table's end at most). With CLOSE_RANGE_CLOEXEC it only marks them; with
 * CLOSE_RANGE_UNSHARE a table shared with other threads or processes is copied first, so
 * the files stay open there and nothing is released.
 */
static __always_inline void close_range_release(__u32 first, __u32 last, __u32 flags)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	struct files_struct *files = BPF_CORE_READ(task, files);
	struct fdtable *fdt = BPF_CORE_READ(files, fdt);
	__u32 max_fds = BPF_CORE_READ(fdt, max_fds);

	if (flags & CLOSE_RANGE_CLOEXEC)
		return;
	if ((flags & CLOSE_RANGE_UNSHARE) && BPF_CORE_READ(files, count.counter) > 1)
		return;
	if (last >= max_fds)
		last = max_fds - 1;
	if (first > last)
		return;
	fd_range_release((__u64)BPF_CORE_READ(fdt, fd), (__u64)BPF_CORE_READ(fdt, open_fds), first, last);
}

/*
 * Before syscall nr (native numbering; compat: a 32-bit program's, its arguments where
 * the compat ABI keeps them): releases (afterwards the file is gone) and the arguments
 * of path operations (finished at exit). Inlined twice, compat a constant in each.
 */
static __always_inline int sys_enter_do(struct pt_regs *regs, long nr, const bool compat)
{
	long fd;

	switch (nr) {
	case NR_close:
		fd = (int)ARG(1);
		break;
	case NR_dup2:
	case NR_dup3:
		/* dup2(old, new) closes new first, unless old == new */
		fd = (int)ARG(2);
		if (fd == (int)ARG(1))
			return 0;
		break;
	case NR_close_range:
		if (!is_agent()) {
			close_range_release(ARG(1), ARG(2), ARG(3));
			scratch_done();
		}
		return 0;
	default:
		if (monitor_files() && !is_agent())
			path_op_begin(regs, nr, compat);
		return 0;
	}
	if (is_agent())
		return 0;
	fd_release((__u64)fd_file(fd));
	scratch_done();
	return 0;
}

/* The dispatchers' bitmaps of wanted calls (syscalls.bpf.h), built at compile time. */
const struct syscall_bitmaps syscall_bitmaps SEC(".rodata.syscalls") = {
	.enter = BITMAP_WORDS(ENTER_SYSCALLS, NR_BIT_OR),
	.exit = BITMAP_WORDS(EXIT_SYSCALLS, NR_BIT_OR),
	.compat = BITMAP_WORDS(COMPAT_SYSCALLS, COMPAT_BIT_OR),
};

/* Bit id (below SYSCALL_BITMAP_WORDS * 64, checked by the caller) of bitmap words. */
static __always_inline __u64 syscall_bit(const __u64 *words, __u64 id)
{
	return (words[(id / 64) & (SYSCALL_BITMAP_WORDS - 1)] >> (id & 63)) & 1;
}

/*
 * Whether sys_enter wants call id: the wanted ones (native numbers, and the ids 32-bit
 * programs' calls kflowd looks at) are told by bitmaps first, so that the others cost a
 * few instructions.
 */
static __always_inline bool sys_enter_wanted(long id)
{
	return (__u64)id < SYSCALL_BITMAP_WORDS * 64 &&
	       (syscall_bit(syscall_bitmaps.enter, id) | syscall_bit(syscall_bitmaps.compat, id));
}

/* A wanted call: whether the caller is a 32-bit program is asked only here. */
static __always_inline void sys_enter_call(struct pt_regs *regs, long id)
{
	if (syscall_compat(regs)) {
		long nr = syscall_bit(syscall_bitmaps.compat, id) ? compat_nr(id) : -1;

		if (nr != -1)
			sys_enter_do(regs, nr, true);
	} else if (syscall_bit(syscall_bitmaps.enter, id)) {
		sys_enter_do(regs, id, false);
	}
}

/* Every call passes here; the rescuer learns of each wanted one (rescue.bpf.h). */
SEC("tp_btf/sys_enter")
int BPF_PROG(sys_enter__file, struct pt_regs *regs, long id)
{
	/* x32 programs' calls: not decoded, counted */
	if ((__u64)id >= SYSCALL_BITMAP_WORDS * 64 && (id & X32_SYSCALL_BIT))
		stat_inc(STAT_X32_CALLS);
	if (sys_enter_wanted(id)) {
		sys_enter_call(regs, id);
		rescue_done(RESCUE_ENTER);
	}
	return 0;
}

/* sys_enter__file's rescuer (rescue.bpf.h): the calls the kernel did not give it */
SEC("tp_btf/sys_enter")
int BPF_PROG(sys_enter__rescue, struct pt_regs *regs, long id)
{
	if (sys_enter_wanted(id) && rescue_needed(RESCUE_ENTER)) {
		stat_inc(STAT_RESCUED);
		sys_enter_call(regs, id);
	}
	return 0;
}

/*
 * fd_event()'s op: the syscall number (native numbering), the event and whether a 32-bit
 * program made the call (its iovecs and msghdrs have the compat layout), in one scalar
 */
#define FD_COMPAT 0x80
#define FD_OP(nr, ev, compat) ((__u64)(nr) << 8 | (ev) | ((compat) ? FD_COMPAT : 0))

/*
 * Bytes moved through the open file f: a file event, or traffic of a UNIX socket. For a
 * socket, its application message (if any) is captured too. op is FD_OP(nr, ev), and
 * ubuf and uaux the syscall's user arguments app capture reads (struct app_args).
 */
static __always_inline int file_io_type(struct file *f, __u32 type, struct inode *inode, long bytes, __u64 op,
					__u64 ubuf, __u64 uaux)
{
	struct app_args a = { .ubuf = ubuf, .uaux = uaux, .compat = (op & FD_COMPAT) != 0 };
	long nr = (long)op >> 8;
	__u32 ev = op & 0x7f;
	struct sock *sk;

	if (type == S_IFREG) {
		if (monitor_files())
			file_event_inode(f, inode, ev);
		return 0;
	}
	if (type != S_IFSOCK || !monitor_sockets() || (ev != FS_ACCESS && ev != FS_MODIFY))
		return 0;
	sk = socket_file_sock(f);
	if (!sk)
		return 0;
	/* TCP and UDP are counted per packet by cgroup_skb; UDP's losses show when it is read */
	if (BPF_CORE_READ(sk, __sk_common.skc_family) == AF_UNIX) {
		sock_unix_io(f, sk, bytes, ev == FS_ACCESS);
		if (!cfg.app_unix_syslog)
			return 0;
	} else {
		__u32 proto = BPF_CORE_READ(sk, sk_protocol);

		if (cfg.sock_claim_io)
			sock_claim(sk, proto);
		if (ev == FS_ACCESS && proto == IPPROTO_UDP)
			sock_udp_counters(sk);
		if (!app_port_possible(sk, proto))
			return 0;
	}
	app_capture(&a, nr, f, sk, bytes);
	return 0;
}

/* file_io_type() on f, whose type is read here */
static __always_inline int file_io(struct file *f, long bytes, __u64 op, __u64 ubuf, __u64 uaux)
{
	struct inode *inode;
	__u32 type;

	if (!f)
		return 0;
	type = file_type(f, &inode);
	return file_io_type(f, type, inode, bytes, op, ubuf, uaux);
}

/*
 * file_io() on the file of descriptor fd. A global function: the verifier checks it
 * once, for any argument values, instead of once per path into each of its two call
 * sites. So scalar arguments only, at most five.
 */
__noinline int fd_event(long fd, long bytes, __u64 op, __u64 ubuf, __u64 uaux)
{
	return file_io(fd_file(fd), bytes, op, ubuf, uaux);
}

/* Where uring_file_io() finds the user arguments app capture reads, in the request. */
enum uring_args {
	URING_ARGS_NONE,
	URING_ARGS_RW,	/* io_rw: the buffer */
	URING_ARGS_RWV, /* io_rw: the iovec array and its length */
	URING_ARGS_SR,	/* io_sr_msg: the buffer or the user msghdr (a union) */
};

/*
 * file_io() on the struct file at file_addr (an io_uring request's): a global function
 * too. The user arguments (args, in the request at req_addr) are read only for what is
 * no regular file: most requests are file I/O, which needs none.
 */
__noinline int uring_file_io(__u64 file_addr, long bytes, __u64 op, __u64 req_addr, __u64 args)
{
	struct file *f = (void *)file_addr;
	__u64 ubuf = 0, uaux = 0;
	struct inode *inode;
	__u32 type;

	if (!f)
		return 0;
	type = file_type(f, &inode);
	if (type != S_IFREG && args == URING_ARGS_SR) {
		struct io_sr_msg *sr = (void *)req_addr;

		ubuf = (__u64)BPF_CORE_READ(sr, buf);
	} else if (type != S_IFREG && args != URING_ARGS_NONE) {
		struct io_rw *rw = (void *)req_addr;

		ubuf = BPF_CORE_READ(rw, addr);
		if (args == URING_ARGS_RWV)
			uaux = BPF_CORE_READ(rw, len);
	}
	return file_io_type(f, type, inode, bytes, op, ubuf, uaux);
}

/*
 * The fd_event() calls a 32-bit program's call makes, handed from sys_exit_compat() to
 * the program itself: called from there, they add no frame of their own to the deepest
 * chain of calls, whose stacks older kernels add up against 512 bytes.
 */
struct fd_call {
	__s64 fd;
	__s64 fd2; /* the second descriptor of a copy (written to), or -1 */
	__s64 bytes;
	__u64 op; /* FD_OP() of fd; fd2's is the same with FS_MODIFY */
	__u64 ubuf;
	__u64 uaux;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, REC_SCRATCH_SLOTS);
	__type(key, __u32);
	__type(value, struct fd_call);
} fd_calls SEC(".maps");

/* Fills *out (if there is one); returns whether an fd_event() call is wanted. */
static __always_inline int fd_call_set(struct fd_call *out, long fd, long fd2, long bytes, __u64 op, __u64 ubuf,
				       __u64 uaux)
{
	if (!out)
		return 0;
	out->fd = fd;
	out->fd2 = fd2;
	out->bytes = bytes;
	out->op = op;
	out->ubuf = ubuf;
	out->uaux = uaux;
	return 1;
}

/*
 * After syscall nr (native numbering; compat: a 32-bit program's) with arguments a1, a2,
 * a3 and a5: opens, reads, writes and in-kernel copies are counted once they succeeded.
 * Inlined twice, compat a constant in each.
 */
static __always_inline int sys_exit_do(long nr, long ret, __u64 a1, __u64 a2, __u64 a3, __u64 a5, const bool compat,
				       struct fd_call *out)
{
	long fd, fd2, bytes;
	__u64 ubuf, uaux;
	__u32 ev;

	switch (nr) {
	case NR_unlink:
	case NR_unlinkat:
	case NR_rename:
	case NR_renameat:
	case NR_renameat2:
	case NR_link:
	case NR_linkat:
	case NR_symlink:
	case NR_symlinkat:
	case NR_chmod:
	case NR_fchmodat:
	case NR_fchmodat2:
	case NR_chown:
	case NR_lchown:
	case NR_fchownat:
	case NR_utime:
	case NR_utimes:
	case NR_futimesat:
	case NR_setxattr:
	case NR_lsetxattr:
	case NR_removexattr:
	case NR_lremovexattr:
	case NR_truncate:
		/* failed or not, the saved arguments are dropped here */
		path_op_end(ret, (__u32)bpf_get_current_pid_tgid());
		/* a 32-bit call's program gives its scratch back itself, fd_calls in use */
		if (!compat)
			scratch_done();
		return 0;
	case NR_io_uring_setup:
		if (ret >= 0 && !cfg.uring && !is_agent())
			uring_unseen();
		return 0;
	}
	/* failures are not events; reads and writes of 0 bytes neither (checked below) */
	if (ret < 0)
		return 0;
	if (is_agent()) {
		if ((nr == NR_accept || nr == NR_accept4) && monitor_sockets())
			sock_accepted_by_agent(ret);
		return 0;
	}
	/* each case names at most two descriptors and their events */
	fd = -1;
	fd2 = -1;
	bytes = 0;
	ubuf = 0;
	uaux = 0;
	switch (nr) {
	case NR_open:
	case NR_openat:
	case NR_openat2:
	case NR_creat:
		fd = ret;
		ev = FS_OPEN;
		break;
	case NR_accept:
	case NR_accept4:
		if (monitor_sockets())
			sock_accepted(ret);
		return 0;
	case NR_sendto:
	case NR_sendmsg:
	case NR_sendmmsg:
	case NR_recvfrom:
	case NR_recvmsg:
	case NR_recvmmsg:
		/* (the mmsg calls return messages, not bytes: those count as calls only) */
		if (ret == 0)
			return 0;
		fd = (int)a1;
		ev = nr == NR_sendto || nr == NR_sendmsg || nr == NR_sendmmsg ? FS_MODIFY : FS_ACCESS;
		bytes = nr == NR_sendmmsg || nr == NR_recvmmsg ? 0 : ret;
		ubuf = a2;
		if (nr == NR_sendto || nr == NR_recvfrom)
			uaux = a5;
		break;
	case NR_read:
	case NR_pread64:
	case NR_readv:
	case NR_preadv:
	case NR_preadv2:
		if (ret == 0)
			return 0;
		fd = (int)a1;
		ev = FS_ACCESS;
		bytes = ret;
		ubuf = a2;
		if (nr == NR_readv)
			uaux = a3;
		break;
	case NR_write:
	case NR_pwrite64:
	case NR_writev:
	case NR_pwritev:
	case NR_pwritev2:
		if (ret == 0)
			return 0;
		fd = (int)a1;
		ev = FS_MODIFY;
		bytes = ret;
		ubuf = a2;
		if (nr == NR_writev)
			uaux = a3;
		break;
	case NR_sendfile:
		/* sendfile(out_fd, in_fd, ...): reads one file, writes the other */
		if (ret == 0)
			return 0;
		fd = (int)a2;
		ev = FS_ACCESS;
		fd2 = (int)a1;
		bytes = ret;
		break;
	case NR_ftruncate:
	case NR_fallocate:
		fd = (int)a1;
		ev = FS_MODIFY;
		break;
	case NR_utimensat:
		/* utimensat(fd, NULL, ...) is futimens(fd); with a path it is a path operation */
		if (a2) {
			path_op_end(ret, (__u32)bpf_get_current_pid_tgid());
			if (!compat)
				scratch_done();
			return 0;
		}
		/* fall through */
	case NR_fchmod:
	case NR_fchown:
	case NR_fsetxattr:
	case NR_fremovexattr:
		fd = (int)a1;
		ev = FS_ATTRIB;
		break;
	case NR_splice:
	case NR_copy_file_range:
		/* (fd_in, off_in, fd_out, ...) */
		if (ret == 0)
			return 0;
		fd = (int)a1;
		ev = FS_ACCESS;
		fd2 = (int)a3;
		bytes = ret;
		break;
	default:
		return 0;
	}
	if (compat)
		return fd_call_set(out, fd, fd2, bytes, FD_OP(nr, ev, true), ubuf, uaux);
	fd_event(fd, bytes, FD_OP(nr, ev, false), ubuf, uaux);
	/* the second descriptor of a copy is written to */
	if (fd2 >= 0)
		fd_event(fd2, bytes, FD_OP(nr, FS_MODIFY, false), ubuf, uaux);
	scratch_done();
	return 0;
}

/* socketcall(2)'s calls (include/uapi/linux/net.h) that kflowd looks at */
#define SYS_ACCEPT 5
#define SYS_SEND 9
#define SYS_RECV 10
#define SYS_SENDTO 11
#define SYS_RECVFROM 12
#define SYS_SENDMSG 16
#define SYS_RECVMSG 17
#define SYS_ACCEPT4 18
#define SYS_RECVMMSG 19
#define SYS_SENDMMSG 20

/*
 * A 32-bit program's socket call that has no native twin: socketcall(call, args) of
 * ia32 (its arguments an array of 32-bit words in user memory, still there at exit), and
 * arm's send and recv (sendto and recvfrom without an address).
 */
static __always_inline int sys_exit_compat_socket(long nr, long ret, __u64 a1, __u64 a2, struct fd_call *out)
{
	__u32 args[5] = {};
	long call;

	if (nr == NR_COMPAT_SOCKETCALL) {
		call = a1;
		if (bpf_probe_read_user(args, sizeof(args), (void *)a2))
			return 0;
	} else {
		call = nr == NR_COMPAT_SEND ? SYS_SEND : SYS_RECV;
		args[0] = a1;
		args[1] = a2;
	}
	if (ret < 0 || is_agent())
		return 0;
	switch (call) {
	case SYS_ACCEPT:
	case SYS_ACCEPT4:
		if (monitor_sockets())
			sock_accepted(ret);
		return 0;
	case SYS_SEND:
	case SYS_SENDTO:
		nr = NR_sendto;
		break;
	case SYS_RECV:
	case SYS_RECVFROM:
		nr = NR_recvfrom;
		break;
	case SYS_SENDMSG:
		nr = NR_sendmsg;
		break;
	case SYS_RECVMSG:
		nr = NR_recvmsg;
		break;
	case SYS_SENDMMSG:
		nr = NR_sendmmsg;
		break;
	case SYS_RECVMMSG:
		nr = NR_recvmmsg;
		break;
	default:
		return 0;
	}
	if (ret == 0)
		return 0;
	/* send/recv have no address; the mmsg calls return messages, not bytes */
	return fd_call_set(
		out, (int)args[0], -1, nr == NR_sendmmsg || nr == NR_recvmmsg ? 0 : ret,
		FD_OP(nr, nr == NR_sendto || nr == NR_sendmsg || nr == NR_sendmmsg ? FS_MODIFY : FS_ACCESS, true),
		args[1], call == SYS_SENDTO || call == SYS_RECVFROM ? args[4] : 0);
}

/*
 * The exit of call id of a 32-bit program, its arguments (32 bits each) two to a scalar:
 * a12 = a1 | a2 << 32, a35 = a3 | a5 << 32. A global function: its stack is its own,
 * not added to the native exit's, and it is verified once. Returns whether fd_calls
 * holds an fd_event() call to make.
 */
__noinline int sys_exit_compat(long id, long ret, __u64 a12, __u64 a35)
{
	struct fd_call *out = SCRATCH(fd_calls);
	long nr = compat_nr(id);
	__u64 a1 = (__u32)a12, a2 = a12 >> 32, a3 = (__u32)a35, a5 = a35 >> 32;

	if (!out)
		return 0;
	if (nr == NR_COMPAT_SOCKETCALL || nr == NR_COMPAT_SEND || nr == NR_COMPAT_RECV)
		return sys_exit_compat_socket(nr, ret, a1, a2, out);
	return nr == -1 ? 0 : sys_exit_do(nr, ret, a1, a2, a3, a5, true, out);
}

/* Whether sys_exit wants call id (as at enter: the calls nothing needs leave first). */
static __always_inline bool sys_exit_wanted(__u64 id)
{
	return id < SYSCALL_BITMAP_WORDS * 64 &&
	       (syscall_bit(syscall_bitmaps.exit, id) | syscall_bit(syscall_bitmaps.compat, id));
}

/* A wanted call's exit. */
static __always_inline void sys_exit_call(struct pt_regs *regs, __u64 id, long ret)
{
	struct fd_call *c;

	if (!syscall_compat(regs)) {
		if (syscall_bit(syscall_bitmaps.exit, id))
			sys_exit_do(id, ret, SYSCALL_ARG1(regs), SYSCALL_ARG2(regs), SYSCALL_ARG3(regs),
				    SYSCALL_ARG5(regs), false, NULL);
		return;
	}
	if (syscall_bit(syscall_bitmaps.compat, id) &&
	    sys_exit_compat(id, ret, COMPAT_ARG1(regs) | (__u64)COMPAT_ARG2(regs) << 32,
			    COMPAT_ARG3(regs) | (__u64)COMPAT_ARG5(regs) << 32)) {
		c = SCRATCH(fd_calls);
		if (c) {
			fd_event(c->fd, c->bytes, c->op, c->ubuf, c->uaux);
			if (c->fd2 >= 0)
				fd_event(c->fd2, c->bytes, (c->op & ~0x7fULL) | FS_MODIFY, c->ubuf, c->uaux);
		}
	}
	scratch_done();
}

SEC("tp_btf/sys_exit")
int BPF_PROG(sys_exit__file_event, struct pt_regs *regs, long ret)
{
	__u64 id = SYSCALL_NR(regs);

	if (sys_exit_wanted(id)) {
		sys_exit_call(regs, id, ret);
		rescue_done(RESCUE_EXIT);
	}
	return 0;
}

/* sys_exit__file_event's rescuer (rescue.bpf.h): the exits the kernel did not give it */
SEC("tp_btf/sys_exit")
int BPF_PROG(sys_exit__rescue, struct pt_regs *regs, long ret)
{
	__u64 id = SYSCALL_NR(regs);

	if (sys_exit_wanted(id) && rescue_needed(RESCUE_EXIT)) {
		stat_inc(STAT_RESCUED);
		sys_exit_call(regs, id, ret);
	}
	return 0;
}

/* io_open.file_slot of an open into a slot the kernel allocates (IORING_FILE_INDEX_ALLOC) */
#define URING_SLOT_ALLOC (~0U)
/* io_splice.flags: splice_fd_in is a registered file's slot */
#define SPLICE_F_FD_IN_FIXED (1U << 31)

/*
 * io_uring: a request was submitted, its data prepared. A close releases the file now,
 * as sys_enter does for close(); a path operation's arguments are kept until its
 * completion. Runs in the submitting task (or its SQPOLL thread), whose descriptors these are.
 */
static __always_inline int uring_submit(__u64 req_addr)
{
	const struct io_kiocb *req = (void *)req_addr;
	__u8 opcode;

	if (!req_addr || is_agent())
		return 0;
	opcode = BPF_CORE_READ(req, opcode);
	switch (opcode) {
	case IORING_OP_CLOSE: {
		struct io_close *c = (void *)req;

		__u32 slot = BPF_CORE_READ(c, file_slot);

		/* a registered ("fixed") file's slot (numbered from 1), or one of the process's descriptors */
		fd_release((__u64)(slot ? uring_slot_file(req_addr, slot - 1) : fd_file(BPF_CORE_READ(c, fd))));
		/* the only submission that takes scratch (a record's release) */
		scratch_done();
		return 0;
	}
	case IORING_OP_RENAMEAT:
	case IORING_OP_UNLINKAT:
	case IORING_OP_LINKAT:
	case IORING_OP_SYMLINKAT:
	case IORING_OP_SETXATTR:
		if (monitor_files())
			uring_path_op_begin(req_addr, opcode);
		return 0;
	}
	return 0;
}

/*
 * io_uring: request req_addr (opcode) completed with result res (a CQE is posted): what its
 * syscall twin's exit would report, on the request's own file (registered files too).
 * Runs in a thread of the submitting process (the submitter's task work, an io-wq
 * worker, the SQPOLL thread).
 */
static __always_inline int uring_complete(__u64 req_addr, long res, __u8 opcode)
{
	const struct io_kiocb *req = (void *)req_addr;
	__u64 args = URING_ARGS_NONE;
	__u32 ev;
	long nr;

	if (is_agent())
		return 0;
	switch (opcode) {
	case IORING_OP_RENAMEAT:
	case IORING_OP_UNLINKAT:
	case IORING_OP_LINKAT:
	case IORING_OP_SYMLINKAT:
	case IORING_OP_SETXATTR:
		/* failed or not, the saved arguments are dropped here */
		uring_path_op_end(req_addr, res);
		return 0;
	}
	if (res < 0)
		return 0;
	switch (opcode) {
	case IORING_OP_OPENAT:
	case IORING_OP_OPENAT2: {
		struct io_open *o = (void *)req;
		__u32 slot;

		if (!monitor_files())
			return 0;
		/* into a registered file's slot (from 1; or one allocated, res): no descriptor */
		slot = BPF_CORE_READ(o, file_slot);
		if (slot)
			uring_file_io((__u64)uring_slot_file(req_addr, slot == URING_SLOT_ALLOC ? res : slot - 1), 0,
				      FD_OP(NR_openat, FS_OPEN, false), 0, 0);
		else
			fd_event(res, 0, FD_OP(NR_openat, FS_OPEN, false), 0, 0);
		return 0;
	}
	case IORING_OP_SPLICE:
	case IORING_OP_TEE: {
		struct io_splice *sp = (void *)req;
		__s32 in = BPF_CORE_READ(sp, splice_fd_in);

		/* as splice(2): the input read (a registered file's slot, or a descriptor), the output written */
		if (res == 0)
			return 0;
		if (BPF_CORE_READ(sp, flags) & SPLICE_F_FD_IN_FIXED)
			uring_file_io((__u64)uring_slot_file(req_addr, in), res, FD_OP(NR_splice, FS_ACCESS, false), 0,
				      0);
		else
			fd_event(in, res, FD_OP(NR_splice, FS_ACCESS, false), 0, 0);
		nr = NR_splice;
		ev = FS_MODIFY;
		break;
	}
	case IORING_OP_ACCEPT: {
		struct io_accept *ac = (void *)req;

		if (monitor_sockets() && !BPF_CORE_READ(ac, file_slot))
			sock_accepted(res);
		return 0;
	}
	case IORING_OP_READ:
	case IORING_OP_READ_FIXED:
	case IORING_OP_READV:
		nr = opcode == IORING_OP_READV ? NR_readv : NR_read;
		ev = FS_ACCESS;
		break;
	case IORING_OP_WRITE:
	case IORING_OP_WRITE_FIXED:
	case IORING_OP_WRITEV:
		nr = opcode == IORING_OP_WRITEV ? NR_writev : NR_write;
		ev = FS_MODIFY;
		break;
	case IORING_OP_SEND:
		nr = NR_sendto;
		ev = FS_MODIFY;
		break;
	case IORING_OP_RECV:
		nr = NR_recvfrom;
		ev = FS_ACCESS;
		break;
	case IORING_OP_SENDMSG:
		nr = NR_sendmsg;
		ev = FS_MODIFY;
		break;
	case IORING_OP_RECVMSG:
		nr = NR_recvmsg;
		ev = FS_ACCESS;
		break;
	case IORING_OP_FTRUNCATE:
	case IORING_OP_FALLOCATE:
		nr = NR_ftruncate;
		ev = FS_MODIFY;
		break;
	case IORING_OP_FSETXATTR:
		nr = NR_fsetxattr;
		ev = FS_ATTRIB;
		break;
	default:
		return 0;
	}
	if (nr == NR_splice) {
		/* the bytes moved, no user buffer */
	} else if (ev == FS_ACCESS || (ev == FS_MODIFY && nr != NR_ftruncate)) {
		/* reads and writes of 0 bytes are no events, as with the syscalls */
		if (res == 0)
			return 0;
		if (nr == NR_sendto || nr == NR_recvfrom || nr == NR_sendmsg || nr == NR_recvmsg)
			args = URING_ARGS_SR;
		else
			args = nr == NR_readv || nr == NR_writev ? URING_ARGS_RWV : URING_ARGS_RW;
	} else {
		res = 0;
	}
	uring_file_io((__u64)BPF_CORE_READ(req, file), res, FD_OP(nr, ev, false), req_addr, args);
	return 0;
}

/*
 * The request of a submission tracepoint, its first argument, as a number: read from the
 * context rather than taken as the BTF pointer the verifier would hand over, which no
 * global function may take.
 */
static __always_inline __u64 uring_arg0(__u64 *ctx)
{
	__u64 req = 0;

	bpf_probe_read_kernel(&req, sizeof(req), ctx);
	return req;
}

/*
 * Whether the request (the tracepoint's BTF pointer) has an opcode of set: its opcode
 * read by a plain load, so that the requests nothing needs (most, at submission) leave
 * after a few instructions, without a helper call.
 */
static __always_inline bool uring_wanted(const struct io_kiocb *req, __u64 set)
{
	__u8 op = req->opcode;

	return op < 64 && (set >> op) & 1;
}

/*
 * The same for io_uring_complete, whose request is a void * (no plain loads): its opcode
 * read once, returned if in set, else URING_UNWANTED.
 */
#define URING_UNWANTED 0xff
static __always_inline __u8 uring_wanted_read(__u64 req_addr, __u64 set)
{
	const struct io_kiocb *req = (void *)req_addr;
	__u8 op;

	if (!req_addr)
		return URING_UNWANTED;
	op = BPF_CORE_READ(req, opcode);
	return op < 64 && (set >> op) & 1 ? op : URING_UNWANTED;
}

#define URING_OP(op) (1ULL << (op))
/* what uring_submit() acts on */
#define URING_SUBMITTED                                                                                                \
	(URING_OP(IORING_OP_CLOSE) | URING_OP(IORING_OP_RENAMEAT) | URING_OP(IORING_OP_UNLINKAT) |                     \
	 URING_OP(IORING_OP_LINKAT) | URING_OP(IORING_OP_SYMLINKAT) | URING_OP(IORING_OP_SETXATTR))
/* what uring_complete() acts on */
#define URING_COMPLETED                                                                                                \
	(URING_OP(IORING_OP_RENAMEAT) | URING_OP(IORING_OP_UNLINKAT) | URING_OP(IORING_OP_LINKAT) |                    \
	 URING_OP(IORING_OP_SYMLINKAT) | URING_OP(IORING_OP_SETXATTR) | URING_OP(IORING_OP_OPENAT) |                   \
	 URING_OP(IORING_OP_OPENAT2) | URING_OP(IORING_OP_SPLICE) | URING_OP(IORING_OP_TEE) |                          \
	 URING_OP(IORING_OP_ACCEPT) | URING_OP(IORING_OP_READ) | URING_OP(IORING_OP_READ_FIXED) |                      \
	 URING_OP(IORING_OP_READV) | URING_OP(IORING_OP_WRITE) | URING_OP(IORING_OP_WRITE_FIXED) |                     \
	 URING_OP(IORING_OP_WRITEV) | URING_OP(IORING_OP_SEND) | URING_OP(IORING_OP_RECV) |                            \
	 URING_OP(IORING_OP_SENDMSG) | URING_OP(IORING_OP_RECVMSG) | URING_OP(IORING_OP_FTRUNCATE) |                   \
	 URING_OP(IORING_OP_FALLOCATE) | URING_OP(IORING_OP_FSETXATTR))

/* 6.5+: the request, once prepared */
SEC("tp_btf/io_uring_submit_req")
int io_uring_submit_req__uring(__u64 *ctx)
{
	if (!uring_wanted((void *)ctx[0], URING_SUBMITTED))
		return 0;
	uring_submit(uring_arg0(ctx));
	return 0;
}

/* 6.0 .. 6.4: the same tracepoint under its old name (req, force_nonblock) */
SEC("tp_btf/io_uring_submit_sqe")
int io_uring_submit_sqe__uring(__u64 *ctx)
{
	if (!uring_wanted((void *)ctx[0], URING_SUBMITTED))
		return 0;
	uring_submit(uring_arg0(ctx));
	return 0;
}

/*
 * io_uring_complete (ctx, req, cqe) since 6.8 or so (Debian's 6.18, 7.x); the result is
 * the CQE's. Arguments read from the context by position: the two layouts differ.
 */
SEC("tp_btf/io_uring_complete")
int io_uring_complete__cqe(__u64 *ctx)
{
	struct io_uring_cqe *cqe = (void *)ctx[2];

	__u8 opcode = uring_wanted_read(ctx[1], URING_COMPLETED);

	if (opcode == URING_UNWANTED)
		return 0;
	uring_complete(ctx[1], cqe->res, opcode);
	scratch_done();
	return 0;
}

/* io_uring_complete (ctx, req, user_data, res, cflags[, extra1, extra2]): 5.18 .. 6.12 */
SEC("tp_btf/io_uring_complete")
int io_uring_complete__res(__u64 *ctx)
{
	__u8 opcode = uring_wanted_read(ctx[1], URING_COMPLETED);

	if (opcode == URING_UNWANTED)
		return 0;
	uring_complete(ctx[1], (int)ctx[3], opcode);
	scratch_done();
	return 0;
}

/*
 * Inode source of path operations, 6.13+: the multigrain ctime tracepoints fire, in the
 * syscall's task, for every inode whose ctime an operation changes.
 */
SEC("tp_btf/inode_set_ctime_to_ts")
int BPF_PROG(inode_set_ctime_to_ts__path_op, struct inode *inode)
{
	path_op_inode(inode);
	return 0;
}

SEC("tp_btf/ctime_xchg_skip")
int BPF_PROG(ctime_xchg_skip__path_op, struct inode *inode)
{
	path_op_inode(inode);
	return 0;
}

SEC("tp_btf/ctime_ns_xchg")
int BPF_PROG(ctime_ns_xchg__path_op, struct inode *inode)
{
	path_op_inode(inode);
	return 0;
}

/*
 * Inode source where kprobes exist: the LSM hooks every path operation passes through.
 * security_inode_setattr/setxattr/removexattr gained a leading namespace argument in
 * 5.12 (mnt_userns, later mnt_idmap), which moves the dentry to the second place.
 */
extern int LINUX_KERNEL_VERSION __kconfig;

static __always_inline struct dentry *setattr_dentry(struct pt_regs *ctx)
{
	/* CORE reads: a ctx offset chosen at run time must not be dereferenced directly */
	if (LINUX_KERNEL_VERSION >= KERNEL_VERSION(5, 12, 0))
		return (struct dentry *)PT_REGS_PARM2_CORE(ctx);
	return (struct dentry *)PT_REGS_PARM1_CORE(ctx);
}

SEC("kprobe/security_inode_unlink")
int BPF_KPROBE(security_inode_unlink__path_op, struct inode *dir, struct dentry *dentry)
{
	path_op_inode(BPF_CORE_READ(dentry, d_inode));
	return 0;
}

SEC("kprobe/security_inode_rename")
int BPF_KPROBE(security_inode_rename__path_op, struct inode *old_dir, struct dentry *old_dentry, struct inode *new_dir,
	       struct dentry *new_dentry)
{
	path_op_inode(BPF_CORE_READ(old_dentry, d_inode));
	path_op_inode(BPF_CORE_READ(new_dentry, d_inode));
	return 0;
}

SEC("kprobe/security_inode_link")
int BPF_KPROBE(security_inode_link__path_op, struct dentry *old_dentry)
{
	path_op_inode(BPF_CORE_READ(old_dentry, d_inode));
	return 0;
}

/* a symlink's inode exists only once the filesystem instantiates its dentry */
SEC("kprobe/d_instantiate")
int BPF_KPROBE(d_instantiate__path_op, struct dentry *dentry, struct inode *inode)
{
	path_op_inode(inode);
	return 0;
}

SEC("kprobe/d_instantiate_new")
int BPF_KPROBE(d_instantiate_new__path_op, struct dentry *dentry, struct inode *inode)
{
	path_op_inode(inode);
	return 0;
}

SEC("kprobe/security_inode_setattr")
int BPF_KPROBE(security_inode_setattr__path_op)
{
	path_op_inode(BPF_CORE_READ(setattr_dentry(ctx), d_inode));
	return 0;
}

SEC("kprobe/security_inode_setxattr")
int BPF_KPROBE(security_inode_setxattr__path_op)
{
	path_op_inode(BPF_CORE_READ(setattr_dentry(ctx), d_inode));
	return 0;
}

SEC("kprobe/security_inode_removexattr")
int BPF_KPROBE(security_inode_removexattr__path_op)
{
	path_op_inode(BPF_CORE_READ(setattr_dentry(ctx), d_inode));
	return 0;
}

/* A program was executed: OPEN_EXEC on its file, which stays in use until exit. */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(sched_process_exec__open_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	struct file *f;

	if (!monitor_files() || is_agent())
		return 0;
	f = BPF_CORE_READ(bprm, file);
	if (f)
		file_event(f, FS_OPEN_EXEC);
	exec_script_by_name(bprm);
	scratch_done();
	return 0;
}

/*
 * Precision tier: every file an exec tries passes this check while it is bprm->file; a
 * script ("#!") is replaced by its interpreter before sched_process_exec, so it is
 * reported here, with its inode.
 */
SEC("kprobe/security_bprm_check")
int BPF_KPROBE(security_bprm_check__open_exec, struct linux_binprm *bprm)
{
	char magic[2];

	if (!monitor_files() || is_agent())
		return 0;
	if (bpf_core_read(magic, sizeof(magic), &bprm->buf) || magic[0] != '#' || magic[1] != '!')
		return 0;
	file_event(BPF_CORE_READ(bprm, file), FS_OPEN_EXEC);
	scratch_done();
	return 0;
}

/* TCP and UDP packets, counted per socket (cookie); never attributed to current. */
SEC("cgroup_skb/egress")
int cgroup_skb__egress(struct __sk_buff *skb)
{
	sock_packet(skb, false);
	return 1;
}

SEC("cgroup_skb/ingress")
int cgroup_skb__ingress(struct __sk_buff *skb)
{
	sock_packet(skb, true);
	return 1;
}

SEC("tp_btf/netif_receive_skb")
int BPF_PROG(netif_receive_skb__frags, struct sk_buff *skb)
{
	if (monitor_sockets())
		frag_count(skb);
	return 0;
}

/*
 * Run once at start: the TCP and UDP sockets that were open before the agent get their
 * owner (the first process found holding them) and a role (sock_guess_role); every
 * kernel with the task_file iterator (5.8). The socket is read through the file with
 * CO-RE reads, so no helper may take it (some kernels, e.g. 6.18.44, refuse even a
 * walked socket pointer in bpf_get_socket_cookie): a socket whose cookie exists already
 * (it had packets since the start, or ss asked) has its record filled here; the others
 * leave the owner waiting under the sock's address for their first packet
 * (sock_take_waiting_owner). The owner is left waiting first, so a packet that makes the
 * cookie and record meanwhile finds one or the other.
 */
SEC("iter/task_file")
int iter_task_file__existing(struct bpf_iter__task_file *ctx)
{
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	struct sock_waiting_owner *o;
	struct rec_sock *s;
	struct sock *sk;
	__u16 family, proto, lport, rport;
	__u64 addr, cookie;

	if (!task || !file || !monitor_sockets())
		return 0;
	/* read as numbers (CO-RE reads), not walked: nothing the verifier could distrust */
	sk = file_sock(file);
	if (!sk)
		return 0;
	addr = (__u64)(long)sk;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	proto = BPF_CORE_READ(sk, sk_protocol);
	if ((family != AF_INET && family != AF_INET6) || (proto != IPPROTO_TCP && proto != IPPROTO_UDP))
		return 0;
	/* listeners carry no traffic of their own; their connections are found themselves */
	if (proto == IPPROTO_TCP && BPF_CORE_READ(sk, __sk_common.skc_state) == TCP_LISTEN)
		return 0;
	lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	/* the first process found holding it stays the owner */
	if (bpf_map_update_elem(&sock_waiting_owners, &addr, &waiting_owner_zero, BPF_NOEXIST))
		return 0;
	o = bpf_map_lookup_elem(&sock_waiting_owners, &addr);
	if (!o)
		return 0;
	task_identity_of(task, &o->task, o->tail);
	o->lport = lport;
	o->rport = rport;
	o->proto = proto;
	cookie = sk_cookie(sk);
	s = cookie ? bpf_map_lookup_elem(&socks, &cookie) : NULL;
	if (!s || (s->flags & SOCK_FLAG_AGENT) || s->task.pid)
		return 0;
	s->task = o->task;
	__builtin_memcpy(s->tail, o->tail, sizeof(s->tail));
	sock_guess_role(s, proto, lport, rport);
	return 0;
}

/* Process context: who created, connected and bound inet sockets. */
SEC("cgroup/sock_create")
int sock_create__owner(struct bpf_sock *ctx)
{
	struct rec_sock *s;

	if (ctx->protocol != IPPROTO_TCP && ctx->protocol != IPPROTO_UDP)
		return 1;
	/* a new socket: its cookie is made here, so its record is too */
	s = sock_new(bpf_get_socket_cookie(ctx), bpf_ktime_get_ns());
	if (!s)
		return 1;
	/* the agent's sockets (UDP output) are marked here, by socket, and skipped from then on */
	if (is_agent())
		s->flags |= SOCK_FLAG_AGENT;
	else
		sock_owner(s, false);
	return 1;
}

static __always_inline int sock_connect(struct bpf_sock_addr *ctx)
{
	struct rec_sock *s;

	if (is_agent())
		return 1;
	s = sock_get(bpf_get_socket_cookie(ctx), 0);
	if (s) {
		sock_owner_final(s);
		s->role = SOCK_ROLE_CLIENT;
	}
	return 1;
}

SEC("cgroup/connect4")
int connect4__owner(struct bpf_sock_addr *ctx)
{
	return sock_connect(ctx);
}

SEC("cgroup/connect6")
int connect6__owner(struct bpf_sock_addr *ctx)
{
	return sock_connect(ctx);
}

static __always_inline int sock_bind(struct bpf_sock_addr *ctx)
{
	struct rec_sock *s;

	if (is_agent() || !ctx->user_port)
		return 1;
	s = sock_get(bpf_get_socket_cookie(ctx), 0);
	if (s)
		s->flags |= SOCK_FLAG_BOUND;
	return 1;
}

SEC("cgroup/bind4")
int bind4__owner(struct bpf_sock_addr *ctx)
{
	return sock_bind(ctx);
}

SEC("cgroup/bind6")
int bind6__owner(struct bpf_sock_addr *ctx)
{
	return sock_bind(ctx);
}

/* The socket is released by its process: UDP is finished; TCP finishes at TCP_CLOSE. */
SEC("cgroup/sock_release")
int sock_release__export(struct bpf_sock *ctx)
{
	__u64 cookie;
	struct rec_sock *s;

	/*
	 * Release comes before the protocol's close: a TCP socket not closed yet (a
	 * connection, a listener) reaches TCP_CLOSE later, where the state program
	 * finishes its record; no lookup here.
	 */
	if (cfg.tcp_close_hook && ctx->protocol == IPPROTO_TCP && ctx->state != TCP_CLOSE)
		return 1;
	cookie = bpf_get_socket_cookie(ctx);
	s = bpf_map_lookup_elem(&socks, &cookie);
	if (!s)
		return 1;
	if (ctx->protocol == IPPROTO_TCP && (s->tx.packets || s->rx.packets))
		return 1;
	s->state = TCP_CLOSE;
	s->hdr.ts_ns = bpf_ktime_get_ns();
	sock_export(s, cookie);
	return 1;
}

/*
 * TCP connection s established, as server (the accepted side) or client. The server
 * side's handshake passed the listener and is invisible to the child socket, so it is
 * counted here (SYN and ACK in, SYN-ACK out).
 */
static __always_inline void sock_tcp_established(struct rec_sock *s, bool server, __u64 now)
{
	if (server) {
		s->role = SOCK_ROLE_SERVER;
		sock_dir_count(&s->rx, now, 2, 0);
		sock_dir_flags(&s->rx, 2, 1);  /* SYN */
		sock_dir_flags(&s->rx, 16, 1); /* ACK */
		sock_dir_count(&s->tx, now, 1, 0);
		sock_dir_flags(&s->tx, 18, 1); /* SYN-ACK */
	} else {
		s->role = SOCK_ROLE_CLIENT;
	}
}

/*
 * Where tracing programs cannot make a socket cookie (before 5.12): connections
 * established, from the sockops callbacks (about 9 runs per connection for 2 that act).
 */
SEC("sockops")
int sockops__tcp(struct bpf_sock_ops *skops)
{
	__u64 now;
	struct rec_sock *s;
	__u32 op = skops->op;

	if (op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB && op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB)
		return 1;
	now = bpf_ktime_get_ns();
	s = sock_get(bpf_get_socket_cookie(skops), now);
	if (s)
		sock_tcp_established(s, op == BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB, now);
	return 1;
}

/*
 * close() of an open connection that resets it (tcp_close: SO_LINGER 0, or data left
 * unread) goes straight from ESTABLISHED or CLOSE_WAIT to TCP_CLOSE and sends the reset
 * after; close() has marked the socket shut down both ways by then, unlike a reset
 * received (tcp_done), which sends nothing. A FIN received (CLOSE_WAIT) counts one
 * sequence number that is no data.
 */
static __always_inline bool closing_with_reset(const struct sock *sk, int oldstate)
{
	const struct tcp_sock *tp = (void *)sk;
	__u32 unread;
	bool linger0;

	if (oldstate != TCP_ESTABLISHED && oldstate != TCP_CLOSE_WAIT)
		return false;
	if (BPF_CORE_READ_BITFIELD_PROBED(sk, sk_shutdown) != SHUTDOWN_MASK)
		return false;
	linger0 = (BPF_CORE_READ(sk, __sk_common.skc_flags) &
		   (1UL << bpf_core_enum_value(enum sock_flags, SOCK_LINGER))) &&
		  BPF_CORE_READ(sk, sk_lingertime) == 0;
	unread = BPF_CORE_READ(tp, rcv_nxt) - BPF_CORE_READ(tp, copied_seq) - (oldstate == TCP_CLOSE_WAIT);
	return linger0 || unread != 0;
}

/*
 * Every path to TCP_CLOSE (FIN, RST, refused or timed-out connect) finishes the record.
 * sk is the tracepoint's trusted socket: its fields are plain loads.
 */
static __always_inline void sock_tcp_closed(const struct sock *sk, int oldstate)
{
	__u64 cookie = sk->__sk_common.skc_cookie.counter;
	struct rec_sock *s;
	struct tcp_sock *tp;

	/* no cookie: nobody (no packet, no hook) asked for one, so no record either */
	if (!cookie)
		return;
	s = bpf_map_lookup_elem(&socks, &cookie);
	if (!s)
		return;
	tp = bpf_skc_to_tcp_sock((void *)sk);
	if (tp)
		sock_tcp_counters(s, tp);
	s->state = TCP_CLOSE;
	s->hdr.ts_ns = bpf_ktime_get_ns();
	/* the reset that follows is counted, then ends the record (cgroup_skb egress) */
	if (closing_with_reset(sk, oldstate)) {
		s->flags |= SOCK_FLAG_RST_PENDING | SOCK_FLAG_CLOSED;
		return;
	}
	sock_export(s, cookie);
}

/*
 * TCP state changes (5.12+, where tracing programs may make a socket cookie): a
 * connection established, the client's SYN_SENT -> ESTABLISHED and the accepted child's
 * SYN_RECV -> ESTABLISHED, at the moments sockops' ACTIVE/PASSIVE_ESTABLISHED callbacks
 * run; and the close. The other transitions (6 of 10 per connection) leave at the first
 * test, before the socket is read.
 */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(inet_sock_set_state__tcp, const struct sock *sk, int oldstate, int newstate)
{
	struct rec_sock *s;
	__u64 now;

	if (newstate != TCP_ESTABLISHED && newstate != TCP_CLOSE)
		return 0;
	if (sk->sk_protocol != IPPROTO_TCP)
		return 0;
	if (newstate == TCP_CLOSE) {
		sock_tcp_closed(sk, oldstate);
		return 0;
	}
	if (oldstate != TCP_SYN_SENT && oldstate != TCP_SYN_RECV)
		return 0;
	/* the client's record exists since sock_create (no clock read); the accepted child's is new */
	if (oldstate == TCP_SYN_SENT) {
		s = sock_get(bpf_get_socket_cookie((void *)sk), 0);
		if (s)
			sock_tcp_established(s, false, 0);
		return 0;
	}
	now = bpf_ktime_get_ns();
	s = sock_new(bpf_get_socket_cookie((void *)sk), now);
	if (s)
		sock_tcp_established(s, true, now);
	return 0;
}

/* The close alone, where sockops tells the established connections (before 5.12). */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(inet_sock_set_state__export, const struct sock *sk, int oldstate, int newstate)
{
	if (newstate == TCP_CLOSE && sk->sk_protocol == IPPROTO_TCP)
		sock_tcp_closed(sk, oldstate);
	return 0;
}

/* The last thread of a process ended: the agent flushes what the process left open. */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(sched_process_exit__flush, struct task_struct *task)
{
	struct rec_exit *r;

	/* do_exit() decrements signal->live before this tracepoint */
	if (!monitor_files() || BPF_CORE_READ(task, signal, live.counter) != 0)
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
