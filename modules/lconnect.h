/* lconnect.h - superd.connect: outbound TCP from a coroutine. */
#ifndef SUPERD_LCONNECT_H
#define SUPERD_LCONNECT_H

#include <lua.h>
#include <signal.h>

/* getaddrinfo_a reports a finished lookup with this signal. */
#define LOOKUP_SIGNAL SIGRTMIN

int lconnect_connect(lua_State *L);
void lconnect_resolved(void *lookup);

#endif
