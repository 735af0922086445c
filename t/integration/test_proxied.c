/* test_proxy.c - PROXY protocol v1/v2 in front of a Lua service, with a
 * real HAProxy (send-proxy-v2) when it is installed. */
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
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client.h"

#define HAPROXY "/usr/sbin/haproxy"

static const char *script =
    "function main(s)\n"
    "  local a, p = s:getpeername()\n"
    "  s:write(a, ' ', p, ' ', s:read() or '-', '\\n')\n"
    "end\n";

static int
setup(void **state)
{
	if (sd_setup(state) < 0)
		return -1;
	sd_write(*state, "px.lua", "%s", script);
	return 0;
}

/* A service behind the proxy, and a plain echo to probe readiness. */
static void
start_px(struct superd *d, int port, int probe, const char *extra)
{
	sd_write(d, "e.lua", "function main(s) end\n");
	sd_write(d, "superd.conf",
	    "services = (\n"
	    " { name = \"px\"; port = %d; address = \"127.0.0.1\";\n"
	    "   script = \"px.lua\"; proxy_protocol = true; %s },\n"
	    " { name = \"probe\"; port = %d; address = \"127.0.0.1\";\n"
	    "   script = \"e.lua\"; });\n",
	    port, extra, probe);
	sd_started(d, probe);
}

static void
test_v1_header_sets_peer_address(void **state)
{
	struct superd *d = *state;
	int port = free_port(), probe = free_port();
	const char *h = "PROXY TCP4 192.0.2.7 127.0.0.1 5555 80\r\nhello\n";
	char out[256];

	start_px(d, port, probe, "");
	assert_true(ask_bytes(port, h, strlen(h), out, sizeof(out), 5000) > 0);
	assert_string_equal(out, "192.0.2.7 5555 hello\n");
	assert_true(sd_log_wait(d, "px: tcp 192.0.2.7:5555: ", 1, 3000) == 1);
	assert_int_equal(sd_stop(d), 0);
}

static void
test_v2_header_sets_peer_address(void **state)
{
	struct superd *d = *state;
	int port = free_port(), probe = free_port();
	unsigned char h[64] = "\r\n\r\n\0\r\nQUIT\n\x21\x21\x00\x24";
	uint16_t sp = htons(4444), dp = htons(80);
	char out[256];

	start_px(d, port, probe, "");
	inet_pton(AF_INET6, "2001:db8::5", h + 16);
	inet_pton(AF_INET6, "::1", h + 32);
	memcpy(h + 48, &sp, 2);
	memcpy(h + 50, &dp, 2);
	memcpy(h + 52, "v2\n", 3);
	assert_true(ask_bytes(port, h, 55, out, sizeof(out), 5000) > 0);
	assert_string_equal(out, "2001:db8::5 4444 v2\n");
	assert_int_equal(sd_stop(d), 0);
}

/* An AF_UNIX header (a proxy on a unix socket) is taken as LOCAL: the
 * script sees the proxy's own address. */
static void
test_v2_unix_header_gives_the_proxy_address(void **state)
{
	struct superd *d = *state;
	int port = free_port(), probe = free_port(), fd;
	unsigned char h[16 + 216 + 3] = "\r\n\r\n\0\r\nQUIT\n\x21\x31\x00\xd8";
	char out[256], want[64];

	start_px(d, port, probe, "");
	memcpy(h + 16, "/run/a.sock", 11);
	memcpy(h + 16 + 108, "/run/b.sock", 11);
	memcpy(h + 16 + 216, "ux\n", 3);
	fd = connect_ok(port);
	assert_int_equal(send_all(fd, h, sizeof(h)), 0);
	assert_true(recv_line(fd, out, sizeof(out), 5000) > 0);
	snprintf(want, sizeof(want), "127.0.0.1 %d ux\n", local_port(fd));
	assert_string_equal(out, want);
	close(fd);
	assert_int_equal(sd_stop(d), 0);
}

