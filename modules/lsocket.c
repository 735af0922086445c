/* lsocket.c - the Lua socket object: read, write and friends. */
#include <errno.h>
#include <lauxlib.h>
#include <string.h>
#include <sys/socket.h>

#include "conn.h"
#include "log.h"
#include "lsocket.h"
#include "ltls.h"
#include "service.h"
#include "task.h"
#include "unixsock.h"

#define READ_LINE 0
#define READ_LINE_KEEP 1
#define READ_ALL 2
#define READ_COUNT 3 /* exactly n bytes, fewer only at the end */
#define READ_SOME 4  /* 1 to n bytes, as soon as any arrive */
#define READ_KIND(ctx) ((int)((ctx)&7))
#define READ_N(ctx) ((size_t)((ctx) >> 3))
#define READ_CTX(kind, n) ((kind) | ((lua_KContext)(n) << 3))

#define toconn(L) checkconn(L, 1)

/*
 * A socket of either kind: a connection's, found without hashing
 * "superd.socket" on every call, or a datagram's.
 */
static struct conn *
checkconn(lua_State *L, int arg)
{
	struct conn *c = lua_touserdata(L, arg);
	int ok;

	if (c == NULL || !lua_getmetatable(L, arg))
		return luaL_checkudata(L, arg, SOCKET_MT);
	lua_rawgetp(L, LUA_REGISTRYINDEX, SOCKET_KEY);
	ok = lua_rawequal(L, -1, -2);
	if (!ok) {
		lua_rawgetp(L, LUA_REGISTRYINDEX, DATAGRAM_KEY);
		ok = lua_rawequal(L, -1, -3);
		lua_pop(L, 1);
	}
	lua_pop(L, 2);
	if (ok)
		return c;
	return luaL_checkudata(L, arg, SOCKET_MT);
}

struct conn *
lsocket_check(lua_State *L, int arg)
{
	return checkconn(L, arg);
}

static int
is_own(lua_State *L, struct conn *c)
{
	struct task *t = task_current(L);

	return t != NULL && (t->ud == c || c->owner == t);
}

/*
 * nil, "closed" the first time; after that the connection's own
 * coroutine gets an error, so a loop that ignores nil cannot spin.
 * Other coroutines (a chat's fan-out) keep getting nil, "closed".
 */
int
lsocket_closed(lua_State *L, struct conn *c, int dir)
{
	if (c->state != CONN_OPEN)
		dir = CONN_REPORTED_R | CONN_REPORTED_W;
	if ((c->reported & dir) && is_own(L, c))
		return luaL_error(L, "attempt to use a closed socket");
	c->reported |= dir;
	lua_pushnil(L);
	lua_pushliteral(L, "closed");
	return 2;
}

/*
 * A socket has a reader slot and a writer slot: one coroutine may wait
 * in a read while another waits in a write or flush, but never two in
 * the same direction.
 */
int
lsocket_park(lua_State *L, struct task **slot, int wait, lua_KContext ctx,
    lua_KFunction k)
{
	struct task *t = task_current(L);

	if (*slot != NULL && *slot != t)
		return luaL_error(L, "socket is %s by another coroutine",
		    wait == TASK_READ ? "being read" : "being written");
	return task_park(L, t, wait, slot, t ? t->deadline : 0, ctx, k);
}

/* nil, err: how every socket call reports a failure. */
int
lsocket_fail(lua_State *L, const char *err)
{
	lua_pushnil(L);
	lua_pushstring(L, err);
	return 2;
}

/* Pushes keep bytes of the next n, then drops the n: an error loses none. */
static void
push_consume(lua_State *L, struct conn *c, size_t n, size_t keep)
{
	lua_pushlstring(L, buf_head(&c->st.in), keep);
	buf_consume(&c->st.in, n);
}

static int
take_line(lua_State *L, struct conn *c, int kind)
{
	size_t n, len;

	if (c->skipping) {
		if (!buf_skip_line(&c->st.in))
			return 0;
		c->skipping = 0;
	}
	n = buf_line(&c->st.in, (size_t)c->svc->conf->max_line + 1);
	if (n == BUF_LINE_NONE)
		return 0;
	if (n == BUF_LINE_TOOLONG) {
		/* The rest of the long line goes; the lines after it stay. */
		c->skipping = !buf_skip_line(&c->st.in);
		lsocket_fail(L, "line too long");
		return -1;
	}
	len = n;
	if (kind == READ_LINE) {
		len--;
		if (len > 0 && buf_head(&c->st.in)[len - 1] == '\r')
			len--;
	}
	push_consume(L, c, n, len);
	return 1;
}

