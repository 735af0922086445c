/* test_hardening.c - bad input, bad scripts and exhaustion cost only the
 * offending connection: each rail of issue 5, with a healthy echo beside. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client.h"

/* send_all, but gives up (-1) when the peer stops reading for ms. */
static int
send_timed(int fd, const void *buf, size_t len, int ms)
{
	struct pollfd p = {fd, POLLOUT, 0};
	const char *s = buf;
	ssize_t n;

	while (len > 0) {
		if (poll(&p, 1, ms) <= 0)
			return -1;
		n = send(fd, s, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			return -1;
		s += n;
		len -= n;
	}
	return 0;
}

/* 1. Lines. */

#define LINES_LUA                                    \
	"function main(s)\n"                         \
	"  while true do\n"                          \
	"    local l, err = s:read('l')\n"           \
	"    if l then s:write('line ', l, '\\n')\n" \
	"    elseif err == 'line too long' then\n"   \
	"      s:write('error ', err, '\\n')\n"      \
	"    else return end\n"                      \
	"  end\n"                                    \
	"end\n"

static void
test_read_line_too_long_returns_error_then_next_line(void **state)
{
	struct fix *f = *state;
	size_t big = 2 << 20;
	char *buf = malloc(big + 2), *want = malloc(1100);
	int fd;

	fix_start_test(f, LINES_LUA, "max_line = 1024;");
	fd = tcp_connect(f->port);
	assert_true(fd >= 0);
	/* The longest line accepted is max_line bytes. */
	memset(buf, 'a', 1024);
	buf[1024] = '\n';
	assert_int_equal(send_timed(fd, buf, 1025, 5000), 0);
	snprintf(want, 1100, "line %.1024s\n", buf);
	assert_int_equal(expect_line(fd, want), 0);
	memset(buf, 'x', big);
	assert_int_equal(send_timed(fd, buf, big, 10000), 0);
	assert_int_equal(send_str(fd, "\nok\n"), 0);
	assert_int_equal(expect_line(fd, "error line too long\n"), 0);
	assert_int_equal(expect_line(fd, "line ok\n"), 0);
	/* One past the limit is too long, and the next line is whole. */
	memset(buf, 'b', 1025);
	memcpy(buf + 1025, "\nnext\n", 6);
	assert_int_equal(send_timed(fd, buf, 1031, 5000), 0);
	assert_int_equal(expect_line(fd, "error line too long\n"), 0);
	assert_int_equal(expect_line(fd, "line next\n"), 0);
	close(fd);
	free(buf);
	free(want);
	assert_healthy(f);
	assert_int_equal(sd_stop(&f->d), 0);
}

#define FLOOD (100UL << 20)

static void
test_newline_free_flood_keeps_rss_flat(void **state)
{
	struct fix *f = *state;
	static char chunk[65536];
	long base, rss, peak, t0;
	size_t sent;
	int fd, i;

	fix_start_test(f, LINES_LUA, "max_line = 1024;");
	fd = tcp_connect(f->port);
	assert_true(fd >= 0);
	assert_int_equal(send_str(fd, "warm\n"), 0);
	assert_int_equal(expect_line(fd, "line warm\n"), 0);
	peak = base = proc_rss_kb(f->pid);
	assert_true(base > 0);
	memset(chunk, 'x', sizeof(chunk));
	t0 = now_ms();
	for (i = 0, sent = 0; sent < FLOOD; i++, sent += sizeof(chunk)) {
		assert_int_equal(
		    send_timed(fd, chunk, sizeof(chunk), 10000), 0);
		if (i % 16 == 0 && (rss = proc_rss_kb(f->pid)) > peak)
			peak = rss;
		if (now_ms() - t0 > 30000)
			fail_msg("100 MB not sent in 30 s (%zu sent)", sent);
	}
	assert_int_equal(send_str(fd, "\nok\n"), 0);
	assert_int_equal(expect_line(fd, "error line too long\n"), 0);
	assert_int_equal(expect_line(fd, "line ok\n"), 0);
	if ((rss = proc_rss_kb(f->pid)) > peak)
		peak = rss;
	print_message("    100 MB in %ld ms; VmRSS %ld kB, peak %ld kB\n",
	    now_ms() - t0, base, peak);
	assert_true(peak - base < 4096);
	close(fd);
	assert_healthy(f);
	assert_int_equal(sd_stop(&f->d), 0);
}

/* 2. Slow consumers. */

#define CHAT_LUA                                          \
	"if members == nil then members = {} end\n"       \
	"function main(s)\n"                              \
	"  members[s] = true\n"                           \
	"  s:write('hi\\n')\n"                            \
	"  for line in s:lines() do\n"                    \
	"    for m in pairs(members) do\n"                \
	"      if m ~= s then m:write(line, '\\n') end\n" \
	"    end\n"                                       \
	"  end\n"                                         \
	"end\n"                                           \
	"function fini(s) members[s] = nil end\n"

static void
test_slow_consumer_dropped_others_get_every_line(void **state)
{
	struct fix *f = *state;
	char line[2048], want[2048], pad[1001], needle[64];
	int slow, a, b, i, n = 0, batch, after = -1;

	fix_start_test(f, CHAT_LUA, "output_limit = 65536;");
	slow = tcp_connect_from(NULL, f->port, 4096);
	assert_true(slow >= 0);
	assert_int_equal(expect_line(slow, "hi\n"), 0);
	a = tcp_connect(f->port);
	assert_true(a >= 0);
	assert_int_equal(expect_line(a, "hi\n"), 0);
	b = tcp_connect(f->port);
	assert_true(b >= 0);
	assert_int_equal(expect_line(b, "hi\n"), 0);
	memset(pad, 'p', 1000);
	pad[1000] = '\0';
	/* a talks, b keeps up, slow never reads. */
	for (batch = 0; batch < 2000 && after < 5; batch++) {
		for (i = 0; i < 32; i++) {
			snprintf(line, sizeof(line), "%06d %s\n", n + i, pad);
			assert_int_equal(
			    send_timed(a, line, strlen(line), 5000), 0);
		}
		for (i = 0; i < 32; i++, n++) {
			snprintf(want, sizeof(want), "%06d %s\n", n, pad);
			recv_line(b, line, sizeof(line), 5000);
			if (strcmp(line, want) != 0)
				fail_msg("b: line %d is \"%.12s\", want "
					 "\"%.12s\"",
				    n, line, want);
		}
		if (after >= 0 || sd_log_count(&f->d, "slow consumer") > 0)
			after++;
	}
	print_message(
	    "    slow consumer dropped after %d batches of 32 KB\n", batch - 5);
	assert_true(after >= 5);
	snprintf(needle, sizeof(needle),
	    "test: tcp 127.0.0.1:%d:", local_port(slow));
	assert_int_equal(sd_log_lines(&f->d, needle, "slow consumer"), 1);
	assert_true(wait_closed(slow, 10000));
	close(slow);
	assert_int_equal(send_str(a, "last\n"), 0);
	assert_int_equal(expect_line(b, "last\n"), 0);
	close(a);
	close(b);
	assert_healthy(f);
	assert_int_equal(sd_stop(&f->d), 0);
}

/* 3. Runaway scripts. */

#define RUNAWAY_LUA                                                         \
	"function main(s)\n"                                                \
	"  local mode = s:read()\n"                                         \
	"  if mode == 'loop' then while true do end end\n"                  \
	"  if mode == 'dead' then while true do pcall(s.read, s) end end\n" \
	"  if mode == 'pcall' then\n"                                       \
	"    while true do pcall(function() while true do end end) end\n"   \
	"  end\n"                                                           \
	"  if mode == 'xpcall' then\n"                                      \
	"    xpcall(function() while true do end end,\n"                    \
	"      function() while true do end end)\n"                         \
	"    s:write('survived\\n')\n"                                      \
	"  end\n"                                                           \
	"  if mode == 'handler' then\n"                                     \
	"    xpcall(function() error('x') end,\n"                           \
	"      function() while true do end end)\n"                         \
	"    s:write('survived\\n')\n"                                      \
	"  end\n"                                                           \
	"  if mode == 'wrap' then\n"                                        \
	"    while true do\n"                                               \
	"      pcall(coroutine.wrap(function() while true do end end))\n"   \
	"    end\n"                                                         \
	"  end\n"                                                           \
	"  s:write('ok ', tostring(mode), '\\n')\n"                         \
	"  for line in s:lines() do s:write('ok ', line, '\\n') end\n"      \
	"end\n"

static void
test_cpu_limit_kills_runaway_loops_even_under_pcall(void **state)
{
	/* dead: a read that fails at once, in a loop, is no wait */
	static const char *const modes[] = {"loop", "pcall", "wrap", "dead"};
	struct fix *f = *state;
	char buf[64], line[1024];
	int keep, fd, port;
	size_t i;
	long t0;

	fix_start_test(f, RUNAWAY_LUA, "cpu_limit = 1000000;");
	keep = tcp_connect(f->port);
	assert_true(keep >= 0);
	assert_int_equal(send_str(keep, "hello\n"), 0);
	assert_int_equal(expect_line(keep, "ok hello\n"), 0);
	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		fd = tcp_connect(f->port);
		assert_true(fd >= 0);
		port = local_port(fd);
		snprintf(buf, sizeof(buf), "%s\n", modes[i]);
		t0 = now_ms();
		assert_int_equal(send_str(fd, buf), 0);
		shutdown(fd, SHUT_WR);
		expect_all(fd, "", 5000);
		close(fd);
		print_message(
		    "    %s killed in %ld ms\n", modes[i], now_ms() - t0);
		fix_error_line(f, port, line, sizeof(line));
		assert_has(line, "cpu limit exceeded");
		assert_int_equal(send_str(keep, "again\n"), 0);
		assert_int_equal(expect_line(keep, "ok again\n"), 0);
	}
	close(keep);
	assert_healthy(f);
	assert_int_equal(sd_stop(&f->d), 0);
}

