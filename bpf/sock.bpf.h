/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Socket aggregation: one struct rec_sock per socket in map "socks". TCP and UDP are
 * counted per packet by cgroup_skb on the cgroup v2 root and keyed by socket cookie; the
 * owning process comes from process-context hooks (sock_create, connect, accept), never
 * from whatever task a packet interrupts. UNIX sockets have no packet layer and are
 * counted at the syscalls that move their bytes.
 */
#ifndef KFLOWD_SOCK_BPF_H
#define KFLOWD_SOCK_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include "records.h"
#include "maps.bpf.h"
#include "task.bpf.h"
#include "fs.bpf.h"

#define AF_UNIX 1
#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define TCP_CLOSE 7
#define TCP_LISTEN 10
#define SOCK_RAW 3
#define S_IFSOCK 0140000

/* an all-zero record to insert: too large to clear with memset in BPF */
const struct rec_sock sock_zero SEC(".rodata.zero") = {};

/*
 * Inserts a zeroed record for key, first seen now; the record of key, whoever inserted
 * it, or NULL when the map is full.
 */
static __always_inline struct rec_sock *sock_insert(__u64 key, __u64 now)
{
	struct rec_sock *s;

	if (bpf_map_update_elem(&socks, &key, &sock_zero, BPF_NOEXIST)) {
		/* another CPU inserted it first, or the map is full */
		s = bpf_map_lookup_elem(&socks, &key);
		if (!s)
			stat_inc(STAT_SOCK_MAP_FULL);
		return s;
	}
	s = bpf_map_lookup_elem(&socks, &key);
	if (!s)
		return NULL;
	s->hdr.type = REC_TYPE_SOCK;
	s->hdr.version = REC_VERSION;
	s->hdr.ts_ns = now;
	s->ts_first_ns = now;
	s->key = key;
	return s;
}

/*
 * The record of key, created (zeroed, first seen now) if it does not exist yet; now 0:
 * the clock is read only if it is created (a kvm-clock read is ~30 ns on this VM).
 */
static __noinline struct rec_sock *sock_get(__u64 key, __u64 now)
{
	struct rec_sock *s = bpf_map_lookup_elem(&socks, &key);

	if (s)
		return s;
	return sock_insert(key, now ? now : bpf_ktime_get_ns());
}

/*
 * The same for a socket whose cookie was made just now (a new socket, an accepted
 * child): its record rarely exists, so the insert comes first, without a lookup before
 * it (two map operations instead of three).
 */
static __noinline struct rec_sock *sock_new(__u64 key, __u64 now)
{
	return sock_insert(key, now);
}

/*
 * Owners of sockets open before the start whose cookie nobody had asked for yet (the
 * iterator cannot make one: it reaches the socket through a walked pointer, which some
 * kernels, e.g. 6.18.44, mark untrusted for bpf_get_socket_cookie). Keyed by the struct
 * sock address; the socket's first packet after the start makes its record and takes
 * the owner from here (sock_take_waiting_owner). Memory only for entries in use; 4096
 * of them (~1 KiB each) keep every map full within the 64 MiB of DESIGN.md.
 */
struct sock_waiting_owner {
	struct rec_task task;
	__u16 lport; /* host order: checked against the packet's socket */
	__u16 rport;
	__u8 proto;
	__u8 pad[3];
	char tail[REC_SOCK_TAIL];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct sock_waiting_owner);
} sock_waiting_owners SEC(".maps");

const struct sock_waiting_owner waiting_owner_zero SEC(".rodata.zero") = {};

/* The current task owns s: kept unless final is set by a stronger claim already. */
static __always_inline void sock_owner(struct rec_sock *s, bool final)
{
	if (s->flags & SOCK_FLAG_OWNER_FINAL)
		return;
	if (s->task.pid && !final)
		return;
	task_identity(&s->task, s->tail);
	if (final)
		s->flags |= SOCK_FLAG_OWNER_FINAL;
}

/*
 * The current task owns s, a stronger claim than its creation (connect, accept): its
 * identity is kept if the same thread of the same program made the record (sock_create
 * read it moments ago; the name tells an exec in between), else read again.
 */
