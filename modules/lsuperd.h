/* lsuperd.h - the `superd` table and the globals every service sees. */
#ifndef SUPERD_LSUPERD_H
#define SUPERD_LSUPERD_H

#include <lua.h>

struct service;

void lsuperd_open(lua_State *L, struct service *s, const char *confdir);

#endif
