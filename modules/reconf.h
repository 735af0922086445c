/* reconf.h - SIGHUP: merge a new configuration into the running one. */
#ifndef SUPERD_RECONF_H
#define SUPERD_RECONF_H

#include <stddef.h>

struct buf;
struct conf;

/*
 * Who asked for a reload: the name its log lines begin with ("SIGHUP"),
 * and where the same lines go for the one who asked, or NULL.
 */
struct reconf_why {
	const char *name;
	struct buf *report;
};

/* At start why is NULL: nothing is logged as a change. */
int reconf_apply(
    struct conf *c, const struct reconf_why *why, char *err, size_t len);
void reconf_note(const struct reconf_why *why, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
