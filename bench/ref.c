/*
 * ref.c - the benchmark's yardstick: echo, qotd, the line chat and UDP
 * echo written by hand in C, one thread, one level-triggered epoll loop.
 * On the wire it behaves as services/{echo,qotd,chat}.lua do.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RBUF 65536
#define MAX_LINE 65536	    /* superd's max_line */
#define OUT_LIMIT (1 << 20) /* superd's output_limit: a slow consumer */
#define LOGIN_TIMEOUT 60    /* chat.lua's login_timeout */
#define MAX_EVENTS 256
#define MAX_QUOTE 512 /* RFC 865 */

/* Listeners and connections apart, so an event's pointer says whose it is. */
enum kind { L_ECHO, L_QOTD, L_CHAT, L_UDP, K_ECHO, K_CHAT };

struct buf {
	char *p;
	size_t off, len, cap; /* the bytes are p[off .. off + len) */
};

/* kind comes first in both, so an epoll event's pointer can be read. */
struct listener {
	int kind;
	int fd;
};

struct conn {
	int kind;
	int fd;
	int dead, queued, writing; /* writing: EPOLLOUT is armed */
	double deadline;	   /* chat: end of the login */
	char *handle;		   /* chat: NULL until logged in */
	size_t hlen;
	struct buf in, out;
	struct conn *prev, *next; /* the login queue or the room */
	struct conn *fnext;	  /* the flush queue */
	struct conn *gnext;	  /* the graveyard */
};

struct list {
	struct conn *head, *tail;
};

static int ep;
static char rbuf[RBUF];
static char *quote[1024];
static size_t quote_len[1024];
static int nquotes;
static struct list logins; /* oldest first: one timeout for all */
static struct list room;
static struct conn *flushq, *graveyard;
static int spare = -1; /* given up to accept and shed a peer at EMFILE */

static void
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("ref: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
buf_add(struct buf *b, const char *p, size_t n)
{
	size_t cap = b->cap ? b->cap : 256;
	char *np;

	if (b->off + b->len + n > b->cap && b->off > 0) {
		memmove(b->p, b->p + b->off, b->len);
		b->off = 0;
	}
	while (b->len + n > cap)
		cap *= 2;
	if (cap != b->cap) {
		if ((np = realloc(b->p, cap)) == NULL)
			return -1;
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->off + b->len, p, n);
	b->len += n;
	return 0;
}

static void
buf_eat(struct buf *b, size_t n)
{
	b->off += n;
	b->len -= n;
	if (b->len == 0)
		b->off = 0;
}

static void
list_add(struct list *l, struct conn *c)
{
	c->next = NULL;
	c->prev = l->tail;
	if (l->tail)
		l->tail->next = c;
	else
		l->head = c;
	l->tail = c;
}

static void
list_del(struct list *l, struct conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		l->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		l->tail = c->prev;
	c->prev = c->next = NULL;
}

static void
watch(struct conn *c, int op, unsigned events)
{
	struct epoll_event ev = {.events = events, .data.ptr = c};

	if (epoll_ctl(ep, op, c->fd, &ev) < 0)
		die("epoll_ctl: %s", strerror(errno));
}

static void room_say(
    struct conn *from, const char *a, size_t na, const char *b, size_t nb);

#define LIT(s) s, sizeof(s) - 1

/*
 * Freed only after the current batch of events and the flush queue,
 * which may still point at it.
 */
static void
conn_close(struct conn *c)
{
	if (c->dead)
		return;
	c->dead = 1;
	close(c->fd);
	if (c->kind == K_CHAT && c->handle == NULL)
		list_del(&logins, c);
	if (c->kind == K_CHAT && c->handle != NULL) {
		list_del(&room, c);
		room_say(
		    c, c->handle, c->hlen, LIT(" has left the building!\n"));
	}
	c->gnext = graveyard;
	graveyard = c;
}

static void
bury(void)
{
	struct conn *c;

	while ((c = graveyard) != NULL) {
		graveyard = c->gnext;
		free(c->in.p);
		free(c->out.p);
		free(c->handle);
		free(c);
	}
}

/* Sends what is queued; arms EPOLLOUT only while the kernel is full. */
static void
conn_flush(struct conn *c)
{
	ssize_t n;

	while (c->out.len > 0) {
		n = send(
		    c->fd, c->out.p + c->out.off, c->out.len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0) {
			conn_close(c);
			return;
		}
		buf_eat(&c->out, n);
	}
	if ((c->out.len > 0) != c->writing) {
		c->writing = c->out.len > 0;
		/* An echo that cannot write stops reading: back-pressure. */
		watch(c, EPOLL_CTL_MOD,
		    c->writing ? (c->kind == K_ECHO ? 0 : EPOLLIN) | EPOLLOUT
			       : EPOLLIN);
	}
}

/* Output for another connection goes out once per loop turn. */
static void
conn_queue(struct conn *c, const char *p, size_t n)
{
	if (c->dead)
		return;
	if (buf_add(&c->out, p, n) < 0 || c->out.len > OUT_LIMIT) {
		conn_close(c);
		return;
	}
	if (!c->queued) {
		c->queued = 1;
		c->fnext = flushq;
		flushq = c;
	}
}

static void
flush_all(void)
{
	struct conn *c;

	while ((c = flushq) != NULL) {
		flushq = c->fnext;
		c->queued = 0;
		if (!c->dead)
			conn_flush(c);
	}
}

/* One message, a then b (a handle and a text), to every member but from. */
static void
room_say(struct conn *from, const char *a, size_t na, const char *b, size_t nb)
{
	char *msg = malloc(na + nb);
	struct conn *m;

	if (msg == NULL)
		return;
	memcpy(msg, a, na);
	memcpy(msg + na, b, nb);
	for (m = room.head; m != NULL; m = m->next)
		if (m != from)
			conn_queue(m, msg, na + nb);
	free(msg);
}

static void
chat_join(struct conn *c, const char *name, size_t n)
{
	if ((c->handle = malloc(n)) == NULL) {
		conn_close(c);
		return;
	}
	memcpy(c->handle, name, n);
	c->hlen = n;
	list_del(&logins, c);
	list_add(&room, c);
	conn_queue(c, LIT("You are in the room.\n"));
	room_say(c, name, n, LIT(" is in da room!\n"));
}

/* Lines may hold any byte, NUL too, as Lua strings do. */
static void
chat_line(struct conn *c, char *line, size_t n)
{
	char *text;

	if (c->handle == NULL && n == 0) {
		conn_close(c);
	} else if (c->handle == NULL) {
		chat_join(c, line, n);
	} else if ((text = malloc(n + 3)) != NULL) {
		memcpy(text, ": ", 2);
		memcpy(text + 2, line, n);
		text[n + 2] = '\n';
		room_say(c, c->handle, c->hlen, text, n + 3);
		free(text);
	}
}

/* Lines end in \n or \r\n, as socket:read("l") sees them. */
static void
chat_lines(struct conn *c, int eof)
{
	char *p, *nl;
	size_t n;

	while (!c->dead && c->in.len > 0) {
		p = c->in.p + c->in.off;
		nl = memchr(p, '\n', c->in.len);
		if (nl == NULL && !eof)
			return;
		n = nl ? (size_t)(nl - p) : c->in.len;
		buf_eat(&c->in, nl ? n + 1 : n);
		if (n > 0 && p[n - 1] == '\r')
			n--;
		chat_line(c, p, n);
	}
}

static void
chat_read(struct conn *c)
{
	ssize_t n = read(c->fd, rbuf, sizeof(rbuf));

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0 && buf_add(&c->in, rbuf, n) == 0) {
		chat_lines(c, 0);
		if (c->in.len > MAX_LINE)
			conn_close(c);
		return;
	}
	if (n == 0)
		chat_lines(c, 1);
	conn_close(c);
}

