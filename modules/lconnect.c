/*
 * lconnect.c - superd.connect(host, port [, timeout | options]): outbound
 * TCP, or TLS with options.tls, from a coroutine.  Names are resolved by
 * getaddrinfo_a, which signals the end of a lookup through the signalfd, so the
 * loop never blocks on DNS; the connect itself is non-blocking and the
 * coroutine parks until the socket is writable.  The socket closes when the
 * coroutine that opened it ends, or on close().
 */
#include <errno.h>
#include <lauxlib.h>
#include <netdb.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "lconnect.h"
#include "lsocket.h"
#include "service.h"
#include "task.h"
#include "tls.h"
#include "tlsclient.h"
#include "tlsctx.h"

/*
 * At most LOOKUPS_MAX lookups run at once (glibc runs each on a thread of
 * its own, 20 at most), LOOKUPS_PER_SERVICE of them for one service, so
 * that one service's slow names cannot hold up another's; the rest wait
 * here, in order, and a lookup whose coroutine has gone is cancelled.
 */
#define LOOKUPS_MAX 16
#define LOOKUPS_PER_SERVICE 8

#define LOOKUP_WAITING 0 /* not handed to glibc yet */
#define LOOKUP_RUNNING 1
#define LOOKUP_DONE 2

struct lookup {
	struct gaicb cb;
	struct addrinfo hints;
	struct service *svc;
	struct task *t;	       /* NULL once its task has gone */
	struct task_hold hold; /* in t's holds while it waits */
	int state;
	int error; /* set when it could not be handed to glibc */
	int stray; /* glibc may still hold it: freed by strays_reap */
	char host[256], serv[8];
	struct lookup *next;	  /* on the stray list */
	TAILQ_ENTRY(lookup) link; /* waiting, or running */
};

static TAILQ_HEAD(, lookup) waiting = TAILQ_HEAD_INITIALIZER(waiting);
static TAILQ_HEAD(, lookup) running = TAILQ_HEAD_INITIALIZER(running);
static int nrunning;

/*
 * Lookups glibc runs with no signal to come: getaddrinfo_a can fail for
 * want of memory after it has queued the request.  Each is freed once
 * it has finished, as seen at a later lookup.
 */
static struct lookup *strays;

static void
lookup_free(struct lookup *lk)
{
	if (lk->cb.ar_result)
		freeaddrinfo(lk->cb.ar_result);
	free(lk);
}

static void
strays_reap(void)
{
	struct lookup **p = &strays, *lk;

	while ((lk = *p) != NULL) {
		if (gai_error(&lk->cb) == EAI_INPROGRESS) {
			p = &lk->next;
			continue;
		}
		*p = lk->next;
		lookup_free(lk);
	}
}

/* Freed now, unless glibc may still write to it. */
static void
lookup_release(struct lookup *lk)
{
	if (!lk->stray)
		lookup_free(lk);
}

/* The lookup has its answer, or will never run: its task may go on. */
static void
lookup_finish(struct lookup *lk)
{
	lk->state = LOOKUP_DONE;
	if (lk->t == NULL)
		lookup_release(lk);
	else if (lk->t->wait == TASK_LOOKUP)
		task_wake(lk->t);
}

/* Hands lk to glibc; the signal says when it is done. */
static void
submit(struct lookup *lk)
{
	struct sigevent sev = {0};
	struct gaicb *list[1] = {&lk->cb};

	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = LOOKUP_SIGNAL;
	sev.sigev_value.sival_ptr = lk;
	if (getaddrinfo_a(GAI_NOWAIT, list, 1, &sev) != 0) {
		/* glibc may have queued it all the same: then a stray */
		if (gai_error(&lk->cb) == EAI_INPROGRESS &&
		    gai_cancel(&lk->cb) == EAI_NOTCANCELED) {
			lk->stray = 1;
			lk->next = strays;
			strays = lk;
		}
		lk->error = EAI_SYSTEM;
		lookup_finish(lk);
		return;
	}
	lk->state = LOOKUP_RUNNING;
	TAILQ_INSERT_TAIL(&running, lk, link);
	nrunning++;
}

