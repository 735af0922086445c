/* lsocket.h - the Lua socket object. */
#ifndef SUPERD_LSOCKET_H
#define SUPERD_LSOCKET_H

#include <lua.h>

struct conn;
struct task;

void lsocket_open(lua_State *L);
int lsocket_fail(lua_State *L, const char *err);
/* Waits in slot (the reader's or the writer's) for wait, then runs k. */
int lsocket_park(lua_State *L, struct task **slot, int wait, lua_KContext ctx,
    lua_KFunction k);

/* What the datagram's socket (ldgram.c) shares with a connection's. */
struct conn *lsocket_check(lua_State *L, int arg);
int lsocket_closed(lua_State *L, struct conn *c, int dir);
int lsocket_lines(lua_State *L);
int lsocket_settimeout(lua_State *L);
int lsocket_getpeername(lua_State *L);
int lsocket_getsockname(lua_State *L);
int lsocket_getpeercred(lua_State *L);
int lsocket_name(lua_State *L, struct conn *c, const char *kind);

#endif
