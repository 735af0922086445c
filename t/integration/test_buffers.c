/*
 * test_buffers.c - what superd holds for a connection stays bounded:
 * max_line (a line too long is an error and the next line is whole; a
 * flood without newlines leaves RSS flat), output_limit (a slow consumer
 * is dropped, the others get every line), and one big write is queued a
 * part at a time.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client.h"

/* send_all, but gives up (-1) when the peer stops reading for ms. */
static int
send_timed(int fd, const void *buf, size_t len, int ms)
{
	struct pollfd p = {fd, POLLOUT, 0};
	const char *s = buf;
	ssize_t n;

	while (len > 0) {
		if (poll(&p, 1, ms) <= 0)
			return -1;
		n = send(fd, s, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			return -1;
		s += n;
		len -= n;
	}
	return 0;
}

#define LINES_LUA                                    \
	"function main(s)\n"                         \
	"  while true do\n"                          \
	"    local l, err = s:read('l')\n"           \
	"    if l then s:write('line ', l, '\\n')\n" \
	"    elseif err == 'line too long' then\n"   \
	"      s:write('error ', err, '\\n')\n"      \
	"    else return end\n"                      \
	"  end\n"                                    \
	"end\n"

static void
test_read_line_too_long_returns_error_then_next_line(void **state)
{
	struct fix *f = *state;
	size_t big = 2 << 20;
	char *buf = malloc(big + 2), *want = malloc(1100);
	int fd;

	fix_start_test(f, LINES_LUA, "max_line = 1024;");
	fd = tcp_connect(f->port);
	assert_true(fd >= 0);
	/* The longest line accepted is max_line bytes. */
	memset(buf, 'a', 1024);
	buf[1024] = '\n';
	assert_int_equal(send_timed(fd, buf, 1025, 5000), 0);
	snprintf(want, 1100, "line %.1024s\n", buf);
	assert_int_equal(expect_line(fd, want), 0);
	memset(buf, 'x', big);
	assert_int_equal(send_timed(fd, buf, big, 10000), 0);
	assert_int_equal(send_str(fd, "\nok\n"), 0);
	assert_int_equal(expect_line(fd, "error line too long\n"), 0);
	assert_int_equal(expect_line(fd, "line ok\n"), 0);
	/* One past the limit is too long, and the next line is whole. */
	memset(buf, 'b', 1025);
	memcpy(buf + 1025, "\nnext\n", 6);
	assert_int_equal(send_timed(fd, buf, 1031, 5000), 0);
	assert_int_equal(expect_line(fd, "error line too long\n"), 0);
	assert_int_equal(expect_line(fd, "line next\n"), 0);
	close(fd);
	free(buf);
	free(want);
	assert_healthy(f);
	assert_int_equal(sd_stop(&f->d), 0);
}

#define FLOOD (100UL << 20)

static void
test_newline_free_flood_keeps_rss_flat(void **state)
{
	struct fix *f = *state;
	static char chunk[65536];
	long base, rss, peak, t0;
	size_t sent;
	int fd, i;

	fix_start_test(f, LINES_LUA, "max_line = 1024;");
	fd = tcp_connect(f->port);
	assert_true(fd >= 0);
	assert_int_equal(send_str(fd, "warm\n"), 0);
	assert_int_equal(expect_line(fd, "line warm\n"), 0);
	peak = base = proc_rss_kb(f->pid);
	assert_true(base > 0);
	memset(chunk, 'x', sizeof(chunk));
	t0 = now_ms();
	for (i = 0, sent = 0; sent < FLOOD; i++, sent += sizeof(chunk)) {
		assert_int_equal(
		    send_timed(fd, chunk, sizeof(chunk), 10000), 0);
		if (i % 16 == 0 && (rss = proc_rss_kb(f->pid)) > peak)
			peak = rss;
		if (now_ms() - t0 > 30000)
			fail_msg("100 MB not sent in 30 s (%zu sent)", sent);
	}
	assert_int_equal(send_str(fd, "\nok\n"), 0);
	assert_int_equal(expect_line(fd, "error line too long\n"), 0);
	assert_int_equal(expect_line(fd, "line ok\n"), 0);
	if ((rss = proc_rss_kb(f->pid)) > peak)
		peak = rss;
	print_message("    100 MB in %ld ms; VmRSS %ld kB, peak %ld kB\n",
	    now_ms() - t0, base, peak);
	assert_true(peak - base < 4096);
	close(fd);
	assert_healthy(f);
	assert_int_equal(sd_stop(&f->d), 0);
}

#define CHAT_LUA                                          \
	"if members == nil then members = {} end\n"       \
	"function main(s)\n"                              \
	"  members[s] = true\n"                           \
	"  s:write('hi\\n')\n"                            \
	"  for line in s:lines() do\n"                    \
	"    for m in pairs(members) do\n"                \
	"      if m ~= s then m:write(line, '\\n') end\n" \
	"    end\n"                                       \
	"  end\n"                                         \
	"end\n"                                           \
	"function fini(s) members[s] = nil end\n"

static void
test_slow_consumer_dropped_others_get_every_line(void **state)
{
	struct fix *f = *state;
	char line[2048], want[2048], pad[1001], needle[64];
	int slow, a, b, i, n = 0, batch, after = -1;

	fix_start_test(f, CHAT_LUA, "output_limit = 65536;");
	slow = tcp_connect_from(NULL, f->port, 4096);
	assert_true(slow >= 0);
	assert_int_equal(expect_line(slow, "hi\n"), 0);
	a = tcp_connect(f->port);
	assert_true(a >= 0);
	assert_int_equal(expect_line(a, "hi\n"), 0);
	b = tcp_connect(f->port);
	assert_true(b >= 0);
	assert_int_equal(expect_line(b, "hi\n"), 0);
	memset(pad, 'p', 1000);
	pad[1000] = '\0';
	/* a talks, b keeps up, slow never reads. */
	for (batch = 0; batch < 2000 && after < 5; batch++) {
		for (i = 0; i < 32; i++) {
			snprintf(line, sizeof(line), "%06d %s\n", n + i, pad);
			assert_int_equal(
			    send_timed(a, line, strlen(line), 5000), 0);
		}
		for (i = 0; i < 32; i++, n++) {
			snprintf(want, sizeof(want), "%06d %s\n", n, pad);
			recv_line(b, line, sizeof(line), 5000);
			if (strcmp(line, want) != 0)
				fail_msg("b: line %d is \"%.12s\", want "
					 "\"%.12s\"",
				    n, line, want);
		}
		if (after >= 0 || sd_log_count(&f->d, "slow consumer") > 0)
			after++;
	}
	print_message(
	    "    slow consumer dropped after %d batches of 32 KB\n", batch - 5);
	assert_true(after >= 5);
	snprintf(needle, sizeof(needle),
	    "test: tcp 127.0.0.1:%d:", local_port(slow));
	assert_int_equal(sd_log_lines(&f->d, needle, "slow consumer"), 1);
	assert_true(wait_closed(slow, 10000));
	close(slow);
	assert_int_equal(send_str(a, "last\n"), 0);
	assert_int_equal(expect_line(b, "last\n"), 0);
	close(a);
	close(b);
	assert_healthy(f);
	assert_int_equal(sd_stop(&f->d), 0);
}

/*
 * One write of 60 arguments of 8 MiB (one string, 480 MiB in all) to a
 * client that does not read is queued a part at a time, not copied
 * whole into superd's buffers.
 */
static void
test_write_of_many_big_arguments_is_queued_in_parts(void **state)
{
	struct fix *f = *state;
	long rss;
	int fd;

	fix_start_test(f,
	    "function main(s)\n"
	    "  local x, t = string.rep('x', 8 * 2^20), {}\n"
	    "  for i = 1, 60 do t[i] = x end\n"
	    "  print('writing')\n"
	    "  s:write(table.unpack(t))\n"
	    "end\n",
	    "");
	fd = tcp_connect(f->port);
	assert_int_equal(sd_log_wait(&f->d, "writing", 1, 3000), 1);
	usleep(500000);
	rss = proc_rss_kb(f->pid);
	close(fd);
	if (rss > 120 * 1024)
		fail_msg(
		    "superd's RSS is %ld KiB with one big write queued", rss);
	assert_healthy(f);
	assert_int_equal(sd_stop(&f->d), 0);
}

#define FIX(f) cmocka_unit_test_setup_teardown(f, fix_setup, fix_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    FIX(test_read_line_too_long_returns_error_then_next_line),
	    FIX(test_newline_free_flood_keeps_rss_flat),
	    FIX(test_slow_consumer_dropped_others_get_every_line),
	    FIX(test_write_of_many_big_arguments_is_queued_in_parts),
	};
	if (getenv("TEST_FILTER") != NULL)
		cmocka_set_test_filter(getenv("TEST_FILTER"));
	return cmocka_run_group_tests_name("buffers", tests, NULL, NULL);
}
