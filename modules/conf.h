/*
 * conf.h - the libconfig file as plain structs (confdata.h), with FILE:LINE
 * errors.
 */
#ifndef SUPERD_CONF_H
#define SUPERD_CONF_H

#include <libconfig.h>
#include <limits.h>

#include <stddef.h>

#include "confdata.h"

struct conf *conf_load(const char *path, char *err, size_t len);
void conf_free(struct conf *c);
void conf_release(struct conf *c);

#endif
