/* conn.c - a TCP connection: buffers, flushing, one teardown path. */
#include <errno.h>
#include <lauxlib.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "log.h"
#include "proxy.h"
#include "lsocket.h"
#include "service.h"
#include "task.h"
#include "udp.h"

static void proxy_read(struct conn *c);
static void proxy_fail(struct conn *c, enum conn_why why);
static void conn_unpress(struct conn *c);

static TAILQ_HEAD(, conn) flushq = TAILQ_HEAD_INITIALIZER(flushq);
static LIST_HEAD(, conn) conns = LIST_HEAD_INITIALIZER(conns);
static long nconns, noutbound;

static const char *const why_text[] = {
    "open",
    "closed by peer",
    "closed by script",
    "script error",
    "timeout",
    "slow consumer",
    "shutdown",
    "reset by peer",
    "no valid PROXY header",
    "refused",
    "connect failed",
};

const char *
conn_why_text(enum conn_why why)
{
	return why_text[why];
}

long
conn_count(void)
{
	return nconns;
}

/* Sockets opened by superd.connect: they do not hold up a shutdown. */
long
conn_outbound(void)
{
	return noutbound;
}

void
conn_want_flush(struct conn *c)
{
	if (c->flushq_on)
		return;
	c->flushq_on = 1;
	TAILQ_INSERT_TAIL(&flushq, c, flushq);
}

static void
flushq_remove(struct conn *c)
{
	if (!c->flushq_on)
		return;
	c->flushq_on = 0;
	TAILQ_REMOVE(&flushq, c, flushq);
}

/* shutdown("w") takes effect once the queue has gone. */
static void
shut_write(struct conn *c)
{
	if (c->shut_wr != SHUT_WR_QUEUED || buf_used(&c->out) > 0)
		return;
	c->shut_wr = SHUT_WR_DONE;
	shutdown(c->io.fd, SHUT_WR);
}

/*
 * Sends what is queued until the kernel says EAGAIN; -1 when it broke.
 * A queued shutdown("w") follows the last byte.
 */
int
conn_flush(struct conn *c)
{
	ssize_t n;

	for (;;) {
		if (buf_used(&c->out) == 0) {
			shut_write(c);
			return 0;
		}
		n = send(c->io.fd, buf_head(&c->out), buf_used(&c->out),
		    MSG_NOSIGNAL);
		if (n > 0) {
			c->active = c->stalled = loop_now();
			c->bytes_out += n;
			c->svc->stats->bytes_out += n;
			buf_consume(&c->out, n);
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			return 0;
		} else {
			if (errno == ECONNRESET || errno == EPIPE)
				c->why = WHY_RESET;
			c->broken = 1;
			buf_consume(&c->out, buf_used(&c->out));
			return -1;
		}
	}
}

static void
conn_log(struct conn *c)
{
	char addr[NET_ADDRSTRLEN];
	int port;

	if (!log_enabled(LOG_INFO))
		return;
	loop_update_time(); /* it may end inside a long resume */
	net_ntop(&c->peer, addr, &port);
	log_msg(LOG_INFO,
	    "%s: tcp%s %s:%d: %.3fs, %llu bytes in, %llu bytes out, %s",
	    c->svc->name, c->outbound ? " out" : "", addr, port,
	    loop_now() - c->started, (unsigned long long)c->bytes_in,
	    (unsigned long long)c->bytes_out, conn_why_text(c->why));
}

void
conn_close(struct conn *c)
{
	struct service *s = c->svc;

	if (c->state == CONN_CLOSED)
		return;
	c->state = CONN_CLOSED;
	loop_del(&c->io);
	close(c->io.fd);
	c->io.fd = -1;
	loop_timer_cancel(&c->idle);
	conn_unpress(c);
	lsocket_free_input(c);
	buf_free(&c->out);
	flushq_remove(c);
	LIST_REMOVE(c, all);
	nconns--;
	if (c->outbound)
		noutbound--;
	if (c->owner)
		c->owner->outbound--;
	c->owner = NULL;
	conn_log(c);
	luaL_unref(s->L, LUA_REGISTRYINDEX, c->ref);
	c->ref = LUA_NOREF;
	if (c->counted)
		admit_release(&s->admit, &c->peer,
		    c->outbound ? ADMIT_OUTBOUND : ADMIT_CLIENT);
}