static int
running_for(const struct service *s)
{
	struct lookup *lk;
	int n = 0;

	TAILQ_FOREACH(lk, &running, link)
	n += lk->svc == s;
	return n;
}

/* Starts the waiting lookups there is room for, oldest first. */
static void
pump(void)
{
	struct lookup *lk, *next;

	for (lk = TAILQ_FIRST(&waiting); lk && nrunning < LOOKUPS_MAX;
	     lk = next) {
		next = TAILQ_NEXT(lk, link);
		if (running_for(lk->svc) >= LOOKUPS_PER_SERVICE)
			continue;
		TAILQ_REMOVE(&waiting, lk, link);
		submit(lk);
	}
}

static void
stop_running(struct lookup *lk)
{
	TAILQ_REMOVE(&running, lk, link);
	nrunning--;
	pump();
}

/* From the loop, when the lookup's signal arrives. */
void
lconnect_resolved(void *p)
{
	struct lookup *lk = p;

	stop_running(lk);
	lookup_finish(lk);
}

/*
 * Its task no longer waits for it (gone, or past its deadline): a lookup
 * not started yet, or cancelled before glibc ran it, is freed now; one
 * running frees itself when its signal comes.
 */
static void
lookup_leave(struct lookup *lk)
{
	lk->t = NULL;
	if (lk->state == LOOKUP_DONE) {
		lookup_release(lk);
	} else if (lk->state == LOOKUP_WAITING) {
		TAILQ_REMOVE(&waiting, lk, link);
		lookup_free(lk);
	} else if (gai_cancel(&lk->cb) == EAI_CANCELED) {
		/* no signal will come for it */
		stop_running(lk);
		lookup_free(lk);
	}
}

#define lookup_of_hold(h) \
	((struct lookup *)((char *)(h)-offsetof(struct lookup, hold)))

/* Its task ended mid-lookup. */
static void
lookup_dropped(struct task_hold *h)
{
	lookup_leave(lookup_of_hold(h));
}

static int connected_k(lua_State *L, int status, lua_KContext ctx);

/* The socket closed, or the deadline came, while the coroutine waited. */
static int
gone(lua_State *L, struct conn *c)
{
	if (c->state != CONN_OPEN)
		return lsocket_fail(L, "closed");
	conn_end(c, WHY_TIMEOUT);
	return lsocket_fail(L, "timeout");
}

/*
 * Every opt_* reader's one shape: options[name] pushed, nil when the
 * options at 3 are no table, its type returned; the reader pops it.
 */
static int
opt_field(lua_State *L, const char *name)
{
	if (lua_istable(L, 3))
		return lua_getfield(L, 3, name);
	lua_pushnil(L);
	return LUA_TNIL;
}

/* A string option, or NULL; an error if not one. */
static const char *
opt_string(lua_State *L, const char *name)
{
	const char *s = NULL;
	int type = opt_field(L, name);

	if (type == LUA_TSTRING)
		s = lua_tostring(L, -1);
	else if (type != LUA_TNIL)
		luaL_error(
		    L, "superd.connect: option %s must be a string", name);
	lua_pop(L, 1); /* the table still holds it */
	return s;
}

/* A flag option, any value as Lua's truth, or dflt when absent. */
static int
opt_flag(lua_State *L, const char *name, int dflt)
{
	int v = dflt;

	if (opt_field(L, name) != LUA_TNIL)
		v = lua_toboolean(L, -1);
	lua_pop(L, 1);
	return v;
}

/* A number option, or 0: luaL_optnumber's error if not one. */
static lua_Number
opt_number(lua_State *L, const char *name)
{
	lua_Number v;

	opt_field(L, name);
	v = luaL_optnumber(L, -1, 0);
	lua_pop(L, 1);
	return v;
}

