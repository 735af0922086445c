/* lsuperd.c - the `superd` table and the globals every service sees. */
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf.h"
#include "log.h"
#include "lconnect.h"
#include "lspawn.h"
#include "lsuperd.h"
#include "service.h"
#include "tls.h"
#include "task.h"

#define SERVICE_KEY "superd.service"

static struct service *
this_service(lua_State *L)
{
	struct service *s;

	lua_getfield(L, LUA_REGISTRYINDEX, SERVICE_KEY);
	s = lua_touserdata(L, -1);
	lua_pop(L, 1);
	return s;
}

static int
sleep_k(lua_State *L, int status, lua_KContext ctx)
{
	(void)L;
	(void)status;
	(void)ctx;
	return 0;
}

/* The sleep itself, after any wait for the sockets the caller filled. */
static int
sleep_start_k(lua_State *L, int status, lua_KContext ctx)
{
	lua_Number secs = lua_tonumber(L, 1);

	(void)status;
	(void)ctx;
	if (secs < 0)
		secs = 0;
	return task_park(L, task_current(L), TASK_SLEEP, NULL,
	    loop_now() + secs, 0, sleep_k);
}

static int
lsuperd_sleep(lua_State *L)
{
	lua_Number secs = luaL_checknumber(L, 1);
	struct task *t = task_current(L);

	luaL_argcheck(L, secs == secs, 1, "not a number (NaN)");
	lua_settop(L, 1);
	if (t != NULL && t->npressing > 0 && lua_isyieldable(L)) {
		task_deadline(
		    t, 0); /* a drain before a sleep has no deadline */
		return task_pause(L, t, 0, sleep_start_k);
	}
	return sleep_start_k(L, LUA_OK, 0);
}

static int
lsuperd_spawn(lua_State *L)
{
	return lspawn_spawn(L, this_service(L));
}

/* A spawned loop (the chat's bus) ends instead of reconnecting. */
static int
lsuperd_stopping(lua_State *L)
{
	lua_pushboolean(L, service_stopping);
	return 1;
}

static int
lsuperd_now(lua_State *L)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	lua_pushnumber(L, ts.tv_sec + ts.tv_nsec / 1e9);
	return 1;
}

/* superd.log(level, fmt, ...): string.format'd, tagged with the service. */
static int
lsuperd_log(lua_State *L)
{
	const char *name = luaL_checkstring(L, 1);
	int level = log_level_parse(name);

	luaL_argcheck(L, level >= 0, 1, "unknown log level");
	if (!log_enabled(level))
		return 0;
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_replace(L, 1);
	lua_call(L, lua_gettop(L) - 1, 1);
	log_msg(level, "%s: %s", this_service(L)->name, lua_tostring(L, -1));
	return 0;
}

static int
lsuperd_path(lua_State *L)
{
	const char *p = luaL_checkstring(L, 1);

	if (p[0] == '/') {
		lua_settop(L, 1);
		return 1;
	}
	lua_pushstring(L, lua_tostring(L, lua_upvalueindex(1)));
	lua_pushliteral(L, "/");
	lua_pushvalue(L, 1);
	lua_concat(L, 3);
	return 1;
}

/* print(...) logs at info level, as the service. */
static int
lsuperd_print(lua_State *L)
{
	int i, n = lua_gettop(L);
	luaL_Buffer b;

	luaL_buffinit(L, &b);
	for (i = 1; i <= n; i++) {
		if (i > 1)
			luaL_addchar(&b, '\t');
		luaL_tolstring(L, i, NULL);
		luaL_addvalue(&b);
	}
	luaL_pushresult(&b);
	log_msg(LOG_INFO, "%s: %s", this_service(L)->name, lua_tostring(L, -1));
	return 0;
}

static void
set_count(lua_State *L, const char *name, uint64_t n)
{
	lua_pushinteger(L, (lua_Integer)n);
	lua_setfield(L, -2, name);
}

static void
push_counts(lua_State *L, const struct service_stats *st)
{
	int i;

	lua_createtable(L, 0, 11);
	set_count(L, "active", (uint64_t)st->active);
	set_count(L, "accepted", st->accepted);
	set_count(L, "refused", st->refused);
	set_count(L, "bytes_in", st->bytes_in);
	set_count(L, "bytes_out", st->bytes_out);
	set_count(L, "errors", st->errors);
	set_count(L, "memory", st->memory);
	set_count(L, "tls_handshakes", st->tls_handshakes);
	set_count(L, "tls_failures", st->tls_failures);
	lua_createtable(L, 0, 2);
	set_count(L, "TLSv1.2", st->tls_versions[0]);
	set_count(L, "TLSv1.3", st->tls_versions[1]);
	lua_setfield(L, -2, "tls_versions");
	lua_createtable(L, 0, STATS_TLS_KINDS);
	for (i = 0; i < STATS_TLS_KINDS; i++)
		set_count(L, tls_failure_kinds[i], st->tls_failed_by[i]);
	lua_setfield(L, -2, "tls_failed_by");
	lua_newtable(L);
	for (i = 0; i < STATS_REASONS && st->refused_by[i].why; i++)
		set_count(L, st->refused_by[i].why, st->refused_by[i].n);
	lua_setfield(L, -2, "refused_by");
}

