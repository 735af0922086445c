/* test_socket_api.c - the Lua socket object and the superd table, as seen
 * by a client: read formats, timeouts, coroutines, back-pressure. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client.h"

/* The superd a test runs, so a failed assertion still stops it. */
static struct superd live;

/* Starts superd with one service "name" running t.lua, plus extra settings. */
static int
serve_with(
    struct superd *d, const char *name, const char *extra, const char *script)
{
	int port = sd_served(d, name, extra, script);

	live = *d;
	return port;
}

static int
serve(struct superd *d, const char *script)
{
	return serve_with(d, "t", "", script);
}

static void
stop(struct superd *d)
{
	memset(&live, 0, sizeof(live));
	assert_int_equal(sd_stop(d), 0);
	sd_cleanup(d);
}

static int
reap(void **state)
{
	(void)state;
	if (live.pid > 0 || live.dir[0])
		sd_cleanup(&live);
	memset(&live, 0, sizeof(live));
	return 0;
}

/* Reads exactly strlen(want) bytes and compares them. */
#define expect(fd, want, ms) expect_at(fd, want, ms, __FILE__, __LINE__)

static void
expect_at(int fd, const char *want, int ms, const char *file, int line)
{
	size_t n = strlen(want);
	char *buf = calloc(1, n + 1);
	ssize_t got;

	assert_non_null(buf);
	got = recv_n(fd, buf, n, ms);
	buf[got > 0 ? got : 0] = '\0';
	_assert_string_equal(buf, want, file, line);
	free(buf);
}

static const char echo_script[] = "function main(s)\n"
				  "  while true do\n"
				  "    local d = s:readsome(65536)\n"
				  "    if not d then return end\n"
				  "    s:write(d)\n"
				  "  end\n"
				  "end\n";

/* Echo. */

static void
test_echo_200k_binary_all_byte_values(void **state)
{
	enum { LEN = 200000 };
	unsigned char *out = malloc(LEN), *in = calloc(1, LEN + 1);
	struct superd d;
	int port, fd, status, seen[256] = {0}, i;
	pid_t pid;

	(void)state;
	assert_non_null(out);
	assert_non_null(in);
	for (i = 0; i < LEN; i++) {
		out[i] = (unsigned char)(i * 7 + i / 256);
		seen[out[i]] = 1;
	}
	for (i = 0; i < 256; i++)
		assert_true(seen[i]);
	port = serve(&d, echo_script);
	fd = connect_ok(port);
	/* A child sends, so neither side waits on the other's buffer. */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int r = send_all(fd, out, LEN);

		shutdown(fd, SHUT_WR);
		_exit(r == 0 ? 0 : 1);
	}
	assert_int_equal(recv_all(fd, in, LEN + 1, 5000), LEN);
	assert_memory_equal(in, out, LEN);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(fd);
	free(out);
	free(in);
	stop(&d);
}

static void
test_echo_after_half_close_returns_all_then_eof(void **state)
{
	struct superd d;
	char buf[64] = {0};
	int port, fd;

	(void)state;
	port = serve(&d, echo_script);
	fd = connect_ok(port);
	assert_int_equal(send_str(fd, "hello, half-closed world\n"), 0);
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	assert_int_equal(recv_all(fd, buf, sizeof(buf) - 1, 3000), 25);
	assert_string_equal(buf, "hello, half-closed world\n");
	close(fd);
	stop(&d);
}

/* Read formats. */

static void
test_read_line_strips_lf_and_crlf(void **state)
{
	struct superd d;
	int port, fd;

	(void)state;
	port = serve(&d, "function main(s)\n"
			 "  local a = s:read()\n"
			 "  local b = s:read('l')\n"
			 "  s:write('[', a, '][', b, ']\\n')\n"
			 "end\n");
	fd = connect_ok(port);
	assert_int_equal(send_str(fd, "one\r\ntwo\n"), 0);
	expect(fd, "[one][two]\n", 3000);
	assert_int_equal(wait_closed(fd, 3000), 1);
	close(fd);
	stop(&d);
}

static void
test_read_L_keeps_line_end(void **state)
{
	struct superd d;
	int port, fd;

	(void)state;
	port = serve(&d, "function main(s)\n"
			 "  local a = s:read('L')\n"
			 "  local b = s:read('L')\n"
			 "  s:write(#a, ':', a, #b, ':', b)\n"
			 "end\n");
	fd = connect_ok(port);
	assert_int_equal(send_str(fd, "one\r\ntwo\n"), 0);
	expect(fd, "5:one\r\n4:two\n", 3000);
	close(fd);
	stop(&d);
}

static void
test_read_star_formats_accepted(void **state)
{
	struct superd d;
	int port, fd;

	(void)state;
	port = serve(&d, "function main(s)\n"
			 "  local a = s:read('*l')\n"
			 "  local b = s:read('*L')\n"
			 "  local c = s:read('*a')\n"
			 "  s:write('[', a, '][', b, '][', c, ']\\n')\n"
			 "end\n");
	fd = connect_ok(port);
	assert_int_equal(send_str(fd, "x\r\ny\nrest\nof it"), 0);
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	expect(fd, "[x][y\n][rest\nof it]\n", 3000);
	close(fd);
	stop(&d);
}