static void
test_malformed_and_missing_headers_are_closed(void **state)
{
	struct superd *d = *state;
	int port = free_port(), probe = free_port(), fd;
	char out[256];
	struct timespec t0, t1;

	start_px(d, port, probe, "");
	assert_int_equal(ask_bytes(port, "GET / HTTP/1.0\r\n\r\n", 18, out,
			     sizeof(out), 5000),
	    0);
	assert_int_equal(ask_bytes(port, "PROXY TCP4 1.2.3 4.5.6.7 1 2\r\n", 30,
			     out, sizeof(out), 5000),
	    0);
	/* no header at all: closed after 3 s, main never ran */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	fd = tcp_connect(port);
	assert_int_equal(wait_closed(fd, 6000), 1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	close(fd);
	assert_true(t1.tv_sec - t0.tv_sec >= 2 && t1.tv_sec - t0.tv_sec <= 5);
	assert_int_equal(sd_log_wait(d, "no valid PROXY header", 3, 3000), 3);
	assert_int_equal(sd_stop(d), 0);
}

/* A connection still waiting for its header at a stop runs no fini. */
static void
test_no_fini_for_a_connection_whose_header_never_came(void **state)
{
	struct superd *d = *state;
	int port = free_port(), fd;

	sd_write(d, "px.lua",
	    "function main(s) print('main ran') s:read() end\n"
	    "function fini(s) print('fini ran') end\n");
	sd_write(d, "superd.conf",
	    "shutdown_timeout = 0.5;\n" /* ends it before the 3 s deadline */
	    "services = ({ name = \"px\"; port = %d; address = \"127.0.0.1\";"
	    " script = \"px.lua\"; proxy_protocol = true; });\n",
	    port);
	assert_int_equal(sd_start(d, port), 0);
	fd = tcp_connect(port);
	assert_int_equal(send_str(fd, "PROXY TCP4 9.8.7.6"), 0);
	usleep(200000);
	assert_int_equal(sd_stop(d), 0);
	close(fd);
	assert_int_equal(sd_log_count(d, "main ran"), 0);
	assert_int_equal(sd_log_count(d, "fini ran"), 0);
}

static void
test_header_only_believed_from_proxy_from(void **state)
{
	struct superd *d = *state;
	int port = free_port(), probe = free_port();
	const char *h = "PROXY TCP4 192.0.2.7 127.0.0.1 5555 80\r\nhello\n";
	char out[256];

	start_px(d, port, probe, "proxy_from = [\"10.0.0.0/8\"];");
	assert_int_equal(
	    ask_bytes(port, h, strlen(h), out, sizeof(out), 5000), 0);
	assert_int_equal(sd_log_wait(d, "refused: proxy_from", 1, 3000), 1);
	assert_int_equal(sd_stop(d), 0);
}

static void
test_access_lists_see_the_header_address(void **state)
{
	struct superd *d = *state;
	int port = free_port(), probe = free_port();
	const char *in = "PROXY TCP4 192.0.2.7 127.0.0.1 1 80\r\nx\n";
	const char *out_of = "PROXY TCP4 198.51.100.1 127.0.0.1 1 80\r\nx\n";
	char out[256];

	start_px(
	    d, port, probe, "only_from = [\"192.0.2.0/24\"]; per_source = 1;");
	assert_true(
	    ask_bytes(port, in, strlen(in), out, sizeof(out), 5000) > 0);
	assert_int_equal(
	    ask_bytes(port, out_of, strlen(out_of), out, sizeof(out), 5000), 0);
	assert_int_equal(sd_log_wait(d,
			     "px: tcp 198.51.100.1:1: refused: "
			     "only_from",
			     1, 3000),
	    1);
	assert_int_equal(sd_stop(d), 0);
}

static pid_t
start_haproxy(struct superd *d, int front, int back)
{
	char cfg[256], log[256];
	pid_t pid;
	int fd;

	snprintf(cfg, sizeof(cfg), "%s/haproxy.cfg", d->dir);
	snprintf(log, sizeof(log), "%s/haproxy.log", d->dir);
	sd_write(d, "haproxy.cfg",
	    "global\n  maxconn 100\n"
	    "defaults\n  mode tcp\n  timeout connect 2s\n"
	    "  timeout client 5s\n  timeout server 5s\n"
	    "frontend f\n  bind 127.0.0.1:%d\n  default_backend b\n"
	    "backend b\n  server s1 127.0.0.1:%d send-proxy-v2\n",
	    front, back);
	if ((pid = fork()) == 0) {
		fd = open(log, O_WRONLY | O_CREAT, 0644);
		dup2(fd, 1);
		dup2(fd, 2);
		execl(HAPROXY, "haproxy", "-db", "-f", cfg, (char *)NULL);
		_exit(127);
	}
	wait_port(front, 2000);
	return pid;
}

static void
test_haproxy_send_proxy_v2_in_front(void **state)
{
	struct superd *d = *state;
	int port = free_port(), probe = free_port(), front = free_port(), fd;
	char out[256];
	pid_t hp;
	int status;

	if (access(HAPROXY, X_OK) != 0) {
		print_message("haproxy is not installed: skipped\n");
		skip();
	}
	start_px(d, port, probe, "only_from = [\"127.0.0.2\"];");
	hp = start_haproxy(d, front, port);
	/* from 127.0.0.2 through HAProxy: the header carries 127.0.0.2 */
	fd = tcp_connect_from("127.0.0.2", front, 0);
	assert_true(fd >= 0);
	send_str(fd, "through haproxy\n");
	assert_true(recv_line(fd, out, sizeof(out), 5000) > 0);
	close(fd);
	kill(hp, SIGTERM);
	waitpid(hp, &status, 0);
	assert_non_null(strstr(out, "127.0.0.2 "));
	assert_non_null(strstr(out, " through haproxy\n"));
	/* the only_from list let 127.0.0.2 in: a direct 127.0.0.1 is not */
	fd = tcp_connect_from("127.0.0.3", port, 0);
	send_str(fd, "PROXY TCP4 127.0.0.3 127.0.0.1 1 2\r\nx\n");
	assert_int_equal(recv_line(fd, out, sizeof(out), 3000), 0);
	close(fd);
	assert_int_equal(sd_stop(d), 0);
}

/*
 * The counters tell the truth behind a proxy: the bytes that came with a
 * header are counted, a connection without a valid header is counted as
 * refused for that reason, and one whose header is pending is counted
 * as accepted as well as active.
 */
static void
test_counters_count_what_comes_behind_a_proxy(void **state)
{
	struct superd *d = *state;
	int port = free_port(), probe = free_port(), i, pending;
	const char *h = "PROXY TCP4 192.0.2.7 127.0.0.1 5555 80\r\n";
	char msg[1100], out[256];
	long accepted, active, bytes, refused, noproxy;

	sd_write(
	    d, "px.lua", "function main(s) s:write(#s:read('a'), '\\n') end\n");
	sd_write(d, "st.lua",
	    "function main(s)\n"
	    "  local x = superd.stats().services.px\n"
	    "  s:write(x.accepted, ' ', x.active, ' ', x.bytes_in, ' ',\n"
	    "    x.refused, ' ', x.refused_by['no valid PROXY header'] or 0,\n"
	    "    '\\n')\n"
	    "end\n");
	sd_write(d, "superd.conf",
	    "services = (\n"
	    " { name = \"px\"; port = %d; address = \"127.0.0.1\";\n"
	    "   script = \"px.lua\"; proxy_protocol = true; },\n"
	    " { name = \"st\"; port = %d; address = \"127.0.0.1\";\n"
	    "   script = \"st.lua\"; });\n",
	    port, probe);
	sd_started(d, probe);
	snprintf(msg, sizeof(msg), "%s", h);
	memset(msg + strlen(h), 'x', 1000);
	for (i = 0; i < 10; i++) {
		int fd = tcp_connect(port);

		assert_true(fd >= 0);
		assert_int_equal(send_all(fd, msg, strlen(h) + 1000), 0);
		assert_int_equal(shutdown(fd, SHUT_WR), 0);
		assert_true(recv_line(fd, out, sizeof(out), 3000) > 0);
		assert_string_equal(out, "1000\n");
		close(fd);
	}
	assert_int_equal(ask_bytes(port, "GET / HTTP/1.0\r\n\r\n", 18, out,
			     sizeof(out), 3000),
	    0);
	pending = tcp_connect(port);
	assert_true(pending >= 0);
	usleep(200 * 1000);
	assert_true(ask(probe, "", out, sizeof(out), 3000) > 0);
	assert_int_equal(sscanf(out, "%ld %ld %ld %ld %ld", &accepted, &active,
			     &bytes, &refused, &noproxy),
	    5);
	print_message(
	    "    accepted %ld, active %ld, bytes in %ld, refused %ld\n",
	    accepted, active, bytes, refused);
	assert_true(bytes >= 10 * 1000);
	assert_int_equal(noproxy, 1);
	assert_true(refused >= 1);
	assert_int_equal(active, 1);
	assert_true(accepted >= active);
	assert_int_equal(accepted, 12);
	close(pending);
	assert_int_equal(sd_stop(d), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		test_v1_header_sets_peer_address, setup, sd_teardown),
	    cmocka_unit_test_setup_teardown(
		test_v2_header_sets_peer_address, setup, sd_teardown),
	    cmocka_unit_test_setup_teardown(
		test_v2_unix_header_gives_the_proxy_address, setup,
		sd_teardown),
	    cmocka_unit_test_setup_teardown(
		test_malformed_and_missing_headers_are_closed, setup,
		sd_teardown),
	    cmocka_unit_test_setup_teardown(
		test_no_fini_for_a_connection_whose_header_never_came, setup,
		sd_teardown),
	    cmocka_unit_test_setup_teardown(
		test_header_only_believed_from_proxy_from, setup, sd_teardown),
	    cmocka_unit_test_setup_teardown(
		test_access_lists_see_the_header_address, setup, sd_teardown),
	    cmocka_unit_test_setup_teardown(
		test_haproxy_send_proxy_v2_in_front, setup, sd_teardown),
	    cmocka_unit_test_setup_teardown(
		test_counters_count_what_comes_behind_a_proxy, setup,
		sd_teardown),
	};
	return cmocka_run_group_tests_name("proxy", tests, NULL, NULL);
}
