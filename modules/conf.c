/* conf.c - the libconfig file as plain structs, with FILE:LINE errors. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "confdir.h"
#include "confexec.h"
#include "conflisten.h"
#include "conftls.h"
#include "confread.h"
#include "confwhere.h"
#include "log.h"
#include "stats.h"

/* The file being loaded: the main one or a drop-in. */
struct ctx {
	struct conf *c;
	const char *file;
	const char *dir;	/* its directory */
	const char *script_dir; /* where its relative scripts are */
	char *err;
	size_t len;
};

/* A long setting of a service, its bounds and its default. */
struct num_spec {
	const char *name;
	size_t off;
	long min, max, def;
};

#define SVC_OFF(f) offsetof(struct svc_conf, f)

static const struct num_spec svc_nums[] = {
    {"max_connections", SVC_OFF(max_connections), 1, INT_MAX, 1000},
    {"per_source", SVC_OFF(per_source), 0, INT_MAX, 0},
    {"rate", SVC_OFF(rate), 0, INT_MAX, 0},
    {"idle_timeout", SVC_OFF(idle_timeout), 0, INT_MAX, 300},
    {"max_line", SVC_OFF(max_line), 16, 1L << 30, 65536},
    {"output_limit", SVC_OFF(output_limit), 1024, 1L << 40, 1048576},
    {"memory_limit", SVC_OFF(memory_limit), 1, 1L << 20, 64},
    {"cpu_limit", SVC_OFF(cpu_limit), 1000, INT_MAX, 10000000},
    {NULL, 0, 0, 0, 0},
};

static const char *const svc_names[] = {
    "proxy_protocol",
    "proxy_from",
    "name",
    "port",
    "address",
    "protocol",
    "script",
    "exec",
    "options",
    "user",
    "group",
    "timeout",
    "slow_timeout",
    "only_from",
    "no_access",
    "wait",
    "path",
    "mode",
    "owner",
    /* conftls.c */
    "tls",
    "starttls",
    /* exec services only: confexec.c */
    "argv0",
    "env",
    "passenv",
    "rlimits",
    "nice",
    "umask",
    "max_runtime",
    NULL,
};

static const char *const global_names[] = {
    "log",
    "log_level",
    "script_dir",
    "lua_path",
    "user",
    "group",
    "pidfile",
    "max_connections",
    "shutdown_timeout",
    "workers",
    "include_dir",
    "control",
    "services",
    NULL,
};

/* The file s comes from: the one loaded, or one it @include'd. */
static const char *
file_of(struct ctx *x, const config_setting_t *s, char *buf, size_t len)
{
	const char *f = s ? config_setting_source_file(s) : NULL;

	return f ? confread_file(x->dir, f, buf, len) : x->file;
}

