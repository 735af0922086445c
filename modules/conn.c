/*
 * conn.c - a client's connection, the one file that names both a stream
 * and a task: the socket userdata, main's coroutine and fini, the waits
 * woken by the stream's events, the slow consumer, the PROXY phase's
 * admission, the log line, and the one teardown path.
 */
#include <errno.h>
#include <lauxlib.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "admit.h"
#include "conn.h"
#include "log.h"
#include "service.h"
#include "tls.h"
#include "task.h"

static void proxy_fail(struct conn *c, enum conn_why why);
static void conn_unpress(struct conn *c);
static void conn_close(struct conn *c);

static LIST_HEAD(, conn) conns = LIST_HEAD_INITIALIZER(conns);

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
    "TLS handshake failed",
    "kicked",
};

const char *
conn_why_text(enum conn_why why)
{
	return why_text[why];
}

/* Open connections, newest first; fn must not end any (the list moves). */
void
conn_foreach(conn_visit_fn *fn, void *ud)
{
	struct conn *c;

	LIST_FOREACH(c, &conns, all)
	fn(c, ud);
}

struct conn *
conn_find(uint32_t id)
{
	struct conn *c;

	LIST_FOREACH(c, &conns, all)
	if (c->id == id)
		return c;
	return NULL;
}

/*
 * A socket userdata, closed until its owner opens it: timers disarmed,
 * not at slot 0, since a datagram's socket never has a stream.
 */
const char conn_mt_keys[2];

struct conn *
conn_new(lua_State *L, const void *mt_key)
{
	struct conn *c = lua_newuserdata(L, sizeof(*c));

	memset(c, 0, sizeof(*c));
	loop_timer_init(&c->st.idle, NULL);
	loop_timer_init(&c->slow, NULL);
	c->st.io.fd = -1;
	c->ref = LUA_NOREF;
	c->state = CONN_CLOSED;
	lua_rawgetp(L, LUA_REGISTRYINDEX, mt_key);
	lua_setmetatable(L, -2);
	return c;
}

/* " tls TLSv1.3 sni NAME" for a TLS connection, taken before its close. */
static void
conn_tls_note(const struct conn *c, char *out, size_t len)
{
	out[0] = '\0';
	if (log_enabled(LOG_INFO))
		tls_note(&c->st, out, len);
}

static void
conn_log(struct conn *c, const char *tls)
{
	char peer[NET_PEERSTRLEN];

	if (!log_enabled(LOG_INFO))
		return;
	loop_update_time(); /* it may end inside a long resume */
	stream_log_end(&c->st, c->svc->name,
	    net_peer(&c->peer, c->outbound ? "tcp out" : "tcp", peer), tls,
	    c->started, conn_why_text(c->why));
}

static void
conn_close(struct conn *c)
{
	struct service *s = c->svc;
	char tls[160];

	if (c->state == CONN_CLOSED)
		return;
	c->state = CONN_CLOSED;
	conn_tls_note(c, tls, sizeof(tls));
	stream_close(&c->st);
	conn_unpress(c);
	LIST_REMOVE(c, all);
	task_unhold(&c->owned);
	c->owner = NULL;
	/* a reset seen while what main wrote was leaving */
	if (c->st.reset && (c->why == WHY_PEER || c->why == WHY_SCRIPT))
		c->why = WHY_RESET;
	conn_log(c, tls);
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
	task_unhold(&c->press);
	if (c->presser)
		task_unpress(c->presser);
	c->presser = NULL;
}

#define conn_of_press(h) \
	((struct conn *)((char *)(h)-offsetof(struct conn, press)))

/* The writer slowed by c has ended: nothing is left to wake. */
static void
presser_gone(struct task_hold *h)
{
	conn_of_press(h)->presser = NULL;
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
		task_unhold(&c->press);
		if (c->presser)
			task_unpress(c->presser);
		c->presser = writer;
		if (writer) {
			task_press(writer);
			task_hold(writer, &c->press, presser_gone);
		}
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
	if (buf_used(&c->st.out) > conn_mark(c) && stream_flush(&c->st) < 0)
		return -1;
	if (buf_used(&c->st.out) <= conn_mark(c)) {
		if (loop_timer_armed(&c->slow))
			conn_unpress(c);
		return 0;
	}
	conn_press(c, writer);
	return 0;
}

#define conn_of_slow(p) \
	((struct conn *)((char *)(p)-offsetof(struct conn, slow)))

/* Slow = cannot keep up: above the mark with nothing sent for a while. */
static void
slow_fired(struct loop_timer *t)
{
	struct conn *c = conn_of_slow(t);
	double since = c->st.sent > c->stalled ? c->st.sent : c->stalled;
	double when = since + c->svc->conf->slow_timeout;

	if (buf_used(&c->st.out) <= conn_mark(c)) {
		conn_unpress(c);
		return;
	}
	if (when > loop_now())
		loop_timer_set(&c->slow, when);
	else
		conn_end(c, WHY_SLOW);
}