/*
 * How much other coroutines may leave queued here before the writer is
 * slowed: the high-water mark, or output_limit when that is lower.
 */
size_t
conn_mark(const struct conn *c)
{
	size_t limit = (size_t)c->svc->conf->output_limit;

	return limit < CONN_HIGH_WATER ? limit : CONN_HIGH_WATER;
}

static void
conn_unpress(struct conn *c)
{
	loop_timer_cancel(&c->slow);
	if (c->presser)
		task_unpress(c->presser);
	c->presser = NULL;
}

/*
 * Another coroutine's write left c above its mark: that writer waits at
 * its next superd call until c drains, and c has slow_timeout to make
 * progress.  The writer of the latest such write is the one slowed.
 */
static void
conn_press(struct conn *c, struct task *writer)
{
	if (c->presser != writer) {
		if (c->presser)
			task_unpress(c->presser);
		c->presser = writer;
		if (writer)
			task_press(writer);
	}
	if (loop_timer_armed(&c->slow))
		return;
	c->stalled = loop_now();
	loop_timer_set(&c->slow, c->stalled + c->svc->conf->slow_timeout);
}

/*
 * After another coroutine queued output on c: what the kernel takes now
 * goes first, so a reader that keeps up never slows its writer.  -1 when
 * c broke.
 */
int
conn_settle(struct conn *c, struct task *writer)
{
	if (buf_used(&c->out) > conn_mark(c) && conn_flush(c) < 0)
		return -1;
	if (buf_used(&c->out) <= conn_mark(c)) {
		if (loop_timer_armed(&c->slow))
			conn_unpress(c);
		return 0;
	}
	conn_press(c, writer);
	return 0;
}

/* The writer is ending: nothing is left to wake. */
void
conn_unpress_all(struct task *writer)
{
	struct conn *c;

	LIST_FOREACH(c, &conns, all)
	if (c->presser == writer)
		c->presser = NULL;
	writer->npressing = 0;
}

#define conn_of_slow(p) \
	((struct conn *)((char *)(p)-offsetof(struct conn, slow)))

/* Slow = cannot keep up: above the mark with nothing sent for a while. */
static void
slow_fired(struct loop_timer *t)
{
	struct conn *c = conn_of_slow(t);
	double when = c->stalled + c->svc->conf->slow_timeout;

	if (buf_used(&c->out) <= conn_mark(c)) {
		conn_unpress(c);
		return;
	}
	if (when > loop_now())
		loop_timer_set(&c->slow, when);
	else
		conn_end(c, WHY_SLOW);
}

/* Output gone, or a writer parked on it: the loop's part of a write. */
static void
conn_drained(struct conn *c)
{
	if (loop_timer_armed(&c->slow) && buf_used(&c->out) <= conn_mark(c))
		conn_unpress(c);
	if (c->writer &&
	    (c->broken || c->state != CONN_OPEN ||
		(c->writer->wait == TASK_WRITE &&
		    buf_used(&c->out) <= CONN_HIGH_WATER) ||
		(c->writer->wait == TASK_FLUSH && buf_used(&c->out) == 0)))
		task_wake(c->writer);
	if (c->state == CONN_DRAINING && (buf_used(&c->out) == 0 || c->broken))
		conn_close(c);
}

int
conn_flush_queue(void)
{
	struct conn *c;

	while ((c = TAILQ_FIRST(&flushq)) != NULL) {
		flushq_remove(c);
		conn_flush(c);
		conn_drained(c);
	}
	return 0;
}