static int
fail(struct ctx *x, const config_setting_t *s, const char *fmt, ...)
{
	char msg[CONF_ERRLEN], file[PATH_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(x->err, x->len, "%s:%d: %s", file_of(x, s, file, sizeof(file)),
	    s ? config_setting_source_line(s) : 0, msg);
	return -1;
}

/* An allocation failed while reading s. */
static int
no_memory(struct ctx *x, const config_setting_t *s)
{
	return fail(x, s, "out of memory");
}

static int
known(const char *name, const char *const *names)
{
	for (; *names; names++)
		if (strcmp(name, *names) == 0)
			return 1;
	return 0;
}

static int
check_known(struct ctx *x, const config_setting_t *g, const char *const *names,
    const struct num_spec *nums)
{
	const config_setting_t *s;
	const struct num_spec *n;
	int i, ok;

	for (i = 0; (s = config_setting_get_elem(g, i)) != NULL; i++) {
		ok = known(config_setting_name(s), names);
		for (n = nums; n && n->name && !ok; n++)
			ok = strcmp(n->name, config_setting_name(s)) == 0;
		if (!ok)
			return fail(x, s, "unknown setting \"%s\"",
			    config_setting_name(s));
	}
	return 0;
}

static int
get_str(struct ctx *x, const config_setting_t *g, const char *name, char **out)
{
	const config_setting_t *s = config_setting_get_member(g, name);

	if (s == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return fail(x, s, "\"%s\" must be a string", name);
	free(*out);
	if ((*out = strdup(config_setting_get_string(s))) == NULL)
		return no_memory(x, s);
	return 0;
}

static int
get_long(struct ctx *x, const config_setting_t *g, const char *name, long min,
    long max, long *out)
{
	const config_setting_t *s = config_setting_get_member(g, name);
	long long v;

	if (s == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_INT &&
	    config_setting_type(s) != CONFIG_TYPE_INT64)
		return fail(x, s, "\"%s\" must be an integer", name);
	v = config_setting_get_int64(s);
	if (v < min || v > max)
		return fail(
		    x, s, "\"%s\" must be between %ld and %ld", name, min, max);
	*out = (long)v;
	return 0;
}

static int
get_seconds(
    struct ctx *x, const config_setting_t *g, const char *name, double *out)
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
		return fail(x, s, "\"%s\" must be a number of seconds", name);
	if (*out < 0)
		return fail(x, s, "\"%s\" must not be negative", name);
	return 0;
}

/* A string or a list of strings, as a NULL-terminated array. */
static int
get_strv(struct ctx *x, const config_setting_t *g, const char *name,
    char ***out, int *n)
{
	const config_setting_t *s = config_setting_get_member(g, name), *e;
	int i, count;

	if (s == NULL)
		return 0;
	if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		if ((*out = calloc(2, sizeof(char *))) == NULL ||
		    ((*out)[0] = strdup(config_setting_get_string(s))) == NULL)
			return no_memory(x, s);
		*n = 1;
		return 0;
	}
	if (!config_setting_is_aggregate(s) || config_setting_is_group(s))
		return fail(x, s, "\"%s\" must be a string or a list", name);
	count = config_setting_length(s);
	if ((*out = calloc(count + 1, sizeof(char *))) == NULL)
		return no_memory(x, s);
	for (i = 0; i < count; i++) {
		e = config_setting_get_elem(s, i);
		if (config_setting_type(e) != CONFIG_TYPE_STRING)
			return fail(x, e, "\"%s\" must hold strings", name);
		if (((*out)[i] = strdup(config_setting_get_string(e))) == NULL)
			return no_memory(x, e);
	}
	*n = count;
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

static int
valid_name(const char *s)
{
	if (*s == '\0' || strlen(s) > 63)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
			*s == '_' || *s == '-'))
			return 0;
	return 1;
}

static int
svc_protocols(struct ctx *x, const config_setting_t *g, struct svc_conf *v)
{
	char **p = NULL;
	int i, n = 0;

	v->protos = CONF_TCP;
	if (get_strv(x, g, "protocol", &p, &n) < 0) {
		strv_free(p);
		return -1;
	}
	if (p != NULL)
		v->protos = 0;
	for (i = 0; i < n; i++) {
		if (strcmp(p[i], "tcp") == 0)
			v->protos |= CONF_TCP;
		else if (strcmp(p[i], "udp") == 0)
			v->protos |= CONF_UDP;
		else
			break;
	}
	strv_free(p);
	if (i < n || (n == 0 && v->protos == 0))
		return fail(x, config_setting_get_member(g, "protocol"),
		    "\"protocol\" must be \"tcp\", \"udp\" or both");
	return 0;
}

static int
svc_numbers(struct ctx *x, const config_setting_t *g, struct svc_conf *v)
{
	const struct num_spec *n;
	long *field;

	for (n = svc_nums; n->name; n++) {
		field = (long *)((char *)v + n->off);
		*field = n->def;
		if (get_long(x, g, n->name, n->min, n->max, field) < 0)
			return -1;
	}
	v->memory_limit <<= 20;
	v->slow_timeout = 5;
	if (get_seconds(x, g, "slow_timeout", &v->slow_timeout) < 0)
		return -1;
	return get_seconds(x, g, "timeout", &v->timeout);
}

