/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Syscall numbers and argument registers of the raw syscall tracepoints, per
 * architecture. tp_btf/sys_enter and sys_exit hand us the user's struct pt_regs, a BTF
 * pointer: the number and the arguments are read directly, plain loads the verifier
 * guards (no helper call each, as a BPF_CORE_READ would make on the hot path).
 */
#ifndef KFLOWD_SYSCALLS_BPF_H
#define KFLOWD_SYSCALLS_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include "core_fixes.bpf.h"

/*
 * Stand-ins for 32-bit calls without a native twin of the same arguments: ia32's
 * socketcall(call, args) multiplexer, and send/recv (sendto/recvfrom without an address).
 */
#define NR_COMPAT_SOCKETCALL (-2001)
#define NR_COMPAT_SEND (-2002)
#define NR_COMPAT_RECV (-2003)

#if defined(__TARGET_ARCH_x86)
/* arch/x86/entry/syscalls/syscall_64.tbl */
#define NR_read 0
#define NR_write 1
#define NR_open 2
#define NR_close 3
#define NR_pread64 17
#define NR_pwrite64 18
#define NR_readv 19
#define NR_writev 20
#define NR_dup2 33
#define NR_sendfile 40
#define NR_ftruncate 77
#define NR_creat 85
#define NR_fchmod 91
#define NR_fchown 93
#define NR_fsetxattr 190
#define NR_fremovexattr 199
#define NR_openat 257
#define NR_splice 275
#define NR_utimensat 280
#define NR_fallocate 285
#define NR_dup3 292
#define NR_preadv 295
#define NR_pwritev 296
#define NR_preadv2 327
#define NR_copy_file_range 326
#define NR_pwritev2 328
#define NR_openat2 437
#define NR_close_range 436
#define NR_io_uring_setup 425
/* the syscall number survives in orig_ax; the arguments stay in their registers */
#define SYSCALL_NR(regs) ((regs)->orig_ax)
#define SYSCALL_ARG1(regs) ((regs)->di)
#define SYSCALL_ARG2(regs) ((regs)->si)
#define SYSCALL_ARG3(regs) ((regs)->dx)
#define SYSCALL_ARG4(regs) ((regs)->r10)
#define SYSCALL_ARG5(regs) ((regs)->r8)
/* sockets */
#define NR_accept 43
#define NR_sendto 44
#define NR_recvfrom 45
#define NR_sendmsg 46
#define NR_recvmsg 47
#define NR_accept4 288
#define NR_recvmmsg 299
#define NR_sendmmsg 307
/* path operations */
#define NR_truncate 76
#define NR_rename 82
#define NR_link 86
#define NR_unlink 87
#define NR_symlink 88
#define NR_chmod 90
#define NR_chown 92
#define NR_lchown 94
#define NR_utime 132
#define NR_setxattr 188
#define NR_lsetxattr 189
#define NR_removexattr 197
#define NR_lremovexattr 198
#define NR_utimes 235
#define NR_fchownat 260
#define NR_futimesat 261
#define NR_unlinkat 263
#define NR_renameat 264
#define NR_linkat 265
#define NR_symlinkat 266
#define NR_fchmodat 268
#define NR_renameat2 316
#define NR_fchmodat2 452

/*
 * 32-bit programs (ia32, IA32_EMULATION): int $0x80, sysenter or syscall from 32-bit code,
 * and int $0x80 from 64-bit code too, run the ia32 table with arguments in ebx, ecx, edx,
 * esi, edi. The kernel marks such a call TS_COMPAT in thread_info.status until it returns
 * (arch/x86/include/asm/thread_info.h; cleared in arch_exit_to_user_mode_prepare()).
 */
#define TS_COMPAT 0x0002
#define COMPAT_ARG1(regs) ((__u32)(regs)->bx)
#define COMPAT_ARG2(regs) ((__u32)(regs)->cx)
#define COMPAT_ARG3(regs) ((__u32)(regs)->dx)
#define COMPAT_ARG4(regs) ((__u32)(regs)->si)
#define COMPAT_ARG5(regs) ((__u32)(regs)->di)