/*
 * The stream's news (events 0: the flush queue sent some of the output):
 * a reader wakes on input, a writer once the queue is low enough (or
 * empty, for a flush), and a draining connection closes once its output
 * has gone.
 */
static void
conn_io(struct stream *st, int events)
{
	struct conn *c = (struct conn *)st;
	size_t queued = buf_used(&st->out);

	if (c->reader && (events & LOOP_READ))
		task_wake(c->reader);
	if ((events & LOOP_ERROR) && c->state == CONN_DRAINING)
		st->broken = 1;
	if (loop_timer_armed(&c->slow) && queued <= conn_mark(c))
		conn_unpress(c);
	if (c->writer &&
	    (st->broken || c->state != CONN_OPEN ||
		(c->writer->wait == TASK_WRITE && queued <= CONN_HIGH_WATER) ||
		(c->writer->wait == TASK_FLUSH && queued == 0)))
		task_wake(c->writer);
	if (c->state == CONN_DRAINING && (queued == 0 || st->broken))
		conn_close(c);
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
	 * whose PROXY header or TLS handshake never came: its main never
	 * ran */
	if (c->outbound || c->st.proxy || c->st.handshaking ||
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

	if (c->state != CONN_OPEN) {
		if (hard && c->state == CONN_DRAINING)
			conn_close(c);
		return;
	}
	if (why == WHY_SCRIPT && (c->st.eof || c->st.broken))
		why = c->st.reset ? WHY_RESET : WHY_PEER;
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
		buf_consume(&c->st.out, buf_used(&c->st.out));
	if (buf_used(&c->st.out) == 0 || c->st.broken)
		conn_close(c);
	else
		stream_want_flush(&c->st);
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

/*
 * One timer per connection, re-armed lazily: traffic only moves the
 * stream's active time, and the timer, when it fires early, sets itself
 * again.
 */
static void
conn_idle(struct stream *st)
{
	struct conn *c = (struct conn *)st;
	double when = st->active + c->svc->conf->idle_timeout;

	if (when > loop_now())
		stream_idle_at(st, when);
	else
		conn_end(c, WHY_TIMEOUT);
}

static void proxy_header(
    struct stream *st, int how, const union net_addr *client);

/* Its unread input lost to a memory shortage: it ends. */
static void
conn_lost(struct stream *st)
{
	struct conn *c = (struct conn *)st;

	log_msg(LOG_ERR, "%s: no memory for unread input", c->svc->name);
	conn_end(c, WHY_ERROR);
}

static void conn_secured(struct stream *st, int how);

static const struct stream_events conn_events = {
    .io = conn_io,
    .idle = conn_idle,
    .header = proxy_header,
    .lost = conn_lost,
    .secured = conn_secured,
};

static void
conn_init(struct conn *c, struct service *s, int fd, const union net_addr *peer)
{
	stream_init(&c->st, fd, &stream_plain, &conn_events);
	c->st.stats = s->stats;
	c->svc = s;
	c->peer = *peer;
	c->state = CONN_OPEN;
	c->id = admit_new_id();
	c->timeout = s->conf->timeout;
	c->started = loop_now();
	loop_timer_init(&c->slow, slow_fired);
}

/* TLS from the first byte (not STARTTLS, which the script begins). */
static int
conn_tls_first(const struct service *s)
{
	return s->tls != NULL && !s->conf->starttls;
}

static void conn_tls_begin(struct conn *c);

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
	c = conn_new(L, SOCKET_KEY);
	lua_pushvalue(L, -1);
	c->ref = luaL_ref(L, LUA_REGISTRYINDEX);
	a->c = c;
	conn_init(c, a->s, a->fd, a->peer);
	if (a->proxied || conn_tls_first(a->s))
		lua_pop(L, 2); /* main starts once the header, the handshake,
				  has come */
	else
		conn_spawn_main(L, c);
	c->st.proxy = a->proxied != 0;
	return 0;
}

static void
arm_idle(struct conn *c)
{
	if (c->st.proxy)
		stream_idle_at(&c->st, c->started + STREAM_PROXY_TIMEOUT);
	else if (c->svc->conf->idle_timeout > 0)
		stream_idle_at(&c->st, loop_now() + c->svc->conf->idle_timeout);
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
			a.c->st.io.fd = -1;
		}
		close(fd);
		admit_refuse(&s->admit, "tcp", peer, "script cannot start");
		return -1;
	}
	if (peer->sa.sa_family != AF_UNIX)
		net_nodelay(fd);
	LIST_INSERT_HEAD(&conns, a.c, all);
	admit_hold(&s->admit, peer, ADMIT_CLIENT);
	a.c->counted = 1;
	/* behind a proxy too: what is open was accepted, header or not */
	s->stats->accepted++;
	arm_idle(a.c);
	if (stream_start(&a.c->st) < 0) {
		log_msg(LOG_ERR, "%s: epoll: %m", s->name);
		conn_end(a.c, WHY_ERROR);
	} else if (!proxied && conn_tls_first(s)) {
		conn_tls_begin(a.c);
	}
	return 0;
}