static int
svc_program(struct ctx *x, const config_setting_t *g, struct svc_conf *v)
{
	const config_setting_t *s = config_setting_get_member(g, "script");
	char *name;
	int n = 0;

	/* Kept in v at once, so conf_free frees it whatever fails next. */
	if (get_str(x, g, "script", &v->script) < 0 ||
	    get_strv(x, g, "exec", &v->exec, &n) < 0)
		return -1;
	if ((v->script == NULL) == (v->exec == NULL))
		return fail(x, g,
		    "service \"%s\" needs exactly one of "
		    "\"script\" and \"exec\"",
		    v->name);
	if (v->exec != NULL && (n == 0 || v->exec[0][0] != '/'))
		return fail(x, config_setting_get_member(g, "exec"),
		    "\"exec\" must start with an absolute path");
	if (v->exec != NULL)
		return 0;

	name = v->script;
	v->script = conf_resolve(x->script_dir, name);
	free(name);
	if (v->script == NULL)
		return no_memory(x, s);
	if (access(v->script, R_OK) < 0)
		return fail(
		    x, s, "script \"%s\": %s", v->script, strerror(errno));
	return 0;
}

/* An address list names somewhere, and no place twice. */
static int
svc_addresses(struct ctx *x, const config_setting_t *g, struct svc_conf *v)
{
	const config_setting_t *s = config_setting_get_member(g, "address");
	int i, j;

	if (v->naddrs == 0)
		return fail(x, s, "\"address\" lists no address");
	for (i = 0; i < v->naddrs; i++)
		for (j = 0; j < i; j++)
			if (strcmp(v->addrs[i], v->addrs[j]) == 0)
				return fail(x, s, "address %s is listed twice",
				    v->addrs[i]);
	return 0;
}

/*
 * Two services on one port and address: conf_overlap, after loading.
 * Names are unique across the main file and its drop-ins.
 */
static int
svc_clash(struct ctx *x, const config_setting_t *g, const struct svc_conf *a,
    const struct svc_conf *b)
{
	if (strcmp(a->name, b->name) == 0)
		return fail(x, g,
		    "duplicate service name \"%s\" (first at %s:%d)", a->name,
		    b->file, b->line);
	return 0;
}

static int
svc_acl(struct ctx *x, const config_setting_t *g, const char *name,
    char **texts, int n, struct acl *out)
{
	const config_setting_t *s = config_setting_get_member(g, name);
	int bad = 0;

	if (acl_parse(texts, n, out, &bad) == 0)
		return 0;
	if (bad < 0)
		return no_memory(x, s);
	if (config_setting_is_aggregate(s))
		s = config_setting_get_elem(s, bad);
	return fail(
	    x, s, "\"%s\": bad address or CIDR block \"%s\"", name, texts[bad]);
}

/* PROXY protocol: from whom a header is believed (default loopback). */
static int
svc_proxy(struct ctx *x, const config_setting_t *g, struct svc_conf *v)
{
	const config_setting_t *s =
	    config_setting_get_member(g, "proxy_protocol");
	static char *loopback[] = {"127.0.0.0/8", "::1", NULL};
	char **from = NULL;
	int n = 0, rc;

	if (s != NULL && config_setting_type(s) != CONFIG_TYPE_BOOL)
		return fail(x, s, "\"proxy_protocol\" must be true or false");
	v->proxy_protocol = s != NULL && config_setting_get_bool(s);
	if (get_strv(x, g, "proxy_from", &from, &n) < 0) {
		strv_free(from);
		return -1;
	}
	if (v->proxy_protocol && v->exec != NULL) {
		strv_free(from);
		return fail(x, s, "\"proxy_protocol\" is for Lua services");
	}
	if (from == NULL)
		return acl_parse(loopback, 2, &v->proxy_from, &n) < 0
			   ? no_memory(x, g)
			   : 0;
	rc = svc_acl(x, g, "proxy_from", from, n, &v->proxy_from);
	strv_free(from);
	return rc;
}