static __always_inline void sock_owner_final(struct rec_sock *s)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	char comm[sizeof(s->task.comm)];

	if (s->flags & SOCK_FLAG_OWNER_FINAL)
		return;
	_Static_assert(sizeof(s->task.comm) == 16, "comm compared as two words");
	if (s->task.pid == pid_tgid >> 32 && s->task.tid == (__u32)pid_tgid &&
	    !bpf_get_current_comm(comm, sizeof(comm)) && *(__u64 *)comm == *(__u64 *)s->task.comm &&
	    *(__u64 *)(comm + 8) == *(__u64 *)(s->task.comm + 8)) {
		s->flags |= SOCK_FLAG_OWNER_FINAL;
		return;
	}
	sock_owner(s, true);
}

/* Bytes of the record up to the end of the exe names. */
static __always_inline __u32 sock_size(struct rec_sock *s)
{
	__u32 size = offsetof(struct rec_sock, tail) + s->task.exe_len + s->task.parent_exe_len;

	return size > sizeof(*s) ? sizeof(*s) : size;
}

/*
 * The socket closed: hands its record to the ring buffer (if it saw traffic) and forgets
 * it; with the ring full the record stays in the map, marked unsent, for the agent.
 */
static __always_inline void sock_export(struct rec_sock *s, __u64 key)
{
	__u32 size = sock_size(s);

	if ((s->tx.packets || s->rx.packets) && !(s->flags & SOCK_FLAG_AGENT)) {
		s->hdr.size = size;
		s->flags |= SOCK_FLAG_CLOSED;
		if (bpf_ringbuf_output(&ring, s, size, BPF_RB_NO_WAKEUP)) {
			s->flags |= SOCK_FLAG_UNSENT;
			stat_inc(STAT_DEFERRED);
			return;
		}
		stat_inc(STAT_SOCK_RECORDS);
	}
	bpf_map_delete_elem(&socks, &key);
}

static __always_inline void sock_dir_count(struct rec_sock_dir *d, __u64 now, __u32 segs, __u32 payload)
{
	d->packets += segs;
	if (payload)
		d->data_packets += segs;
	d->bytes += payload;
	if (!d->ts_first_ns)
		d->ts_first_ns = now;
	d->ts_last_ns = now;
}

static __always_inline void sock_dir_flags(struct rec_sock_dir *d, __u32 mask, __u32 n)
{
	mask &= REC_TCP_FLAG_COMBOS - 1;
	if (!d->flag_counts[mask]) {
		__u32 i = d->nflags;

		if (i < REC_TCP_FLAG_COMBOS) {
			d->flag_order[i & (REC_TCP_FLAG_COMBOS - 1)] = mask;
			d->nflags = i + 1;
		}
	}
	d->flag_counts[mask] += n;
}

/* Address, ports and family of an inet socket, as the socket itself has them. */
static __always_inline void sock_fill_inet(struct rec_sock *s, struct bpf_sock *sk)
{
	s->family = sk->family;
	s->proto = sk->protocol;
	s->type = sk->type;
	s->lport = sk->src_port;
	s->rport = bpf_ntohs(sk->dst_port);
	if (sk->family == AF_INET) {
		__builtin_memcpy(s->laddr, &sk->src_ip4, 4);
		__builtin_memcpy(s->raddr, &sk->dst_ip4, 4);
	} else {
		__u32 a;

		a = sk->src_ip6[0];
		__builtin_memcpy(s->laddr, &a, 4);
		a = sk->src_ip6[1];
		__builtin_memcpy(s->laddr + 4, &a, 4);
		a = sk->src_ip6[2];
		__builtin_memcpy(s->laddr + 8, &a, 4);
		a = sk->src_ip6[3];
		__builtin_memcpy(s->laddr + 12, &a, 4);
		a = sk->dst_ip6[0];
		__builtin_memcpy(s->raddr, &a, 4);
		a = sk->dst_ip6[1];
		__builtin_memcpy(s->raddr + 4, &a, 4);
		a = sk->dst_ip6[2];
		__builtin_memcpy(s->raddr + 8, &a, 4);
		a = sk->dst_ip6[3];
		__builtin_memcpy(s->raddr + 12, &a, 4);
	}
}

/* TCP header flag bits as pkt_parse() keeps them (byte 13: FIN 1, SYN 2, RST 4, ...) */
#define PKT_TCP_RST 0x04
/* sk_shutdown once shut down both ways (RCV_SHUTDOWN | SEND_SHUTDOWN) */
#define SHUTDOWN_MASK 3

