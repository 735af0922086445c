/* test_install.c - make install, the man pages, socket activation, and
 * the status service's /metrics as a monitoring system reads it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client.h"

static char repo[1024];

static int
setup(void **state)
{
	if (sd_setup(state) < 0)
		return -1;
	return getcwd(repo, sizeof(repo)) ? 0 : -1;
}

/* Runs a shell command, its output into out; returns the exit status. */
static int
sh(char *out, size_t len, const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	size_t n = 0;
	FILE *p;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if ((p = popen(cmd, "r")) == NULL)
		return -1;
	if (out)
		n = fread(out, 1, len - 1, p);
	else
		while (fgetc(p) != EOF)
			;
	if (out)
		out[n] = '\0';
	return WEXITSTATUS(pclose(p));
}

static int
exists(const char *dir, const char *path)
{
	char full[2048];
	struct stat st;

	snprintf(full, sizeof(full), "%s%s", dir, path);
	return stat(full, &st) == 0;
}

static void
test_install_lays_out_every_file(void **state)
{
	struct superd *d = *state;
	static const char *const files[] = {
	    "/usr/sbin/superd",
	    "/usr/sbin/superctl",
	    "/etc/superd/superd.conf",
	    "/etc/superd/conf.d",
	    "/usr/share/superd/services/echo.lua",
	    "/usr/share/superd/services/chat.lua",
	    "/usr/share/superd/services/qotd.lua",
	    "/usr/share/superd/services/status.lua",
	    "/usr/share/superd/services/lib/redis.lua",
	    "/usr/share/superd/quotes.txt",
	    "/usr/share/man/man8/superd.8",
	    "/usr/share/man/man8/superctl.8",
	    "/usr/share/man/man5/superd.conf.5",
	    "/usr/share/man/man7/superd-lua.7",
	    "/usr/lib/systemd/system/superd.service",
	    "/usr/lib/systemd/system/superd.socket",
	    NULL,
	};
	char dest[512], out[4096];
	int i;

	snprintf(dest, sizeof(dest), "%s/dest", d->dir);
	assert_int_equal(sh(NULL, 0,
			     "make -s install DESTDIR=%s PREFIX=/usr "
			     "SYSCONFDIR=/etc 2>&1",
			     dest),
	    0);
	for (i = 0; files[i]; i++)
		if (!exists(dest, files[i]))
			fail_msg("%s was not installed", files[i]);
	sh(out, sizeof(out),
	    "grep -h 'script_dir\\|include_dir\\|ExecStart' %s/etc/superd/"
	    "superd.conf %s/usr/lib/systemd/system/superd.service",
	    dest, dest);
	assert_non_null(
	    strstr(out, "script_dir   = \"/usr/share/superd/services\";"));
	assert_non_null(strstr(out, "include_dir  = \"conf.d\";"));
	assert_non_null(strstr(out, "ExecStart=/usr/sbin/superd"));
	assert_int_equal(sh(NULL, 0,
			     "make -s uninstall DESTDIR=%s PREFIX=/usr "
			     "SYSCONFDIR=/etc 2>&1",
			     dest),
	    0);
	for (i = 0; files[i]; i++)
		if (exists(dest, files[i]))
			fail_msg("%s was not uninstalled", files[i]);
	if (exists(dest, "/usr/share/superd"))
		fail_msg("/usr/share/superd was not uninstalled");
}

static void
test_installed_superd_checks_installed_config_by_default(void **state)
{
	struct superd *d = *state;
	char out[4096];

	assert_int_equal(
	    sh(NULL, 0, "make -s install PREFIX=%s/p 2>&1", d->dir), 0);
	/* no -c: the compiled-in default is the installed configuration */
	assert_int_equal(
	    sh(out, sizeof(out), "%s/p/sbin/superd -t 2>&1", d->dir), 0);
	assert_non_null(strstr(out, "/p/etc/superd/superd.conf: configuration "
				    "ok"));
	/* superctl's default too: a file without "control" says so */
	assert_int_equal(
	    sh(out, sizeof(out), "%s/p/sbin/superctl status 2>&1", d->dir), 2);
	assert_non_null(strstr(out, "/p/etc/superd/superd.conf: no control "
				    "socket set"));
}

