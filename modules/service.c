/*
 * service.c - the registry of services, each wiring its configuration, Lua
 * state, admission and listeners together; and where an accepted client
 * goes: admitted, then to its exec program or its script.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"
#include "exec.h"
#include "service.h"
#include "task.h"
#include "udp.h"

struct service_list services = LIST_HEAD_INITIALIZER(services);
long service_reloads;
int service_stopping;
double service_started;
int service_worker = 1;

/* Limits and access lists first: a refused peer never runs anything. */
static void
service_accept(void *owner, int fd, const union net_addr *peer)
{
	struct service *s = owner;
	const char *why;

	if (s->conf->proxy_protocol)
		why = admit_check_proxy(&s->admit, peer);
	else
		why = admit_check(&s->admit, peer);
	if (why != NULL) {
		close(fd);
		admit_refuse(&s->admit, "tcp", peer, why);
	} else if (s->L == NULL) {
		exec_start(s, fd, peer);
	} else {
		conn_accept(s, fd, peer, s->conf->proxy_protocol);
	}
}

static const struct listener_ops service_ops = {
    service_accept, udp_io, udp_closing};

struct service *
service_new(struct svc_conf *v, const struct conf *c, char *err, size_t len)
{
	struct service *s = calloc(1, sizeof(*s));

	if (s == NULL || (s->name = strdup(v->name)) == NULL) {
		snprintf(err, len, "%s:%d: service \"%s\": out of memory",
		    c->path, v->line, v->name);
		free(s);
		return NULL;
	}
	s->stats = stats_slot_for(v->name, service_worker);
	if (s->stats == NULL)
		s->stats = &s->own_stats;
	admit_init(&s->admit, s->name, v, s->stats);
	service_set_conf(s, v);
	if (v->script != NULL && vm_open(s, c, err, len) < 0) {
		free(s->name);
		free(s);
		return NULL;
	}
	LIST_INSERT_HEAD(&services, s, link);
	return s;
}

/* At start and on SIGHUP: what new connections of s obey from now on. */
void
service_set_conf(struct service *s, struct svc_conf *v)
{
	s->conf = v;
	s->admit.conf = v;
	s->mem_limit = v->memory_limit;
}

void
service_free(struct service *s)
{
	service_unlisten(s);
	LIST_REMOVE(s, link);
	vm_close(s);
	admit_free(&s->admit);
	free(s->threads);
	if (s->owner)
		conf_release(s->owner);
	free(s->name);
	free(s);
}

/* Swaps in prepared listeners; old ones nobody claimed are closed. */
void
service_attach(struct service *s, struct listener *list)
{
	service_unlisten(s);
	s->listeners = list;
	listeners_attach(list, s, s->name, &service_ops);
}

void
service_unlisten(struct service *s)
{
	listeners_close(&s->listeners);
}

struct service *
service_find(const char *name)
{
	struct service *s;

	LIST_FOREACH(s, &services, link)
	if (!s->retired && strcmp(s->name, name) == 0)
		return s;
	return NULL;
}

/* The counts only this process knows, into its (maybe shared) row. */
void
service_sync_stats(struct service *s)
{
	s->stats->active = s->admit.open;
	s->stats->memory = s->mem;
}

/*
 * A service gone from the configuration is freed from the loop, once its
 * last connection has closed and no coroutine is queued to run.
 */
void
service_reap(void)
{
	struct service *s, *next;

	if (task_pending())
		return;
	for (s = LIST_FIRST(&services); s != NULL; s = next) {
		next = LIST_NEXT(s, link);
		if (!s->retired || s->admit.open > s->admit.outbound)
			continue;
		/* its coroutines end, and with them its outbound sockets */
		task_kill_service(s);
		if (s->admit.open == 0)
			service_free(s);
	}
}