/* 1 when the healthy echo answers within ms. */
static int
echo_answers(struct fix *f, int ms)
{
	char buf[64];
	int fd = tcp_connect(f->echo), ok;

	if (fd < 0)
		return 0;
	ok = send_str(fd, "healthy\n") == 0 &&
	     recv_line(fd, buf, sizeof(buf), ms) > 0 &&
	     strcmp(buf, "healthy\n") == 0;
	close(fd);
	return ok;
}

/*
 * xpcall's message handler runs inside the hook that raised the CPU error,
 * where Lua turns hooks off: a handler that loops must not hang superd.
 */
static void
runaway_handler(struct fix *f, const char *mode)
{
	char buf[64], line[1024];
	int fd, port, echo;
	double cpu;

	fix_start_test(f, RUNAWAY_LUA, "cpu_limit = 1000000;");
	fd = tcp_connect(f->port);
	assert_true(fd >= 0);
	port = local_port(fd);
	snprintf(buf, sizeof(buf), "%s\n", mode);
	assert_int_equal(send_str(fd, buf), 0);
	if (recv_all(fd, buf, sizeof(buf), 3000) < 0) {
		cpu = proc_cpu_s(f->pid);
		echo = echo_answers(f, 1000);
		cpu = proc_cpu_s(f->pid) - cpu;
		kill(f->d.pid, SIGKILL);
		fail_msg("%s: still open after 3 s; superd then used %.2f s "
			 "CPU in 1 s and the echo %s",
		    mode, cpu, echo ? "answered" : "did not answer (hung)");
	}
	close(fd);
	fix_error_line(f, port, line, sizeof(line));
	assert_has(line, "cpu limit exceeded");
	assert_healthy(f);
	assert_int_equal(sd_stop(&f->d), 0);
}

static void
test_cpu_limit_kills_looping_handler_of_cpu_error(void **state)
{
	runaway_handler(*state, "xpcall");
}

static void
test_cpu_limit_kills_looping_handler_of_plain_error(void **state)
{
	runaway_handler(*state, "handler");
}

static void
test_script_looping_at_top_level_fails_start(void **state)
{
	struct fix *f = *state;
	char *argv[] = {(char *)sd_binary(), "-c", f->d.conf, NULL};
	char out[4096], path[256];
	long t0 = now_ms();

	sd_write(&f->d, "test.lua",
	    "function main(s) s:write('never\\n') end\n"
	    "while true do end\n");
	fix_conf_test(f, "", "cpu_limit = 1000000;");
	snprintf(path, sizeof(path), "%s/run.out", f->d.dir);
	assert_int_equal(run_for(argv, path, 10000), 1);
	read_text(path, out, sizeof(out));
	assert_has(out, "cpu limit exceeded");
	assert_true(now_ms() - t0 < 5000);
	assert_true(tcp_connect(f->port) < 0);
}

#define VERSION_LUA(v) "function main(s) s:write('" v "\\n') end\n"

static void
test_reload_of_looping_script_keeps_old_version(void **state)
{
	struct fix *f = *state;
	char line[1024];
	int fd;

	fix_start_test(f, VERSION_LUA("v1"), "cpu_limit = 1000000;");
	fd = tcp_connect(f->port);
	expect_all(fd, "v1\n", 3000);
	close(fd);
	sd_write(&f->d, "test.lua", VERSION_LUA("v2") "while true do end\n");
	assert_int_equal(sd_signal(&f->d, SIGUSR1), 0);
	assert_int_equal(sd_log_wait(&f->d, "reload failed", 1, 5000), 1);
	sd_log_line(&f->d, "reload failed", line, sizeof(line));
	assert_has(line, "the previous version stays");
	assert_has(line, "cpu limit exceeded");
	fd = tcp_connect(f->port);
	expect_all(fd, "v1\n", 3000);
	close(fd);
	/* SIGHUP reloads scripts the same way. */
	assert_int_equal(sd_signal(&f->d, SIGHUP), 0);
	assert_int_equal(sd_log_wait(&f->d, "reload failed", 2, 5000), 2);
	fd = tcp_connect(f->port);
	expect_all(fd, "v1\n", 3000);
	close(fd);
	/* The hook is gone after the failure: a good script still loads. */
	sd_write(&f->d, "test.lua", VERSION_LUA("v3"));
	assert_int_equal(sd_signal(&f->d, SIGUSR1), 0);
	assert_true(sd_log_wait(&f->d, "test: reloaded", 1, 5000) >= 1);
	fd = tcp_connect(f->port);
	expect_all(fd, "v3\n", 3000);
	close(fd);
	assert_healthy(f);
	assert_int_equal(sd_stop(&f->d), 0);
}

/* 4. Memory. */

/*
 * fill() leaves the state within one small table of its limit: a list of
 * 1 KB strings, then of empty nodes, each a separate allocation.
 */