struct pkt_info {
	__u32 payload;
	__u32 tcp_flags;
	__u32 ttl;
	__u16 sport;
	__u16 dport;
	__u16 ipid;  /* IPv4 identification (network order) */
	__u8 family; /* AF_INET, AF_INET6 */
	__u8 pad;
	__u8 saddr[16];
	__u8 daddr[16];
};

static __always_inline void pkt_ip4(struct pkt_info *p, const struct iphdr *ip)
{
	p->ttl = ip->ttl;
	p->ipid = ip->id;
	p->family = AF_INET;
	__builtin_memcpy(p->saddr, &ip->saddr, 4);
	__builtin_memcpy(p->daddr, &ip->daddr, 4);
}

static __always_inline void pkt_ip6(struct pkt_info *p, const struct ipv6hdr *ip6)
{
	p->ttl = ip6->hop_limit;
	p->family = AF_INET6;
	__builtin_memcpy(p->saddr, &ip6->saddr, 16);
	__builtin_memcpy(p->daddr, &ip6->daddr, 16);
}

/* Whether a record's address (16 bytes, IPv4 in the first 4) is all zero. */
static __always_inline bool addr_unspecified(const __u8 *a)
{
	return *(const __u64 *)a == 0 && *(const __u64 *)(a + 8) == 0;
}

/*
 * An address of packet p (src: its saddr or daddr) into dst, an address of record s: an
 * IPv4 packet of an IPv6 socket (dual stack) as the IPv4-mapped address ::ffff:a.b.c.d.
 */
static __always_inline void sock_addr_of_pkt(const struct rec_sock *s, __u8 *dst, const struct pkt_info *p,
					     const __u8 *src)
{
	if (s->family == AF_INET6 && p->family == AF_INET) {
		__builtin_memset(dst, 0, 10);
		dst[10] = 0xff;
		dst[11] = 0xff;
		__builtin_memcpy(dst + 12, src, 4);
	} else {
		__builtin_memcpy(dst, src, 16);
	}
}

/* bytes of a TCP or UDP header pkt_l4() reads: up to the TCP flags */
#define PKT_L4_BYTES 14
#define UDP_HEADER_LEN 8

/*
 * The TCP or UDP header h at offset l4 of a packet of len bytes: ports, TCP flags (byte
 * 13) and data offset (byte 12), payload length.
 */
static __always_inline void pkt_l4(struct pkt_info *p, __u32 proto, const __u8 *h, __u32 l4, __u32 len)
{
	p->sport = ((__u32)h[0] << 8) | h[1];
	p->dport = ((__u32)h[2] << 8) | h[3];
	if (proto == IPPROTO_TCP) {
		p->tcp_flags = h[13] & (REC_TCP_FLAG_COMBOS - 1);
		l4 += (h[12] >> 4) * 4;
	} else {
		l4 += UDP_HEADER_LEN;
	}
	p->payload = len > l4 ? len - l4 : 0;
}

/*
 * Parses the IP and TCP/UDP headers at the start of skb (cgroup_skb sees L3 data) in
 * place, without a helper call: 0, -1 if it is no IP packet, 1 if the headers are not
 * all in the skb's linear part.
 */
static __always_inline int pkt_parse_direct(struct __sk_buff *skb, __u32 proto, struct pkt_info *p)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	__u8 *h;
	__u32 l4;

	if (data + sizeof(struct ipv6hdr) > end)
		return 1;
	if ((*(__u8 *)data >> 4) == 4) {
		struct iphdr *ip = data;

		l4 = (ip->ihl & 0xf) * 4;
		pkt_ip4(p, ip);
	} else if ((*(__u8 *)data >> 4) == 6) {
		/* extension headers are not walked: TCP and UDP follow directly in practice */
		l4 = sizeof(struct ipv6hdr);
		pkt_ip6(p, data);
	} else {
		return -1;
	}
	h = data + l4;
	/* a UDP datagram with less than 6 bytes of payload takes the copy */
	if ((void *)h + PKT_L4_BYTES > end)
		return 1;
	pkt_l4(p, proto, h, l4, skb->len);
	return 0;
}

