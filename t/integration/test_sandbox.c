/*
 * test_sandbox.c - what a script can neither reach nor break: the sandbox
 * (no os, io or debug escapes, no binary chunks, its own lua_path), the C
 * boundary (8,000 values, deep nesting, strings of 2^31 bytes, 8,000
 * spawn arguments), NaN as a time, and a main that drops its socket.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client.h"

#define SANDBOX_LUA                                                            \
	"function main(s)\n"                                                   \
	"  local function say(k, ...)\n"                                       \
	"    local t = table.pack(...)\n"                                      \
	"    for i = 1, t.n do t[i] = (tostring(t[i]):gsub('\\n', ' ')) end\n" \
	"    s:write(k, '=', table.concat(t, '|'), '\\n')\n"                   \
	"  end\n"                                                              \
	"  say('os.execute', type(os.execute))\n"                              \
	"  say('os.exit', type(os.exit))\n"                                    \
	"  say('io.popen', type(io.popen))\n"                                  \
	"  say('io.read', type(io.read))\n"                                    \
	"  say('io.lines', type(io.lines))\n"                                  \
	"  say('debug.sethook', type(debug.sethook))\n"                        \
	"  say('debug.getinfo', type(debug.getinfo))\n"                        \
	"  say('debug.upvaluejoin', type(debug.upvaluejoin))\n"                \
	"  say('debug.traceback', type(debug.traceback))\n"                    \
	"  say('package.loadlib', type(package.loadlib))\n"                    \
	"  say('package.cpath', tostring(package.cpath))\n"                    \
	"  local dump = string.dump(function() end)\n"                         \
	"  say('load', load(dump))\n"                                          \
	"  say('pcall load', pcall(load, dump))\n"                             \
	"  say('load b', load(dump, 'x', 'b'))\n"                              \
	"  local p = superd.path('dump.bin')\n"                                \
	"  local fh = io.open(p, 'wb') fh:write(dump) fh:close()\n"            \
	"  say('loadfile', loadfile(p))\n"                                     \
	"  say('dofile', pcall(dofile, p))\n"                                  \
	"  fh = io.open(superd.path('lib/bin.lua'), 'wb')\n"                   \
	"  fh:write(dump) fh:close()\n"                                        \
	"  say('require bin', pcall(require, 'bin'))\n"                        \
	"  say('gc', pcall(setmetatable, {}, {__gc = function() end}))\n"      \
	"  say('searchers', #package.searchers)\n"                             \
	"  say('path', package.path)\n"                                        \
	"  say('require', require('mod').hello())\n"                           \
	"end\n"

static char said[4096]; /* the last line expect_say read */

/* The next "key=" line, checked to start with want (and hold also). */
static void
expect_say(int fd, const char *want, const char *also)
{
	recv_line(fd, said, sizeof(said), 3000);
	if (strncmp(said, want, strlen(want)) != 0)
		fail_msg("got \"%s\", want \"%s...\"", said, want);
	if (also != NULL)
		assert_has(said, also);
}

static void
test_sandbox_removes_escapes_and_binary_chunks(void **state)
{
	struct fix *f = *state;
	char path[256];
	int fd;

	/* the script writes its chunks there as the user superd serves as */
	snprintf(path, sizeof(path), "%s/lib", f->d.dir);
	assert_int_equal(mkdir(path, 0777), 0);
	assert_int_equal(chmod(path, 0777), 0);
	assert_int_equal(chmod(f->d.dir, 0777), 0);
	sd_write(&f->d, "lib/mod.lua",
	    "return { hello = function() return 'hello from mod' end }\n");
	sd_write(&f->d, "test.lua", "%s", SANDBOX_LUA);
	fix_conf_test(f, "lua_path = \"lib/?.lua\";\n", "");
	setenv("LUA_PATH", "/from/env/?.lua;;", 1);
	fix_start(f);
	unsetenv("LUA_PATH");
	fd = tcp_connect(f->port);
	assert_true(fd >= 0);
	expect_say(fd, "os.execute=nil\n", NULL);
	expect_say(fd, "os.exit=nil\n", NULL);
	expect_say(fd, "io.popen=nil\n", NULL);
	expect_say(fd, "io.read=nil\n", NULL);
	expect_say(fd, "io.lines=nil\n", NULL);
	expect_say(fd, "debug.sethook=nil\n", NULL);
	expect_say(fd, "debug.getinfo=nil\n", NULL);
	expect_say(fd, "debug.upvaluejoin=nil\n", NULL);
	expect_say(fd, "debug.traceback=function\n", NULL);
	expect_say(fd, "package.loadlib=nil\n", NULL);
	expect_say(fd, "package.cpath=nil\n", NULL);
	expect_say(fd, "load=nil|", "binary");
	expect_say(fd, "pcall load=true|nil|", "binary");
	expect_say(fd, "load b=nil|", "binary");
	expect_say(fd, "loadfile=nil|", "binary");
	expect_say(fd, "dofile=false|", "binary");
	expect_say(fd, "require bin=false|", "binary");
	expect_say(fd, "gc=false|", "setmetatable: __gc is not allowed");
	expect_say(fd, "searchers=2\n", NULL);
	/* lua_path first, then Lua's own path without its ./ templates;
	 * superd's LUA_PATH is not the services' */
	snprintf(path, sizeof(path), "path=%s/lib/?.lua;/", f->d.dir);
	expect_say(fd, path, "/usr/share/lua/5.3/?.lua;");
	assert_null(strstr(said, "./?"));
	assert_null(strstr(said, "/from/env/"));
	expect_say(fd, "require=hello from mod\n", NULL);
	close(fd);
	assert_healthy(f);
	assert_int_equal(sd_stop(&f->d), 0);
}