static void
test_man_pages_render_without_warnings(void **state)
{
	static const char *const pages[] = {"man/superd.8", "man/superd.conf.5",
	    "man/superd-lua.7", "man/superctl.8", NULL};
	char out[8192];
	int i;

	(void)state;
	if (access("/usr/bin/groff", X_OK) != 0) {
		print_message("groff is not installed: skipped\n");
		skip();
	}
	for (i = 0; pages[i]; i++) {
		assert_int_equal(
		    sh(out, sizeof(out), "groff -ww -man -z %s/%s 2>&1", repo,
			pages[i]),
		    0);
		if (out[0] != '\0')
			fail_msg("%s: %s", pages[i], out);
	}
}

static void
test_socket_activation_serves_passed_socket(void **state)
{
	struct superd *d = *state;
	int port = free_port(), other = free_port(), a, b, fd, status;
	char buf[64];
	pid_t pid;

	sd_write(d, "e.lua", "function main(s) s:write('activated\\n') end\n");
	sd_write(d, "superd.conf",
	    "services = ({ name = \"act\"; port = %d; address = "
	    "\"127.0.0.1\"; script = \"e.lua\"; });\n",
	    port);
	a = listen_local(port, SOCK_STREAM);
	b = listen_local(other, SOCK_STREAM);
	assert_true(a >= 0 && b >= 0);
	pid = sd_start_activated(d, a, b);
	/* superd binding the port itself would fail: we still hold it */
	fd = -1;
	for (int i = 0; i < 100 && fd < 0; i++) {
		if (sd_log_count(d, "started") > 0)
			fd = tcp_connect(port);
		else
			usleep(20000);
	}
	assert_true(fd >= 0);
	assert_true(recv_line(fd, buf, sizeof(buf), 3000) > 0);
	assert_string_equal(buf, "activated\n");
	close(fd);
	assert_int_equal(sd_log_count(d, "matches no service"), 1);
	kill(pid, SIGTERM);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(a);
	close(b);
}

static void
test_journal_stream_drops_own_timestamps(void **state)
{
	struct superd *d = *state;
	int port = free_port();
	char out[4096];

	sd_write(d, "e.lua", "function main(s) end\n");
	sd_write(d, "superd.conf",
	    "services = ({ name = \"j\"; port = %d; address = \"127.0.0.1\"; "
	    "script = \"e.lua\"; });\n",
	    port);
	setenv("JOURNAL_STREAM", "8:12345", 1);
	assert_int_equal(sd_start(d, port), 0);
	unsetenv("JOURNAL_STREAM");
	assert_int_equal(sd_stop(d), 0);
	assert_int_equal(sh(out, sizeof(out), "cat %s", d->log), 0);
	/* "<5>superd[notice]: ..." and no "2026-11-24 18:00:00.000" */
	assert_non_null(strstr(out, "<5>superd[notice]: superd"));
	assert_int_equal(sh(NULL, 0, "grep -q '^[0-9]\\{4\\}-' %s", d->log), 1);
}

static ssize_t
http(int port, const char *request, char *out, size_t len)
{
	int fd = tcp_connect(port);
	ssize_t n;

	if (fd < 0)
		return -1;
	send_str(fd, request);
	n = recv_n(fd, out, len - 1, 3000);
	out[n > 0 ? n : 0] = '\0';
	close(fd);
	return n;
}

