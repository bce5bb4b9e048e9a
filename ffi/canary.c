// SPDX-License-Identifier: GPL-2.0
/*
 * The start-up self-test's canary: a child process that does, once, what the agent must
 * see — file operations by relative names through the *at calls, a loopback TCP
 * connection, a UDP datagram, a UNIX datagram, a write through an io_uring — in a
 * directory the agent made for it.
 * The agent's own activity is never monitored, so the canary is a process of its own:
 * a plain clone (no atfork handlers of the runtime run) that makes only system calls and
 * ends with _exit. The caller checks the records of that process (src/selftest.ts).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* The steps, in this order; src/selftest.ts names them (CANARY_STEPS). */
enum canary_step {
	STEP_CREATE, /* create, write, close */
	STEP_READ,   /* open, read, close */
	STEP_CHMOD,
	STEP_RENAME,
	STEP_LINK,
	STEP_SYMLINK,
	STEP_UNLINK, /* the link, the symlink, the file */
	STEP_TCP,    /* connect to a listener of its own, send, receive, close */
	STEP_UDP,    /* a datagram to its own socket */
	STEP_UNIX,   /* a datagram over a socketpair */
	STEP_URING,  /* a write through an io_uring of its own (raw syscalls, no liburing) */
	STEP_COUNT,
};

/* Shared with the child: what each step's system calls returned (0 or errno). */
struct canary_result {
	int32_t err[STEP_COUNT];
};

#define PAYLOAD "kflowd"
#define PAYLOAD_LEN 6

static int fail(void)
{
	return errno ? errno : EIO;
}

static int write_file(int dfd, const char *name)
{
	int fd = openat(dfd, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);

	if (fd < 0)
		return fail();
	if (write(fd, PAYLOAD, PAYLOAD_LEN) != PAYLOAD_LEN) {
		int e = fail();
		close(fd);
		return e;
	}
	return close(fd) ? fail() : 0;
}

static int read_file(int dfd, const char *name)
{
	char buf[PAYLOAD_LEN];
	int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return fail();
	if (read(fd, buf, sizeof(buf)) != PAYLOAD_LEN) {
		int e = fail();
		close(fd);
		return e;
	}
	return close(fd) ? fail() : 0;
}

/* Sends the payload on tx and reads it back on rx. */
static int pass_payload(int tx, int rx)
{
	char buf[PAYLOAD_LEN];

	if (send(tx, PAYLOAD, PAYLOAD_LEN, 0) != PAYLOAD_LEN)
		return fail();
	return recv(rx, buf, sizeof(buf), MSG_WAITALL) == PAYLOAD_LEN ? 0 : fail();
}

static struct sockaddr_in loopback(void)
{
	struct sockaddr_in a;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

static int tcp_round(void)
{
	struct sockaddr_in a = loopback();
	socklen_t len = sizeof(a);
	int l = -1, c = -1, s = -1, e = 0;

	l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0 || c < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 1) ||
	    getsockname(l, (struct sockaddr *)&a, &len) || connect(c, (struct sockaddr *)&a, sizeof(a)))
		e = fail();
	if (!e && (s = accept4(l, NULL, NULL, SOCK_CLOEXEC)) < 0)
		e = fail();
	if (!e)
		e = pass_payload(c, s);
	/* the client closes first, as clients do */
	if (c >= 0)
		close(c);
	if (s >= 0)
		close(s);
	if (l >= 0)
		close(l);
	return e;
}

static int udp_round(void)
{
	struct sockaddr_in a = loopback();
	socklen_t len = sizeof(a);
	int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), e = 0;

	if (u < 0 || bind(u, (struct sockaddr *)&a, sizeof(a)) || getsockname(u, (struct sockaddr *)&a, &len) ||
	    connect(u, (struct sockaddr *)&a, sizeof(a)))
		e = fail();
	if (!e)
		e = pass_payload(u, u);
	if (u >= 0)
		close(u);
	return e;
}

static int unix_round(void)
{
	int sv[2], e;

	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv))
		return fail();
	e = pass_payload(sv[0], sv[1]);
	close(sv[0]);
	close(sv[1]);
	return e;
}

/*
 * Writes the payload to a new file name in dfd through an io_uring: one IORING_OP_WRITE
 * (5.6+) on rings set up and mapped by hand. The file is opened and closed by syscalls,
 * so that the write is the only event the ring can have made. ENOSYS or EPERM: io_uring
 * is not built in or is turned off (kernel.io_uring_disabled), so there is nothing to see.
 */
