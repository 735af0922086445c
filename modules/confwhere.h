/*
 * confwhere.h - what the readers of one part of a service's settings
 * share: an error as a message and the setting it is about, for
 * confservice.c to give its FILE:LINE; a path resolved against a directory.
 */
#ifndef SUPERD_CONFWHERE_H
#define SUPERD_CONFWHERE_H

#include <libconfig.h>
#include <stddef.h>

struct conf_where {
	const config_setting_t *g;   /* the service */
	const config_setting_t **at; /* the setting an error is about */
	char *msg;
	size_t len;
};

/* -1, with the message and s (the service's group when NULL) kept. */
int conf_blame(struct conf_where *w, const config_setting_t *s, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));
/* path against dir (absolute paths as they are), allocated; NULL: none. */
char *conf_resolve(const char *dir, const char *path);
/* The first of names that g has, or NULL. */
const config_setting_t *conf_first_of(
    const config_setting_t *g, const char *const *names);

#endif
