/*
 * import_xval.c - xinetd attribute values as superd settings: access
 * lists in xinetd's address forms, limits, environment, rlimits; and the
 * reason every attribute left over is not carried.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "import_x.h"

static const struct why {
	const char *name, *why;
} whys[] = {
    {"log_on_success", "superd logs every connection at info"},
    {"log_on_failure", "superd logs every refused connection at notice"},
    {"log_type", "superd's log is global: see log at the top"},
    {"access_times", "superd has no time windows"},
    {"banner", "superd sends no banner"},
    {"banner_success", "superd sends no banner"},
    {"banner_fail", "superd sends no banner"},
    {"max_load", "superd does not watch the load average"},
    {"deny_time", "superd has no SENSOR"},
    {"mdns", "superd registers nothing with mDNS"},
    {"libwrap", "superd has no libwrap: use only_from and no_access"},
    {"rlimit_data", "superd's rlimits are as, cpu, nofile, nproc, fsize "
		    "and core"},
    {"rlimit_rss", "superd's rlimits are as, cpu, nofile, nproc, fsize "
		   "and core"},
    {"rlimit_stack", "superd's rlimits are as, cpu, nofile, nproc, fsize "
		     "and core"},
    {NULL, "superd has no such setting"},
};

/* What the defaults may say that each service takes as its own. */
static const char *const per_service[] = {"only_from", "no_access", "instances",
    "per_source", "cps", "passenv", "env", "umask", "bind", "interface",
    "enabled", "disabled", "groups", "v6only", "nice", NULL};

struct xval *
x_find(struct xsvc *x, const char *name)
{
	int i;

	for (i = 0; i < x->n; i++)
		if (strcmp(x->vals[i].name, name) == 0)
			return &x->vals[i];
	return NULL;
}

/* The values of name, now used: NULL when neither side gave it. */
const struct imp_list *
x_take(struct xsvc *x, const char *name)
{
	struct xval *xv = x_find(x, name);

	if (xv == NULL)
		return NULL;
	xv->used = 1;
	return &xv->vals;
}

/* The first value ("" for an empty one), or NULL. */
const char *
x_take1(struct xsvc *x, const char *name)
{
	const struct imp_list *l = x_take(x, name);

	return l == NULL ? NULL : l->n > 0 ? l->v[0] : "";
}

/* A count: the number, or -1 when s is none. */
long
x_number(const char *s)
{
	char *end;
	long n = strtol(s, &end, 10);

	return s[0] >= '0' && s[0] <= '9' && *end == '\0' ? n : -1;
}

int
x_drop(struct xsvc *x, const char *why)
{
	x->v->dropped = 1;
	imp_note(x->v, "%s (service %s)", why, x->b->name);
	return -1;
}

void
x_disable(struct xsvc *x, const char *why)
{
	x->v->disabled = 1;
	imp_note(x->v, "%s: carried over commented out", why);
}

void
x_lost(struct xsvc *x, const char *name, const char *value, const char *why)
{
	if (value != NULL)
		imp_note(x->v, "xinetd \"%s = %s\" not carried over: %s", name,
		    value, why);
	else
		imp_note(x->v, "xinetd \"%s\" not carried over: %s", name, why);
}

/* 128.138.{209,203}: a /24 (or shorter) block for each. */
static int
factorized(const char *a, struct imp_list *out)
{
	const char *open = strchr(a, '{'), *close = strchr(a, '}');
	char *items, *item, *save = NULL, *block, *p;
	unsigned char buf[4];
	int parts = 1, rc = 0;

	if (close == NULL || close[1] != '\0' || open == a || open[-1] != '.')
		return -1;
	for (p = (char *)a; p < open; p++)
		parts += *p == '.';
	items = imp_printf("%.*s", (int)(close - open - 1), open + 1);
	for (item = strtok_r(items, ",", &save); item && rc == 0;
	     item = strtok_r(NULL, ",", &save)) {
		block = imp_printf("%.*s%s%s%s", (int)(open - a), a, item,
		    parts < 4 ? ".0" : "", parts < 3 ? ".0" : "");
		rc = parts > 4 || inet_pton(AF_INET, block, buf) != 1 ? -1 : 0;
		p = imp_printf("%s/%d", block, parts * 8);
		if (rc == 0)
			imp_list_add(out, parts == 4 ? block : p);
		free(p);
		free(block);
	}
	free(items);
	return rc;
}

