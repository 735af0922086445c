/*
 * ltls.c - TLS as a script sees it: socket:tlsinfo(), a table of what the
 * handshake agreed, or nil on a plain socket (a datagram's too).
 */
#include <lauxlib.h>

#include "conn.h"
#include "lsocket.h"
#include "ltls.h"
#include "tls.h"

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
