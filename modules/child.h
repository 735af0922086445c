/* child.h - what an exec'd program gets: descriptors, environment, limits,
 * user. */
#ifndef SUPERD_CHILD_H
#define SUPERD_CHILD_H

#include "net.h"

struct svc_conf;

/* In the forked child: the connection fd becomes 0-2, then v's program. */
void child_exec(const struct svc_conf *v, int fd, const union net_addr *peer)
    __attribute__((noreturn));

#endif
