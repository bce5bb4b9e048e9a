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
#else
#error "kflowd supports __TARGET_ARCH_x86 and __TARGET_ARCH_arm64"
#endif

#endif /* KFLOWD_SYSCALLS_BPF_H */