static void
add_counts(struct service_stats *sum, const struct service_stats *st)
{
	int i, j;

	sum->accepted += st->accepted;
	sum->refused += st->refused;
	sum->bytes_in += st->bytes_in;
	sum->bytes_out += st->bytes_out;
	sum->errors += st->errors;
	sum->active += st->active;
	sum->memory += st->memory;
	sum->tls_handshakes += st->tls_handshakes;
	sum->tls_failures += st->tls_failures;
	for (i = 0; i < 2; i++)
		sum->tls_versions[i] += st->tls_versions[i];
	for (i = 0; i < STATS_TLS_KINDS; i++)
		sum->tls_failed_by[i] += st->tls_failed_by[i];
	for (i = 0; i < STATS_REASONS && st->refused_by[i].why; i++)
		for (j = 0; j < STATS_REASONS; j++) {
			if (sum->refused_by[j].why == NULL)
				sum->refused_by[j].why = st->refused_by[i].why;
			if (strcmp(sum->refused_by[j].why,
				st->refused_by[i].why) == 0) {
				sum->refused_by[j].n += st->refused_by[i].n;
				break;
			}
		}
}

/*
 * workers = N: each worker's row of the service, then their sum.  Two
 * workers adding a service at once may name two slots: rows add up.
 */
static void
push_shared(lua_State *L, const struct service *s)
{
	static struct service_stats per[STATS_WORKERS];
	struct service_stats sum;
	const struct stats_slot *slot;
	int i, w, n = stats_workers();

	memset(per, 0, sizeof(per));
	memset(&sum, 0, sizeof(sum));
	for (i = 0; i < STATS_SERVICES; i++) {
		if ((slot = stats_slot(i)) == NULL ||
		    strcmp(slot->name, s->name) != 0)
			continue;
		for (w = 0; w < n; w++) {
			add_counts(&per[w], &slot->w[w]);
			add_counts(&sum, &slot->w[w]);
		}
	}
	push_counts(L, &sum);
	lua_createtable(L, n, 0);
	for (w = 0; w < n; w++) {
		push_counts(L, &per[w]);
		lua_rawseti(L, -2, w + 1);
	}
	lua_setfield(L, -2, "workers");
}

/*
 * { uptime =, reloads =, worker =, workers =,
 *   services = { NAME = { active =, ..., workers = { [k] = {...} } } } }
 */
static int
lsuperd_stats(lua_State *L)
{
	struct service *s;

	lua_createtable(L, 0, 5);
	lua_pushnumber(L, loop_now() - service_started);
	lua_setfield(L, -2, "uptime");
	set_count(L, "reloads", (uint64_t)service_reloads);
	set_count(L, "worker", (uint64_t)service_worker);
	set_count(L, "workers", (uint64_t)stats_workers());
	lua_newtable(L);
	LIST_FOREACH(s, &services, link)
	{
		if (s->retired)
			continue;
		service_sync_stats(s);
		if (stats_workers() > 1)
			push_shared(L, s);
		else
			push_counts(L, s->stats);
		lua_setfield(L, -2, s->name);
	}
	lua_setfield(L, -2, "services");
	return 1;
}

static const luaL_Reg funcs[] = {
    {"stats", lsuperd_stats},
    {"connect", lconnect_connect},

    {"sleep", lsuperd_sleep},
    {"spawn", lsuperd_spawn},
    {"now", lsuperd_now},
    {"stopping", lsuperd_stopping},
    {NULL, NULL},
};

void
lsuperd_open(lua_State *L, struct service *s, const char *confdir)
{
	lua_pushlightuserdata(L, s);
	lua_setfield(L, LUA_REGISTRYINDEX, SERVICE_KEY);
	lspawn_open(L);
	luaL_newlib(L, funcs);
	lua_getglobal(L, "string");
	lua_getfield(L, -1, "format");
	lua_remove(L, -2);
	lua_pushcclosure(L, lsuperd_log, 1);
	lua_setfield(L, -2, "log");
	lua_pushstring(L, confdir);
	lua_pushcclosure(L, lsuperd_path, 1);
	lua_setfield(L, -2, "path");
	lua_pushstring(L, s->name);
	lua_setfield(L, -2, "service");
	lua_pushinteger(L, service_worker);
	lua_setfield(L, -2, "worker");
	lua_setglobal(L, "superd");
	lua_pushcfunction(L, lsuperd_print);
	lua_setglobal(L, "print");
}
