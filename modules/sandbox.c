/* sandbox.c - the standard library a service script may use. */
#include <lauxlib.h>
#include <lualib.h>
#include <string.h>

#include "sandbox.h"

/* What would let a script leave its service, or the daemon's control. */
static const char *const removed[][2] = {
    {"os", "execute"},
    {"os", "exit"},
    {"os", "remove"},
    {"os", "rename"},
    {"os", "tmpname"},
    {"os", "setlocale"},
    {"io", "popen"},
    {"io", "input"},
    {"io", "output"},
    {"package", "loadlib"},
    {"package", "cpath"},
    {NULL, NULL},
};

static void
remove_unsafe(lua_State *L)
{
	int i;

	for (i = 0; removed[i][0]; i++) {
		lua_getglobal(L, removed[i][0]);
		lua_pushnil(L);
		lua_setfield(L, -2, removed[i][1]);
		lua_pop(L, 1);
	}
}

/* load/loadfile/dofile in text mode only: no binary chunks. */
static int
call_text_mode(lua_State *L, int mode_arg)
{
	int n = lua_gettop(L);

	if (n < mode_arg) {
		lua_settop(L, mode_arg);
		n = mode_arg;
	}
	lua_pushliteral(L, "t");
	lua_replace(L, mode_arg);
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, n, LUA_MULTRET);
	return lua_gettop(L);
}

static int
safe_load(lua_State *L)
{
	return call_text_mode(L, 3);
}

static int
safe_loadfile(lua_State *L)
{
	return call_text_mode(L, 2);
}

static int
dofile_k(lua_State *L, int status, lua_KContext ctx)
{
	(void)status;
	(void)ctx;
	return lua_gettop(L) - 1;
}

static int
safe_dofile(lua_State *L)
{
	const char *name = luaL_checkstring(L, 1);

	lua_settop(L, 1);
	if (luaL_loadfilex(L, name, "t") != LUA_OK)
		return lua_error(L);
	lua_callk(L, 0, LUA_MULTRET, 0, dofile_k);
	return dofile_k(L, LUA_OK, 0);
}

/* Finalizers run with hooks off: an endless __gc would hang the daemon. */
static int
safe_setmetatable(lua_State *L)
{
	if (lua_type(L, 2) == LUA_TTABLE &&
	    lua_getfield(L, 2, "__gc") != LUA_TNIL)
		return luaL_error(L, "setmetatable: __gc is not allowed");
	lua_settop(L, 2);
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, 2, 1);
	return 1;
}

static void
wrap_global(lua_State *L, const char *name, lua_CFunction fn)
{
	lua_getglobal(L, name);
	lua_pushcclosure(L, fn, 1);
	lua_setglobal(L, name);
}

/* Only Lua modules on lua_path: no C searchers. */
static void
restrict_require(lua_State *L, const char *lua_path)
{
	lua_getglobal(L, "package");
	lua_pushstring(L, lua_path);
	lua_setfield(L, -2, "path");
	lua_getfield(L, -1, "searchers");
	lua_pushnil(L);
	lua_rawseti(L, -2, 4);
	lua_pushnil(L);
	lua_rawseti(L, -2, 3);
	lua_pop(L, 2);
}

/* Only debug.traceback: debug.sethook would clear the CPU limit. */
static void
restrict_debug(lua_State *L)
{
	lua_getglobal(L, "debug");
	lua_createtable(L, 0, 1);
	lua_getfield(L, -2, "traceback");
	lua_setfield(L, -2, "traceback");
	lua_setglobal(L, "debug");
	lua_pop(L, 1);
	lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
	lua_getglobal(L, "debug");
	lua_setfield(L, -2, "debug");
	lua_pop(L, 1);
}

void
sandbox_open(lua_State *L, const char *lua_path)
{
	luaL_openlibs(L);
	remove_unsafe(L);
	restrict_require(L, lua_path);
	restrict_debug(L);
	wrap_global(L, "load", safe_load);
	wrap_global(L, "loadfile", safe_loadfile);
	wrap_global(L, "setmetatable", safe_setmetatable);
	lua_pushcfunction(L, safe_dofile);
	lua_setglobal(L, "dofile");
}