#define MEM_LUA                                                         \
	"local function fill()\n"                                       \
	"  local n = 0\n"                                               \
	"  hog = false\n"                                               \
	"  pcall(function()\n"                                          \
	"    while true do\n"                                           \
	"      n = n + 1\n"                                             \
	"      hog = {hog, string.rep('y', 1000) .. n}\n"               \
	"    end\n"                                                     \
	"  end)\n"                                                      \
	"  pcall(function() while true do hog = {hog} end end)\n"       \
	"end\n"                                                         \
	"function main(s)\n"                                            \
	"  local mode = s:read()\n"                                     \
	"  if mode == 'eat' then\n"                                     \
	"    local t = {}\n"                                            \
	"    for i = 1, 1e9 do t[i] = string.rep('x', 1000) .. i end\n" \
	"  elseif mode == 'fill' then\n"                                \
	"    fill()\n"                                                  \
	"    s:write('full\\n')\n"                                      \
	"  elseif mode == 'fill error' then\n"                          \
	"    fill()\n"                                                  \
	"    error('after fill')\n"                                     \
	"  elseif mode == 'big' then\n"                                 \
	"    s:write(#string.rep('w', 1000000), '\\n')\n"               \
	"  else\n"                                                      \
	"    s:write('ok ', tostring(mode), '\\n')\n"                   \
	"    for l in s:lines() do s:write('ok ', l, '\\n') end\n"      \
	"  end\n"                                                       \
	"end\n"

static void
test_memory_error_costs_only_its_coroutine(void **state)
{
	struct fix *f = *state;
	int keep, fd;

	fix_start_test(f, MEM_LUA, "memory_limit = 8;");
	keep = tcp_connect(f->port);
	assert_true(keep >= 0);
	assert_int_equal(send_str(keep, "hello\n"), 0);
	assert_int_equal(expect_line(keep, "ok hello\n"), 0);
	fd = tcp_connect(f->port);
	assert_true(fd >= 0);
	assert_int_equal(send_str(fd, "eat\n"), 0);
	expect_all(fd, "", 5000);
	close(fd);
	assert_alive(&f->d, "a memory error");
	assert_int_equal(send_str(keep, "still\n"), 0);
	assert_int_equal(expect_line(keep, "ok still\n"), 0);
	fd = tcp_connect(f->port);
	assert_true(fd >= 0);
	assert_int_equal(send_str(fd, "again\n"), 0);
	assert_int_equal(expect_line(fd, "ok again\n"), 0);
	close(fd);
	close(keep);
	assert_healthy(f);
	assert_int_equal(sd_stop(&f->d), 0);
	assert_true(sd_log_count(&f->d, "not enough memory") >= 1);
}

/* SPEC 4: an error is logged with the peer, even with no memory left. */
static void
test_error_at_memory_limit_is_logged_with_its_peer(void **state)
{
	struct fix *f = *state;
	char line[1024];
	int fd, port;

	fix_start_test(f, MEM_LUA, "memory_limit = 8;");
	fd = tcp_connect(f->port);
	assert_true(fd >= 0);
	port = local_port(fd);
	assert_int_equal(send_str(fd, "fill error\n"), 0);
	expect_all(fd, "", 5000);
	close(fd);
	assert_healthy(f);
	assert_int_equal(sd_stop(&f->d), 0);
	if (sd_log_lines(&f->d, "test: peer 127.0.0.1:", NULL) == 0) {
		sd_log_line(&f->d, "test: script error", line, sizeof(line));
		fail_msg("nothing names peer 127.0.0.1:%d; the log has: %s",
		    port, line);
	}
}

/* 1 when fd got a line (in buf) or was closed before end; 0 on timeout. */
static int
line_or_closed(int fd, char *buf, size_t len, long end)
{
	long left = end - now_ms();

	if (left < 0)
		left = 0;
	if (recv_line(fd, buf, len, (int)left) > 0 && strchr(buf, '\n'))
		return 1;
	buf[0] = '\0';
	return wait_closed(fd, 0);
}

static void
test_connections_at_memory_limit_are_closed(void **state)
{
	struct fix *f = *state;
	int fds[100], i, closed = 0, answered = 0;
	char buf[64];
	long end;

	fix_start_test(f, MEM_LUA, "memory_limit = 8;");
	fds[0] = tcp_connect(f->port);
	assert_true(fds[0] >= 0);
	assert_int_equal(send_str(fds[0], "fill\n"), 0);
	assert_true(line_or_closed(fds[0], buf, sizeof(buf), now_ms() + 10000));
	print_message("    fill: \"%s\"\n", buf[0] ? "full" : "(closed)");
	close(fds[0]);
	assert_alive(&f->d, "filling its memory");
	for (i = 0; i < 100; i++) {
		fds[i] = tcp_connect(f->port);
		assert_true(fds[i] >= 0);
		/* Refused at once or closed on error: either way EPIPE is ok.
		 */
		send(fds[i], "big\n", 4, MSG_NOSIGNAL);
	}
	end = now_ms() + 10000;
	for (i = 0; i < 100; i++) {
		if (!line_or_closed(fds[i], buf, sizeof(buf), end))
			fail_msg(
			    "connection %d neither answered nor closed", i);
		if (buf[0])
			answered++;
		else
			closed++;
		close(fds[i]);
	}
	print_message(
	    "    at the limit: %d closed, %d answered\n", closed, answered);
	assert_true(closed >= 90);
	assert_healthy(f);
	assert_int_equal(sd_stop(&f->d), 0);
}

/* 5. Sandbox. */

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

	snprintf(path, sizeof(path), "%s/lib", f->d.dir);
	assert_int_equal(mkdir(path, 0755), 0);
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

/* 6. Descriptors. */

#define NCLIENTS 150

static void
test_out_of_descriptors_pauses_without_spinning(void **state)
{
	struct fix *f = *state;
	struct rlimit low = {64, 64};
	struct pollfd p;
	int fds[NCLIENTS], i, served = 0;
	char msg[32];
	double cpu;
	long end;

	/*
	 * Lowered in superd itself once it runs: this container lacks
	 * CAP_SYS_RESOURCE, so the test could not raise its own hard
	 * limit again, and superd raises its soft limit at start only.
	 */
	fix_start_test(f, ECHO_LUA, "");
	assert_int_equal(prlimit(f->pid, RLIMIT_NOFILE, &low, NULL), 0);
	print_message(
	    "    superd holds %d descriptors of 64\n", proc_fd_count(f->pid));
	for (i = 0; i < NCLIENTS; i++) {
		fds[i] = tcp_connect_from(NULL, f->port, 0);
		assert_true(fds[i] >= 0);
		snprintf(msg, sizeof(msg), "c%03d\n", i);
		assert_int_equal(send_str(fds[i], msg), 0);
	}
	assert_int_equal(
	    sd_log_wait(&f->d, "out of file descriptors", 1, 5000), 1);
	usleep(500000);
	for (i = 0; i < NCLIENTS; i++) {
		p = (struct pollfd){fds[i], POLLIN, 0};
		served += poll(&p, 1, 0) > 0;
	}
	cpu = proc_cpu_s(f->pid);
	usleep(2000000);
	cpu = proc_cpu_s(f->pid) - cpu;
	print_message("    %d of %d served at 64 descriptors; %.2f s CPU in "
		      "2 s\n",
	    served, NCLIENTS, cpu);
	assert_true(served >= 30 && served <= 64);
	assert_true(cpu < 0.5);
	assert_int_equal(sd_log_count(&f->d, "out of file descriptors"), 1);
	for (i = 0; i < 100; i++)
		close(fds[i]);
	end = now_ms() + 10000;
	for (i = 100; i < NCLIENTS; i++) {
		char want[32], buf[32];

		snprintf(want, sizeof(want), "c%03d\n", i);
		recv_line(fds[i], buf, sizeof(buf), (int)(end - now_ms()));
		if (strcmp(buf, want) != 0)
			fail_msg("client %d: \"%s\" once others left", i, buf);
	}
	assert_healthy(f);
	for (i = 100; i < NCLIENTS; i++)
		close(fds[i]);
	assert_int_equal(sd_stop(&f->d), 0);
}