/* The first setting of a list g has, for an error's line. */
/*
 * wait = true: the program, not superd, takes what arrives on the
 * listening socket (inetd's wait), so nothing that looks at a client
 * applies.  A UDP program must wait: there is no connection to hand it.
 */
static int
svc_wait(struct ctx *x, const config_setting_t *g, struct svc_conf *v)
{
	static const char *const per_client[] = {"per_source", "rate",
	    "only_from", "no_access", "proxy_protocol", NULL};
	const config_setting_t *s = config_setting_get_member(g, "wait");

	if (s != NULL && config_setting_type(s) != CONFIG_TYPE_BOOL)
		return fail(x, s, "\"wait\" must be true or false");
	v->wait = s != NULL && config_setting_get_bool(s);
	if (v->wait && v->exec == NULL)
		return fail(x, s, "\"wait\" is for exec services");
	if (v->exec != NULL && !v->wait && (v->protos & CONF_UDP))
		return fail(x, config_setting_get_member(g, "protocol"),
		    "a UDP exec service needs \"wait = true\"");
	/* datagrams would need each client's bound path to reply to */
	if (v->path != NULL && (v->protos & CONF_UDP) && !v->wait)
		return fail(x, config_setting_get_member(g, "protocol"),
		    "a unix datagram socket (\"path\", protocol \"udp\") "
		    "is for an exec service with \"wait = true\"");
	if (v->wait && (s = conf_first_of(g, per_client)) != NULL)
		return fail(x, s,
		    "\"%s\" does not apply to a wait service: its program "
		    "takes the clients",
		    config_setting_name(s));
	return 0;
}

/* Where it listens (conflisten.c), the error at the setting to blame. */
static int
svc_listen(struct ctx *x, const config_setting_t *g, struct svc_conf *v)
{
	const config_setting_t *at = g;
	char msg[CONF_ERRLEN];

	if (conf_listen(g, v, x->dir, x->c->workers, &at, msg, sizeof(msg)) ==
	    0)
		return 0;
	return fail(x, at, "%s", msg);
}

static int
svc_tls(struct ctx *x, const config_setting_t *g, struct svc_conf *v)
{
	const config_setting_t *at = g;
	char msg[CONF_ERRLEN], file[PATH_MAX];

	if (conftls_load(g, v, file_of(x, g, file, sizeof(file)), x->dir, &at,
		msg, sizeof(msg)) == 0)
		return 0;
	return fail(x, at, "%s", msg);
}

static int
svc_load(struct ctx *x, const config_setting_t *g, struct svc_conf *v)
{
	const config_setting_t *s;
	char file[PATH_MAX];

	v->line = config_setting_source_line(g);
	if ((v->file = strdup(file_of(x, g, file, sizeof(file)))) == NULL)
		return no_memory(x, g);
	if (!config_setting_is_group(g))
		return fail(x, g, "each service must be a group { ... }");
	if (check_known(x, g, svc_names, svc_nums) < 0 ||
	    get_str(x, g, "name", &v->name) < 0)
		return -1;
	if (v->name == NULL || !valid_name(v->name))
		return fail(x, config_setting_get_member(g, "name") ?: g,
		    "service needs a \"name\" of [a-z0-9_-]+, 63 at most");
	if (svc_protocols(x, g, v) < 0 || svc_listen(x, g, v) < 0)
		return -1;
	if (get_strv(x, g, "address", &v->addrs, &v->naddrs) < 0 ||
	    svc_numbers(x, g, v) < 0 || svc_program(x, g, v) < 0 ||
	    get_str(x, g, "user", &v->user) < 0 ||
	    get_str(x, g, "group", &v->group) < 0 ||
	    get_strv(x, g, "only_from", &v->only_from, &v->nonly_from) < 0 ||
	    get_strv(x, g, "no_access", &v->no_access, &v->nno_access) < 0 ||
	    svc_acl(x, g, "only_from", v->only_from, v->nonly_from, &v->allow) <
		0 ||
	    svc_acl(x, g, "no_access", v->no_access, v->nno_access, &v->deny) <
		0)
		return -1;
	if (svc_proxy(x, g, v) < 0 || svc_wait(x, g, v) < 0 ||
	    svc_tls(x, g, v) < 0 ||
	    confexec_load(g, v, x->file, x->dir, x->err, x->len) < 0)
		return -1;
	if (v->path == NULL && v->addrs == NULL) {
		if ((v->addrs = calloc(2, sizeof(char *))) == NULL ||
		    (v->addrs[0] = strdup("::")) == NULL)
			return no_memory(x, g);
		v->naddrs = 1;
	}
	if (v->path == NULL && svc_addresses(x, g, v) < 0)
		return -1;
	s = config_setting_get_member(g, "options");
	if (s != NULL && !config_setting_is_group(s))
		return fail(x, s, "\"options\" must be a group { ... }");
	v->options = s;
	return 0;
}

