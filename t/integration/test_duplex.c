/* test_duplex.c - a socket used by two coroutines at once, one reading and
 * one writing; flush() and shutdown(), as a client sees them. */
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

static int
serve(void **state, const char *extra, const char *script)
{
	int port = sd_serve(*state, "t", extra, script);

	assert_true(port > 0);
	return port;
}

/*
 * main waits in a write (the client is not reading) while a coroutine it
 * spawned waits in a read of the same socket: neither is refused.
 */
static void
test_one_reader_and_one_writer_wait_at_once(void **state)
{
	static char big[1 << 20];
	char tail[64];
	int port, fd, i;

	/* 16 MiB: more than the kernel takes for a client not reading */
	port = serve(state, "",
	    "function main(s)\n"
	    "  local h = superd.spawn(function() return s:read() end)\n"
	    "  s:write(string.rep('a', 16 << 20))\n"
	    "  local ok, line = h:join()\n"
	    "  s:write('|', tostring(ok), ' ', tostring(line), '\\n')\n"
	    "end\n");
	fd = tcp_connect_from(NULL, port, 4096);
	assert_true(fd >= 0);
	usleep(300 * 1000); /* both are parked now */
	assert_int_equal(send_str(fd, "hello\n"), 0);
	for (i = 0; i < 16; i++)
		assert_int_equal(
		    recv_n(fd, big, sizeof(big), 5000), sizeof(big));
	assert_int_equal(big[sizeof(big) - 1], 'a');
	assert_true(recv_line(fd, tail, sizeof(tail), 5000) > 0);
	assert_string_equal(tail, "|true hello\n");
	close(fd);
}

/* Two readers waiting at once stays an error, for the second. */
static void
test_a_second_reader_is_refused(void **state)
{
	char line[128];
	int port, fd;

	port = serve(state, "",
	    "function main(s)\n"
	    "  local h = superd.spawn(function() return s:read() end)\n"
	    "  superd.sleep(0.05)\n"
	    "  local ok, err = pcall(s.read, s)\n"
	    "  s:write(tostring(ok), ' ', err, '\\n')\n"
	    "  s:write(select(2, h:join()), '\\n')\n"
	    "end\n");
	fd = tcp_connect(port);
	assert_true(fd >= 0);
	assert_true(recv_line(fd, line, sizeof(line), 3000) > 0);
	assert_non_null(strstr(line, "false "));
	assert_non_null(strstr(line, "socket is being read by another"));
	assert_int_equal(send_str(fd, "first\n"), 0);
	assert_true(recv_line(fd, line, sizeof(line), 3000) > 0);
	assert_string_equal(line, "first\n");
	close(fd);
}

/*
 * flush() from a coroutine that is not the connection's own waits until
 * what is queued has gone to the kernel.  The kernel takes a few MB of a
 * client that is asleep for a second: 6 MB, written and flushed a part at
 * a time, cannot all have gone before that second (and without the waits
 * the queue would pass output_limit and the client would be dropped).
 */
static void
test_flush_waits_until_the_queue_has_gone(void **state)
{
	static char got[100 * 60000];
	char tail[64];
	double waited;
	int port, fd;

	port = serve(state, "",
	    "function main(s)\n"
	    "  local h = superd.spawn(function()\n"
	    "    local t0, chunk, r = superd.now(), string.rep('b', 60000)\n"
	    "    for i = 1, 100 do\n"
	    "      s:write(chunk)\n"
	    "      r = s:flush()\n"
	    "    end\n"
	    "    return r == s, superd.now() - t0\n"
	    "  end)\n"
	    "  local _, same, took = h:join()\n"
	    "  s:write(string.format('|%s %.2f\\n', tostring(same), took))\n"
	    "end\n");
	fd = tcp_connect_from(NULL, port, 4096);
	assert_true(fd >= 0);
	usleep(1000 * 1000);
	assert_int_equal(recv_n(fd, got, sizeof(got), 5000), sizeof(got));
	assert_true(recv_line(fd, tail, sizeof(tail), 5000) > 0);
	assert_int_equal(strncmp(tail, "|true ", 6), 0);
	waited = atof(tail + 6);
	assert_true(waited >= 0.8);
	close(fd);
}

