/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one definition of everything that crosses between kernel and agent: ring-buffer
 * records, the aggregation-map value (which is the file record itself), the stats map
 * and the read-only configuration. bpf/gen-layout.ts reads these types from the BTF of
 * bpf/layout.bpf.c and writes src/records/layout.gen.ts; nothing on the TypeScript side
 * is typed by hand.
 *
 * Rules: only __u8..__u64 and fixed arrays; explicit padding (layout.bpf.c is compiled
 * with -Wpadded -Werror); constants the agent needs are enum members (BTF keeps enums,
 * not #defines); append fields and bump REC_VERSION, never reuse a type code.
 */
#ifndef KFLOWD_RECORDS_H
#define KFLOWD_RECORDS_H

/* __u8..__u64: from vmlinux.h in BPF code, else from the UAPI headers (layout, fixtures) */
#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

enum rec_limits {
	/* 2: struct rec_task gained cgroup_id */
	REC_VERSION = 2,
	REC_COMM_LEN = 16,
	/* an executable's basename: NAME_MAX (255) bytes */
	REC_NAME_MAX = 255,
	/* an absolute path without its NUL: PATH_MAX (4096) - 1 bytes */
	REC_PATH_MAX = 4095,
	/* room for the event counters, indexed by enum fs_event */
	REC_FS_EVENT_SLOTS = 16,
	/*
	 * variable tail of a file record, in this order: exe name, parent exe name, path, and
	 * for renames the end of the old path (its last component is FileOrigin)
	 */
	REC_FILE_TAIL = 4864,
	/* per-CPU scratch buffers of each kind: programs preempted half-way keep theirs (scratch.bpf.h) */
	REC_SCRATCH_SLOTS = 4,
};

/*
 * The kernel's numbers that records carry as they are: rec_sock.family (socket.h),
 * rec_sock.proto (in.h) and the file type bits of rec_inode.mode (stat.h).
 */
enum rec_kernel_values {
	REC_AF_UNIX = 1,
	REC_AF_INET = 2,
	REC_AF_INET6 = 10,
	REC_IPPROTO_TCP = 6,
	REC_IPPROTO_UDP = 17,
	REC_S_IFMT = 0170000,
	REC_S_IFDIR = 0040000,
	REC_S_IFREG = 0100000,
	REC_S_IFLNK = 0120000,
};

enum rec_type {
	REC_TYPE_FILE = 1,
	REC_TYPE_SOCK = 2,
	REC_TYPE_EXIT = 3,
	REC_TYPE_APP = 4,
};

/* Filesystem events, in kflowd's catalogue (and JSON) order. */
enum fs_event {
	FS_CREATE = 0,
	FS_OPEN = 1,
	FS_OPEN_EXEC = 2,
	FS_ACCESS = 3,
	FS_ATTRIB = 4,
	FS_MODIFY = 5,
	FS_CLOSE_WRITE = 6,
	FS_CLOSE_NOWRITE = 7,
	FS_MOVED_FROM = 8,
	FS_MOVED_TO = 9,
	FS_DELETE = 10,
	FS_EVENT_COUNT = 11,
};

enum file_flags {
	/* the path was longer or deeper than the kernel walk allows; it is cut at the top */
	FILE_FLAG_PATH_TRUNCATED = 1,
	/* some struct file behind this record was opened for writing */
	FILE_FLAG_WRITABLE = 2,
	/*
	 * a path operation whose inode the kernel could not show (no inode tier): only the
	 * path, the events and the process are known; the inode fields are zero
	 */
	FILE_FLAG_NO_INODE = 4,
	/* the process had the file open (through a descriptor or by exec) */
	FILE_FLAG_OPENED = 8,
	/* finished while the ring buffer was full: still in the map, for the agent to export */
	FILE_FLAG_UNSENT = 16,
};

/* Per-CPU loss and health counters (map "stats"), indexed by this enum. */
enum stat_id {
	/* a finished record did not fit into the ring buffer and was lost */
	STAT_RING_FULL = 0,
	/* a new file aggregation could not be inserted (map full or no memory) */
	STAT_FILE_MAP_FULL = 1,
	/* a path was cut because of the depth or length limit */
	STAT_PATH_TRUNCATED = 2,
	/* a process-exit notice did not fit into the ring buffer */
	STAT_EXIT_LOST = 3,
	/* file records handed to the ring buffer */
	STAT_FILE_RECORDS = 4,
	/* a path operation could not be tracked (too many threads in one at once) */
	STAT_PATH_OP_LOST = 5,
	/* a new socket could not be inserted (map full or no memory) */
	STAT_SOCK_MAP_FULL = 6,
	/* socket records handed to the ring buffer */
	STAT_SOCK_RECORDS = 7,
	/* an application message did not fit into the ring buffer */
	STAT_APP_LOST = 8,
	/*
	 * a finished record did not fit into the ring buffer but stayed in its map, marked
	 * unsent: it keeps aggregating and the agent exports it at its next scan (not a loss)
	 */
	STAT_DEFERRED = 9,
	/*
	 * close_range() closed more descriptors than the kernel side walks: the files past
	 * CLOSE_RANGE_MAX are reported at the process's exit or after the idle timeout
	 */
	STAT_CLOSE_RANGE_CUT = 10,
	/*
	 * system calls of x32 programs (64-bit code with 32-bit pointers, x86 only), which
	 * the kernel side does not decode: their file and UNIX socket activity is not seen
	 */
	STAT_X32_CALLS = 11,
	/*
	 * an event dropped because every scratch slot of its CPU was taken by programs
	 * preempted half-way (scratch.bpf.h)
	 */
	STAT_SCRATCH_BUSY = 12,
	/*
	 * processes that set up an io_uring while its requests are not monitored (the kernel's
	 * requests cannot be read, or the io_uring programs failed): their file and socket
	 * activity through the ring is not seen; each process counted once
	 */
	STAT_URING_UNSEEN = 13,
	/*
	 * syscall events the kernel skipped for the first program, taken by its rescuer
	 * (rescue.bpf.h); the first program's skips less these were lost
	 */
	STAT_RESCUED = 14,
	STAT_COUNT = 15,
};

/* First member of every ring-buffer record. */
struct rec_hdr {
	__u16 type;    /* enum rec_type */
	__u16 version; /* REC_VERSION */
	__u32 size;    /* bytes of this record, tail included */
	__u64 ts_ns;   /* CLOCK_MONOTONIC of the last event */
};

/* Who did it: the task that caused the first event of an aggregation. */
struct rec_task {
	__u32 pid; /* tgid */
	__u32 tid;
	__u32 ppid; /* real parent's tgid */
	__u32 uid;
	__u32 gid;
	__u16 exe_len;	      /* bytes of the exe basename at the start of the tail */
	__u16 parent_exe_len; /* bytes of the parent's exe basename that follow it */
	__u64 start_ns;	      /* CLOCK_MONOTONIC start of the thread group leader */
	char comm[REC_COMM_LEN];
	/*
	 * the task's cgroup v2 id at that event (the kernfs inode number of its cgroup
	 * directory); 0 if unknown (a socket no process has claimed yet)
	 */
	__u64 cgroup_id;
};

/* An inode's state, as a file record reports it (read at each event). */
struct rec_inode {
	__u32 mode; /* i_mode */
	__u32 nlink;
	__u32 uid; /* owner */
	__u32 gid;
	__u64 size;
	__u64 atime_ns; /* inode times, ns since the epoch */
	__u64 mtime_ns;
	__u64 ctime_ns;
};

/*
 * A file aggregation, key (tgid, dev, ino). The value of map "files" and, cut to
 * hdr.size, the ring-buffer record.
 */
struct rec_file {
	struct rec_hdr hdr;
	struct rec_task task;
	__u64 ts_first_ns;
	__u64 ino;
	__u32 dev;    /* kernel dev_t: major << 20 | minor */
	__u32 events; /* sum of event_counts */
	__u32 event_counts[REC_FS_EVENT_SLOTS];
	struct rec_inode inode; /* as of the last event */
	__u64 size_first;	/* inode.size and inode.mtime_ns at the first event */
	__u64 mtime_first_ns;
	__u16 path_len;	  /* bytes of the absolute path after the two exe names */
	__u16 origin_len; /* bytes after the path that end with the old name (renames) */
	__u16 flags;	  /* enum file_flags */
	__u16 pad;
	char tail[REC_FILE_TAIL];
};

/* Key of map "files". */
struct file_key {
	__u32 pid;
	__u32 dev;
	__u64 ino;
};

enum sock_limits {
	/* TCP flag combinations: FIN 1, SYN 2, RST 4, PSH 8, ACK 16, URG 32 */
	REC_TCP_FLAG_COMBOS = 64,
	/* sun_path of a UNIX socket address */
	REC_UNIX_PATH = 108,
	/* tail of a socket record: exe name and parent exe name */
	REC_SOCK_TAIL = 512,
};

enum sock_role {
	SOCK_ROLE_CLIENT = 1,
	SOCK_ROLE_SERVER = 2,
};

enum rec_sock_flags {
	/* the owner bound it to a port: a UDP socket that receives first is a server */
	SOCK_FLAG_BOUND = 1,
	/* the identity came from the process that connected or accepted it */
	SOCK_FLAG_OWNER_FINAL = 2,
	/* the kernel's HZ is unknown (no kernel config to read), so rto_ms is not set */
	SOCK_FLAG_RTO_UNKNOWN = 4,
	/* the agent's own socket (its UDP output): never counted or reported */
	SOCK_FLAG_AGENT = 8,
	/* exported by the kernel because the socket closed: no further record of it comes */
	SOCK_FLAG_CLOSED = 16,
	/* closed while the ring buffer was full: still in the map, for the agent to export */
	SOCK_FLAG_UNSENT = 32,
	/*
	 * closed by close() that sends a reset right after the state change (SO_LINGER 0, or
	 * unread data): the record waits in the map for that reset, which ends it
	 */
	SOCK_FLAG_RST_PENDING = 64,
};

/* One direction of a socket's traffic. */
struct rec_sock_dir {
	__u64 packets;	    /* segments on the wire (GSO packets count their segments) */
	__u64 data_packets; /* ... of them with payload */
	__u64 bytes;	    /* payload bytes (TCP/UDP) or bytes passed by the syscalls (UNIX) */
	__u64 ts_first_ns;
	__u64 ts_last_ns;
	__u64 ttl_sum;	   /* received: sum of TTL / hop limit over ttl_packets */
	__u32 ttl_packets; /* received packets whose TTL was seen (not the synthesized handshake) */
	__u32 frags;	   /* received: IP fragments the datagrams arrived in, before reassembly */
	__u32 ifindex;	   /* interface of the first packet */
	__u32 nflags;	   /* distinct TCP flag combinations in flag_order */
	__u32 flag_counts[REC_TCP_FLAG_COMBOS]; /* packets per flag combination */
	__u8 flag_order[REC_TCP_FLAG_COMBOS];	/* combinations in the order first seen */
};

/*
 * A socket, key: the socket cookie (TCP, UDP) or, for UNIX sockets (no packet hooks),
 * the socket file's inode number with bit 63 set. The value of map "socks" and the ring
 * record.
 */
struct rec_sock {
	struct rec_hdr hdr;
	struct rec_task task;
	__u64 ts_first_ns; /* same offset as in rec_file: the agent's timeout scan reads both */
	__u64 key;
	__u8 family; /* AF_INET 2, AF_INET6 10, AF_UNIX 1 */
	__u8 proto;  /* IPPROTO_TCP 6, IPPROTO_UDP 17, 0 for UNIX */
	__u8 type;   /* SOCK_STREAM 1, SOCK_DGRAM 2 */
	__u8 role;   /* enum sock_role */
	__u8 state;  /* kernel socket state when exported */
	__u8 flags;  /* enum sock_flags */
	__u16 lport;
	__u16 rport;
	__u16 pad;
	__u32 srtt_us;	/* smoothed RTT */
	__u8 laddr[16]; /* IPv4 in the first 4 bytes */
	__u8 raddr[16];
	struct rec_sock_dir tx;
	struct rec_sock_dir rx;
	__u64 bytes_acked;
	__u64 bytes_retrans;
	__u32 retrans; /* segments retransmitted */
	__u32 dsack_dups;
	__u32 rto_ms;
	__u32 reorder;
	__u32 drops;
	__u32 queued; /* bytes received but not yet read by the application */
	char unix_path[REC_UNIX_PATH];
	__u32 pad2;
	char tail[REC_SOCK_TAIL];
};

/* A thread group ended: the agent flushes that process's open aggregations. */
struct rec_exit {
	struct rec_hdr hdr;
	__u32 pid;
	__u32 pad;
	__u64 start_ns; /* start of the process that ended (tells pid reuse apart) */
};

/* Value of the per-CPU map "stats". */
struct rec_stats {
	__u64 counters[STAT_COUNT];
};

/* Inode sources for path operations; the agent writes the one attached to map "tiers". */
enum inode_tier {
	/* none: path operations are reported without inode data */
	INODE_TIER_NONE = 0,
	/* tp_btf ctime tracepoints (6.13+) */
	INODE_TIER_CTIME = 1,
	/* kprobes on the security_inode_* hooks */
	INODE_TIER_KPROBE = 2,
};

/* Application protocols whose messages are captured (-p). */
enum app_kind {
	APP_NONE = 0,
	APP_DNS = 1,
	APP_HTTP = 2,
	APP_SYSLOG = 3,
};

enum app_limits {
	/* most bytes captured of one message (the -p capture size is at most this) */
	REC_APP_CAP = 4096,
	/* (protocol, port) pairs of -p */
	APP_PORTS_MAX = 24,
	/* iovecs of one sendmsg/recvmsg/writev/readv gathered */
	APP_IOV_MAX = 8,
};

/* The first bytes of one message sent or received on an application's socket. */
struct rec_app {
	struct rec_hdr hdr;
	__u64 sock_key; /* the key of the socket's record in map "socks" */
	__u32 pid;
	__u32 len;     /* bytes of the whole message (what the syscall moved) */
	__u16 cap_len; /* bytes in data */
	__u8 rx;       /* 1: received, 0: sent */
	__u8 app;      /* enum app_kind */
	__u32 pad;
	char data[REC_APP_CAP];
};

struct app_port {
	__u16 port;
	__u8 proto; /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 app;   /* enum app_kind */
};

/* What is monitored (-m). */
enum monitor_flags {
	MONITOR_FILE = 1,
	MONITOR_SOCKET = 2,
};

/* Agent -> kernel: the whole .rodata of the program, set before load. */
struct kf_config {
	__u32 agent_pid;       /* tgid of the agent itself: never reported */
	__u32 events_max;      /* -e: export a file record after this many events; 0 = off */
	__u32 hz;	       /* the kernel's CONFIG_HZ, 0 if unknown (jiffies -> ms) */
	__u32 app_cap;	       /* bytes captured per message, at most REC_APP_CAP */
	__u32 app_unix_syslog; /* capture syslog datagrams to /dev/log and journald's dev-log */
	__u32 napp_ports;
	__u32 monitor; /* enum monitor_flags (-m) */
	/*
	 * 1 where the socket iterator or the owner hooks could not be loaded: a TCP or UDP
	 * socket without an owner goes to the first process that reads or writes it
	 */
	__u32 sock_claim_io;
	struct app_port app_ports[APP_PORTS_MAX];
	/* 1 when the io_uring programs are attached; else io_uring_setup() is counted */
	__u32 uring;
	/*
	 * 1 where cgroup socket programs may call bpf_get_current_task_btf() (every program
	 * type since ~6.10; tracing programs since 5.11): identities read by plain loads
	 */
	__u32 task_btf;
	/*
	 * 1 when a program on inet_sock_set_state finishes TCP records at TCP_CLOSE: a
	 * TCP socket released before it reached that state leaves its record to it
	 */
	__u32 tcp_close_hook;
	__u32 pad2;
};

#endif /* KFLOWD_RECORDS_H */
