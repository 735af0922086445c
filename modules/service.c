/* service.c - a service: its Lua state, script, admission and registry. */
#include <errno.h>
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acl.h"
#include "conn.h"
#include "exec.h"
#include "log.h"
#include "lsocket.h"
#include "lsuperd.h"
#include "net.h"
#include "sandbox.h"
#include "service.h"
#include "task.h"
#include "udp.h"

struct service_list services = LIST_HEAD_INITIALIZER(services);
long service_total, service_max_total = 10000, service_reloads;
double service_started;
int service_worker = 1;

/* Each state counts its bytes; past memory_limit Lua gets a memory error. */
static void *
service_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	struct service *s = ud;
	size_t old = ptr ? osize : 0;
	void *p;

	if (nsize == 0) {
		free(ptr);
		s->mem -= old;
		return NULL;
	}
	if (nsize > old && s->mem + (nsize - old) > s->mem_limit)
		return NULL;
	/* Lua takes a shrink for granted: a failed one keeps the block */
	if ((p = realloc(ptr, nsize)) == NULL && nsize > old)
		return NULL;
	if (p == NULL)
		p = ptr;
	s->mem = s->mem - old + nsize;
	return p;
}

static int
service_panic(lua_State *L)
{
	log_msg(LOG_CRIT, "unprotected Lua error: %s", lua_tostring(L, -1));
	abort();
}

/*
 * The error object on top as text.  Not lua_tostring: it turns a number
 * into a string in place, an allocation outside any protected call.
 */
static const char *
error_text(lua_State *L, char *buf, size_t len)
{
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
		    error_text(s->L, buf, sizeof(buf)));
		lua_pop(s->L, 1);
	}
	return status;
}

static void
push_setting(lua_State *L, const config_setting_t *v)
{
	const config_setting_t *e;
	int i;

	luaL_checkstack(L, 4, "options nested too deep");
	switch (config_setting_type(v)) {
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		lua_pushinteger(L, config_setting_get_int64(v));
		break;
	case CONFIG_TYPE_FLOAT:
		lua_pushnumber(L, config_setting_get_float(v));
		break;
	case CONFIG_TYPE_STRING:
		lua_pushstring(L, config_setting_get_string(v));
		break;
	case CONFIG_TYPE_BOOL:
		lua_pushboolean(L, config_setting_get_bool(v));
		break;
	default:
		lua_newtable(L);
		for (i = 0; (e = config_setting_get_elem(v, i)) != NULL; i++) {
			push_setting(L, e);
			if (config_setting_is_group(v))
				lua_setfield(L, -2, config_setting_name(e));
			else
				lua_rawseti(L, -2, i + 1);
		}
	}
}

static int
options_p(lua_State *L)
{
	struct service *s = lua_touserdata(L, 1);

	if (s->conf->options)
		push_setting(L, s->conf->options);
	else
		lua_newtable(L);
	lua_setglobal(L, "options");
	return 0;
}

int
service_set_options(struct service *s)
{
	return s->L ? service_pcall(s, options_p, s) : 0;
}

struct setup_args {
	struct service *s;
	const struct conf *c;
};

static int
setup_p(lua_State *L)
{
	struct setup_args *a = lua_touserdata(L, 1);

	/*
	 * luaL_unref runs unprotected (closing a connection, ending a task):
	 * the registry's free-list key must exist before, or its insertion
	 * could fail to allocate and reach the panic handler.  And it must
	 * never hold nil, or a rehash would drop it again: 0 ends the free
	 * list for luaL_ref as nil does, and luaL_ref copies it on.
	 */
	lua_pushinteger(L, 0);
	lua_rawseti(L, LUA_REGISTRYINDEX, 0);
	sandbox_open(L, a->c->lua_path);
	task_open_coroutine(L);
	lsocket_open(L);
	lsuperd_open(L, a->s, a->c->dir);
	lua_pushcfunction(L, options_p);
	lua_pushlightuserdata(L, a->s);
	lua_call(L, 1, 0);
	return 0;
}

/*
 * Runs the script in the service's globals under the CPU limit.  When it
 * fails to compile or to run, main and fini are put back as they were.
 */