/*
 * One of xinetd's address forms as superd's: 0 and 0.0.0.0 are every
 * IPv4 address, trailing zero parts of an IPv4 address are wildcards,
 * a factorized address is a block each; -1 for a host, domain or
 * network name, which superd's lists do not take.
 */
static int
acl_entry(const char *a, struct imp_list *out)
{
	unsigned char buf[4];
	int zeros = 0;
	char *block;

	if (strcmp(a, "0") == 0 || strcmp(a, "0.0.0.0") == 0) {
		imp_list_add(out, "0.0.0.0/0");
		return 0;
	}
	if (strchr(a, '{') != NULL)
		return factorized(a, out);
	if (strchr(a, ':') != NULL || strchr(a, '/') != NULL) {
		imp_list_add(out, a);
		return 0;
	}
	if (inet_pton(AF_INET, a, buf) != 1)
		return -1;
	while (zeros < 3 && buf[3 - zeros] == 0)
		zeros++;
	block = imp_printf("%s/%d", a, 32 - 8 * zeros);
	imp_list_add(out, zeros > 0 ? block : a);
	free(block);
	return 0;
}

static void
acl(struct xsvc *x, const char *name, struct imp_list *out)
{
	const struct imp_list *l = x_take(x, name);
	int i;

	if (l == NULL)
		return;
	out->given = 1;
	for (i = 0; i < l->n; i++)
		if (acl_entry(l->v[i], out) < 0)
			x_lost(x, name, l->v[i],
			    "superd's access lists take addresses and CIDR "
			    "blocks");
	if (out->n == 0 && strcmp(name, "only_from") == 0)
		imp_note(x->v, "\"only_from\" is empty: it admits no one");
}

static void
x_access(struct xsvc *x)
{
	struct imp_svc *v = x->v;

	acl(x, "only_from", &v->only_from);
	acl(x, "no_access", &v->no_access);
	if (v->only_from.n > 0 && v->no_access.n > 0)
		imp_note(v, "xinetd let the closer match of only_from and "
			    "no_access decide; superd's no_access always wins");
}

/* A count or UNLIMITED (left to superd's default): -1 when neither. */
static int
count(struct xsvc *x, const char *name, long *out)
{
	const char *s = x_take1(x, name);

	if (s == NULL || strcmp(s, "UNLIMITED") == 0)
		return 0;
	if (x_number(s) < 1) {
		x_lost(x, name, s, "not a count");
		return -1;
	}
	*out = x_number(s);
	return 0;
}

static void
x_limits(struct xsvc *x)
{
	const struct imp_list *cps = x_take(x, "cps");

	count(x, "instances", &x->v->max_connections);
	count(x, "per_source", &x->v->per_source);
	if (cps == NULL)
		return;
	if (cps->n != 2 || x_number(cps->v[0]) < 1 || x_number(cps->v[1]) < 0) {
		x_lost(x, "cps", cps->n ? cps->v[0] : "",
		    "expected connections a second and seconds to pause");
		return;
	}
	x->v->rate = x_number(cps->v[0]);
	if (!x->v->wait) /* else the rate goes, noted, when folded */
		imp_note(x->v,
		    "xinetd \"cps = %s %s\" also paused the service %s s "
		    "once over the rate; superd refuses only what is over",
		    cps->v[0], cps->v[1], cps->v[1]);
}

static void
x_environ(struct xsvc *x)
{
	const struct imp_list *env = x_take(x, "env");
	const struct imp_list *pass = x_take(x, "passenv");
	int i;

	for (i = 0; env && i < env->n; i++)
		imp_list_add(&x->v->env, env->v[i]);
	for (i = 0; pass && i < pass->n; i++)
		imp_list_add(&x->v->passenv, pass->v[i]);
	x->v->passenv.given = pass != NULL; /* empty: pass nothing */
}

/* A size in bytes, K or M, as MiB rounded up: 0 for UNLIMITED, -1 bad. */
static int
mebibytes(const char *s, long *out)
{
	char *end;
	long n = strtol(s, &end, 10);
	long scale = *end == 'K' || *end == 'k'	  ? 1024
		     : *end == 'M' || *end == 'm' ? 1048576
						  : 1;

	if (strcmp(s, "UNLIMITED") == 0)
		return 0;
	if (s[0] < '0' || s[0] > '9' || (*end != '\0' && end[1] != '\0') ||
	    (*end != '\0' && scale == 1))
		return -1;
	*out = (n * scale + 1048575) / 1048576;
	return 0;
}