/* The same by copying the headers out of the skb, wherever they are. */
static __always_inline int pkt_parse_copy(struct __sk_buff *skb, __u32 proto, struct pkt_info *p)
{
	__u8 vhl, h[PKT_L4_BYTES] = {};
	__u32 l4;

	if (bpf_skb_load_bytes(skb, 0, &vhl, 1))
		return -1;
	if ((vhl >> 4) == 4) {
		struct iphdr ip;

		if (bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip)))
			return -1;
		l4 = (ip.ihl & 0xf) * 4;
		pkt_ip4(p, &ip);
	} else if ((vhl >> 4) == 6) {
		struct ipv6hdr ip6;

		if (bpf_skb_load_bytes(skb, 0, &ip6, sizeof(ip6)))
			return -1;
		l4 = sizeof(ip6);
		pkt_ip6(p, &ip6);
	} else {
		return -1;
	}
	/* UDP: the ports are all pkt_l4() reads */
	if (bpf_skb_load_bytes(skb, l4, h, proto == IPPROTO_TCP ? PKT_L4_BYTES : 4))
		return -1;
	pkt_l4(p, proto, h, l4, skb->len);
	return 0;
}

static __always_inline int pkt_parse(struct __sk_buff *skb, __u32 proto, struct pkt_info *p)
{
	int r = pkt_parse_direct(skb, proto, p);

	return r > 0 ? pkt_parse_copy(skb, proto, p) : r;
}

/*
 * IP fragments. cgroup_skb sees a datagram only once the kernel reassembled it, so the
 * fragments are counted where every received packet passes first (netif_receive_skb),
 * keyed by what the reassembled datagram still shows: addresses, protocol and, for IPv4,
 * the identification (IPv6 drops its fragment header with the identification in it).
 * The datagram's socket takes the count when it arrives.
 */
struct frag_key {
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 ipid; /* IPv4 identification, 0 for IPv6 */
	__u8 family;
	__u8 proto;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, struct frag_key);
	__type(value, __u32);
} frags SEC(".maps");

/*
 * when the last fragment arrived: a datagram is reassembled as its last fragment
 * arrives, so packets further from one than this skip the lookup
 */
__u64 frag_last_ns;
#define FRAG_WINDOW_NS 1000000000LL

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define IP_MF_OFFSET 0x3fff /* more-fragments flag and fragment offset */
#define IPV6_FRAGMENT 44    /* next header: fragment header */

/* A packet arrived at an interface (softirq): counts it if it is an IP fragment. */
static __always_inline void frag_count(struct sk_buff *skb)
{
	struct frag_key k = {};
	__u16 proto = bpf_ntohs(skb->protocol);
	void *data = skb->data;
	__u32 *n;

	/* every packet passes here: one 2-byte read tells all but fragments to go */
	if (proto == ETH_P_IP) {
		struct iphdr ip;
		__be16 frag_off;

		if (bpf_probe_read_kernel(&frag_off, sizeof(frag_off), data + offsetof(struct iphdr, frag_off)) ||
		    !(bpf_ntohs(frag_off) & IP_MF_OFFSET) || bpf_probe_read_kernel(&ip, sizeof(ip), data))
			return;
		k.family = AF_INET;
		k.proto = ip.protocol;
		k.ipid = ip.id;
		__builtin_memcpy(k.saddr, &ip.saddr, 4);
		__builtin_memcpy(k.daddr, &ip.daddr, 4);
	} else if (proto == ETH_P_IPV6) {
		struct ipv6hdr ip6;
		struct frag_hdr fh;
		__u8 next;

		/* the fragment header right after the fixed one, as Linux and others send it */
		if (bpf_probe_read_kernel(&next, 1, data + offsetof(struct ipv6hdr, nexthdr)) ||
		    next != IPV6_FRAGMENT || bpf_probe_read_kernel(&ip6, sizeof(ip6), data) ||
		    bpf_probe_read_kernel(&fh, sizeof(fh), data + sizeof(ip6)))
			return;
		k.family = AF_INET6;
		k.proto = fh.nexthdr;
		__builtin_memcpy(k.saddr, &ip6.saddr, 16);
		__builtin_memcpy(k.daddr, &ip6.daddr, 16);
	} else {
		return;
	}
	n = bpf_map_lookup_elem(&frags, &k);
	if (n) {
		__sync_fetch_and_add(n, 1);
	} else {
		__u32 one = 1;

		bpf_map_update_elem(&frags, &k, &one, BPF_ANY);
	}
	frag_last_ns = bpf_ktime_get_ns();
}

