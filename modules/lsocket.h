/* lsocket.h - the Lua socket object. */
#ifndef SUPERD_LSOCKET_H
#define SUPERD_LSOCKET_H

#include <lua.h>

#include "net.h"

struct conn;
struct service;

void lsocket_open(lua_State *L);
int lsocket_fail(lua_State *L, const char *err);

#endif
