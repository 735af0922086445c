/*
 * ltls.c - TLS as a script sees it: socket:tlsinfo(), a table of what the
 * handshake agreed, or nil on a plain socket (a datagram's too); and
 * socket:starttls(), the handshake on a connection that began plain.
 */
#include <lauxlib.h>

#include "conn.h"
#include "lsocket.h"
#include "ltls.h"
#include "service.h"
#include "task.h"
#include "tls.h"

#define FLUSHING 0
#define SECURING 1

static void
set_string(lua_State *L, const char *name, const char *value)
{
	if (value == NULL || *value == '\0')
		return;
	lua_pushstring(L, value);
	lua_setfield(L, -2, name);
}

static void
set_bool(lua_State *L, const char *name, int value)
{
	lua_pushboolean(L, value);
	lua_setfield(L, -2, name);
}

int
ltls_tlsinfo(lua_State *L)
{
	struct conn *c = lsocket_check(L, 1);
	struct tls_info ti;

	if (c->state == CONN_CLOSED || tls_info(&c->st, &ti) < 0) {
		lua_pushnil(L);
		return 1;
	}
	lua_createtable(L, 0, 8);
	set_string(L, "version", ti.version);
	set_string(L, "cipher", ti.cipher);
	set_string(L, "sni", ti.sni);
	set_string(L, "alpn", ti.alpn);
	set_string(L, "peer_subject", ti.subject);
	set_string(L, "peer_issuer", ti.issuer);
	set_bool(L, "verified", ti.verified);
	set_bool(L, "resumed", ti.resumed);
	return 1;
}

/*
 * After the flush, the plaintext already read goes unread: bytes sent
 * behind the STARTTLS command, before the handshake, are an injection
 * (CVE-2011-0411), never the script's to see.
 */
static int
starttls_k(lua_State *L, int status, lua_KContext ctx)
{
	struct conn *c = lsocket_check(L, 1);
	struct task *t = task_current(L);

	(void)status;
	if (c->state != CONN_OPEN ||
	    (ctx == FLUSHING && stream_flush(&c->st) < 0))
		return lsocket_closed(L, c, CONN_REPORTED_R | CONN_REPORTED_W);
	if (ctx == FLUSHING && buf_used(&c->st.out) > 0) {
		if (task_take_timeout(t))
			return lsocket_fail(L, "timeout");
		return lsocket_park(
		    L, &c->writer, TASK_FLUSH, FLUSHING, starttls_k);
	}
	if (ctx == FLUSHING && conn_starttls(c) < 0)
		return lsocket_fail(L, "no memory for a TLS session");
	if (c->st.handshaking)
		return lsocket_park(
		    L, &c->reader, TASK_READ, SECURING, starttls_k);
	if (c->st.ssl == NULL || c->st.broken)
		return lsocket_fail(L, "TLS handshake failed");
	lua_pushboolean(L, 1);
	return 1;
}

int
ltls_starttls(lua_State *L)
{
	struct conn *c = lsocket_check(L, 1);
	struct task *t = task_current(L);

	if (c->outbound || c->svc->tls == NULL || !c->svc->conf->starttls)
		return lsocket_fail(L, "not a starttls service");
	if (c->st.ssl != NULL)
		return lsocket_fail(L, "already TLS");
	if (t == NULL || c->task != t)
		return lsocket_fail(
		    L, "only the connection's main may start TLS");
	lua_settop(L, 1);
	return starttls_k(L, LUA_OK, FLUSHING);
}
