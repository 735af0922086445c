/*
 * confwhere.c - an error in one part of a service's settings, kept as a
 * message and the setting it is about.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "confwhere.h"

int
conf_blame(
    struct conf_where *w, const config_setting_t *s, const char *fmt, ...)
{
	va_list ap;

	*w->at = s ? s : w->g;
	va_start(ap, fmt);
	vsnprintf(w->msg, w->len, fmt, ap);
	va_end(ap);
	return -1;
}

const config_setting_t *
conf_first_of(const config_setting_t *g, const char *const *names)
{
	const config_setting_t *s;

	for (; *names; names++)
		if ((s = config_setting_get_member(g, *names)) != NULL)
			return s;
	return NULL;
}

char *
conf_resolve(const char *dir, const char *path)
{
	char *out;

	if (path[0] == '/' || dir == NULL)
		return strdup(path);
	if (strcmp(path, ".") == 0)
		return strdup(dir);
	if (asprintf(&out, "%s/%s", dir, path) < 0)
		return NULL;
	return out;
}