static void
test_read_a_waits_until_peer_half_closes(void **state)
{
	struct superd d;
	int port, fd;

	(void)state;
	port = serve(&d, "function main(s)\n"
			 "  local a = s:read('a')\n"
			 "  s:write(#a, ':', a, '\\n')\n"
			 "end\n");
	fd = connect_ok(port);
	assert_int_equal(send_str(fd, "part1\n"), 0);
	/* Not yet: the peer has not closed. */
	assert_int_equal(quiet_for(fd, 300), 1);
	assert_int_equal(send_str(fd, "part2"), 0);
	assert_int_equal(quiet_for(fd, 100), 1);
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	expect(fd, "11:part1\npart2\n", 3000);
	close(fd);
	stop(&d);
}

static void
test_readsome_returns_what_arrived_without_waiting(void **state)
{
	struct superd d;
	long t0;
	int port, fd;

	(void)state;
	port = serve(&d, "function main(s)\n"
			 "  local a = s:readsome(100)\n"
			 "  s:write(#a, ':', a, '\\n')\n"
			 "  local b = s:readsome(2)\n"
			 "  local c = s:readsome(100)\n"
			 "  s:write(b, '|', c, '\\n')\n"
			 "end\n");
	fd = connect_ok(port);
	t0 = now_ms();
	assert_int_equal(send_str(fd, "abc"), 0);
	expect(fd, "3:abc\n", 2000);
	assert_true(now_ms() - t0 < 1000);
	/* At most n bytes: readsome(2) of "xyz" leaves "z" for the next. */
	assert_int_equal(send_str(fd, "xyz"), 0);
	expect(fd, "xy|z\n", 2000);
	close(fd);
	stop(&d);
}

/* read(n) as io.read(n): it waits for all n bytes, fewer only at EOF. */
static void
test_read_number_waits_for_exactly_n_bytes(void **state)
{
	struct superd d;
	int port, fd;

	(void)state;
	port = serve(&d, "function main(s)\n"
			 "  local a = s:read(5)\n"
			 "  s:write(a, '|')\n"
			 "  local b = s:read(4)\n"
			 "  s:write(b, '|', tostring(s:read(1)), '\\n')\n"
			 "end\n");
	fd = connect_ok(port);
	assert_int_equal(send_str(fd, "ab"), 0);
	usleep(200 * 1000);
	assert_int_equal(send_str(fd, "cdefg"), 0);
	expect(fd, "abcde|", 2000);
	assert_int_equal(send_str(fd, "h"), 0);
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	expect(fd, "fgh|nil\n", 2000);
	close(fd);
	stop(&d);
}

static void
test_read_line_returns_last_line_without_newline_at_eof(void **state)
{
	struct superd d;
	int port, fd;

	(void)state;
	port = serve(&d, "function main(s)\n"
			 "  local a = s:read()\n"
			 "  local b = s:read()\n"
			 "  s:write('[', a, '][', b, ']\\n')\n"
			 "end\n");
	fd = connect_ok(port);
	assert_int_equal(send_str(fd, "first\nlast"), 0);
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	expect(fd, "[first][last]\n", 3000);
	close(fd);
	stop(&d);
}

static void
test_read_at_eof_returns_nil_closed(void **state)
{
	struct superd d;
	int port, fd;

	(void)state;
	port = serve(&d, "function main(s)\n"
			 "  local a = s:read()\n"
			 "  local d, err = s:read()\n"
			 "  s:write(a, ' ', tostring(d), ' ', tostring(err), "
			 "'\\n')\n"
			 "end\n");
	fd = connect_ok(port);
	assert_int_equal(send_str(fd, "only\n"), 0);
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	expect(fd, "only nil closed\n", 3000);
	close(fd);
	stop(&d);
}

static void
test_read_count_at_eof_returns_nil_closed(void **state)
{
	struct superd d;
	int port, fd;

	(void)state;
	port = serve(&d, "function main(s)\n"
			 "  local a = s:read(10)\n"
			 "  local d, err = s:read(10)\n"
			 "  s:write(a, ' ', tostring(d), ' ', tostring(err), "
			 "'\\n')\n"
			 "end\n");
	fd = connect_ok(port);
	assert_int_equal(send_str(fd, "xy"), 0);
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	expect(fd, "xy nil closed\n", 3000);
	close(fd);
	stop(&d);
}

/* lines(). */

static void
test_lines_iterates_until_peer_closes(void **state)
{
	struct superd d;
	int port, fd;

	(void)state;
	port = serve(&d, "function main(s)\n"
			 "  local n = 0\n"
			 "  for l in s:lines() do\n"
			 "    n = n + 1\n"
			 "    s:write(n, ':', l, '\\n')\n"
			 "  end\n"
			 "  s:write('done ', n, '\\n')\n"
			 "end\n");
	fd = connect_ok(port);
	assert_int_equal(send_str(fd, "a\nb\r\n"), 0);
	expect(fd, "1:a\n2:b\n", 3000);
	assert_int_equal(quiet_for(fd, 200), 1);
	assert_int_equal(send_str(fd, "c\n"), 0);
	expect(fd, "3:c\n", 3000);
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	expect(fd, "done 3\n", 3000);
	assert_int_equal(wait_closed(fd, 3000), 1);
	close(fd);
	stop(&d);
}

