/*
 * test_memory_limit.c - memory_limit: a script out of memory costs its
 * coroutine only, the error is logged with its peer even with no memory
 * left, and connections that come while the state is full are closed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client.h"

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

#define FIX(f) cmocka_unit_test_setup_teardown(f, fix_setup, fix_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    FIX(test_memory_error_costs_only_its_coroutine),
	    FIX(test_error_at_memory_limit_is_logged_with_its_peer),
	    FIX(test_connections_at_memory_limit_are_closed),
	};
	if (getenv("TEST_FILTER") != NULL)
		cmocka_set_test_filter(getenv("TEST_FILTER"));
	return cmocka_run_group_tests_name("memory_limit", tests, NULL, NULL);
}