/* 1: pushed a value; 0: needs more input; -1: pushed nil, err. */
static int
take(lua_State *L, struct conn *c, lua_KContext ctx)
{
	size_t n = buf_used(&c->st.in);

	switch (READ_KIND(ctx)) {
	case READ_LINE:
	case READ_LINE_KEEP:
		return take_line(L, c, READ_KIND(ctx));
	case READ_COUNT:
		if (n < READ_N(ctx))
			return 0;
		push_consume(L, c, READ_N(ctx), READ_N(ctx));
		return 1;
	case READ_SOME:
		if (n == 0)
			return 0;
		n = n < READ_N(ctx) ? n : READ_N(ctx);
		push_consume(L, c, n, n);
		return 1;
	}
	return 0;
}

static int
take_eof(lua_State *L, struct conn *c, lua_KContext ctx)
{
	size_t n = buf_used(&c->st.in);

	if (c->skipping)
		n = 0;
	if (READ_KIND(ctx) == READ_ALL ||
	    (n > 0 && READ_KIND(ctx) != READ_SOME)) {
		push_consume(L, c, buf_used(&c->st.in), n);
		return 1;
	}
	lsocket_closed(L, c, CONN_REPORTED_R);
	return -1;
}

static int
read_try(lua_State *L, struct conn *c, lua_KContext ctx)
{
	int r;

	for (;;) {
		if ((r = take(L, c, ctx)) != 0)
			break;
		if (c->st.eof) {
			r = take_eof(L, c, ctx);
			break;
		}
		if ((r = stream_fill(&c->st)) == -2)
			return luaL_error(L, "not enough memory");
		if (r < 0) {
			r = 0;
			break;
		}
	}
	return r;
}

static int
read_k(lua_State *L, int status, lua_KContext ctx)
{
	struct conn *c = toconn(L);
	struct task *t = task_current(L);
	int r;

	(void)status;
	if (c->state != CONN_OPEN)
		return lsocket_closed(L, c, CONN_REPORTED_R);
	if ((r = read_try(L, c, ctx)) != 0)
		return r > 0 ? 1 : 2;
	if (task_take_timeout(t))
		return lsocket_fail(L, "timeout");
	return lsocket_park(L, &c->reader, TASK_READ, ctx, read_k);
}

static lua_KContext
read_count(lua_State *L, int arg, int kind)
{
	lua_Integer n = luaL_checkinteger(L, arg);

	luaL_argcheck(L, n >= 1, arg, "count must be positive");
	if (n > (1 << 30))
		n = 1 << 30;
	return READ_CTX(kind, n);
}

static lua_KContext
read_format(lua_State *L, int arg)
{
	const char *f;

	if (lua_type(L, arg) == LUA_TNUMBER)
		return read_count(L, arg, READ_COUNT);
	f = luaL_optstring(L, arg, "l");
	if (*f == '*')
		f++;
	switch (*f) {
	case 'l':
		return READ_LINE;
	case 'L':
		return READ_LINE_KEEP;
	case 'a':
		return READ_ALL;
	}
	return luaL_argerror(L, arg, "invalid format");
}

static int
read_start(lua_State *L, struct conn *c, lua_KContext ctx)
{
	struct task *t = task_current(L);

	lua_settop(L, 1);
	task_deadline(t, c->timeout);
	/* a read that fails at once is no wait: a pcall loop on it stays a
	 * runaway for cpu_limit */
	if (c->state == CONN_OPEN && !c->st.eof &&
	    (c->reader == NULL || c->reader == t) && task_must_pause(L, t))
		return task_pause(L, t, ctx, read_k);
	return read_k(L, LUA_OK, ctx);
}

static int
lsocket_read(lua_State *L)
{
	return read_start(L, toconn(L), read_format(L, 2));
}

static int
lsocket_readsome(lua_State *L)
{
	return read_start(L, toconn(L), read_count(L, 2, READ_SOME));
}

