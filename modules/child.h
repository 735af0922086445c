/* child.h - what an exec'd program gets: descriptors, environment, limits,
 * user. */
#ifndef SUPERD_CHILD_H
#define SUPERD_CHILD_H

#include "net.h"

/* The PATH a program gets unless env sets one. */
#define CHILD_PATH \
	"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

struct svc_conf;

/*
 * A program behind TLS (relay.c): its descriptor is superd's end of a
 * socket pair, so where its client came in is told, with what the
 * handshake agreed, as mod_ssl's SSL_* variables ("" is not set).
 */
struct child_tls {
	union net_addr local; /* where the client came in, over TCP */
	char local_path[108]; /* or the unix socket's file, or "" */
	char protocol[16], cipher[64];
	char verify[8]; /* SUCCESS, NONE or FAILED */
	char sni[256], subject[256], issuer[256];
};

/* The program's environment, built, not inherited: "NAME=value" each. */
struct child_env {
	char **v; /* NULL-terminated once anything is in */
	int n, cap;
};

/*
 * The connection's variables (fd's and peer's, PROTO=SSL and tls's when
 * tls is not NULL; a wait program's, peer NULL, LISTEN_*), then v's env,
 * passenv and PATH; the first of a name wins.  0, or -1 (out of memory,
 * e freed).
 */
int child_env_build(struct child_env *e, const struct svc_conf *v, int fd,
    const union net_addr *peer, const struct child_tls *tls);
/* name=value, unless name is there already: 0, or -1. */
int child_env_set(struct child_env *e, const char *name, const char *value);
void child_env_free(struct child_env *e);

/*
 * In the forked child: fd becomes 0-2 (a client's connection from peer,
 * tls's relay when tls is not NULL, or, peer NULL, a wait service's
 * listening socket, also on 3), then v's program, as user and group when
 * superd is root.
 */
void child_exec(const struct svc_conf *v, const char *user, const char *group,
    int fd, const union net_addr *peer, const struct child_tls *tls)
    __attribute__((noreturn));

#endif
