/*
 * confexec.c - an exec service's own settings: what its program gets
 * besides the connection (its argv[0], environment entries, variables
 * passed on from superd's own environment, resource limits, niceness,
 * umask, how long it may run), with FILE:LINE errors as confget.c gives
 * them.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "confexec.h"
#include "confsvc.h"
#include "confread.h"

struct ectx {
	const char *file; /* the group's file, when libconfig names none */
	const char *dir;  /* what libconfig's file names are relative to */
	char *err;
	size_t len;
};

/* Only an exec service may have these (a Lua service runs no program). */
static const char *const exec_only[] = {
    "argv0",
    "env",
    "passenv",
    "rlimits",
    "nice",
    "umask",
    "max_runtime",
    NULL,
};

/* rlimits' members, by index: the unit a value is given in, its bounds. */
static const struct {
	const char *name;
	long unit, min, max;
} rlimit_specs[CONF_RLIMITS] = {
    [CONF_RLIMIT_AS] = {"as", 1L << 20, 1, 1L << 30},
    [CONF_RLIMIT_CPU] = {"cpu", 1, 1, INT_MAX},
    [CONF_RLIMIT_NOFILE] = {"nofile", 1, 3, INT_MAX},
    [CONF_RLIMIT_NPROC] = {"nproc", 1, 0, INT_MAX},
    [CONF_RLIMIT_FSIZE] = {"fsize", 1L << 20, 0, 1L << 30},
    [CONF_RLIMIT_CORE] = {"core", 1L << 20, 0, 1L << 30},
};

static int
efail(struct ectx *x, const config_setting_t *s, const char *fmt, ...)
{
	const char *file = config_setting_source_file(s);
	char msg[CONF_ERRLEN], buf[PATH_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (file != NULL)
		file = confread_file(x->dir, file, buf, sizeof(buf));
	snprintf(x->err, x->len, "%s:%d: %s", file ? file : x->file,
	    config_setting_source_line(s), msg);
	return -1;
}

/* "NAME=value", NAME not empty: NULL, or what is wrong. */
static const char *
env_entry(const char *s)
{
	const char *eq = strchr(s, '=');

	return eq != NULL && eq != s ? NULL : "is not NAME=value";
}

/* A variable's name: not empty, no '='. */
static const char *
env_name(const char *s)
{
	return *s != '\0' && strchr(s, '=') == NULL ? NULL
						    : "is not a variable name";
}

/*
 * A string or a list of strings that each pass check, as a NULL-terminated
 * array; kept in *out at once, so confexec_free frees it whatever fails.
 */
static int
get_list(struct ectx *x, const config_setting_t *g, const char *name,
    const char *(*check)(const char *), char ***out)
{
	const config_setting_t *s = config_setting_get_member(g, name), *e;
	const char *bad;
	int i, n, one;

	if (s == NULL)
		return 0;
	one = config_setting_type(s) == CONFIG_TYPE_STRING;
	if (!one &&
	    (!config_setting_is_aggregate(s) || config_setting_is_group(s)))
		return efail(x, s, "\"%s\" must be a string or a list", name);
	n = one ? 1 : config_setting_length(s);
	if ((*out = calloc(n + 1, sizeof(char *))) == NULL)
		return efail(x, s, "out of memory");
	for (i = 0; i < n; i++) {
		e = one ? s : config_setting_get_elem(s, i);
		if (config_setting_type(e) != CONFIG_TYPE_STRING)
			return efail(x, e, "\"%s\" must hold strings", name);
		if ((bad = check(config_setting_get_string(e))) != NULL)
			return efail(x, e, "\"%s\": \"%s\" %s", name,
			    config_setting_get_string(e), bad);
		if (((*out)[i] = strdup(config_setting_get_string(e))) == NULL)
			return efail(x, e, "out of memory");
	}
	return 0;
}

static int
get_argv0(struct ectx *x, const config_setting_t *g, struct svc_conf *v)
{
	const config_setting_t *s = config_setting_get_member(g, "argv0");

	if (s == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_STRING ||
	    *config_setting_get_string(s) == '\0')
		return efail(x, s, "\"argv0\" must be a string, not empty");
	if ((v->argv0 = strdup(config_setting_get_string(s))) == NULL)
		return efail(x, s, "out of memory");
	return 0;
}

static int
get_rlimit(struct ectx *x, const config_setting_t *s, int i, long *out)
{
	long long n;

	if (config_setting_type(s) == CONFIG_TYPE_STRING &&
	    strcmp(config_setting_get_string(s), "unlimited") == 0) {
		*out = CONF_UNLIMITED;
		return 0;
	}
	if (config_setting_type(s) != CONFIG_TYPE_INT &&
	    config_setting_type(s) != CONFIG_TYPE_INT64)
		return efail(x, s,
		    "\"rlimits.%s\" must be an integer or \"unlimited\"",
		    rlimit_specs[i].name);
	n = config_setting_get_int64(s);
	if (n < rlimit_specs[i].min || n > rlimit_specs[i].max)
		return efail(x, s, "\"rlimits.%s\" must be between %ld and %ld",
		    rlimit_specs[i].name, rlimit_specs[i].min,
		    rlimit_specs[i].max);
	*out = (long)n * rlimit_specs[i].unit;
	return 0;
}

/* rlimits = { as = 256; nofile = 64; ... }: an unknown member is an error. */
static int
get_rlimits(struct ectx *x, const config_setting_t *g, struct svc_conf *v)
{
	const config_setting_t *s = config_setting_get_member(g, "rlimits"), *m;
	int i, j;

	if (s == NULL)
		return 0;
	if (!config_setting_is_group(s))
		return efail(x, s, "\"rlimits\" must be a group { ... }");
	for (j = 0; (m = config_setting_get_elem(s, j)) != NULL; j++) {
		for (i = 0; i < CONF_RLIMITS; i++)
			if (strcmp(config_setting_name(m),
				rlimit_specs[i].name) == 0)
				break;
		if (i == CONF_RLIMITS)
			return efail(x, m, "unknown limit \"rlimits.%s\"",
			    config_setting_name(m));
		if (get_rlimit(x, m, i, &v->rlimits[i]) < 0)
			return -1;
	}
	return 0;
}

static int
get_nice(struct ectx *x, const config_setting_t *g, struct svc_conf *v)
{
	const config_setting_t *s = config_setting_get_member(g, "nice");

	if (s == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_INT ||
	    config_setting_get_int(s) < -20 || config_setting_get_int(s) > 19)
		return efail(x, s, "\"nice\" must be an integer, -20 to 19");
	v->nice = config_setting_get_int(s);
	return 0;
}

/* umask = "027": octal, as umask(1) and the shells write it. */
static int
get_umask(struct ectx *x, const config_setting_t *g, struct svc_conf *v)
{
	const config_setting_t *s = config_setting_get_member(g, "umask");
	const char *t;
	char *end;
	long m;

	if (s == NULL)
		return 0;
	t = config_setting_type(s) == CONFIG_TYPE_STRING
		? config_setting_get_string(s)
		: "";
	m = strtol(t, &end, 8);
	if (*t < '0' || *t > '7' || *end != '\0' || m > 0777)
		return efail(x, s,
		    "\"umask\" must be an octal string, \"000\" to \"777\"");
	v->umask = (int)m;
	return 0;
}

static int
get_max_runtime(struct ectx *x, const config_setting_t *g, struct svc_conf *v)
{
	const config_setting_t *s = config_setting_get_member(g, "max_runtime");
	int t;

	if (s == NULL)
		return 0;
	t = config_setting_type(s);
	if (t == CONFIG_TYPE_FLOAT)
		v->max_runtime = config_setting_get_float(s);
	else if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64)
		v->max_runtime = (double)config_setting_get_int64(s);
	else
		return efail(
		    x, s, "\"max_runtime\" must be a number of seconds");
	if (v->max_runtime < 0)
		return efail(x, s, "\"max_runtime\" must not be negative");
	return 0;
}

