/* confcmp.h - services compared: overlapping listeners, reload changes. */
#ifndef SUPERD_CONFCMP_H
#define SUPERD_CONFCMP_H

#include <stddef.h>

#include "conf.h"

int conf_overlap(const struct conf *c, int i, char *err, size_t len);
int conf_changes(
    const struct svc_conf *a, const struct svc_conf *b, char *buf, size_t len);

#endif
