/* confcmp.c - services compared: what a reload changed. */
#include <stdio.h>
#include <string.h>

#include "confcmp.h"

#define CMP_INT 0
#define CMP_LONG 1
#define CMP_DOUBLE 2
#define CMP_STR 3
#define CMP_STRV 4
#define CMP_SETTING 5
#define CMP_ACL 6

/* A setting of struct svc_conf as a reload sees it. */
struct field {
	const char *name;
	size_t off;
	int kind;
};

#define FIELD(name, f, kind)                             \
	{                                                \
		name, offsetof(struct svc_conf, f), kind \
	}

/* Every setting of a service (conf.c): one added there belongs here. */
static const struct field fields[] = {
    FIELD("port", port, CMP_INT),
    FIELD("address", addrs, CMP_STRV),
    FIELD("protocol", protos, CMP_INT),
    FIELD("script", script, CMP_STR),
    FIELD("exec", exec, CMP_STRV),
    FIELD("user", user, CMP_STR),
    FIELD("group", group, CMP_STR),
    FIELD("options", options, CMP_SETTING),
    FIELD("max_connections", max_connections, CMP_LONG),
    FIELD("per_source", per_source, CMP_LONG),
    FIELD("rate", rate, CMP_LONG),
    FIELD("idle_timeout", idle_timeout, CMP_LONG),
    FIELD("timeout", timeout, CMP_DOUBLE),
    FIELD("max_line", max_line, CMP_LONG),
    FIELD("output_limit", output_limit, CMP_LONG),
    FIELD("memory_limit", memory_limit, CMP_LONG),
    FIELD("cpu_limit", cpu_limit, CMP_LONG),
    FIELD("only_from", only_from, CMP_STRV),
    FIELD("no_access", no_access, CMP_STRV),
    FIELD("proxy_protocol", proxy_protocol, CMP_INT),
    FIELD("proxy_from", proxy_from, CMP_ACL),
    {NULL, 0, 0},
};

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