/* A datagram reached its socket: the fragments it was reassembled from, if any. */
static __always_inline __u32 frag_take(const struct pkt_info *p, __u8 proto, __u64 now)
{
	struct frag_key k = {};
	__u32 *n, got;

	if ((__s64)(now - frag_last_ns) > FRAG_WINDOW_NS)
		return 0;
	k.family = p->family;
	k.proto = proto;
	if (p->family == AF_INET) {
		k.ipid = p->ipid;
		__builtin_memcpy(k.saddr, p->saddr, 4);
		__builtin_memcpy(k.daddr, p->daddr, 4);
	} else {
		__builtin_memcpy(k.saddr, p->saddr, 16);
		__builtin_memcpy(k.daddr, p->daddr, 16);
	}
	n = bpf_map_lookup_elem(&frags, &k);
	if (!n)
		return 0;
	got = *n;
	bpf_map_delete_elem(&frags, &k);
	return got;
}

/*
 * The role of a socket that was open before the agent, which saw neither its connect nor
 * its accept: a TCP socket with a local port below the kernel's default ephemeral range
 * talking to one inside it is taken to be a server; a UDP socket bound to a port with no
 * peer of its own is marked bound (its first packet received then makes it a server).
 */
#define EPHEMERAL_PORT_LOW 32768

static __always_inline void sock_guess_role(struct rec_sock *s, __u16 proto, __u16 lport, __u16 rport)
{
	if (proto == IPPROTO_TCP && !s->role)
		s->role =
			lport < EPHEMERAL_PORT_LOW && rport >= EPHEMERAL_PORT_LOW ? SOCK_ROLE_SERVER : SOCK_ROLE_CLIENT;
	if (proto == IPPROTO_UDP && lport && !rport)
		s->flags |= SOCK_FLAG_BOUND;
}

/*
 * A record just made for a packet of sk without an owner: the socket was open before the
 * start; the iterator may have left its owner waiting (same protocol and local port, so
 * a struct sock reused by a socket of its own is not taken for it).
 */
static __always_inline void sock_take_waiting_owner(struct rec_sock *s, struct bpf_sock *sk)
{
	__u64 addr = (__u64)(long)sk;
	struct sock_waiting_owner *o = bpf_map_lookup_elem(&sock_waiting_owners, &addr);

	if (!o)
		return;
	if (o->proto == s->proto && o->lport == s->lport && !s->task.pid) {
		s->task = o->task;
		__builtin_memcpy(s->tail, o->tail, sizeof(s->tail));
		sock_guess_role(s, o->proto, o->lport, o->rport);
	}
	bpf_map_delete_elem(&sock_waiting_owners, &addr);
}

/* cgroup_skb: one packet of a TCP or UDP socket, sent (rx false) or received. */
static __always_inline void sock_packet(struct __sk_buff *skb, bool rx)
{
	struct pkt_info p = {};
	struct bpf_sock *sk = skb->sk;
	struct rec_sock *s;
	struct rec_sock_dir *d;
	__u64 now, cookie;
	bool created;
	__u32 segs;

	if (!sk)
		return;
	sk = bpf_sk_fullsock(sk);
	/*
	 * Listeners only see handshakes, which the accepted socket accounts for; raw sockets
	 * (the kernel's own, sending RSTs) are not connections.
	 */
	if (!sk || (sk->protocol != IPPROTO_TCP && sk->protocol != IPPROTO_UDP) || sk->state == TCP_LISTEN ||
	    sk->type == SOCK_RAW)
		return;
	if (pkt_parse(skb, sk->protocol, &p))
		return;
	cookie = bpf_get_socket_cookie(skb);
	now = bpf_ktime_get_ns();
	s = bpf_map_lookup_elem(&socks, &cookie);
	/*
	 * A TCP socket already closed has been exported: a reset that close() sends after
	 * the state change (SO_LINGER 0) must not start an ownerless record of its own.
	 */
	if (!s && sk->protocol == IPPROTO_TCP && sk->state == TCP_CLOSE)
		return;
	created = !s;
	if (created)
		s = sock_get(cookie, now);
	if (!s || (s->flags & SOCK_FLAG_AGENT))
		return;
	if (!s->family)
		sock_fill_inet(s, sk);
	if (created && !s->task.pid)
		sock_take_waiting_owner(s, sk);
	/*
	 * No owner (yet): a server's connection not accepted, a socket open before the
	 * start. Its cgroup is the socket's own (its creator's, or the listener's) until a
	 * process claims it; never current's, which a packet merely interrupts.
	 */
	if (!s->task.pid && !s->task.cgroup_id)
		s->task.cgroup_id = bpf_skb_cgroup_id(skb);
	/* an unconnected UDP socket: the peer of its first packet */
	if (!s->rport) {
		s->rport = rx ? p.sport : p.dport;
		sock_addr_of_pkt(s, s->raddr, &p, rx ? p.saddr : p.daddr);
	}
	/* bound to no address (0.0.0.0, ::): the address its packets carry, as kflowd shows it */
	if (s->proto == IPPROTO_UDP && addr_unspecified(s->laddr))
		sock_addr_of_pkt(s, s->laddr, &p, rx ? p.daddr : p.saddr);
	if (!s->role && s->proto == IPPROTO_UDP)
		s->role = rx && (s->flags & SOCK_FLAG_BOUND) ? SOCK_ROLE_SERVER : SOCK_ROLE_CLIENT;
	s->state = sk->state;
	segs = skb->gso_segs > 1 ? skb->gso_segs : 1;
	d = rx ? &s->rx : &s->tx;
	sock_dir_count(d, now, segs, p.payload);
	if (!d->ifindex)
		d->ifindex = skb->ifindex;
	if (rx) {
		d->ttl_sum += (__u64)p.ttl * segs;
		d->ttl_packets += segs;
		d->frags += frag_take(&p, sk->protocol, now);
	}
	if (s->proto == IPPROTO_TCP) {
		sock_dir_flags(d, p.tcp_flags, segs);
		/* RTT samples come with what is received: cheaper here than a sockops RTT callback */
		if (rx) {
			struct bpf_tcp_sock *tp = bpf_tcp_sock(sk);

			if (tp)
				s->srtt_us = tp->srtt_us >> 3;
		}
	}
	s->hdr.ts_ns = now;
	if ((s->flags & SOCK_FLAG_RST_PENDING) && !rx && (p.tcp_flags & PKT_TCP_RST))
		sock_export(s, cookie);
}

