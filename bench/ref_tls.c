/*
 * ref_tls.c - the TLS yardstick: echo over TLS written by hand in C with
 * OpenSSL, one thread, one level-triggered epoll loop, non-blocking.  Its
 * context is set as superd's are (tlsctx.c): renegotiation refused,
 * compression off, a FIN without close_notify taken as the end, and
 * OpenSSL's buffers given back while a connection is idle
 * (SSL_MODE_RELEASE_BUFFERS); TLS 1.3 only, as the bench's superd.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define MAX_EVENTS 256
#define ACCEPTS 64 /* per readiness of the listener */
#define RBUF 16384 /* one record's plaintext */

struct conn {
	int fd;
	int handshaking;
	unsigned events; /* in the interest set */
	SSL *ssl;
	char *out; /* plaintext SSL_write could not take yet */
	size_t off, len;
};

static int ep, lfd;
static SSL_CTX *ctx;
static char rbuf[RBUF];

static void
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("ref_tls: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	ERR_print_errors_fp(stderr);
	exit(1);
}

static void
watch(struct conn *c, int op, unsigned events)
{
	struct epoll_event ev = {.events = events, .data.ptr = c};

	if (op == EPOLL_CTL_MOD && events == c->events)
		return;
	if (epoll_ctl(ep, op, c->fd, &ev) < 0)
		die("epoll_ctl: %s", strerror(errno));
	c->events = events;
}

/* A close_notify when the session is sound, then the descriptor. */
static void
conn_close(struct conn *c, int sound)
{
	if (sound && SSL_is_init_finished(c->ssl))
		SSL_shutdown(c->ssl);
	ERR_clear_error();
	close(c->fd);
	SSL_free(c->ssl);
	free(c->out);
	free(c);
}

/* WANT_READ or WANT_WRITE: what to wait for; -1: the connection is over. */
static int
wants(struct conn *c, int r)
{
	int e = SSL_get_error(c->ssl, r);

	if (e == SSL_ERROR_WANT_READ)
		return EPOLLIN;
	if (e == SSL_ERROR_WANT_WRITE)
		return EPOLLOUT;
	ERR_clear_error();
	conn_close(c, e == SSL_ERROR_ZERO_RETURN);
	return -1;
}

static void
handshake(struct conn *c)
{
	int r, w;

	ERR_clear_error();
	if ((r = SSL_do_handshake(c->ssl)) == 1) {
		c->handshaking = 0;
		watch(c, EPOLL_CTL_MOD, EPOLLIN);
		return;
	}
	if ((w = wants(c, r)) > 0)
		watch(c, EPOLL_CTL_MOD, (unsigned)w);
}

/*
 * Writes what waits; 0 when all has gone, 1 when the rest must wait
 * (reading stops meanwhile: back-pressure), -1 when the connection is
 * over.
 */
static int
flush(struct conn *c)
{
	int k, w;

	while (c->len > 0) {
		ERR_clear_error();
		k = SSL_write(c->ssl, c->out + c->off, (int)c->len);
		if (k > 0) {
			c->off += (size_t)k;
			c->len -= (size_t)k;
			continue;
		}
		if ((w = wants(c, k)) < 0)
			return -1;
		watch(c, EPOLL_CTL_MOD, (unsigned)w);
		return 1;
	}
	free(c->out);
	c->out = NULL;
	c->off = 0;
	watch(c, EPOLL_CTL_MOD, EPOLLIN);
	return 0;
}

static int
queue(struct conn *c, const char *p, size_t n)
{
	if ((c->out = malloc(n)) == NULL) {
		conn_close(c, 0);
		return -1;
	}
	memcpy(c->out, p, n);
	c->off = 0;
	c->len = n;
	return flush(c);
}

/*
 * Each record read is written back.  The kernel's bytes are reported
 * again (level-triggered); only what OpenSSL holds is read on here.
 */
static void
echo(struct conn *c)
{
	int k, w;

	do {
		ERR_clear_error();
		k = SSL_read(c->ssl, rbuf, sizeof(rbuf));
		if (k <= 0) {
			if ((w = wants(c, k)) > 0)
				watch(c, EPOLL_CTL_MOD, (unsigned)w);
			return;
		}
		if (queue(c, rbuf, (size_t)k) != 0)
			return;
	} while (SSL_has_pending(c->ssl));
}

static void
conn_event(struct conn *c, unsigned events)
{
	(void)events;
	if (c->handshaking)
		handshake(c);
	else if (c->len > 0)
		flush(c);
	else
		echo(c);
}

static void
on_accept(void)
{
	struct conn *c;
	int fd, i, on = 1;

	for (i = 0; i < ACCEPTS; i++) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
		if ((c = calloc(1, sizeof(*c))) == NULL ||
		    (c->ssl = SSL_new(ctx)) == NULL ||
		    SSL_set_fd(c->ssl, fd) != 1) {
			if (c != NULL)
				SSL_free(c->ssl);
			free(c);
			close(fd);
			ERR_clear_error();
			continue;
		}
		c->fd = fd;
		c->handshaking = 1;
		SSL_set_accept_state(c->ssl);
		watch(c, EPOLL_CTL_ADD, EPOLLIN);
		/* the ClientHello may be here already */
		handshake(c);
	}
}

static void
serve(void)
{
	struct epoll_event ev[MAX_EVENTS];
	int i, n;

	for (;;) {
		n = epoll_wait(ep, ev, MAX_EVENTS, -1);
		for (i = 0; i < n; i++) {
			if (ev[i].data.ptr == NULL)
				on_accept();
			else
				conn_event(ev[i].data.ptr, ev[i].events);
		}
	}
}

static void
ctx_setup(const char *cert, const char *key)
{
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL)
		die("SSL_CTX_new failed");
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_set_options(ctx,
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
		SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS |
				  SSL_MODE_ENABLE_PARTIAL_WRITE |
				  SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
		die("%s: cannot load the certificate", cert);
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1)
		die("%s: cannot load the key", key);
}

static void
listen_on(const char *addr, int port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
	int on = 1;

	sin.sin_port = htons(port);
	if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1)
		die("bad address %s", addr);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd < 0 ||
	    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) ||
	    bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    listen(lfd, 511) < 0)
		die("cannot listen on %s port %d: %s", addr, port,
		    strerror(errno));
	if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0)
		die("epoll_ctl: %s", strerror(errno));
}

static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void
usage(void)
{
	fprintf(stderr, "usage: ref_tls [-a addr] -e echo-port -C cert.pem "
			"-K key.pem\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	const char *addr = "127.0.0.1", *cert = NULL, *key = NULL;
	int ch, port = 0;

	while ((ch = getopt(argc, argv, "a:e:C:K:")) != -1) {
		switch (ch) {
		case 'a':
			addr = optarg;
			break;
		case 'e':
			port = atoi(optarg);
			break;
		case 'C':
			cert = optarg;
			break;
		case 'K':
			key = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || port <= 0 || cert == NULL || key == NULL)
		usage();
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	ctx_setup(cert, key);
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		die("epoll_create1: %s", strerror(errno));
	listen_on(addr, port);
	serve();
	return 0;
}
