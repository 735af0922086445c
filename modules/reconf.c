/*
 * reconf.c - SIGHUP: merge a new configuration into the running one, as
 * inetd's config() does: services matched by name keep their Lua state
 * and their listening sockets; new ones start; removed ones stop
 * listening and go once their last connection has.  Everything that can
 * fail is done before anything running is touched.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "buf.h"
#include "confcmp.h"
#include "log.h"
#include "reconf.h"
#include "serve.h"
#include "service.h"
#include "tlsctx.h"
#include "vm.h"

struct plan {
	struct service *s; /* running service it maps to, or the new one */
	int fresh;	   /* created by this reload */
	struct listener *listeners;
	struct tls_ctx *tls; /* its certificates, read anew */
};

static int
same_kind(const struct service *s, const struct svc_conf *v)
{
	return (s->L != NULL) == (v->script != NULL);
}

static void
plan_abort(struct plan *p, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		listeners_abort(p[i].listeners);
		tlsctx_release(p[i].tls);
		if (p[i].fresh)
			serve_free(p[i].s);
	}
	free(p);
}

static int
plan_one(struct conf *c, int i, struct plan *p, char *err, size_t len)
{
	struct svc_conf *v = &c->svcs[i];
	char msg[512];

	p->s = service_find(v->name);
	if (p->s && !same_kind(p->s, v)) {
		snprintf(err, len,
		    "%s:%d: service \"%s\": cannot change between"
		    " script and exec on reload",
		    v->file, v->line, v->name);
		return -1;
	}
	if (p->s == NULL) {
		if ((p->s = serve_new(v, c, err, len)) == NULL)
			return -1;
		p->fresh = 1;
		p->s->retired = 1; /* not serving until committed */
	}
	/* a reload reads the files again: a renewed certificate is taken */
	if (v->tls != NULL && (p->tls = tlsctx_new(v->tls, err, len)) == NULL)
		return -1;
	/* superctl disabled it: it stays deaf until enabled */
	if (!p->s->disabled &&
	    listeners_prepare(v, &p->listeners, msg, sizeof(msg)) < 0) {
		snprintf(err, len, "%s:%d: service \"%s\": %s", v->file,
		    v->line, v->name, msg);
		return -1;
	}
	return 0;
}

static int
planned(const struct plan *p, int n, const struct service *s)
{
	int i;

	for (i = 0; i < n; i++)
		if (p[i].s == s)
			return 1;
	return 0;
}

/* A line in the log, after who asked, and in the report for them. */
void
reconf_note(const struct reconf_why *why, const char *fmt, ...)
{
	char line[CONF_ERRLEN * 2];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_msg(LOG_NOTICE, "%s: %s", why->name, line);
	buf_printf(why->report, "%s\n", line);
}

/* A line for a service the reload adds, or whose settings v changes. */
static void
log_change(const struct reconf_why *why, const struct plan *p,
    const struct svc_conf *v)
{
	char what[CONF_ERRLEN];

	if (p->fresh)
		reconf_note(why, "added service \"%s\"", v->name);
	else if (conf_changes(p->s->conf, v, what, sizeof(what)) > 0)
		reconf_note(why, "changed service \"%s\": %s", v->name, what);
}

/*
 * A running service the plan does not hold is removed; one that an earlier
 * reload retired, still draining, is not removed again.
 */
static void
commit(struct conf *c, struct plan *p, const struct reconf_why *why)
{
	struct service *s;
	int i;

	LIST_FOREACH(s, &services, link)
	{
		if (why && !s->retired && !planned(p, c->nsvcs, s))
			reconf_note(why,
			    "removed service \"%s\", %ld "
			    "connections finish first",
			    s->name, s->admit.open);
		service_unlisten(s);
		s->retired = 1;
	}
	for (i = 0; i < c->nsvcs; i++) {
		s = p[i].s;
		if (why)
			log_change(why, &p[i], &c->svcs[i]);
		s->retired = 0;
		if (s->owner != c) {
			conf_release(s->owner);
			s->owner = c;
			c->refs++;
		}
		service_set_conf(s, &c->svcs[i]);
		tlsctx_release(s->tls);
		s->tls = p[i].tls;
		service_attach(s, p[i].listeners, serve_ops_for(s));
		if (!p[i].fresh) {
			vm_set_options(s);
			vm_reload(s, why ? why->report : NULL);
		}
	}
}

/* Start-up too (why NULL): a reload onto nothing, that logs no changes. */
int
reconf_apply(
    struct conf *c, const struct reconf_why *why, char *err, size_t len)
{
	struct plan *p = calloc(c->nsvcs + 1, sizeof(*p));
	int i;

	if (p == NULL) {
		snprintf(err, len, "%s:0: out of memory", c->path);
		return -1;
	}
	for (i = 0; i < c->nsvcs; i++)
		if (plan_one(c, i, &p[i], err, len) < 0) {
			plan_abort(p, i + 1);
			return -1;
		}
	commit(c, p, why);
	free(p);
	return 0;
}