/* 7. Peers that vanish. */

#define VANISH_LUA                                                          \
	"modes = modes or {}\n"                                             \
	"victims = victims or {}\n"                                         \
	"local chunk = string.rep('z', 65536)\n"                            \
	"function main(s)\n"                                                \
	"  local mode = s:read()\n"                                         \
	"  if not mode then return end\n"                                   \
	"  modes[s] = mode\n"                                               \
	"  s:write('mode ', mode, '\\n')\n"                                 \
	"  if mode == 'big' then\n"                                         \
	"    for i = 1, 200 do\n"                                           \
	"      if not s:write(chunk) then return end\n"                     \
	"    end\n"                                                         \
	"  elseif mode == 'half' then\n"                                    \
	"    local all = s:read('a')\n"                                     \
	"    s:write('got ', #all, ' bytes\\n')\n"                          \
	"  elseif mode == 'sleep' then\n"                                   \
	"    superd.sleep(1)\n"                                             \
	"    s:write('late\\n')\n"                                          \
	"    s:read()\n"                                                    \
	"  elseif mode == 'victim' then\n"                                  \
	"    victims[s] = true\n"                                           \
	"    while s:read() do end\n"                                       \
	"  elseif mode == 'writer' then\n"                                  \
	"    for i = 1, 40 do\n"                                            \
	"      for v in pairs(victims) do v:write('tick ', i, '\\n') end\n" \
	"      superd.sleep(0.05)\n"                                        \
	"    end\n"                                                         \
	"    s:write('writer done\\n')\n"                                   \
	"  end\n"                                                           \
	"end\n"                                                             \
	"function fini(s)\n"                                                \
	"  print('fini ' .. tostring(modes[s]))\n"                          \
	"  modes[s] = nil\n"                                                \
	"  victims[s] = nil\n"                                              \
	"end\n"

static void
assert_fini_count(struct fix *f, const char *mode, int n)
{
	char needle[64];

	snprintf(needle, sizeof(needle), "test: fini %s\n", mode);
	if (sd_log_count(&f->d, needle) != n)
		fail_msg("\"%.*s\" logged %d times, want %d",
		    (int)strlen(needle) - 1, needle,
		    sd_log_count(&f->d, needle), n);
}

static void
test_vanishing_peers_cost_nothing_and_fini_runs_once(void **state)
{
	struct fix *f = *state;
	char buf[65536], needle[64];
	int big, half, s1, s2, v1, v2, w, base, port;

	fix_start_test(f, VANISH_LUA, "");
	base = proc_fd_count(f->pid);
	/* RST while the script is blocked writing 12 MB. */
	big = mode_conn(f->port, "big");
	port = local_port(big);
	assert_int_equal(recv_n(big, buf, sizeof(buf), 3000), sizeof(buf));
	reset_close(big);
	/* Half-closed: the script reads to EOF, then still writes. */
	half = mode_conn(f->port, "half");
	assert_int_equal(send_str(half, "hello"), 0);
	assert_int_equal(shutdown(half, SHUT_WR), 0);
	expect_all(half, "got 5 bytes\n", 5000);
	close(half);
	/* Gone while asleep in superd.sleep: by FIN and by RST. */
	s1 = mode_conn(f->port, "sleep");
	s2 = mode_conn(f->port, "sleep");
	close(s1);
	reset_close(s2);
	/* Gone while another coroutine writes to them. */
	v1 = mode_conn(f->port, "victim");
	v2 = mode_conn(f->port, "victim");
	w = mode_conn(f->port, "writer");
	assert_int_equal(expect_line(v1, "tick 1\n"), 0);
	assert_int_equal(expect_line(v2, "tick 1\n"), 0);
	close(v1);
	recv_line(v2, buf, 64, 3000);
	reset_close(v2);
	recv_line(w, buf, 64, 5000);
	assert_string_equal(buf, "writer done\n");
	close(w);
	sd_log_wait(&f->d, "test: fini ", 7, 5000);
	usleep(500000);
	assert_int_equal(sd_log_count(&f->d, "test: fini "), 7);
	assert_fini_count(f, "big", 1);
	assert_fini_count(f, "half", 1);
	assert_fini_count(f, "sleep", 2);
	assert_fini_count(f, "victim", 2);
	assert_fini_count(f, "writer", 1);
	snprintf(needle, sizeof(needle), "test: tcp 127.0.0.1:%d:", port);
	assert_int_equal(sd_log_lines(&f->d, needle, "reset by peer"), 1);
	assert_true(abs(proc_fd_count(f->pid) - base) <= 2);
	assert_healthy(f);
	assert_int_equal(sd_stop(&f->d), 0);
	assert_int_equal(sd_log_count(&f->d, "test: fini "), 7);
}

/* 8. Many connections. */

#define MANY 10000
#define BATCH 250

/* Non-blocking connects for fds[from..to); waits for them to finish. */
static void
connect_batch(int *fds, int from, int to, int port)
{
	struct sockaddr_in a = {0};
	struct pollfd p[BATCH];
	int i, err;
	socklen_t len = sizeof(err);

	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(port);
	for (i = from; i < to; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (fds[i] < 0)
			fail_msg("socket %d: %s", i, strerror(errno));
		if (connect(fds[i], (struct sockaddr *)&a, sizeof(a)) < 0 &&
		    errno != EINPROGRESS)
			fail_msg("connect %d: %s", i, strerror(errno));
		p[i - from] = (struct pollfd){fds[i], POLLOUT, 0};
	}
	for (i = from; i < to; i++) {
		if (poll(&p[i - from], 1, 10000) <= 0 ||
		    getsockopt(fds[i], SOL_SOCKET, SO_ERROR, &err, &len) < 0 ||
		    err != 0)
			fail_msg("connect %d did not complete", i);
	}
}

/* Sends "<tag>NNNNN\n" on fds[from..to), then reads each one back. */
static void
round_trips(int *fds, int from, int to, char tag, int ms)
{
	static char got[MANY][8];
	static unsigned char have[MANY];
	struct pollfd *p = calloc(to - from, sizeof(*p));
	char want[16];
	long end = now_ms() + ms;
	int i, left = to - from;
	ssize_t n;

	for (i = from; i < to; i++) {
		snprintf(want, sizeof(want), "%c%05d\n", tag, i);
		if (send(fds[i], want, 7, MSG_NOSIGNAL) != 7)
			fail_msg("send %d: %s", i, strerror(errno));
		have[i] = 0;
	}
	while (left > 0 && now_ms() < end) {
		for (i = from; i < to; i++)
			p[i - from] = (struct pollfd){
			    have[i] < 7 ? fds[i] : -1, POLLIN, 0};
		if (poll(p, to - from, 100) < 0)
			fail_msg("poll: %s", strerror(errno));
		for (i = from; i < to; i++) {
			if (!(p[i - from].revents & (POLLIN | POLLHUP)))
				continue;
			n = recv(fds[i], got[i] + have[i], 7 - have[i], 0);
			if (n <= 0)
				fail_msg("connection %d closed", i);
			have[i] += n;
			if (have[i] < 7)
				continue;
			snprintf(want, sizeof(want), "%c%05d\n", tag, i);
			if (memcmp(got[i], want, 7) != 0)
				fail_msg("connection %d: \"%.7s\"", i, got[i]);
			left--;
		}
	}
	free(p);
	if (left > 0)
		fail_msg("%d of %d connections got no answer", left, to - from);
}