static void
test_lines_passes_its_format_to_read(void **state)
{
	struct superd d;
	int port, fd;

	(void)state;
	port = serve(&d, "function main(s)\n"
			 "  local t = {}\n"
			 "  for l in s:lines('L') do t[#t + 1] = #l end\n"
			 "  s:write(table.concat(t, ','), '\\n')\n"
			 "end\n");
	fd = connect_ok(port);
	assert_int_equal(send_str(fd, "ab\ncd\r\ne"), 0);
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	expect(fd, "3,4,1\n", 3000);
	close(fd);
	stop(&d);
}

/* settimeout. */

static void
test_settimeout_read_returns_timeout_when_client_silent(void **state)
{
	struct superd d;
	long t0, dt;
	int port, fd;

	(void)state;
	port = serve(&d, "function main(s)\n"
			 "  s:settimeout(0.3)\n"
			 "  local d, err = s:read()\n"
			 "  s:write(tostring(d), ' ', tostring(err), '\\n')\n"
			 "end\n");
	t0 = now_ms();
	fd = connect_ok(port);
	expect(fd, "nil timeout\n", 3000);
	dt = now_ms() - t0;
	assert_true(dt >= 250);
	assert_true(dt < 1500);
	close(fd);
	stop(&d);
}

static void
test_settimeout_is_a_deadline_for_the_whole_call(void **state)
{
	struct superd d;
	char buf[64];
	long t0, dt = -1;
	int port, fd, i;

	(void)state;
	port = serve(&d, "function main(s)\n"
			 "  s:settimeout(0.3)\n"
			 "  local d, err = s:read()\n"
			 "  s:write(tostring(d), ' ', tostring(err), '\\n')\n"
			 "end\n");
	fd = connect_ok(port);
	t0 = now_ms();
	/* One byte every 100 ms, never a newline, for up to 2 s. */
	for (i = 0; i < 20; i++) {
		send_str(fd, "x");
		if (!quiet_for(fd, 100)) {
			dt = now_ms() - t0;
			break;
		}
	}
	assert_true(dt >= 0);
	assert_true(dt < 1000);
	assert_true(recv_line(fd, buf, sizeof(buf), 2000) > 0);
	assert_string_equal(buf, "nil timeout\n");
	close(fd);
	stop(&d);
}

static void
test_settimeout_nil_removes_it(void **state)
{
	struct superd d;
	int port, fd;

	(void)state;
	port = serve(&d, "function main(s)\n"
			 "  s:settimeout(0.2)\n"
			 "  s:settimeout(nil)\n"
			 "  local d, err = s:read()\n"
			 "  s:write(tostring(d), ' ', tostring(err), '\\n')\n"
			 "end\n");
	fd = connect_ok(port);
	assert_int_equal(quiet_for(fd, 600), 1);
	assert_int_equal(send_str(fd, "late\n"), 0);
	expect(fd, "late nil\n", 3000);
	close(fd);
	stop(&d);
}

static void
test_settimeout_applies_to_write(void **state)
{
	struct superd d;
	int port, fd, rcvbuf = 4096;

	(void)state;
	port = serve(&d, "function main(s)\n"
			 "  if s:read() ~= 'go' then return end\n"
			 "  s:settimeout(0.3)\n"
			 "  local body, r, err = string.rep('z', 65536)\n"
			 "  for i = 1, 1000 do\n"
			 "    r, err = s:write(body)\n"
			 "    if not r then break end\n"
			 "  end\n"
			 "  print('write', r, err)\n"
			 "end\n");
	fd = connect_ok(port);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	assert_int_equal(send_str(fd, "go\n"), 0);
	/* Never reads: the write cannot complete within 0.3 s. */
	assert_int_equal(sd_log_wait(&d, "t: write\tnil\ttimeout", 1, 3000), 1);
	close(fd);
	stop(&d);
}

/*
 * "target" never reads; "writer" fills it past its mark, then makes one
 * more superd call (how = "read" or "sleep"), which waits for the drain:
 * the writer tells how long that call took.
 */
/*
 * The kernel takes up to a few MB for a client that reads nothing (its
 * send buffer grows to tcp_wmem's maximum, 4 MB by default): 12 MB leaves
 * the target well above its mark.
 */
static const char filler_lua[] =
    "function main(s)\n"
    "  local how = s:read()\n"
    "  if how == 'target' then\n"
    "    target = s\n"
    "    s:write('ok\\n')\n"
    "    while s:read() do end\n"
    "    return\n"
    "  end\n"
    "  if how == nil then return end\n"
    "  s:settimeout(1)\n"
    "  target:write(string.rep('x', 12000000))\n"
    "  local t0, r, err = superd.now()\n"
    "  if how == 'read' then r, err = s:read() else superd.sleep(0) end\n"
    "  s:write(string.format('%.1f %s\\n', superd.now() - t0, tostring(err)))\n"
    "end\n";