static void
test_metrics_count_connections_and_bytes(void **state)
{
	struct superd *d = *state;
	int port = free_port(), status = free_port(), i, fd;
	char out[16384] = "", buf[16];

	sd_write(d, "superd.conf",

	    "script_dir = \"%s/services\";\n"
	    "services = (\n"
	    " { name = \"echo\"; port = %d; address = \"127.0.0.1\"; "
	    "script = \"echo.lua\"; },\n"
	    " { name = \"status\"; port = %d; address = \"127.0.0.1\"; "
	    "script = \"status.lua\"; max_line = 1024; });\n",
	    repo, port, status);
	assert_int_equal(sd_start(d, status), 0);
	for (i = 0; i < 5; i++) {
		fd = tcp_connect(port);
		send_str(fd, "hello\n");
		assert_int_equal(recv_n(fd, buf, 6, 3000), 6);
		close(fd);
	}
	for (i = 0; i < 100 && !strstr(out, "connections_active{service="
					    "\"echo\"} 0");
	     i++) {
		http(status, "GET /metrics HTTP/1.0\r\n\r\n", out, sizeof(out));
		usleep(20000);
	}
	assert_non_null(strstr(out, "HTTP/1.0 200 OK\r\n"));
	assert_non_null(
	    strstr(out, "# TYPE superd_connections_total counter\n"));
	assert_non_null(
	    strstr(out, "superd_connections_total{service=\"echo\"} "
			"5\n"));
	assert_non_null(strstr(out, "superd_bytes_received_total{service="
				    "\"echo\"} 30\n"));
	assert_non_null(strstr(out, "superd_bytes_sent_total{service=\"echo\"} "
				    "30\n"));
	assert_non_null(strstr(out, "superd_connections_active{service="
				    "\"echo\"} 0\n"));
	assert_non_null(
	    strstr(out, "superd_lua_memory_bytes{service=\"echo\"}"));
	assert_non_null(strstr(out, "# HELP superd_script_errors_total"));
	http(status, "GET / HTTP/1.0\r\n\r\n", out, sizeof(out));
	assert_non_null(strstr(out, "200 OK"));
	assert_non_null(strstr(out, "<td>echo</td><td>0</td><td>5</td>"));
	http(status, "GET /nothing HTTP/1.0\r\n\r\n", out, sizeof(out));
	assert_non_null(strstr(out, "HTTP/1.0 404 "));
	http(status, "NONSENSE\r\n\r\n", out, sizeof(out));
	assert_non_null(strstr(out, "HTTP/1.0 400 "));
	memset(out, 'a', 3000);
	memcpy(out, "GET /", 5);
	strcpy(out + 3000, " HTTP/1.0\r\n\r\n");
	http(status, out, out, sizeof(out));
	assert_non_null(strstr(out, "HTTP/1.0 400 "));
	if (access("/usr/bin/promtool", X_OK) == 0) {
		http(status, "GET /metrics HTTP/1.0\r\n\r\n", out, sizeof(out));
		sd_write(d, "metrics.txt", "%s", strstr(out, "\r\n\r\n") + 4);
		assert_int_equal(
		    sh(NULL, 0, "promtool check metrics < %s/metrics.txt",
			d->dir),
		    0);
	}
	assert_int_equal(sd_stop(d), 0);
}

/* The status service alone on its port, with the options given. */
static int
start_status(struct superd *d, const char *options)
{
	int port = free_port();

	sd_write(d, "superd.conf",
	    "script_dir = \"%s/services\";\n"
	    "services = ({ name = \"status\"; port = %d; address = "
	    "\"127.0.0.1\"; script = \"status.lua\"; options = { %s }; });\n",
	    repo, port, options);
	sd_started(d, port);
	return port;
}

/* Everything until the peer's FIN: the length, or -1 on a reset or when
 * no FIN came within ms. */
static ssize_t
recv_to_fin(int fd, char *out, size_t len, int ms)
{
	long end = now_ms() + ms;
	size_t got = 0;
	ssize_t r = -1;

	while (got + 1 < len && now_ms() < end) {
		r = recv(fd, out + got, len - 1 - got, MSG_DONTWAIT);
		if (r == 0)
			break;
		if (r < 0 && errno != EAGAIN)
			return -1;
		if (r < 0)
			usleep(10000);
		else
			got += r;
	}
	out[got] = '\0';
	return r == 0 ? (ssize_t)got : -1;
}

