/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Application messages (DNS, HTTP, SYSLOG): at the exit of a send or receive syscall on
 * a socket of a configured (protocol, port) - or a UNIX datagram socket of the system
 * log - the first cfg.app_cap bytes of the message are copied from the caller's buffers
 * (gathering iovecs) into a ring record of their own. The agent attaches them to the
 * socket's record. Decoding is the agent's job; the kernel only copies bytes.
 */
#ifndef KFLOWD_APP_BPF_H
#define KFLOWD_APP_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include "records.h"
#include "maps.bpf.h"
#include "scratch.bpf.h"
#include "sock.bpf.h"
#include "syscalls.bpf.h"

#define SYSLOG_PATH_MAX 32

/* A 32-bit program's struct iovec, msghdr and mmsghdr (include/linux/compat.h, socket.h) */
struct compat_iovec___kf {
	__u32 iov_base;
	__u32 iov_len;
};

struct compat_msghdr___kf {
	__u32 msg_name;
	__u32 msg_namelen;
	__u32 msg_iov;
	__u32 msg_iovlen;
	__u32 msg_control;
	__u32 msg_controllen;
	__u32 msg_flags;
};

struct compat_mmsghdr___kf {
	struct compat_msghdr___kf msg_hdr;
	__u32 msg_len;
};

struct app_scratch {
	/* the gather offset lives in map memory, re-read every iteration (see path.bpf.h) */
	__u32 off;
	__u32 pad;
	/* the caller's msghdr, and a UNIX address: here, not on app_capture()'s stack */
	union {
		struct user_msghdr msg;
		struct compat_msghdr___kf cmsg;
	};
	__u64 path[SYSLOG_PATH_MAX / 8];
	struct rec_app rec;
	/* room for one more iovec at any masked offset */
	char slack[REC_APP_CAP];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, REC_SCRATCH_SLOTS);
	__type(key, __u32);
	__type(value, struct app_scratch);
} app_scratch SEC(".maps");

/* The configured application of an inet socket with ports lport/rport, or APP_NONE. */
static __always_inline __u32 app_of_ports(__u32 proto, __u16 lport, __u16 rport)
{
	for (int i = 0; i < APP_PORTS_MAX; i++) {
		if (i >= cfg.napp_ports)
			break;
		if (cfg.app_ports[i].proto == proto &&
		    (cfg.app_ports[i].port == lport || cfg.app_ports[i].port == rport))
			return cfg.app_ports[i].app;
	}
	return APP_NONE;
}

/*
 * Whether a message on the inet socket sk (protocol proto) can be an application's: one
 * of its ports is configured, or it has no peer port (an unconnected UDP socket, whose
 * peer app_capture() takes from the call's address or the socket's record). Most traffic
 * is no application's; this decides before app_capture() reads anything else.
 */
static __always_inline bool app_port_possible(struct sock *sk, __u32 proto)
{
	__u16 rport;

	if (!cfg.napp_ports)
		return false;
	rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	return !rport || app_of_ports(proto, BPF_CORE_READ(sk, __sk_common.skc_num), rport) != APP_NONE;
}

/*
 * Whether a sun_path (32 bytes, NUL-padded) names the system log: "/dev/log" or
 * "/run/systemd/journal/dev-log", compared as little-endian words (string constants
 * would land in .rodata, which holds only struct kf_config).
 */
static __always_inline bool syslog_path(const __u64 *w)
{
	/* up to and including the terminating NUL: what follows it may be anything */
	if (w[0] == 0x676f6c2f7665642fULL && (w[1] & 0xff) == 0)
		return true;
	return w[0] == 0x7379732f6e75722fULL && w[1] == 0x756f6a2f646d6574ULL && w[2] == 0x7665642f6c616e72ULL &&
	       (w[3] & 0xffffffffffULL) == 0x676f6c2dULL;
}

/* The port in a user sockaddr_in/in6 (same offset in both), 0 if none. */
static __always_inline __u16 sockaddr_port(const void *uaddr)
{
	__u16 port = 0;

	if (uaddr)
		bpf_probe_read_user(&port, sizeof(port), (const char *)uaddr + 2);
	return bpf_ntohs(port);
}