static void
x_rlimits(struct xsvc *x)
{
	const char *as = x_take1(x, "rlimit_as");
	const char *cpu = x_take1(x, "rlimit_cpu");
	const char *files = x_take1(x, "rlimit_files");

	if (as != NULL && mebibytes(as, &x->v->rlimits[IMP_RL_AS]) < 0)
		x_lost(x, "rlimit_as", as, "not a size");
	if (cpu != NULL && strcmp(cpu, "UNLIMITED") != 0 &&
	    (x->v->rlimits[IMP_RL_CPU] = x_number(cpu)) < 0)
		x_lost(x, "rlimit_cpu", cpu, "not a number of seconds");
	if (files != NULL && strcmp(files, "UNLIMITED") != 0 &&
	    (x->v->rlimits[IMP_RL_NOFILE] = x_number(files)) < 0)
		x_lost(x, "rlimit_files", files, "not a count");
}

/* nice, umask, groups: how the program runs. */
static void
x_process(struct xsvc *x)
{
	const char *nice = x_take1(x, "nice"), *umask = x_take1(x, "umask");
	const char *groups = x_take1(x, "groups");
	char *end;

	if (nice != NULL) {
		x->v->nice = strtol(nice, &end, 10);
		if (*nice == '\0' || *end != '\0' || x->v->nice < -20 ||
		    x->v->nice > 19) {
			x->v->nice = IMP_UNSET;
			x_lost(x, "nice", nice, "not -20 to 19");
		}
	}
	if (umask != NULL && umask[0] != '\0' &&
	    strspn(umask, "01234567") == strlen(umask) &&
	    strtol(umask, NULL, 8) <= 0777) /* superd writes it in three */
		x->v->umask = imp_printf("%03lo", strtol(umask, NULL, 8));
	else if (umask != NULL)
		x_lost(x, "umask", umask, "not an octal mask");
	if (groups != NULL && strcmp(groups, "no") == 0 && x->v->user)
		x_lost(x, "groups", groups,
		    "superd runs a program with its user's groups");
}

/*
 * A script runs inside superd: what shapes a program's process is not
 * its to have.  The defaults' say nothing; the service's own are noted.
 */
static void
x_not_for_scripts(struct xsvc *x)
{
	static const char *const names[] = {"env", "passenv", "rlimit_as",
	    "rlimit_cpu", "rlimit_files", "nice", "umask", "groups", NULL};
	const char *const *n;
	struct xval *xv;

	for (n = names; *n; n++) {
		if ((xv = x_find(x, *n)) == NULL)
			continue;
		xv->used = 1;
		if (!xv->inherited)
			x_lost(x, *n, NULL,
			    "superd applies it to programs, not scripts");
	}
}

void
x_settings(struct xsvc *x)
{
	x_access(x);
	x_limits(x);
	if (x->v->script != NULL) {
		x_not_for_scripts(x);
		return;
	}
	x_environ(x);
	x_rlimits(x);
	x_process(x);
}

static const char *
why_not(const char *name)
{
	const struct why *w;

	for (w = whys; w->name; w++)
		if (strcmp(w->name, name) == 0)
			break;
	return w->why;
}

/* What the service said that nothing took. */
void
x_leftovers(struct xsvc *x)
{
	int i;

	for (i = 0; i < x->n; i++)
		if (!x->vals[i].used && !x->vals[i].inherited)
			x_lost(
			    x, x->vals[i].name, NULL, why_not(x->vals[i].name));
}

static int
per_service_default(const char *name)
{
	const char *const *p;

	for (p = per_service; *p; p++)
		if (strcmp(*p, name) == 0)
			return 1;
	return 0;
}

/* The defaults every service takes are in each; the others, once, here. */
void
xinetd_defaults(struct imp *m, const struct xblock *d)
{
	char *note;
	int i;

	for (i = 0; i < d->n; i++) {
		if (d->a[i].name[0] == '\0') {
			note = imp_printf("xinetd defaults: not imported, "
					  "cannot parse: %s",
			    d->a[i].vals.v[0]);
		} else if (!per_service_default(d->a[i].name))
			note = imp_printf("xinetd defaults \"%s\" not carried "
					  "over: %s",
			    d->a[i].name, why_not(d->a[i].name));
		else
			continue;
		if (!imp_list_has(&m->notes, note))
			imp_list_add(&m->notes, note);
		free(note);
	}
}
