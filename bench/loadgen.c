/* loadgen.c - load for superd and bench/ref: echo, connect, chat, udp, idle,
 * the floods beside an echo: stream (chargen) and flood (a chat talker),
 * and over TLS (-t) echo, idle and full handshakes (bench/ref_tls). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define NS 1000000000ULL
#define MS 1000000ULL
#define OPEN_WINDOW 256 /* connects in flight per thread: a listen */
			/* backlog that overflows costs a 1 s SYN retry */
#define OPEN_TIMEOUT (60 * NS)
#define LOST_AFTER (5 * NS) /* a chat line later than this is lost */
#define UDP_RESEND NS
#define HIST_SUB 64 /* buckets per power of two: under 1.6% error */
#define HIST_LEN (HIST_SUB * 59)
#define RXBUF 65536
#define BURST 16 /* recv or send calls per event: the clock is read between */
#define FLOOD_LINE 100

enum mode {
	M_ECHO,
	M_CONNECT,
	M_CHAT,
	M_UDP,
	M_IDLE,
	M_STREAM,
	M_FLOOD,
	M_HANDSHAKE
};

enum state {
	S_FREE,
	S_CONNECTING,
	S_IDLE,	   /* connected, nothing in flight */
	S_ECHO,	   /* an echo round-trip in flight */
	S_QOTD,	   /* connect mode: reading until EOF */
	S_LOGIN,   /* chat: waiting for the prompt */
	S_JOINING, /* chat: handle sent */
	S_MEMBER,
	S_STREAM,    /* stream: reading all that comes */
	S_HANDSHAKE, /* TLS: connected, the handshake under way */
};

struct conn {
	int fd;
	int state;
	int wantout; /* EPOLLOUT is in the interest set */
	int opening; /* counted in its worker's pending */
	int len;     /* bytes in line[] */
	size_t sent, got;
	uint64_t t0;
	uint64_t seq;	 /* udp: the datagram this slot waits for */
	uint64_t t_open; /* handshake: when its connect began */
	SSL *ssl;	 /* -t: the TLS session over fd */
	char line[112];
};

struct hist {
	uint64_t n[HIST_LEN];
	uint64_t count, max;
};

struct worker {
	pthread_t thread;
	int tid; /* the kernel's, for its schedstat */
	int id, ep, udp;
	struct conn *c; /* this thread's slice of conns[] */
	int n;
	int next;    /* next slot the open phase starts */
	int pending; /* opens (connect mode: connections) in flight */
	int ready;   /* slots open and usable */
	uint64_t done, errors, lost, scanned;
	uint64_t bytes, ended; /* stream: read in the window; cut short */
	struct hist h;
};

struct opts {
	const char *host, *mode;
	int port, conns, size, threads;
	double secs, rate, hold;
	long total;
	int pid; /* the server, whose CPU time the window is charged */
	int tls;
};

static struct opts opt = {
    "127.0.0.1", "echo", 7007, 100, 64, 1, 5, 20, 10, 0, 0, 0};
/* -t: TLS 1.3, no session kept, so that every handshake is a full one */
static SSL_CTX *tls;
static int mode;
static struct sockaddr_in dst;
static struct conn *conns;
static struct worker *workers;
static char *payload;
static pthread_barrier_t barrier;
static uint64_t t_start, t_end, t_stop;
static double cpu_start, cpu_stop;   /* the server's */
static double wait_start, wait_stop; /* kept off a CPU */
static atomic_long started;	     /* connect mode: connections begun */
static atomic_int nerrors;	     /* only the first few are printed */
static atomic_int joined;	     /* chat members in the room */
static atomic_long joinmsgs;	     /* "is in da room!" lines received */
static atomic_ullong quiet;	     /* when the last of those arrived */
static atomic_int finished;
static int nlines;		  /* chat lines to send */
static _Atomic uint64_t *sent_ns; /* chat: when line i left */
static atomic_int *got_by;	  /* chat: members that have line i */
static atomic_int members_ok;	  /* lines every member had in time */

/* flood: what the talker says, over and over */
static char flood_text[64 * FLOOD_LINE];

static void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("loadgen: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(2);
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;
}

/* Log-linear buckets: fixed memory, whatever the run's length. */
static int
hist_index(uint64_t ns)
{
	int shift;

	if (ns < HIST_SUB)
		return (int)ns;
	shift = 63 - __builtin_clzll(ns) - 6;
	return HIST_SUB * (shift + 1) + (int)(ns >> shift) - HIST_SUB;
}

static double
hist_value_us(int i)
{
	int shift = i / HIST_SUB - 1;

	if (i < HIST_SUB)
		return i / 1000.0;
	return (double)((uint64_t)(i % HIST_SUB + HIST_SUB) << shift) *
	       (1 + 0.5 / HIST_SUB) / 1000.0;
}

static void
hist_add(struct hist *h, uint64_t ns)
{
	h->n[hist_index(ns)]++;
	h->count++;
	if (ns > h->max)
		h->max = ns;
}

static double
hist_pct(const struct hist *h, double p)
{
	uint64_t want = (uint64_t)(p * h->count + 0.999999), sum = 0;
	int i;

	if (h->count == 0)
		return 0;
	/* A bucket's middle may lie past the largest sample in it. */
	for (i = 0; i < HIST_LEN; i++) {
		sum += h->n[i];
		if (sum >= want && hist_value_us(i) < h->max / 1000.0)
			return hist_value_us(i);
		if (sum >= want)
			return h->max / 1000.0;
	}
	return h->max / 1000.0;
}

