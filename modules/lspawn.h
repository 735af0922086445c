/* lspawn.h - superd.spawn and the handle it returns. */
#ifndef SUPERD_LSPAWN_H
#define SUPERD_LSPAWN_H

#include <lua.h>

struct service;

int lspawn_spawn(lua_State *L, struct service *s);
void lspawn_open(lua_State *L);

#endif
