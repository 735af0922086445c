/*
 * test_limits.c - what a service admits and for how long: max_connections
 * (its own and the global one), per_source (an IPv4-mapped peer counted
 * as its IPv4 address), rate, idle_timeout and timeout.  A client refused
 * is closed unanswered and logged, and however a connection ends, no
 * count is left behind.
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

/* Writes an echo service with a limit, plus a probe for sd_start. */
static void
start_limited(
    struct superd *d, int port, const char *globals, const char *limit)
{
	int probe = free_port();

	sd_conf(d, globals,
	    "{ name = \"echo\"; port = %d; address = \"127.0.0.1\";"
	    " script = \"echo.lua\"; %s },\n"
	    "{ name = \"probe\"; port = %d; address = \"127.0.0.1\";"
	    " script = \"echo.lua\"; }",
	    port, limit, probe);
	assert_int_equal(sd_start(d, probe), 0);
}

static void
test_max_connections_refuses_then_recovers(void **state)
{
	struct superd *d = *state;
	int port = free_port(), a, b, c;

	start_limited(d, port, "", "max_connections = 2;");
	a = tcp_connect(port);
	assert_true(served(a));
	b = tcp_connect(port);
	assert_true(served(b));
	assert_refused(
	    d, "echo", "127.0.0.1", tcp_connect(port), "max_connections");
	close_and_wait(d, "echo", a);
	c = tcp_connect(port);
	assert_true(served(c));
	close(b);
	close(c);
	assert_int_equal(sd_stop(d), 0);
}

static void
test_per_source_refuses_same_address_then_recovers(void **state)
{
	struct superd *d = *state;
	int port = free_port(), a, b, c;

	start_limited(d, port, "", "per_source = 1;");
	a = tcp_connect(port);
	assert_true(served(a));
	assert_refused(d, "echo", "127.0.0.1", tcp_connect(port), "per_source");
	/* another source address is its own count */
	b = tcp_connect_from("127.0.0.2", port, 0);
	assert_true(served(b));
	close_and_wait(d, "echo", a);
	c = tcp_connect(port);
	assert_true(served(c));
	close(b);
	close(c);
	assert_int_equal(sd_stop(d), 0);
}

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

static void
test_global_max_connections_spans_services(void **state)
{
	struct superd *d = *state;
	int p1 = free_port(), p2 = free_port(), a, b;

	sd_conf(d, "log_level = \"info\"; max_connections = 1;",
	    "{ name = \"one\"; port = %d; address = \"127.0.0.1\";"
	    " script = \"echo.lua\"; },\n"
	    "{ name = \"two\"; port = %d; address = \"127.0.0.1\";"
	    " script = \"echo.lua\"; }",
	    p1, p2);
	assert_int_equal(sd_start(d, p1), 0);
	/* sd_start's own probe must have ended first */
	assert_int_equal(sd_log_wait(d, "closed by peer", 1, 3000), 1);
	a = tcp_connect(p1);
	assert_true(served(a));
	assert_refused(
	    d, "two", "127.0.0.1", tcp_connect(p2), "global max_connections");
	close_and_wait(d, "one", a);
	b = tcp_connect(p2);
	assert_true(served(b));
	close(b);
	assert_int_equal(sd_stop(d), 0);
}

static void
test_rate_refuses_over_budget_then_refills(void **state)
{
	struct superd *d = *state;
	int port = free_port(), a, b, c;

	start_limited(d, port, "", "rate = 2;");
	a = tcp_connect(port);
	assert_true(served(a));
	b = tcp_connect(port);
	assert_true(served(b));
	assert_refused(d, "echo", "127.0.0.1", tcp_connect(port), "rate");
	usleep(1100000);
	c = tcp_connect(port);
	assert_true(served(c));
	close(a);
	close(b);
	close(c);
	assert_int_equal(sd_stop(d), 0);
}

static void
test_idle_timeout_closes_idle_client_but_not_active_one(void **state)
{
	struct superd *d = *state;
	char needle[128], line[512], c;
	int port = free_port(), idle, busy, idle_port, i;
	long start, took;

	start_limited(d, port, "", "idle_timeout = 1;");
	idle = tcp_connect(port);
	assert_true(served(idle));
	idle_port = local_port(idle);
	busy = tcp_connect(port);
	assert_true(served(busy));
	start = now_ms();
	/* a byte every 300 ms for 2 s keeps it open */
	for (i = 0; i < 7; i++) {
		usleep(300000);
		assert_int_equal(send_str(busy, "b"), 0);
		assert_int_equal(recv_n(busy, &c, 1, 1000), 1);
	}
	assert_true(served(busy));
	/* the idle one was closed after about a second */
	took = now_ms() - start;
	assert_true(took >= 2000);
	assert_int_equal(wait_closed(idle, 100), 1);
	close(idle);
	snprintf(needle, sizeof(needle), "echo: tcp 127.0.0.1:%d: ", idle_port);
	assert_int_equal(
	    sd_log_wait_line(d, needle, line, sizeof(line), 2000), 0);
	assert_non_null(strstr(line, ", timeout"));
	close(busy);
	assert_int_equal(sd_stop(d), 0);
}

static void
test_idle_timeout_closes_after_about_a_second(void **state)
{
	struct superd *d = *state;
	int port = free_port(), fd;
	long start, took;

	start_limited(d, port, "", "idle_timeout = 1;");
	fd = tcp_connect(port);
	assert_true(served(fd));
	start = now_ms();
	assert_int_equal(wait_closed(fd, 3000), 1);
	took = now_ms() - start;
	close(fd);
	assert_in_range(took, 700, 2500);
	assert_int_equal(sd_stop(d), 0);
}

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

#define TEST(f) cmocka_unit_test_setup_teardown(f, sd_setup, sd_teardown)
#define FIX(f) cmocka_unit_test_setup_teardown(f, fix_setup, fix_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    TEST(test_max_connections_refuses_then_recovers),
	    TEST(test_per_source_refuses_same_address_then_recovers),
	    FIX(test_mapped_peer_limited_and_logged_as_ipv4),
	    TEST(test_global_max_connections_spans_services),
	    TEST(test_rate_refuses_over_budget_then_refills),
	    TEST(test_idle_timeout_closes_idle_client_but_not_active_one),
	    TEST(test_idle_timeout_closes_after_about_a_second),
	    FIX(test_drip_feed_meets_timeout_not_idle_timeout),
	    FIX(test_counters_never_leak_whatever_ends_a_connection),
	};
	if (getenv("TEST_FILTER") != NULL)
		cmocka_set_test_filter(getenv("TEST_FILTER"));
	return cmocka_run_group_tests_name("limits", tests, NULL, NULL);
}
