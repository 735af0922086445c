/*
 * ldgram.c - the socket a datagram's main gets: read() returns the
 * payload once, each write() is one datagram back to the sender, sent
 * when the turn ends; the rest is the connection socket's.
 */
#include <lauxlib.h>

#include "conn.h"
#include "ldgram.h"
#include "lsocket.h"
#include "ltls.h"
#include "task.h"
#include "udp.h"

/* The payload, once; then the socket reads as closed. */
static int
dgram_read(lua_State *L)
{
	struct conn *c = lsocket_check(L, 1);

	if (c->state != CONN_OPEN || c->st.eof)
		return lsocket_closed(L, c, CONN_REPORTED_R);
	c->st.eof = 1;
	lua_getuservalue(L, 1);
	lua_pushnil(L);
	lua_setuservalue(L, 1);
	return 1;
}

/* The datagram: one string as it is, several joined. */
static const char *
payload(lua_State *L, size_t *len)
{
	int i, n = lua_gettop(L);
	luaL_Buffer b;

	if (n == 2)
		return luaL_checklstring(L, 2, len);
	luaL_buffinit(L, &b);
	for (i = 2; i <= n; i++) {
		luaL_checklstring(L, i, NULL);
		lua_pushvalue(L, i);
		luaL_addvalue(&b);
	}
	luaL_pushresult(&b);
	return lua_tolstring(L, -1, len);
}

static int
write_k(lua_State *L, int status, lua_KContext ctx)
{
	struct conn *c = lsocket_check(L, 1);
	const char *data;
	size_t len;

	(void)status;
	(void)ctx;
	if (c->state != CONN_OPEN)
		return lsocket_closed(L, c, CONN_REPORTED_W);
	data = payload(L, &len);
	if (len > UDP_MAX_PAYLOAD)
		return lsocket_fail(L, "datagram too large");
	if (udp_send(c, data, len) < 0)
		return lsocket_fail(L, "closed");
	lua_settop(L, 1);
	return 1;
}

/* A coroutine past its time slice gives the loop a turn first. */
static int
dgram_write(lua_State *L)
{
	struct task *t = task_current(L);

	lsocket_check(L, 1);
	if (task_must_pause(L, t))
		return task_pause(L, t, 0, write_k);
	return write_k(L, LUA_OK, 0);
}

/* Replies leave when the turn ends: nothing to wait for. */
static int
dgram_flush(lua_State *L)
{
	lsocket_check(L, 1);
	lua_settop(L, 1);
	return 1;
}

static int
dgram_shutdown(lua_State *L)
{
	return lsocket_closed(
	    L, lsocket_check(L, 1), CONN_REPORTED_R | CONN_REPORTED_W);
}

/* A datagram's socket ends with its main. */
static int
dgram_close(lua_State *L)
{
	lsocket_check(L, 1);
	return 0;
}

static int
dgram_protocol(lua_State *L)
{
	lsocket_check(L, 1);
	lua_pushliteral(L, "udp");
	return 1;
}

static int
dgram__tostring(lua_State *L)
{
	return lsocket_name(L, lsocket_check(L, 1), "udp ");
}

static const luaL_Reg methods[] = {
    {"read", dgram_read},
    {"readsome", dgram_read},
    {"lines", lsocket_lines},
    {"write", dgram_write},
    {"flush", dgram_flush},
    {"shutdown", dgram_shutdown},
    {"close", dgram_close},
    {"settimeout", lsocket_settimeout},
    {"getpeername", lsocket_getpeername},
    {"getsockname", lsocket_getsockname},
    {"getpeercred", lsocket_getpeercred},
    {"tlsinfo", ltls_tlsinfo},
    {"protocol", dgram_protocol},
    {NULL, NULL},
};

void
ldgram_open(lua_State *L)
{
	luaL_newmetatable(L, DATAGRAM_MT);
	lua_pushvalue(L, -1);
	lua_rawsetp(L, LUA_REGISTRYINDEX, DATAGRAM_KEY);
	lua_pushcfunction(L, dgram__tostring);
	lua_setfield(L, -2, "__tostring");
	luaL_newlib(L, methods);
	lua_setfield(L, -2, "__index");
	lua_pushliteral(L, "socket");
	lua_setfield(L, -2, "__name");
	lua_pop(L, 1);
}