/* options.alpn = {"h2", ...} in the wire's format, into out. */
static unsigned
opt_alpn(lua_State *L, unsigned char *out, size_t cap)
{
	unsigned n = 0;
	size_t len;
	const char *p;
	int i;

	if (opt_field(L, "alpn") == LUA_TNIL) {
		lua_pop(L, 1);
		return 0;
	}
	luaL_argcheck(L, lua_istable(L, -1), 3, "alpn must be a list of names");
	for (i = 1; lua_rawgeti(L, -1, i) != LUA_TNIL; i++) {
		p = lua_tolstring(L, -1, &len);
		luaL_argcheck(L,
		    p != NULL && len > 0 && len < 256 && n + 1 + len <= cap, 3,
		    "alpn: names of 1 to 255 bytes");
		out[n++] = (unsigned char)len;
		memcpy(out + n, p, len);
		n += (unsigned)len;
		lua_pop(L, 1);
	}
	lua_pop(L, 2);
	return n;
}

/* Stack: host, port, options, socket: its handshake ended, or not yet. */
static int
secured_k(lua_State *L, int status, lua_KContext ctx)
{
	struct conn *c = luaL_checkudata(L, 4, SOCKET_MT);
	struct task *t = task_current(L);
	char why[300];

	(void)status;
	(void)ctx;
	if (c->state != CONN_OPEN || task_take_timeout(t))
		return gone(L, c);
	if (c->st.handshaking)
		return lsocket_park(L, &c->reader, TASK_READ, 0, secured_k);
	if (c->st.broken) {
		snprintf(why, sizeof(why), "TLS handshake failed: %s",
		    tls_failure());
		conn_end(c, WHY_TLS);
		return lsocket_fail(L, why);
	}
	lua_settop(L, 4);
	return 1;
}

/* options.tls: the handshake on the connected socket at 4. */
static int
start_tls(lua_State *L, struct conn *c)
{
	struct tls_client_opts o = {opt_string(L, "ca"),
	    opt_string(L, "certificate"), opt_string(L, "key"),
	    opt_flag(L, "verify", 1)};
	const char *name = opt_string(L, "servername");
	unsigned char alpn[512];
	unsigned alpn_len = opt_alpn(L, alpn, sizeof(alpn));
	struct tls_ctx *x;
	char err[300];
	int rc;

	if ((o.certificate == NULL) != (o.key == NULL)) {
		conn_end(c, WHY_TLS);
		return lsocket_fail(L, "certificate and key go together");
	}
	if ((x = tlsclient_ctx(&o, err, sizeof(err))) == NULL) {
		conn_end(c, WHY_TLS);
		return lsocket_fail(L, err);
	}
	rc = tls_attach_client(&c->st, x, name ? name : lua_tostring(L, 1),
	    alpn_len ? alpn : NULL, alpn_len, 10);
	tlsctx_release(x);
	if (rc < 0) {
		conn_end(c, WHY_ERROR);
		return lsocket_fail(L, "no memory for a TLS session");
	}
	stream_handshake(&c->st);
	return secured_k(L, LUA_OK, 0);
}

/* Connected: the socket, or its TLS handshake first. */
static int
connected(lua_State *L, struct conn *c)
{
	lua_settop(L, 4);
	if (opt_flag(L, "tls", 0))
		return start_tls(L, c);
	return 1;
}

