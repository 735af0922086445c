/* exec.h - exec services: a program per connection, as inetd runs it. */
#ifndef SUPERD_EXEC_H
#define SUPERD_EXEC_H

#include <stddef.h>

#include "net.h"

/* Who superd and its programs run as, started as root with no user set. */
#define EXEC_DEFAULT_USER "nobody"

struct child;
struct child_tls;
struct conf;
struct listener;
struct service;
struct svc_conf;

void exec_start(struct service *s, int fd, const union net_addr *peer);
void exec_start_wait(struct service *s, struct listener *l);
/* A relayed program has ended (exec_relayed's fn). */
typedef void exec_end_fn(void *ud);
struct child *exec_relayed(struct service *s, int fd,
    const union net_addr *peer, const struct child_tls *tls, exec_end_fn *fn,
    void *ud);
void exec_detach(struct child *c);
void exec_reap(void);
int exec_count(void);
void exec_kill_all(int sig);
int exec_separate(struct conf *c);
const char *exec_default_user(const struct conf *c);
int exec_check(
    const struct svc_conf *v, const char *path, char *err, size_t len);

#endif
