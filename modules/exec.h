/* exec.h - exec services: a program per connection, as inetd runs it. */
#ifndef SUPERD_EXEC_H
#define SUPERD_EXEC_H

#include "net.h"

struct service;

void exec_start(struct service *s, int fd, const union net_addr *peer);
void exec_reap(void);
int exec_count(void);
void exec_kill_all(int sig);

#endif
