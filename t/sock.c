/* sock.c - a test's client sockets: TCP, unix, lines, UDP, free ports. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "sock.h"

long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

static int
bind_any(int type, int port)
{
	struct sockaddr_in a = {0};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, type, 0);

	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(port);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

/* Never the same port twice in one test program: two services of one
 * test would otherwise clash now and then. */
int
free_port(void)
{
	static int given[256], ngiven;
	int i, j, port;

	for (i = 0; i < 100; i++) {
		port = bind_any(SOCK_STREAM, 0);
		for (j = 0; j < ngiven && given[j] != port; j++)
			;
		if (port > 0 && j == ngiven &&
		    bind_any(SOCK_DGRAM, port) == port) {
			given[ngiven++ % 256] = port;
			if (ngiven > 256)
				ngiven = 256;
			return port;
		}
	}
	return -1;
}

/* From src (NULL: any), with SO_RCVBUF rcvbuf (0: default); 5 s bound. */
int
tcp_connect_from(const char *src, int port, int rcvbuf)
{
	struct timeval tv = {5, 0};
	struct sockaddr_in a = {0};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (rcvbuf > 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	a.sin_family = AF_INET;
	if (src != NULL && (inet_pton(AF_INET, src, &a.sin_addr) != 1 ||
			       bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0))
		goto fail;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(port);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		goto fail;
	return fd;
fail:
	close(fd);
	return -1;
}

/* ip (IPv4 or IPv6) and port as a socket address: its length, or 0. */
static socklen_t
make_addr(const char *ip, int port, struct sockaddr_storage *ss)
{
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, ip, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons(port);
		return sizeof(*a4);
	}
	if (inet_pton(AF_INET6, ip, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(port);
		return sizeof(*a6);
	}
	return 0;
}

int
tcp_connect_to(const char *ip, int port)
{
	struct sockaddr_storage to;
	socklen_t tolen = make_addr(ip, port, &to);
	int fd = socket(to.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&to, tolen) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int
connect_ok(int port)
{
	int fd = tcp_connect(port);

	assert_true(fd >= 0);
	return fd;
}

int
wait_port(int port, int ms)
{
	long end = now_ms() + ms;
	int fd;

	do {
		if ((fd = tcp_connect(port)) >= 0) {
			close(fd);
			return 0;
		}
		usleep(20000);
	} while (now_ms() < end);
	return -1;
}

int
tcp_connect(int port)
{
	struct sockaddr_in a = {0};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(port);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

int
send_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

int
send_str(int fd, const char *s)
{
	return send_all(fd, s, strlen(s));
}

/* Waits for input; 1 readable, 0 timed out. */
static int
readable(int fd, long end)
{
	struct pollfd p = {fd, POLLIN, 0};
	long left = end - now_ms();

	if (left < 0)
		left = 0;
	return poll(&p, 1, (int)left) > 0;
}

ssize_t
recv_n(int fd, void *buf, size_t n, int ms)
{
	long end = now_ms() + ms;
	size_t got = 0;
	ssize_t r;

	while (got < n && readable(fd, end)) {
		r = recv(fd, (char *)buf + got, n - got, 0);
		if (r <= 0)
			break;
		got += r;
	}
	return got;
}

ssize_t
recv_line(int fd, char *buf, size_t max, int ms)
{
	long end = now_ms() + ms;
	size_t got = 0;

	while (got + 1 < max && readable(fd, end)) {
		if (recv(fd, buf + got, 1, 0) != 1)
			break;
		if (buf[got++] == '\n')
			break;
	}
	buf[got] = '\0';
	return got;
}

ssize_t
recv_all(int fd, void *buf, size_t max, int ms)
{
	long end = now_ms() + ms;
	size_t got = 0;
	ssize_t r;

	while (got < max && readable(fd, end)) {
		r = recv(fd, (char *)buf + got, max - got, 0);
		if (r <= 0)
			return got;
		got += r;
	}
	return got < max ? -1 : (ssize_t)got;
}

void
expect_all(int fd, const char *want, int ms)
{
	char buf[4096];
	ssize_t n = recv_all(fd, buf, sizeof(buf) - 1, ms);

	if (n < 0)
		fail_msg(
		    "still open after %d ms, want \"%s\" then EOF", ms, want);
	buf[n] = '\0';
	assert_string_equal(buf, want);
}

ssize_t
ask_bytes(
    int port, const void *data, size_t len, char *reply, size_t max, int ms)
{
	int fd = tcp_connect(port);
	ssize_t n;

	reply[0] = '\0';
	if (fd < 0)
		return -1;
	if (send_all(fd, data, len) < 0)
		n = -1;
	else
		n = recv_line(fd, reply, max, ms);
	close(fd);
	return n;
}

ssize_t
ask(int port, const char *line, char *reply, size_t max, int ms)
{
	return ask_bytes(port, line, strlen(line), reply, max, ms);
}

int
mode_conn(int port, const char *mode)
{
	char buf[64];
	int fd = tcp_connect(port);

	assert_true(fd >= 0);
	snprintf(buf, sizeof(buf), "%s\n", mode);
	assert_int_equal(send_str(fd, buf), 0);
	snprintf(buf, sizeof(buf), "mode %s\n", mode);
	assert_int_equal(expect_line(fd, buf), 0);
	return fd;
}

int
served(int fd)
{
	char buf[16];

	if (fd < 0 || send_str(fd, "ping\n") < 0)
		return 0;
	return recv_line(fd, buf, sizeof(buf), 2000) == 5 &&
	       strcmp(buf, "ping\n") == 0;
}

ssize_t
lines_next(struct lines *r, char *out, size_t max, int ms)
{
	long end = now_ms() + ms;
	char *nl;
	ssize_t got;
	size_t n;

	while ((nl = memchr(r->buf, '\n', r->len)) == NULL) {
		if (r->len == sizeof(r->buf))
			return -1;
		got = recv(r->fd, r->buf + r->len, sizeof(r->buf) - r->len,
		    MSG_DONTWAIT);
		if (got > 0)
			r->len += got;
		else if (got == 0 || (errno != EAGAIN && errno != EINTR))
			return -1;
		else if (!readable(r->fd, end))
			return 0;
	}
	n = nl - r->buf + 1;
	if (n >= max)
		return -1;
	memcpy(out, r->buf, n);
	out[n] = '\0';
	memmove(r->buf, r->buf + n, r->len - n);
	r->len -= n;
	return n;
}

int
wait_closed(int fd, int ms)
{
	long end = now_ms() + ms;
	char buf[4096];
	ssize_t r;

	while (readable(fd, end)) {
		r = recv(fd, buf, sizeof(buf), 0);
		if (r <= 0)
			return 1;
	}
	return 0;
}

int
quiet_for(int fd, int ms)
{
	return !readable(fd, now_ms() + ms);
}

int
expect_line(int fd, const char *want)
{
	char line[8192];

	if (recv_line(fd, line, sizeof(line), 3000) <= 0 ||
	    strcmp(line, want) != 0) {
		fprintf(stderr, "expected \"%s\", got \"%s\"\n", want, line);
		return -1;
	}
	return 0;
}

int
chat_join(int port, const char *name)
{
	return chat_login(tcp_connect(port), name);
}

int
chat_login(int fd, const char *name)
{
	char prompt[32];

	if (fd < 0)
		return -1;
	if (recv_n(fd, prompt, 18, 3000) != 18 ||
	    memcmp(prompt, "Handle you go by: ", 18) != 0 ||
	    send_str(fd, name) < 0 || send_str(fd, "\n") < 0 ||
	    expect_line(fd, "You are in the room.\n") < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int
listen_local(int port, int type)
{
	struct sockaddr_in a = {0};
	int fd = socket(AF_INET, type, 0), on = 1;

	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(port);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    (type == SOCK_STREAM && listen(fd, 16) < 0)) {
		close(fd);
		return -1;
	}
	return fd;
}

int
local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -1;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

int
udp_open(const char *ip, int port, int reuse)
{
	struct sockaddr_storage a;
	socklen_t alen = make_addr(ip, port, &a);
	int fd = socket(a.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0), on = 1;

	if (fd < 0)
		return -1;
	if ((reuse && setsockopt(
			  fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) < 0) ||
	    bind(fd, (struct sockaddr *)&a, alen) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int
udp_send(int fd, const char *ip, int port, const void *msg, size_t len)
{
	struct sockaddr_storage to;
	socklen_t tolen = make_addr(ip, port, &to);

	return sendto(fd, msg, len, 0, (struct sockaddr *)&to, tolen) ==
		       (ssize_t)len
		   ? 0
		   : -1;
}

ssize_t
udp_recv(int fd, void *buf, size_t max, int ms)
{
	ssize_t n;

	if (!readable(fd, now_ms() + ms))
		return -1;
	n = recv(fd, buf, max - 1, 0);
	((char *)buf)[n > 0 ? n : 0] = '\0';
	return n;
}

ssize_t
udp_ask(int fd, const char *ip, int port, const void *msg, size_t len,
    void *reply, size_t max, int ms)
{
	if (udp_send(fd, ip, port, msg, len) < 0)
		return -1;
	return udp_recv(fd, reply, max, ms);
}

ssize_t
udp_exchange(
    int port, const void *msg, size_t len, void *reply, size_t max, int ms)
{
	int fd = udp_open("127.0.0.1", 0, 0);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = udp_ask(fd, "127.0.0.1", port, msg, len, reply, max, ms);
	close(fd);
	return n;
}

static socklen_t
unix_addr(const char *path, struct sockaddr_un *a)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	snprintf(a->sun_path, sizeof(a->sun_path), "%s", path);
	return sizeof(*a);
}

int
unix_connect(const char *path)
{
	struct timeval tv = {5, 0};
	struct sockaddr_un a;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, unix_addr(path, &a)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int
unix_bound(const char *path, int listening)
{
	struct sockaddr_un a;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&a, unix_addr(path, &a)) < 0 ||
	    (listening && listen(fd, 16) < 0)) {
		close(fd);
		return -1;
	}
	return fd;
}

ssize_t
unix_dgram_ask(const char *self, const char *path, const char *msg, char *reply,
    size_t max, int ms)
{
	struct sockaddr_un me, to;
	struct pollfd p;
	ssize_t n = -1;

	p.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	p.events = POLLIN;
	if (p.fd < 0)
		return -1;
	unlink(self);
	/* whoever superd runs the program as may answer */
	if (bind(p.fd, (struct sockaddr *)&me, unix_addr(self, &me)) == 0 &&
	    chmod(self, 0666) == 0 &&
	    sendto(p.fd, msg, strlen(msg), 0, (struct sockaddr *)&to,
		unix_addr(path, &to)) >= 0 &&
	    poll(&p, 1, ms) == 1 && (n = recv(p.fd, reply, max - 1, 0)) >= 0)
		reply[n] = '\0';
	close(p.fd);
	unlink(self);
	return n;
}

void
reset_close(int fd)
{
	struct linger l = {1, 0};

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(fd);
}
