/*
 * ctlcmd.c - what superctl's requests do: status, connections, kick,
 * disable, enable, reload, reload-scripts and upgrade, each reply built
 * here (an upgrade's when it has ended), as
 * text or, for the two listings, JSON.  Run between two epoll rounds
 * (control.c), where closing a listener or ending a connection is safe.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "conn.h"
#include "ctlcmd.h"
#include "json.h"
#include "listener.h"
#include "log.h"
#include "loop.h"
#include "relay.h"
#include "serve.h"
#include "service.h"

#define MAX_WORDS 3 /* a command and two arguments, the most any takes */

struct req {
	int json;
	int argc;
	char *argv[MAX_WORDS]; /* the command, then its arguments */
};

static const struct ctlcmd_reloads *reloads;

void
ctlcmd_init(const struct ctlcmd_reloads *r)
{
	reloads = r;
}

/* A running service by name, or the error said. */
static struct service *
named(const char *name, struct buf *out)
{
	struct service *s = service_find(name);

	if (s == NULL)
		buf_printf(out, "no service \"%.64s\"\n", name);
	return s;
}

static const char *
state_of(const struct service *s)
{
	const struct listener *l;

	if (s->disabled)
		return "disabled";
	if (service_stopping)
		return "stopping";
	/* a wait service that started its program too often */
	for (l = s->listeners; l != NULL; l = l->next)
		if (loop_timer_armed(&l->release))
			return "paused";
	return "serving";
}

static int
by_name(const void *a, const void *b)
{
	const struct service *const *x = a, *const *y = b;

	return strcmp((*x)->name, (*y)->name);
}

/* The running services (not those a reload removed), by name: n, or -1. */
static int
running(struct service ***out)
{
	struct service *s, **v;
	int n = 0;

	LIST_FOREACH(s, &services, link)
	n += !s->retired;
	if ((v = calloc(n + 1, sizeof(*v))) == NULL)
		return -1;
	n = 0;
	LIST_FOREACH(s, &services, link)
	if (!s->retired)
		v[n++] = s;
	qsort(v, n, sizeof(*v), by_name);
	*out = v;
	return n;
}

static void
status_text(struct buf *out, const struct service *s)
{
	const struct service_stats *st = s->stats;

	buf_printf(out,
	    "%s %s active=%ld accepted=%llu refused=%llu bytes_in=%llu "
	    "bytes_out=%llu memory=%zu\n",
	    s->name, state_of(s), s->admit.open,
	    (unsigned long long)st->accepted, (unsigned long long)st->refused,
	    (unsigned long long)st->bytes_in, (unsigned long long)st->bytes_out,
	    s->mem);
}

static void
status_json(struct buf *out, const struct service *s, int last)
{
	const struct service_stats *st = s->stats;

	buf_printf(out, "{\"name\":");
	json_str(out, s->name);
	buf_printf(out,
	    ",\"state\":\"%s\",\"active\":%ld,\"accepted\":%llu,"
	    "\"refused\":%llu,\"bytes_in\":%llu,\"bytes_out\":%llu,"
	    "\"memory\":%zu}%s\n",
	    state_of(s), s->admit.open, (unsigned long long)st->accepted,
	    (unsigned long long)st->refused, (unsigned long long)st->bytes_in,
	    (unsigned long long)st->bytes_out, s->mem, last ? "" : ",");
}

static int
cmd_status(struct req *r, struct buf *out)
{
	struct service **v;
	int i, n;

	if ((n = running(&v)) < 0) {
		buf_printf(out, "out of memory\n");
		return -1;
	}
	if (r->json)
		buf_printf(out, "[\n");
	for (i = 0; i < n; i++)
		if (r->json)
			status_json(out, v[i], i == n - 1);
		else
			status_text(out, v[i]);
	if (r->json)
		buf_printf(out, "]\n");
	free(v);
	return 0;
}

