/* test_churn.c - many connections opened and closed, every way they end:
 * memory comes back, descriptors come back, counters come back.
 * CHURN=N sets the count (default 100000; `make valgrind` uses fewer). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <dirent.h>
#include <unistd.h>

#include "client.h"

/* One connection, ended the i-th of several ways. */
static void
one(int port, int i)
{
	struct linger rst = {1, 0};
	char buf[64];
	int fd = tcp_connect(port);

	if (fd < 0)
		return;
	switch (i % 4) {
	case 0: /* a round-trip, then FIN */
		send_str(fd, "hello\n");
		recv_line(fd, buf, sizeof(buf), 2000);
		break;
	case 1: /* RST at once */
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &rst, sizeof(rst));
		break;
	case 2: /* the script raises */
		send_str(fd, "boom\n");
		wait_closed(fd, 2000);
		break;
	case 3: /* the script returns */
		send_str(fd, "bye\n");
		wait_closed(fd, 2000);
		break;
	}
	close(fd);
}

static void
test_churn_returns_memory_descriptors_and_counters(void **state)
{
	struct superd *d = *state;
	int port = free_port(), i, n, fds0, fd, a, b, c;
	long rss10k = 0, rss_end;
	char buf[64];

	n = getenv("CHURN") ? atoi(getenv("CHURN")) : 100000;
	sd_write(d, "t.lua",
	    "if opened == nil then opened = 0 end\n"
	    "function main(s)\n"
	    "  opened = opened + 1\n"
	    "  for l in s:lines() do\n"
	    "    if l == 'boom' then error('boom') end\n"
	    "    if l == 'bye' then return end\n"
	    "    s:write(l, '\\n')\n"
	    "  end\n"
	    "end\n"
	    "function fini(s) end\n");
	sd_write(d, "superd.conf",
	    "log_level = \"warning\";\n"
	    "services = ({ name = \"t\"; port = %d; address = \"127.0.0.1\"; "
	    "script = \"t.lua\"; per_source = 2; });\n",
	    port);
	assert_int_equal(sd_start(d, port), 0);
	fds0 = proc_fd_settled(d->pid);
	for (i = 0; i < n; i++) {
		one(port, i);
		if (i + 1 == 10000)
			rss10k = proc_rss_kb(d->pid);
	}
	usleep(300000);
	rss_end = proc_rss_kb(d->pid);
	print_message("%d connections: RSS %ld kB after 10000, %ld kB at end\n",
	    n, rss10k, rss_end);
	/* ASan's quarantine holds freed memory on purpose: no RSS there */
	if (n >= 20000 && getenv("ASAN_OPTIONS") == NULL)
		assert_true(rss_end <= rss10k + rss10k / 10);

	/* the last connections may still be closing (slowly, under valgrind) */
	for (i = 0; i < 100 && proc_fd_count(d->pid) != fds0; i++)
		usleep(50000);
	assert_int_equal(proc_fd_count(d->pid), fds0);

	/* per_source = 2 still admits exactly two */
	a = tcp_connect(port);
	b = tcp_connect(port);
	send_str(a, "x\n");
	send_str(b, "y\n");
	assert_true(recv_line(a, buf, sizeof(buf), 3000) == 2);
	assert_true(recv_line(b, buf, sizeof(buf), 3000) == 2);
	c = tcp_connect(port);
	assert_int_equal(wait_closed(c, 3000), 1);
	close(a);
	close(b);
	close(c);
	/* and once those have gone, admits again */
	for (i = 0; i < 100 && proc_fd_count(d->pid) != fds0; i++)
		usleep(20000);
	fd = tcp_connect(port);
	send_str(fd, "z\n");
	assert_true(recv_line(fd, buf, sizeof(buf), 3000) == 2);
	close(fd);
	assert_int_equal(sd_stop(d), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		test_churn_returns_memory_descriptors_and_counters, sd_setup,
		sd_teardown),
	};
	return cmocka_run_group_tests_name("churn", tests, NULL, NULL);
}