/* Each step is the socket's own read (a connection's, a datagram's). */
static int
lines_iter(lua_State *L)
{
	lua_CFunction read = lua_tocfunction(L, lua_upvalueindex(3));

	lua_settop(L, 0);
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_pushvalue(L, lua_upvalueindex(2));
	return read(L);
}

int
lsocket_lines(lua_State *L)
{
	lua_CFunction read;

	toconn(L);
	lua_settop(L, 2);
	lua_getfield(L, 1, "read");
	if ((read = lua_tocfunction(L, -1)) == NULL)
		read = lsocket_read;
	lua_pop(L, 1);
	lua_pushcfunction(L, read);
	lua_pushcclosure(L, lines_iter, 3);
	return 1;
}

/* Open, not broken, not shut for writing by the script. */
static int
writable(const struct conn *c)
{
	return c->state == CONN_OPEN && !c->st.broken &&
	       c->st.shut_wr == SHUT_WR_NONE;
}

/*
 * Queues arguments from i on while at most upto bytes wait (so a queue
 * grows past it by one argument at most); the first one left out.
 */
static int
append_from(lua_State *L, struct conn *c, int i, size_t upto)
{
	int n = lua_gettop(L);
	const char *s;
	size_t len;

	for (; i <= n && buf_used(&c->st.out) <= upto; i++) {
		s = lua_tolstring(L, i, &len);
		if (buf_append(&c->st.out, s, len) < 0)
			return luaL_error(L, "not enough memory");
	}
	return i;
}

/* The own coroutine's write: ctx is the next argument to queue. */
static int
write_k(lua_State *L, int status, lua_KContext next)
{
	struct conn *c = toconn(L);
	struct task *t = task_current(L);

	(void)status;
	for (;;) {
		if (!writable(c) || stream_flush(&c->st) < 0)
			return lsocket_closed(L, c, CONN_REPORTED_W);
		if (buf_used(&c->st.out) > CONN_HIGH_WATER)
			break;
		if (next > lua_gettop(L)) {
			lua_settop(L, 1);
			return 1;
		}
		next = append_from(L, c, (int)next, CONN_HIGH_WATER);
	}
	if (task_take_timeout(t))
		return lsocket_fail(L, "timeout");
	return lsocket_park(L, &c->writer, TASK_WRITE, next, write_k);
}

/* The own coroutine's write from its start: at once, or after a pause. */
static int
write_own_k(lua_State *L, int status, lua_KContext ctx)
{
	struct conn *c = toconn(L);
	int next;

	(void)status;
	(void)ctx;
	if (!writable(c))
		return lsocket_closed(L, c, CONN_REPORTED_W);
	stream_want_flush(&c->st);
	next = append_from(L, c, 2, CONN_HIGH_WATER);
	if (next > lua_gettop(L) && buf_used(&c->st.out) <= CONN_HIGH_WATER) {
		lua_settop(L, 1);
		return 1;
	}
	return write_k(L, LUA_OK, next);
}

/*
 * Another coroutine's write.  It never waits on a target it has not yet
 * overfilled (a fan-out goes on past a member that lags), but a write to
 * a target already above its mark waits for it to drain, as the writer's
 * next own call would, and a writer holding the loop past its slice gives
 * a turn.  The target is dropped as slow when above output_limit with the
 * kernel taking nothing more, or when it sends nothing for slow_timeout
 * while above its mark (slow_fired).
 */
static int
write_other_k(lua_State *L, int status, lua_KContext ctx)
{
	struct conn *c = toconn(L);
	struct task *t = task_current(L);
	size_t limit = (size_t)c->svc->conf->output_limit, before;
	int next;

	(void)status;
	(void)ctx;
	if (!writable(c))
		return lsocket_closed(L, c, CONN_REPORTED_W);
	if (task_take_timeout(t))
		return lsocket_fail(L, "timeout");
	if (buf_used(&c->st.out) > conn_mark(c) && task_can_turn(L, t)) {
		if (conn_settle(c, t) < 0)
			return lsocket_closed(L, c, CONN_REPORTED_W);
		if (buf_used(&c->st.out) > conn_mark(c))
			return task_pause(L, t, 0, write_other_k);
	}
	if (task_slice_over(L, t))
		return task_turn(L, t, 0, write_other_k);
	stream_want_flush(&c->st);
	next = append_from(L, c, 2, limit);
	if ((before = buf_used(&c->st.out)) > limit) {
		if (stream_flush(&c->st) < 0)
			return lsocket_closed(L, c, CONN_REPORTED_W);
		if (buf_used(&c->st.out) == before) {
			conn_end(c, WHY_SLOW);
			return lsocket_closed(L, c, CONN_REPORTED_W);
		}
		append_from(L, c, next, (size_t)-1);
	}
	if (conn_settle(c, t) < 0)
		return lsocket_closed(L, c, CONN_REPORTED_W);
	lua_settop(L, 1);
	return 1;
}

