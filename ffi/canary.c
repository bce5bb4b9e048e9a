// SPDX-License-Identifier: GPL-2.0
/*
 * The start-up self-test's canary: a child process that does, once, what the agent must
 * see — file operations by relative names through the *at calls, a loopback TCP
 * connection, a UDP datagram, a UNIX datagram — in a directory the agent made for it.
 * The agent's own activity is never monitored, so the canary is a process of its own:
 * a plain clone (no atfork handlers of the runtime run) that makes only system calls and
 * ends with _exit. The caller checks the records of that process (src/selftest.ts).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
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
	STEP_CREATE,  /* create, write, close */
	STEP_READ,    /* open, read, close */
	STEP_CHMOD,
	STEP_RENAME,
	STEP_LINK,
	STEP_SYMLINK,
	STEP_UNLINK,  /* the link, the symlink, the file */
	STEP_TCP,     /* connect to a listener of its own, send, receive, close */
	STEP_UDP,     /* a datagram to its own socket */
	STEP_UNIX,    /* a datagram over a socketpair */
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

/* names: the file, its new name, the hard link and the symlink, each NUL-terminated. */
static void canary(const char *dir, const char *names, struct canary_result *r)
{
	const char *file = names;
	const char *renamed = file + strlen(file) + 1;
	const char *link = renamed + strlen(renamed) + 1;
	const char *symlink = link + strlen(link) + 1;
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