/* settimeout bounds a flush: nil, "timeout", the connection still open. */
static void
test_flush_past_the_deadline_returns_timeout(void **state)
{
	static char got[1 << 16];
	char tail[64];
	int port, fd, n;

	port = serve(state, "",
	    "function main(s)\n"
	    "  local h = superd.spawn(function()\n"
	    "    local chunk = string.rep('c', 60000)\n"
	    "    s:settimeout(0.3)\n"
	    "    for i = 1, 100 do\n"
	    "      s:write(chunk)\n"
	    "      local r, err = s:flush()\n"
	    "      if r == nil then return i, err end\n"
	    "    end\n"
	    "  end)\n"
	    "  local _, i, err = h:join()\n"
	    "  s:settimeout(5)\n"
	    "  s:write('|', tostring(i < 100), ' ', tostring(err), '\\n')\n"
	    "end\n");
	fd = tcp_connect_from(NULL, port, 4096);
	assert_true(fd >= 0);
	usleep(800 * 1000);
	while ((n = recv_n(fd, got, 1, 5000)) == 1 && got[0] == 'c')
		;
	assert_int_equal(n, 1);
	assert_int_equal(got[0], '|');
	assert_true(recv_line(fd, tail, sizeof(tail), 5000) > 0);
	assert_string_equal(tail, "true timeout\n");
	close(fd);
}

/*
 * shutdown("w") sends what is queued, then a FIN: the client reads to EOF
 * while its own bytes still reach the script, which logs them.
 */
static void
test_shutdown_w_half_closes_after_the_queue(void **state)
{
	char all[64];
	int port, fd;

	port = serve(state, "",
	    "function main(s)\n"
	    "  s:write('bye')\n"
	    "  s:shutdown()\n"
	    "  print('write after', s:write('x'))\n"
	    "  print('got', s:read('a'))\n"
	    "end\n");
	fd = tcp_connect(port);
	assert_true(fd >= 0);
	assert_int_equal(recv_all(fd, all, sizeof(all), 3000), 3);
	assert_int_equal(memcmp(all, "bye", 3), 0);
	assert_int_equal(send_str(fd, "after"), 0);
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	/* sd_serve's probe connection ran main too: one line more */
	assert_true(
	    sd_log_wait(*state, "t: write after\tnil\tclosed", 2, 3000) >= 2);
	assert_int_equal(sd_log_wait(*state, "t: got\tafter", 1, 3000), 1);
	close(fd);
}

/* shutdown("r"): reads end at once; writing goes on. */
static void
test_shutdown_r_ends_reads_not_writes(void **state)
{
	char line[64];
	int port, fd;

	port = serve(state, "",
	    "function main(s)\n"
	    "  s:read()\n"
	    "  s:shutdown('r')\n"
	    "  local d, err = s:read()\n"
	    "  s:write(tostring(d), ' ', err, '\\n')\n"
	    "end\n");
	fd = tcp_connect(port);
	assert_true(fd >= 0);
	assert_int_equal(send_str(fd, "one\ntwo\n"), 0);
	assert_true(recv_line(fd, line, sizeof(line), 3000) > 0);
	assert_string_equal(line, "nil closed\n");
	close(fd);
}

/* shutdown takes "w", "r" or "rw", nothing else. */
static void
test_shutdown_rejects_an_unknown_how(void **state)
{
	char line[128];
	int port, fd;

	port = serve(state, "",
	    "function main(s)\n"
	    "  local ok, err = pcall(s.shutdown, s, 'x')\n"
	    "  s:write(tostring(ok), ' ', err, '\\n')\n"
	    "end\n");
	fd = tcp_connect(port);
	assert_true(fd >= 0);
	assert_true(recv_line(fd, line, sizeof(line), 3000) > 0);
	assert_non_null(strstr(line, "false "));
	assert_non_null(strstr(line, "invalid option 'x'"));
	close(fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		test_one_reader_and_one_writer_wait_at_once, sd_setup_bare,
		sd_teardown),
	    cmocka_unit_test_setup_teardown(
		test_a_second_reader_is_refused, sd_setup_bare, sd_teardown),
	    cmocka_unit_test_setup_teardown(
		test_flush_waits_until_the_queue_has_gone, sd_setup_bare,
		sd_teardown),
	    cmocka_unit_test_setup_teardown(
		test_flush_past_the_deadline_returns_timeout, sd_setup_bare,
		sd_teardown),
	    cmocka_unit_test_setup_teardown(
		test_shutdown_w_half_closes_after_the_queue, sd_setup_bare,
		sd_teardown),
	    cmocka_unit_test_setup_teardown(
		test_shutdown_r_ends_reads_not_writes, sd_setup_bare,
		sd_teardown),
	    cmocka_unit_test_setup_teardown(
		test_shutdown_rejects_an_unknown_how, sd_setup_bare,
		sd_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
