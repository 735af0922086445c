/* test_connect.c - superd.connect: outbound TCP from a coroutine. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client.h"

static const char *script =
    "function main(s)\n"
    "  local host, port, timeout = s:read():match('^(%S+) (%d+) ?(%S*)$')\n"
    "  local t0 = superd.now()\n"
    "  local c, err = superd.connect(host, tonumber(port), tonumber(timeout))\n"
    "  if not c then\n"
    "    s:write('error ', err, string.format(' %.1f\\n', superd.now() - t0))\n"
    "    return\n"
    "  end\n"
    "  c:write('ping\\n')\n"
    "  s:write('got ', c:read(), ' ', (c:getpeername()), '\\n')\n"
    "  keep = c\n"
    "end\n";

static int
setup(void **state)
{
	if (sd_setup(state) < 0)
		return -1;
	sd_write(*state, "cn.lua", "%s", script);
	return 0;
}

/* Service "cn" (cn.lua, with the extra settings) beside the shipped echo. */
static void
start_cn(struct superd *d, int echo, int port, const char *extra)
{
	sd_write(d, "superd.conf",
	    "services = (\n"
	    " { name = \"echo\"; port = %d; address = \"127.0.0.1\";\n"
	    "   script = \"%s/services/echo.lua\"; },\n"
	    " { name = \"cn\"; port = %d; address = \"127.0.0.1\";\n"
	    "   script = \"cn.lua\"; %s });\n",
	    echo, sd_repo(), port, extra);
	sd_started(d, port);
}

static void
test_connect_to_local_echo_by_address_and_name(void **state)
{
	struct superd *d = *state;
	int echo = free_port(), port = free_port();
	char q[64], out[256];

	start_cn(d, echo, port, "");
	snprintf(q, sizeof(q), "127.0.0.1 %d\n", echo);
	assert_true(ask(port, q, out, sizeof(out), 8000) >= 0);
	assert_string_equal(out, "got ping 127.0.0.1\n");
	/* a name: resolved without blocking the loop (getaddrinfo_a) */
	snprintf(q, sizeof(q), "localhost %d\n", echo);
	assert_true(ask(port, q, out, sizeof(out), 8000) >= 0);
	assert_string_equal(out, "got ping 127.0.0.1\n");
	/* the outbound socket closed with the coroutine that opened it */
	assert_int_equal(sd_log_wait(d, "cn: tcp out 127.0.0.1:", 2, 3000), 2);
	assert_int_equal(sd_stop(d), 0);
}

static void
test_connect_errors_come_back_as_nil_err(void **state)
{
	struct superd *d = *state;
	int echo = free_port(), port = free_port(), closed = free_port();
	char q[64], out[256];

	start_cn(d, echo, port, "");
	snprintf(q, sizeof(q), "127.0.0.1 %d\n", closed);
	assert_true(ask(port, q, out, sizeof(out), 8000) >= 0);
	assert_string_equal(out, "error Connection refused 0.0\n");
	assert_true(
	    ask(port, "nonexistent.invalid 80\n", out, sizeof(out), 8000) >= 0);
	assert_non_null(strstr(out, "error "));
	assert_int_equal(sd_stop(d), 0);
}

/* A listener whose backlog is full drops SYNs: the connect can only wait. */
static void
test_connect_timeout(void **state)
{
	struct superd *d = *state;
	int echo = free_port(), port = free_port(), full = free_port();
	struct sockaddr_in a = {0};
	int lfd, held[4], i;
	char q[64], out[256];

	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(full);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(lfd, 0), 0);
	for (i = 0; i < 4; i++) {
		held[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		connect(held[i], (struct sockaddr *)&a, sizeof(a));
	}
	usleep(100000);
	start_cn(d, echo, port, "");
	snprintf(q, sizeof(q), "127.0.0.1 %d 0.5\n", full);
	assert_true(ask(port, q, out, sizeof(out), 8000) >= 0);
	assert_string_equal(out, "error timeout 0.5\n");
	for (i = 0; i < 4; i++)
		close(held[i]);
	close(lfd);
	assert_int_equal(sd_stop(d), 0);
}