/* The test's own limit, put back by its teardown. */
static struct rlimit nofile;
static int nofile_saved;

static int
teardown_nofile(void **state)
{
	if (nofile_saved)
		setrlimit(RLIMIT_NOFILE, &nofile);
	nofile_saved = 0;
	return fix_teardown(state);
}

static void
test_ten_thousand_concurrent_round_trips(void **state)
{
	struct fix *f = *state;
	struct rlimit rl;
	int *fds = calloc(MANY, sizeof(int)), i;
	long t0;

	assert_int_equal(getrlimit(RLIMIT_NOFILE, &nofile), 0);
	nofile_saved = 1;
	rl = nofile;
	rl.rlim_cur = rl.rlim_max;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_cur < MANY + 100)
		skip();
	sd_write(&f->d, "test.lua", "%s", ECHO_LUA);
	fix_conf_test(
	    f, "max_connections = 20000;\n", "max_connections = 20000;");
	fix_start(f);
	t0 = now_ms();
	for (i = 0; i < MANY; i += BATCH) {
		connect_batch(fds, i, i + BATCH, f->port);
		round_trips(fds, i, i + BATCH, 'a', 10000);
		if (now_ms() - t0 > 30000)
			fail_msg("only %d connections in 30 s", i);
	}
	/* All 10,000 open at once: each answers again. */
	round_trips(fds, 0, MANY, 'b', 15000);
	print_message("    %d connections, two round trips each, %ld ms\n",
	    MANY, now_ms() - t0);
	assert_int_equal(sd_log_count(&f->d, "refused"), 0);
	assert_healthy(f);
	for (i = 0; i < MANY; i++)
		close(fds[i]);
	free(fds);
	assert_int_equal(sd_stop(&f->d), 0);
}

/* 9. UDP reflection. */

#define UDP_LUA                                                 \
	"function main(s)\n"                                    \
	"  local d = s:read()\n"                                \
	"  local _, port = s:getpeername()\n"                   \
	"  print('dgram ' .. port .. ' ' .. d)\n"               \
	"  if d == 'big' then\n"                                \
	"    local ok, err = s:write(string.rep('x', 70000))\n" \
	"    s:write('err=' .. tostring(err))\n"                \
	"  else\n"                                              \
	"    s:write(d)\n"                                      \
	"  end\n"                                               \
	"end\n"

static void
start_udp(struct fix *f)
{
	char svc[512];

	sd_write(&f->d, "test.lua", "%s", UDP_LUA);
	sd_write(&f->d, "echo.lua", "%s", ECHO_LUA);
	snprintf(svc, sizeof(svc),
	    "  { name = \"test\"; port = %d; address = \"127.0.0.1\";"
	    " protocol = [\"udp\"]; script = \"test.lua\"; },\n",
	    f->port);
	fix_conf(f, "", svc);
	fix_start(f);
}

/* A UDP datagram with any source port, through a raw socket (root). */
static int
send_spoofed(int raw, int from, int to, const char *msg)
{
	struct sockaddr_in a = {0};
	unsigned char pkt[512];
	size_t n = strlen(msg);

	pkt[0] = from >> 8;
	pkt[1] = from & 0xff;
	pkt[2] = to >> 8;
	pkt[3] = to & 0xff;
	pkt[4] = (8 + n) >> 8;
	pkt[5] = (8 + n) & 0xff;
	pkt[6] = pkt[7] = 0; /* no checksum: allowed over IPv4 */
	memcpy(pkt + 8, msg, n);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return sendto(raw, pkt, 8 + n, 0, (struct sockaddr *)&a, sizeof(a)) ==
		       (ssize_t)(8 + n)
		   ? 0
		   : -1;
}

static void
test_udp_spoofed_from_own_ports_is_dropped(void **state)
{
	struct fix *f = *state;
	char buf[256], needle[64];
	int raw, fd, port;

	raw = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_UDP);
	if (raw < 0)
		skip();
	start_udp(f);
	/* The raw path works: spoofed from our own socket, answered there. */
	fd = udp_open("127.0.0.1", 0, 0);
	assert_true(fd >= 0);
	port = local_port(fd);
	assert_int_equal(send_spoofed(raw, port, f->port, "probe"), 0);
	assert_int_equal(udp_recv(fd, buf, sizeof(buf), 2000), 5);
	assert_string_equal(buf, "probe");
	/* From the service's own port to itself, and from the echo's. */
	assert_int_equal(send_spoofed(raw, f->port, f->port, "self"), 0);
	assert_int_equal(send_spoofed(raw, f->echo, f->port, "other"), 0);
	usleep(500000);
	snprintf(needle, sizeof(needle), "dgram %d self", f->port);
	assert_int_equal(sd_log_count(&f->d, needle), 0);
	snprintf(needle, sizeof(needle), "dgram %d other", f->echo);
	assert_int_equal(sd_log_count(&f->d, needle), 0);
	assert_int_equal(sd_log_count(&f->d, "test: dgram "), 1);
	close(raw);
	assert_int_equal(udp_send(fd, "127.0.0.1", f->port, "after", 5), 0);
	assert_int_equal(udp_recv(fd, buf, sizeof(buf), 2000), 5);
	assert_string_equal(buf, "after");
	close(fd);
	assert_healthy(f);
	assert_int_equal(sd_stop(&f->d), 0);
}

/* 10. IPv4-mapped peers. */

static void
test_mapped_peer_limited_and_logged_as_ipv4(void **state)
{
	struct fix *f = *state;
	char svc[512], needle[96];
	int a, b, c, pa, pb;

	sd_write(&f->d, "test.lua",
	    "function main(s)\n"
	    "  s:write('hello ', (s:getpeername()), '\\n')\n"
	    "  while s:read() do end\n"
	    "end\n");
	snprintf(svc, sizeof(svc),
	    "  { name = \"test\"; port = %d; address = \"::\";"
	    " per_source = 1; script = \"test.lua\"; },\n",
	    f->port);
	fix_conf(f, "", svc);
	fix_start(f);
	a = tcp_connect(f->port);
	assert_true(a >= 0);
	pa = local_port(a);
	assert_int_equal(expect_line(a, "hello 127.0.0.1\n"), 0);
	b = tcp_connect(f->port);
	assert_true(b >= 0);
	pb = local_port(b);
	expect_all(b, "", 3000);
	close(b);
	snprintf(needle, sizeof(needle),
	    "test: tcp 127.0.0.1:%d: refused: "
	    "per_source",
	    pb);
	assert_int_equal(sd_log_wait(&f->d, needle, 1, 3000), 1);
	close(a);
	snprintf(needle, sizeof(needle), "test: tcp 127.0.0.1:%d: ", pa);
	assert_int_equal(
	    sd_log_lines_wait(&f->d, needle, "closed by peer", 1, 3000), 1);
	c = tcp_connect(f->port);
	assert_true(c >= 0);
	assert_int_equal(expect_line(c, "hello 127.0.0.1\n"), 0);
	close(c);
	assert_int_equal(sd_log_count(&f->d, "::ffff:"), 0);
	assert_healthy(f);
	assert_int_equal(sd_stop(&f->d), 0);
}

/* 11. Drip-feeding. */

#define DRIP_LUA                                     \
	"function main(s)\n"                         \
	"  local l, err = s:read('l')\n"             \
	"  if l then s:write('line ', l, '\\n')\n"   \
	"  else s:write(tostring(err), '\\n') end\n" \
	"end\n"