static int uring_write(int dfd, const char *name)
{
	struct io_uring_params p;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqe;
	size_t sq_len, cq_len, sqes_len = 0;
	unsigned *tail, *array, head;
	char *sq = MAP_FAILED, *cq = MAP_FAILED;
	int ring, fd, e = 0;

	memset(&p, 0, sizeof(p));
	ring = syscall(__NR_io_uring_setup, 1, &p);
	if (ring < 0)
		return fail();
	fd = openat(dfd, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
	sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
	cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	/* one mapping for both rings since 5.4 (IORING_FEAT_SINGLE_MMAP) */
	if (p.features & IORING_FEAT_SINGLE_MMAP)
		sq_len = cq_len = sq_len > cq_len ? sq_len : cq_len;
	sq = mmap(NULL, sq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_SQ_RING);
	cq = (p.features & IORING_FEAT_SINGLE_MMAP)
		     ? sq
		     : mmap(NULL, cq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_CQ_RING);
	sqes_len = p.sq_entries * sizeof(struct io_uring_sqe);
	sqes = mmap(NULL, sqes_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_SQES);
	if (fd < 0 || sq == MAP_FAILED || cq == MAP_FAILED || sqes == MAP_FAILED) {
		e = fail();
		goto out;
	}
	memset(&sqes[0], 0, sizeof(sqes[0]));
	sqes[0].opcode = IORING_OP_WRITE;
	sqes[0].fd = fd;
	sqes[0].addr = (uint64_t)(uintptr_t)PAYLOAD;
	sqes[0].len = PAYLOAD_LEN;
	tail = (unsigned *)(sq + p.sq_off.tail);
	array = (unsigned *)(sq + p.sq_off.array);
	array[*tail & *(unsigned *)(sq + p.sq_off.ring_mask)] = 0;
	__atomic_store_n(tail, *tail + 1, __ATOMIC_RELEASE);
	if (syscall(__NR_io_uring_enter, ring, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0) != 1) {
		e = fail();
		goto out;
	}
	head = __atomic_load_n((unsigned *)(cq + p.cq_off.head), __ATOMIC_ACQUIRE);
	cqe = (struct io_uring_cqe *)(cq + p.cq_off.cqes) + (head & *(unsigned *)(cq + p.cq_off.ring_mask));
	if (head == __atomic_load_n((unsigned *)(cq + p.cq_off.tail), __ATOMIC_ACQUIRE))
		e = EIO;
	else if (cqe->res != PAYLOAD_LEN)
		e = cqe->res < 0 ? -cqe->res : EIO;
out:
	if (sqes != MAP_FAILED && sqes_len)
		munmap(sqes, sqes_len);
	if (cq != MAP_FAILED && cq != sq)
		munmap(cq, cq_len);
	if (sq != MAP_FAILED)
		munmap(sq, sq_len);
	if (fd >= 0)
		close(fd);
	close(ring);
	return e;
}

/* names: the file, its new name, the hard link and the symlink, the io_uring file, each NUL-terminated. */
static void canary(const char *dir, const char *names, struct canary_result *r)
{
	const char *file = names;
	const char *renamed = file + strlen(file) + 1;
	const char *link = renamed + strlen(renamed) + 1;
	const char *symlink = link + strlen(link) + 1;
	const char *uring = symlink + strlen(symlink) + 1;
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), e;

	if (dfd < 0) {
		for (int i = 0; i < STEP_COUNT; i++)
			r->err[i] = fail();
		return;
	}
	r->err[STEP_CREATE] = write_file(dfd, file);
	r->err[STEP_READ] = read_file(dfd, file);
	r->err[STEP_CHMOD] = fchmodat(dfd, file, 0640, 0) ? fail() : 0;
	r->err[STEP_RENAME] = renameat(dfd, file, dfd, renamed) ? fail() : 0;
	r->err[STEP_LINK] = linkat(dfd, renamed, dfd, link, 0) ? fail() : 0;
	r->err[STEP_SYMLINK] = symlinkat(renamed, dfd, symlink) ? fail() : 0;
	e = unlinkat(dfd, link, 0) ? fail() : 0;
	e = unlinkat(dfd, symlink, 0) ? fail() : e;
	r->err[STEP_UNLINK] = unlinkat(dfd, renamed, 0) ? fail() : e;
	r->err[STEP_URING] = uring_write(dfd, uring);
	close(dfd);
	r->err[STEP_TCP] = tcp_round();
	r->err[STEP_UDP] = udp_round();
	r->err[STEP_UNIX] = unix_round();
}

/*
 * Runs the canary in dir and waits for it: *pid gets its PID, err[STEP_COUNT] what each
 * step's calls returned (0 or errno). Returns 0, or -errno if it could not be run.
 */
int kf_canary(const char *dir, const char *names, int32_t *pid, int32_t *err)
{
	struct canary_result *r = mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int status;
	long child;

	if (r == MAP_FAILED)
		return -errno;
	memset(r, 0, sizeof(*r));
	child = syscall(SYS_clone, SIGCHLD, 0, NULL, NULL, 0);
	if (child < 0) {
		int e = errno;
		munmap(r, sizeof(*r));
		return -e;
	}
	if (child == 0) {
		canary(dir, names, r);
		syscall(SYS_exit_group, 0);
	}
	while (waitpid((pid_t)child, &status, 0) < 0 && errno == EINTR)
		;
	*pid = (int32_t)child;
	memcpy(err, r->err, sizeof(r->err));
	munmap(r, sizeof(*r));
	return 0;
}
