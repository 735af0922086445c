/*
 * test_exec.c - exec services: a program per connection, with the
 * connection as descriptors 0 to 2 and no other, the TCP environment,
 * the configured user, max_connections, and its exit status logged.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"

static void
test_exec_gets_tcp_environment_and_echoes_through_cat(void **state)
{
	struct superd *d = *state;
	char line[4096], want[5][64], needle[128], log[512];
	int port = free_port(), fd, cport, seen = 0, i, echoed = 0;
	long end;

	sd_conf(d, "",
	    "{ name = \"env\"; port = %d; address = \"127.0.0.1\";"
	    " exec = [\"/bin/sh\", \"-c\", \"env; exec cat\"]; }",
	    port);
	assert_int_equal(sd_start(d, port), 0);
	fd = tcp_connect(port);
	assert_true(fd >= 0);
	cport = local_port(fd);
	snprintf(want[0], sizeof(want[0]), "PROTO=TCP\n");
	snprintf(want[1], sizeof(want[1]), "TCPREMOTEIP=127.0.0.1\n");
	snprintf(want[2], sizeof(want[2]), "TCPREMOTEPORT=%d\n", cport);
	snprintf(want[3], sizeof(want[3]), "TCPLOCALIP=127.0.0.1\n");
	snprintf(want[4], sizeof(want[4]), "TCPLOCALPORT=%d\n", port);
	end = now_ms() + 3000;
	while (seen != 31 && now_ms() < end &&
	       recv_line(fd, line, sizeof(line), 1000) > 0)
		for (i = 0; i < 5; i++)
			if (strcmp(line, want[i]) == 0)
				seen |= 1 << i;
	for (i = 0; i < 5; i++)
		if (!(seen & 1 << i))
			fail_msg("the environment lacks %s", want[i]);
	assert_int_equal(send_str(fd, "through-cat-4711\n"), 0);
	end = now_ms() + 3000;
	while (!echoed && now_ms() < end &&
	       recv_line(fd, line, sizeof(line), 1000) > 0)
		echoed = strcmp(line, "through-cat-4711\n") == 0;
	assert_true(echoed);
	close(fd);
	snprintf(needle, sizeof(needle), "env: tcp 127.0.0.1:%d: ", cport);
	assert_int_equal(
	    sd_log_wait_line(d, needle, log, sizeof(log), 3000), 0);
	assert_non_null(strstr(log, ", pid "));
	assert_non_null(strstr(log, ", exit status 0"));
	assert_int_equal(sd_stop(d), 0);
}

static void
test_exec_inherits_only_descriptors_0_to_2(void **state)
{
	struct superd *d = *state;
	char buf[1024], *p, *end;
	int port = free_port(), fd, other = 0, fds[3] = {0, 0, 0};
	ssize_t n;
	long v;

	sd_conf(d, "",
	    "{ name = \"fds\"; port = %d; address = \"127.0.0.1\";"
	    " exec = [\"/bin/sh\", \"-c\", \"ls /proc/self/fd\"]; }",
	    port);
	assert_int_equal(sd_start(d, port), 0);
	fd = tcp_connect(port);
	assert_true(fd >= 0);
	n = recv_all(fd, buf, sizeof(buf) - 1, 3000);
	close(fd);
	assert_true(n > 0);
	buf[n] = '\0';
	for (p = buf; *p; p = end) {
		v = strtol(p, &end, 10);
		if (end == p)
			fail_msg("not a descriptor number in: %s", buf);
		if (v >= 0 && v <= 2)
			fds[v] = 1;
		else
			other++;
		while (*end == '\n' || *end == ' ')
			end++;
	}
	assert_true(fds[0] && fds[1] && fds[2]);
	/* only the directory ls itself opens */
	if (other > 1)
		fail_msg("the program has more descriptors: %s", buf);
	assert_int_equal(sd_stop(d), 0);
}

static void
test_exec_runs_as_configured_user(void **state)
{
	struct superd *d = *state;
	struct passwd *pw = getpwnam("nobody");
	char buf[64], want[32];
	int port = free_port(), fd;
	ssize_t n;

	if (getuid() != 0 || pw == NULL) {
		printf("skipped: needs root and a user nobody\n");
		return;
	}
	snprintf(want, sizeof(want), "%d\n", (int)pw->pw_uid);
	sd_conf(d, "",
	    "{ name = \"id\"; port = %d; address = \"127.0.0.1\";"
	    " user = \"nobody\"; exec = [\"/usr/bin/id\", \"-u\"]; }",
	    port);
	assert_int_equal(sd_start(d, port), 0);
	fd = tcp_connect(port);
	assert_true(fd >= 0);
	n = recv_all(fd, buf, sizeof(buf) - 1, 3000);
	close(fd);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf, want);
	assert_int_equal(sd_stop(d), 0);
}

static void
test_exec_service_obeys_max_connections(void **state)
{
	struct superd *d = *state;
	char needle[128], line[512];
	int port = free_port(), probe = free_port(), a, c, aport;

	sd_conf(d, "",
	    "{ name = \"cat\"; port = %d; address = \"127.0.0.1\";"
	    " exec = [\"/bin/cat\"]; max_connections = 1; },\n"
	    "{ name = \"probe\"; port = %d; address = \"127.0.0.1\";"
	    " script = \"echo.lua\"; }",
	    port, probe);
	assert_int_equal(sd_start(d, probe), 0);
	a = tcp_connect(port);
	assert_true(served(a));
	aport = local_port(a);
	assert_refused(
	    d, "cat", "127.0.0.1", tcp_connect(port), "max_connections");
	close(a);
	snprintf(needle, sizeof(needle), "cat: tcp 127.0.0.1:%d: ", aport);
	assert_int_equal(
	    sd_log_wait_line(d, needle, line, sizeof(line), 3000), 0);
	assert_non_null(strstr(line, "exit status 0"));
	c = tcp_connect(port);
	assert_true(served(c));
	close(c);
	assert_int_equal(sd_stop(d), 0);
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, sd_setup, sd_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    TEST(test_exec_gets_tcp_environment_and_echoes_through_cat),
	    TEST(test_exec_inherits_only_descriptors_0_to_2),
	    TEST(test_exec_runs_as_configured_user),
	    TEST(test_exec_service_obeys_max_connections),
	};
	if (getenv("TEST_FILTER") != NULL)
		cmocka_set_test_filter(getenv("TEST_FILTER"));
	return cmocka_run_group_tests_name("exec", tests, NULL, NULL);
}