/* Says why, for the first few: a count alone does not explain a run. */
static void
fail(struct worker *w, const char *what, int err)
{
	w->errors++;
	if (atomic_fetch_add(&nerrors, 1) < 5)
		fprintf(stderr, "loadgen: %s: %s\n", what, strerror(err));
}

static void
ev_set(struct worker *w, struct conn *c, int op, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = c};

	if (epoll_ctl(w->ep, op, c->fd, &ev) < 0)
		fatal("epoll_ctl: %s", strerror(errno));
	c->wantout = (events & EPOLLOUT) != 0;
}

static void
conn_drop(struct worker *w, struct conn *c)
{
	if (c->ssl != NULL) {
		SSL_free(c->ssl);
		c->ssl = NULL;
		ERR_clear_error();
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->state = S_FREE;
	c->len = 0;
	if (c->opening) {
		c->opening = 0;
		w->pending--;
	}
}

/* The end of an open: connected, and for idle one round-trip done. */
static void
conn_ready(struct worker *w, struct conn *c)
{
	c->state = S_IDLE;
	c->opening = 0;
	w->pending--;
	w->ready++;
}

static int
conn_start(struct worker *w, struct conn *c, int state, uint32_t events)
{
	int on = 1;

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		fail(w, "socket", errno);
		return -1;
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	c->t0 = now_ns();
	if (connect(c->fd, (struct sockaddr *)&dst, sizeof(dst)) < 0 &&
	    errno != EINPROGRESS) {
		fail(w, "connect", errno);
		close(c->fd);
		c->fd = -1;
		return -1;
	}
	c->state = state;
	c->len = 0;
	c->got = 0;
	ev_set(w, c, EPOLL_CTL_ADD, events);
	return 0;
}

static int
in_window(uint64_t t)
{
	return t >= t_start && t <= t_end;
}

/* OpenSSL's "would block", either way, is EAGAIN; its end of input is 0. */
static ssize_t
tls_result(struct conn *c, int r)
{
	int e = SSL_get_error(c->ssl, r);

	ERR_clear_error();
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		errno = EAGAIN;
		return -1;
	}
	if (e == SSL_ERROR_ZERO_RETURN)
		return 0;
	errno = ECONNRESET;
	return -1;
}

static ssize_t
io_recv(struct conn *c, void *p, size_t n)
{
	int k;

	if (c->ssl == NULL)
		return recv(c->fd, p, n, 0);
	k = SSL_read(c->ssl, p, (int)n);
	return k > 0 ? k : tls_result(c, k);
}

static ssize_t
io_send(struct conn *c, const void *p, size_t n)
{
	int k;

	if (c->ssl == NULL)
		return send(c->fd, p, n, MSG_NOSIGNAL);
	k = SSL_write(c->ssl, p, (int)n);
	return k > 0 ? k : tls_result(c, k);
}

static void
req_send(struct worker *w, struct conn *c)
{
	ssize_t n;

	while (c->sent < (size_t)opt.size) {
		n = io_send(c, payload + c->sent, opt.size - c->sent);
		if (n > 0) {
			c->sent += n;
		} else if (errno == EAGAIN) {
			if (!c->wantout)
				ev_set(w, c, EPOLL_CTL_MOD, EPOLLIN | EPOLLOUT);
			return;
		} else if (errno != EINTR) {
			fail(w, "send", errno);
			conn_drop(w, c);
			return;
		}
	}
	if (c->wantout)
		ev_set(w, c, EPOLL_CTL_MOD, EPOLLIN);
}

static void
req_start(struct worker *w, struct conn *c)
{
	c->state = S_ECHO;
	c->t0 = now_ns();
	c->sent = c->got = 0;
	req_send(w, c);
}

static void hs_done(struct worker *w, struct conn *c);

/*
 * An open's own round-trip (idle; TLS, so that the session tickets
 * that follow the handshake are read before the window) ends the open.
 */
static void
req_done(struct worker *w, struct conn *c)
{
	uint64_t now = now_ns();

	if (mode == M_HANDSHAKE) {
		hs_done(w, c);
		return;
	}
	if (c->opening) {
		conn_ready(w, c);
		return;
	}
	if (in_window(now)) {
		hist_add(&w->h, now - c->t0);
		w->done++;
	}
	if (now < t_end)
		req_start(w, c);
	else
		c->state = S_IDLE;
}

