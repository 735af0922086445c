/* child.h - what an exec'd program gets: descriptors, environment, limits,
 * user. */
#ifndef SUPERD_CHILD_H
#define SUPERD_CHILD_H

#include "net.h"

/* The PATH a program gets unless env sets one. */
#define CHILD_PATH \
	"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

struct svc_conf;

/* The program's environment, built, not inherited: "NAME=value" each. */
struct child_env {
	char **v; /* NULL-terminated once anything is in */
	int n, cap;
};

/*
 * The connection's variables (fd's and peer's; a wait program's, peer
 * NULL, LISTEN_*), then v's env, passenv and PATH; the first of a name
 * wins.  0, or -1 (out of memory, e freed).
 */
int child_env_build(struct child_env *e, const struct svc_conf *v, int fd,
    const union net_addr *peer);
/* name=value, unless name is there already: 0, or -1. */
int child_env_set(struct child_env *e, const char *name, const char *value);
void child_env_free(struct child_env *e);

/*
 * In the forked child: fd becomes 0-2 (a client's connection from peer,
 * or, peer NULL, a wait service's listening socket, also on 3), then v's
 * program, as user and group when superd is root.
 */
void child_exec(const struct svc_conf *v, const char *user, const char *group,
    int fd, const union net_addr *peer) __attribute__((noreturn));

#endif
