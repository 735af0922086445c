/* reconf.h - SIGHUP: merge a new configuration into the running one. */
#ifndef SUPERD_RECONF_H
#define SUPERD_RECONF_H

struct conf;

int reconf_apply(struct conf *c, int reload, char *err, size_t len);

#endif