/* Echo bytes come back in order, so each is checked where it belongs. */
static void
req_recv(struct worker *w, struct conn *c)
{
	char buf[RXBUF];
	size_t want;
	ssize_t n;

	while (c->got < (size_t)opt.size) {
		want = opt.size - c->got;
		n = io_recv(c, buf, want < RXBUF ? want : RXBUF);
		if (n > 0 && memcmp(buf, payload + c->got, n) != 0) {
			fail(w, "echo: wrong bytes back", EBADMSG);
			conn_drop(w, c);
			return;
		} else if (n > 0) {
			c->got += n;
		} else if (n < 0 && errno == EAGAIN) {
			return;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else {
			fail(w, "echo: recv", n == 0 ? ECONNRESET : errno);
			conn_drop(w, c);
			return;
		}
	}
	req_done(w, c);
}

/* Connected, and over TLS handshaken: the mode's start. */
static void
opened(struct worker *w, struct conn *c)
{
	if (mode == M_IDLE || c->ssl != NULL) {
		req_start(w, c);
		return;
	}
	ev_set(w, c, EPOLL_CTL_MOD, EPOLLIN);
	if (mode == M_ECHO || mode == M_STREAM) {
		conn_ready(w, c);
		if (mode == M_STREAM)
			c->state = S_STREAM;
	} else {
		c->state = S_LOGIN;
		c->opening = 0;
		w->pending--;
	}
}

static void
tls_step(struct worker *w, struct conn *c)
{
	uint32_t want;
	int r, e;

	if ((r = SSL_do_handshake(c->ssl)) == 1) {
		c->state = S_IDLE;
		opened(w, c);
		return;
	}
	e = SSL_get_error(c->ssl, r);
	ERR_clear_error();
	if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
		fail(w, "tls handshake",
		    e == SSL_ERROR_SYSCALL && errno != 0 ? errno : EPROTO);
		conn_drop(w, c);
		return;
	}
	want = e == SSL_ERROR_WANT_WRITE ? EPOLLIN | EPOLLOUT : EPOLLIN;
	if (c->state != S_HANDSHAKE || c->wantout != !!(want & EPOLLOUT))
		ev_set(w, c, EPOLL_CTL_MOD, want);
	c->state = S_HANDSHAKE;
}

static void
on_connected(struct worker *w, struct conn *c)
{
	int err = 0;
	socklen_t len = sizeof(err);

	getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
	if (err != 0) {
		fail(w, "connect", err);
		conn_drop(w, c);
		return;
	}
	if (tls == NULL) {
		opened(w, c);
		return;
	}
	if ((c->ssl = SSL_new(tls)) == NULL || SSL_set_fd(c->ssl, c->fd) != 1)
		fatal("SSL_new failed");
	SSL_set_connect_state(c->ssl);
	tls_step(w, c);
}

/* handshake: a new connection, a full handshake, one round-trip, again. */
static void
hs_restart(struct worker *w, struct conn *c)
{
	uint64_t now = now_ns();

	if (now >= t_end)
		return;
	if (conn_start(w, c, S_CONNECTING, EPOLLOUT) == 0) {
		c->t_open = now;
		c->opening = 1;
		w->pending++;
	}
}

/* The round-trip says the server is done too; a close_notify, and on. */
static void
hs_done(struct worker *w, struct conn *c)
{
	uint64_t now = now_ns();

	if (in_window(now)) {
		hist_add(&w->h, now - c->t_open);
		w->done++;
	}
	SSL_shutdown(c->ssl);
	conn_drop(w, c);
	hs_restart(w, c);
}

static void
qotd_restart(struct worker *w, struct conn *c)
{
	uint64_t now = now_ns();

	if (now >= t_end ||
	    (opt.total > 0 && atomic_fetch_add(&started, 1) >= opt.total))
		return;
	if (conn_start(w, c, S_QOTD, EPOLLIN) == 0)
		w->pending++;
}

/* connect -n: the run is over when the last connection is. */
static int
qotd_tick(struct worker *w)
{
	return w->pending == 0;
}

/* A QOTD client: everything until EOF, then the next connection. */
static void
qotd_recv(struct worker *w, struct conn *c)
{
	char buf[RXBUF];
	ssize_t n;

	while ((n = recv(c->fd, buf, sizeof(buf), 0)) > 0)
		c->got += n;
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0 || c->got == 0) {
		fail(w, "qotd", n < 0 ? errno : ENODATA);
	} else if (in_window(now_ns())) {
		hist_add(&w->h, now_ns() - c->t0);
		w->done++;
	}
	conn_drop(w, c);
	w->pending--;
	qotd_restart(w, c);
}

static void
chat_line(struct worker *w, struct conn *c, char *line)
{
	const char *p = strstr(line, ": L");
	uint64_t now;
	long i;

	if (c->state == S_JOINING &&
	    strcmp(line, "You are in the room.") == 0) {
		c->state = S_MEMBER;
		atomic_fetch_add(&joined, 1);
		atomic_store(&quiet, now_ns());
		return;
	}
	if (strstr(line, " is in da room!") != NULL) {
		atomic_fetch_add(&joinmsgs, 1);
		atomic_store(&quiet, now_ns());
		return;
	}
	if (mode == M_FLOOD) {
		w->done += strstr(line, ": F") != NULL;
		return;
	}
	if (p == NULL || nlines == 0 || (i = strtol(p + 3, NULL, 10)) < 0 ||
	    i >= nlines)
		return;
	/* The member that completes a line is the one that times it. */
	if (atomic_fetch_add(&got_by[i], 1) + 1 == atomic_load(&joined) - 1) {
		now = now_ns() - atomic_load(&sent_ns[i]);
		if (now <= LOST_AFTER) {
			hist_add(&w->h, now);
			atomic_fetch_add(&members_ok, 1);
		}
	}
}

