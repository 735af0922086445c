/* exec.h - exec services: a program per connection, as inetd runs it. */
#ifndef SUPERD_EXEC_H
#define SUPERD_EXEC_H

#include <stddef.h>

#include "net.h"

struct listener;
struct service;
struct svc_conf;

void exec_start(struct service *s, int fd, const union net_addr *peer);
void exec_start_wait(struct service *s, struct listener *l);
void exec_reap(void);
int exec_count(void);
void exec_kill_all(int sig);
int exec_check(
    const struct svc_conf *v, const char *path, char *err, size_t len);

#endif
