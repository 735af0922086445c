/*
 * confservice.c - a file's "services" list: each service's own settings
 * read into a svc_conf (its listener, TLS and exec parts by conflisten.c,
 * conftls.c and confexec.c), names unique across the files loaded.
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "confdata.h"
#include "confexec.h"
#include "conflisten.h"
#include "confload.h"
#include "conftls.h"
#include "confwhere.h"

#define SVC_OFF(f) offsetof(struct svc_conf, f)

static const struct conf_num svc_nums[] = {
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
svc_protocols(struct conf_ctx *x, const config_setting_t *g, struct svc_conf *v)
{
	char **p = NULL;
	int i, n = 0;

	v->protos = CONF_TCP;
	if (conf_get_strv(x, g, "protocol", &p, &n) < 0) {
		conf_strv_free(p);
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
	conf_strv_free(p);
	if (i < n || (n == 0 && v->protos == 0))
		return conf_fail(x, config_setting_get_member(g, "protocol"),
		    "\"protocol\" must be \"tcp\", \"udp\" or both");
	return 0;
}

static int
svc_numbers(struct conf_ctx *x, const config_setting_t *g, struct svc_conf *v)
{
	const struct conf_num *n;
	long *field;

	for (n = svc_nums; n->name; n++) {
		field = (long *)((char *)v + n->off);
		*field = n->def;
		if (conf_get_long(x, g, n->name, n->min, n->max, field) < 0)
			return -1;
	}
	v->memory_limit <<= 20;
	v->slow_timeout = 5;
	if (conf_get_seconds(x, g, "slow_timeout", &v->slow_timeout) < 0)
		return -1;
	return conf_get_seconds(x, g, "timeout", &v->timeout);
}

static int
svc_program(struct conf_ctx *x, const config_setting_t *g, struct svc_conf *v)
{
	const config_setting_t *s = config_setting_get_member(g, "script");
	char *name;
	int n = 0;

	/* Kept in v at once, so conf_free frees it whatever fails next. */
	if (conf_get_str(x, g, "script", &v->script) < 0 ||
	    conf_get_strv(x, g, "exec", &v->exec, &n) < 0)
		return -1;
	if ((v->script == NULL) == (v->exec == NULL))
		return conf_fail(x, g,
		    "service \"%s\" needs exactly one of "
		    "\"script\" and \"exec\"",
		    v->name);
	if (v->exec != NULL && (n == 0 || v->exec[0][0] != '/'))
		return conf_fail(x, config_setting_get_member(g, "exec"),
		    "\"exec\" must start with an absolute path");
	if (v->exec != NULL)
		return 0;

	name = v->script;
	v->script = conf_resolve(x->script_dir, name);
	free(name);
	if (v->script == NULL)
		return conf_no_memory(x, s);
	if (access(v->script, R_OK) < 0)
		return conf_fail(
		    x, s, "script \"%s\": %s", v->script, strerror(errno));
	return 0;
}

/* An address list names somewhere, and no place twice. */
static int
svc_addresses(struct conf_ctx *x, const config_setting_t *g, struct svc_conf *v)
{
	const config_setting_t *s = config_setting_get_member(g, "address");
	int i, j;

	if (v->naddrs == 0)
		return conf_fail(x, s, "\"address\" lists no address");
	for (i = 0; i < v->naddrs; i++)
		for (j = 0; j < i; j++)
			if (strcmp(v->addrs[i], v->addrs[j]) == 0)
				return conf_fail(x, s,
				    "address %s is listed twice", v->addrs[i]);
	return 0;
}

/*
 * Two services on one port and address: conf_overlap, after loading.
 * Names are unique across the main file and its drop-ins.
 */
static int
svc_clash(struct conf_ctx *x, const config_setting_t *g,
    const struct svc_conf *a, const struct svc_conf *b)
{
	if (strcmp(a->name, b->name) == 0)
		return conf_fail(x, g,
		    "duplicate service name \"%s\" (first at %s:%d)", a->name,
		    b->file, b->line);
	return 0;
}

static int
svc_acl(struct conf_ctx *x, const config_setting_t *g, const char *name,
    char **texts, int n, struct acl *out)
{
	const config_setting_t *s = config_setting_get_member(g, name);
	int bad = 0;

	if (acl_parse(texts, n, out, &bad) == 0)
		return 0;
	if (bad < 0)
		return conf_no_memory(x, s);
	if (config_setting_is_aggregate(s))
		s = config_setting_get_elem(s, bad);
	return conf_fail(
	    x, s, "\"%s\": bad address or CIDR block \"%s\"", name, texts[bad]);
}

/* PROXY protocol: from whom a header is believed (default loopback). */
static int
svc_proxy(struct conf_ctx *x, const config_setting_t *g, struct svc_conf *v)
{
	const config_setting_t *s =
	    config_setting_get_member(g, "proxy_protocol");
	static char *loopback[] = {"127.0.0.0/8", "::1", NULL};
	char **from = NULL;
	int n = 0, rc;

	if (s != NULL && config_setting_type(s) != CONFIG_TYPE_BOOL)
		return conf_fail(
		    x, s, "\"proxy_protocol\" must be true or false");
	v->proxy_protocol = s != NULL && config_setting_get_bool(s);
	if (conf_get_strv(x, g, "proxy_from", &from, &n) < 0) {
		conf_strv_free(from);
		return -1;
	}
	if (v->proxy_protocol && v->exec != NULL) {
		conf_strv_free(from);
		return conf_fail(
		    x, s, "\"proxy_protocol\" is for Lua services");
	}
	if (from == NULL)
		return acl_parse(loopback, 2, &v->proxy_from, &n) < 0
			   ? conf_no_memory(x, g)
			   : 0;
	rc = svc_acl(x, g, "proxy_from", from, n, &v->proxy_from);
	conf_strv_free(from);
	return rc;
}

