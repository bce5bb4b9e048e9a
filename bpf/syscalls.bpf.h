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
 * The native call an ia32 call number (arch/x86/entry/syscalls/syscall_32.tbl) stands for,
 * as far as kflowd looks at it, or -1. Calls whose arguments differ from the native
 * ones get numbers of their own (NR_COMPAT_*).
 */
static __always_inline long compat_nr(long id)
{
	switch (id) {
	case 3: return NR_read;
	case 4: return NR_write;
	case 5: return NR_open;
	case 6: return NR_close;
	case 8: return NR_creat;
	case 9: return NR_link;
	case 10: return NR_unlink;
	case 15: return NR_chmod;
	case 16: return NR_lchown;		/* 16-bit ids */
	case 30: return NR_utime;
	case 38: return NR_rename;
	case 63: return NR_dup2;
	case 83: return NR_symlink;
	case 92: return NR_truncate;
	case 93: return NR_ftruncate;
	case 94: return NR_fchmod;
	case 95: return NR_fchown;		/* 16-bit ids */
	case 102: return NR_COMPAT_SOCKETCALL;
	case 145: return NR_readv;
	case 146: return NR_writev;
	case 180: return NR_pread64;
	case 181: return NR_pwrite64;
	case 182: return NR_chown;		/* 16-bit ids */
	case 187: return NR_sendfile;
	case 193: return NR_truncate;		/* truncate64 */
	case 194: return NR_ftruncate;		/* ftruncate64 */
	case 198: return NR_lchown;		/* lchown32 */
	case 207: return NR_fchown;		/* fchown32 */
	case 212: return NR_chown;		/* chown32 */
	case 226: return NR_setxattr;
	case 227: return NR_lsetxattr;
	case 228: return NR_fsetxattr;
	case 235: return NR_removexattr;
	case 236: return NR_lremovexattr;
	case 237: return NR_fremovexattr;
	case 239: return NR_sendfile;		/* sendfile64 */
	case 271: return NR_utimes;
	case 295: return NR_openat;
	case 298: return NR_fchownat;
	case 299: return NR_futimesat;
	case 301: return NR_unlinkat;
	case 302: return NR_renameat;
	case 303: return NR_linkat;
	case 304: return NR_symlinkat;
	case 306: return NR_fchmodat;
	case 313: return NR_splice;
	case 320: return NR_utimensat;
	case 324: return NR_fallocate;
	case 330: return NR_dup3;
	case 333: return NR_preadv;
	case 334: return NR_pwritev;
	case 337: return NR_recvmmsg;
	case 345: return NR_sendmmsg;
	case 353: return NR_renameat2;
	case 364: return NR_accept4;
	case 369: return NR_sendto;
	case 370: return NR_sendmsg;
	case 371: return NR_recvfrom;
	case 372: return NR_recvmsg;
	case 377: return NR_copy_file_range;
	case 378: return NR_preadv2;
	case 379: return NR_pwritev2;
	case 412: return NR_utimensat;		/* utimensat_time64 */
	case 417: return NR_recvmmsg;		/* recvmmsg_time64 */
	case 425: return NR_io_uring_setup;
	case 436: return NR_close_range;
	case 437: return NR_openat2;
	case 452: return NR_fchmodat2;
	}
	return -1;
}
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
 * The native call an arm EABI call number (arch/arm/tools/syscall.tbl) stands for, as far
 * as kflowd looks at it, or -1; the calls arm64 lacks have the stand-in numbers above.
 */
static __always_inline long compat_nr(long id)
{
	switch (id) {
	case 3: return NR_read;
	case 4: return NR_write;
	case 5: return NR_open;
	case 6: return NR_close;
	case 8: return NR_creat;
	case 9: return NR_link;
	case 10: return NR_unlink;
	case 15: return NR_chmod;
	case 16: return NR_lchown;		/* 16-bit ids */
	case 38: return NR_rename;
	case 63: return NR_dup2;
	case 83: return NR_symlink;
	case 92: return NR_truncate;
	case 93: return NR_ftruncate;
	case 94: return NR_fchmod;
	case 95: return NR_fchown;		/* 16-bit ids */
	case 145: return NR_readv;
	case 146: return NR_writev;
	case 180: return NR_pread64;
	case 181: return NR_pwrite64;
	case 182: return NR_chown;		/* 16-bit ids */
	case 187: return NR_sendfile;
	case 193: return NR_truncate;		/* truncate64 */
	case 194: return NR_ftruncate;		/* ftruncate64 */
	case 198: return NR_lchown;		/* lchown32 */
	case 207: return NR_fchown;		/* fchown32 */
	case 212: return NR_chown;		/* chown32 */
	case 226: return NR_setxattr;
	case 227: return NR_lsetxattr;
	case 228: return NR_fsetxattr;
	case 235: return NR_removexattr;
	case 236: return NR_lremovexattr;
	case 237: return NR_fremovexattr;
	case 239: return NR_sendfile;		/* sendfile64 */
	case 269: return NR_utimes;
	case 285: return NR_accept;
	case 289: return NR_COMPAT_SEND;
	case 290: return NR_sendto;
	case 291: return NR_COMPAT_RECV;
	case 292: return NR_recvfrom;
	case 296: return NR_sendmsg;
	case 297: return NR_recvmsg;
	case 322: return NR_openat;
	case 325: return NR_fchownat;
	case 326: return NR_futimesat;
	case 328: return NR_unlinkat;
	case 329: return NR_renameat;
	case 330: return NR_linkat;
	case 331: return NR_symlinkat;
	case 333: return NR_fchmodat;
	case 340: return NR_splice;
	case 348: return NR_utimensat;
	case 352: return NR_fallocate;
	case 358: return NR_dup3;
	case 361: return NR_preadv;
	case 362: return NR_pwritev;
	case 365: return NR_recvmmsg;
	case 366: return NR_accept4;
	case 374: return NR_sendmmsg;
	case 382: return NR_renameat2;
	case 391: return NR_copy_file_range;
	case 392: return NR_preadv2;
	case 393: return NR_pwritev2;
	case 412: return NR_utimensat;		/* utimensat_time64 */
	case 417: return NR_recvmmsg;		/* recvmmsg_time64 */
	case 425: return NR_io_uring_setup;
	case 436: return NR_close_range;
	case 437: return NR_openat2;
	case 452: return NR_fchmodat2;
	}
	return -1;
}
#else
#error "kflowd supports __TARGET_ARCH_x86 and __TARGET_ARCH_arm64"
#endif

/*
 * Argument n of the syscall at regs, in code with a pt_regs *regs and a constant bool
 * compat: a 32-bit program's (where its ABI keeps it) or a native one's.
 */
#define ARG(n) (compat ? (__u64)COMPAT_ARG##n(regs) : (__u64)SYSCALL_ARG##n(regs))

#endif /* KFLOWD_SYSCALLS_BPF_H */