/* The writer's elapsed seconds and error, as filler_lua reports them. */
static double
slowed_call(int port, const char *how, char err[64])
{
	int target = tcp_connect_from(NULL, port, 4096), fd;
	char line[64];
	double secs = -1;

	assert_true(target >= 0);
	assert_int_equal(send_str(target, "target\n"), 0);
	assert_int_equal(expect_line(target, "ok\n"), 0);
	fd = connect_ok(port);
	snprintf(line, sizeof(line), "%s\n", how);
	assert_int_equal(send_str(fd, line), 0);
	assert_true(recv_line(fd, line, sizeof(line), 10000) > 0);
	assert_int_equal(sscanf(line, "%lf %63s", &secs, err), 2);
	close(fd);
	close(target);
	return secs;
}

static void
test_settimeout_bounds_a_writer_slowed_by_its_targets(void **state)
{
	struct superd d;
	char err[64];
	double secs;
	int port;

	(void)state;
	port = serve_with(&d, "t", "slow_timeout = 5;", filler_lua);
	secs = slowed_call(port, "read", err);
	print_message(
	    "    read after filling a target: %.1f s, %s\n", secs, err);
	assert_string_equal(err, "timeout");
	assert_true(secs >= 0.9 && secs < 2.5);
	stop(&d);
}

static void
test_sleep_waits_for_the_targets_the_caller_filled(void **state)
{
	struct superd d;
	char err[64];
	double secs;
	int port;

	(void)state;
	port = serve_with(&d, "t", "slow_timeout = 1;", filler_lua);
	secs = slowed_call(port, "sleep", err);
	print_message("    sleep(0) after filling a target: %.1f s\n", secs);
	/* until the target was dropped as a slow consumer, 1 s on */
	assert_true(secs >= 0.8 && secs < 3);
	assert_int_equal(sd_log_wait(&d, "slow consumer", 1, 3000), 1);
	stop(&d);
}

static void
test_service_timeout_is_the_default_settimeout(void **state)
{
	struct superd d;
	long t0, dt;
	int port, fd;

	(void)state;
	port = serve_with(&d, "t", "timeout = 1;",
	    "function main(s)\n"
	    "  local d, err = s:read()\n"
	    "  s:write(tostring(d), ' ', tostring(err), '\\n')\n"
	    "end\n");
	t0 = now_ms();
	fd = connect_ok(port);
	expect(fd, "nil timeout\n", 3000);
	dt = now_ms() - t0;
	assert_true(dt >= 900);
	assert_true(dt < 2500);
	close(fd);
	stop(&d);
}

/* Waits pass through pcall, lines loops and user coroutines. */

static void
test_read_inside_pcall_waits_for_client(void **state)
{
	struct superd d;
	int port, fd;

	(void)state;
	port =
	    serve(&d, "function main(s)\n"
		      "  local ok, d = pcall(s.read, s)\n"
		      "  s:write(tostring(ok), ' ', tostring(d), '\\n')\n"
		      "  ok, d = pcall(function() return s:readsome(10) end)\n"
		      "  s:write(tostring(ok), ' ', tostring(d), '\\n')\n"
		      "end\n");
	fd = connect_ok(port);
	assert_int_equal(quiet_for(fd, 200), 1);
	assert_int_equal(send_str(fd, "x\n"), 0);
	expect(fd, "true x\n", 3000);
	assert_int_equal(quiet_for(fd, 200), 1);
	assert_int_equal(send_str(fd, "yz"), 0);
	expect(fd, "true yz\n", 3000);
	close(fd);
	stop(&d);
}

static void
test_read_inside_lines_loop_waits_for_client(void **state)
{
	struct superd d;
	int port, fd;

	(void)state;
	port = serve(&d, "function main(s)\n"
			 "  for l in s:lines() do\n"
			 "    local extra = s:read()\n"
			 "    s:write(l, '+', tostring(extra), '\\n')\n"
			 "  end\n"
			 "end\n");
	fd = connect_ok(port);
	assert_int_equal(send_str(fd, "a\n"), 0);
	assert_int_equal(quiet_for(fd, 200), 1);
	assert_int_equal(send_str(fd, "b\n"), 0);
	expect(fd, "a+b\n", 3000);
	assert_int_equal(send_str(fd, "c\nd\n"), 0);
	expect(fd, "c+d\n", 3000);
	close(fd);
	stop(&d);
}

static void
test_read_inside_coroutine_wrap_waits_for_client(void **state)
{
	struct superd d;
	int port, fd;

	(void)state;
	port = serve(&d, "function main(s)\n"
			 "  local f = coroutine.wrap(function(p)\n"
			 "    local d = s:read()\n"
			 "    local q = coroutine.yield(p .. d)\n"
			 "    return q .. s:read()\n"
			 "  end)\n"
			 "  s:write(f('got '), '\\n')\n"
			 "  s:write(f('then '), '\\n')\n"
			 "end\n");
	fd = connect_ok(port);
	assert_int_equal(quiet_for(fd, 200), 1);
	assert_int_equal(send_str(fd, "x\n"), 0);
	expect(fd, "got x\n", 3000);
	assert_int_equal(quiet_for(fd, 200), 1);
	assert_int_equal(send_str(fd, "y\n"), 0);
	expect(fd, "then y\n", 3000);
	close(fd);
	stop(&d);
}