static void
test_outbound_sockets_count_under_limits(void **state)
{
	struct superd *d = *state;
	int echo = free_port(), port = free_port();
	char q[64], out[256];

	/* one slot: the client's own connection takes it */
	start_cn(d, echo, port, "max_connections = 1;");
	/* the start-up probe's connection must be gone first */
	assert_int_equal(sd_log_wait(d, "cn: tcp 127.0.0.1:", 1, 3000), 1);
	snprintf(q, sizeof(q), "127.0.0.1 %d\n", echo);
	assert_true(ask(port, q, out, sizeof(out), 8000) >= 0);
	assert_string_equal(out, "error max_connections 0.0\n");

	assert_int_equal(sd_stop(d), 0);
}

/* An outbound socket to 127.0.0.1 is not a client from 127.0.0.1. */
static void
test_outbound_sockets_do_not_count_per_source(void **state)
{
	struct superd *d = *state;
	int echo = free_port(), port = free_port(), a, b;
	char q[64];

	sd_write(d, "cn.lua",
	    "function main(s)\n"
	    "  local c = superd.connect('127.0.0.1', tonumber(s:read()))\n"
	    "  s:write(c and 'connected\\n' or 'failed\\n')\n"
	    "  s:read()\n"
	    "end\n");
	start_cn(d, echo, port, "per_source = 2;");
	assert_int_equal(sd_log_wait(d, "cn: tcp 127.0.0.1:", 1, 3000), 1);
	snprintf(q, sizeof(q), "%d\n", echo);
	a = tcp_connect(port);
	send_str(a, q);
	assert_int_equal(expect_line(a, "connected\n"), 0);
	/* a's connection and its outbound socket are open: b is the second
	 * client from 127.0.0.1, within per_source = 2 */
	b = tcp_connect(port);
	send_str(b, q);
	assert_int_equal(expect_line(b, "connected\n"), 0);
	close(a);
	close(b);
	assert_int_equal(sd_stop(d), 0);
}

/* A service gone from the configuration takes its coroutines' outbound
 * sockets with it, and is freed. */
static void
test_removed_service_closes_its_outbound_sockets(void **state)
{
	struct superd *d = *state;
	int echo = free_port(), port = free_port();
	char repo[512];

	assert_non_null(getcwd(repo, sizeof(repo)));
	sd_write(d, "cn.lua",
	    "if held == nil then\n"
	    "  held = true\n"
	    "  superd.spawn(function()\n"
	    "    local c = superd.connect('127.0.0.1', %d)\n"
	    "    print('holding', c ~= nil)\n"
	    "    c:read()\n"
	    "  end)\n"
	    "end\n"
	    "function main(s) end\n",
	    echo);
	start_cn(d, echo, port, "");
	assert_int_equal(sd_log_wait(d, "holding\ttrue", 1, 3000), 1);
	sd_write(d, "superd.conf",
	    "services = ({ name = \"echo\"; port = %d; address = "
	    "\"127.0.0.1\"; script = \"%s/services/echo.lua\"; });\n",
	    echo, repo);
	sd_signal(d, SIGHUP);
	assert_int_equal(sd_log_wait(d, "cn: tcp out 127.0.0.1:", 1, 3000), 1);
	assert_int_equal(tcp_connect(port), -1);
	assert_int_equal(sd_stop(d), 0);
}

/*
 * Name lookups of killed coroutines are cancelled, and one service's
 * lookups cannot take every resolver thread: with a name server that
 * never answers (superd runs in a mount namespace whose resolv.conf
 * names a silent socket of the test's), 100 lookups of service "a" are
 * killed, and service "b" then resolves "localhost" at once.
 */
