/* ltls.h - TLS as a script sees it: socket:tlsinfo(). */
#ifndef SUPERD_LTLS_H
#define SUPERD_LTLS_H

#include <lua.h>

int ltls_tlsinfo(lua_State *L);

#endif
