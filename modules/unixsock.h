/* unixsock.h - unix-domain listening sockets: their file made and removed. */
#ifndef SUPERD_UNIXSOCK_H
#define SUPERD_UNIXSOCK_H

#include <stddef.h>
#include <sys/types.h>

/* How a socket's file is to be; an id of -1 leaves it as bind made it. */
struct unixsock_attr {
	mode_t mode;
	uid_t uid;
	gid_t gid;
};

/* The file superd made: the only one it removes (ino 0: none). */
struct unixsock_id {
	dev_t dev;
	ino_t ino;
};

/* Removes what superd, no longer root, may not (spawner.c): 0, or -1. */
typedef int unixsock_remove_fn(const char *path, const struct unixsock_id *id);

int unixsock_check(const char *path, char *err, size_t len);
int unixsock_listen(const char *path, int type, const struct unixsock_attr *a,
    struct unixsock_id *id, char *err, size_t len);
int unixsock_apply(const char *path, const struct unixsock_attr *a,
    const struct unixsock_id *id);
int unixsock_remove(const char *path, const struct unixsock_id *id);
int unixsock_path(int fd, char *buf, size_t len);
void unixsock_set_remover(unixsock_remove_fn *fn);

#endif