static void
test_read_inside_coroutine_resume_waits_for_client(void **state)
{
	struct superd d;
	int port, fd;

	(void)state;
	port = serve(&d, "function main(s)\n"
			 "  local co = coroutine.create(function(p)\n"
			 "    local d = s:read()\n"
			 "    local q = coroutine.yield(p .. d)\n"
			 "    return q .. s:read()\n"
			 "  end)\n"
			 "  local ok, r = coroutine.resume(co, 'p:')\n"
			 "  s:write(tostring(ok), ' ', r, ' ', "
			 "coroutine.status(co), '\\n')\n"
			 "  ok, r = coroutine.resume(co, 'q:')\n"
			 "  s:write(tostring(ok), ' ', r, ' ', "
			 "coroutine.status(co), '\\n')\n"
			 "end\n");
	fd = connect_ok(port);
	assert_int_equal(quiet_for(fd, 200), 1);
	assert_int_equal(send_str(fd, "x\n"), 0);
	expect(fd, "true p:x suspended\n", 3000);
	assert_int_equal(quiet_for(fd, 200), 1);
	assert_int_equal(send_str(fd, "y\n"), 0);
	expect(fd, "true q:y dead\n", 3000);
	close(fd);
	stop(&d);
}

static void
test_read_and_sleep_inside_nested_coroutines(void **state)
{
	struct superd d;
	int port, fd;

	(void)state;
	port = serve(&d, "function main(s)\n"
			 "  local outer = coroutine.wrap(function()\n"
			 "    local inner = coroutine.create(function()\n"
			 "      superd.sleep(0.05)\n"
			 "      local ok, l = pcall(s.read, s)\n"
			 "      return l\n"
			 "    end)\n"
			 "    local ok, l = coroutine.resume(inner)\n"
			 "    return 'inner ' .. l\n"
			 "  end)\n"
			 "  s:write(outer(), '\\n')\n"
			 "end\n");
	fd = connect_ok(port);
	assert_int_equal(quiet_for(fd, 200), 1);
	assert_int_equal(send_str(fd, "deep\n"), 0);
	expect(fd, "inner deep\n", 3000);
	close(fd);
	stop(&d);
}

/* The superd table and options. */

static void
test_sleep_does_not_block_other_connections(void **state)
{
	struct superd d;
	long t0, dt;
	int port, a, b;

	(void)state;
	port = serve(&d, "function main(s)\n"
			 "  local l = s:read()\n"
			 "  if l == 'sleep' then\n"
			 "    superd.sleep(0.5)\n"
			 "    s:write('slept\\n')\n"
			 "  else\n"
			 "    s:write('echo ', l, '\\n')\n"
			 "  end\n"
			 "end\n");
	a = connect_ok(port);
	t0 = now_ms();
	assert_int_equal(send_str(a, "sleep\n"), 0);
	usleep(50000);
	b = connect_ok(port);
	dt = now_ms();
	assert_int_equal(send_str(b, "hi\n"), 0);
	expect(b, "echo hi\n", 2000);
	assert_true(now_ms() - dt < 300);
	expect(a, "slept\n", 3000);
	dt = now_ms() - t0;
	assert_true(dt >= 450);
	assert_true(dt < 2000);
	close(a);
	close(b);
	stop(&d);
}

static void
test_spawn_runs_function_in_new_coroutine(void **state)
{
	struct superd d;
	int port, fd;

	(void)state;
	port = serve(&d, "function main(s)\n"
			 "  superd.spawn(function(a, b)\n"
			 "    superd.sleep(0.1)\n"
			 "    s:write(a, b, '\\n')\n"
			 "  end, 'spawned ', 42)\n"
			 "  s:write('main\\n')\n"
			 "  s:read()\n"
			 "end\n");
	fd = connect_ok(port);
	/* spawn returns at once: main writes before the spawned one. */
	expect(fd, "main\n", 3000);
	expect(fd, "spawned 42\n", 3000);
	assert_int_equal(send_str(fd, "bye\n"), 0);
	assert_int_equal(wait_closed(fd, 3000), 1);
	close(fd);
	stop(&d);
}

static void
test_now_is_wall_clock_with_fractions(void **state)
{
	struct superd d;
	char buf[128];
	double now, diff, slept;
	time_t before, after;
	int port, fd;

	(void)state;
	port = serve(&d, "function main(s)\n"
			 "  local a = superd.now()\n"
			 "  superd.sleep(0.1)\n"
			 "  local b = superd.now()\n"
			 "  s:write(string.format('%.3f %.3f\\n', a, b - a))\n"
			 "end\n");
	before = time(NULL);
	fd = connect_ok(port);
	assert_true(recv_line(fd, buf, sizeof(buf), 3000) > 0);
	after = time(NULL);
	assert_int_equal(sscanf(buf, "%lf %lf", &now, &slept), 2);
	diff = now - (double)before;
	assert_true(diff > -1.0);
	assert_true(now - (double)after < 1.0);
	assert_true(slept >= 0.08);
	assert_true(slept < 1.0);
	close(fd);
	stop(&d);
}

