/*
 * lspawn.c - superd.spawn(fn, ...) and its handle: h:join() waits for the
 * coroutine and returns true and its results, or false and its error;
 * h:kill() ends it at its next wait.
 */
#include <lauxlib.h>
#include <string.h>

#include "lspawn.h"
#include "service.h"
#include "task.h"

#define HANDLE_MT "superd.task"

struct handle {
	struct task *t;	     /* NULL once it has ended */
	struct task *joiner; /* the one coroutine waiting in join */
	int ref;	     /* anchors the handle while the coroutine runs */
	int ended;
};

/* What the task left: its results, or its error, or that it was killed. */
struct outcome {
	struct task *t;
	int status;
};

/*
 * The outcome, as the handle's user value {ok, ...; n = count}.  After an
 * error, T's stack indices are its failed frame's: only the top (the
 * error) is read there.
 */
static int
keep_outcome_p(lua_State *L)
{
	struct outcome *o = lua_touserdata(L, 1);
	struct handle *h = o->t->ud;
	lua_State *T = o->t->T;
	int i, n = o->status == LUA_OK ? task_nresults(o->t) : 1;

	lua_createtable(L, n + 1, 1);
	lua_pushboolean(L, o->status == LUA_OK);
	lua_rawseti(L, -2, 1);
	if (o->status == TASK_KILLED)
		lua_pushliteral(L, "killed");
	else if (o->status == LUA_ERRMEM)
		lua_pushliteral(L, "not enough memory");
	if (o->status == TASK_KILLED || o->status == LUA_ERRMEM)
		lua_rawseti(L, -2, 2);
	else
		for (i = 0; i < n; i++) { /* the results, or the error */
			lua_pushvalue(T, lua_gettop(T) - n + 1 + i);
			lua_xmove(T, L, 1);
			lua_rawseti(L, -2, i + 2);
		}
	lua_pushinteger(L, n + 1);
	lua_setfield(L, -2, "n");
	lua_rawgeti(L, LUA_REGISTRYINDEX, h->ref);
	lua_insert(L, -2);
	lua_setuservalue(L, -2);
	return 0;
}

static void
spawn_ended(struct task *t, int status)
{
	struct handle *h = t->ud;
	struct outcome o = {t, status};

	h->t = NULL;
	h->ended = 1;
	if (lua_checkstack(t->T, 1))
		service_pcall(t->svc, keep_outcome_p, &o);
	luaL_unref(t->svc->L, LUA_REGISTRYINDEX, h->ref);
	h->ref = LUA_NOREF;
	if (h->joiner)
		task_wake(h->joiner);
}

static struct handle *
checkhandle(lua_State *L)
{
	return luaL_checkudata(L, 1, HANDLE_MT);
}

/* true, results...; or false, err.  A handle without an outcome lost
 * it to a memory error. */
static int
push_outcome(lua_State *L)
{
	lua_Integer i, n;

	lua_settop(L, 1);
	if (lua_getuservalue(L, 1) != LUA_TTABLE) {
		lua_pushboolean(L, 0);
		lua_pushliteral(L, "not enough memory");
		return 2;
	}
	lua_getfield(L, 2, "n");
	n = lua_tointeger(L, -1);
	lua_pop(L, 1);
	luaL_checkstack(L, (int)n, "too many results to join");
	for (i = 1; i <= n; i++)
		lua_rawgeti(L, 2, i);
	return (int)n;
}

static int
join_k(lua_State *L, int status, lua_KContext ctx)
{
	struct handle *h = checkhandle(L);
	struct task *t = task_current(L);

	(void)status;
	(void)ctx;
	if (h->ended)
		return push_outcome(L);
	if (t != NULL && h->t == t)
		return luaL_error(L, "a coroutine cannot join itself");
	if (h->joiner != NULL && h->joiner != t)
		return luaL_error(L, "handle is joined by another coroutine");
	return task_park(L, t, TASK_JOIN, &h->joiner, 0, 0, join_k);
}

static int
lspawn_join(lua_State *L)
{
	lua_settop(L, 1);
	return join_k(L, LUA_OK, 0);
}

/* true when it was still running. */
static int
lspawn_kill(lua_State *L)
{
	struct handle *h = checkhandle(L);

	lua_pushboolean(L, h->t != NULL);
	if (h->t != NULL)
		task_kill_soon(h->t);
	return 1;
}

static int
lspawn__tostring(lua_State *L)
{
	struct handle *h = checkhandle(L);

	lua_pushfstring(L, "task (%s)", h->ended ? "ended" : "running");
	return 1;
}

/* (service, fn, args...): the task, as a light userdata. */
static int
spawn_p(lua_State *L)
{
	struct service *s = lua_touserdata(L, 1);

	lua_remove(L, 1);
	lua_pushlightuserdata(L, task_spawn(L, s, lua_gettop(L) - 1, 0));
	return 1;
}

int
lspawn_spawn(lua_State *L, struct service *s)
{
	int nargs = lua_gettop(L) - 1;
	struct handle *h;
	struct task *t;

	luaL_checktype(L, 1, LUA_TFUNCTION);
	h = lua_newuserdata(L, sizeof(*h));
	memset(h, 0, sizeof(*h));
	h->ref = LUA_NOREF;
	luaL_setmetatable(L, HANDLE_MT);
	lua_insert(L, 1);
	lua_pushvalue(L, 1);
	h->ref = luaL_ref(L, LUA_REGISTRYINDEX);
	/* a handle that cannot start lets go of its anchor */
	lua_pushcfunction(L, spawn_p);
	lua_insert(L, 2);
	lua_pushlightuserdata(L, s);
	lua_insert(L, 3);
	if (lua_pcall(L, nargs + 2, 1, 0) != LUA_OK) {
		luaL_unref(L, LUA_REGISTRYINDEX, h->ref);
		return lua_error(L);
	}
	t = lua_touserdata(L, -1);
	lua_pop(L, 1);
	t->ud = h;
	t->on_end = spawn_ended;
	h->t = t;
	return 1;
}

static const luaL_Reg methods[] = {
    {"join", lspawn_join},
    {"kill", lspawn_kill},
    {NULL, NULL},
};

void
lspawn_open(lua_State *L)
{
	luaL_newmetatable(L, HANDLE_MT);
	lua_pushcfunction(L, lspawn__tostring);
	lua_setfield(L, -2, "__tostring");
	luaL_newlib(L, methods);
	lua_setfield(L, -2, "__index");
	lua_pop(L, 1);
}