static __always_inline bool syscall_compat(struct pt_regs *regs)
{
	if (have_task_btf())
		return bpf_get_current_task_btf()->thread_info.status & TS_COMPAT;
	return BPF_CORE_READ((struct task_struct *)bpf_get_current_task(), thread_info.status) & TS_COMPAT;
}

/* x32 (64-bit code with 32-bit pointers) numbers its calls with this bit: not decoded */
#define X32_SYSCALL_BIT 0x40000000

/*
 * ia32 call numbers (arch/x86/entry/syscalls/syscall_32.tbl) kflowd looks at, X(id, the
 * native call it stands for). Calls whose arguments differ from the native ones get
 * numbers of their own (NR_COMPAT_*).
 */
/* clang-format off */
#define COMPAT_SYSCALLS(X, a) \
	X(a, 3, NR_read) \
	X(a, 4, NR_write) \
	X(a, 5, NR_open) \
	X(a, 6, NR_close) \
	X(a, 8, NR_creat) \
	X(a, 9, NR_link) \
	X(a, 10, NR_unlink) \
	X(a, 15, NR_chmod) \
	X(a, 16, NR_lchown) /* 16-bit ids */ \
	X(a, 30, NR_utime) \
	X(a, 38, NR_rename) \
	X(a, 63, NR_dup2) \
	X(a, 83, NR_symlink) \
	X(a, 92, NR_truncate) \
	X(a, 93, NR_ftruncate) \
	X(a, 94, NR_fchmod) \
	X(a, 95, NR_fchown) /* 16-bit ids */ \
	X(a, 102, NR_COMPAT_SOCKETCALL) \
	X(a, 145, NR_readv) \
	X(a, 146, NR_writev) \
	X(a, 180, NR_pread64) \
	X(a, 181, NR_pwrite64) \
	X(a, 182, NR_chown) /* 16-bit ids */ \
	X(a, 187, NR_sendfile) \
	X(a, 193, NR_truncate) /* truncate64 */ \
	X(a, 194, NR_ftruncate) /* ftruncate64 */ \
	X(a, 198, NR_lchown) /* lchown32 */ \
	X(a, 207, NR_fchown) /* fchown32 */ \
	X(a, 212, NR_chown) /* chown32 */ \
	X(a, 226, NR_setxattr) \
	X(a, 227, NR_lsetxattr) \
	X(a, 228, NR_fsetxattr) \
	X(a, 235, NR_removexattr) \
	X(a, 236, NR_lremovexattr) \
	X(a, 237, NR_fremovexattr) \
	X(a, 239, NR_sendfile) /* sendfile64 */ \
	X(a, 271, NR_utimes) \
	X(a, 295, NR_openat) \
	X(a, 298, NR_fchownat) \
	X(a, 299, NR_futimesat) \
	X(a, 301, NR_unlinkat) \
	X(a, 302, NR_renameat) \
	X(a, 303, NR_linkat) \
	X(a, 304, NR_symlinkat) \
	X(a, 306, NR_fchmodat) \
	X(a, 313, NR_splice) \
	X(a, 320, NR_utimensat) \
	X(a, 324, NR_fallocate) \
	X(a, 330, NR_dup3) \
	X(a, 333, NR_preadv) \
	X(a, 334, NR_pwritev) \
	X(a, 337, NR_recvmmsg) \
	X(a, 345, NR_sendmmsg) \
	X(a, 353, NR_renameat2) \
	X(a, 364, NR_accept4) \
	X(a, 369, NR_sendto) \
	X(a, 370, NR_sendmsg) \
	X(a, 371, NR_recvfrom) \
	X(a, 372, NR_recvmsg) \
	X(a, 377, NR_copy_file_range) \
	X(a, 378, NR_preadv2) \
	X(a, 379, NR_pwritev2) \
	X(a, 412, NR_utimensat) /* utimensat_time64 */ \
	X(a, 417, NR_recvmmsg) /* recvmmsg_time64 */ \
	X(a, 425, NR_io_uring_setup) \
	X(a, 436, NR_close_range) \
	X(a, 437, NR_openat2) \
	X(a, 452, NR_fchmodat2)
