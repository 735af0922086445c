/*
 * test_access.c - where a service listens and whom it lets in: an address
 * list and the dual-stack default, only_from and no_access over IPv4,
 * IPv6 and IPv4-mapped peers, and a bad CIDR block as a config error.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"

static void
test_address_list_answers_on_v4_and_v6(void **state)
{
	struct superd *d = *state;
	int port = free_port(), fd;

	sd_conf(d, "",
	    "{ name = \"echo\"; port = %d; address = [\"127.0.0.1\", \"::1\"];"
	    " script = \"echo.lua\"; }",
	    port);
	assert_int_equal(sd_start(d, port), 0);
	fd = tcp_connect_to("127.0.0.1", port);
	assert_true(served(fd));
	close(fd);
	fd = tcp_connect_to("::1", port);
	assert_true(served(fd));
	close(fd);
	assert_int_equal(sd_stop(d), 0);
}

static void
test_default_address_is_dual_stack(void **state)
{
	struct superd *d = *state;
	char reply[16];
	int port = free_port(), fd;

	sd_conf(d, "",
	    "{ name = \"echo\"; port = %d; protocol = [\"tcp\", \"udp\"];"
	    " script = \"echo.lua\"; }",
	    port);
	assert_int_equal(sd_start(d, port), 0);
	fd = tcp_connect_to("127.0.0.1", port);
	assert_true(served(fd));
	close(fd);
	fd = tcp_connect_to("::1", port);
	assert_true(served(fd));
	close(fd);
	assert_int_equal(
	    udp_exchange(port, "v4", 2, reply, sizeof(reply), 2000), 2);
	fd = udp_open("::1", 0, 0);
	assert_int_equal(
	    udp_ask(fd, "::1", port, "v6", 2, reply, sizeof(reply), 2000), 2);
	assert_memory_equal(reply, "v6", 2);
	close(fd);
	assert_int_equal(sd_stop(d), 0);
}

static void
test_only_from_admits_v4_and_refuses_v6(void **state)
{
	struct superd *d = *state;
	int port = free_port(), fd;

	sd_conf(d, "",
	    "{ name = \"echo\"; port = %d; address = [\"127.0.0.1\", \"::1\"];"
	    " script = \"echo.lua\"; only_from = [\"127.0.0.1\"]; }",
	    port);
	assert_int_equal(sd_start(d, port), 0);
	fd = tcp_connect(port);
	assert_true(served(fd));
	close(fd);
	fd = tcp_connect_to("::1", port);
	assert_true(fd >= 0);
	assert_refused(d, "echo", "::1", fd, "only_from");
	assert_int_equal(sd_stop(d), 0);
}

static void
test_no_access_matches_mapped_v4_peer_on_dual_stack(void **state)
{
	struct superd *d = *state;
	int port = free_port(), fd;

	sd_conf(d, "",
	    "{ name = \"echo\"; port = %d; script = \"echo.lua\";"
	    " no_access = [\"127.0.0.0/8\"]; }",
	    port);
	assert_int_equal(sd_start(d, port), 0);
	/* arrives as ::ffff:127.0.0.1, logged as 127.0.0.1 */
	fd = tcp_connect(port);
	assert_true(fd >= 0);
	assert_refused(d, "echo", "127.0.0.1", fd, "no_access");
	fd = tcp_connect_to("::1", port);
	assert_true(served(fd));
	close(fd);
	assert_int_equal(sd_stop(d), 0);
}

static void
test_only_from_v4_block_admits_mapped_peer_on_dual_stack(void **state)
{
	struct superd *d = *state;
	int port = free_port(), fd;

	sd_conf(d, "",
	    "{ name = \"echo\"; port = %d; script = \"echo.lua\";"
	    " only_from = [\"127.0.0.0/8\"]; }",
	    port);
	assert_int_equal(sd_start(d, port), 0);
	fd = tcp_connect(port);
	assert_true(served(fd));
	close(fd);
	fd = tcp_connect_to("::1", port);
	assert_true(fd >= 0);
	assert_refused(d, "echo", "::1", fd, "only_from");
	assert_int_equal(sd_stop(d), 0);
}

static void
test_no_access_wins_over_only_from(void **state)
{
	struct superd *d = *state;
	int port = free_port(), probe = free_port();

	sd_conf(d, "",
	    "{ name = \"echo\"; port = %d; address = \"127.0.0.1\";"
	    " script = \"echo.lua\"; only_from = [\"127.0.0.0/8\"];"
	    " no_access = [\"127.0.0.1\"]; },\n"
	    "{ name = \"probe\"; port = %d; address = \"127.0.0.1\";"
	    " script = \"echo.lua\"; }",
	    port, probe);
	assert_int_equal(sd_start(d, probe), 0);
	assert_refused(d, "echo", "127.0.0.1", tcp_connect(port), "no_access");
	assert_int_equal(sd_stop(d), 0);
}

static void
test_bad_cidr_is_config_error_with_line(void **state)
{
	struct superd *d = *state;
	char out[1024], want[256];
	char *argv[] = {(char *)sd_binary(), "-c", d->conf, NULL};
	char outpath[256];

	sd_write(d, "superd.conf",
	    "log = \"stderr\";\n"
	    "services = (\n"
	    "  { name = \"echo\"; port = %d; address = \"127.0.0.1\";\n"
	    "    script = \"%s/services/echo.lua\";\n"
	    "    only_from = [\"10.0.0.0/33\"]; }\n"
	    ");\n",
	    free_port(), sd_repo());
	snprintf(outpath, sizeof(outpath), "%s/run.out", d->dir);
	/* bounded: a superd that took the file would run forever */
	assert_int_equal(run_for(argv, outpath, 5000), 1);
	read_text(outpath, out, sizeof(out));
	snprintf(want, sizeof(want), "%s:5: ", d->conf);
	if (strstr(out, want) == NULL)
		fail_msg("expected \"%s...\", got: %s", want, out);
	assert_non_null(strstr(out, "10.0.0.0/33"));
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, sd_setup, sd_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    TEST(test_address_list_answers_on_v4_and_v6),
	    TEST(test_default_address_is_dual_stack),
	    TEST(test_only_from_admits_v4_and_refuses_v6),
	    TEST(test_no_access_matches_mapped_v4_peer_on_dual_stack),
	    TEST(test_only_from_v4_block_admits_mapped_peer_on_dual_stack),
	    TEST(test_no_access_wins_over_only_from),
	    TEST(test_bad_cidr_is_config_error_with_line),
	};
	if (getenv("TEST_FILTER") != NULL)
		cmocka_set_test_filter(getenv("TEST_FILTER"));
	return cmocka_run_group_tests_name("access", tests, NULL, NULL);
}
