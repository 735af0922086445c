/* test_services.c - the shipped qotd, chat and echo, as clients see them. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client.h"

#define PROMPT "Handle you go by: "

static void
test_qotd_sends_short_crlf_quote_and_closes(void **state)
{
	char buf[4096], first[4096];
	int port = free_port(), fd, i, differ = 0;
	struct superd *d = *state;
	ssize_t n, j;

	sd_start_shipped(d, "qotd", port, NULL);
	for (i = 0; i < 20; i++) {
		fd = tcp_connect(port);
		assert_true(fd >= 0);
		/* recv_all returns the count only when the peer closed. */
		n = recv_all(fd, buf, sizeof(buf) - 1, 3000);
		close(fd);
		assert_true(n > 0);
		assert_true(n < 512);
		buf[n] = '\0';
		assert_true(n >= 2 && buf[n - 2] == '\r' && buf[n - 1] == '\n');
		for (j = 0; j < n; j++)
			if (buf[j] == '\n')
				assert_true(j > 0 && buf[j - 1] == '\r');
		if (i == 0)
			strcpy(first, buf);
		else if (strcmp(first, buf) != 0)
			differ = 1;
	}
	assert_true(differ);
	assert_int_equal(sd_stop(d), 0);
}

static void
test_chat_announces_relays_and_says_goodbye(void **state)
{
	int port = free_port(), a, b, c;
	struct superd *d = *state;

	sd_start_shipped(d, "chat", port, NULL);
	a = chat_join(port, "alice");
	b = chat_join(port, "bob");
	assert_int_equal(expect_line(a, "bob is in da room!\n"), 0);
	c = chat_join(port, "carol");
	assert_int_equal(expect_line(a, "carol is in da room!\n"), 0);
	assert_int_equal(expect_line(b, "carol is in da room!\n"), 0);

	assert_int_equal(send_str(a, "hi\n"), 0);
	assert_int_equal(expect_line(b, "alice: hi\n"), 0);
	assert_int_equal(expect_line(c, "alice: hi\n"), 0);
	assert_true(quiet_for(a, 300));

	assert_int_equal(send_str(c, "hello there\n"), 0);
	assert_int_equal(expect_line(a, "carol: hello there\n"), 0);
	assert_int_equal(expect_line(b, "carol: hello there\n"), 0);
	assert_true(quiet_for(c, 300));

	close(b);
	assert_int_equal(expect_line(a, "bob has left the building!\n"), 0);
	assert_int_equal(expect_line(c, "bob has left the building!\n"), 0);
	assert_true(quiet_for(a, 200));
	close(a);
	assert_int_equal(expect_line(c, "alice has left the building!\n"), 0);
	close(c);
	assert_int_equal(sd_stop(d), 0);
}

/* Line i as the sender types it: 100 bytes with its '\n'. */
static void
chat_payload(char *buf, int i)
{
	snprintf(buf, 8, "%06d ", i);
	memset(buf + 7, 'a' + i % 26, 92);
	buf[99] = '\n';
	buf[100] = '\0';
}

#define BATCH 100
#define MIN_LINES 20000
#define MAX_LINES 100000

static void
test_chat_drops_slow_consumer_and_keeps_fast_reader(void **state)
{
	static struct lines r;
	static char batch[BATCH * 101];
	char line[128], want[256], got[256];
	int port = free_port(), s, slow, i, k, left = 0;
	struct superd *d = *state;

	sd_start_shipped(d, "chat", port, "output_limit = 65536;");
	s = chat_join(port, "sender");
	slow = chat_join(port, "slow");
	assert_int_equal(expect_line(s, "slow is in da room!\n"), 0);
	r.fd = chat_join(port, "reader");
	r.len = 0;
	/* Until the slow member is dropped, and at least MIN_LINES. */
	for (i = 0; i < MAX_LINES &&
		    (i < MIN_LINES || sd_log_count(d, "slow consumer") == 0);
	     i += BATCH) {
		for (k = 0; k < BATCH; k++) {
			chat_payload(line, i + k);
			memcpy(batch + k * 100, line, 100);
		}
		assert_int_equal(send_all(s, batch, BATCH * 100), 0);
		for (k = 0; k < BATCH; k++) {
			chat_payload(line, i + k);
			snprintf(want, sizeof(want), "sender: %s", line);
			assert_true(lines_next(&r, got, sizeof(got), 3000) > 0);
			if (strcmp(got, "slow has left the building!\n") == 0) {
				left++;
				k--;
				continue;
			}
			assert_string_equal(got, want);
		}
	}
	assert_int_equal(sd_log_wait(d, "slow consumer", 1, 3000), 1);
	assert_true(wait_closed(slow, 5000));
	if (left == 0) {
		assert_true(lines_next(&r, got, sizeof(got), 3000) > 0);
		assert_string_equal(got, "slow has left the building!\n");
		left++;
	}
	assert_int_equal(left, 1);
	assert_true(quiet_for(r.fd, 200));
	close(slow);
	close(s);
	assert_int_equal(
	    expect_line(r.fd, "sender has left the building!\n"), 0);
	close(r.fd);
	assert_int_equal(sd_stop(d), 0);
}

static void
test_echo_returns_every_byte(void **state)
{
	static char out[6000], in[6000];
	int port = free_port(), fd;
	struct superd *d = *state;
	size_t i;

	for (i = 0; i < sizeof(out); i++)
		out[i] = (char)(i * 7 + i / 251);
	sd_start_shipped(d, "echo", port, NULL);
	fd = tcp_connect(port);
	assert_true(fd >= 0);
	assert_int_equal(send_all(fd, out, sizeof(out)), 0);
	assert_int_equal(recv_n(fd, in, sizeof(in), 3000), sizeof(in));
	assert_memory_equal(in, out, sizeof(out));
	/* End of input ends main, which closes the connection. */
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	assert_true(wait_closed(fd, 3000));
	close(fd);
	assert_int_equal(sd_stop(d), 0);
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, sd_setup, sd_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    TEST(test_qotd_sends_short_crlf_quote_and_closes),
	    TEST(test_chat_announces_relays_and_says_goodbye),
	    TEST(test_chat_drops_slow_consumer_and_keeps_fast_reader),
	    TEST(test_echo_returns_every_byte),
	};
	return cmocka_run_group_tests_name("services", tests, NULL, NULL);
}