/*
 * A file without "services" is most often one caught half written (an
 * editor or cp truncates it first): an error, so that a SIGHUP then never
 * empties the server.  It points at the file's last line, where the
 * setting goes; "services = ();" serves nothing on purpose.
 */
static int
no_services(struct ctx *x)
{
	FILE *f = fopen(x->file, "r");
	int ch, last = '\n', line = 0;

	while (f != NULL && (ch = getc(f)) != EOF) {
		line += ch == '\n';
		last = ch;
	}
	if (f != NULL)
		fclose(f);
	line += last != '\n';
	snprintf(x->err, x->len, "%s:%d: no services declared", x->file,
	    line > 0 ? line : 1);
	return -1;
}

/* The file's services, after those of the files loaded before it. */
static int
load_services(struct ctx *x, const config_setting_t *list)
{
	struct conf *c = x->c;
	const config_setting_t *g;
	struct svc_conf *v;
	int i, j, n, first = c->nsvcs;

	if (list == NULL)
		return no_services(x);
	if (!config_setting_is_list(list) && !config_setting_is_array(list))
		return fail(x, list, "\"services\" must be a list ( ... )");
	n = config_setting_length(list);
	if ((v = realloc(c->svcs, (first + n + 1) * sizeof(*v))) == NULL)
		return no_memory(x, list);
	/* Zeroed and counted at once, so conf_free frees whatever fails. */
	memset(v + first, 0, (n + 1) * sizeof(*v));
	c->svcs = v;
	c->nsvcs += n;
	for (i = first; i < c->nsvcs; i++) {
		g = config_setting_get_elem(list, i - first);
		if (svc_load(x, g, &c->svcs[i]) < 0)
			return -1;
		for (j = 0; j < i; j++)
			if (svc_clash(x, g, &c->svcs[i], &c->svcs[j]) < 0)
				return -1;
	}
	return 0;
}

static int
load_log(struct ctx *x, const config_setting_t *root)
{
	char *where = NULL, *level = NULL;
	int rc = 0;

	if (get_str(x, root, "log", &where) < 0 ||
	    get_str(x, root, "log_level", &level) < 0)
		rc = -1;
	x->c->log_set = where != NULL;
	if (rc == 0 && where && strcmp(where, "syslog") == 0)
		x->c->log_where = LOG_TO_SYSLOG;
	else if (rc == 0 && where && strcmp(where, "stderr") != 0)
		rc = fail(x, config_setting_get_member(root, "log"),
		    "\"log\" must be \"stderr\" or \"syslog\"");
	if (rc == 0 && level && (x->c->log_level = log_level_parse(level)) < 0)
		rc = fail(x, config_setting_get_member(root, "log_level"),
		    "unknown log_level \"%s\"", level);
	free(where);
	free(level);
	return rc;
}

/* workers = N, or "auto": one per CPU. */
static int
load_workers(struct ctx *x, const config_setting_t *root)
{
	const config_setting_t *s = config_setting_get_member(root, "workers");
	long n = 1;

	if (s != NULL && config_setting_type(s) == CONFIG_TYPE_STRING &&
	    strcmp(config_setting_get_string(s), "auto") == 0)
		n = sysconf(_SC_NPROCESSORS_ONLN);
	else if (s != NULL &&
		 (config_setting_type(s) != CONFIG_TYPE_INT ||
		     (n = config_setting_get_int(s)) < 1 || n > STATS_WORKERS))
		return fail(x, s, "\"workers\" must be 1 to %d or \"auto\"",
		    STATS_WORKERS);
	x->c->workers = n < 1 ? 1 : n > STATS_WORKERS ? STATS_WORKERS : (int)n;
	return 0;
}

