/* service.c - a service: its Lua state, script and listeners. */
#include <errno.h>
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"
#include "log.h"
#include "lsocket.h"
#include "lsuperd.h"
#include "net.h"
#include "sandbox.h"
#include "service.h"
#include "task.h"

struct service_list services = LIST_HEAD_INITIALIZER(services);

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
	if ((p = realloc(ptr, nsize)) == NULL)
		return NULL;
	s->mem = s->mem - old + nsize;
	return p;
}

static int
service_panic(lua_State *L)
{
	log_msg(LOG_CRIT, "unprotected Lua error: %s", lua_tostring(L, -1));
	abort();
}

/* Runs fn(ud) on the service's main state; errors are logged, not raised. */
int
service_pcall(struct service *s, lua_CFunction fn, void *ud)
{
	int status;

	lua_pushcfunction(s->L, fn);
	lua_pushlightuserdata(s->L, ud);
	status = lua_pcall(s->L, 1, 0, 0);
	if (status != LUA_OK) {
		log_msg(LOG_ERR, "%s: %s", s->name, lua_tostring(s->L, -1));
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

struct setup_args {
	struct service *s;
	const struct conf *c;
};

static int
setup_p(lua_State *L)
{
	struct setup_args *a = lua_touserdata(L, 1);

	sandbox_open(L, a->c->lua_path);
	task_open_coroutine(L);
	lsocket_open(L);
	lsuperd_open(L, a->s, a->c->dir);
	if (a->s->conf->options)
		push_setting(L, a->s->conf->options);
	else
		lua_newtable(L);
	lua_setglobal(L, "options");
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
	if (status == LUA_OK) {
		lua_sethook(L, task_cpu_hook, LUA_MASKCOUNT,
			    (int)s->conf->cpu_limit);
		status = lua_pcall(L, 0, 0, 0);
		lua_sethook(L, NULL, 0, 0);
	}
	if (status == LUA_OK && lua_getglobal(L, "main") != LUA_TFUNCTION) {
		status = LUA_ERRRUN;
		lua_pushfstring(L, "%s: the script defines no main()",
				s->conf->script);
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
compile_p(lua_State *L)
{
	struct service *s = lua_touserdata(L, 1);

	if (luaL_loadfilex(L, s->conf->script, "t") != LUA_OK)
		return lua_error(L);
	return 0;
}

static int
service_call(struct service *s, lua_CFunction fn, void *ud, char *err,
	     size_t len)
{
	lua_pushcfunction(s->L, fn);
	lua_pushlightuserdata(s->L, ud);
	if (lua_pcall(s->L, 1, 0, 0) == LUA_OK)
		return 0;
	snprintf(err, len, "%s", lua_tostring(s->L, -1));
	lua_pop(s->L, 1);
	return -1;
}

struct service *
service_new(struct svc_conf *v, const struct conf *c, int compile_only,
	    char *err, size_t len)
{
	struct service *s = calloc(1, sizeof(*s));
	struct setup_args a = {s, c};

	s->name = strdup(v->name);
	s->conf = v;
	s->mem_limit = v->memory_limit;
	if ((s->L = lua_newstate(service_alloc, s)) == NULL) {
		snprintf(err, len,
			 "%s:%d: service \"%s\": cannot create a "
			 "Lua state",
			 c->path, v->line, v->name);
		goto fail;
	}
	lua_atpanic(s->L, service_panic);
	if (service_call(s, setup_p, &a, err, len) < 0 ||
	    service_call(s, compile_only ? compile_p : run_script_p, s, err,
			 len) < 0)
		goto fail;
	LIST_INSERT_HEAD(&services, s, link);
	return s;
fail:
	if (s->L)
		lua_close(s->L);
	free(s->name);
	free(s);
	return NULL;
}

int
service_reload(struct service *s)
{
	char err[1024];

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

static void
listener_io(struct loop_io *io, int events)
{
	struct listener *l = (struct listener *)io;
	union net_addr peer;
	int i, fd;

	(void)events;
	/* Bounded, so one busy port cannot starve the others. */
	for (i = 0; i < 64; i++) {
		fd = net_accept(io->fd, &peer);
		if (fd >= 0) {
			conn_accept(l->svc, fd, &peer);
			continue;
		}
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
		    errno != ECONNABORTED)
			log_msg(LOG_ERR, "%s: accept: %m", l->svc->name);
		break;
	}
}

static int
listen_one(struct service *s, const char *addr, int proto, char *err,
	   size_t len)
{
	struct listener *l;
	int fd;

	fd = net_listen(addr, s->conf->port,
			proto == CONF_TCP ? SOCK_STREAM : SOCK_DGRAM, err, len);
	if (fd < 0)
		return -1;
	l = calloc(1, sizeof(*l));
	l->svc = s;
	l->proto = proto;
	l->addr = strdup(addr);
	l->port = s->conf->port;
	l->next = s->listeners;
	s->listeners = l;
	if (loop_add(&l->io, fd, LOOP_READ, listener_io) < 0) {
		snprintf(err, len, "epoll: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int
service_listen(struct service *s, char *err, size_t len)
{
	int i;

	for (i = 0; i < s->conf->naddrs; i++) {
		if ((s->conf->protos & CONF_TCP) &&
		    listen_one(s, s->conf->addrs[i], CONF_TCP, err, len) < 0)
			return -1;
		if ((s->conf->protos & CONF_UDP) &&
		    listen_one(s, s->conf->addrs[i], CONF_UDP, err, len) < 0)
			return -1;
	}
	return 0;
}

void
service_unlisten(struct service *s)
{
	struct listener *l;

	while ((l = s->listeners) != NULL) {
		s->listeners = l->next;
		loop_del(&l->io);
		close(l->io.fd);
		free(l->addr);
		free(l);
	}
}

void
service_free(struct service *s)
{
	service_unlisten(s);
	LIST_REMOVE(s, link);
	lua_close(s->L);
	free(s->name);
	free(s);
}
