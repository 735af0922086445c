/* sandbox.h - the standard library a service script may use. */
#ifndef SUPERD_SANDBOX_H
#define SUPERD_SANDBOX_H

#include <lua.h>

void sandbox_open(lua_State *L, const char *lua_path);

#endif