static int
run_script_p(lua_State *L)
{
	struct service *s = lua_touserdata(L, 1);
	int status;

	lua_getglobal(L, "main");
	lua_getglobal(L, "fini");
	status = luaL_loadfilex(L, s->conf->script, "t");
	task_load_killed = 0;
	if (status == LUA_OK) {

		lua_sethook(
		    L, task_cpu_hook, LUA_MASKCOUNT, (int)s->conf->cpu_limit);
		status = lua_pcall(L, 0, 0, 0);
		lua_sethook(L, NULL, 0, 0);
	}
	if (status == LUA_OK && lua_getglobal(L, "main") != LUA_TFUNCTION) {
		status = LUA_ERRRUN;
		lua_pushfstring(
		    L, "%s: the script defines no main()", s->conf->script);
	}
	if (status == LUA_OK)
		return 0;
	lua_pushvalue(L, 2);
	lua_setglobal(L, "main");
	lua_pushvalue(L, 3);
	lua_setglobal(L, "fini");
	return lua_error(L);
}

static int
service_call(
    struct service *s, lua_CFunction fn, void *ud, char *err, size_t len)
{
	const char *e;

	lua_pushcfunction(s->L, fn);
	lua_pushlightuserdata(s->L, ud);
	if (lua_pcall(s->L, 1, 0, 0) == LUA_OK)
		return 0;
	if ((e = error_text(s->L, err, len)) != err)
		snprintf(err, len, "%s", e);
	lua_pop(s->L, 1);
	return -1;
}

struct service *
service_new(struct svc_conf *v, const struct conf *c, char *err, size_t len)
{
	struct service *s = calloc(1, sizeof(*s));
	struct setup_args a = {s, c};

	if (s == NULL || (s->name = strdup(v->name)) == NULL) {
		snprintf(err, len, "%s:%d: service \"%s\": out of memory",
		    c->path, v->line, v->name);
		free(s);
		return NULL;
	}
	s->conf = v;
	s->stats = stats_slot_for(v->name, service_worker);
	if (s->stats == NULL)
		s->stats = &s->own_stats;
	s->mem_limit = v->memory_limit;
	if (v->script == NULL)
		goto done;
	if ((s->L = lua_newstate(service_alloc, s)) == NULL) {
		snprintf(err, len,
		    "%s:%d: service \"%s\": cannot create a "
		    "Lua state",
		    c->path, v->line, v->name);
		goto fail;
	}
	lua_atpanic(s->L, service_panic);
	/* Threads copy it: the main state's task is none. */
	*(void **)lua_getextraspace(s->L) = NULL;

	if (service_call(s, setup_p, &a, err, len) < 0 ||
	    service_call(s, run_script_p, s, err, len) < 0) {
		snprintf(err + strlen(err), len - strlen(err),
		    " (service \"%s\" at %s:%d)", v->name, c->path, v->line);
		goto fail;
	}
done:
	LIST_INSERT_HEAD(&services, s, link);
	return s;
fail:
	if (s->L) {
		task_kill_service(s); /* what the script spawned */
		lua_close(s->L);
	}
	free(s->name);
	free(s);
	return NULL;
}

int
service_reload(struct service *s)
{
	char err[1024];

	if (s->L == NULL)
		return 0;
	if (service_call(s, run_script_p, s, err, sizeof(err)) < 0) {
		log_msg(LOG_ERR,
		    "%s: reload failed, the previous version "
		    "stays: %s",
		    s->name, err);
		return -1;
	}
	log_msg(LOG_INFO, "%s: reloaded %s", s->name, s->conf->script);
	return 0;
}

const char *
service_admit(struct service *s, const union net_addr *peer)
{
	const struct svc_conf *v = s->conf;
	uint8_t key[16];

	if (v->deny.n && acl_match(&v->deny, peer))
		return "no_access";
	if (v->only_from && !acl_match(&v->allow, peer))
		return "only_from";
	if (service_total >= service_max_total)
		return "global max_connections";
	if (s->nconns >= v->max_connections)
		return "max_connections";
	acl_key(peer, key);
	if (v->per_source && sources_get(&s->sources, key) >= v->per_source)
		return "per_source";
	/* so that service_hold, which cannot fail, has room to count it */
	if (sources_reserve(&s->sources) < 0)
		return "out of memory";
	if (!bucket_take(&s->bucket, (double)v->rate, loop_now()))
		return "rate";
	return NULL;
}