/*
 * control = PATH, against the file's directory.  One loop serves it: with
 * workers, each would hold connections the socket could not name.
 */
static int
load_control(struct ctx *x, const config_setting_t *root)
{
	const config_setting_t *s = config_setting_get_member(root, "control");
	char *path = NULL, msg[CONF_ERRLEN];

	if (s == NULL)
		return 0;
	if (get_str(x, root, "control", &path) < 0)
		return -1;
	x->c->control = conf_resolve(x->c->dir, path);
	free(path);
	if (x->c->control == NULL)
		return no_memory(x, s);
	if (x->c->workers > 1)
		return fail(x, s, "\"control\" needs workers = 1");
	if (unixsock_check(x->c->control, msg, sizeof(msg)) < 0)
		return fail(x, s, "\"control\": %s", msg);
	return 0;
}

static int
load_globals(struct ctx *x, const config_setting_t *root)
{
	struct conf *c = x->c;
	char *dir = NULL, *lpath = NULL;

	if (check_known(x, root, global_names, NULL) < 0 ||
	    load_log(x, root) < 0 || get_str(x, root, "script_dir", &dir) < 0 ||
	    get_str(x, root, "lua_path", &lpath) < 0 ||
	    get_str(x, root, "user", &c->user) < 0 ||
	    get_str(x, root, "group", &c->group) < 0 ||
	    get_str(x, root, "pidfile", &c->pidfile) < 0 ||
	    get_long(x, root, "max_connections", 1, INT_MAX,
		&c->max_connections) < 0 ||
	    get_seconds(x, root, "shutdown_timeout", &c->shutdown_timeout) < 0)
		goto fail;
	if (load_workers(x, root) < 0 || load_control(x, root) < 0)
		goto fail;
	if ((c->script_dir = conf_resolve(c->dir, dir ? dir : ".")) == NULL)
		goto nomem;
	if (lpath == NULL &&
	    asprintf(&lpath, "%s/lib/?.lua", c->script_dir) < 0) {
		lpath = NULL;
		goto nomem;
	}
	c->lua_path =
	    lpath[0] == '/' ? strdup(lpath) : conf_resolve(c->dir, lpath);
	if (c->lua_path == NULL)
		goto nomem;
	if (c->pidfile) {
		free(dir);
		dir = c->pidfile;
		if ((c->pidfile = conf_resolve(c->dir, dir)) == NULL)
			goto nomem;
	}
	free(dir);
	free(lpath);
	return 0;
nomem:
	no_memory(x, NULL);
fail:
	free(dir);
	free(lpath);
	return -1;
}

static char *
dir_of(const char *path)
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

/* A drop-in adds services, and nothing else. */
static int
only_services(struct ctx *x, const config_setting_t *root)
{
	const config_setting_t *s;
	int i;

	for (i = 0; (s = config_setting_get_elem(root, i)) != NULL; i++)
		if (strcmp(config_setting_name(s), "services") != 0)
			return fail(x, s,
			    "\"%s\": a drop-in file sets only \"services\"",
			    config_setting_name(s));
	return 0;
}

/* A config_t more, kept with c: its services' options point into it. */
static config_t *
new_cfg(struct conf *c)
{
	config_t **v = realloc(c->dropins, (c->ndropins + 1) * sizeof(*v));

	if (v == NULL)
		return NULL;
	c->dropins = v;
	if ((v[c->ndropins] = malloc(sizeof(**v))) == NULL)
		return NULL;
	config_init(v[c->ndropins]);
	return v[c->ndropins++];
}