static const char *dns_lua =
    "function main(s)\n"
    "  local what = s:read()\n"
    "  if what == 'flood' then\n"
    "    local hs = {}\n"
    "    for i = 1, 100 do\n"
    "      hs[i] = superd.spawn(superd.connect, 'slow.test', 9, 30)\n"
    "    end\n"
    "    superd.sleep(0.5)\n"
    "    for i = 1, 100 do hs[i]:kill() end\n"
    "    s:write('killed\\n')\n"
    "    return\n"
    "  end\n"
    "  local t0 = superd.now()\n"
    "  local c, err = superd.connect('localhost', tonumber(what), 5)\n"
    "  s:write(string.format('%s %.1f\\n', c and 'ok' or err,\n"
    "    superd.now() - t0))\n"
    "end\n";

static void
test_killed_lookups_leave_the_resolver_to_others(void **state)
{
	struct superd *d = *state;
	int echo = free_port(), a = free_port(), b = free_port(), dns;
	char wrap[256], resolv[256], real[512], out[256];
	double secs;

	if (system("unshare -m true 2>/dev/null") != 0)
		skip(); /* no mount namespace here */
	if ((dns = listen_local(53, SOCK_DGRAM)) < 0)
		skip(); /* port 53 taken */
	snprintf(resolv, sizeof(resolv), "%s/resolv.conf", d->dir);
	sd_write(d, "resolv.conf",
	    "nameserver 127.0.0.1\noptions timeout:2 attempts:1\n");
	assert_non_null(realpath(sd_binary(), real));
	/* "asan" stays in the name: sd_sanitized() reads it */
	snprintf(wrap, sizeof(wrap), "%s/wrap-%s", d->dir,
	    sd_sanitized() ? "asan" : "plain");
	sd_write(d, strrchr(wrap, '/') + 1,
	    "#!/bin/sh\n"
	    "exec unshare -m sh -c 'mount --bind \"$0\" /etc/resolv.conf && "
	    "exec \"$@\"' %s %s \"$@\"\n",
	    resolv, real);
	assert_int_equal(chmod(wrap, 0755), 0);
	sd_write(d, "dns.lua", "%s", dns_lua);
	sd_write(d, "superd.conf",
	    "services = (\n"
	    " { name = \"echo\"; port = %d; address = \"127.0.0.1\";\n"
	    "   script = \"%s/services/echo.lua\"; },\n"
	    " { name = \"a\"; port = %d; address = \"127.0.0.1\";\n"
	    "   script = \"dns.lua\"; },\n"
	    " { name = \"b\"; port = %d; address = \"127.0.0.1\";\n"
	    "   script = \"dns.lua\"; });\n",
	    echo, sd_repo(), a, b);
	setenv("SUPERD", wrap, 1);
	sd_started(d, b);
	setenv("SUPERD", real, 1);
	assert_true(ask(a, "flood\n", out, sizeof(out), 5000) > 0);
	assert_string_equal(out, "killed\n");
	snprintf(wrap, sizeof(wrap), "%d\n", echo);
	assert_true(ask(b, wrap, out, sizeof(out), 8000) > 0);
	print_message("    b after a's killed lookups: %s", out);
	assert_int_equal(strncmp(out, "ok ", 3), 0);
	secs = atof(out + 3);
	assert_true(secs < 1.5);
	close(dns);
	assert_int_equal(sd_stop(d), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		test_connect_to_local_echo_by_address_and_name, setup,
		sd_teardown),
	    cmocka_unit_test_setup_teardown(
		test_connect_errors_come_back_as_nil_err, setup, sd_teardown),
	    cmocka_unit_test_setup_teardown(
		test_connect_timeout, setup, sd_teardown),
	    cmocka_unit_test_setup_teardown(
		test_outbound_sockets_count_under_limits, setup, sd_teardown),
	    cmocka_unit_test_setup_teardown(
		test_outbound_sockets_do_not_count_per_source, setup,
		sd_teardown),
	    cmocka_unit_test_setup_teardown(
		test_killed_lookups_leave_the_resolver_to_others, setup,
		sd_teardown),
	    cmocka_unit_test_setup_teardown(
		test_removed_service_closes_its_outbound_sockets, setup,
		sd_teardown),

	};
	return cmocka_run_group_tests_name("connect", tests, NULL, NULL);
}
