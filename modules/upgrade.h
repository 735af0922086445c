/*
 * upgrade.h - a binary upgrade from the serving process's side: the
 * binary at superd's path started with every listening socket, and its
 * word awaited inside the loop.
 */
#ifndef SUPERD_UPGRADE_H
#define SUPERD_UPGRADE_H

#include <stddef.h>
#include <sys/types.h>

/* The successor pid serves (err NULL), or err says why it will not. */
typedef void upgrade_done_fn(pid_t pid, const char *err);

int upgrade_start(upgrade_done_fn *done, char *err, size_t len);
int upgrade_under_way(void);

#endif
