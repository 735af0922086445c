/*
 * relay.h - an exec service behind TLS: superd does the handshake and
 * relays plaintext between the client and the program's socket pair.
 */
#ifndef SUPERD_RELAY_H
#define SUPERD_RELAY_H

#include <stdint.h>

#include "net.h"

struct service;
struct stream;

/* Queued for one side before the other side's reading stops. */
#define RELAY_MARK 65536

void relay_accept(struct service *s, int fd, const union net_addr *peer);
void relay_end_all(void);
void relay_collect(void);

/* superctl: the open relays, by the id connections are named by too. */
typedef void relay_visit_fn(uint32_t id, const struct service *s,
    const union net_addr *peer, double started, const struct stream *net,
    void *ud);
void relay_foreach(relay_visit_fn *fn, void *ud);
int relay_kick(uint32_t id, const struct service **s, union net_addr *peer);

#endif