static void
test_drip_feed_meets_timeout_not_idle_timeout(void **state)
{
	struct fix *f = *state;
	int idle_port = free_port(), fd, sent = 0;
	char svc[1024], buf[256], want[256];
	long t0, took;

	sd_write(&f->d, "test.lua", "%s", DRIP_LUA);
	snprintf(svc, sizeof(svc),
	    "  { name = \"test\"; port = %d; address = \"127.0.0.1\";"
	    " script = \"test.lua\"; timeout = 1; idle_timeout = 0; },\n"
	    "  { name = \"idle\"; port = %d; address = \"127.0.0.1\";"
	    " script = \"test.lua\"; idle_timeout = 1; },\n",
	    f->port, idle_port);
	fix_conf(f, "", svc);
	fix_start(f);
	fd = tcp_connect(f->port);
	assert_true(fd >= 0);
	t0 = now_ms();
	while (quiet_for(fd, 200) && now_ms() - t0 < 5000) {
		assert_int_equal(send_str(fd, "x"), 0);
		sent++;
	}
	took = now_ms() - t0;
	assert_int_equal(expect_line(fd, "timeout\n"), 0);
	print_message(
	    "    timeout after %ld ms, %d bytes dripped\n", took, sent);
	assert_true(took >= 900 && took < 2000);
	assert_true(sent >= 4);
	close(fd);
	/* idle_timeout alone: every byte resets it. */
	fd = tcp_connect(idle_port);
	assert_true(fd >= 0);
	t0 = now_ms();
	for (sent = 0; now_ms() - t0 < 2500; sent++) {
		assert_int_equal(send_str(fd, "x"), 0);
		if (!quiet_for(fd, 200))
			fail_msg("idle service answered or closed after %ld "
				 "ms",
			    now_ms() - t0);
	}
	assert_int_equal(send_str(fd, "\n"), 0);
	memset(want, 'x', sent);
	snprintf(buf, sizeof(buf), "line %.*s\n", sent, want);
	assert_int_equal(expect_line(fd, buf), 0);
	close(fd);
	assert_healthy(f);
	assert_int_equal(sd_stop(&f->d), 0);
}

/* 12. Counters never leak. */

#define COUNT_LUA                                                        \
	"function main(s)\n"                                             \
	"  local mode = s:read()\n"                                      \
	"  if mode == 'hold' then\n"                                     \
	"    s:write('ok hold\\n')\n"                                    \
	"    while s:read() do end\n"                                    \
	"  elseif mode == 'ret' then s:write('ok ret\\n')\n"             \
	"  elseif mode == 'err' then error('planned')\n"                 \
	"  elseif mode == 'cpu' then while true do end\n"                \
	"  elseif mode == 'mem' then\n"                                  \
	"    local t = {}\n"                                             \
	"    for i = 1, 1e9 do t[i] = string.rep('m', 1000) .. i end\n"  \
	"  elseif mode == 'tmo' then\n"                                  \
	"    s:settimeout(0.05)\n"                                       \
	"    local l, err = s:read()\n"                                  \
	"    s:write(tostring(err), '\\n')\n"                            \
	"  elseif mode == 'slow' then\n"                                 \
	"    superd.spawn(function() for i = 1, 1000 do\n"               \
	"      if not s:write(string.rep('z', 100000)) then break end\n" \
	"    end end)\n"                                                 \
	"    while s:read() do end\n"                                    \
	"  end\n"                                                        \
	"end\n"

static const struct way {
	const char *mode, *reply, *why;
	int rst;
} ways[] = {
    {"hold", "ok hold\n", "closed by peer", 0},
    {"hold", "ok hold\n", "reset by peer", 1},
    {"ret", "ok ret\n", "closed by script", 0},
    {"err", NULL, "script error", 0},
    {"cpu", NULL, "script error", 0},
    {"mem", NULL, "script error", 0},
    {"tmo", "timeout\n", "closed by script", 0},
    {"slow", NULL, "slow consumer", 0},
};

/*
 * Waits for the n-th "test: tcp" line with why (n counted before the
 * connection: a refusal is logged before connect returns), then checks
 * it is the one for src:port.
 */
static void
wait_end(struct fix *f, const char *src, int port, const char *why, int n)
{
	char needle[96];

	snprintf(needle, sizeof(needle), "test: tcp %s:%d: ", src, port);
	if (sd_log_lines_wait(&f->d, "test: tcp ", why, n, 5000) < n ||
	    sd_log_lines(&f->d, needle, why) < 1)
		fail_msg("no \"%s\" logged for %s:%d", why, src, port);
}

static int
before(struct fix *f, const char *why)
{
	return sd_log_lines(&f->d, "test: tcp ", why);
}

static void
end_one_way(struct fix *f, const struct way *w)
{
	int n = before(f, w->why), fd = tcp_connect(f->port), port;
	char buf[64];

	assert_true(fd >= 0);
	port = local_port(fd);
	snprintf(buf, sizeof(buf), "%s\n", w->mode);
	assert_int_equal(send_str(fd, buf), 0);
	if (w->reply)
		assert_int_equal(expect_line(fd, w->reply), 0);
	/* a client that reads is never slow: this one reads once dropped */
	if (strcmp(w->mode, "slow") == 0)
		wait_end(f, "127.0.0.1", port, w->why, n + 1);
	if (strcmp(w->mode, "hold") != 0)
		assert_true(wait_closed(fd, 5000));
	if (w->rst)
		reset_close(fd);
	else
		close(fd);
	wait_end(f, "127.0.0.1", port, w->why, n + 1);
}

static int
hold_from(struct fix *f, const char *src)
{
	int fd = tcp_connect_from(src, f->port, 0);

	assert_true(fd >= 0);
	assert_int_equal(send_str(fd, "hold\n"), 0);
	assert_int_equal(expect_line(fd, "ok hold\n"), 0);
	return fd;
}

/* A connection from src closed at once, unanswered, for why. */
static void
refused_from(struct fix *f, const char *src, const char *why)
{
	int n = before(f, why), fd = tcp_connect_from(src, f->port, 0), port;

	assert_true(fd >= 0);
	port = local_port(fd);
	send(fd, "hold\n", 5, MSG_NOSIGNAL);
	expect_all(fd, "", 3000);
	close(fd);
	wait_end(f, src, port, why, n + 1);
}

static void
close_held(struct fix *f, int fd, const char *src)
{
	int port = local_port(fd), n = before(f, "closed by peer");

	close(fd);
	wait_end(f, src, port, "closed by peer", n + 1);
}