#define BOUNDARY_LUA                                                          \
	"local t = {}\n"                                                      \
	"for i = 1, 8000 do t[i] = i % 10 end\n"                              \
	"local function nest(n)\n"                                            \
	"  if n == 0 then return 0 end\n"                                     \
	"  return coroutine.wrap(function() return nest(n - 1) + 1 end)()\n"  \
	"end\n"                                                               \
	"function main(s)\n"                                                  \
	"  local mode = s:read()\n"                                           \
	"  if mode == 'unpack' then\n"                                        \
	"    s:write(table.unpack(t))\n"                                      \
	"    s:write('\\n')\n"                                                \
	"  elseif mode == 'wrap' then\n"                                      \
	"    local ok, err = pcall(nest, 200000)\n"                           \
	"    s:write(tostring(ok), ' ', tostring(err), '\\n')\n"              \
	"  elseif mode == 'results' then\n"                                   \
	"    local r = table.pack(coroutine.wrap(function()\n"                \
	"      return table.unpack(t) end)())\n"                              \
	"    s:write(r.n, '\\n')\n"                                           \
	"  elseif mode == 'args' then\n"                                      \
	"    local ok, n = coroutine.resume(coroutine.create(function(...)\n" \
	"      return select('#', ...) end), table.unpack(t))\n"              \
	"    s:write(tostring(ok), ' ', n, '\\n')\n"                          \
	"  elseif mode == 'rep' then\n"                                       \
	"    local ok, err = pcall(string.rep, 'x', 2^31)\n"                  \
	"    s:write(tostring(ok), ' ', tostring(err), '\\n')\n"              \
	"    ok, err = pcall(string.rep, 'x', 2^31 - 1)\n"                    \
	"    s:write(tostring(ok), ' ', tostring(err), '\\n')\n"              \
	"  elseif mode == 'rep raw' then\n"                                   \
	"    local x = string.rep('x', 2^31 - 1)\n"                           \
	"    s:write('survived ', #x, '\\n')\n"                               \
	"  elseif mode == 'spawn' then\n"                                     \
	"    superd.spawn(function(...)\n"                                    \
	"      print('spawned with ' .. select('#', ...))\n"                  \
	"    end, table.unpack(t))\n"                                         \
	"    s:write('spawned\\n')\n"                                         \
	"  end\n"                                                             \
	"end\n"

/* A connection to service "test" that has sent mode as its first line. */
static int
send_mode(struct fix *f, const char *mode)
{
	char buf[64];
	int fd = tcp_connect(f->port);

	assert_true(fd >= 0);
	snprintf(buf, sizeof(buf), "%s\n", mode);
	assert_int_equal(send_str(fd, buf), 0);
	return fd;
}

static void
test_c_boundary_many_values_and_deep_nesting(void **state)
{
	struct fix *f = *state;
	char *want = malloc(8002), *got = malloc(8002), line[1024];
	int fd, i, port;

	fix_start_test(f, BOUNDARY_LUA, "");
	for (i = 0; i < 8000; i++)
		want[i] = '0' + (i + 1) % 10;
	want[8000] = '\n';
	want[8001] = '\0';
	fd = send_mode(f, "unpack");
	assert_int_equal(recv_all(fd, got, 8001, 5000), 8001);
	got[8001] = '\0';
	assert_string_equal(got, want);
	expect_all(fd, "", 3000);
	close(fd);
	fd = send_mode(f, "wrap");
	recv_line(fd, line, sizeof(line), 10000);
	print_message("    wrap: %s", line);
	assert_has(line, "false ");
	close(fd);
	fd = send_mode(f, "results");
	expect_all(fd, "8000\n", 5000);
	close(fd);
	fd = send_mode(f, "args");
	expect_all(fd, "true 8000\n", 5000);
	close(fd);
	/* 2^31 is over string.rep's own INT_MAX; 2^31 - 1 meets the limit. */
	fd = send_mode(f, "rep");
	expect_say(fd, "false resulting string too large\n", NULL);
	expect_say(fd, "false not enough memory", NULL);
	expect_all(fd, "", 3000);
	close(fd);
	fd = send_mode(f, "rep raw");
	port = local_port(fd);
	expect_all(fd, "", 5000);
	close(fd);
	fix_error_line(f, port, line, sizeof(line));
	assert_has(line, "not enough memory");
	free(want);
	free(got);
	assert_healthy(f);
	assert_int_equal(sd_stop(&f->d), 0);
}

