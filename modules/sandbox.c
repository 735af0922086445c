/* sandbox.c - the standard library a service script may use. */
#include <lauxlib.h>
#include <lualib.h>
#include <string.h>

#include "sandbox.h"
#include "task.h"

/*
 * The allow-list: each library keeps only the names listed (NULL: all).
 * Left out: os.execute/exit/remove/rename/tmpname/setlocale, io.popen and
 * everything that reads the daemon's stdin, package.loadlib and cpath,
 * all of debug but traceback (debug.sethook would clear the CPU limit).
 */
static const char *const base_names[] = {"_G", "_VERSION", "assert",
    "collectgarbage", "dofile", "error", "getmetatable", "ipairs", "load",
    "loadfile", "next", "pairs", "pcall", "print", "rawequal", "rawget",
    "rawlen", "rawset", "require", "select", "setmetatable", "tonumber",
    "tostring", "type", "xpcall", "coroutine", "math", "string", "table",
    "utf8", "os", "io", "package", "debug", NULL};
static const char *const os_names[] = {
    "clock", "date", "difftime", "getenv", "time", NULL};
static const char *const io_names[] = {
    "open", "close", "type", "write", "stdout", "stderr", NULL};
static const char *const package_names[] = {
    "config", "loaded", "path", "preload", "searchers", "searchpath", NULL};
static const char *const debug_names[] = {"traceback", NULL};

static const struct {
	const char *lib;
	const char *const *names;
} libs[] = {
    {"os", os_names},
    {"io", io_names},
    {"package", package_names},
    {"debug", debug_names},
    {NULL, NULL},
};

static int
listed(const char *name, const char *const *names)
{
	for (; *names; names++)
		if (strcmp(name, *names) == 0)
			return 1;
	return 0;
}

/* Removes from the table on top every string key not in names. */
static void
keep_only(lua_State *L, const char *const *names)
{
	lua_pushnil(L);
	while (lua_next(L, -2) != 0) {
		lua_pop(L, 1);
		if (lua_type(L, -1) == LUA_TSTRING &&
		    !listed(lua_tostring(L, -1), names)) {
			lua_pushvalue(L, -1);
			lua_pushnil(L);
			lua_rawset(L, -4);
		}
	}
}

static void
apply_allow_list(lua_State *L)
{
	int i;

	for (i = 0; libs[i].lib; i++) {
		lua_getglobal(L, libs[i].lib);
		keep_only(L, libs[i].names);
		lua_pop(L, 1);
	}
	lua_pushglobaltable(L);
	keep_only(L, base_names);
	lua_pop(L, 1);
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
	luaL_checkstring(L, 1); /* no file name would read stdin */
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

/*
 * Once the CPU limit has killed a coroutine, the hook raises at every
 * instruction with hooks off while the message handler runs: the user's
 * handler is skipped then, or an endless one would hang the daemon.
 */
static int
safe_handler(lua_State *L)
{
	if (task_killed(L))
		return 1;
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, lua_gettop(L) - 1, 1);
	return 1;
}

static int
xpcall_k(lua_State *L, int status, lua_KContext ctx)
{
	(void)status;
	(void)ctx;
	return lua_gettop(L);
}

static int
safe_xpcall(lua_State *L)
{
	luaL_checktype(L, 2, LUA_TFUNCTION);
	lua_pushvalue(L, 2);
	lua_pushcclosure(L, safe_handler, 1);
	lua_replace(L, 2);
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_callk(L, lua_gettop(L) - 1, LUA_MULTRET, 0, xpcall_k);
	return xpcall_k(L, LUA_OK, 0);
}

static void
wrap_global(lua_State *L, const char *name, lua_CFunction fn)
{
	lua_getglobal(L, name);
	lua_pushcclosure(L, fn, 1);
	lua_setglobal(L, name);
}

/* require's Lua searcher, in text mode: modules on lua_path only. */
static int
search_lua(lua_State *L)
{
	const char *name = luaL_checkstring(L, 1), *file;

	lua_getglobal(L, "package");
	lua_getfield(L, -1, "searchpath");
	lua_pushvalue(L, 1);
	lua_getfield(L, -3, "path");
	lua_call(L, 2, 2);
	if (lua_isnil(L, -2))
		return 1;
	lua_pop(L, 1);
	file = lua_tostring(L, -1);
	if (luaL_loadfilex(L, file, "t") != LUA_OK)
		return luaL_error(L,
		    "error loading module '%s' from file "
		    "'%s':\n\t%s",
		    name, file, lua_tostring(L, -1));
	lua_pushstring(L, file);
	return 2;
}

/*
 * package.path: lua_path, then Lua's own (where Debian's lua-* packages
 * put their modules) less its ./ templates: a daemon's working directory
 * is no place to find modules in.
 */
static void
restrict_require(lua_State *L, const char *lua_path)
{
	lua_getglobal(L, "package");
	lua_getfield(L, -1, "path");
	luaL_gsub(L, lua_tostring(L, -1), ";./?.lua", "");
	luaL_gsub(L, lua_tostring(L, -1), ";./?/init.lua", "");
	lua_pushfstring(L, "%s;%s", lua_path, lua_tostring(L, -1));
	lua_setfield(L, -5, "path");
	lua_pop(L, 3);
	lua_createtable(L, 2, 0);
	lua_getfield(L, -2, "searchers");
	lua_rawgeti(L, -1, 1);
	lua_rawseti(L, -3, 1);
	lua_pop(L, 1);
	lua_pushcfunction(L, search_lua);
	lua_rawseti(L, -2, 2);
	lua_setfield(L, -2, "searchers");
	lua_pop(L, 1);
}

void
sandbox_open(lua_State *L, const char *lua_path)
{
	/* LUA_PATH in superd's environment is not the services' business */
	lua_pushboolean(L, 1);
	lua_setfield(L, LUA_REGISTRYINDEX, "LUA_NOENV");
	luaL_openlibs(L);
	restrict_require(L, lua_path);
	apply_allow_list(L);
	wrap_global(L, "load", safe_load);
	wrap_global(L, "loadfile", safe_loadfile);
	wrap_global(L, "setmetatable", safe_setmetatable);
	wrap_global(L, "xpcall", safe_xpcall);

	lua_pushcfunction(L, safe_dofile);
	lua_setglobal(L, "dofile");
}