/* Its relative scripts and @include files are beside it. */
static int
load_dropin(struct ctx *x, const char *path)
{
	struct ctx d = {x->c, path, NULL, NULL, x->err, x->len};
	config_t *cfg = NULL;
	char *dir;
	int rc = -1;

	if ((dir = dir_of(path)) == NULL || (cfg = new_cfg(x->c)) == NULL) {
		free(dir);
		snprintf(x->err, x->len, "%s:0: out of memory", path);
		return -1;
	}
	d.dir = d.script_dir = dir;
	if (confread(cfg, path, dir, x->err, x->len) == 0 &&
	    only_services(&d, config_root_setting(cfg)) == 0)
		rc = load_services(&d, config_lookup(cfg, "services"));
	free(dir);
	return rc;
}

/* include_dir: every *.conf file there, in name order, adds services. */
static int
load_dropins(struct ctx *x, const config_setting_t *root)
{
	const config_setting_t *s =
	    config_setting_get_member(root, "include_dir");
	char *name = NULL, *dir, **paths = NULL;
	int i, rc = 0;

	if (s == NULL)
		return 0;
	if (get_str(x, root, "include_dir", &name) < 0)
		return -1;
	dir = conf_resolve(x->dir, name);
	free(name);
	if (dir == NULL)
		return no_memory(x, s);
	if (confdir_list(dir, x->file, &paths) < 0)
		rc = fail(x, s, "include_dir \"%s\": %s", dir, strerror(errno));
	for (i = 0; rc == 0 && paths[i] != NULL; i++)
		rc = load_dropin(x, paths[i]);
	strv_free(paths);
	free(dir);
	return rc;
}

struct conf *
conf_load(const char *path, char *err, size_t len)
{
	struct conf *c = calloc(1, sizeof(*c));
	struct ctx x = {c, path, NULL, NULL, err, len};

	if (c == NULL) {
		snprintf(err, len, "%s:0: out of memory", path);
		return NULL;
	}
	config_init(&c->cfg);
	c->path = strdup(path);
	c->dir = dir_of(path);
	c->log_level = LOG_INFO;
	c->max_connections = 10000;
	c->shutdown_timeout = 5;
	c->workers = 1;
	if (c->path == NULL || c->dir == NULL) {
		snprintf(err, len, "%s:0: out of memory", path);
		goto fail;
	}
	x.dir = c->dir;
	if (confread(&c->cfg, path, c->dir, err, len) < 0 ||
	    load_globals(&x, config_root_setting(&c->cfg)) < 0)
		goto fail;
	x.script_dir = c->script_dir;
	if (load_services(&x, config_lookup(&c->cfg, "services")) < 0 ||
	    load_dropins(&x, config_root_setting(&c->cfg)) < 0)
		goto fail;
	return c;
fail:
	conf_free(c);
	return NULL;
}

static void
svc_free(struct svc_conf *v)
{
	free(v->name);
	free(v->file);
	strv_free(v->addrs);
	free(v->path);
	free(v->owner);
	free(v->script);
	strv_free(v->exec);
	free(v->user);
	free(v->group);
	strv_free(v->only_from);
	strv_free(v->no_access);
	acl_free(&v->allow);
	acl_free(&v->deny);
	acl_free(&v->proxy_from);
	confexec_free(v);
	conftls_free(v->tls);
}

void
conf_free(struct conf *c)
{
	int i;

	if (c == NULL)
		return;
	for (i = 0; i < c->nsvcs; i++)
		svc_free(&c->svcs[i]);
	free(c->svcs);
	config_destroy(&c->cfg);
	for (i = 0; i < c->ndropins; i++) {
		config_destroy(c->dropins[i]);
		free(c->dropins[i]);
	}
	free(c->dropins);
	free(c->path);
	free(c->dir);
	free(c->script_dir);
	free(c->lua_path);
	free(c->user);
	free(c->group);
	free(c->pidfile);
	free(c->control);
	free(c);
}

/* Services of an old configuration keep it alive until they are gone. */
void
conf_release(struct conf *c)
{
	if (c != NULL && --c->refs <= 0)
		conf_free(c);
}