/* bytes captured per message: masks below keep every copy inside the record */
static __always_inline __u32 app_cap(void)
{
	return cfg.app_cap < REC_APP_CAP ? cfg.app_cap : REC_APP_CAP - 1;
}

/*
 * Copies up to app_cap() bytes from n iovecs (user memory; of a 32-bit program: compat)
 * into s->rec.data, and never more than the moved bytes: a receive buffer is often far
 * larger than the message, and reading past what the kernel wrote can reach a page not
 * yet mapped, which fails the whole copy (zeros) or, where mapped, captures stale bytes
 * as part of the message.
 */
static __noinline void app_gather(struct app_scratch *s, const void *iov, __u32 n, __u32 moved, bool compat)
{
	__u32 cap = app_cap() < moved ? app_cap() : moved;

	s->off = 0;
	/* a native struct iovec is two u64, a compat one two u32 (one u64 here) */
	__u32 size = compat ? sizeof(struct compat_iovec___kf) : sizeof(struct iovec);

	for (int i = 0; i < APP_IOV_MAX; i++) {
		__u64 v[2] = {};
		__u64 base, vlen;
		__u32 off = s->off, len;

		if (i >= n || off >= cap)
			break;
		if (bpf_probe_read_user(v, size & 31, (const char *)iov + i * size))
			break;
		base = compat ? (__u32)v[0] : v[0];
		vlen = compat ? v[0] >> 32 : v[1];
		len = vlen < cap - off ? vlen : cap - off;
		/* both masks keep the values (off + len <= cap < REC_APP_CAP): the verifier needs them */
		bpf_probe_read_user(s->rec.data + (off & (REC_APP_CAP - 1)), len & (REC_APP_CAP - 1), (void *)base);
		s->off = off + len;
	}
}

/* Copies up to app_cap() bytes of one user buffer into s->rec.data. */
static __always_inline void app_copy(struct app_scratch *s, const void *buf, long ret)
{
	__u32 cap = app_cap();
	__u32 len = ret < cap ? ret : cap;

	bpf_probe_read_user(s->rec.data, len & (REC_APP_CAP - 1), buf);
	s->off = len;
}

/*
 * The syscall's user arguments app capture reads: ubuf is argument 2 (the buffer, the
 * iovec array or the msghdr), uaux argument 3 of readv/writev (the iovec count) or
 * argument 5 of sendto/recvfrom (the address), else 0.
 */
struct app_args {
	__u64 ubuf;
	__u64 uaux;
	/* a 32-bit program's call: its iovecs and msghdrs have the compat layout */
	bool compat;
};

/*
 * The exit of a send or receive syscall nr that moved ret bytes on socket file f (sk):
 * capture the message if it belongs to a configured application.
 */
