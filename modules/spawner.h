/*
 * spawner.h - privilege separation for exec services: a small process
 * that keeps root and only starts, signals and reaps the programs of the
 * configured exec services, for an event loop that has given root up.
 */
#ifndef SUPERD_SPAWNER_H
#define SUPERD_SPAWNER_H

#include <sys/types.h>

#include "conf.h"
#include "net.h"
#include "unixsock.h"

struct child_tls;

/*
 * In the spawner's child: becomes exec service v's program on fd (a
 * client's connection from peer, relayed when tls is not NULL, or the
 * listening socket when peer is NULL).  Never returns.
 */
typedef void spawner_run_fn(const struct conf *c, const struct svc_conf *v,
    int fd, const union net_addr *peer, const struct child_tls *tls);
/* In the event loop: a program the spawner started has ended. */
typedef void spawner_exit_fn(pid_t pid, int status);

int spawner_start(struct conf *c, spawner_run_fn *run, spawner_exit_fn *ended);
int spawner_active(void);
pid_t spawner_exec(const char *service, int fd, const union net_addr *peer,
    const struct child_tls *tls);
int spawner_kill(pid_t pid, int sig);
int spawner_reload(void);
int spawner_unlink(const char *path, const struct unixsock_id *id);
int spawner_open(const char *path);
int spawner_upgrade(const int *fds, int n, int ready);
void spawner_stop(void);

#endif