/*
 * TCP counters kept by the kernel, loaded straight from the socket: tp is the trusted
 * tcp_sock a tracing program has (bpf_skc_to_tcp_sock of its tp_btf argument), so plain
 * loads (CO-RE relocated) replace a bpf_probe_read_kernel() call per field (16 -> 1
 * helper calls per close).
 */
static __always_inline void sock_tcp_counters(struct rec_sock *s, struct tcp_sock *tp)
{
	struct sock___drops *sd = (void *)tp;

	s->retrans = tp->total_retrans;
	s->dsack_dups = tp->dsack_dups;
	s->bytes_acked = tp->bytes_acked;
	s->bytes_retrans = tp->bytes_retrans;
	s->reorder = tp->reord_seen;
	s->srtt_us = tp->srtt_us >> 3;
	/* the agent read HZ from the kernel's config; a __kconfig extern would fail the load without one */
	if (cfg.hz)
		s->rto_ms = (__u64)tp->inet_conn.icsk_rto * 1000 / cfg.hz;
	else
		s->flags |= SOCK_FLAG_RTO_UNKNOWN;
	s->drops = tp->inet_conn.icsk_inet.sk.sk_drops.counter;
	if (bpf_core_field_exists(sd->sk_drop_counters)) {
		struct numa_drop_counters___kf *c = sd->sk_drop_counters;

		if (c)
			s->drops += c->drops0.counter + c->drops1.counter;
	}
	s->queued = tp->rcv_nxt - tp->copied_seq;
}

/* The cookie of a struct sock, 0 if nobody asked for one yet. */
static __always_inline __u64 sk_cookie(const struct sock *sk)
{
	return BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
}

/*
 * Without the socket iterator (cfg.sock_claim_io): the current task read or wrote the TCP
 * or UDP socket sk (protocol proto), whose record has no owner yet because the socket was
 * open before the agent. It becomes the owner.
 */
static __always_inline void sock_claim(const struct sock *sk, __u16 proto)
{
	__u64 cookie = sk_cookie(sk);
	struct rec_sock *s = cookie ? bpf_map_lookup_elem(&socks, &cookie) : NULL;

	if (!s || s->task.pid || (s->flags & SOCK_FLAG_AGENT))
		return;
	sock_owner(s, false);
	sock_guess_role(s, proto, BPF_CORE_READ(sk, __sk_common.skc_num),
			bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport)));
}

/*
 * A UDP socket was read from (process context): the datagrams it dropped so far (receive
 * queue full, bad checksum) and those still waiting, in the receive queue and in the
 * reader's queue that UDP moves them to in batches.
 */