static void
chat_login(struct worker *w, struct conn *c)
{
	char handle[32];
	int n;

	c->line[c->len] = '\0';
	if (strstr(c->line, "Handle you go by: ") == NULL)
		return;
	n = snprintf(handle, sizeof(handle), "u%d-%d\n", (int)getpid(),
	    (int)(c - conns));
	c->len = 0;
	c->state = S_JOINING;
	if (send(c->fd, handle, n, MSG_NOSIGNAL) != n) {
		fail(w, "chat: send handle", errno);
		conn_drop(w, c);
	}
}

/* Splits what arrived into lines; an overlong line is cut, not kept. */
static void
chat_feed(struct worker *w, struct conn *c, const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n && c->fd >= 0; i++) {
		if (p[i] == '\n' && c->state != S_LOGIN) {
			c->line[c->len] = '\0';
			c->len = 0;
			chat_line(w, c, c->line);
		} else if (c->len < (int)sizeof(c->line) - 1) {
			c->line[c->len++] = p[i];
			if (c->state == S_LOGIN && p[i] == ' ')
				chat_login(w, c);
		}
	}
}

static void
chat_recv(struct worker *w, struct conn *c)
{
	char buf[RXBUF];
	ssize_t n;

	while ((n = recv(c->fd, buf, sizeof(buf), 0)) > 0) {
		chat_feed(w, c, buf, n);
		if (c->fd < 0)
			return;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	fail(w, "chat: recv", n == 0 ? ECONNRESET : errno);
	if (c->state == S_MEMBER)
		atomic_fetch_sub(&joined, 1);
	conn_drop(w, c);
}

/* A chargen client: all that comes, as fast as it comes (RFC 864). */
static void
stream_recv(struct worker *w, struct conn *c)
{
	char buf[RXBUF];
	ssize_t n = 0;
	int i;

	for (i = 0; i < BURST && (n = recv(c->fd, buf, sizeof(buf), 0)) > 0;
	     i++)
		if (in_window(now_ns()))
			w->bytes += n;
	if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR)))
		return;
	if (now_ns() < t_end) {
		w->ended++;
		fail(w, "stream: ended by the server",
		    n == 0 ? ECONNRESET : errno);
	}
	conn_drop(w, c);
	w->ready--;
}

/* The flood's talker: lines as fast as the chat takes them, in the window. */
static void
flood_send(struct worker *w, struct conn *c)
{
	size_t off;
	ssize_t n;
	int i;

	if (now_ns() >= t_end) {
		ev_set(w, c, EPOLL_CTL_MOD, EPOLLIN);
		return;
	}
	for (i = 0; i < BURST; i++) {
		off = c->sent % sizeof(flood_text);
		n = send(c->fd, flood_text + off, sizeof(flood_text) - off,
		    MSG_NOSIGNAL);
		if (n > 0)
			c->sent += n;
		else if (n < 0 && errno == EAGAIN)
			break;
		else if (n < 0 && errno != EINTR) {
			fail(w, "flood: send", errno);
			conn_drop(w, c);
			return;
		}
	}
	if (!c->wantout)
		ev_set(w, c, EPOLL_CTL_MOD, EPOLLIN | EPOLLOUT);
}

static void udp_recv(struct worker *w);
static int open_more(struct worker *w);

static void
dispatch(struct worker *w, struct conn *c, uint32_t ev)
{
	if (c == NULL) {
		udp_recv(w);
		return;
	}
	switch (c->state) {
	case S_CONNECTING:
		on_connected(w, c);
		break;
	case S_ECHO:
		if ((ev & (EPOLLOUT | EPOLLERR)) && c->sent < (size_t)opt.size)
			req_send(w, c);
		if (c->fd >= 0 && (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)))
			req_recv(w, c);
		break;
	case S_QOTD:
		qotd_recv(w, c);
		break;
	case S_MEMBER:
		if (c->wantout && (ev & EPOLLOUT))
			flood_send(w, c);
		if (c->fd >= 0 && (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)))
			chat_recv(w, c);
		break;
	case S_LOGIN:
	case S_JOINING:
		chat_recv(w, c);
		break;
	case S_STREAM:
		stream_recv(w, c);
		break;
	case S_HANDSHAKE:
		tls_step(w, c);
		break;
	case S_IDLE:
		/* Nothing is due: data or EOF here means the server broke. */
		fail(w, "idle connection", ECONNRESET);
		conn_drop(w, c);
		w->ready--;
		break;
	}
}

static int
open_more(struct worker *w)
{
	struct conn *c;

	while (w->pending < OPEN_WINDOW && w->next < w->n) {
		c = &w->c[w->next++];
		if (conn_start(w, c, S_CONNECTING, EPOLLOUT) == 0) {
			c->opening = 1;
			w->pending++;
		}
	}
	return w->next == w->n && w->pending == 0;
}

typedef int tick_fn(struct worker *w); /* nonzero: the phase is over */

static void
run_loop(struct worker *w, uint64_t until, int tick_ms, tick_fn *tick)
{
	struct epoll_event ev[256];
	uint64_t now;
	int i, n, ms;

	while ((now = now_ns()) < until && (tick == NULL || !tick(w))) {
		ms = (int)((until - now) / MS) + 1;
		n = epoll_wait(w->ep, ev, 256, ms < tick_ms ? ms : tick_ms);
		for (i = 0; i < n; i++)
			dispatch(w, ev[i].data.ptr, ev[i].events);
	}
}

