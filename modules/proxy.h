/* proxy.h - HAProxy's PROXY protocol header, versions 1 and 2. */
#ifndef SUPERD_PROXY_H
#define SUPERD_PROXY_H

#include <stddef.h>

#include "net.h"

#define PROXY_MAX 536 /* v2: 16 bytes of header and up to 520 of addresses */
#define PROXY_NEED_MORE 0
#define PROXY_BAD (-1)

int proxy_parse(const char *buf, size_t len, union net_addr *src, int *local);

#endif