static __always_inline void sock_udp_counters(const struct sock *sk)
{
	struct udp_sock *up = (void *)sk;
	__u64 cookie = sk_cookie(sk);
	struct rec_sock *s = cookie ? bpf_map_lookup_elem(&socks, &cookie) : NULL;

	if (!s)
		return;
	s->drops = sk_drops(sk);
	s->queued = BPF_CORE_READ(sk, sk_receive_queue.qlen) + BPF_CORE_READ(up, reader_queue.qlen);
}

/*
 * Key of a UNIX socket: the inode number of its socket file, unique while it lives (the
 * struct sock address is reused at once after a free), with the top bit set so that it
 * never equals a cookie.
 */
static __always_inline __u64 unix_key(struct file *f)
{
	return BPF_CORE_READ(f, f_inode, i_ino) | (1ULL << 63);
}

/* A UNIX socket (file f) moved bytes through a syscall of the current task. */
static __always_inline void sock_unix_io(struct file *f, struct sock *sk, long bytes, bool rx)
{
	struct unix_sock *us = (void *)sk;
	struct unix_address *addr;
	struct rec_sock *s;
	__u64 now = bpf_ktime_get_ns();

	s = sock_get(unix_key(f), now);
	if (!s)
		return;
	if (!s->family) {
		s->family = AF_UNIX;
		s->type = BPF_CORE_READ(sk, sk_type);
		s->role = SOCK_ROLE_CLIENT;
		/* its own bound name, else its peer's (a client of a named socket) */
		addr = BPF_CORE_READ(us, addr);
		if (!addr) {
			struct unix_sock *peer = (void *)BPF_CORE_READ(us, peer);

			addr = peer ? BPF_CORE_READ(peer, addr) : NULL;
		}
		if (addr)
			bpf_probe_read_kernel(s->unix_path, sizeof(s->unix_path), &addr->name[0].sun_path);
	}
	sock_owner(s, false);
	sock_dir_count(rx ? &s->rx : &s->tx, bpf_ktime_get_ns(), 1, bytes > 0 ? bytes : 0);
	s->hdr.ts_ns = now;
}

/* The struct sock of f, a socket file (file_type() S_IFSOCK). */
static __always_inline struct sock *socket_file_sock(struct file *f)
{
	struct socket *sock = BPF_CORE_READ(f, private_data);

	return BPF_CORE_READ(sock, sk);
}

/* The struct sock of socket file f, or NULL if f is no socket. */
static __always_inline struct sock *file_sock(struct file *f)
{
	struct inode *inode;

	if (file_type(f, &inode) != S_IFSOCK)
		return NULL;
	return socket_file_sock(f);
}

/* The last reference to a socket file f goes: if a UNIX socket's, its record is finished. */
static __always_inline void unix_release(struct file *f)
{
	struct sock *sk = socket_file_sock(f);
	struct rec_sock *s;
	__u64 key;

	/* the family first: a TCP or UDP socket (most closes) leaves after one read less */
	if (!sk || BPF_CORE_READ(sk, __sk_common.skc_family) != AF_UNIX || file_ref_count(f) != 1)
		return;
	key = unix_key(f);
	s = bpf_map_lookup_elem(&socks, &key);
	if (s) {
		s->hdr.ts_ns = bpf_ktime_get_ns();
		sock_export(s, key);
	}
}

/* accept() returned fd: the accepting process owns the connection. */
static __always_inline void sock_accepted(long fd)
{
	struct file *f = fd_file(fd);
	struct sock *sk = f ? file_sock(f) : NULL;
	__u64 cookie = sk ? sk_cookie(sk) : 0;
	struct rec_sock *s = cookie ? bpf_map_lookup_elem(&socks, &cookie) : NULL;

	if (s)
		sock_owner(s, true);
}

/*
 * accept() in the agent returned fd: a connection to its metrics page, marked as the
 * agent's own like the sockets it creates (an accepted socket passes no sock_create), so
 * that it is never counted or reported.
 */
static __always_inline void sock_accepted_by_agent(long fd)
{
	struct file *f = fd_file(fd);
	struct sock *sk = f ? file_sock(f) : NULL;
	__u64 cookie = sk ? sk_cookie(sk) : 0;
	struct rec_sock *s = cookie ? sock_get(cookie, 0) : NULL;

	if (s)
		s->flags |= SOCK_FLAG_AGENT;
}

#endif /* KFLOWD_SOCK_BPF_H */