static void
conn_io(struct loop_io *io, int events)
{
	struct conn *c = (struct conn *)io;

	if (c->state == CONN_CLOSED)
		return;
	if (c->proxy_pending) {
		if (events & LOOP_READ)
			proxy_read(c);
		return;
	}
	if ((events & LOOP_WRITE) && buf_used(&c->out) > 0)
		conn_flush(c);
	if (events & LOOP_READ)
		c->drained = 0;
	if (events & LOOP_HUP)
		c->hup = 1;
	if (c->reader && (events & LOOP_READ))
		task_wake(c->reader);
	if ((events & LOOP_ERROR) && c->state == CONN_DRAINING)
		c->broken = 1;
	conn_drained(c);
}

/* Its main has ended: so does the connection, unless it was killed. */
static void
main_ended(struct task *t, int status)
{
	struct conn *c = t->ud;

	if (c->task != t)
		return;
	c->task = NULL;
	if (status != TASK_KILLED)
		conn_end(c, status == LUA_OK ? WHY_SCRIPT : WHY_ERROR);
}

/*
 * With main and the socket on top of L: main's coroutine, which keeps a
 * copy of the socket below main, whatever main does with its own.
 */
struct task *
conn_spawn_main(lua_State *L, struct conn *c)
{
	struct task *t;

	lua_pushvalue(L, -1);
	lua_insert(L, -3);
	t = task_spawn(L, c->svc, 1, 1);
	t->ud = c;
	t->on_end = main_ended;
	t->peer = &c->peer;
	c->task = t;
	return t;
}

static int
fini_p(lua_State *L)
{
	struct conn *c = lua_touserdata(L, 1);

	/* no fini for a socket of superd.connect, nor for a connection
	 * whose PROXY header never came: its main never ran */
	if (c->outbound || c->proxy_pending ||
	    lua_getglobal(L, "fini") != LUA_TFUNCTION)
		return 0;
	lua_rawgeti(L, LUA_REGISTRYINDEX, c->ref);
	task_spawn(L, c->svc, 1, 0);
	return 0;
}

/*
 * The one way a connection ends, whatever ended it: main is stopped if
 * it still runs, fini is queued, and the descriptor closes once what
 * main wrote has left (at once when the end is an error).  Never called
 * from the connection's own main coroutine while it runs.
 */
void
conn_end(struct conn *c, enum conn_why why)
{
	int hard = why != WHY_SCRIPT && why != WHY_PEER;

	if (c->udp) {
		udp_end(c);
		return;
	}
	if (c->state != CONN_OPEN) {
		if (hard && c->state == CONN_DRAINING)
			conn_close(c);
		return;
	}
	if (why == WHY_SCRIPT && (c->eof || c->broken))
		why = c->why == WHY_RESET ? WHY_RESET : WHY_PEER;
	c->why = why;
	c->state = CONN_DRAINING;
	if (c->task)
		task_kill(c->task);
	if (c->reader)
		task_wake(c->reader);
	if (c->writer)
		task_wake(c->writer);
	service_pcall(c->svc, fini_p, c);
	if (hard)
		buf_consume(&c->out, buf_used(&c->out));
	if (buf_used(&c->out) == 0 || c->broken)
		conn_close(c);
	else
		conn_want_flush(c);
}

void
conn_end_all(enum conn_why why)
{
	struct conn *c, *next;

	for (c = LIST_FIRST(&conns); c != NULL; c = next) {
		next = LIST_NEXT(c, all);
		conn_end(c, why);
	}
}

#define conn_of_idle(p) \
	((struct conn *)((char *)(p)-offsetof(struct conn, idle)))

/*
 * One timer per connection, re-armed lazily: traffic only moves
 * c->active, and the timer, when it fires early, sets itself again.
 */
static void
idle_fired(struct loop_timer *t)
{
	struct conn *c = conn_of_idle(t);
	double when = c->active + c->svc->conf->idle_timeout;

	if (c->proxy_pending) {
		proxy_fail(c, WHY_NOPROXY);
		return;
	}
	if (when > loop_now())
		loop_timer_set(&c->idle, when);
	else
		conn_end(c, WHY_TIMEOUT);
}

