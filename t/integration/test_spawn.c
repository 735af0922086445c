/* test_spawn.c - superd.spawn's handle: join for the results, kill to end
 * the coroutine at its next wait, as a client of the script sees them. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client.h"

/* Serves script; returns the first line a client gets from it. */
static void
first_line(void **state, const char *script, char *line, size_t len)
{
	int port = sd_serve(*state, "t", "", script), fd;

	assert_true(port > 0);
	fd = tcp_connect(port);
	assert_true(fd >= 0);
	assert_true(recv_line(fd, line, len, 5000) > 0);
	close(fd);
}

static void
test_join_returns_true_and_the_results(void **state)
{
	char line[128];

	first_line(state,
	    "function main(s)\n"
	    "  local h = superd.spawn(function(a, b)\n"
	    "    superd.sleep(0.05)\n"
	    "    return a + b, 'x', nil\n"
	    "  end, 2, 3)\n"
	    "  local r = table.pack(h:join())\n"
	    "  s:write(r.n, ' ', tostring(r[1]), ' ', r[2], ' ', r[3], ' ',\n"
	    "    tostring(r[4]), '\\n')\n"
	    "end\n",
	    line, sizeof(line));
	assert_string_equal(line, "4 true 5 x nil\n");
}

/* A join after the coroutine has ended returns at once, with the same. */
static void
test_join_after_the_end_returns_at_once(void **state)
{
	char line[128];

	first_line(state,
	    "function main(s)\n"
	    "  local h = superd.spawn(function() return 'done' end)\n"
	    "  superd.sleep(0.05)\n"
	    "  local t0 = superd.now()\n"
	    "  local ok, v = h:join()\n"
	    "  local ok2, v2 = h:join()\n"
	    "  s:write(tostring(ok), v, tostring(ok2), v2, ' ',\n"
	    "    tostring(superd.now() - t0 < 0.01), '\\n')\n"
	    "end\n",
	    line, sizeof(line));
	assert_string_equal(line, "truedonetruedone true\n");
}

static void
test_join_of_a_raised_coroutine_returns_false_and_the_error(void **state)
{
	char line[256];

	first_line(state,
	    "function main(s)\n"
	    "  local h = superd.spawn(function() error('boom') end)\n"
	    "  local ok, err = h:join()\n"
	    "  s:write(tostring(ok), ' ', err, '\\n')\n"
	    "end\n",
	    line, sizeof(line));
	assert_int_equal(strncmp(line, "false ", 6), 0);
	assert_non_null(strstr(line, "boom"));
}

/* kill ends a sleeping coroutine: it never wakes, join says "killed". */
static void
test_kill_ends_it_and_join_says_killed(void **state)
{
	char line[128];

	first_line(state,
	    "function main(s)\n"
	    "  local h = superd.spawn(function()\n"
	    "    superd.sleep(0.3)\n"
	    "    woke = true\n"
	    "  end)\n"
	    "  superd.sleep(0.05)\n"
	    "  local first = h:kill()\n"
	    "  local ok, err = h:join()\n"
	    "  superd.sleep(0.5)\n"
	    "  s:write(tostring(first), ' ', tostring(h:kill()), ' ',\n"
	    "    tostring(ok), ' ', err, ' ', tostring(woke), '\\n')\n"
	    "end\n",
	    line, sizeof(line));
	assert_string_equal(line, "true false false killed nil\n");
}

/* Killing itself: it runs on to its next wait, and ends there. */
static void
test_kill_from_itself_ends_it_at_its_next_wait(void **state)
{
	char line[128];

	first_line(state,
	    "function main(s)\n"
	    "  local h\n"
	    "  h = superd.spawn(function()\n"
	    "    superd.sleep(0)\n"
	    "    h:kill()\n"
	    "    ran_on = true\n"
	    "    superd.sleep(0)\n"
	    "    woke = true\n"
	    "  end)\n"
	    "  local ok, err = h:join()\n"
	    "  s:write(tostring(ok), ' ', err, ' ', tostring(ran_on), ' ',\n"
	    "    tostring(woke), '\\n')\n"
	    "end\n",
	    line, sizeof(line));
	assert_string_equal(line, "false killed true nil\n");
}

/*
 * A killed coroutine's socket waits end: the read it was parked in frees
 * the socket's reader slot, so main can read the line itself.
 */