static void
test_spawn_with_8000_arguments(void **state)
{
	struct fix *f = *state;
	char buf[64];
	ssize_t n;
	int fd;

	fix_start_test(f, BOUNDARY_LUA, "");
	fd = send_mode(f, "spawn");
	n = recv_all(fd, buf, sizeof(buf) - 1, 5000);
	close(fd);
	usleep(100000);
	assert_alive(&f->d, "a spawn with 8000 arguments");
	assert_true(n >= 0);
	buf[n] = '\0';
	assert_string_equal(buf, "spawned\n");
	assert_int_equal(sd_log_wait(&f->d, "spawned with 8000", 1, 3000), 1);
	assert_healthy(f);
	assert_int_equal(sd_stop(&f->d), 0);
}

/* NaN as a time is an error, not a wait that never ends. */
static void
test_nan_times_are_errors(void **state)
{
	struct fix *f = *state;
	char buf[512];
	int fd;

	fix_start_test(f,
	    "function main(s)\n"
	    "  local nan = 0/0\n"
	    "  s:write(tostring(pcall(superd.sleep, nan)), ' ',\n"
	    "    select(2, pcall(s.settimeout, s, nan)), ' ',\n"
	    "    select(2, pcall(superd.connect, '127.0.0.1', 9, nan)), "
	    "'\\n')\n"
	    "end\n",
	    "");
	fd = tcp_connect(f->port);
	assert_true(recv_line(fd, buf, sizeof(buf), 3000) > 0);
	assert_true(strncmp(buf, "false ", 6) == 0);
	if (strstr(buf, "bad argument #2 to") == NULL ||
	    strstr(buf, "bad argument #3 to") == NULL ||
	    strstr(strstr(buf, "NaN") + 1, "NaN") == NULL)
		fail_msg("got %s", buf);
	close(fd);
	assert_healthy(f);
	assert_int_equal(sd_stop(&f->d), 0);
}

/* main lets go of its socket and collects: the task keeps the conn. */
static void
test_main_dropping_its_socket_is_safe(void **state)
{
	struct fix *f = *state;
	char buf[16];
	int fd, u;

	fix_start_test(f,
	    "function main(s)\n"
	    "  if s:protocol() == 'tcp' and s:read() == 'close' then\n"
	    "    s:close()\n"
	    "  end\n"
	    "  s = nil\n"
	    "  collectgarbage() collectgarbage()\n"
	    "  superd.sleep(0.05)\n"
	    "end\n",
	    "protocol = [\"tcp\", \"udp\"];");
	fd = tcp_connect(f->port);
	assert_int_equal(send_str(fd, "close\n"), 0);
	assert_true(wait_closed(fd, 3000));
	close(fd);
	fd = tcp_connect(f->port);
	assert_int_equal(send_str(fd, "keep\n"), 0);
	assert_true(wait_closed(fd, 3000));
	close(fd);
	u = udp_open("127.0.0.1", 0, 0);
	assert_int_equal(udp_send(u, "127.0.0.1", f->port, "x", 1), 0);
	assert_int_equal(udp_recv(u, buf, sizeof(buf), 300), -1);
	close(u);
	assert_healthy(f);
	assert_int_equal(sd_stop(&f->d), 0);
}

#define FIX(f) cmocka_unit_test_setup_teardown(f, fix_setup, fix_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    FIX(test_sandbox_removes_escapes_and_binary_chunks),
	    FIX(test_c_boundary_many_values_and_deep_nesting),
	    FIX(test_spawn_with_8000_arguments),
	    FIX(test_nan_times_are_errors),
	    FIX(test_main_dropping_its_socket_is_safe),
	};
	if (getenv("TEST_FILTER") != NULL)
		cmocka_set_test_filter(getenv("TEST_FILTER"));
	return cmocka_run_group_tests_name("sandbox", tests, NULL, NULL);
}
