/*
 * confget.c - one setting read and checked for the loaders of a
 * configuration: a string, a bounded integer, seconds, a list of strings,
 * unknown names refused, each error with the FILE:LINE of its setting.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "confload.h"
#include "confread.h"
#include "confsvc.h"

/* The file s comes from: the one loaded, or one it @include'd. */
const char *
conf_file_of(
    struct conf_ctx *x, const config_setting_t *s, char *buf, size_t len)
{
	const char *f = s ? config_setting_source_file(s) : NULL;

	return f ? confread_file(x->dir, f, buf, len) : x->file;
}

int
conf_fail(struct conf_ctx *x, const config_setting_t *s, const char *fmt, ...)
{
	char msg[CONF_ERRLEN], file[PATH_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(x->err, x->len, "%s:%d: %s",
	    conf_file_of(x, s, file, sizeof(file)),
	    s ? config_setting_source_line(s) : 0, msg);
	return -1;
}

/* An allocation failed while reading s. */
int
conf_no_memory(struct conf_ctx *x, const config_setting_t *s)
{
	return conf_fail(x, s, "out of memory");
}

static int
known(const char *name, const char *const *names)
{
	for (; *names; names++)
		if (strcmp(name, *names) == 0)
			return 1;
	return 0;
}

int
conf_check_known(struct conf_ctx *x, const config_setting_t *g,
    const char *const *names, const struct conf_num *nums)
{
	const config_setting_t *s;
	const struct conf_num *n;
	int i, ok;

	for (i = 0; (s = config_setting_get_elem(g, i)) != NULL; i++) {
		ok = known(config_setting_name(s), names);
		for (n = nums; n && n->name && !ok; n++)
			ok = strcmp(n->name, config_setting_name(s)) == 0;
		if (!ok)
			return conf_fail(x, s, "unknown setting \"%s\"",
			    config_setting_name(s));
	}
	return 0;
}

int
conf_get_str(
    struct conf_ctx *x, const config_setting_t *g, const char *name, char **out)
{
	const config_setting_t *s = config_setting_get_member(g, name);

	if (s == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return conf_fail(x, s, "\"%s\" must be a string", name);
	free(*out);
	if ((*out = strdup(config_setting_get_string(s))) == NULL)
		return conf_no_memory(x, s);
	return 0;
}

int
conf_get_long(struct conf_ctx *x, const config_setting_t *g, const char *name,
    long min, long max, long *out)
{
	const config_setting_t *s = config_setting_get_member(g, name);
	long long v;

	if (s == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_INT &&
	    config_setting_type(s) != CONFIG_TYPE_INT64)
		return conf_fail(x, s, "\"%s\" must be an integer", name);
	v = config_setting_get_int64(s);
	if (v < min || v > max)
		return conf_fail(
		    x, s, "\"%s\" must be between %ld and %ld", name, min, max);
	*out = (long)v;
	return 0;
}

int
conf_get_seconds(struct conf_ctx *x, const config_setting_t *g,
    const char *name, double *out)
{
	const config_setting_t *s = config_setting_get_member(g, name);
	int t;

	if (s == NULL)
		return 0;
	t = config_setting_type(s);
	if (t == CONFIG_TYPE_FLOAT)
		*out = config_setting_get_float(s);
	else if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64)
		*out = (double)config_setting_get_int64(s);
	else
		return conf_fail(
		    x, s, "\"%s\" must be a number of seconds", name);
	if (*out < 0)
		return conf_fail(x, s, "\"%s\" must not be negative", name);
	return 0;
}

/* A string or a list of strings, as a NULL-terminated array. */
int
conf_get_strv(struct conf_ctx *x, const config_setting_t *g, const char *name,
    char ***out, int *n)
{
	const config_setting_t *s = config_setting_get_member(g, name), *e;
	int i, count;

	if (s == NULL)
		return 0;
	if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		if ((*out = calloc(2, sizeof(char *))) == NULL ||
		    ((*out)[0] = strdup(config_setting_get_string(s))) == NULL)
			return conf_no_memory(x, s);
		*n = 1;
		return 0;
	}
	if (!config_setting_is_aggregate(s) || config_setting_is_group(s))
		return conf_fail(
		    x, s, "\"%s\" must be a string or a list", name);
	count = config_setting_length(s);
	if ((*out = calloc(count + 1, sizeof(char *))) == NULL)
		return conf_no_memory(x, s);
	for (i = 0; i < count; i++) {
		e = config_setting_get_elem(s, i);
		if (config_setting_type(e) != CONFIG_TYPE_STRING)
			return conf_fail(
			    x, e, "\"%s\" must hold strings", name);
		if (((*out)[i] = strdup(config_setting_get_string(e))) == NULL)
			return conf_no_memory(x, e);
	}
	*n = count;
	return 0;
}

void
conf_strv_free(char **v)
{
	char **p;

	for (p = v; p && *p; p++)
		free(*p);
	free(v);
}

/* The directory of path, absolute when path can be resolved. */
char *
conf_dir_of(const char *path)
{
	char *abs = realpath(path, NULL), *slash;

	if (abs == NULL && (abs = strdup(path)) == NULL)
		return NULL;
	slash = strrchr(abs, '/');
	if (slash == NULL) {
		free(abs);
		return strdup(".");
	}
	*(slash == abs ? slash + 1 : slash) = '\0';
	return abs;
}
