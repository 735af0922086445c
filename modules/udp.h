/* udp.h - a coroutine per datagram, replies to the sender. */
#ifndef SUPERD_UDP_H
#define SUPERD_UDP_H

#include <stddef.h>

#include "loop.h"

#define UDP_MAX_PAYLOAD 65507

struct conn;

void udp_io(struct loop_io *io, int events);
int udp_send(struct conn *c, const char *data, size_t len);
void udp_closing(int fd);
void udp_flush(void);

#endif