/* clang-format on */
#elif defined(__TARGET_ARCH_arm64)
/* include/uapi/asm-generic/unistd.h: no open, creat or dup2 on arm64 */
#define NR_fsetxattr 7
#define NR_fremovexattr 16
#define NR_dup3 24
#define NR_ftruncate 46
#define NR_fallocate 47
#define NR_fchmod 52
#define NR_fchown 55
#define NR_openat 56
#define NR_close 57
#define NR_read 63
#define NR_write 64
#define NR_readv 65
#define NR_writev 66
#define NR_pread64 67
#define NR_pwrite64 68
#define NR_preadv 69
#define NR_pwritev 70
#define NR_sendfile 71
#define NR_splice 76
#define NR_utimensat 88
#define NR_copy_file_range 285
#define NR_preadv2 286
#define NR_pwritev2 287
#define NR_openat2 437
#define NR_close_range 436
#define NR_io_uring_setup 425
/* numbers no syscall has, so that shared switch statements stay valid */
#define NR_open (-1001)
#define NR_creat (-1002)
#define NR_dup2 (-1003)
/* x0 carries the return value at exit; the first argument is kept in orig_x0 */
#define SYSCALL_NR(regs) ((regs)->syscallno)
#define SYSCALL_ARG1(regs) ((regs)->orig_x0)
#define SYSCALL_ARG2(regs) ((regs)->regs[1])
#define SYSCALL_ARG3(regs) ((regs)->regs[2])
#define SYSCALL_ARG4(regs) ((regs)->regs[3])
#define SYSCALL_ARG5(regs) ((regs)->regs[4])
/* sockets */
#define NR_accept 202
#define NR_sendto 206
#define NR_recvfrom 207
#define NR_sendmsg 211
#define NR_recvmsg 212
#define NR_accept4 242
#define NR_recvmmsg 243
#define NR_sendmmsg 269
/* path operations */
#define NR_setxattr 5
#define NR_lsetxattr 6
#define NR_removexattr 14
#define NR_lremovexattr 15
#define NR_unlinkat 35
#define NR_symlinkat 36
#define NR_linkat 37
#define NR_renameat 38
#define NR_truncate 45
#define NR_fchmodat 53
#define NR_fchownat 54
#define NR_renameat2 276
#define NR_fchmodat2 452
#define NR_rename (-1004)
#define NR_link (-1005)
#define NR_unlink (-1006)
#define NR_symlink (-1007)
#define NR_chmod (-1008)
#define NR_chown (-1009)
#define NR_lchown (-1010)
#define NR_utime (-1011)
#define NR_utimes (-1012)
#define NR_futimesat (-1013)

/*
 * 32-bit programs (AArch32, CONFIG_COMPAT): the processor runs them in AArch32 state
 * (PSR_MODE32_BIT in pstate), their calls numbered by the arm EABI table, arguments in
 * r0..r5, which are x0..x5 here: read as the native ones, 32 bits wide.
 */
#define PSR_MODE32_BIT 0x10
#define COMPAT_ARG1(regs) ((__u32)(regs)->orig_x0)
#define COMPAT_ARG2(regs) ((__u32)(regs)->regs[1])
#define COMPAT_ARG3(regs) ((__u32)(regs)->regs[2])
#define COMPAT_ARG4(regs) ((__u32)(regs)->regs[3])
#define COMPAT_ARG5(regs) ((__u32)(regs)->regs[4])

static __always_inline bool syscall_compat(struct pt_regs *regs)
{
	return regs->pstate & PSR_MODE32_BIT;
}

/* (x32 exists on x86 only) */
#define X32_SYSCALL_BIT 0

/*
 * arm EABI call numbers (arch/arm/tools/syscall.tbl) kflowd looks at, X(id, the native
 * call it stands for); the calls arm64 lacks have the stand-in numbers above.
 */
