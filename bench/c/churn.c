/*
 * File churn for the overhead benchmark: N times create DIR/a<i>, write 256 bytes,
 * close, rename to DIR/b<i>, unlink DIR/b<i>. Prints "churn <N> <total ns> <ns per loop>".
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	char a[4096], b[4096], buf[256];
	long long t0, t1;
	long n, i;
	int fd;

	if (argc < 3) {
		fprintf(stderr, "usage: churn DIR N\n");
		return 2;
	}
	n = atol(argv[2]);
	memset(buf, 'c', sizeof(buf));
	t0 = now_ns();
	for (i = 0; i < n; i++) {
		snprintf(a, sizeof(a), "%s/a%ld", argv[1], i);
		snprintf(b, sizeof(b), "%s/b%ld", argv[1], i);
		fd = open(a, O_WRONLY | O_CREAT | O_EXCL, 0644);
		if (fd < 0)
			return perror(a), 1;
		if (write(fd, buf, sizeof(buf)) != sizeof(buf))
			return perror("write"), 1;
		close(fd);
		if (rename(a, b) < 0)
			return perror("rename"), 1;
		if (unlink(b) < 0)
			return perror("unlink"), 1;
	}
	t1 = now_ns();
	printf("churn %ld %lld %.1f\n", n, t1 - t0, (double)(t1 - t0) / n);
	return 0;
}