/* Bytes go back as they arrive; what the kernel will not take waits. */
static void
echo_read(struct conn *c)
{
	ssize_t n = read(c->fd, rbuf, sizeof(rbuf)), w;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(c);
		return;
	}
	w = send(c->fd, rbuf, n, MSG_NOSIGNAL);
	if (w < 0 && errno != EAGAIN) {
		conn_close(c);
		return;
	}
	if (w < 0)
		w = 0;
	if (w < n) {
		if (buf_add(&c->out, rbuf + w, n - w) < 0)
			conn_close(c);
		else
			conn_flush(c);
	}
}

static void
conn_event(struct conn *c, unsigned events)
{
	if (c->dead)
		return;
	if ((events & (EPOLLOUT | EPOLLERR)) && c->writing)
		conn_flush(c);
	if (c->dead || !(events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
		return;
	if (c->kind == K_ECHO && !c->writing)
		echo_read(c);
	else if (c->kind == K_CHAT)
		chat_read(c);
	else if (events & (EPOLLERR | EPOLLHUP))
		conn_close(c); /* an echo that can no longer write */
}

static void
qotd_serve(int fd)
{
	int i = (int)(random() % nquotes);

	send(fd, quote[i], quote_len[i], MSG_NOSIGNAL);
	close(fd);
}

static void
conn_open(int kind, int fd)
{
	struct conn *c = calloc(1, sizeof(*c));
	int on = 1;

	if (c == NULL) {
		close(fd);
		return;
	}
	c->kind = kind;
	c->fd = fd;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	watch(c, EPOLL_CTL_ADD, EPOLLIN);
	if (kind == K_CHAT) {
		c->deadline = now() + LOGIN_TIMEOUT;
		list_add(&logins, c);
		conn_queue(c, LIT("Handle you go by: "));
	}
}

/* Out of descriptors: accept with the spare one and hang up at once. */
static void
shed(int lfd)
{
	close(spare);
	close(accept(lfd, NULL, NULL));
	spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static void
on_accept(struct listener *l)
{
	int fd;

	for (;;) {
		fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0 && (errno == EMFILE || errno == ENFILE))
			shed(l->fd);
		if (fd < 0 && errno != EINTR && errno != ECONNABORTED)
			return;
		if (fd < 0)
			continue;
		if (l->kind == L_QOTD)
			qotd_serve(fd);
		else
			conn_open(l->kind == L_ECHO ? K_ECHO : K_CHAT, fd);
	}
}

/* Privileged source ports are dropped, as superd does (CVE-1999-0103). */
static void
on_datagram(struct listener *l)
{
	struct sockaddr_storage peer;
	socklen_t plen;
	ssize_t n;
	int i;

	for (i = 0; i < 64; i++) {
		plen = sizeof(peer);
		n = recvfrom(l->fd, rbuf, sizeof(rbuf), 0,
		    (struct sockaddr *)&peer, &plen);
		if (n < 0)
			return;
		if (ntohs(((struct sockaddr_in *)&peer)->sin_port) >= 1024)
			sendto(
			    l->fd, rbuf, n, 0, (struct sockaddr *)&peer, plen);
	}
}

static void
listen_on(const char *addr, int port, int kind)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	struct epoll_event ev = {.events = EPOLLIN};
	struct listener *l = calloc(1, sizeof(*l));
	int type = kind == L_UDP ? SOCK_DGRAM : SOCK_STREAM, on = 1;

	sin.sin_port = htons(port);
	if (l == NULL || inet_pton(AF_INET, addr, &sin.sin_addr) != 1)
		die("bad address %s", addr);
	l->kind = kind;
	l->fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (l->fd < 0 ||
	    setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) ||
	    bind(l->fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    (type == SOCK_STREAM && listen(l->fd, 511) < 0))
		die("cannot listen on %s port %d: %s", addr, port,
		    strerror(errno));
	ev.data.ptr = l;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, l->fd, &ev) < 0)
		die("epoll_ctl: %s", strerror(errno));
}