/* connections: what conn_foreach hands each connection to. */
struct listing {
	struct buf *out;
	const struct service *only; /* or NULL: all */
	int json;
	int n; /* listed so far */
};

/* One client connection, a script's or an exec service's TLS relay. */
static void
entry(uint32_t id, const struct service *s, const union net_addr *addr,
    double started, const struct stream *st, void *ud)
{
	struct listing *l = ud;
	char peer[NET_PEERSTRLEN];
	double age = loop_now() - started;

	if (l->only != NULL && s != l->only)
		return;
	net_peer(addr, "tcp", peer);
	if (!l->json) {
		buf_printf(l->out,
		    "%u %s %s age=%.3f bytes_in=%llu bytes_out=%llu "
		    "tls=%s\n",
		    id, s->name, peer, age, (unsigned long long)st->bytes_in,
		    (unsigned long long)st->bytes_out,
		    st->ssl ? "true" : "false");
		return;
	}
	buf_printf(l->out, "%s{\"id\":%u,\"service\":", l->n ? ",\n" : "", id);
	json_str(l->out, s->name);
	buf_printf(l->out, ",\"peer\":");
	json_str(l->out, peer);
	buf_printf(l->out,
	    ",\"age\":%.3f,\"bytes_in\":%llu,\"bytes_out\":%llu,"
	    "\"tls\":%s}",
	    age, (unsigned long long)st->bytes_in,
	    (unsigned long long)st->bytes_out, st->ssl ? "true" : "false");
	l->n++;
}

static void
conn_entry(struct conn *c, void *ud)
{
	/* superd.connect's sockets are a script's, not clients */
	if (!c->outbound)
		entry(c->id, c->svc, &c->peer, c->started, &c->st, ud);
}

static int
cmd_connections(struct req *r, struct buf *out)
{
	struct listing l = {out, NULL, r->json, 0};

	if (r->argc > 1 && (l.only = named(r->argv[1], out)) == NULL)
		return -1;
	if (r->json)
		buf_printf(out, "[\n");
	loop_update_time();
	conn_foreach(conn_entry, &l);
	relay_foreach(entry, &l);
	if (r->json)
		buf_printf(out, "%s]\n", l.n ? "\n" : "");
	return 0;
}

/* Its fini runs (a relay's program sees the end), its log line says "kicked".
 */
static int
cmd_kick(struct req *r, struct buf *out)
{
	char *end, peer[NET_PEERSTRLEN];
	unsigned long id = strtoul(r->argv[1], &end, 10);
	int valid = r->argv[1][0] >= '0' && r->argv[1][0] <= '9' &&
		    *end == '\0' && id <= UINT32_MAX;
	struct conn *c = valid ? conn_find((uint32_t)id) : NULL;
	const struct service *s;
	union net_addr addr;

	if (c != NULL && !c->outbound) {
		buf_printf(out, "kicked %u: %s %s\n", c->id, c->svc->name,
		    net_peer(&c->peer, "tcp", peer));
		conn_end(c, WHY_KICKED);
		return 0;
	}
	if (valid && c == NULL && relay_kick((uint32_t)id, &s, &addr)) {
		buf_printf(out, "kicked %lu: %s %s\n", id, s->name,
		    net_peer(&addr, "tcp", peer));
		return 0;
	}
	buf_printf(out, "no connection %.64s\n", r->argv[1]);
	return -1;
}

/* Its listeners close; its connections carry on; SIGHUP keeps it so. */
static int
cmd_disable(struct req *r, struct buf *out)
{
	struct service *s = named(r->argv[1], out);

	if (s == NULL)
		return -1;
	if (!s->disabled) {
		s->disabled = 1;
		service_unlisten(s);
		log_msg(LOG_NOTICE,
		    "control: disabled service \"%s\", %ld connections "
		    "carry on",
		    s->name, s->admit.open);
	}
	buf_printf(
	    out, "%s disabled, %ld connections open\n", s->name, s->admit.open);
	return 0;
}

