/* confcmp.c - services compared: overlapping listeners, reload changes. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "confcmp.h"
#include "net.h"

#define CMP_INT 0
#define CMP_LONG 1
#define CMP_DOUBLE 2
#define CMP_STR 3
#define CMP_STRV 4
#define CMP_SETTING 5
#define CMP_ACL 6
#define CMP_MODE 7

/* A setting of struct svc_conf as a reload sees it. */
struct field {
	const char *name;
	size_t off;
	int kind;
};

#define OFF(f) offsetof(struct svc_conf, f)

/* Every setting of a service (confservice.c): one added there belongs here. */
static const struct field fields[] = {
    {"port", OFF(port), CMP_INT},
    {"address", OFF(addrs), CMP_STRV},
    {"path", OFF(path), CMP_STR},
    {"mode", OFF(sock.mode), CMP_MODE},
    {"owner", OFF(owner), CMP_STR},
    {"protocol", OFF(protos), CMP_INT},
    {"script", OFF(script), CMP_STR},
    {"exec", OFF(exec), CMP_STRV},
    {"wait", OFF(wait), CMP_INT},
    {"user", OFF(user), CMP_STR},
    {"group", OFF(group), CMP_STR},
    {"options", OFF(options), CMP_SETTING},
    {"max_connections", OFF(max_connections), CMP_LONG},
    {"per_source", OFF(per_source), CMP_LONG},
    {"rate", OFF(rate), CMP_LONG},
    {"idle_timeout", OFF(idle_timeout), CMP_LONG},
    {"timeout", OFF(timeout), CMP_DOUBLE},
    {"slow_timeout", OFF(slow_timeout), CMP_DOUBLE},
    {"max_line", OFF(max_line), CMP_LONG},
    {"output_limit", OFF(output_limit), CMP_LONG},
    {"memory_limit", OFF(memory_limit), CMP_LONG},
    {"cpu_limit", OFF(cpu_limit), CMP_LONG},
    {"only_from", OFF(only_from), CMP_STRV},
    {"no_access", OFF(no_access), CMP_STRV},
    {"proxy_protocol", OFF(proxy_protocol), CMP_INT},
    {"proxy_from", OFF(proxy_from), CMP_ACL},
    {"argv0", OFF(argv0), CMP_STR},
    {"env", OFF(env), CMP_STRV},
    {"passenv", OFF(passenv), CMP_STRV},
    {"rlimits.as", OFF(rlimits[CONF_RLIMIT_AS]), CMP_LONG},
    {"rlimits.cpu", OFF(rlimits[CONF_RLIMIT_CPU]), CMP_LONG},
    {"rlimits.nofile", OFF(rlimits[CONF_RLIMIT_NOFILE]), CMP_LONG},
    {"rlimits.nproc", OFF(rlimits[CONF_RLIMIT_NPROC]), CMP_LONG},
    {"rlimits.fsize", OFF(rlimits[CONF_RLIMIT_FSIZE]), CMP_LONG},
    {"rlimits.core", OFF(rlimits[CONF_RLIMIT_CORE]), CMP_LONG},
    {"nice", OFF(nice), CMP_INT},
    {"umask", OFF(umask), CMP_INT},
    {"max_runtime", OFF(max_runtime), CMP_DOUBLE},
    {NULL, 0, 0},
};

/* An address's family as bind sees it; 0 when it is not numeric. */
static int
addr_family(const char *canon)
{
	struct in6_addr a;

	if (inet_pton(AF_INET, canon, &a) == 1)
		return AF_INET;
	return inet_pton(AF_INET6, canon, &a) == 1 ? AF_INET6 : 0;
}

/*
 * Whether bind refuses b beside a on one port: the same address however
 * spelt, or a wildcard that covers the other.  "::" is dual stack
 * (net_listen), so it covers every address; "0.0.0.0" every IPv4 one.
 */
static int
addr_overlap(const char *a, const char *b)
{
	char ca[NET_ADDRSTRLEN], cb[NET_ADDRSTRLEN];
	int fa, fb;

	a = net_canon(a, ca);
	b = net_canon(b, cb);
	if (strcmp(a, b) == 0)
		return 1;
	if ((fa = addr_family(a)) == 0 || (fb = addr_family(b)) == 0)
		return 0;
	if (strcmp(a, "::") == 0 || strcmp(b, "::") == 0)
		return 1;
	return (fb == AF_INET && strcmp(a, "0.0.0.0") == 0) ||
	       (fa == AF_INET && strcmp(b, "0.0.0.0") == 0);
}

/* The first address k of v that overlaps an address m of w (of v before k). */
static int
first_overlap(
    const struct svc_conf *v, const struct svc_conf *w, int *k, int *m)
{
	for (*k = 0; *k < v->naddrs; (*k)++)
		for (*m = 0; *m < (w == v ? *k : w->naddrs); (*m)++)
			if (addr_overlap(v->addrs[*k], w->addrs[*m]))
				return 1;
	return 0;
}

