/* ltls.h - TLS as a script sees it: socket:tlsinfo(), socket:starttls(). */
#ifndef SUPERD_LTLS_H
#define SUPERD_LTLS_H

#include <lua.h>

int ltls_tlsinfo(lua_State *L);
int ltls_starttls(lua_State *L);

#endif
