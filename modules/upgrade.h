/*
 * upgrade.h - a binary upgrade from the serving process's side: the
 * binary at superd's path started with every listening socket, and its
 * word awaited: inside the loop (upgrade_start), or by a master that
 * polls the pipe itself (upgrade_launch, upgrade_news_read).
 */
#ifndef SUPERD_UPGRADE_H
#define SUPERD_UPGRADE_H

#include <stddef.h>
#include <sys/types.h>

/* The successor pid serves (err NULL), or err says why it will not. */
typedef void upgrade_done_fn(pid_t pid, const char *err);

/* What the successor has said so far. */
struct upgrade_news {
	pid_t pid;
	char said[1024]; /* its lines, till each is whole */
	size_t nsaid;
	char why[1024]; /* what it said went wrong */
};

#define UPGRADE_WAIT 0	 /* nothing final yet */
#define UPGRADE_READY 1	 /* it serves */
#define UPGRADE_FAILED 2 /* it will not: why says so */

int upgrade_launch(char *err, size_t len);
int upgrade_news_read(struct upgrade_news *n, int fd);

int upgrade_start(upgrade_done_fn *done, char *err, size_t len);
int upgrade_under_way(void);
void upgrade_hand_over(pid_t successor);

#endif