void
conn_init(struct conn *c, struct service *s, int fd, const union net_addr *peer)
{
	c->io.fd = fd;
	c->svc = s;
	c->peer = *peer;
	c->state = CONN_OPEN;
	c->timeout = s->conf->timeout;
	c->started = c->active = loop_now();
	loop_timer_init(&c->idle, idle_fired);
	loop_timer_init(&c->slow, slow_fired);
}

struct accept_args {
	struct service *s;
	int fd;
	const union net_addr *peer;
	int proxied;
	struct conn *c;
};

/* Every allocation of an accept, under one protected call. */
static int
accept_p(lua_State *L)
{
	struct accept_args *a = lua_touserdata(L, 1);
	struct conn *c;

	if (lua_getglobal(L, "main") != LUA_TFUNCTION)
		return luaL_error(L, "the script defines no main()");
	c = lsocket_new(L);
	lua_pushvalue(L, -1);
	c->ref = luaL_ref(L, LUA_REGISTRYINDEX);
	a->c = c;
	conn_init(c, a->s, a->fd, a->peer);
	if (a->proxied)
		lua_pop(L, 2); /* main starts once the header has come */
	else
		conn_spawn_main(L, c);
	c->proxy_pending = (uint8_t)a->proxied;
	return 0;
}

static void
arm_idle(struct conn *c)
{
	if (c->proxy_pending)
		loop_timer_set(&c->idle, c->started + PROXY_TIMEOUT);
	else if (c->svc->conf->idle_timeout > 0)
		loop_timer_set(
		    &c->idle, loop_now() + c->svc->conf->idle_timeout);
}

int
conn_accept(struct service *s, int fd, const union net_addr *peer, int proxied)
{
	struct accept_args a = {s, fd, peer, proxied, NULL};

	if (service_pcall(s, accept_p, &a) != LUA_OK) {
		if (a.c) {
			if (a.c->task)
				task_kill(a.c->task);
			luaL_unref(s->L, LUA_REGISTRYINDEX, a.c->ref);
			a.c->state = CONN_CLOSED;
			a.c->io.fd = -1;
		}
		close(fd);
		admit_refuse(&s->admit, "tcp", peer, "script cannot start");
		return -1;
	}
	net_nodelay(fd);
	LIST_INSERT_HEAD(&conns, a.c, all);
	nconns++;
	admit_hold(&s->admit, peer, ADMIT_CLIENT);
	a.c->counted = 1;
	if (!proxied)
		s->stats->accepted++;
	arm_idle(a.c);
	if (loop_add(&a.c->io, fd, LOOP_READ | LOOP_WRITE | LOOP_EDGE,
		conn_io) < 0) {
		log_msg(LOG_ERR, "%s: epoll: %m", s->name);
		conn_end(a.c, WHY_ERROR);
	}
	return 0;
}

/*
 * superd.connect: c is a fresh socket userdata on top of L's stack.
 * 0 connected, 1 in progress (wait for writable), -1 with errno, -2 when
 * a max_connections limit is reached.

 */
int
conn_connect(lua_State *L, struct conn *c, struct service *s,
    struct task *owner, const union net_addr *to)
{
	socklen_t len =
	    to->sa.sa_family == AF_INET ? sizeof(to->in4) : sizeof(to->in6);
	int fd, rc, e;