static void
open_all(struct worker *w)
{
	run_loop(w, now_ns() + OPEN_TIMEOUT, 100, open_more);
	if (w->pending > 0)
		fail(w, "opens still pending", ETIMEDOUT);
}

/*
 * The server's utime + stime, and its reaped children's (an exec
 * service's programs), in seconds.
 */
static double
server_cpu(void)
{
	unsigned long long ut, st, cut, cst;
	char path[64], buf[1024], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", opt.pid);
	if (opt.pid == 0 || (f = fopen(path, "r")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* After the command name, which may hold spaces. */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2,
		"%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
		"%llu %llu %llu %llu",
		&ut, &st, &cut, &cst) != 4)
		return 0;
	return (double)(ut + st + cut + cst) / sysconf(_SC_CLK_TCK);
}

/* Nanoseconds the task spent runnable but waiting for a CPU. */
static double
run_delay(const char *path)
{
	unsigned long long run, wait;
	FILE *f = fopen(path, "r");
	int n;

	if (f == NULL)
		return 0;
	n = fscanf(f, "%llu %llu", &run, &wait);
	fclose(f);
	return n == 2 ? wait / 1e9 : 0;
}

/*
 * The time the hypervisor gave to others (steal, /proc/stat) on the CPUs
 * the server or this tool may run on: waiting that no run queue shows.
 */
static double
stolen(void)
{
	unsigned long long steal, sum = 0;
	cpu_set_t mine, srv;
	char line[512];
	FILE *f;
	int cpu;

	if (sched_getaffinity(0, sizeof(mine), &mine) < 0 ||
	    sched_getaffinity(opt.pid, sizeof(srv), &srv) < 0 ||
	    (f = fopen("/proc/stat", "r")) == NULL)
		return 0;
	CPU_OR(&mine, &mine, &srv);
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "cpu%d %*u %*u %*u %*u %*u %*u %*u %llu", &cpu,
			&steal) == 2 &&
		    cpu >= 0 && cpu < CPU_SETSIZE && CPU_ISSET(cpu, &mine))
			sum += steal;
	fclose(f);
	return (double)sum / sysconf(_SC_CLK_TCK);
}

/*
 * How long the server and this tool's threads were kept off a CPU by
 * other work, their CPUs' steal included: on a shared host, what says a
 * run was disturbed.
 */
static double
waited(void)
{
	char path[64];
	double sum;
	int i;

	snprintf(path, sizeof(path), "/proc/%d/schedstat", opt.pid);
	sum = run_delay(path) + stolen();
	for (i = 0; i < opt.threads; i++) {
		snprintf(path, sizeof(path), "/proc/self/task/%d/schedstat",
		    workers[i].tid);
		sum += run_delay(path);
	}
	return sum;
}

/* All threads start the measured window at once. */
static void
sync_start(double secs)
{
	if (pthread_barrier_wait(&barrier) == PTHREAD_BARRIER_SERIAL_THREAD) {
		cpu_start = server_cpu();
		wait_start = waited();
		t_start = now_ns();
		t_end = t_start + (uint64_t)(secs * NS);
	}
	pthread_barrier_wait(&barrier);
}

/* The window ends before teardown, which is not what is measured. */
static void
sync_stop(void)
{
	if (pthread_barrier_wait(&barrier) == PTHREAD_BARRIER_SERIAL_THREAD) {
		cpu_stop = server_cpu();
		wait_stop = waited();
		t_stop = now_ns();
	}
}

static void
close_all(struct worker *w)
{
	int i;

	for (i = 0; i < w->n; i++)
		conn_drop(w, &w->c[i]);
}

static void *
echo_run(void *arg)
{
	struct worker *w = arg;
	int i;

	open_all(w);
	sync_start(opt.secs);
	for (i = 0; i < w->n; i++)
		if (w->c[i].state == S_IDLE)
			req_start(w, &w->c[i]);
	run_loop(w, t_end, 100, NULL);
	sync_stop();
	close_all(w);
	return NULL;
}

static void *
connect_run(void *arg)
{
	struct worker *w = arg;
	int i;

	sync_start(opt.secs);
	for (i = 0; i < w->n; i++)
		qotd_restart(w, &w->c[i]);
	run_loop(w, t_end, 100, qotd_tick);
	sync_stop();
	close_all(w);
	return NULL;
}

static void *
handshake_run(void *arg)
{
	struct worker *w = arg;
	int i;

	sync_start(opt.secs);
	for (i = 0; i < w->n; i++)
		hs_restart(w, &w->c[i]);
	run_loop(w, t_end, 100, qotd_tick);
	sync_stop();
	close_all(w);
	return NULL;
}

static void *
idle_run(void *arg)
{
	struct worker *w = arg;
	int i, open = 0;
	long errs = 0;

	open_all(w);
	if (pthread_barrier_wait(&barrier) == PTHREAD_BARRIER_SERIAL_THREAD) {
		for (i = 0; i < opt.threads; i++) {
			open += workers[i].ready;
			errs += workers[i].errors;
		}
		printf("mode=idle conns=%d ready=1 errors=%ld\n", open, errs);
		fflush(stdout);
	}
	pthread_barrier_wait(&barrier);
	run_loop(w, now_ns() + (uint64_t)(opt.hold * NS), 1000, NULL);
	close_all(w);
	return NULL;
}

