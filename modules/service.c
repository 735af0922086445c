/*
 * service.c - the registry of services, each holding its configuration,
 * Lua state, admission and listeners; and a protected call on its state.
 * It calls nothing that knows what a service serves.
 */
#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "service.h"
#include "tlsctx.h"

struct service_list services = LIST_HEAD_INITIALIZER(services);
long service_reloads;
int service_stopping;
double service_started;
int service_worker = 1;

/* Not listed yet: service_add, once whoever builds it has. */
struct service *
service_new(struct svc_conf *v, char *err, size_t len)
{
	struct service *s = calloc(1, sizeof(*s));

	if (s == NULL || (s->name = strdup(v->name)) == NULL) {
		snprintf(err, len, "%s:%d: service \"%s\": out of memory",
		    v->file, v->line, v->name);
		free(s);
		return NULL;
	}
	s->stats = stats_slot_for(v->name, service_worker);
	if (s->stats == NULL)
		s->stats = &s->own_stats;
	admit_init(&s->admit, s->name, v, s->stats);
	service_set_conf(s, v);
	return s;
}

void
service_add(struct service *s)
{
	LIST_INSERT_HEAD(&services, s, link);
}

/* At start and on SIGHUP: what new connections of s obey from now on. */
void
service_set_conf(struct service *s, struct svc_conf *v)
{
	s->conf = v;
	s->admit.conf = v;
	s->mem_limit = v->memory_limit;
}

/* Off the list and deaf; its Lua state, if any, is its builder's. */
void
service_remove(struct service *s)
{
	service_unlisten(s);
	LIST_REMOVE(s, link);
}

void
service_free(struct service *s)
{
	/* its shared counters' slot, unless a service of its name goes on */
	if (s->stats != &s->own_stats && service_find(s->name) == NULL)
		stats_slot_release(s->stats, service_worker);
	admit_free(&s->admit);
	tlsctx_release(s->tls);
	free(s->threads);
	if (s->owner)
		conf_release(s->owner);
	free(s->name);
	free(s);
}

/* Swaps in prepared listeners; old ones nobody claimed are closed. */
void
service_attach(
    struct service *s, struct listener *list, const struct listener_ops *ops)
{
	service_unlisten(s);
	s->listeners = list;
	listeners_attach(list, s, s->name, ops);
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
 * The error object on top of s's state as text.  Not lua_tostring: it
 * turns a number into a string in place, an allocation outside any
 * protected call.
 */
const char *
service_error(struct service *s, char *buf, size_t len)
{
	lua_State *L = s->L;

	if (lua_type(L, -1) == LUA_TSTRING)
		return lua_tostring(L, -1);
	if (lua_type(L, -1) == LUA_TNUMBER)
		snprintf(buf, len, "%.14g", lua_tonumber(L, -1));
	else
		snprintf(buf, len, "(error object is a %s value)",
		    luaL_typename(L, -1));
	return buf;
}

/* Runs fn(ud) on the service's main state; errors are logged, not raised. */
int
service_pcall(struct service *s, lua_CFunction fn, void *ud)
{
	char buf[64];
	int status;

	lua_pushcfunction(s->L, fn);
	lua_pushlightuserdata(s->L, ud);
	status = lua_pcall(s->L, 1, 0, 0);
	if (status != LUA_OK) {
		log_msg(LOG_ERR, "%s: %s", s->name,
		    service_error(s, buf, sizeof(buf)));
		lua_pop(s->L, 1);
	}
	return status;
}
