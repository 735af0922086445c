/*
 * confwhere.c - an error in one part of a service's settings, kept as a
 * message and the setting it is about.
 */
#include <stdarg.h>
#include <stdio.h>

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
