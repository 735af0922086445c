/* vm.c - a service's Lua state: its allocator under memory_limit, the
 * sandboxed globals, and its script run at start and at every reload. */
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"
#include "ldgram.h"
#include "lsocket.h"
#include "lsuperd.h"
#include "sandbox.h"
#include "service.h"
#include "task.h"
#include "vm.h"

/* Each state counts its bytes; past memory_limit Lua gets a memory error. */
static void *
vm_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
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
vm_panic(lua_State *L)
{
	log_msg(LOG_CRIT, "unprotected Lua error: %s", lua_tostring(L, -1));
	abort();
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
vm_set_options(struct service *s)
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
	ldgram_open(L);
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
vm_call(struct service *s, lua_CFunction fn, void *ud, char *err, size_t len)
{
	const char *e;

	lua_pushcfunction(s->L, fn);
	lua_pushlightuserdata(s->L, ud);
	if (lua_pcall(s->L, 1, 0, 0) == LUA_OK)
		return 0;
	if ((e = service_error(s, err, len)) != err)
		snprintf(err, len, "%s", e);
	lua_pop(s->L, 1);
	return -1;
}

/*
 * A new state for s, its globals built and its script run once; -1 with
 * err set, and no state left, when any of it fails.
 */
int
vm_open(struct service *s, const struct conf *c, char *err, size_t len)
{
	const struct svc_conf *v = s->conf;
	struct setup_args a = {s, c};

	if ((s->L = lua_newstate(vm_alloc, s)) == NULL) {
		snprintf(err, len,
		    "%s:%d: service \"%s\": cannot create a "
		    "Lua state",
		    v->file, v->line, v->name);
		return -1;
	}
	lua_atpanic(s->L, vm_panic);
	/* Threads copy it: the main state's task is none. */
	*(void **)lua_getextraspace(s->L) = NULL;

	if (vm_call(s, setup_p, &a, err, len) < 0 ||
	    vm_call(s, run_script_p, s, err, len) < 0) {
		snprintf(err + strlen(err), len - strlen(err),
		    " (service \"%s\" at %s:%d)", v->name, v->file, v->line);
		vm_close(s);
		return -1;
	}
	return 0;
}

/* With it go the coroutines of the service, and what they spawned. */
void
vm_close(struct service *s)
{
	if (s->L == NULL)
		return;
	task_kill_service(s);
	lua_close(s->L);
	s->L = NULL;
}

int
vm_reload(struct service *s, struct buf *report)
{
	char err[1024];

	if (s->L == NULL)
		return 0;
	if (vm_call(s, run_script_p, s, err, sizeof(err)) < 0) {
		log_msg(LOG_ERR,
		    "%s: reload failed, the previous version "
		    "stays: %s",
		    s->name, err);
		buf_printf(report,
		    "%s: reload failed, the previous version stays: %s\n",
		    s->name, err);
		return -1;
	}
	log_msg(LOG_INFO, "%s: reloaded %s", s->name, s->conf->script);
	buf_printf(report, "%s: reloaded %s\n", s->name, s->conf->script);
	return 0;
}