static int
write_other(lua_State *L, struct conn *c, struct task *t)
{
	task_deadline(t, c->timeout);
	return write_other_k(L, LUA_OK, 0);
}

/*
 * Queues output.  The connection's own coroutine waits while more than
 * CONN_HIGH_WATER is queued; any other coroutine never waits, and a
 * target whose queue passes output_limit is dropped as a slow consumer.
 */
static int
lsocket_write(lua_State *L)
{
	struct conn *c = toconn(L);
	struct task *t = task_current(L);
	int i;

	if (!writable(c))
		return lsocket_closed(L, c, CONN_REPORTED_W);
	for (i = 2; i <= lua_gettop(L); i++)
		luaL_checklstring(L, i, NULL);
	if (!is_own(L, c))
		return write_other(L, c, t);
	task_deadline(t, c->timeout);
	if (task_must_pause(L, t))
		return task_pause(L, t, 0, write_own_k);
	return write_own_k(L, LUA_OK, 0);
}

/* Waits until everything queued has gone to the kernel. */
static int
flush_k(lua_State *L, int status, lua_KContext ctx)
{
	struct conn *c = toconn(L);
	struct task *t = task_current(L);

	(void)status;
	(void)ctx;
	if (c->state != CONN_OPEN || stream_flush(&c->st) < 0)
		return lsocket_closed(L, c, CONN_REPORTED_W);
	if (buf_used(&c->st.out) == 0) {
		lua_settop(L, 1);
		return 1;
	}
	if (task_take_timeout(t))
		return lsocket_fail(L, "timeout");
	return lsocket_park(L, &c->writer, TASK_FLUSH, 0, flush_k);
}

static int
lsocket_flush(lua_State *L)
{
	struct conn *c = toconn(L);
	struct task *t = task_current(L);

	lua_settop(L, 1);
	task_deadline(t, c->timeout);
	if (task_must_pause(L, t))
		return task_pause(L, t, 0, flush_k);
	return flush_k(L, LUA_OK, 0);
}

/* shutdown([how]): "w" (the default), "r" or "rw", as shutdown(2). */
static int
lsocket_shutdown(lua_State *L)
{
	static const char *const hows[] = {"w", "r", "rw", NULL};
	struct conn *c = toconn(L);
	int how = luaL_checkoption(L, 2, "w", hows);

	if (c->state != CONN_OPEN)
		return lsocket_closed(L, c, CONN_REPORTED_R | CONN_REPORTED_W);
	conn_shutdown(c, how != 0, how != 1);
	lua_settop(L, 1);
	return 1;
}

/* Ends the connection: queued output is still sent, then fini runs. */
static int
lsocket_close(lua_State *L)
{
	struct conn *c = toconn(L);

	if (c->state != CONN_OPEN)
		return 0;
	if (is_own(L, c))
		c->task = NULL;
	conn_end(c, WHY_SCRIPT);
	return 0;
}

int
lsocket_settimeout(lua_State *L)
{
	struct conn *c = toconn(L);

	c->timeout = luaL_optnumber(L, 2, 0);
	luaL_argcheck(L, c->timeout == c->timeout, 2, "not a number (NaN)");
	if (c->timeout < 0)
		c->timeout = 0;
	lua_settop(L, 1);
	return 1;
}

/*
 * A unix socket's name, both ends: "unix" and the listener's path.  An
 * accepted socket's own name is that path, so no connection keeps it;
 * once closed, the service's path stands in.
 */