/*
 * Logged in, and the join announcements have stopped coming: all of
 * them (each pair of members makes one), or none for a second.
 */
static int
chat_settled(struct worker *w)
{
	long j = atomic_load(&joined), all = opt.conns;
	uint64_t now = now_ns(), q = atomic_load(&quiet);

	(void)w;
	if (j < all - atomic_load(&nerrors))
		return 0;
	return atomic_load(&joinmsgs) >= j * (j - 1) / 2 || now - q > NS;
}

static struct conn *
chat_sender(int line)
{
	int i, k;

	for (i = 0; i < opt.conns; i++) {
		k = (int)(((long)line * 7919 + i) % opt.conns);
		if (conns[k].state == S_MEMBER)
			return &conns[k];
	}
	return NULL;
}

/* Thread 0 speaks for one member at a time, on the rate's clock. */
static int
chat_tick(struct worker *w)
{
	static int line;
	uint64_t now = now_ns(), due = t_start + line * (NS / opt.rate);
	struct conn *c;
	char text[64];
	int n;

	if (w->id != 0)
		return atomic_load(&finished);
	/* A line with no member left to say it is simply lost. */
	if (line < nlines && now >= due) {
		n = snprintf(text, sizeof(text), "L%d benchmark line\n", line);
		atomic_store(&sent_ns[line], now_ns());
		if ((c = chat_sender(line)) != NULL &&
		    send(c->fd, text, n, MSG_NOSIGNAL) != n)
			fail(w, "chat: send line", errno);
		line++;
	}
	if (line == nlines &&
	    (atomic_load(&members_ok) == nlines ||
		now > t_start + line * (NS / opt.rate) + LOST_AFTER))
		atomic_store(&finished, 1);
	return atomic_load(&finished);
}

static void *
chat_run(void *arg)
{
	struct worker *w = arg;

	open_all(w);
	pthread_barrier_wait(&barrier);
	run_loop(w, now_ns() + OPEN_TIMEOUT, 50, chat_settled);
	sync_start(opt.secs);
	run_loop(w, t_end + LOST_AFTER + NS, 5, chat_tick);
	sync_stop();
	close_all(w);
	return NULL;
}

static void *
stream_run(void *arg)
{
	struct worker *w = arg;

	open_all(w);
	sync_start(opt.secs);
	run_loop(w, t_end, 100, NULL);
	sync_stop();
	close_all(w);
	return NULL;
}

/* flood: every line the talker finished has reached every other member. */
static int
flood_drained(struct worker *w)
{
	return w->done >= conns[0].sent / FLOOD_LINE * (opt.conns - 1);
}

/* Member 0 talks for the window; the others count its lines, 1 s more. */
static void *
flood_run(void *arg)
{
	struct worker *w = arg;
	int i;

	for (i = 0; i < (int)sizeof(flood_text); i += FLOOD_LINE) {
		snprintf(flood_text + i, FLOOD_LINE, "F%05d flood line ", i);
		memset(flood_text + i + 18, 'f', FLOOD_LINE - 19);
		flood_text[i + FLOOD_LINE - 1] = '\n';
	}
	open_all(w);
	run_loop(w, now_ns() + OPEN_TIMEOUT, 50, chat_settled);
	sync_start(opt.secs);
	if (conns[0].state == S_MEMBER)
		flood_send(w, &conns[0]);
	run_loop(w, t_end, 100, NULL);
	sync_stop();
	run_loop(w, t_end + NS, 50, flood_drained);
	close_all(w);
	return NULL;
}

static void
udp_send(struct worker *w, struct conn *c)
{
	char buf[RXBUF];
	int n = snprintf(buf, sizeof(buf), "%ld %llu ", (long)(c - conns),
	    (unsigned long long)c->seq);

	memset(buf + n, 'u', opt.size - n - 1);
	buf[opt.size - 1] = '\n';
	c->t0 = now_ns();
	if (send(w->udp, buf, opt.size, 0) < 0 && errno != EAGAIN &&
	    errno != ENOBUFS)
		fail(w, "udp: send", errno);
}

/* A reply for a slot's current datagram moves the slot on. */
static void
udp_recv(struct worker *w)
{
	char buf[RXBUF];
	unsigned long long seq;
	uint64_t now;
	long k;
	ssize_t n;

	while ((n = recv(w->udp, buf, sizeof(buf) - 1, 0)) >= 0) {
		buf[n] = '\0';
		if (sscanf(buf, "%ld %llu", &k, &seq) != 2 ||
		    k < w->c - conns || k >= w->c - conns + w->n ||
		    conns[k].seq != seq)
			continue;
		now = now_ns();
		if (in_window(now)) {
			hist_add(&w->h, now - conns[k].t0);
			w->done++;
		}
		conns[k].seq++;
		if (now < t_end)
			udp_send(w, &conns[k]);
	}
	if (errno != EAGAIN && errno != EINTR)
		fail(w, "udp: recv", errno);
}

/* A datagram a second late is lost: its slot sends a new one. */
static int
udp_tick(struct worker *w)
{
	uint64_t now = now_ns();
	int i;

	if (now - w->scanned < 100 * MS)
		return 0;
	w->scanned = now;
	for (i = 0; i < w->n; i++) {
		if (now - w->c[i].t0 > UDP_RESEND) {
			w->lost++;
			w->c[i].seq++;
			udp_send(w, &w->c[i]);
		}
	}
	return 0;
}