static void
test_service_name_path_and_options_reach_script(void **state)
{
	struct superd d;
	char want[512];
	int port, fd;

	(void)state;
	port = serve_with(&d, "named_svc-1",
	    "options = { greeting = \"hi\"; n = 3; };",
	    "function main(s)\n"
	    "  s:write(superd.service, '\\n')\n"
	    "  s:write(superd.path('x'), '\\n')\n"
	    "  s:write(superd.path('/abs/y'), '\\n')\n"
	    "  s:write(options.greeting, ' ', "
	    "tostring(options.n == 3), '\\n')\n"
	    "end\n");
	fd = connect_ok(port);
	snprintf(
	    want, sizeof(want), "named_svc-1\n%s/x\n/abs/y\nhi true\n", d.dir);
	expect(fd, want, 3000);
	close(fd);
	stop(&d);
}

static void
test_superd_log_formats_and_tags_with_service(void **state)
{
	struct superd d;
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	char needle[64];
	int port, fd;

	(void)state;
	port = serve(&d, "function main(s)\n"
			 "  superd.log('notice', 'port=%d %s', "
			 "select(2, s:getpeername()), 'y')\n"
			 "  s:write('logged\\n')\n"
			 "end\n");
	fd = connect_ok(port);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	expect(fd, "logged\n", 3000);
	snprintf(needle, sizeof(needle), "t: port=%d y", ntohs(a.sin_port));
	assert_int_equal(sd_log_wait(&d, needle, 1, 3000), 1);
	close(fd);
	stop(&d);
}

/* Names. */

static void
test_getpeername_getsockname_and_tostring(void **state)
{
	struct superd d;
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	char buf[256], want[128];
	int port, fd, sock;

	(void)state;
	port = serve(&d, "function main(s)\n"
			 "  local pa, pp = s:getpeername()\n"
			 "  local sa, sp = s:getsockname()\n"
			 "  s:write(pa, ' ', pp, ' ', sa, ' ', sp, '\\n')\n"
			 "  s:write(tostring(s), '\\n')\n"
			 "end\n");
	fd = connect_ok(port);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	snprintf(want, sizeof(want), "127.0.0.1 %d 127.0.0.1 %d\n",
	    ntohs(a.sin_port), port);
	assert_true(recv_line(fd, buf, sizeof(buf), 3000) > 0);
	assert_string_equal(buf, want);
	assert_true(recv_line(fd, buf, sizeof(buf), 3000) > 0);
	snprintf(
	    want, sizeof(want), "socket 127.0.0.1:%d #", ntohs(a.sin_port));
	assert_true(strncmp(buf, want, strlen(want)) == 0);
	assert_int_equal(sscanf(buf + strlen(want), "%d", &sock), 1);
	assert_true(sock > 2);
	close(fd);
	stop(&d);
}

/* write, close and table keys. */

static void
test_write_returns_socket_for_chaining(void **state)
{
	struct superd d;
	int port, fd;

	(void)state;
	port = serve(&d, "function main(s)\n"
			 "  local r = s:write('a'):write('b')\n"
			 "  s:write(tostring(r == s), '\\n')\n"
			 "end\n");
	fd = connect_ok(port);
	expect(fd, "abtrue\n", 3000);
	close(fd);
	stop(&d);
}

static void
test_write_accepts_numbers_and_several_arguments(void **state)
{
	struct superd d;
	int port, fd;

	(void)state;
	port = serve(&d, "function main(s)\n"
			 "  s:write(1, ' ', 2.5, ' ', -7, 'x', 'y', '\\n')\n"
			 "end\n");
	fd = connect_ok(port);
	expect(fd, "1 2.5 -7xy\n", 3000);
	assert_int_equal(wait_closed(fd, 3000), 1);
	close(fd);
	stop(&d);
}

/* More than the kernel buffers on both sides (4 MiB each at most here). */
static void
test_write_16mb_to_slow_reader_delivers_every_byte_in_order(void **state)
{
	enum { PIECE = 65536, PIECES = 256, LEN = PIECE * PIECES };
	unsigned char *in = calloc(1, LEN + 1);
	struct superd d;
	char head[16];
	int port, fd, k, i, bad = 0, rcvbuf = 65536;

	(void)state;
	assert_non_null(in);
	port = serve(&d,
	    "function main(s)\n"
	    "  local t = {}\n"
	    "  for i = 0, 65535 - 8 do t[#t + 1] = "
	    "string.char(i % 251) end\n"
	    "  local body = table.concat(t)\n"
	    "  local ok, t0 = 0, superd.now()\n"
	    "  for k = 0, 255 do\n"
	    "    if s:write(string.format('%08d', k), body) == s then\n"
	    "      ok = ok + 1\n"
	    "    end\n"
	    "  end\n"
	    "  print('wrote', ok, superd.now() - t0 > 0.1)\n"
	    "end\n");
	fd = tcp_connect_from(NULL, port, rcvbuf);
	assert_true(fd >= 0);
	usleep(200000);
	assert_int_equal(recv_all(fd, in, LEN + 1, 5000), LEN);
	for (k = 0; k < PIECES && !bad; k++) {
		unsigned char *p = in + (size_t)k * PIECE;

		snprintf(head, sizeof(head), "%08d", k);
		if (memcmp(p, head, 8) != 0)
			bad = 1;
		for (i = 0; i < PIECE - 8 && !bad; i++)
			if (p[8 + i] != i % 251)
				bad = 1;
	}
	assert_int_equal(bad, 0);
	/* Every write returned the socket, and the writer had to wait. */
	assert_int_equal(sd_log_wait(&d, "t: wrote\t256\ttrue", 1, 3000), 1);
	close(fd);
	free(in);
	stop(&d);
}