/* Stack: host, port, timeout or options, socket (once connecting). */
static int
connected_k(lua_State *L, int status, lua_KContext ctx)
{
	struct conn *c = luaL_checkudata(L, 4, SOCKET_MT);
	struct task *t = task_current(L);
	int err = 0;
	socklen_t len = sizeof(err);

	(void)status;
	(void)ctx;
	if (c->state != CONN_OPEN || task_take_timeout(t))
		return gone(L, c);
	if (getsockopt(c->st.io.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err != 0) {
		conn_end(c, WHY_CONNECT);

		lua_pushnil(L);
		lua_pushstring(L, strerror(err));
		return 2;
	}
	return connected(L, c);
}

/* Copies the first address out, so nothing is left to free on a park. */
static void
first_addr(struct addrinfo *ai, union net_addr *to)
{
	memset(to, 0, sizeof(*to));
	memcpy(to, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
}

/* Does not return when it parks: lua_yieldk leaves by longjmp. */
static int
start_connect(lua_State *L, struct task *t, const union net_addr *to)
{
	struct conn *c;
	int rc;

	lua_settop(L, 3);
	c = conn_new(L, SOCKET_KEY);
	rc = conn_connect(L, c, t->svc, t, to);
	if (rc == -2)
		return lsocket_fail(L, "max_connections");
	if (rc < 0)
		return lsocket_fail(L, strerror(errno));

	if (rc == 0)
		return connected(L, c);
	return task_park(
	    L, t, TASK_WRITE, &c->writer, t->deadline, 0, connected_k);
}

/* Stack: host, port, timeout, lookup (light userdata). */
static int
resolved_k(lua_State *L, int status, lua_KContext ctx)
{
	struct lookup *lk = lua_touserdata(L, 4);
	struct task *t = task_current(L);
	union net_addr to;
	int rc;

	(void)status;
	(void)ctx;
	task_unhold(&lk->hold);
	if (lk->state != LOOKUP_DONE) {
		/* the deadline came first */
		lookup_leave(lk);
		task_take_timeout(t);
		return lsocket_fail(L, "timeout");
	}
	if (lk->error) {
		lookup_release(lk);
		return lsocket_fail(L, "name lookup failed");
	}
	rc = gai_error(&lk->cb);
	if (rc == 0)
		first_addr(lk->cb.ar_result, &to);
	else if (lk->cb.ar_result)
		freeaddrinfo(lk->cb.ar_result);
	free(lk);
	if (rc != 0)
		return lsocket_fail(L, gai_strerror(rc));
	return start_connect(L, t, &to);
}

static int
start_lookup(lua_State *L, struct task *t, const char *host, int port)
{
	struct lookup *lk = calloc(1, sizeof(*lk));

	strays_reap();
	if (lk == NULL)
		return luaL_error(L, "not enough memory");
	if (strlen(host) >= sizeof(lk->host)) {
		free(lk);
		return lsocket_fail(L, "bad host name");
	}
	snprintf(lk->host, sizeof(lk->host), "%s", host);
	snprintf(lk->serv, sizeof(lk->serv), "%d", port);
	lk->hints.ai_socktype = SOCK_STREAM;
	lk->cb.ar_name = lk->host;
	lk->cb.ar_service = lk->serv;
	lk->cb.ar_request = &lk->hints;
	lk->t = t;
	lk->svc = t->svc;
	task_hold(t, &lk->hold, lookup_dropped);
	lua_settop(L, 3);
	lua_pushlightuserdata(L, lk);
	TAILQ_INSERT_TAIL(&waiting, lk, link);
	pump();
	if (lk->state == LOOKUP_DONE) /* it could not be handed on */
		return resolved_k(L, LUA_OK, 0);
	return task_park(L, t, TASK_LOOKUP, NULL, t->deadline, 0, resolved_k);
}

int
lconnect_connect(lua_State *L)
{
	const char *host = luaL_checkstring(L, 1);
	lua_Integer port = luaL_checkinteger(L, 2);
	lua_Number timeout = 0;
	struct task *t = task_current(L);
	struct addrinfo hints = {0}, *ai;
	union net_addr to;
	char serv[8];
	int rc;

	luaL_argcheck(L, port > 0 && port < 65536, 2, "port out of range");
	if (lua_istable(L, 3))
		timeout = opt_number(L, "timeout");
	else
		timeout = luaL_optnumber(L, 3, 0);
	luaL_argcheck(L, timeout == timeout, 3, "not a number (NaN)");
	if (t == NULL)
		return luaL_error(L, "superd.connect needs a coroutine");
	lua_settop(L, 3);
	task_deadline(t, timeout);
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	snprintf(serv, sizeof(serv), "%d", (int)port);
	if ((rc = getaddrinfo(host, serv, &hints, &ai)) == EAI_MEMORY)
		return luaL_error(L, "not enough memory");
	if (rc != 0)
		return start_lookup(L, t, host, (int)port);
	first_addr(ai, &to);
	return start_connect(L, t, &to);
}
