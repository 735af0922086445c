/* confcmp.h - services compared: what a reload changed. */
#ifndef SUPERD_CONFCMP_H
#define SUPERD_CONFCMP_H

#include <stddef.h>

#include "conf.h"

int conf_changes(
    const struct svc_conf *a, const struct svc_conf *b, char *buf, size_t len);

#endif
