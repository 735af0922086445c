/*
 * test_services.c - the shipped services as clients see them: qotd, chat
 * and echo, and the classic discard, daytime, chargen, time (read by
 * rdate too) and qotd over TCP and UDP.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
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

/*
 * The shipped relay.lua in front of the shipped chargen and echo, all in
 * one superd: relay port, then relay port + 1, relay to echo.
 */
static void
start_relays(struct superd *d, int port)
{
	sd_write(d, "superd.conf",
	    "shutdown_timeout = 1;\n"
	    "script_dir = \"%s/services\";\n"
	    "services = (\n"
	    "  { name = \"chargen\"; port = %d; address = \"127.0.0.1\";\n"
	    "    script = \"chargen.lua\"; },\n"
	    "  { name = \"echo\"; port = %d; address = \"127.0.0.1\";\n"
	    "    script = \"echo.lua\"; },\n"
	    "  { name = \"to_chargen\"; port = %d; address = \"127.0.0.1\";\n"
	    "    script = \"relay.lua\";\n"
	    "    options = { host = \"127.0.0.1\"; port = %d; }; },\n"
	    "  { name = \"to_echo\"; port = %d; address = \"127.0.0.1\";\n"
	    "    script = \"relay.lua\";\n"
	    "    options = { host = \"127.0.0.1\"; port = %d; }; }\n"
	    ");\n",
	    sd_repo(), port + 2, port + 3, port, port + 2, port + 1, port + 3);
	assert_int_equal(sd_start(d, port), 0);
}

/* Four ports in a row, free now. */
static int
free_ports4(void)
{
	int i, fd, port;

	for (;;) {
		port = free_port();
		for (i = 1; i < 4; i++) {
			if ((fd = listen_local(port + i, SOCK_STREAM)) < 0)
				break;
			close(fd);
		}
		if (i == 4)
			return port;
	}
}

/*
 * A slow client behind a fast upstream: 1 KiB every 10 ms for 3 s from
 * chargen through the relay.  flush() holds the relay to the client's
 * pace: the client is not dropped, and superd grows by less than 16 MiB.
 */
static void
test_relay_holds_a_fast_upstream_to_a_slow_client(void **state)
{
	struct superd *d = *state;
	int port = free_ports4(), fd, i;
	long rss0, rss1, total = 0;
	char buf[1024];
	ssize_t n;

	start_relays(d, port);
	rss0 = proc_rss_kb(d->pid);
	fd = tcp_connect_from(NULL, port, 4096);
	assert_true(fd >= 0);
	for (i = 0; i < 300; i++) {
		n = recv_n(fd, buf, sizeof(buf), 2000);
		assert_int_equal(n, sizeof(buf));
		assert_true(buf[0] >= 32 || buf[0] == '\r' || buf[0] == '\n');
		total += n;
		usleep(10 * 1000);
	}
	rss1 = proc_rss_kb(d->pid);
	assert_int_equal(total, 300 * 1024);
	assert_true(rss0 > 0 && rss1 > 0);
	print_message("    superd grew by %ld kB\n", rss1 - rss0);
	/* ASan's quarantine keeps what was freed: not judged there */
	if (!sd_sanitized())
		assert_true(rss1 - rss0 < 16 * 1024);
	assert_int_equal(sd_log_count(d, "slow consumer"), 0);
	close(fd);
	assert_int_equal(sd_stop(d), 0);
}

/*
 * A client that sends 1 MiB and half-closes gets all of it back from the
 * echo behind the relay, then the end: the half-close went through.
 */
static void
test_relay_passes_a_half_close_on(void **state)
{
	static char out[1 << 20], in[1 << 20];
	struct superd *d = *state;
	int port = free_ports4(), fd, i;
	size_t sent = 0, got = 0;
	struct pollfd p;
	ssize_t n;

	for (i = 0; i < (int)sizeof(out); i++)
		out[i] = (char)('a' + i % 26);
	start_relays(d, port);
	fd = tcp_connect(port + 1);
	assert_true(fd >= 0);
	p.fd = fd;
	while (got < sizeof(in)) {
		p.events = POLLIN | (sent < sizeof(out) ? POLLOUT : 0);
		assert_int_equal(poll(&p, 1, 5000), 1);
		if ((p.revents & POLLOUT) && sent < sizeof(out)) {
			n = send(fd, out + sent, sizeof(out) - sent,
			    MSG_DONTWAIT | MSG_NOSIGNAL);
			assert_true(n > 0);
			if ((sent += n) == sizeof(out))
				assert_int_equal(shutdown(fd, SHUT_WR), 0);
		}
		if (p.revents & POLLIN) {
			n = recv(fd, in + got, sizeof(in) - got, MSG_DONTWAIT);
			assert_true(n > 0);
			got += n;
		}
	}
	assert_int_equal(memcmp(in, out, sizeof(in)), 0);
	assert_int_equal(wait_closed(fd, 3000), 1);
	close(fd);
	assert_int_equal(sd_stop(d), 0);
}

