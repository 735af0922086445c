/* lsocket.h - the Lua socket object. */
#ifndef SUPERD_LSOCKET_H
#define SUPERD_LSOCKET_H

#include <lua.h>

#include "net.h"

#define SOCKET_MT "superd.socket"

struct conn;
struct service;

struct conn *lsocket_new(lua_State *L);
void lsocket_open(lua_State *L);
int lsocket_fail(lua_State *L, const char *err);

void lsocket_free_input(struct conn *c);

#endif