static void
test_counters_never_leak_whatever_ends_a_connection(void **state)
{
	struct fix *f = *state;
	int base, round, h1, h2, h3, i, total = 0;
	size_t w;

	sd_write(&f->d, "test.lua", "%s", COUNT_LUA);
	fix_conf_test(f, "max_connections = 4;\n",
	    "per_source = 2; max_connections = 3; output_limit = 65536;"
	    " memory_limit = 16; cpu_limit = 200000; idle_timeout = 1;"
	    " slow_timeout = 0.5;"
	    " only_from = [\"127.0.0.0/16\"];");
	fix_start(f);
	usleep(100000);
	base = proc_fd_count(f->pid);
	for (round = 0; round < 25; round++) {
		for (w = 0; w < sizeof(ways) / sizeof(ways[0]); w++, total++)
			end_one_way(f, &ways[w]);
		h1 = hold_from(f, NULL);
		h2 = hold_from(f, NULL);
		refused_from(f, "127.0.0.1", "refused: per_source");
		close_held(f, h1, "127.0.0.1");
		close_held(f, h2, "127.0.0.1");
		total += 3;
	}
	/* Idle timeouts, two at once, and the access list. */
	h1 = hold_from(f, NULL);
	h2 = hold_from(f, NULL);
	wait_end(f, "127.0.0.1", local_port(h1), "timeout", 2);
	wait_end(f, "127.0.0.1", local_port(h2), "timeout", 2);
	assert_true(wait_closed(h1, 3000) && wait_closed(h2, 3000));
	close(h1);
	close(h2);
	for (i = 0; i < 3; i++)
		refused_from(f, "127.1.0.1", "refused: only_from");
	total += 5;
	print_message("    %d connections ended\n", total);
	assert_true(abs(proc_fd_count(f->pid) - base) <= 2);
	/* Every count back at zero: each limit admits exactly its number. */
	h1 = hold_from(f, NULL);
	h2 = hold_from(f, NULL);
	refused_from(f, "127.0.0.1", "refused: per_source");
	h3 = hold_from(f, "127.0.0.2");
	refused_from(f, "127.0.0.3", "refused: max_connections");
	assert_healthy(f);
	close_held(f, h1, "127.0.0.1");
	close_held(f, h2, "127.0.0.1");
	close_held(f, h3, "127.0.0.2");
	assert_int_equal(sd_stop(&f->d), 0);
}

/* 13. Reload under load. */

#define RCLIENTS 50

struct rt {
	int fd, n;
	size_t got;
	long sent_at;
	char want[32], buf[32];
};

static void
rt_send(struct rt *r, int i)
{
	snprintf(r->want, sizeof(r->want), "c%02d-%06d\n", i, r->n);
	r->got = 0;
	r->sent_at = now_ms();
	if (send_str(r->fd, r->want) < 0)
		fail_msg("client %d: send: %s", i, strerror(errno));
}

static void
rt_open(struct rt *r, int i, int port)
{
	if ((r->fd = tcp_connect_from(NULL, port, 0)) < 0)
		fail_msg("client %d: connect: %s", i, strerror(errno));
	rt_send(r, i);
}

/* Reads what came for client i; a whole echo starts the next one. */
static void
rt_read(struct rt *r, int i, int port)
{
	size_t want = strlen(r->want);
	ssize_t n = recv(r->fd, r->buf + r->got, want - r->got, MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0)
		fail_msg("client %d: %s after %d round trips", i,
		    n == 0 ? "EOF" : strerror(errno), r->n);
	if ((r->got += n) < want)
		return;
	if (memcmp(r->buf, r->want, want) != 0)
		fail_msg("client %d: echo \"%.*s\", want \"%s\"", i, (int)want,
		    r->buf, r->want);
	/* Every 100 round trips a new connection, so accepts go on too. */
	if (++r->n % 100 == 0) {
		close(r->fd);
		rt_open(r, i, port);
	} else {
		rt_send(r, i);
	}
}

static void
rt_pump(struct rt *rt, int port, int ms)
{
	struct pollfd p[RCLIENTS];
	long end = now_ms() + ms;
	int i;

	do {
		for (i = 0; i < RCLIENTS; i++)
			p[i] = (struct pollfd){rt[i].fd, POLLIN, 0};
		if (poll(p, RCLIENTS, 2) < 0)
			fail_msg("poll: %s", strerror(errno));
		for (i = 0; i < RCLIENTS; i++) {
			if (p[i].revents)
				rt_read(&rt[i], i, port);
			else if (now_ms() - rt[i].sent_at > 5000)
				fail_msg("client %d: no echo in 5 s", i);
		}
	} while (now_ms() < end);
}

/* The inode of the socket listening on 127.0.0.1:port (0: none). */
static unsigned long
listen_inode(int port)
{
	FILE *f = fopen("/proc/net/tcp", "r");
	unsigned long inode, found = 0;
	unsigned int p, st;
	char line[512];

	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line,
			" %*s %*[0-9A-Fa-f]:%x %*s %x %*s %*s %*s %*u %*u "
			"%lu",
			&p, &st, &inode) == 3 &&
		    (int)p == port && st == 0x0A)
			found = inode;
	if (f != NULL)
		fclose(f);
	return found;
}