/* The classic inetd services, over TCP and UDP. */

#define EPOCH_1900 2208988800ULL

/* The 95 printable characters, and chargen's lines (74 bytes) in a row. */
static const char *
ring(void)
{
	static char r[96];
	int c;

	for (c = 32; c <= 126; c++)
		r[c - 32] = (char)c;
	r[95] = '\0';
	return r;
}

static void
chargen_line(int i, char *out)
{
	const char *r = ring();
	int k;

	for (k = 0; k < 72; k++)
		out[k] = r[(i + k) % 95];
	out[72] = '\r';
	out[73] = '\n';
	out[74] = '\0';
}

static void
test_discard_tcp_stays_open_and_udp_gets_no_reply(void **state)
{
	struct superd *d = *state;
	char data[1000], reply[64];
	int port = free_port(), fd, ufd;

	memset(data, 'd', sizeof(data));
	sd_start_shipped(d, "discard", port, "protocol = [\"tcp\", \"udp\"];");
	fd = tcp_connect(port);
	assert_true(fd >= 0);
	assert_int_equal(send_all(fd, data, sizeof(data)), 0);
	assert_true(quiet_for(fd, 300));
	assert_int_equal(send_all(fd, data, sizeof(data)), 0);
	assert_int_equal(wait_closed(fd, 300), 0);
	close(fd);
	ufd = udp_open("127.0.0.1", 0, 0);
	assert_int_equal(udp_ask(ufd, "127.0.0.1", port, data, 100, reply,
			     sizeof(reply), 500),
	    -1);
	close(ufd);
	assert_int_equal(sd_stop(d), 0);
}

static void
check_daytime(const char *s, size_t n)
{
	assert_true(n > 10 && n < 200);
	assert_int_equal(s[n - 2], '\r');
	assert_int_equal(s[n - 1], '\n');
	assert_ptr_equal(memchr(s, '\n', n), s + n - 1);
}

static void
test_daytime_is_one_crlf_line_over_tcp_and_udp(void **state)
{
	struct superd *d = *state;
	char buf[512];
	int port = free_port(), fd;
	ssize_t n;

	sd_start_shipped(d, "daytime", port, "protocol = [\"tcp\", \"udp\"];");
	fd = tcp_connect(port);
	assert_true(fd >= 0);
	n = recv_all(fd, buf, sizeof(buf), 2000);
	close(fd);
	check_daytime(buf, n);
	n = udp_exchange(port, "", 0, buf, sizeof(buf), 2000);
	check_daytime(buf, n);
	assert_int_equal(sd_stop(d), 0);
}

static void
test_chargen_tcp_lines_rotate_through_the_ring(void **state)
{
	struct superd *d = *state;
	char line[128], want[75];
	int port = free_port(), fd, i;

	sd_start_shipped(d, "chargen", port, "protocol = [\"tcp\", \"udp\"];");
	fd = tcp_connect(port);
	assert_true(fd >= 0);
	/* past 95 lines: the ring wraps around */
	for (i = 0; i < 200; i++) {
		chargen_line(i, want);
		assert_int_equal(recv_line(fd, line, sizeof(line), 2000), 74);
		assert_string_equal(line, want);
	}
	close(fd);
	assert_int_equal(sd_stop(d), 0);
}

static void
test_chargen_udp_is_one_ring_prefix_datagram(void **state)
{
	struct superd *d = *state;
	char text[8 * 74 + 1], reply[2048];
	int port = free_port(), i, fd;
	ssize_t n;

	for (i = 0; i < 8; i++)
		chargen_line(i, text + i * 74);
	sd_start_shipped(d, "chargen", port, "protocol = [\"tcp\", \"udp\"];");
	for (i = 0; i < 5; i++) {
		fd = udp_open("127.0.0.1", 0, 0);
		n = udp_ask(
		    fd, "127.0.0.1", port, "x", 1, reply, sizeof(reply), 2000);
		assert_true(n >= 0 && n <= 512);
		assert_memory_equal(reply, text, n);
		/* one datagram only */
		assert_int_equal(udp_recv(fd, reply, sizeof(reply), 100), -1);
		close(fd);
	}
	assert_int_equal(sd_stop(d), 0);
}

static void
check_time(const unsigned char *b)
{
	uint32_t got = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
		       (uint32_t)b[2] << 8 | b[3];
	uint32_t want = (uint32_t)((uint64_t)time(NULL) + EPOCH_1900);
	int32_t diff = (int32_t)(got - want);

	if (diff < -2 || diff > 2)
		fail_msg("time is %d s off the clock", (int)diff);
}