/* Bound again as SIGHUP binds a new service: as the user superd runs as. */
static int
cmd_enable(struct req *r, struct buf *out)
{
	struct service *s = named(r->argv[1], out);
	struct listener *list;
	char msg[CONF_ERRLEN];

	if (s == NULL)
		return -1;
	if (service_stopping) {
		buf_printf(out, "superd is shutting down\n");
		return -1;
	}
	if (s->disabled) {
		if (listeners_prepare(s->conf, &list, msg, sizeof(msg)) < 0) {
			listeners_abort(list);
			buf_printf(
			    out, "%s: %s; it stays disabled\n", s->name, msg);
			return -1;
		}
		service_attach(s, list, serve_ops_for(s));
		s->disabled = 0;
		log_msg(LOG_NOTICE, "control: enabled service \"%s\"", s->name);
	}
	buf_printf(out, "%s serving\n", s->name);
	return 0;
}

static int
cmd_reload(struct req *r, struct buf *out)
{
	(void)r;
	return reloads->config(out);
}

static int
cmd_reload_scripts(struct req *r, struct buf *out)
{
	size_t before = buf_used(out);
	int rc;

	(void)r;
	rc = reloads->scripts(out);
	if (buf_used(out) == before)
		buf_printf(out, "no script to reload\n");
	return rc;
}

static int
cmd_upgrade(struct req *r, struct buf *out)
{
	(void)r;
	return reloads->upgrade(out);
}

static const struct cmd {
	const char *name;
	const char *usage;
	int min, max; /* arguments */
	int (*run)(struct req *r, struct buf *out);
} cmds[] = {
    {"status", "status", 0, 0, cmd_status},
    {"connections", "connections [SERVICE]", 0, 1, cmd_connections},
    {"kick", "kick ID", 1, 1, cmd_kick},
    {"disable", "disable SERVICE", 1, 1, cmd_disable},
    {"enable", "enable SERVICE", 1, 1, cmd_enable},
    {"reload", "reload", 0, 0, cmd_reload},
    {"reload-scripts", "reload-scripts", 0, 0, cmd_reload_scripts},
    {"upgrade", "upgrade", 0, 0, cmd_upgrade},
    {NULL, NULL, 0, 0, NULL},
};

/* Words split at spaces, "--json" first if at all; 0, or -1 said in out. */
static int
parse(char *line, struct req *r, struct buf *out)
{
	char *w, *save;

	memset(r, 0, sizeof(*r));
	for (w = strtok_r(line, " ", &save); w != NULL;
	     w = strtok_r(NULL, " ", &save)) {
		if (r->argc == 0 && !r->json && strcmp(w, "--json") == 0) {
			r->json = 1;
		} else if (r->argc == MAX_WORDS) {
			buf_printf(out, "too many arguments\n");
			return -1;
		} else {
			r->argv[r->argc++] = w;
		}
	}
	if (r->argc == 0) {
		buf_printf(out, "no command\n");
		return -1;
	}
	return 0;
}

static int
dispatch(struct req *r, struct buf *out)
{
	const struct cmd *c;

	for (c = cmds; c->name != NULL; c++)
		if (strcmp(c->name, r->argv[0]) == 0)
			break;
	if (c->name == NULL) {
		buf_printf(out, "unknown command \"%.64s\"\n", r->argv[0]);
		return -1;
	}
	if (r->argc - 1 < c->min || r->argc - 1 > c->max) {
		buf_printf(out, "usage: %s\n", c->usage);
		return -1;
	}
	return c->run(r, out);
}

/* One request line, as control.c hands it over: 0, or -1 ("error"). */
int
ctlcmd_run(const char *request, struct buf *out)
{
	char *line = strdup(request);
	struct req r;
	int rc;

	if (line == NULL) {
		buf_printf(out, "out of memory\n");
		return -1;
	}
	rc = parse(line, &r, out) < 0 ? -1 : dispatch(&r, out);
	free(line);
	return rc;
}