static int
holds_inode(pid_t pid, unsigned long inode)
{
	char path[320], link[64], want[64];
	struct dirent *e;
	int found = 0;
	ssize_t n;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	snprintf(want, sizeof(want), "socket:[%lu]", inode);
	if ((dir = opendir(path)) == NULL)
		return 0;
	while ((e = readdir(dir)) != NULL && !found) {
		snprintf(
		    path, sizeof(path), "/proc/%d/fd/%s", (int)pid, e->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		link[n > 0 ? n : 0] = '\0';
		found = strcmp(link, want) == 0;
	}
	closedir(dir);
	return found;
}

/* A SIGHUP with a syntax error on line 3, then the good file back. */
static void
broken_hup(struct fix *f, struct rt *rt)
{
	const char *keep = "keeping the running configuration";
	int n = sd_log_lines(&f->d, keep, NULL);
	long end = now_ms() + 5000;

	sd_write(&f->d, "superd.conf",
	    "shutdown_timeout = 1;\n"
	    "services = (\n"
	    "  { name = \"test\"; port = ; }\n"
	    ");\n");
	assert_int_equal(sd_signal(&f->d, SIGHUP), 0);
	while (sd_log_lines(&f->d, keep, NULL) == n && now_ms() < end)
		rt_pump(rt, f->port, 20);
	assert_int_equal(sd_log_lines(&f->d, keep, NULL), n + 1);
	fix_conf_test(f, "", "");
}

static void
test_reload_under_load_loses_nothing(void **state)
{
	struct fix *f = *state;
	struct rt rt[RCLIENTS];
	unsigned long inode;
	char where[256];
	int i, trips = 0;

	memset(rt, 0, sizeof(rt));
	fix_start_test(f, ECHO_LUA, "");
	inode = listen_inode(f->port);
	assert_true(inode != 0 && holds_inode(f->pid, inode));
	for (i = 0; i < RCLIENTS; i++)
		rt_open(&rt[i], i, f->port);
	for (i = 0; i < 200; i++) {
		assert_int_equal(sd_signal(&f->d, i % 2 ? SIGUSR1 : SIGHUP), 0);
		rt_pump(rt, f->port, 10);
		if (i % 67 == 33)
			broken_hup(f, rt);
	}
	rt_pump(rt, f->port, 500);
	for (i = 0; i < RCLIENTS; i++) {
		trips += rt[i].n;
		close(rt[i].fd);
	}
	print_message("    %d round trips; %d SIGHUP loads, %d reloads\n",
	    trips, sd_log_count(&f->d, "SIGHUP: configuration"),
	    sd_log_count(&f->d, "test: reloaded"));
	assert_true(sd_log_count(&f->d, "SIGHUP: configuration") > 0);
	assert_true(sd_log_count(&f->d, "test: reloaded") > 0);
	assert_int_equal(
	    sd_log_count(&f->d, "keeping the running configuration"), 3);
	snprintf(where, sizeof(where), "%s:3:", f->d.conf);
	assert_int_equal(sd_log_lines(&f->d, where, "keeping the running"), 3);
	assert_int_equal(sd_log_count(&f->d, "refused"), 0);
	assert_int_equal(listen_inode(f->port), inode);
	assert_true(holds_inode(f->pid, inode));
	assert_healthy(f);
	assert_int_equal(sd_stop(&f->d), 0);
}

/* 14. The C boundary. */

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

/* 17. What one script can do to the daemon and to other coroutines. */

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

#define RESUME_LUA                                                           \
	"function main(s)\n"                                                 \
	"  local l = s:read()\n"                                             \
	"  if l == 'victim' then\n"                                          \
	"    VICTIM = coroutine.running()\n"                                 \
	"    superd.sleep(0.3)\n"                                            \
	"    s:write('victim woke\\n')\n"                                    \
	"  elseif l == 'attacker' then\n"                                    \
	"    s:write(tostring(select(2, coroutine.resume(VICTIM))), "        \
	"'\\n')\n"                                                           \
	"  elseif l == 'parked' then\n"                                      \
	"    local co = coroutine.create(function()\n"                       \
	"      superd.sleep(0.2) return 'slept' end)\n"                      \
	"    superd.spawn(function()\n"                                      \
	"      print('spawn resume:', coroutine.resume(co)) end)\n"          \
	"    s:write('parked ', tostring(select(2, coroutine.resume(co))), " \
	"'\\n')\n"                                                           \
	"  end\n"                                                            \
	"end\n"

/*
 * A coroutine superd runs (another connection's main) or that waits in
 * superd (a sleep) is not a script's to resume: it gets an error, and
 * the owner goes on as if nothing had happened.
 */
static void
test_script_cannot_resume_a_coroutine_superd_holds(void **state)
{
	struct fix *f = *state;
	int victim, attacker, parked;
	char buf[256];
	long t0;

	fix_start_test(f, RESUME_LUA, "");
	victim = tcp_connect(f->port);
	t0 = now_ms();
	assert_int_equal(send_str(victim, "victim\n"), 0);
	usleep(50000);
	attacker = tcp_connect(f->port);
	assert_int_equal(send_str(attacker, "attacker\n"), 0);
	assert_true(recv_line(attacker, buf, sizeof(buf), 3000) > 0);
	assert_has(buf, "cannot resume a coroutine that superd runs");
	assert_int_equal(expect_line(victim, "victim woke\n"), 0);
	assert_true(now_ms() - t0 >= 280);

	parked = tcp_connect(f->port);
	assert_int_equal(send_str(parked, "parked\n"), 0);
	assert_int_equal(expect_line(parked, "parked slept\n"), 0);
	assert_int_equal(
	    sd_log_wait(&f->d, "spawn resume:\tfalse\t", 1, 2000), 1);
	close(victim);
	close(attacker);
	close(parked);
	assert_healthy(f);
	assert_int_equal(sd_stop(&f->d), 0);
}

/* At reload, coroutines that pcall catches cannot stretch the limit. */
static void
test_reload_looping_through_coroutines_meets_cpu_limit(void **state)
{
	struct fix *f = *state;
	int fd;

	fix_start_test(f,
	    "if RELOADED then\n"
	    "  while true do\n"
	    "    pcall(coroutine.wrap(function() while true do end end))\n"
	    "  end\n"
	    "end\n"
	    "RELOADED = true\n" ECHO_LUA,
	    "cpu_limit = 100000;");
	sd_signal(&f->d, SIGUSR1);
	assert_int_equal(sd_log_wait(&f->d, "reload failed", 1, 5000), 1);
	fd = tcp_connect(f->port);
	assert_int_equal(send_str(fd, "still\n"), 0);
	assert_int_equal(expect_line(fd, "still\n"), 0);
	close(fd);
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

/* A reload raising a table is logged as such, not as "(null)". */
static void
test_reload_error_object_that_is_a_table_is_named(void **state)
{
	struct fix *f = *state;

	fix_start_test(f,
	    "if RELOADED then error({}) end\n"
	    "RELOADED = true\n" ECHO_LUA,
	    "");
	sd_signal(&f->d, SIGUSR1);
	assert_int_equal(
	    sd_log_wait(&f->d, "(error object is a table value)", 1, 3000), 1);
	assert_int_equal(sd_log_count(&f->d, "(null)"), 0);
	assert_healthy(f);
	assert_int_equal(sd_stop(&f->d), 0);
}

/*
 * One write of 60 arguments of 8 MiB (one string, 480 MiB in all) to a
 * client that does not read is queued a part at a time, not copied
 * whole into superd's buffers.
 */
static void
test_write_of_many_big_arguments_is_queued_in_parts(void **state)
{
	struct fix *f = *state;
	long rss;
	int fd;

	fix_start_test(f,
	    "function main(s)\n"
	    "  local x, t = string.rep('x', 8 * 2^20), {}\n"
	    "  for i = 1, 60 do t[i] = x end\n"
	    "  print('writing')\n"
	    "  s:write(table.unpack(t))\n"
	    "end\n",
	    "");
	fd = tcp_connect(f->port);
	assert_int_equal(sd_log_wait(&f->d, "writing", 1, 3000), 1);
	usleep(500000);
	rss = proc_rss_kb(f->pid);
	close(fd);
	if (rss > 120 * 1024)
		fail_msg(
		    "superd's RSS is %ld KiB with one big write queued", rss);
	assert_healthy(f);
	assert_int_equal(sd_stop(&f->d), 0);
}

#define TEST(t) cmocka_unit_test_setup_teardown(t, fix_setup, fix_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    TEST(test_read_line_too_long_returns_error_then_next_line),
	    TEST(test_newline_free_flood_keeps_rss_flat),
	    TEST(test_slow_consumer_dropped_others_get_every_line),
	    TEST(test_cpu_limit_kills_runaway_loops_even_under_pcall),
	    TEST(test_cpu_limit_kills_looping_handler_of_cpu_error),
	    TEST(test_cpu_limit_kills_looping_handler_of_plain_error),
	    TEST(test_script_looping_at_top_level_fails_start),
	    TEST(test_reload_of_looping_script_keeps_old_version),
	    TEST(test_memory_error_costs_only_its_coroutine),
	    TEST(test_error_at_memory_limit_is_logged_with_its_peer),
	    TEST(test_connections_at_memory_limit_are_closed),
	    TEST(test_sandbox_removes_escapes_and_binary_chunks),
	    TEST(test_out_of_descriptors_pauses_without_spinning),
	    TEST(test_vanishing_peers_cost_nothing_and_fini_runs_once),
	    cmocka_unit_test_setup_teardown(
		test_ten_thousand_concurrent_round_trips, fix_setup,
		teardown_nofile),
	    TEST(test_udp_spoofed_from_own_ports_is_dropped),
	    TEST(test_mapped_peer_limited_and_logged_as_ipv4),
	    TEST(test_drip_feed_meets_timeout_not_idle_timeout),
	    TEST(test_counters_never_leak_whatever_ends_a_connection),
	    TEST(test_reload_under_load_loses_nothing),
	    TEST(test_c_boundary_many_values_and_deep_nesting),
	    TEST(test_spawn_with_8000_arguments),
	    TEST(test_main_dropping_its_socket_is_safe),
	    TEST(test_script_cannot_resume_a_coroutine_superd_holds),
	    TEST(test_reload_looping_through_coroutines_meets_cpu_limit),
	    TEST(test_reload_error_object_that_is_a_table_is_named),
	    TEST(test_nan_times_are_errors),
	    TEST(test_write_of_many_big_arguments_is_queued_in_parts),
	};
	if (getenv("TEST_FILTER") != NULL)
		cmocka_set_test_filter(getenv("TEST_FILTER"));
	return cmocka_run_group_tests_name("hardening", tests, NULL, NULL);
}
