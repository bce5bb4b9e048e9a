/*
 * Minimal HTTP/1.1 server for the loopback benchmark: one thread, epoll, non-blocking
 * sockets, a fixed 13-byte answer to every request (a request ends at an empty line;
 * bodies are not expected). Keep-alive unless the request says "Connection: close".
 * Small on purpose: the less the server costs, the more visible the monitor's cost is.
 *   httpd PORT      prints "ready" once it listens; runs until killed
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_CONNS 65536
#define BUF_BYTES 8192

static const char answer[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\n"
			     "hello, world\n";

struct conn {
	int used;
	char buf[BUF_BYTES];
};

static struct conn *conns;

static void drop(int ep, int fd)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
	conns[fd].used = 0;
	close(fd);
}

/* Answers every complete request in the buffer; returns 0 to keep the connection. */
static int serve(int fd)
{
	struct conn *c = &conns[fd];
	char *end;
	ssize_t n;
	int closing = 0;

	for (;;) {
		n = read(fd, c->buf + c->used, BUF_BYTES - 1 - c->used);
		if (n == 0)
			return -1;
		if (n < 0)
			return errno == EAGAIN ? 0 : -1;
		c->used += n;
		c->buf[c->used] = 0;
		while ((end = strstr(c->buf, "\r\n\r\n"))) {
			*end = 0;
			if (strcasestr(c->buf, "\nconnection: close"))
				closing = 1;
			if (write(fd, answer, sizeof(answer) - 1) != sizeof(answer) - 1)
				return -1;
			c->used -= (end + 4) - c->buf;
			memmove(c->buf, end + 4, c->used + 1);
			if (closing)
				return -1;
		}
		if (c->used >= BUF_BYTES - 1)
			return -1;
	}
}

int main(int argc, char **argv)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	struct epoll_event ev, events[256];
	int ls, ep, one = 1, i, n, fd;

	if (argc < 2) {
		fprintf(stderr, "usage: httpd PORT\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	conns = calloc(MAX_CONNS, sizeof(*conns));
	addr.sin_port = htons(atoi(argv[1]));
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(ls, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(ls, 1024) < 0)
		return perror("bind/listen"), 1;
	ep = epoll_create1(0);
	ev.events = EPOLLIN;
	ev.data.fd = ls;
	epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		n = epoll_wait(ep, events, 256, -1);
		for (i = 0; i < n; i++) {
			fd = events[i].data.fd;
			if (fd == ls) {
				while ((fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
					if (fd >= MAX_CONNS) {
						close(fd);
						continue;
					}
					setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
					conns[fd].used = 0;
					ev.events = EPOLLIN;
					ev.data.fd = fd;
					epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
				}
			} else if (serve(fd) < 0) {
				drop(ep, fd);
			}
		}
	}
}
