/*
 * test_udp.c - UDP services: a datagram in, each write a datagram out
 * (batched when many sources send at once), a reply after its service is
 * gone going nowhere, and the datagrams superd drops unanswered: from a
 * port below 1024, from one of its own ports, or larger than its buffer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client.h"

static void
test_udp_echo_returns_binary_datagram_and_tcp_echo_answers(void **state)
{
	struct superd *d = *state;
	unsigned char msg[256], reply[512];
	int port = free_port(), i, fd;

	for (i = 0; i < 256; i++)
		msg[i] = (unsigned char)i;
	sd_start_shipped(d, "echo", port, "protocol = [\"tcp\", \"udp\"];");
	assert_int_equal(
	    udp_exchange(port, msg, sizeof(msg), reply, sizeof(reply), 2000),
	    256);
	assert_memory_equal(reply, msg, 256);
	fd = tcp_connect(port);
	assert_true(served(fd));
	close(fd);
	assert_int_equal(sd_stop(d), 0);
}

static void
test_udp_write_over_65507_bytes_returns_error(void **state)
{
	struct superd *d = *state;
	char *reply = malloc(70000);
	int port = free_port();

	sd_write(d, "big.lua",
	    "function main(s)\n"
	    "  local n = tonumber(s:read())\n"
	    "  local ok, err = s:write(string.rep(\"x\", n))\n"
	    "  if not ok then s:write(\"error: \" .. tostring(err)) end\n"
	    "end\n");
	sd_conf(d, "",
	    "{ name = \"big\"; port = %d; address = \"127.0.0.1\";"
	    " protocol = [\"tcp\", \"udp\"]; script = \"%s/big.lua\"; }",
	    port, d->dir);
	assert_int_equal(sd_start(d, port), 0);
	assert_int_equal(
	    udp_exchange(port, "65507", 5, reply, 70000, 2000), 65507);
	assert_int_equal(
	    udp_exchange(port, "65508", 5, reply, 70000, 2000), 25);
	reply[25] = '\0';
	assert_string_equal(reply, "error: datagram too large");
	free(reply);
	assert_int_equal(sd_stop(d), 0);
}

/*
 * 64 sources send at once, so superd takes several datagrams in one
 * recvmmsg and sends their replies in one sendmmsg: each source must get
 * its own two, in order.  When the four 50,000-byte replies fall in one
 * turn they overflow the reply buffer, which is sent and refilled.  (The
 * test checks what clients get, which one sendto per reply also gives;
 * the batching itself shows in `make bench` and perf stat's syscall
 * counts.)
 */
#define BURST 64

static void
test_udp_burst_from_many_sources_gets_each_its_own_replies(void **state)
{
	struct superd *d = *state;
	static char reply[70000];
	char msg[32], want[64];
	int port = free_port(), fd[BURST], i;
	ssize_t n;

	sd_write(d, "twice.lua",
	    "function main(s)\n"
	    "  local d = s:read()\n"
	    "  s:write(d:find(\"^big\") and string.rep(\"b\", 50000) or d)\n"
	    "  s:write(\"again \", d)\n"
	    "end\n");
	sd_conf(d, "",
	    "{ name = \"twice\"; port = %d; address = \"127.0.0.1\";"
	    " protocol = [\"tcp\", \"udp\"]; script = \"%s/twice.lua\"; }",
	    port, d->dir);
	assert_int_equal(sd_start(d, port), 0);
	for (i = 0; i < BURST; i++) {
		assert_true((fd[i] = udp_open("127.0.0.1", 0, 0)) >= 0);
		snprintf(msg, sizeof(msg), "%s %d", i % 16 ? "n" : "big", i);
		assert_int_equal(
		    udp_send(fd[i], "127.0.0.1", port, msg, strlen(msg)), 0);
	}
	for (i = 0; i < BURST; i++) {
		snprintf(msg, sizeof(msg), "%s %d", i % 16 ? "n" : "big", i);
		n = udp_recv(fd[i], reply, sizeof(reply), 3000);
		if (i % 16 == 0) {
			assert_int_equal(n, 50000);
			assert_int_equal(reply[49999], 'b');
		} else {
			assert_int_equal(n, strlen(msg));
			assert_memory_equal(reply, msg, n);
		}
		snprintf(want, sizeof(want), "again %s", msg);
		n = udp_recv(fd[i], reply, sizeof(reply), 3000);
		assert_int_equal(n, strlen(want));
		assert_memory_equal(reply, want, n);
		close(fd[i]);
	}
	assert_int_equal(sd_stop(d), 0);
}

/*
 * A datagram's coroutine that answers after SIGHUP removed its service
 * gets nil, "closed": the reply must not go out on the descriptor number
 * the closed listener had, which the next accepted TCP client may get.
 */
#define LATE 6

