/*
 * Paced record producer for the agent-throughput ladder. Every operation makes the
 * agent print a known number of records:
 *   kfgen files DIR RATE SECONDS   create DIR/f<i>, write 64 B, close, unlink: a
 *                                  CLOSE_WRITE record and a DELETE record per operation
 *   kfgen conns RATE SECONDS       TCP connect to a listener on 127.0.0.1, accept, close
 *                                  both ends: a client and a server record per operation
 * RATE is operations per second (0: as fast as possible). The pace is kept per
 * millisecond against the start time, so a slow moment is caught up. Prints
 * "<operations> <elapsed ns>". The program's name (comm "kfgen") marks its records.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static const char *dir;
static int listener;
static struct sockaddr_in addr = { .sin_family = AF_INET };

static int file_op(long i)
{
	static const char buf[64] = "kfgen";
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/f%ld", dir, i);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
	if (fd < 0)
		return perror(path), -1;
	if (write(fd, buf, sizeof(buf)) != sizeof(buf))
		return perror("write"), -1;
	close(fd);
	return unlink(path);
}

static int conn_op(long i)
{
	int c, s;

	(void)i;
	c = socket(AF_INET, SOCK_STREAM, 0);
	if (c < 0)
		return perror("socket"), -1;
	if (connect(c, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		return perror("connect"), -1;
	s = accept(listener, NULL, NULL);
	if (s < 0)
		return perror("accept"), -1;
	/* the client closes first: its TIME_WAIT is reusable on loopback (tcp_tw_reuse) */
	close(c);
	close(s);
	return 0;
}

int main(int argc, char **argv)
{
	int (*op)(long);
	double rate, seconds;
	long long t0, t, end, due;
	long done = 0;
	socklen_t len = sizeof(addr);

	if (argc >= 5 && !strcmp(argv[1], "files")) {
		dir = argv[2];
		rate = atof(argv[3]);
		seconds = atof(argv[4]);
		op = file_op;
	} else if (argc >= 4 && !strcmp(argv[1], "conns")) {
		rate = atof(argv[2]);
		seconds = atof(argv[3]);
		op = conn_op;
		addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		listener = socket(AF_INET, SOCK_STREAM, 0);
		if (bind(listener, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(listener, 128) < 0 ||
		    getsockname(listener, (struct sockaddr *)&addr, &len) < 0)
			return perror("listener"), 1;
	} else {
		fprintf(stderr, "usage: kfgen files DIR RATE SECONDS | kfgen conns RATE SECONDS\n");
		return 2;
	}
	t0 = now_ns();
	end = t0 + (long long)(seconds * 1e9);
	for (t = t0; t < end; t = now_ns()) {
		due = rate > 0 ? (long long)((t - t0) * rate / 1e9) + 1 : done + 256;
		/* catch up, but never past the end: the caller counts on the duration */
		while (done < due && (done % 64 || now_ns() < end))
			if (op(done++) < 0)
				return 1;
		if (rate > 0) {
			struct timespec tick = { 0, 1000000 - (now_ns() - t0) % 1000000 };

			nanosleep(&tick, NULL);
		}
	}
	printf("%ld %lld\n", done, now_ns() - t0);
	return 0;
}
