/*
 * confread.h - one libconfig file read, with its @include lines found
 * relative to the file's directory and checked before libconfig opens them.
 */
#ifndef SUPERD_CONFREAD_H
#define SUPERD_CONFREAD_H

#include <libconfig.h>
#include <stddef.h>

int confread(
    config_t *cfg, const char *path, const char *dir, char *err, size_t len);
const char *confread_file(
    const char *dir, const char *name, char *buf, size_t len);

#endif