static void
test_udp_reply_after_its_service_is_removed_goes_nowhere(void **state)
{
	struct superd *d = *state;
	int pu = free_port(), pt = free_port(), fd[LATE], u, i;
	char buf[64];

	sd_write(d, "late.lua",
	    "function main(s)\n"
	    "  s:read()\n"
	    "  superd.sleep(1)\n"
	    "  print('late write:', s:write('LATE UDP REPLY\\n'))\n"
	    "end\n");
	sd_write(d, "talk.lua",
	    "function main(s) s:write('hello\\n') s:read() s:write('bye\\n') "
	    "end\n");
	sd_conf(d, "",
	    "{ name = \"late\"; port = %d; address = \"127.0.0.1\";"
	    " protocol = [\"udp\"]; script = \"%s/late.lua\"; },\n"
	    "{ name = \"talk\"; port = %d; address = \"127.0.0.1\";"
	    " script = \"%s/talk.lua\"; }",
	    pu, d->dir, pt, d->dir);
	assert_int_equal(sd_start(d, pt), 0);
	u = udp_open("127.0.0.1", 0, 0);
	assert_int_equal(udp_send(u, "127.0.0.1", pu, "x", 1), 0);
	usleep(200000); /* the datagram's coroutine is asleep */
	sd_conf(d, "",
	    "{ name = \"talk\"; port = %d; address = \"127.0.0.1\";"
	    " script = \"%s/talk.lua\"; }",
	    pt, d->dir);
	sd_signal(d, SIGHUP);
	assert_int_equal(sd_log_wait(d, "configuration", 1, 3000), 1);
	for (i = 0; i < LATE; i++) {
		fd[i] = tcp_connect(pt);
		assert_int_equal(expect_line(fd[i], "hello\n"), 0);
	}
	assert_int_equal(sd_log_wait(d, "late write:", 1, 3000), 1);
	assert_int_equal(sd_log_count(d, "late write:\tnil\tclosed"), 1);
	for (i = 0; i < LATE; i++) {
		assert_true(quiet_for(fd[i], 100));
		send_str(fd[i], "x\n");
		assert_true(recv_line(fd[i], buf, sizeof(buf), 3000) > 0);
		assert_string_equal(buf, "bye\n");
		close(fd[i]);
	}
	assert_int_equal(udp_recv(u, buf, sizeof(buf), 200), -1);
	close(u);
	assert_int_equal(sd_stop(d), 0);
}

/* The datagrams superd drops: they would reflect off it. */

static void
test_udp_from_source_port_below_1024_is_dropped(void **state)
{
	struct superd *d = *state;
	char reply[64], needle[128], line[512];
	int port = free_port(), low, fd = -1;

	sd_conf(d, "log_level = \"debug\";",
	    "{ name = \"echo\"; port = %d; address = \"127.0.0.1\";"
	    " protocol = [\"tcp\", \"udp\"]; script = \"echo.lua\"; }",
	    port);
	assert_int_equal(sd_start(d, port), 0);
	for (low = 1000; low > 900 && fd < 0; low--)
		fd = udp_open("127.0.0.1", low, 0);
	low++;
	if (fd < 0) {
		printf("skipped: cannot bind a UDP port below 1024\n");
		return;
	}
	assert_int_equal(
	    udp_ask(fd, "127.0.0.1", port, "x", 1, reply, sizeof(reply), 500),
	    -1);
	close(fd);
	snprintf(
	    needle, sizeof(needle), "echo: udp 127.0.0.1:%d: dropped: ", low);
	assert_int_equal(
	    sd_log_wait_line(d, needle, line, sizeof(line), 2000), 0);
	assert_non_null(strstr(line, "source port below 1024"));
	/* the same datagram from a high port is answered */
	assert_int_equal(
	    udp_exchange(port, "x", 1, reply, sizeof(reply), 2000), 1);
	assert_int_equal(sd_stop(d), 0);
}

#define UDP_LUA                                                 \
	"function main(s)\n"                                    \
	"  local d = s:read()\n"                                \
	"  local _, port = s:getpeername()\n"                   \
	"  print('dgram ' .. port .. ' ' .. d)\n"               \
	"  if d == 'big' then\n"                                \
	"    local ok, err = s:write(string.rep('x', 70000))\n" \
	"    s:write('err=' .. tostring(err))\n"                \
	"  else\n"                                              \
	"    s:write(d)\n"                                      \
	"  end\n"                                               \
	"end\n"

static void
start_udp(struct fix *f)
{
	char svc[512];

	sd_write(&f->d, "test.lua", "%s", UDP_LUA);
	sd_write(&f->d, "echo.lua", "%s", ECHO_LUA);
	snprintf(svc, sizeof(svc),
	    "  { name = \"test\"; port = %d; address = \"127.0.0.1\";"
	    " protocol = [\"udp\"]; script = \"test.lua\"; },\n",
	    f->port);
	fix_conf(f, "", svc);
	fix_start(f);
}

/* A UDP datagram with any source port, through a raw socket (root). */
static int
send_spoofed(int raw, int from, int to, const char *msg)
{
	struct sockaddr_in a = {0};
	unsigned char pkt[512];
	size_t n = strlen(msg);

	pkt[0] = from >> 8;
	pkt[1] = from & 0xff;
	pkt[2] = to >> 8;
	pkt[3] = to & 0xff;
	pkt[4] = (8 + n) >> 8;
	pkt[5] = (8 + n) & 0xff;
	pkt[6] = pkt[7] = 0; /* no checksum: allowed over IPv4 */
	memcpy(pkt + 8, msg, n);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return sendto(raw, pkt, 8 + n, 0, (struct sockaddr *)&a, sizeof(a)) ==
		       (ssize_t)(8 + n)
		   ? 0
		   : -1;
}