	if (admit_room(&s->admit) != NULL)
		return -2;
	/* first, since it may raise: no descriptor is open yet */
	lua_pushvalue(L, -1);
	c->ref = luaL_ref(L, LUA_REGISTRYINDEX);
	fd = socket(
	    to->sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	rc = connect(fd, &to->sa, len);
	if (rc < 0 && errno != EINPROGRESS) {
		e = errno;
		close(fd);
		errno = e;
		goto fail;
	}
	conn_init(c, s, fd, to);
	c->outbound = 1;
	noutbound++;
	c->owner = owner;
	owner->outbound++;
	net_nodelay(fd);
	LIST_INSERT_HEAD(&conns, c, all);
	nconns++;
	admit_hold(&s->admit, to, ADMIT_OUTBOUND);
	c->counted = 1;
	if (loop_add(&c->io, fd, LOOP_READ | LOOP_WRITE | LOOP_EDGE, conn_io) <
	    0) {
		conn_end(c, WHY_ERROR);
		return -1;
	}
	return rc < 0;
fail:
	e = errno;
	luaL_unref(L, LUA_REGISTRYINDEX, c->ref);
	c->ref = LUA_NOREF;
	errno = e;
	return -1;
}

/*
 * shutdown(2) for a script: reads end at once (what is buffered goes);
 * the write side shuts once what is queued has gone to the kernel.
 */
void
conn_shutdown(struct conn *c, int rd, int wr)
{
	if (rd && !c->shut_rd) {
		c->shut_rd = 1;
		c->eof = 1;
		c->skipping = 0;
		lsocket_free_input(c);
		shutdown(c->io.fd, SHUT_RD);
		if (c->reader)
			task_wake(c->reader);
	}
	if (wr && c->shut_wr == SHUT_WR_NONE) {
		c->shut_wr = SHUT_WR_QUEUED;
		conn_want_flush(c);
	}
}

/* The task that opened them has ended: so do its outbound sockets. */
void
conn_end_owned(struct task *owner)
{
	struct conn *c, *next;

	for (c = LIST_FIRST(&conns); c != NULL; c = next) {
		next = LIST_NEXT(c, all);
		if (c->owner == owner) {
			c->owner = NULL;
			conn_end(c, WHY_SCRIPT);
		}
	}
}

static int
start_main_p(lua_State *L)

{
	struct conn *c = lua_touserdata(L, 1);

	if (lua_getglobal(L, "main") != LUA_TFUNCTION)
		return luaL_error(L, "the script defines no main()");
	lua_rawgeti(L, LUA_REGISTRYINDEX, c->ref);
	conn_spawn_main(L, c);
	return 0;
}

/* Not a connection yet: no fini, just the log line and the close. */
static void
proxy_fail(struct conn *c, enum conn_why why)
{
	c->why = why;
	c->state = CONN_DRAINING;
	conn_close(c);
}

/*
 * The header named the client: from here on it is the peer that the
 * access lists, the limits, getpeername and the log see.
 */
static void
proxy_done(struct conn *c, const union net_addr *client)
{
	struct service *s = c->svc;
	const char *why;

	admit_release(&s->admit, &c->peer, ADMIT_CLIENT);
	c->counted = 0;
	if (client)
		c->peer = *client;
	c->proxy_pending = 0;
	loop_timer_cancel(&c->idle);
	if ((why = admit_check(&s->admit, &c->peer)) != NULL) {
		admit_refuse(&s->admit, "tcp", &c->peer, why);
		proxy_fail(c, WHY_REFUSED);
		return;
	}
	admit_hold(&s->admit, &c->peer, ADMIT_CLIENT);
	c->counted = 1;
	s->stats->accepted++;
	arm_idle(c);
	if (service_pcall(s, start_main_p, c) != LUA_OK)
		proxy_fail(c, WHY_ERROR);
}

/* Reads until the whole header is in; 0 when the connection failed. */
static int
proxy_fill(struct conn *c)
{
	size_t room;
	ssize_t r;
	char *p;

	if ((p = buf_reserve(&c->in, PROXY_MAX, &room)) == NULL) {
		proxy_fail(c, WHY_ERROR);
		return 0;
	}
	r = recv(c->io.fd, p, room, 0);
	if (r > 0) {
		buf_commit(&c->in, r);
		c->bytes_in += r;
		return 1;
	}
	if (r == 0 || (errno != EAGAIN && errno != EINTR))
		proxy_fail(c, WHY_NOPROXY);
	return 0;
}

static void
proxy_read(struct conn *c)
{
	union net_addr client;
	int n, local = 0;

	while ((n = proxy_parse(buf_head(&c->in), buf_used(&c->in), &client,
		    &local)) == PROXY_NEED_MORE)
		if (!proxy_fill(c))
			return;
	if (n == PROXY_BAD) {
		proxy_fail(c, WHY_NOPROXY);
		return;
	}
	buf_consume(&c->in, n);
	proxy_done(c, local ? NULL : &client);
}