#define conn_of_owned(h) \
	((struct conn *)((char *)(h)-offsetof(struct conn, owned)))

/* The task that opened it has ended: so does the socket. */
static void
owner_gone(struct task_hold *h)
{
	struct conn *c = conn_of_owned(h);

	c->owner = NULL;
	conn_end(c, WHY_SCRIPT);
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
	int fd, rc, e;

	if (admit_room(&s->admit) != NULL)
		return -2;
	/* first, since it may raise: no descriptor is open yet */
	lua_pushvalue(L, -1);
	c->ref = luaL_ref(L, LUA_REGISTRYINDEX);
	if ((rc = stream_connect(to, &fd)) < 0) {
		e = errno;
		luaL_unref(L, LUA_REGISTRYINDEX, c->ref);
		c->ref = LUA_NOREF;
		errno = e;
		return -1;
	}
	conn_init(c, s, fd, to);
	c->outbound = 1;
	c->owner = owner;
	task_hold(owner, &c->owned, owner_gone);
	LIST_INSERT_HEAD(&conns, c, all);
	admit_hold(&s->admit, to, ADMIT_OUTBOUND);
	c->counted = 1;
	if (stream_start(&c->st) < 0) {
		conn_end(c, WHY_ERROR);
		return -1;
	}
	return rc;
}

/* shutdown(2) for a script; a reader waiting wakes to the end. */
void
conn_shutdown(struct conn *c, int rd, int wr)
{
	if (rd)
		c->skipping = 0;
	stream_shutdown(&c->st, rd, wr);
	if (rd && c->reader)
		task_wake(c->reader);
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
	if ((why = admit_check(&s->admit, &c->peer)) != NULL) {
		admit_refuse(&s->admit, "tcp", &c->peer, why);
		proxy_fail(c, WHY_REFUSED);
		return;
	}
	admit_hold(&s->admit, &c->peer, ADMIT_CLIENT);
	c->counted = 1;
	if (conn_tls_first(s)) {
		conn_tls_begin(c);
		return;
	}
	arm_idle(c);
	if (service_pcall(s, start_main_p, c) != LUA_OK)
		proxy_fail(c, WHY_ERROR);
}

static void
proxy_header(struct stream *st, int how, const union net_addr *client)
{
	struct conn *c = (struct conn *)st;

	if (how == STREAM_HEADER_OK) {
		proxy_done(c, client);
		return;
	}
	/* counted with the refusals, by their reason */
	admit_count_refusal(&c->svc->admit, conn_why_text(WHY_NOPROXY));
	proxy_fail(c, WHY_NOPROXY);
}

/* The handshake, due within the service's handshake_timeout. */
static void
conn_tls_begin(struct conn *c)
{
	struct service *s = c->svc;

	if (tls_attach(&c->st, s->tls) < 0) {
		log_msg(LOG_ERR, "%s: no memory for a TLS session", s->name);
		proxy_fail(c, WHY_ERROR);
		return;
	}
	stream_handshake(&c->st);
}

/*
 * socket:starttls(): the handshake on the open connection, its main
 * parked until secured wakes it.  0, or -1 without memory.
 */
int
conn_starttls(struct conn *c)
{
	stream_free_input(&c->st);
	c->skipping = 0;
	if (tls_attach(&c->st, c->svc->tls) < 0)
		return -1;
	stream_handshake(&c->st);
	return 0;
}

static void
conn_secured(struct stream *st, int how)
{
	struct conn *c = (struct conn *)st;
	struct service *s = c->svc;
	char peer[NET_PEERSTRLEN];

	tls_handshake_end(st, how, s->stats, s->name,
	    net_peer(&c->peer, c->outbound ? "tcp out" : "tcp", peer));
	arm_idle(c);
	if (c->task != NULL || c->outbound) {
		/* STARTTLS, superd.connect: a coroutine waits for the end */
		if (how != STREAM_SECURE_OK)
			st->broken = st->eof = 1;
		if (c->reader)
			task_wake(c->reader);
		return;
	}
	if (how != STREAM_SECURE_OK)
		proxy_fail(c, WHY_TLS);
	else if (service_pcall(s, start_main_p, c) != LUA_OK)
		proxy_fail(c, WHY_ERROR);
}