static void
test_udp_spoofed_from_own_ports_is_dropped(void **state)
{
	struct fix *f = *state;
	char buf[256], needle[64];
	int raw, fd, port;

	raw = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_UDP);
	if (raw < 0)
		skip();
	start_udp(f);
	/* The raw path works: spoofed from our own socket, answered there. */
	fd = udp_open("127.0.0.1", 0, 0);
	assert_true(fd >= 0);
	port = local_port(fd);
	assert_int_equal(send_spoofed(raw, port, f->port, "probe"), 0);
	assert_int_equal(udp_recv(fd, buf, sizeof(buf), 2000), 5);
	assert_string_equal(buf, "probe");
	/* From the service's own port to itself, and from the echo's. */
	assert_int_equal(send_spoofed(raw, f->port, f->port, "self"), 0);
	assert_int_equal(send_spoofed(raw, f->echo, f->port, "other"), 0);
	usleep(500000);
	snprintf(needle, sizeof(needle), "dgram %d self", f->port);
	assert_int_equal(sd_log_count(&f->d, needle), 0);
	snprintf(needle, sizeof(needle), "dgram %d other", f->echo);
	assert_int_equal(sd_log_count(&f->d, needle), 0);
	assert_int_equal(sd_log_count(&f->d, "test: dgram "), 1);
	close(raw);
	assert_int_equal(udp_send(fd, "127.0.0.1", f->port, "after", 5), 0);
	assert_int_equal(udp_recv(fd, buf, sizeof(buf), 2000), 5);
	assert_string_equal(buf, "after");
	close(fd);
	assert_healthy(f);
	assert_int_equal(sd_stop(&f->d), 0);
}

/*
 * No IPv4 datagram outgrows superd's receive buffer (UDP_MAX_PAYLOAD + 1),
 * but one over IPv6 can (65527 bytes): it is dropped and counted, not
 * served cut short.
 */
static void
test_udp_datagram_larger_than_the_buffer_is_dropped(void **state)
{
	struct superd *d = *state;
	static char big[65520];
	char reply[64];
	int port = free_port(), st = free_port(), fd;

	fd = udp_open("::1", 0, 0);
	if (fd < 0) {
		printf("skipped: no UDP on ::1\n");
		return;
	}
	sd_write(
	    d, "big.lua", "function main(s) s:write('len=', #s:read()) end\n");
	sd_write(d, "st.lua",
	    "function main(s)\n"
	    "  local r = superd.stats().services.big.refused_by\n"
	    "  s:write(r['datagram larger than the receive buffer'] or 0, "
	    "'\\n')\n"
	    "end\n");
	sd_write(d, "superd.conf",
	    "log_level = \"debug\";\n"
	    "services = (\n"
	    " { name = \"big\"; port = %d; address = \"::1\";"
	    " protocol = \"udp\"; script = \"big.lua\"; },\n"
	    " { name = \"st\"; port = %d; address = \"127.0.0.1\";"
	    " script = \"st.lua\"; });\n",
	    port, st);
	sd_started(d, st);
	memset(big, 'x', sizeof(big));
	assert_int_equal(udp_send(fd, "::1", port, big, sizeof(big)), 0);
	assert_int_equal(udp_recv(fd, reply, sizeof(reply), 1000), -1);
	assert_int_equal(
	    sd_log_wait(
		d, "dropped: datagram larger than the receive buffer", 1, 2000),
	    1);
	assert_int_equal(
	    udp_ask(fd, "::1", port, big, 65507, reply, sizeof(reply), 2000),
	    9);
	assert_string_equal(reply, "len=65507");
	close(fd);
	assert_true(ask(st, "", reply, sizeof(reply), 2000) > 0);
	assert_string_equal(reply, "1\n");
	assert_int_equal(sd_stop(d), 0);
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, sd_setup, sd_teardown)
#define FIX(f) cmocka_unit_test_setup_teardown(f, fix_setup, fix_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    TEST(test_udp_echo_returns_binary_datagram_and_tcp_echo_answers),
	    TEST(test_udp_write_over_65507_bytes_returns_error),
	    TEST(test_udp_burst_from_many_sources_gets_each_its_own_replies),
	    TEST(test_udp_reply_after_its_service_is_removed_goes_nowhere),
	    TEST(test_udp_from_source_port_below_1024_is_dropped),
	    FIX(test_udp_spoofed_from_own_ports_is_dropped),
	    TEST(test_udp_datagram_larger_than_the_buffer_is_dropped),
	};
	if (getenv("TEST_FILTER") != NULL)
		cmocka_set_test_filter(getenv("TEST_FILTER"));
	return cmocka_run_group_tests_name("udp", tests, NULL, NULL);
}