static void
test_kill_ends_its_socket_waits(void **state)
{
	char line[128];
	int port, fd;

	port = sd_serve(*state, "t", "",
	    "function main(s)\n"
	    "  local h = superd.spawn(function() return s:read() end)\n"
	    "  superd.sleep(0.05)\n"
	    "  h:kill()\n"
	    "  s:write('ready\\n')\n"
	    "  s:write('main got ', s:read(), '\\n')\n"
	    "end\n");
	assert_true(port > 0);
	fd = tcp_connect(port);
	assert_true(fd >= 0);
	assert_true(recv_line(fd, line, sizeof(line), 3000) > 0);
	assert_string_equal(line, "ready\n");
	assert_int_equal(send_str(fd, "hi\n"), 0);
	assert_true(recv_line(fd, line, sizeof(line), 3000) > 0);
	assert_string_equal(line, "main got hi\n");
	close(fd);
}

/* The sockets a killed coroutine opened with superd.connect close. */
static void
test_kill_closes_its_outbound_sockets(void **state)
{
	char script[512], buf[8];
	int up = free_port(), lfd, port, fd, peer;
	struct pollfd p;

	lfd = listen_local(up, SOCK_STREAM);
	assert_true(lfd >= 0);
	snprintf(script, sizeof(script),
	    "function main(s)\n"
	    "  local h = superd.spawn(function()\n"
	    "    local u = assert(superd.connect('127.0.0.1', %d))\n"
	    "    superd.sleep(30)\n"
	    "  end)\n"
	    "  s:read()\n"
	    "  h:kill()\n"
	    "  s:write('killed\\n')\n"
	    "  s:read()\n"
	    "end\n",
	    up);
	port = sd_serve(*state, "t", "", script);
	assert_true(port > 0);
	fd = tcp_connect(port);
	assert_true(fd >= 0);
	p.fd = lfd;
	p.events = POLLIN;
	assert_int_equal(poll(&p, 1, 3000), 1);
	/* sd_serve's probe may have connected first: take the newest */
	while ((peer = accept(lfd, NULL, NULL)) >= 0 && poll(&p, 1, 200) == 1)
		close(peer);
	assert_true(peer >= 0);
	assert_int_equal(send_str(fd, "go\n"), 0);
	assert_true(recv_line(fd, buf, sizeof(buf), 3000) > 0);
	assert_int_equal(wait_closed(peer, 3000), 1);
	close(peer);
	close(fd);
	close(lfd);
}

/* One joiner at a time; a coroutine cannot join itself. */
static void
test_join_by_two_or_by_itself_is_an_error(void **state)
{
	char line[256];

	first_line(state,
	    "function main(s)\n"
	    "  local h\n"
	    "  h = superd.spawn(function()\n"
	    "    local ok, err = pcall(h.join, h)\n"
	    "    superd.sleep(0.2)\n"
	    "    return err\n"
	    "  end)\n"
	    "  local other = superd.spawn(function() return h:join() end)\n"
	    "  superd.sleep(0.05)\n"
	    "  local ok, err = pcall(h.join, h)\n"
	    "  local _, _, own = other:join()\n"
	    "  s:write(err, '|', own, '\\n')\n"
	    "end\n",
	    line, sizeof(line));
	assert_non_null(strstr(line, "handle is joined by another coroutine"));
	assert_non_null(strstr(line, "|a coroutine cannot join itself"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		test_join_returns_true_and_the_results, sd_setup_bare,
		sd_teardown),
	    cmocka_unit_test_setup_teardown(
		test_join_after_the_end_returns_at_once, sd_setup_bare,
		sd_teardown),
	    cmocka_unit_test_setup_teardown(
		test_join_of_a_raised_coroutine_returns_false_and_the_error,
		sd_setup_bare, sd_teardown),
	    cmocka_unit_test_setup_teardown(
		test_kill_ends_it_and_join_says_killed, sd_setup_bare,
		sd_teardown),
	    cmocka_unit_test_setup_teardown(
		test_kill_from_itself_ends_it_at_its_next_wait, sd_setup_bare,
		sd_teardown),
	    cmocka_unit_test_setup_teardown(
		test_kill_ends_its_socket_waits, sd_setup_bare, sd_teardown),
	    cmocka_unit_test_setup_teardown(
		test_kill_closes_its_outbound_sockets, sd_setup_bare,
		sd_teardown),
	    cmocka_unit_test_setup_teardown(
		test_join_by_two_or_by_itself_is_an_error, sd_setup_bare,
		sd_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