static int
push_unix(lua_State *L, struct conn *c)
{
	char path[128];

	if (c->state != CONN_CLOSED &&
	    unixsock_path(c->st.io.fd, path, sizeof(path)) == 0)
		lua_pushstring(L, path);
	else if (c->svc->conf->path != NULL)
		lua_pushstring(L, c->svc->conf->path);
	else
		return lsocket_fail(L, "closed");
	lua_pushliteral(L, "unix");
	lua_insert(L, -2);
	return 2;
}

static int
push_addr(lua_State *L, const union net_addr *a)
{
	char addr[NET_ADDRSTRLEN];
	int port;

	if (net_ntop(a, addr, &port) == NULL)
		return lsocket_fail(L, "closed");
	lua_pushstring(L, addr);
	lua_pushinteger(L, port);
	return 2;
}

int
lsocket_getpeername(lua_State *L)
{
	struct conn *c = toconn(L);

	if (c->peer.sa.sa_family == AF_UNIX)
		return push_unix(L, c);
	return push_addr(L, &c->peer);
}

int
lsocket_getsockname(lua_State *L)
{
	struct conn *c = toconn(L);
	union net_addr a;

	if (c->peer.sa.sa_family == AF_UNIX)
		return push_unix(L, c);
	if (c->state == CONN_CLOSED || net_local(c->st.io.fd, &a) < 0)
		return lsocket_fail(L, "closed");
	return push_addr(L, &a);
}

/* SO_PEERCRED as it was at the accept: the client's pid, uid and gid. */
int
lsocket_getpeercred(lua_State *L)
{
	struct conn *c = toconn(L);

	if (c->peer.sa.sa_family != AF_UNIX)
		return lsocket_fail(L, "not a unix socket");
	lua_pushinteger(L, c->peer.un.pid);
	lua_pushinteger(L, c->peer.un.uid);
	lua_pushinteger(L, c->peer.un.gid);
	return 3;
}

static int
lsocket_protocol(lua_State *L)
{
	struct conn *c = toconn(L);

	if (c->peer.sa.sa_family == AF_UNIX)
		lua_pushliteral(L, "unix");
	else
		lua_pushliteral(L, "tcp");
	return 1;
}

/*
 * tostring(socket): "socket ADDR:PORT #FD" for a connection ("socket unix
 * uid N pid N #FD" on a unix socket), "socket udp ADDR:PORT" for a
 * datagram (kind "udp "), "(closed)" once it has ended.
 */
int
lsocket_name(lua_State *L, struct conn *c, const char *kind)
{
	char peer[NET_PEERSTRLEN];

	net_peer(&c->peer, NULL, peer);
	if (c->state == CONN_CLOSED)
		lua_pushfstring(L, "socket %s (closed)", peer);
	else if (*kind)
		lua_pushfstring(L, "socket %s%s", kind, peer);
	else
		lua_pushfstring(L, "socket %s #%d", peer, c->st.io.fd);
	return 1;
}

static int
lsocket__tostring(lua_State *L)
{
	return lsocket_name(L, toconn(L), "");
}

static const luaL_Reg methods[] = {
    {"read", lsocket_read},
    {"readsome", lsocket_readsome},
    {"lines", lsocket_lines},
    {"write", lsocket_write},
    {"flush", lsocket_flush},
    {"shutdown", lsocket_shutdown},
    {"close", lsocket_close},
    {"settimeout", lsocket_settimeout},
    {"getpeername", lsocket_getpeername},
    {"getsockname", lsocket_getsockname},
    {"getpeercred", lsocket_getpeercred},
    {"protocol", lsocket_protocol},
    {"tlsinfo", ltls_tlsinfo},
    {"starttls", ltls_starttls},
    {NULL, NULL},
};

static const luaL_Reg metamethods[] = {
    {"__tostring", lsocket__tostring},
    {NULL, NULL},
};

void
lsocket_open(lua_State *L)
{
	luaL_newmetatable(L, SOCKET_MT);
	lua_pushvalue(L, -1);
	lua_rawsetp(L, LUA_REGISTRYINDEX, SOCKET_KEY);
	luaL_setfuncs(L, metamethods, 0);
	luaL_newlib(L, methods);
	lua_setfield(L, -2, "__index");
	lua_pushliteral(L, "socket");
	lua_setfield(L, -2, "__name");
	lua_pop(L, 1);
}
