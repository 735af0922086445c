/*
 * reconf.c - SIGHUP: merge a new configuration into the running one, as
 * inetd's config() does: services matched by name keep their Lua state
 * and their listening sockets; new ones start; removed ones stop
 * listening and go once their last connection has.  Everything that can
 * fail is done before anything running is touched.
 */
#include <stdio.h>
#include <stdlib.h>

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
	if (listeners_prepare(v, &p->listeners, msg, sizeof(msg)) < 0) {
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

/* A line for a service the reload adds, or whose settings v changes. */
static void
log_change(const struct plan *p, const struct svc_conf *v)
{
	char what[CONF_ERRLEN];

	if (p->fresh)
		log_msg(LOG_NOTICE, "SIGHUP: added service \"%s\"", v->name);
	else if (conf_changes(p->s->conf, v, what, sizeof(what)) > 0)
		log_msg(LOG_NOTICE, "SIGHUP: changed service \"%s\": %s",
		    v->name, what);
}

/*
 * A running service the plan does not hold is removed; one that an earlier
 * reload retired, still draining, is not removed again.
 */
static void
commit(struct conf *c, struct plan *p, int reload)
{
	struct service *s;
	int i;

	LIST_FOREACH(s, &services, link)
	{
		if (reload && !s->retired && !planned(p, c->nsvcs, s))
			log_msg(LOG_NOTICE,
			    "SIGHUP: removed service \"%s\", %ld "
			    "connections finish first",
			    s->name, s->admit.open);
		service_unlisten(s);
		s->retired = 1;
	}
	for (i = 0; i < c->nsvcs; i++) {
		s = p[i].s;
		if (reload)
			log_change(&p[i], &c->svcs[i]);
		s->retired = 0;
		if (s->owner != c) {
			conf_release(s->owner);
			s->owner = c;
			c->refs++;
		}
		service_set_conf(s, &c->svcs[i]);
		tlsctx_release(s->tls);
		s->tls = p[i].tls;
		service_attach(s, p[i].listeners,
		    s->conf->wait ? &serve_wait_ops : &serve_ops);
		if (!p[i].fresh) {
			vm_set_options(s);
			vm_reload(s);
		}
	}
}

/* Start-up too: a reload onto nothing, that logs no changes. */
int
reconf_apply(struct conf *c, int reload, char *err, size_t len)
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
	commit(c, p, reload);
	free(p);
	return 0;
}
