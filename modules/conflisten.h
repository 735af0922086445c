/* conflisten.h - where a service listens: a port, or a unix socket. */
#ifndef SUPERD_CONFLISTEN_H
#define SUPERD_CONFLISTEN_H

#include <libconfig.h>
#include <stddef.h>

#include "conf.h"

/* -1 with msg set and *at the setting to blame (conf.c adds FILE:LINE). */
int conf_listen(const config_setting_t *g, struct svc_conf *v,
    const struct conf *c, const config_setting_t **at, char *msg, size_t len);

#endif
