/* conflisten.h - where a service listens: a port, or a unix socket. */
#ifndef SUPERD_CONFLISTEN_H
#define SUPERD_CONFLISTEN_H

#include <libconfig.h>
#include <stddef.h>

#include "confsvc.h"

/*
 * Service g's port or unix socket, into v; relative paths against dir.
 * -1 with msg set and *at the setting to blame (confservice.c adds
 * FILE:LINE).
 */
int conf_listen(const config_setting_t *g, struct svc_conf *v, const char *dir,
    int workers, const config_setting_t **at, char *msg, size_t len);

#endif