static void
test_time_is_seconds_since_1900_over_tcp_and_udp(void **state)
{
	struct superd *d = *state;
	unsigned char buf[16];
	int port = free_port(), fd;

	sd_start_shipped(d, "time", port, "protocol = [\"tcp\", \"udp\"];");
	fd = tcp_connect(port);
	assert_true(fd >= 0);
	assert_int_equal(recv_all(fd, buf, sizeof(buf), 2000), 4);
	close(fd);
	check_time(buf);
	assert_int_equal(udp_exchange(port, "", 0, buf, sizeof(buf), 2000), 4);
	check_time(buf);
	assert_int_equal(sd_stop(d), 0);
}

static void
test_qotd_is_one_quote_under_512_bytes_over_tcp_and_udp(void **state)
{
	struct superd *d = *state;
	char buf[2048];
	int port = free_port(), fd;
	ssize_t n;

	sd_start_shipped(d, "qotd", port, "protocol = [\"tcp\", \"udp\"];");
	fd = tcp_connect(port);
	assert_true(fd >= 0);
	n = recv_all(fd, buf, sizeof(buf), 2000);
	close(fd);
	assert_true(n > 2 && n < 512);
	assert_memory_equal(buf + n - 2, "\r\n", 2);
	n = udp_exchange(port, "", 0, buf, sizeof(buf), 2000);
	assert_true(n > 2 && n < 512);
	assert_memory_equal(buf + n - 2, "\r\n", 2);
	assert_int_equal(sd_stop(d), 0);
}

static void
test_rdate_reads_time_over_tcp_and_udp(void **state)
{
	struct superd *d = *state;
	char portstr[16], out[256], text[1024];
	char *tcp[] = {
	    "/usr/sbin/rdate", "-p", "-o", portstr, "127.0.0.1", NULL};
	char *udp[] = {
	    "/usr/sbin/rdate", "-u", "-p", "-o", portstr, "127.0.0.1", NULL};
	int port = free_port();

	if (access("/usr/sbin/rdate", X_OK) < 0) {
		printf("skipped: /usr/sbin/rdate is not installed\n");
		return;
	}
	snprintf(portstr, sizeof(portstr), "%d", port);
	snprintf(out, sizeof(out), "%s/rdate.out", d->dir);
	sd_start_shipped(d, "time", port, "protocol = [\"tcp\", \"udp\"];");
	if (run_for(tcp, out, 5000) != 0) {
		read_text(out, text, sizeof(text));
		fail_msg("rdate -p (TCP) failed: %s", text);
	}
	if (run_for(udp, out, 5000) != 0) {
		read_text(out, text, sizeof(text));
		fail_msg("rdate -u -p (UDP) failed: %s", text);
	}
	assert_int_equal(sd_stop(d), 0);
}

/* A quotes file with no quote in it fails the check (and the start), named,
 * rather than every request raising "interval is empty". */
static void
test_qotd_empty_quotes_file_fails_the_check_naming_it(void **state)
{
	struct superd *d = *state;
	char out[4096], path[256];

	sd_write(d, "empty.txt", "%s", "");
	snprintf(path, sizeof(path), "%s/empty.txt", d->dir);
	sd_conf(d, "",
	    "{ name = \"qotd\"; port = %d; address = \"127.0.0.1\";"
	    " script = \"qotd.lua\"; options = { quotes = \"%s\"; }; }",
	    free_port(), path);
	assert_int_equal(
	    sd_run(d, out, sizeof(out), "-t", "-c", d->conf, NULL), 1);
	assert_has(out, path);
	assert_has(out, "no quotes");
	assert_int_equal(sd_run(d, out, sizeof(out), "-c", d->conf, NULL), 1);
	assert_has(out, path);
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
	    TEST(test_relay_holds_a_fast_upstream_to_a_slow_client),
	    TEST(test_relay_passes_a_half_close_on),
	    TEST(test_discard_tcp_stays_open_and_udp_gets_no_reply),
	    TEST(test_daytime_is_one_crlf_line_over_tcp_and_udp),
	    TEST(test_chargen_tcp_lines_rotate_through_the_ring),
	    TEST(test_chargen_udp_is_one_ring_prefix_datagram),
	    TEST(test_time_is_seconds_since_1900_over_tcp_and_udp),
	    TEST(test_qotd_is_one_quote_under_512_bytes_over_tcp_and_udp),
	    TEST(test_qotd_empty_quotes_file_fails_the_check_naming_it),
	    TEST(test_rdate_reads_time_over_tcp_and_udp),
	};
	return cmocka_run_group_tests_name("services", tests, NULL, NULL);
}
