/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Syscall numbers and argument registers of the raw syscall tracepoints, per
 * architecture. tp_btf/sys_enter and sys_exit hand us the user's struct pt_regs.
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
/* the syscall number survives in orig_ax; the arguments stay in their registers */
#define SYSCALL_NR(regs) BPF_CORE_READ(regs, orig_ax)
#define SYSCALL_ARG1(regs) BPF_CORE_READ(regs, di)
#define SYSCALL_ARG2(regs) BPF_CORE_READ(regs, si)
#define SYSCALL_ARG3(regs) BPF_CORE_READ(regs, dx)
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
/* numbers no syscall has, so that shared switch statements stay valid */
#define NR_open (-1001)
#define NR_creat (-1002)
#define NR_dup2 (-1003)
/* x0 carries the return value at exit; the first argument is kept in orig_x0 */
#define SYSCALL_NR(regs) BPF_CORE_READ(regs, syscallno)
#define SYSCALL_ARG1(regs) BPF_CORE_READ(regs, orig_x0)
#define SYSCALL_ARG2(regs) BPF_CORE_READ(regs, regs[1])
#define SYSCALL_ARG3(regs) BPF_CORE_READ(regs, regs[2])
#else
#error "kflowd supports __TARGET_ARCH_x86 and __TARGET_ARCH_arm64"
#endif

#endif /* KFLOWD_SYSCALLS_BPF_H */