/*
 * Behind a proxy the peer is the proxy: only proxy_from and the counts
 * apply now; the access lists and per-source limits wait for the header.
 */
static const char *
service_admit_proxy(struct service *s, const union net_addr *peer)
{
	if (!acl_match(&s->conf->proxy_from, peer))
		return "proxy_from";
	if (service_total >= service_max_total)
		return "global max_connections";
	if (s->nconns >= s->conf->max_connections)
		return "max_connections";
	if (sources_reserve(&s->sources) < 0)
		return "out of memory";
	return NULL;
}

/*
 * What a connection holds while it is open.  HOLD_CLIENT counts against
 * its address's per_source too; a datagram's coroutine (HOLD_DATAGRAM)
 * and a superd.connect socket (HOLD_OUTBOUND) do not.
 */
static void
service_count(
    struct service *s, const union net_addr *peer, int kind, int delta)
{
	uint8_t key[16];

	s->nconns += delta;
	service_total += delta;
	if (kind == HOLD_CLIENT) {
		acl_key(peer, key);
		sources_add(&s->sources, key, delta);
	} else if (kind == HOLD_OUTBOUND) {
		s->noutbound += delta;
	}
	s->stats->active = s->nconns;
}

void
service_hold(struct service *s, const union net_addr *peer, int kind)
{
	service_count(s, peer, kind, 1);
}

void
service_release(struct service *s, const union net_addr *peer, int kind)
{
	service_count(s, peer, kind, -1);
}

/* The counts only this process knows, into its (maybe shared) row. */
void
service_sync_stats(struct service *s)
{
	s->stats->active = s->nconns;
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
		if (!s->retired || s->nconns > s->noutbound)
			continue;
		/* its coroutines end, and with them its outbound sockets */
		task_kill_service(s);
		if (s->nconns == 0)
			service_free(s);
	}
}

/* Counted by reason, for superd.stats() and /metrics. */
void
service_count_refusal(struct service *s, const char *why)
{
	int i;

	s->stats->refused++;
	for (i = 0; i < STATS_REASONS; i++) {
		if (s->stats->refused_by[i].why == NULL)
			s->stats->refused_by[i].why = why;
		if (strcmp(s->stats->refused_by[i].why, why) == 0) {
			s->stats->refused_by[i].n++;
			return;
		}
	}
}

void
service_refuse(struct service *s, const char *proto, const union net_addr *peer,
    const char *why)
{
	char addr[NET_ADDRSTRLEN];
	int port;

	service_count_refusal(s, why);
	net_ntop(peer, addr, &port);
	log_msg(LOG_NOTICE, "%s: %s %s:%d: refused: %s", s->name, proto, addr,
	    port, why);
}

/* Limits and access lists first: a refused peer never runs anything. */
void
service_accept(struct service *s, int fd, const union net_addr *peer)
{
	const char *why;

	if (s->conf->proxy_protocol)
		why = service_admit_proxy(s, peer);
	else
		why = service_admit(s, peer);
	if (why != NULL) {
		close(fd);
		service_refuse(s, "tcp", peer, why);
	} else if (s->L == NULL) {
		exec_start(s, fd, peer);
	} else {
		conn_accept(s, fd, peer, s->conf->proxy_protocol);
	}
}

void
service_free(struct service *s)
{
	service_unlisten(s);
	LIST_REMOVE(s, link);
	if (s->L) {
		task_kill_service(s);
		lua_close(s->L);
	}
	sources_free(&s->sources);
	free(s->threads);
	if (s->owner)
		conf_release(s->owner);
	free(s->name);
	free(s);
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

/* A source that is one of our own UDP ports would loop a reply back. */
int
service_is_own_udp(const union net_addr *peer)
{
	struct listener *l;
	struct service *s;
	uint8_t a[16], b[16];

	acl_key(peer, a);
	LIST_FOREACH(s, &services, link)
	for (l = s->listeners; l; l = l->next) {
		if (l->proto != CONF_UDP ||
		    net_port(&l->local) != net_port(peer))
			continue;
		acl_key(&l->local, b);
		if (memcmp(a, b, 16) == 0 || net_is_any(&l->local))
			return 1;
	}
	return 0;
}