static void
test_close_flushes_queued_output(void **state)
{
	enum { LEN = 300000 };
	char *in = calloc(1, LEN + 1);
	struct superd d;
	int port, fd, i, bad = 0;

	(void)state;
	assert_non_null(in);
	port = serve(&d, "function main(s)\n"
			 "  s:write(string.rep('0123456789', 30000))\n"
			 "  s:close()\n"
			 "end\n");
	fd = connect_ok(port);
	usleep(100000);
	assert_int_equal(recv_all(fd, in, LEN + 1, 5000), LEN);
	for (i = 0; i < LEN && !bad; i++)
		if (in[i] != '0' + i % 10)
			bad = 1;
	assert_int_equal(bad, 0);
	close(fd);
	free(in);
	stop(&d);
}

static void
test_sockets_are_usable_as_table_keys(void **state)
{
	struct superd d;
	int port, a, b;

	(void)state;
	port = serve(&d, "if seen == nil then seen = {} end\n"
			 "function main(s)\n"
			 "  seen[s] = s:read()\n"
			 "  s:read()\n"
			 "  s:write(tostring(seen[s]), '\\n')\n"
			 "  seen[s] = nil\n"
			 "end\n");
	a = connect_ok(port);
	b = connect_ok(port);
	assert_int_equal(send_str(a, "alpha\n"), 0);
	assert_int_equal(send_str(b, "beta\n"), 0);
	usleep(50000);
	assert_int_equal(send_str(b, "?\n"), 0);
	assert_int_equal(send_str(a, "?\n"), 0);
	expect(b, "beta\n", 3000);
	expect(a, "alpha\n", 3000);
	close(a);
	close(b);
	stop(&d);
}

/* fini, and a main that raises. */

static void
test_fini_runs_once_after_main_ends_for_any_reason(void **state)
{
	struct superd d;
	char want[64];
	int port, w, b, p;

	(void)state;
	port =
	    serve(&d, "tracked = {}\n"
		      "function main(s)\n"
		      "  local l = s:read()\n"
		      "  if l == 'watch' then\n"
		      "    watcher = s\n"
		      "    s:write('watching\\n')\n"
		      "    s:read()\n"
		      "    watcher = nil\n"
		      "    return\n"
		      "  end\n"
		      "  if not l then return end\n"
		      "  tracked[s] = 0\n"
		      "  if l == 'boom' then error('boom') end\n"
		      "  if l == 'wait' then s:read() end\n"
		      "end\n"
		      "function fini(s)\n"
		      "  if watcher and tracked[s] then\n"
		      "    tracked[s] = tracked[s] + 1\n"
		      "    watcher:write('fini ', select(2, s:getpeername()), "
		      "' ', tracked[s], '\\n')\n"
		      "  end\n"
		      "end\n");
	w = connect_ok(port);
	assert_int_equal(send_str(w, "watch\n"), 0);
	expect(w, "watching\n", 3000);

	/* main returns. */
	b = connect_ok(port);
	p = local_port(b);
	assert_int_equal(send_str(b, "bye\n"), 0);
	snprintf(want, sizeof(want), "fini %d 1\n", p);
	expect(w, want, 3000);
	assert_int_equal(wait_closed(b, 3000), 1);
	close(b);

	/* main raises: logged with peer and traceback, others carry on. */
	b = connect_ok(port);
	p = local_port(b);
	assert_int_equal(send_str(b, "boom\n"), 0);
	snprintf(want, sizeof(want), "fini %d 1\n", p);
	expect(w, want, 3000);
	assert_int_equal(wait_closed(b, 3000), 1);
	close(b);
	snprintf(want, sizeof(want), "127.0.0.1:%d", p);
	assert_true(sd_log_wait(&d, want, 1, 3000) >= 1);
	assert_true(sd_log_count(&d, "boom") >= 1);
	assert_true(sd_log_count(&d, "stack traceback") >= 1);

	/* The peer drops while main waits. */
	b = connect_ok(port);
	p = local_port(b);
	assert_int_equal(send_str(b, "wait\n"), 0);
	usleep(50000);
	close(b);
	snprintf(want, sizeof(want), "fini %d 1\n", p);
	expect(w, want, 3000);

	/* Once each: nothing more arrives. */
	assert_int_equal(quiet_for(w, 300), 1);
	close(w);
	stop(&d);
}

/* A dead socket stops a loop. */