static void
quote_add(char *q, size_t n)
{
	if (n > 0 && n < MAX_QUOTE && nquotes < 1024) {
		quote[nquotes] = strdup(q);
		quote_len[nquotes++] = n;
	}
}

/* Quotes are separated by blank lines and sent with CRLF line ends. */
static void
load_quotes(const char *path)
{
	char line[1024], q[4 * MAX_QUOTE];
	size_t n = 0, k;
	FILE *f = fopen(path, "r");

	if (f == NULL)
		die("%s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[strspn(line, " \t\f\v")] == '\0') {
			quote_add(q, n);
			n = 0;
		} else if ((k = strlen(line)) + 3 + n < sizeof(q)) {
			memcpy(q + n, line, k);
			memcpy(q + n + k, "\r\n", 3);
			n += k + 2;
		}
	}
	quote_add(q, n);
	fclose(f);
	if (nquotes == 0)
		quote_add("No quotes today.\r\n", 18);
}

/* A chat login that outlived its timeout; the queue is oldest first. */
static int
expire_logins(void)
{
	double t;

	if (logins.head == NULL)
		return -1;
	t = now();
	while (logins.head && logins.head->deadline <= t)
		conn_close(logins.head);
	if (logins.head == NULL)
		return -1;
	return (int)((logins.head->deadline - t) * 1000) + 1;
}

static void
serve(void)
{
	struct epoll_event ev[MAX_EVENTS];
	struct listener *l;
	int i, n;

	for (;;) {
		n = epoll_wait(ep, ev, MAX_EVENTS, expire_logins());
		for (i = 0; i < n; i++) {
			l = ev[i].data.ptr;
			if (l->kind == L_UDP)
				on_datagram(l);
			else if (l->kind < K_ECHO)
				on_accept(l);
			else
				conn_event(ev[i].data.ptr, ev[i].events);
		}
		flush_all();
		bury();
	}
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
	fprintf(stderr,
	    "usage: ref [-a addr] [-e echo-port] [-u udp-echo-port] "
	    "[-q qotd-port] [-c chat-port] [-f quotes]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	const char *addr = "127.0.0.1", *quotes = "conf/quotes.txt";
	int ch, port[4] = {0}, k;

	while ((ch = getopt(argc, argv, "a:e:u:q:c:f:")) != -1) {
		switch (ch) {
		case 'a':
			addr = optarg;
			break;
		case 'e':
			port[L_ECHO] = atoi(optarg);
			break;
		case 'q':
			port[L_QOTD] = atoi(optarg);
			break;
		case 'c':
			port[L_CHAT] = atoi(optarg);
			break;
		case 'u':
			port[L_UDP] = atoi(optarg);
			break;
		case 'f':
			quotes = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	raise_nofile();
	srandom((unsigned)time(NULL) ^ (unsigned)getpid());
	if (port[L_QOTD])
		load_quotes(quotes);
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		die("epoll_create1: %s", strerror(errno));
	spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	for (k = L_ECHO; k <= L_UDP; k++)
		if (port[k] > 0)
			listen_on(addr, port[k], k);
	serve();
	return 0;
}