/* A Lua service with one of them: an error, not a setting ignored. */
static int
lua_service(struct ectx *x, const config_setting_t *g)
{
	const config_setting_t *s;
	const char *const *n;

	for (n = exec_only; *n; n++)
		if ((s = config_setting_get_member(g, *n)) != NULL)
			return efail(x, s, "\"%s\" is for exec services", *n);
	return 0;
}

int
confexec_load(const config_setting_t *g, struct svc_conf *v, const char *file,
    const char *dir, char *err, size_t len)
{
	struct ectx x = {file, dir, err, len};
	int i;

	for (i = 0; i < CONF_RLIMITS; i++)
		v->rlimits[i] = CONF_UNSET;
	v->nice = CONF_NICE_KEEP;
	v->umask = CONF_UNSET;
	if (v->exec == NULL)
		return lua_service(&x, g);
	if (get_argv0(&x, g, v) < 0 ||
	    get_list(&x, g, "env", env_entry, &v->env) < 0 ||
	    get_list(&x, g, "passenv", env_name, &v->passenv) < 0 ||
	    get_rlimits(&x, g, v) < 0 || get_nice(&x, g, v) < 0 ||
	    get_umask(&x, g, v) < 0 || get_max_runtime(&x, g, v) < 0)
		return -1;
	return 0;
}

static void
strv_free(char **v)
{
	char **p;

	for (p = v; p && *p; p++)
		free(*p);
	free(v);
}

void
confexec_free(struct svc_conf *v)
{
	free(v->argv0);
	strv_free(v->env);
	strv_free(v->passenv);
}