static void
test_status_head_answers_headers_only(void **state)
{
	struct superd *d = *state;
	int port = start_status(d, "");
	char out[16384];

	http(port, "HEAD /metrics HTTP/1.0\r\n\r\n", out, sizeof(out));
	assert_non_null(strstr(out, "HTTP/1.0 200 OK\r\n"));
	assert_null(strstr(out, "Content-Length: 0\r\n"));
	assert_string_equal(strstr(out, "\r\n\r\n"), "\r\n\r\n");
	http(port, "HEAD /nothing HTTP/1.0\r\n\r\n", out, sizeof(out));
	assert_non_null(strstr(out, "HTTP/1.0 404 "));
	assert_string_equal(strstr(out, "\r\n\r\n"), "\r\n\r\n");
	assert_int_equal(sd_stop(d), 0);
}

/* request_timeout bounds the whole request, not each line of it. */
static void
test_status_request_timeout_is_a_deadline(void **state)
{
	struct superd *d = *state;
	int port = start_status(d, "request_timeout = 1.5;"), fd, i;
	long t0 = now_ms();
	char out[4096];

	fd = connect_ok(port);
	send_str(fd, "GET /metrics HTTP/1.0\r\n");
	/* a header every 0.8 s until the answer comes (peeked, not read) */
	for (i = 0; i < 5; i++) {
		usleep(800000);
		if (recv(fd, out, 1, MSG_PEEK | MSG_DONTWAIT) >= 0)
			break;
		send_str(fd, "X-Drip: 1\r\n");
	}
	assert_true(recv_to_fin(fd, out, sizeof(out), 3000) > 0);
	assert_non_null(strstr(out, "HTTP/1.0 408 "));
	close(fd);
	if (now_ms() - t0 > 2500)
		fail_msg(
		    "open %ld ms with request_timeout 1.5 s", now_ms() - t0);
	assert_int_equal(sd_stop(d), 0);
}

static void
test_status_request_body_is_read_or_refused_not_reset(void **state)
{
	struct superd *d = *state;
	int port = start_status(d, "max_body = 100000;"), fd;
	static char body[400000];
	char out[4096];

	memset(body, 'b', sizeof(body));
	fd = connect_ok(port);
	send_str(fd, "POST /metrics HTTP/1.0\r\nContent-Length: 90000\r\n\r\n");
	assert_int_equal(send_all(fd, body, 90000), 0);
	assert_true(recv_to_fin(fd, out, sizeof(out), 3000) > 0);
	assert_non_null(strstr(out, "HTTP/1.0 404 "));
	close(fd);
	fd = connect_ok(port);
	send_str(fd, "GET /metrics HTTP/1.0\r\nContent-Length: 400000\r\n\r\n");
	assert_int_equal(send_all(fd, body, sizeof(body)), 0);
	assert_true(recv_to_fin(fd, out, sizeof(out), 3000) > 0);
	assert_non_null(strstr(out, "HTTP/1.0 413 "));
	close(fd);
	assert_int_equal(sd_stop(d), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		test_install_lays_out_every_file, setup, sd_teardown),
	    cmocka_unit_test_setup_teardown(
		test_installed_superd_checks_installed_config_by_default, setup,
		sd_teardown),
	    cmocka_unit_test_setup_teardown(
		test_man_pages_render_without_warnings, setup, sd_teardown),
	    cmocka_unit_test_setup_teardown(
		test_socket_activation_serves_passed_socket, setup,
		sd_teardown),
	    cmocka_unit_test_setup_teardown(
		test_metrics_count_connections_and_bytes, setup, sd_teardown),
	    cmocka_unit_test_setup_teardown(
		test_status_head_answers_headers_only, setup, sd_teardown),
	    cmocka_unit_test_setup_teardown(
		test_status_request_timeout_is_a_deadline, setup, sd_teardown),
	    cmocka_unit_test_setup_teardown(
		test_status_request_body_is_read_or_refused_not_reset, setup,
		sd_teardown),
	    cmocka_unit_test_setup_teardown(
		test_journal_stream_drops_own_timestamps, setup, sd_teardown),

	};
	return cmocka_run_group_tests_name("install", tests, NULL, NULL);
}
