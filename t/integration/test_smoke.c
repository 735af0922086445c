/* test_smoke.c - superd starts on a config, serves echo, stops with 0. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include <unistd.h>

#include "client.h"

static void
test_echo_serves_and_sigterm_exits_zero(void **state)
{
	struct superd *d = *state;
	char buf[64];
	int port = free_port(), fd;

	sd_write(d, "echo.lua",
	    "function main(s)\n"
	    "  while true do\n"
	    "    local d = s:readsome(100)\n"
	    "    if not d then return end\n"
	    "    s:write(d)\n"
	    "  end\n"
	    "end\n");
	sd_write(d, "superd.conf",
	    "services = ({ name = \"echo\"; port = %d; address = \"127.0.0.1\";"
	    " script = \"echo.lua\"; });\n",
	    port);
	assert_int_equal(sd_start(d, port), 0);
	fd = tcp_connect(port);
	assert_true(fd >= 0);
	assert_int_equal(send_str(fd, "ping\n"), 0);
	assert_int_equal(recv_line(fd, buf, sizeof(buf), 2000), 5);
	assert_string_equal(buf, "ping\n");
	close(fd);
	assert_int_equal(sd_stop(d), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		test_echo_serves_and_sigterm_exits_zero, sd_setup, sd_teardown),
	};
	return cmocka_run_group_tests_name("smoke", tests, NULL, NULL);
}