static void
test_read_after_closed_raises_in_own_coroutine(void **state)
{
	struct superd d;
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	char needle[64];
	int port, fd;

	(void)state;
	port = serve(&d, "function main(s)\n"
			 "  local a, e = s:read()\n"
			 "  local ok, err = pcall(s.read, s)\n"
			 "  print(e, ok, err)\n"
			 "  print('peer', select(2, s:getpeername()), e, ok)\n"
			 "end\n");
	fd = connect_ok(port);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	assert_true(sd_log_wait(&d, "closed\tfalse", 1, 3000) >= 1);
	/* And it was this client's connection that raised. */
	snprintf(needle, sizeof(needle), "t: peer\t%d\tclosed\tfalse",
	    ntohs(a.sin_port));
	assert_int_equal(sd_log_wait(&d, needle, 1, 3000), 1);
	close(fd);
	stop(&d);
}

/* A bare yield. */

static void
test_yield_at_top_level_runs_again_next_turn(void **state)
{
	struct superd d;
	int port, fd;

	(void)state;
	port = serve(&d, "function main(s)\n"
			 "  local n = 0\n"
			 "  for i = 1, 3 do coroutine.yield(); n = n + 1 end\n"
			 "  s:write('ok ', n, '\\n')\n"
			 "end\n");
	fd = connect_ok(port);
	expect(fd, "ok 3\n", 3000);
	close(fd);
	stop(&d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(
		test_echo_200k_binary_all_byte_values, reap),
	    cmocka_unit_test_teardown(
		test_echo_after_half_close_returns_all_then_eof, reap),
	    cmocka_unit_test_teardown(test_read_line_strips_lf_and_crlf, reap),
	    cmocka_unit_test_teardown(test_read_L_keeps_line_end, reap),
	    cmocka_unit_test_teardown(test_read_star_formats_accepted, reap),
	    cmocka_unit_test_teardown(
		test_read_a_waits_until_peer_half_closes, reap),
	    cmocka_unit_test_teardown(
		test_readsome_returns_what_arrived_without_waiting, reap),
	    cmocka_unit_test_teardown(
		test_read_number_waits_for_exactly_n_bytes, reap),
	    cmocka_unit_test_teardown(
		test_read_line_returns_last_line_without_newline_at_eof, reap),
	    cmocka_unit_test_teardown(
		test_read_at_eof_returns_nil_closed, reap),
	    cmocka_unit_test_teardown(
		test_read_count_at_eof_returns_nil_closed, reap),
	    cmocka_unit_test_teardown(
		test_lines_iterates_until_peer_closes, reap),
	    cmocka_unit_test_teardown(
		test_lines_passes_its_format_to_read, reap),
	    cmocka_unit_test_teardown(
		test_settimeout_read_returns_timeout_when_client_silent, reap),
	    cmocka_unit_test_teardown(
		test_settimeout_is_a_deadline_for_the_whole_call, reap),
	    cmocka_unit_test_teardown(test_settimeout_nil_removes_it, reap),
	    cmocka_unit_test_teardown(test_settimeout_applies_to_write, reap),
	    cmocka_unit_test_teardown(
		test_settimeout_bounds_a_writer_slowed_by_its_targets, reap),
	    cmocka_unit_test_teardown(
		test_sleep_waits_for_the_targets_the_caller_filled, reap),
	    cmocka_unit_test_teardown(
		test_service_timeout_is_the_default_settimeout, reap),
	    cmocka_unit_test_teardown(
		test_read_inside_pcall_waits_for_client, reap),
	    cmocka_unit_test_teardown(
		test_read_inside_lines_loop_waits_for_client, reap),
	    cmocka_unit_test_teardown(
		test_read_inside_coroutine_wrap_waits_for_client, reap),
	    cmocka_unit_test_teardown(
		test_read_inside_coroutine_resume_waits_for_client, reap),
	    cmocka_unit_test_teardown(
		test_read_and_sleep_inside_nested_coroutines, reap),
	    cmocka_unit_test_teardown(
		test_sleep_does_not_block_other_connections, reap),
	    cmocka_unit_test_teardown(
		test_spawn_runs_function_in_new_coroutine, reap),
	    cmocka_unit_test_teardown(
		test_now_is_wall_clock_with_fractions, reap),
	    cmocka_unit_test_teardown(
		test_service_name_path_and_options_reach_script, reap),
	    cmocka_unit_test_teardown(
		test_superd_log_formats_and_tags_with_service, reap),
	    cmocka_unit_test_teardown(
		test_getpeername_getsockname_and_tostring, reap),
	    cmocka_unit_test_teardown(
		test_write_returns_socket_for_chaining, reap),
	    cmocka_unit_test_teardown(
		test_write_accepts_numbers_and_several_arguments, reap),
	    cmocka_unit_test_teardown(
		test_write_16mb_to_slow_reader_delivers_every_byte_in_order,
		reap),
	    cmocka_unit_test_teardown(test_close_flushes_queued_output, reap),
	    cmocka_unit_test_teardown(
		test_sockets_are_usable_as_table_keys, reap),
	    cmocka_unit_test_teardown(
		test_fini_runs_once_after_main_ends_for_any_reason, reap),
	    cmocka_unit_test_teardown(
		test_read_after_closed_raises_in_own_coroutine, reap),
	    cmocka_unit_test_teardown(
		test_yield_at_top_level_runs_again_next_turn, reap),
	};
	return cmocka_run_group_tests_name("socket_api", tests, NULL, NULL);
}