/*
 * wait = true: the program, not superd, takes what arrives on the
 * listening socket (inetd's wait), so nothing that looks at a client
 * applies.  A UDP program must wait: there is no connection to hand it.
 */
static int
svc_wait(struct conf_ctx *x, const config_setting_t *g, struct svc_conf *v)
{
	static const char *const per_client[] = {"per_source", "rate",
	    "only_from", "no_access", "proxy_protocol", NULL};
	const config_setting_t *s = config_setting_get_member(g, "wait");

	if (s != NULL && config_setting_type(s) != CONFIG_TYPE_BOOL)
		return conf_fail(x, s, "\"wait\" must be true or false");
	v->wait = s != NULL && config_setting_get_bool(s);
	if (v->wait && v->exec == NULL)
		return conf_fail(x, s, "\"wait\" is for exec services");
	if (v->exec != NULL && !v->wait && (v->protos & CONF_UDP))
		return conf_fail(x, config_setting_get_member(g, "protocol"),
		    "a UDP exec service needs \"wait = true\"");
	/* datagrams would need each client's bound path to reply to */
	if (v->path != NULL && (v->protos & CONF_UDP) && !v->wait)
		return conf_fail(x, config_setting_get_member(g, "protocol"),
		    "a unix datagram socket (\"path\", protocol \"udp\") "
		    "is for an exec service with \"wait = true\"");
	if (v->wait && (s = conf_first_of(g, per_client)) != NULL)
		return conf_fail(x, s,
		    "\"%s\" does not apply to a wait service: its program "
		    "takes the clients",
		    config_setting_name(s));
	return 0;
}

/* Where it listens (conflisten.c), the error at the setting to blame. */
static int
svc_listen(struct conf_ctx *x, const config_setting_t *g, struct svc_conf *v)
{
	const config_setting_t *at = g;
	char msg[CONF_ERRLEN];

	if (conf_listen(g, v, x->dir, x->c->workers, &at, msg, sizeof(msg)) ==
	    0)
		return 0;
	return conf_fail(x, at, "%s", msg);
}

static int
svc_tls(struct conf_ctx *x, const config_setting_t *g, struct svc_conf *v)
{
	const config_setting_t *at = g;
	char msg[CONF_ERRLEN], file[PATH_MAX];

	if (conftls_load(g, v, conf_file_of(x, g, file, sizeof(file)), x->dir,
		&at, msg, sizeof(msg)) == 0)
		return 0;
	return conf_fail(x, at, "%s", msg);
}

static int
svc_load(struct conf_ctx *x, const config_setting_t *g, struct svc_conf *v)
{
	const config_setting_t *s;
	char file[PATH_MAX];

	v->line = config_setting_source_line(g);
	if ((v->file = strdup(conf_file_of(x, g, file, sizeof(file)))) == NULL)
		return conf_no_memory(x, g);
	if (!config_setting_is_group(g))
		return conf_fail(x, g, "each service must be a group { ... }");
	if (conf_check_known(x, g, svc_names, svc_nums) < 0 ||
	    conf_get_str(x, g, "name", &v->name) < 0)
		return -1;
	if (v->name == NULL || !valid_name(v->name))
		return conf_fail(x, config_setting_get_member(g, "name") ?: g,
		    "service needs a \"name\" of [a-z0-9_-]+, 63 at most");
	if (svc_protocols(x, g, v) < 0 || svc_listen(x, g, v) < 0)
		return -1;
	if (conf_get_strv(x, g, "address", &v->addrs, &v->naddrs) < 0 ||
	    svc_numbers(x, g, v) < 0 || svc_program(x, g, v) < 0 ||
	    conf_get_str(x, g, "user", &v->user) < 0 ||
	    conf_get_str(x, g, "group", &v->group) < 0 ||
	    conf_get_strv(x, g, "only_from", &v->only_from, &v->nonly_from) <
		0 ||
	    conf_get_strv(x, g, "no_access", &v->no_access, &v->nno_access) <
		0 ||
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
			return conf_no_memory(x, g);
		v->naddrs = 1;
	}
	if (v->path == NULL && svc_addresses(x, g, v) < 0)
		return -1;
	s = config_setting_get_member(g, "options");
	if (s != NULL && !config_setting_is_group(s))
		return conf_fail(x, s, "\"options\" must be a group { ... }");
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
no_services(struct conf_ctx *x)
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
int
conf_services(struct conf_ctx *x, const config_setting_t *list)
{
	struct conf *c = x->c;
	const config_setting_t *g;
	struct svc_conf *v;
	int i, j, n, first = c->nsvcs;

	if (list == NULL)
		return no_services(x);
	if (!config_setting_is_list(list) && !config_setting_is_array(list))
		return conf_fail(
		    x, list, "\"services\" must be a list ( ... )");
	n = config_setting_length(list);
	if ((v = realloc(c->svcs, (first + n + 1) * sizeof(*v))) == NULL)
		return conf_no_memory(x, list);
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

void
conf_svc_free(struct svc_conf *v)
{
	free(v->name);
	free(v->file);
	conf_strv_free(v->addrs);
	free(v->path);
	free(v->owner);
	free(v->script);
	conf_strv_free(v->exec);
	free(v->user);
	free(v->group);
	conf_strv_free(v->only_from);
	conf_strv_free(v->no_access);
	acl_free(&v->allow);
	acl_free(&v->deny);
	acl_free(&v->proxy_from);
	confexec_free(v);
	conftls_free(v->tls);
}