static void *
udp_run(void *arg)
{
	struct worker *w = arg;
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
	int i;

	w->udp = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (w->udp < 0 ||
	    connect(w->udp, (struct sockaddr *)&dst, sizeof(dst)) < 0 ||
	    epoll_ctl(w->ep, EPOLL_CTL_ADD, w->udp, &ev) < 0)
		fatal("udp socket: %s", strerror(errno));
	sync_start(opt.secs);
	for (i = 0; i < w->n; i++)
		udp_send(w, &w->c[i]);
	run_loop(w, t_end, 100, udp_tick);
	sync_stop();
	close(w->udp);
	return NULL;
}

static void *(*mode_run)(void *);

/* Each thread's kernel id is known before the first barrier. */
static void *
worker_main(void *arg)
{
	struct worker *w = arg;

	w->tid = gettid();
	return mode_run(w);
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: loadgen [-h 127.0.0.1] [-p port] "
	    "[-m echo|connect|chat|udp|idle|stream|flood|handshake]\n"
	    "    [-c conns] [-d secs] [-s size] [-T threads] [-r lines/s] "
	    "[-H hold] [-n total] [-P server-pid] [-t]\n"
	    "    (-m handshake is over TLS; -t: echo and idle over TLS)\n");
	exit(2);
}

static void
parse(int argc, char **argv)
{
	int ch;

	while ((ch = getopt(argc, argv, "h:p:m:c:d:s:T:r:H:n:P:t")) != -1) {
		switch (ch) {
		case 'h':
			opt.host = optarg;
			break;
		case 'p':
			opt.port = atoi(optarg);
			break;
		case 'm':
			opt.mode = optarg;
			break;
		case 'c':
			opt.conns = atoi(optarg);
			break;
		case 'd':
			opt.secs = atof(optarg);
			break;
		case 's':
			opt.size = atoi(optarg);
			break;
		case 'T':
			opt.threads = atoi(optarg);
			break;
		case 'r':
			opt.rate = atof(optarg);
			break;
		case 'H':
			opt.hold = atof(optarg);
			break;
		case 'n':
			opt.total = atol(optarg);
			break;
		case 'P':
			opt.pid = atoi(optarg);
			break;
		case 't':
			opt.tls = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || opt.port < 1 || opt.port > 65535 ||
	    opt.conns < 1 || opt.secs <= 0 || opt.size < 1 || opt.threads < 1 ||
	    opt.rate <= 0 || opt.hold < 0)
		usage();
	if (opt.threads > opt.conns)
		opt.threads = opt.conns;
	if (strcmp(opt.mode, "flood") == 0 &&
	    (opt.conns < 2 || opt.threads > 1))
		fatal("flood: one thread, and a talker and a member at least");
	if (opt.size > 65507)
		opt.size = 65507; /* the largest datagram; plenty for TCP */
	if (strcmp(opt.mode, "udp") == 0 && opt.size < 48)
		opt.size = 48; /* room for the slot and sequence */
}

/*
 * A client context for TLS 1.3 only that keeps no session, so that each
 * handshake is a full one, and whose idle connections give their
 * buffers back (10,000 of them are held open).  The server's
 * certificate is not checked: its signature of the handshake still is.
 */
static void
tls_setup(void)
{
	if ((tls = SSL_CTX_new(TLS_client_method())) == NULL)
		fatal("SSL_CTX_new failed");
	SSL_CTX_set_min_proto_version(tls, TLS1_3_VERSION);
	SSL_CTX_set_max_proto_version(tls, TLS1_3_VERSION);
	SSL_CTX_set_session_cache_mode(tls, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_mode(tls, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_verify(tls, SSL_VERIFY_NONE, NULL);
	signal(SIGPIPE, SIG_IGN); /* SSL_write writes with write(2) */
}

/* Loopback only: this tool must never load someone else's host. */
static void
set_target(void)
{
	dst.sin_family = AF_INET;
	dst.sin_port = htons(opt.port);
	if (inet_pton(AF_INET, opt.host, &dst.sin_addr) != 1 ||
	    (ntohl(dst.sin_addr.s_addr) >> 24) != 127)
		fatal("%s: only 127.0.0.0/8 addresses are allowed", opt.host);
}

static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur < (rlim_t)opt.conns + 64)
		fatal("%d connections need more descriptors than the "
		      "limit of %llu",
		    opt.conns, (unsigned long long)rl.rlim_cur);
}

static void
setup(void)
{
	int i;

	payload = malloc(opt.size);
	conns = calloc(opt.conns, sizeof(*conns));
	workers = calloc(opt.threads, sizeof(*workers));
	if (payload == NULL || conns == NULL || workers == NULL)
		fatal("out of memory");
	for (i = 0; i < opt.size; i++)
		payload[i] = 'a' + i % 26;
	payload[opt.size - 1] = '\n';
	for (i = 0; i < opt.conns; i++)
		conns[i].fd = -1;
	nlines = (int)(opt.secs * opt.rate);
	if (mode == M_CHAT &&
	    ((sent_ns = calloc(nlines + 1, sizeof(*sent_ns))) == NULL ||
		(got_by = calloc(nlines + 1, sizeof(*got_by))) == NULL))
		fatal("out of memory");
	pthread_barrier_init(&barrier, NULL, opt.threads);
}

/* The server's CPU and the run's waiting, when -P names the server. */
static void
report_server(uint64_t done)
{
	double cpu = cpu_stop - cpu_start;

	if (opt.pid > 0)
		printf(" srv_cpu_s=%.2f srv_cpu_us=%.3f waited=%.3f", cpu,
		    done ? cpu * 1e6 / done : 0,
		    (wait_stop - wait_start) * NS / (t_stop - t_start));
	printf("\n");
}

/* stream and flood: what went through, not round-trips. */
static void
report_flood(void)
{
	double secs = (t_end - t_start) / (double)NS;
	uint64_t bytes = 0, ended = 0, got = 0, errors = 0, sent;
	int i;

	for (i = 0; i < opt.threads; i++) {
		bytes += workers[i].bytes;
		ended += workers[i].ended;
		got += workers[i].done;
		errors += workers[i].errors;
	}
	if (mode == M_STREAM) {
		printf("mode=stream conns=%d bytes=%llu secs=%.2f MBps=%.1f "
		       "ended=%llu errors=%llu",
		    opt.conns, (unsigned long long)bytes, secs,
		    bytes / secs / 1e6, (unsigned long long)ended,
		    (unsigned long long)errors);
		report_server(bytes);
		return;
	}
	sent = conns[0].sent / FLOOD_LINE;
	printf("mode=flood conns=%d lines_sent=%llu lines_got=%llu secs=%.2f "
	       "lps=%.0f lines_lost=%lld errors=%llu",
	    opt.conns, (unsigned long long)sent, (unsigned long long)got, secs,
	    sent / secs, (long long)(sent * (opt.conns - 1)) - (long long)got,
	    (unsigned long long)errors);
	report_server(sent);
}

static void
report(void)
{
	struct worker *w;
	struct hist *h = calloc(1, sizeof(*h));
	uint64_t done = 0, errors = 0, lost = 0;
	double secs;
	int i, j;

	for (i = 0; i < opt.threads; i++) {
		w = &workers[i];
		for (j = 0; j < HIST_LEN; j++)
			h->n[j] += w->h.n[j];
		h->count += w->h.count;
		h->max = w->h.max > h->max ? w->h.max : h->max;
		done += w->done;
		errors += w->errors;
		lost += w->lost;
	}
	/* connect -n may end before the time is up. */
	secs = ((t_stop < t_end ? t_stop : t_end) - t_start) / (double)NS;
	if (mode == M_CHAT) {
		lost = nlines - atomic_load(&members_ok);
		done = nlines;
		secs = nlines / opt.rate;
	}
	printf("mode=%s conns=%d requests=%llu secs=%.2f rps=%.0f "
	       "p50_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f errors=%llu",
	    opt.mode, opt.conns, (unsigned long long)done, secs, done / secs,
	    hist_pct(h, 0.5), hist_pct(h, 0.99), hist_pct(h, 0.999),
	    h->max / 1000.0, (unsigned long long)errors);
	if (mode == M_CHAT)
		printf(" joined=%d lines_lost=%llu", atomic_load(&joined),
		    (unsigned long long)lost);
	if (mode == M_UDP)
		printf(" lost=%llu", (unsigned long long)lost);
	report_server(done);
	free(h);
}

int
main(int argc, char **argv)
{
	static const struct {
		const char *name;
		void *(*run)(void *);
	} modes[] = {[M_ECHO] = {"echo", echo_run},
	    [M_CONNECT] = {"connect", connect_run},
	    [M_CHAT] = {"chat", chat_run},
	    [M_UDP] = {"udp", udp_run},
	    [M_IDLE] = {"idle", idle_run},
	    [M_STREAM] = {"stream", stream_run},
	    [M_FLOOD] = {"flood", flood_run},
	    [M_HANDSHAKE] = {"handshake", handshake_run}};
	int i, per;

	parse(argc, argv);
	for (i = 0; i < (int)(sizeof(modes) / sizeof(modes[0])); i++)
		if (strcmp(opt.mode, modes[i].name) == 0)
			mode_run = modes[(mode = i)].run;
	if (mode_run == NULL)
		usage();
	if (mode == M_HANDSHAKE)
		opt.tls = 1;
	if (opt.tls && mode != M_ECHO && mode != M_IDLE && mode != M_HANDSHAKE)
		fatal("-t: echo, idle and handshake only");
	if (opt.tls)
		tls_setup();
	set_target();
	raise_nofile();
	setup();
	for (i = 0; i < opt.threads; i++) {
		per = opt.conns / opt.threads;
		workers[i].id = i;
		workers[i].c = conns + i * per;
		workers[i].n = i == opt.threads - 1 ? opt.conns - i * per : per;
		if ((workers[i].ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
			fatal("epoll_create1: %s", strerror(errno));
		if (pthread_create(
			&workers[i].thread, NULL, worker_main, &workers[i]))
			fatal("pthread_create failed");
	}
	for (i = 0; i < opt.threads; i++)
		pthread_join(workers[i].thread, NULL);
	if (mode == M_STREAM || mode == M_FLOOD)
		report_flood();
	else if (mode != M_IDLE)
		report();
	return 0;
}
