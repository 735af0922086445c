/*
 * relay.h - an exec service behind TLS: superd does the handshake and
 * relays plaintext between the client and the program's socket pair.
 */
#ifndef SUPERD_RELAY_H
#define SUPERD_RELAY_H

#include "net.h"

struct service;

/* Queued for one side before the other side's reading stops. */
#define RELAY_MARK 65536

void relay_accept(struct service *s, int fd, const union net_addr *peer);
void relay_end_all(void);
void relay_collect(void);
long relay_count(void);

#endif
