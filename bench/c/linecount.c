/*
 * Counts what the agent prints: reads stdin (or a FIFO given as the path) to the end and
 * prints "<lines> <matching lines> <bytes>", a matching line containing every NEEDLE.
 * C, so that counting never becomes the bottleneck of the throughput benchmark; the pipe
 * it reads is enlarged to 1 MiB.
 *   linecount PATH [NEEDLE...]
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHUNK (1 << 20)

static int nneedles;
static char **needles;

static int matches(const char *line, size_t len)
{
	int i;

	if (!nneedles)
		return 0;
	for (i = 0; i < nneedles; i++)
		if (!memmem(line, len, needles[i], strlen(needles[i])))
			return 0;
	return 1;
}

int main(int argc, char **argv)
{
	/* a line longer than the carry buffer is only counted, never matched */
	size_t cap = 4 * CHUNK, used = 0;
	char *buf = malloc(cap);
	long long lines = 0, matched = 0, bytes = 0;
	ssize_t n;
	int fd;

	if (argc < 2) {
		fprintf(stderr, "usage: linecount PATH|- [NEEDLE...]\n");
		return 2;
	}
	needles = argv + 2;
	nneedles = argc - 2;
	fd = strcmp(argv[1], "-") ? open(argv[1], O_RDONLY) : 0;
	if (fd < 0)
		return perror(argv[1]), 1;
	/*
	 * A pipe holds 64 KiB by default: about 60 records, so the writer would wait for this
	 * reader after every few dozen. 1 MiB (the unprivileged maximum) keeps the reader
	 * out of the measurement; failure (not a pipe) is harmless.
	 */
	fcntl(fd, F_SETPIPE_SZ, 1 << 20);
	for (;;) {
		char *start, *nl;

		if (used == cap)
			used = 0; /* pathological line: forget its beginning */
		n = read(fd, buf + used, cap - used < CHUNK ? cap - used : CHUNK);
		if (n <= 0)
			break;
		bytes += n;
		used += n;
		start = buf;
		while ((nl = memchr(start, '\n', used - (start - buf)))) {
			lines++;
			matched += matches(start, nl - start);
			start = nl + 1;
		}
		used -= start - buf;
		memmove(buf, start, used);
	}
	printf("%lld %lld %lld\n", lines, matched, bytes);
	return 0;
}
