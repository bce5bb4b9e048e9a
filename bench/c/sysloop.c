/*
 * Tight syscall loops for the syscall-cost benchmark; prints nanoseconds per iteration.
 * Written in C so that the loop itself costs nothing next to the syscall.
 *   sysloop getppid N          N x getppid() (no file involved: the hooks' fixed cost)
 *   sysloop write-null N       N x write(fd of /dev/null, 1 byte) (the per-fd-syscall path)
 *   sysloop open-write-close N PATH
 *                              N x open(PATH, O_WRONLY|O_CREAT) + write 64 B + close
 *   sysloop tcp-rw N           N x (write 64 B + read 64 B) over a loopback TCP connection
 *                              (the socket I/O path nothing captures)
 *   sysloop udp-socket N       N x socket(AF_INET, SOCK_DGRAM) + close (creation and release)
 * Output: one line "<mode> <iterations> <ns per iteration>".
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	char buf[64];
	long long t0, t1;
	long n, i;
	int fd;

	if (argc < 3) {
		fprintf(stderr, "usage: sysloop getppid|write-null|open-write-close N [PATH]\n");
		return 2;
	}
	n = atol(argv[2]);
	memset(buf, 'x', sizeof(buf));
	if (!strcmp(argv[1], "getppid")) {
		t0 = now_ns();
		for (i = 0; i < n; i++)
			syscall(SYS_getppid);
		t1 = now_ns();
	} else if (!strcmp(argv[1], "write-null")) {
		fd = open("/dev/null", O_WRONLY);
		if (fd < 0)
			return perror("/dev/null"), 1;
		t0 = now_ns();
		for (i = 0; i < n; i++)
			if (write(fd, buf, 1) != 1)
				return perror("write"), 1;
		t1 = now_ns();
		close(fd);
	} else if (!strcmp(argv[1], "open-write-close") && argc > 3) {
		t0 = now_ns();
		for (i = 0; i < n; i++) {
			fd = open(argv[3], O_WRONLY | O_CREAT, 0644);
			if (fd < 0)
				return perror(argv[3]), 1;
			if (write(fd, buf, sizeof(buf)) != sizeof(buf))
				return perror("write"), 1;
			close(fd);
		}
		t1 = now_ns();
		unlink(argv[3]);
	} else if (!strcmp(argv[1], "tcp-rw")) {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		socklen_t alen = sizeof(a);
		int l = socket(AF_INET, SOCK_STREAM, 0), c = socket(AF_INET, SOCK_STREAM, 0), s;

		if (l < 0 || c < 0 || bind(l, (void *)&a, sizeof(a)) || listen(l, 1) ||
		    getsockname(l, (void *)&a, &alen) || connect(c, (void *)&a, sizeof(a)) ||
		    (s = accept(l, NULL, NULL)) < 0)
			return perror("tcp"), 1;
		t0 = now_ns();
		for (i = 0; i < n; i++)
			if (write(c, buf, sizeof(buf)) != sizeof(buf) || read(s, buf, sizeof(buf)) != sizeof(buf))
				return perror("tcp-rw"), 1;
		t1 = now_ns();
		close(s);
		close(c);
		close(l);
	} else if (!strcmp(argv[1], "udp-socket")) {
		t0 = now_ns();
		for (i = 0; i < n; i++) {
			fd = socket(AF_INET, SOCK_DGRAM, 0);
			if (fd < 0)
				return perror("socket"), 1;
			close(fd);
		}
		t1 = now_ns();
	} else {
		fprintf(stderr, "sysloop: unknown mode %s\n", argv[1]);
		return 2;
	}
	printf("%s %ld %.1f\n", argv[1], n, (double)(t1 - t0) / n);
	return 0;
}