static int
overlap_error(const struct svc_conf *v, const struct svc_conf *w, int k, int m,
    char *err, size_t len)
{
	char who[CONF_ERRLEN];

	if (w == v)
		snprintf(who, sizeof(who), "its own address %s", w->addrs[m]);
	else
		snprintf(who, sizeof(who), "service \"%s\" on %s", w->name,
		    w->addrs[m]);
	snprintf(err, len,
	    "%s:%d: service \"%s\": port %d/%s on %s is already used by %s",
	    v->file, v->line, v->name, v->port,
	    v->protos & w->protos & CONF_TCP ? "tcp" : "udp", v->addrs[k], who);
	return -1;
}

static int
path_error(
    const struct svc_conf *v, const struct svc_conf *w, char *err, size_t len)
{
	snprintf(err, len,
	    "%s:%d: service \"%s\": path %s is already used by service "
	    "\"%s\"",
	    v->file, v->line, v->name, v->path, w->name);
	return -1;
}

/*
 * Service i against those before it and against itself: -1, with
 * "FILE:LINE: service ..." in err, at the first listener that bind would
 * refuse.  Only a comparison: superd -t must not bind the ports a running
 * superd holds, and with workers SO_REUSEPORT would let the bind pass.
 */
int
conf_overlap(const struct conf *c, int i, char *err, size_t len)
{
	const struct svc_conf *v = &c->svcs[i], *w;
	int j, k, m;

	for (j = 0; j <= i; j++) {
		w = &c->svcs[j];
		if (w != v && v->path && w->path &&
		    strcmp(v->path, w->path) == 0)
			return path_error(v, w, err, len);
		if (v->port == w->port && (v->protos & w->protos) != 0 &&
		    first_overlap(v, w, &k, &m))
			return overlap_error(v, w, k, m, err, len);
	}
	return 0;
}

static int
str_equal(const char *a, const char *b)
{
	return a == NULL || b == NULL ? a == b : strcmp(a, b) == 0;
}

/* An absent list and an empty one differ: only_from = [] admits nobody. */
static int
strv_equal(char *const *a, char *const *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	for (; *a && *b; a++, b++)
		if (strcmp(*a, *b) != 0)
			return 0;
	return *a == *b;
}

static int
acl_equal(const struct acl *a, const struct acl *b)
{
	return a->n == b->n &&
	       (a->n == 0 || memcmp(a->v, b->v, a->n * sizeof(*a->v)) == 0);
}

/* Groups by member name, lists and arrays by position. */
static int
setting_equal(const config_setting_t *a, const config_setting_t *b)
{
	const config_setting_t *x, *y;
	int i, type;

	if (a == NULL || b == NULL)
		return a == b;
	if ((type = config_setting_type(a)) != config_setting_type(b))
		return 0;
	switch (type) {
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		return config_setting_get_int64(a) ==
		       config_setting_get_int64(b);
	case CONFIG_TYPE_FLOAT:
		return config_setting_get_float(a) ==
		       config_setting_get_float(b);
	case CONFIG_TYPE_STRING:
		return strcmp(config_setting_get_string(a),
			   config_setting_get_string(b)) == 0;
	case CONFIG_TYPE_BOOL:
		return config_setting_get_bool(a) == config_setting_get_bool(b);
	}
	if (config_setting_length(a) != config_setting_length(b))
		return 0;
	for (i = 0; (x = config_setting_get_elem(a, i)) != NULL; i++) {
		y = config_setting_is_group(a)
			? config_setting_get_member(b, config_setting_name(x))
			: config_setting_get_elem(b, i);
		if (!setting_equal(x, y))
			return 0;
	}
	return 1;
}

static int
field_equal(const struct field *f, const void *a, const void *b)
{
	a = (const char *)a + f->off;
	b = (const char *)b + f->off;
	switch (f->kind) {
	case CMP_INT:
		return *(const int *)a == *(const int *)b;
	case CMP_LONG:
		return *(const long *)a == *(const long *)b;
	case CMP_DOUBLE:
		return *(const double *)a == *(const double *)b;
	case CMP_MODE:
		return *(const mode_t *)a == *(const mode_t *)b;
	case CMP_STR:
		return str_equal(*(char *const *)a, *(char *const *)b);
	case CMP_STRV:
		return strv_equal(*(char **const *)a, *(char **const *)b);
	case CMP_SETTING:
		return setting_equal(*(const config_setting_t *const *)a,
		    *(const config_setting_t *const *)b);
	default:
		return acl_equal(a, b);
	}
}

/*
 * The settings in which service a and b differ, as "port, max_line" in
 * buf (cut short when it is too small); their count.
 */
int
conf_changes(
    const struct svc_conf *a, const struct svc_conf *b, char *buf, size_t len)
{
	const struct field *f;
	size_t used = 0;
	int n = 0;

	buf[0] = '\0';
	for (f = fields; f->name; f++) {
		if (field_equal(f, a, b))
			continue;
		if (used < len)
			used += snprintf(buf + used, len - used, "%s%s",
			    n ? ", " : "", f->name);
		n++;
	}
	return n;
}