static __noinline void app_capture(const struct app_args *a, long nr, struct file *f, struct sock *sk, long ret)
{
	struct app_scratch *s = SCRATCH(app_scratch);
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	bool rx = nr == NR_read || nr == NR_readv || nr == NR_recvfrom || nr == NR_recvmsg || nr == NR_recvmmsg;
	const void *buf = NULL;
	const void *uaddr = NULL;
	const void *iov = NULL;
	__u32 niov = 0, app = APP_NONE;
	__u64 key;
	__u32 size;

	if (!s)
		return;
	/* where the bytes are: one buffer, an iovec array, or a msghdr's */
	switch (nr) {
	case NR_read:
	case NR_write:
	case NR_sendto:
	case NR_recvfrom:
		buf = (void *)a->ubuf;
		if (nr == NR_sendto || nr == NR_recvfrom)
			uaddr = (void *)a->uaux;
		break;
	case NR_readv:
	case NR_writev:
		iov = (void *)a->ubuf;
		niov = a->uaux;
		break;
	case NR_sendmsg:
	case NR_recvmsg:
	case NR_sendmmsg:
	case NR_recvmmsg: {
		/* of sendmmsg/recvmmsg, the first message (struct mmsghdr starts with its msghdr) */
		struct mmsghdr *mm = (void *)a->ubuf;

		if (a->compat) {
			struct compat_mmsghdr___kf *cm = (void *)a->ubuf;

			if (bpf_probe_read_user(&s->cmsg, sizeof(s->cmsg), &cm->msg_hdr))
				return;
			if (nr == NR_sendmmsg || nr == NR_recvmmsg) {
				__u32 mlen = 0;

				bpf_probe_read_user(&mlen, sizeof(mlen), &cm->msg_len);
				ret = mlen;
			}
			iov = (void *)(unsigned long)s->cmsg.msg_iov;
			niov = s->cmsg.msg_iovlen;
			uaddr = (void *)(unsigned long)s->cmsg.msg_name;
			break;
		}
		if (bpf_probe_read_user(&s->msg, sizeof(s->msg), &mm->msg_hdr))
			return;
		if (nr == NR_sendmmsg || nr == NR_recvmmsg) {
			__u32 mlen = 0;

			bpf_probe_read_user(&mlen, sizeof(mlen), &mm->msg_len);
			ret = mlen;
		}
		iov = s->msg.msg_iov;
		niov = s->msg.msg_iovlen;
		uaddr = s->msg.msg_name;
		break;
	}
	default:
		return;
	}
	if (ret <= 0)
		return;

	if (family == AF_UNIX) {
		struct unix_sock *us = (void *)sk;
		struct unix_address *addr = BPF_CORE_READ(us, addr);

		if (!cfg.app_unix_syslog || BPF_CORE_READ(sk, sk_type) != 2 /* SOCK_DGRAM */)
			return;
		__builtin_memset(s->path, 0, sizeof(s->path));
		/*
		 * the sender names the log by connect() (the peer) or by sendto() (uaddr); a
		 * receiver's uaddr is the sender's address (recvfrom, recvmsg with msg_name),
		 * so a receiver is the log by its own address only
		 */
		if (uaddr && !rx) {
			bpf_probe_read_user(s->path, sizeof(s->path), (const char *)uaddr + 2);
		} else {
			struct unix_sock *peer = (void *)BPF_CORE_READ(us, peer);

			/* a sender's log is its peer; a receiver (the log daemon) is the log */
			if (!rx && peer)
				addr = BPF_CORE_READ(peer, addr);
			if (addr)
				bpf_probe_read_kernel(s->path, sizeof(s->path), &addr->name[0].sun_path);
		}
		if (!syslog_path(s->path))
			return;
		app = APP_SYSLOG;
		key = unix_key(f);
	} else {
		__u32 proto = BPF_CORE_READ(sk, sk_protocol);
		__u16 lport = BPF_CORE_READ(sk, __sk_common.skc_num);
		__u16 rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));

		key = sk_cookie(sk);
		if (!rport)
			rport = sockaddr_port(uaddr);
		/* an unconnected UDP socket receiving without asking for the address: its peer so far */
		if (!rport) {
			struct rec_sock *rec = bpf_map_lookup_elem(&socks, &key);

			if (rec)
				rport = rec->rport;
		}
		app = app_of_ports(proto, lport, rport);
		if (app == APP_NONE)
			return;
	}

	if (iov)
		app_gather(s, iov, niov, ret < REC_APP_CAP ? ret : REC_APP_CAP, a->compat);
	else
		app_copy(s, buf, ret);
	s->rec.hdr.type = REC_TYPE_APP;
	s->rec.hdr.version = REC_VERSION;
	s->rec.hdr.ts_ns = bpf_ktime_get_ns();
	s->rec.sock_key = key;
	s->rec.pid = bpf_get_current_pid_tgid() >> 32;
	s->rec.len = ret;
	s->rec.cap_len = s->off;
	s->rec.rx = rx;
	s->rec.app = app;
	s->rec.pad = 0;
	size = offsetof(struct rec_app, data) + (s->off & (REC_APP_CAP - 1));
	s->rec.hdr.size = size;
	if (bpf_ringbuf_output(&ring, &s->rec, size, BPF_RB_NO_WAKEUP))
		stat_inc(STAT_APP_LOST);
}

#endif /* KFLOWD_APP_BPF_H */