/* clang-format off */
#define COMPAT_SYSCALLS(X, a) \
	X(a, 3, NR_read) \
	X(a, 4, NR_write) \
	X(a, 5, NR_open) \
	X(a, 6, NR_close) \
	X(a, 8, NR_creat) \
	X(a, 9, NR_link) \
	X(a, 10, NR_unlink) \
	X(a, 15, NR_chmod) \
	X(a, 16, NR_lchown) /* 16-bit ids */ \
	X(a, 38, NR_rename) \
	X(a, 63, NR_dup2) \
	X(a, 83, NR_symlink) \
	X(a, 92, NR_truncate) \
	X(a, 93, NR_ftruncate) \
	X(a, 94, NR_fchmod) \
	X(a, 95, NR_fchown) /* 16-bit ids */ \
	X(a, 145, NR_readv) \
	X(a, 146, NR_writev) \
	X(a, 180, NR_pread64) \
	X(a, 181, NR_pwrite64) \
	X(a, 182, NR_chown) /* 16-bit ids */ \
	X(a, 187, NR_sendfile) \
	X(a, 193, NR_truncate) /* truncate64 */ \
	X(a, 194, NR_ftruncate) /* ftruncate64 */ \
	X(a, 198, NR_lchown) /* lchown32 */ \
	X(a, 207, NR_fchown) /* fchown32 */ \
	X(a, 212, NR_chown) /* chown32 */ \
	X(a, 226, NR_setxattr) \
	X(a, 227, NR_lsetxattr) \
	X(a, 228, NR_fsetxattr) \
	X(a, 235, NR_removexattr) \
	X(a, 236, NR_lremovexattr) \
	X(a, 237, NR_fremovexattr) \
	X(a, 239, NR_sendfile) /* sendfile64 */ \
	X(a, 269, NR_utimes) \
	X(a, 285, NR_accept) \
	X(a, 289, NR_COMPAT_SEND) \
	X(a, 290, NR_sendto) \
	X(a, 291, NR_COMPAT_RECV) \
	X(a, 292, NR_recvfrom) \
	X(a, 296, NR_sendmsg) \
	X(a, 297, NR_recvmsg) \
	X(a, 322, NR_openat) \
	X(a, 325, NR_fchownat) \
	X(a, 326, NR_futimesat) \
	X(a, 328, NR_unlinkat) \
	X(a, 329, NR_renameat) \
	X(a, 330, NR_linkat) \
	X(a, 331, NR_symlinkat) \
	X(a, 333, NR_fchmodat) \
	X(a, 340, NR_splice) \
	X(a, 348, NR_utimensat) \
	X(a, 352, NR_fallocate) \
	X(a, 358, NR_dup3) \
	X(a, 361, NR_preadv) \
	X(a, 362, NR_pwritev) \
	X(a, 365, NR_recvmmsg) \
	X(a, 366, NR_accept4) \
	X(a, 374, NR_sendmmsg) \
	X(a, 382, NR_renameat2) \
	X(a, 391, NR_copy_file_range) \
	X(a, 392, NR_preadv2) \
	X(a, 393, NR_pwritev2) \
	X(a, 412, NR_utimensat) /* utimensat_time64 */ \
	X(a, 417, NR_recvmmsg) /* recvmmsg_time64 */ \
	X(a, 425, NR_io_uring_setup) \
	X(a, 436, NR_close_range) \
	X(a, 437, NR_openat2) \
	X(a, 452, NR_fchmodat2)
/* clang-format on */
#else
#error "kflowd supports __TARGET_ARCH_x86 and __TARGET_ARCH_arm64"
#endif

/* The native call a 32-bit program's call id stands for, as far as kflowd looks at it, or -1. */
static __always_inline long compat_nr(long id)
{
#define COMPAT_CASE(a, id, nr)                                                                                         \
	case id:                                                                                                       \
		return nr;
	switch (id) {
		COMPAT_SYSCALLS(COMPAT_CASE, 0)
	}
#undef COMPAT_CASE
	return -1;
}

/*
 * The calls each dispatcher acts on (native numbers). Everything else leaves at the
 * first instructions through a bitmap (syscall_wanted()): most calls a busy server makes
 * (epoll_wait, socket, connect, setsockopt, fcntl, futex, mmap, ...) are none of these.
 * A call missing here is never seen: the switch statements of the dispatchers and of
 * path_op_begin() must name only calls listed.
 */
