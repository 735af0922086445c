/* ldgram.h - the socket of a datagram's main. */
#ifndef SUPERD_LDGRAM_H
#define SUPERD_LDGRAM_H

#include <lua.h>

void ldgram_open(lua_State *L);

#endif