/* clang-format off */
#define PATH_OP_SYSCALLS(X, a)                                                                     \
	X(a, NR_unlink) X(a, NR_unlinkat) X(a, NR_rename) X(a, NR_renameat) X(a, NR_renameat2)     \
	X(a, NR_link) X(a, NR_linkat) X(a, NR_symlink) X(a, NR_symlinkat) X(a, NR_chmod)           \
	X(a, NR_fchmodat) X(a, NR_fchmodat2) X(a, NR_chown) X(a, NR_lchown) X(a, NR_fchownat)      \
	X(a, NR_utime) X(a, NR_utimes) X(a, NR_futimesat) X(a, NR_utimensat) X(a, NR_setxattr)     \
	X(a, NR_lsetxattr) X(a, NR_removexattr) X(a, NR_lremovexattr) X(a, NR_truncate)
/* sys_enter: releases (close, dup2/dup3 over an open descriptor, close_range), path operations */
#define ENTER_SYSCALLS(X, a)                                                                       \
	X(a, NR_close) X(a, NR_dup2) X(a, NR_dup3) X(a, NR_close_range) PATH_OP_SYSCALLS(X, a)
/* sys_exit: path operations; opens, accepts, reads, writes, copies, attribute changes by descriptor */
#define EXIT_SYSCALLS(X, a)                                                                        \
	PATH_OP_SYSCALLS(X, a)                                                                     \
	X(a, NR_open) X(a, NR_openat) X(a, NR_openat2) X(a, NR_creat) X(a, NR_accept)              \
	X(a, NR_accept4) X(a, NR_sendto) X(a, NR_sendmsg) X(a, NR_sendmmsg) X(a, NR_recvfrom)      \
	X(a, NR_recvmsg) X(a, NR_recvmmsg) X(a, NR_read) X(a, NR_pread64) X(a, NR_readv)           \
	X(a, NR_preadv) X(a, NR_preadv2) X(a, NR_write) X(a, NR_pwrite64) X(a, NR_writev)          \
	X(a, NR_pwritev) X(a, NR_pwritev2) X(a, NR_sendfile) X(a, NR_ftruncate) X(a, NR_fallocate) \
	X(a, NR_fchmod) X(a, NR_fchown) X(a, NR_fsetxattr) X(a, NR_fremovexattr) X(a, NR_splice)   \
	X(a, NR_copy_file_range) X(a, NR_io_uring_setup)

/* call numbers the bitmaps cover: every one kflowd names is below this (fchmodat2: 452) */
#define SYSCALL_BITMAP_WORDS 8
/* bit of nr in word w of a bitmap, 0 for numbers outside it (the stand-ins are negative) */
#define NR_BIT(w, nr) ((nr) >= 0 && (nr) / 64 == (w) ? 1ULL << ((nr) & 63) : 0ULL)
#define NR_BIT_OR(w, nr) | NR_BIT(w, nr)
#define COMPAT_BIT_OR(w, id, nr) | NR_BIT(w, id)
/* the words of the bitmap of a list of calls: LIST(X, a) with X = NR_BIT_OR or COMPAT_BIT_OR */
#define BITMAP_WORDS(LIST, X)                                                                      \
	{ 0ULL LIST(X, 0), 0ULL LIST(X, 1), 0ULL LIST(X, 2), 0ULL LIST(X, 3),                     \
	  0ULL LIST(X, 4), 0ULL LIST(X, 5), 0ULL LIST(X, 6), 0ULL LIST(X, 7) }
/* clang-format on */

/*
 * The bitmaps, in a read-only section of their own (.rodata holds only struct kf_config):
 * a lookup is one load from a frozen map, no helper call.
 */
struct syscall_bitmaps {
	__u64 enter[SYSCALL_BITMAP_WORDS];
	__u64 exit[SYSCALL_BITMAP_WORDS];
	/* 32-bit programs' call ids kflowd looks at (COMPAT_SYSCALLS), at enter and exit */
	__u64 compat[SYSCALL_BITMAP_WORDS];
};

/*
 * Argument n of the syscall at regs, in code with a pt_regs *regs and a constant bool
 * compat: a 32-bit program's (where its ABI keeps it) or a native one's.
 */
#define ARG(n) (compat ? (__u64)COMPAT_ARG##n(regs) : (__u64)SYSCALL_ARG##n(regs))

#endif /* KFLOWD_SYSCALLS_BPF_H */
