/*
 * test_control.c - the control socket and superctl: every command over
 * the real socket, run as the built ./superctl (status and connections
 * as text and JSON, kick, disable and enable across a SIGHUP, reload and
 * reload-scripts with their reports and errors); who may connect; a
 * request too long, malformed or too slow costing only itself; -c
 * finding the socket in the configuration; no superd to ask.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client.h"

/* fix.h's echo, with a fini that logs, so that a kick shows it ran. */
#define ECHO_FINI_LUA                                  \
	ECHO_LUA                                       \
	"function fini(s)\n"                           \
	"  superd.log('info', 'fini ran for %s', s)\n" \
	"end\n"

/* The config's directory holds the socket as "control.sock". */
static void
sock_path(struct superd *d, char *out, size_t len)
{
	snprintf(out, len, "%s/control.sock", d->dir);
}

/* superctl -s SOCKET with up to three words: its exit status. */
static int
ctl(struct superd *d, char *out, size_t len, const char *a, const char *b,
    const char *c)
{
	char sock[256];
	const char *args[] = {"-s", sock, a, b, c, NULL};

	sock_path(d, sock, sizeof(sock));
	return sd_superctl(d, out, len, args);
}

/*
 * superd.conf with control = "control.sock" (relative: against the
 * config's directory), service "echo" on port running the echo with fini,
 * and the extra services.
 */
static void
ctl_conf(struct superd *d, int port, const char *services)
{
	sd_conf(d, "shutdown_timeout = 1;\ncontrol = \"control.sock\";",
	    "{ name = \"echo\"; port = %d; address = \"127.0.0.1\";"
	    " script = \"%s/echo.lua\"; }%s",
	    port, d->dir, services);
}

/* ctl_conf on a free port, started: the echo's port, once the socket is
 * there. */
static int
start_ctl(struct superd *d, const char *services)
{
	int port = free_port();
	char sock[256];
	struct stat st;
	long end;

	sd_write(d, "echo.lua", "%s", ECHO_FINI_LUA);
	ctl_conf(d, port, services);
	sd_started(d, port);
	sock_path(d, sock, sizeof(sock));
	for (end = now_ms() + 5000; now_ms() < end; usleep(10000))
		if (stat(sock, &st) == 0)
			return port;
	fail_msg("no control socket at %s", sock);
	return -1;
}

/* The first field of the line of connections naming needle: its id. */
static long
conn_id(const char *listing, const char *needle)
{
	const char *p = strstr(listing, needle);

	while (p != NULL && p > listing && p[-1] != '\n')
		p--;
	return p ? strtol(p, NULL, 10) : -1;
}

static void
test_socket_is_mode_0600_and_owned_by_the_starting_user(void **state)
{
	struct superd *d = *state;
	char sock[256];
	struct stat st;
	long end;

	start_ctl(d, "");
	sock_path(d, sock, sizeof(sock));
	assert_int_equal(lstat(sock, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_uid, getuid());
	assert_int_equal(sd_stop(d), 0);
	/* removed by superd's root helper, a moment after superd's end */
	for (end = now_ms() + 3000; now_ms() < end; usleep(10000))
		if (lstat(sock, &st) < 0)
			return;
	fail_msg("%s is still there", sock);
}

static void
test_status_lists_each_service_as_text_and_json(void **state)
{
	struct superd *d = *state;
	char out[8192], want[256];
	int port, fd, cat = free_port();

	snprintf(want, sizeof(want),
	    ",\n{ name = \"cat\"; port = %d; address = \"127.0.0.1\";"
	    " exec = [\"/bin/cat\"]; }",
	    cat);
	port = start_ctl(d, want);
	fd = connect_ok(port);
	assert_true(served(fd));
	assert_int_equal(ctl(d, out, sizeof(out), "status", NULL, NULL), 0);
	/* by name: cat first */
	assert_has(out, "cat serving active=0 accepted=0 refused=0 "
			"bytes_in=0 bytes_out=0 memory=0\n");
	/* sd_start's probe was accepted too */
	assert_has(out, "echo serving active=");
	assert_has(out, " bytes_in=5 bytes_out=5 memory=");
	assert_true(strstr(out, "cat ") < strstr(out, "echo "));

	assert_int_equal(ctl(d, out, sizeof(out), "--json", "status", NULL), 0);
	assert_has(out, "[\n{\"name\":\"cat\",\"state\":\"serving\","
			"\"active\":0,\"accepted\":0,\"refused\":0,"
			"\"bytes_in\":0,\"bytes_out\":0,\"memory\":0},\n"
			"{\"name\":\"echo\",\"state\":\"serving\",\"active\":");
	assert_has(out, "}\n]\n");
	close(fd);
	assert_int_equal(sd_stop(d), 0);
}

static void
test_connections_lists_each_open_connection(void **state)
{
	struct superd *d = *state;
	char out[8192], want[128];
	int port, fd;

	port = start_ctl(d, "");
	fd = connect_ok(port);
	assert_true(served(fd));
	assert_int_equal(
	    ctl(d, out, sizeof(out), "connections", NULL, NULL), 0);
	snprintf(
	    want, sizeof(want), " echo tcp 127.0.0.1:%d age=", local_port(fd));
	assert_has(out, want);
	assert_has(out, " bytes_in=5 bytes_out=5 tls=false\n");
	assert_true(conn_id(out, want) > 0);

	assert_int_equal(
	    ctl(d, out, sizeof(out), "--json", "connections", "echo"), 0);
	snprintf(want, sizeof(want),
	    "\"service\":\"echo\",\"peer\":\"tcp 127.0.0.1:%d\",\"age\":",
	    local_port(fd));
	assert_has(out, "[\n{\"id\":");
	assert_has(out, want);
	assert_has(out, ",\"bytes_in\":5,\"bytes_out\":5,\"tls\":false}\n]\n");

	/* a service nobody runs is an error, exit 1 */
	assert_int_equal(
	    ctl(d, out, sizeof(out), "connections", "nosuch", NULL), 1);
	assert_has(out, "superctl: no service \"nosuch\"");
	close(fd);
	assert_int_equal(sd_stop(d), 0);
}

static void
test_kick_ends_the_connection_runs_fini_and_logs_kicked(void **state)
{
	struct superd *d = *state;
	char out[8192], want[64], id[32], line[512], fini[80];
	int port, fd, port_of_fd;

	port = start_ctl(d, "");
	fd = connect_ok(port);
	assert_true(served(fd));
	assert_int_equal(
	    ctl(d, out, sizeof(out), "connections", NULL, NULL), 0);
	port_of_fd = local_port(fd);
	snprintf(want, sizeof(want), "tcp 127.0.0.1:%d ", port_of_fd);
	snprintf(id, sizeof(id), "%ld", conn_id(out, want));
	assert_int_equal(ctl(d, out, sizeof(out), "kick", id, NULL), 0);
	assert_has(out, "kicked ");
	assert_int_equal(wait_closed(fd, 3000), 1);
	close(fd);
	/* its own fini (sd_start's probe connection ran one too) */
	snprintf(fini, sizeof(fini), "fini ran for socket 127.0.0.1:%d ",
	    port_of_fd);
	assert_int_equal(sd_log_wait(d, fini, 1, 3000), 1);
	snprintf(want, sizeof(want), "echo: tcp 127.0.0.1:");
	assert_int_equal(
	    sd_log_wait_line(d, ", kicked", line, sizeof(line), 3000), 0);
	assert_has(line, want);

	/* gone now, and a word that is no number */
	assert_int_equal(ctl(d, out, sizeof(out), "kick", id, NULL), 1);
	assert_has(out, "superctl: no connection ");
	assert_int_equal(ctl(d, out, sizeof(out), "kick", "x1", NULL), 1);
	assert_int_equal(sd_stop(d), 0);
}

static void
test_disable_stops_accepting_across_sighup_until_enabled(void **state)
{
	struct superd *d = *state;
	char out[8192];
	int port, fd, fd2;

	port = start_ctl(d, "");
	fd = connect_ok(port);
	assert_true(served(fd));
	assert_int_equal(ctl(d, out, sizeof(out), "disable", "echo", NULL), 0);
	assert_has(out, "echo disabled, 1 connections open");
	assert_int_equal(tcp_connect(port), -1);
	assert_true(served(fd)); /* the open one carries on */
	assert_int_equal(ctl(d, out, sizeof(out), "status", NULL, NULL), 0);
	assert_has(out, "echo disabled active=1 ");
	assert_int_equal(sd_log_count(d, "disabled service \"echo\""), 1);

	assert_int_equal(sd_signal(d, SIGHUP), 0);
	assert_int_equal(sd_log_wait(d, "SIGHUP: configuration", 1, 5000), 1);
	assert_int_equal(tcp_connect(port), -1);
	assert_true(served(fd));

	assert_int_equal(ctl(d, out, sizeof(out), "enable", "echo", NULL), 0);
	assert_has(out, "echo serving");
	fd2 = connect_ok(port);
	assert_true(served(fd2));
	assert_int_equal(ctl(d, out, sizeof(out), "status", NULL, NULL), 0);
	assert_has(out, "echo serving active=2 ");

	assert_int_equal(
	    ctl(d, out, sizeof(out), "disable", "nosuch", NULL), 1);
	assert_has(out, "superctl: no service \"nosuch\"");
	close(fd);
	close(fd2);
	assert_int_equal(sd_stop(d), 0);
}

static void
test_reload_prints_the_changes_and_fails_on_a_bad_file(void **state)
{
	struct superd *d = *state;
	char out[8192], more[256], conf[8192];
	int port, two = free_port();

	port = start_ctl(d, "");
	read_text(d->conf, conf, sizeof(conf));
	assert_int_equal(ctl(d, out, sizeof(out), "reload", NULL, NULL), 0);
	assert_has(out, "echo: reloaded ");
	assert_has(out, "superd.conf loaded, 1 services\n");

	/* a second service */
	snprintf(more, sizeof(more),
	    ",\n{ name = \"two\"; port = %d; address = \"127.0.0.1\";"
	    " script = \"%s/echo.lua\"; }",
	    two, d->dir);
	ctl_conf(d, port, more);
	assert_int_equal(ctl(d, out, sizeof(out), "reload", NULL, NULL), 0);
	assert_has(out, "added service \"two\"\n");
	assert_has(out, "loaded, 2 services\n");
	assert_int_equal(
	    sd_log_count(d, "superctl reload: added service \"two\""), 1);
	assert_true(served(connect_ok(two)));

	/* a bad file: exit 1 with its error, and the running one kept */
	sd_write(d, "superd.conf", "services = (\n  { name = ;\n);\n");
	assert_int_equal(ctl(d, out, sizeof(out), "reload", NULL, NULL), 1);
	assert_has(out, "superctl: ");
	assert_has(out, "superd.conf:2: ");
	assert_true(served(connect_ok(port)));
	assert_true(served(connect_ok(two)));
	assert_alive(d, "a bad reload");
	assert_int_equal(sd_stop(d), 0);
}

static void
test_reload_scripts_reports_each_script(void **state)
{
	struct superd *d = *state;
	char out[8192];

	start_ctl(d, "");
	assert_int_equal(
	    ctl(d, out, sizeof(out), "reload-scripts", NULL, NULL), 0);
	assert_has(out, "echo: reloaded ");
	sd_write(d, "echo.lua", "function main(s) (\n");
	assert_int_equal(
	    ctl(d, out, sizeof(out), "reload-scripts", NULL, NULL), 1);
	assert_has(out, "superctl: echo: reload failed, the previous "
			"version stays: ");
	/* the script's error, and the control request's note of it */
	assert_int_equal(sd_log_count(d, "echo: reload failed"), 2);
	assert_int_equal(sd_log_lines(d, "reload failed", "control: "), 1);
	assert_int_equal(sd_stop(d), 0);
}

/* A child as uid: it sends "status" and says 0 when superd answered ok. */
static int
ask_as(const char *sock, uid_t uid, char *reply, size_t len)
{
	int p[2], status, fd;
	ssize_t n;
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	if ((pid = fork()) == 0) {
		close(p[0]);
		if (setgid(uid) < 0 || setuid(uid) < 0)
			_exit(3);
		if ((fd = unix_connect(sock)) < 0)
			_exit(4);
		send_str(fd, "status\n");
		n = recv_all(fd, reply, len - 1, 3000);
		if (n > 0 && write(p[1], reply, n) != n)
			_exit(5);
		_exit(n > 3 && strncmp(reply, "ok\n", 3) == 0 ? 0 : 1);
	}
	close(p[1]);
	/* the reply is small: the pipe holds it all until the child ends */
	assert_int_equal(waitpid(pid, &status, 0), pid);
	n = read(p[0], reply, len - 1);
	reply[n > 0 ? n : 0] = '\0';
	close(p[0]);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void
test_another_uid_is_refused_and_logged(void **state)
{
	struct superd *d = *state;
	char sock[256], reply[4096];

	if (getuid() != 0) {
		print_message("not root: skipped\n");
		skip();
	}
	start_ctl(d, "");
	sock_path(d, sock, sizeof(sock));
	assert_int_equal(chmod(sock, 0666), 0);
	assert_int_equal(ask_as(sock, 4242, reply, sizeof(reply)), 1);
	assert_has(reply, "error\nrefused: ");
	assert_int_equal(
	    sd_log_wait(d, "control: unix uid 4242 pid ", 1, 3000), 1);
	assert_int_equal(sd_log_count(d, "refused: not root nor superd"), 1);
	/* superd serves as nobody: that user is its own */
	assert_int_equal(ask_as(sock, 65534, reply, sizeof(reply)), 0);
	assert_has(reply, "echo serving ");
	assert_int_equal(sd_stop(d), 0);
}

/* A raw client of the control socket. */
static int
raw(struct superd *d)
{
	char sock[256];
	int fd;

	sock_path(d, sock, sizeof(sock));
	assert_true((fd = unix_connect(sock)) >= 0);
	return fd;
}

/* Meanwhile superctl is served, and so is the echo. */
static void
others_served(struct superd *d, int port)
{
	char out[8192];

	assert_int_equal(ctl(d, out, sizeof(out), "status", NULL, NULL), 0);
	assert_has(out, "echo serving ");
	assert_true(served(connect_ok(port)));
}

static void
test_oversized_request_costs_only_itself(void **state)
{
	struct superd *d = *state;
	static char big[70000];
	char reply[256];
	int port, fd;

	port = start_ctl(d, "");
	fd = raw(d);
	memset(big, 'a', sizeof(big));
	send_all(fd, big, sizeof(big)); /* may fail once superd closes */
	recv_all(fd, reply, sizeof(reply) - 1, 3000);
	assert_int_equal(wait_closed(fd, 3000), 1);
	close(fd);
	assert_int_equal(
	    sd_log_wait(d, "request longer than 65536 bytes", 1, 3000), 1);
	others_served(d, port);
	assert_int_equal(sd_stop(d), 0);
}

static void
test_malformed_request_costs_only_itself(void **state)
{
	static const char bad[] = "st\x01tus\xff\n";
	struct superd *d = *state;
	char reply[256];
	ssize_t n;
	int port, fd;

	port = start_ctl(d, "");
	fd = raw(d);
	send_all(fd, bad, sizeof(bad) - 1);
	n = recv_all(fd, reply, sizeof(reply) - 1, 3000);
	reply[n > 0 ? n : 0] = '\0';
	assert_has(reply, "error\nmalformed request");
	close(fd);
	assert_int_equal(sd_log_wait(d, "malformed request", 1, 3000), 1);

	fd = raw(d);
	send_str(fd, "frobnicate now\n");
	n = recv_all(fd, reply, sizeof(reply) - 1, 3000);
	reply[n > 0 ? n : 0] = '\0';
	assert_string_equal(reply, "error\nunknown command \"frobnicate\"\n");
	close(fd);
	assert_int_equal(sd_log_wait(d, "unknown command", 1, 3000), 1);
	others_served(d, port);
	assert_int_equal(sd_stop(d), 0);
}

static void
test_slow_request_is_closed_after_its_time(void **state)
{
	struct superd *d = *state;
	long start;
	int port, fd;

	port = start_ctl(d, "");
	fd = raw(d);
	start = now_ms();
	send_str(fd, "sta");
	others_served(d, port);
	assert_int_equal(wait_closed(fd, 8000), 1);
	assert_true(now_ms() - start >= 4000);
	close(fd);
	assert_int_equal(
	    sd_log_wait(d, "timed out sending the request", 1, 3000), 1);
	others_served(d, port);
	assert_int_equal(sd_stop(d), 0);
}

static void
test_c_finds_the_socket_in_the_configuration(void **state)
{
	struct superd *d = *state;
	const char *args[] = {"-c", d->conf, "status", NULL};
	char out[8192], other[256];

	start_ctl(d, "");
	assert_int_equal(sd_superctl(d, out, sizeof(out), args), 0);
	assert_has(out, "echo serving ");

	/* a configuration without control says so: exit 2 */
	snprintf(other, sizeof(other), "%s/other.conf", d->dir);
	sd_write(d, "other.conf", "services = ();\n");
	args[1] = other;
	assert_int_equal(sd_superctl(d, out, sizeof(out), args), 2);
	assert_has(out, "no control socket set");
	assert_int_equal(sd_stop(d), 0);
}

static void
test_no_socket_or_a_bad_command_line_exits_2(void **state)
{
	struct superd *d = *state;
	const char *missing[] = {"-s", "/nonexistent/control", "status", NULL};
	const char *bad[] = {"-s", "/nonexistent/control", "frob", NULL};
	const char *extra[] = {"-s", "/x", "kick", NULL};
	char out[8192];

	assert_int_equal(sd_superctl(d, out, sizeof(out), missing), 2);
	assert_has(out, "superctl: /nonexistent/control: No such file");
	assert_int_equal(sd_superctl(d, out, sizeof(out), bad), 2);
	assert_has(out, "unknown command \"frob\"");
	assert_has(out, "usage: superctl");
	assert_int_equal(sd_superctl(d, out, sizeof(out), extra), 2);
	assert_has(out, "kick: wrong number of arguments");
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, sd_setup, sd_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    TEST(test_socket_is_mode_0600_and_owned_by_the_starting_user),
	    TEST(test_status_lists_each_service_as_text_and_json),
	    TEST(test_connections_lists_each_open_connection),
	    TEST(test_kick_ends_the_connection_runs_fini_and_logs_kicked),
	    TEST(test_disable_stops_accepting_across_sighup_until_enabled),
	    TEST(test_reload_prints_the_changes_and_fails_on_a_bad_file),
	    TEST(test_reload_scripts_reports_each_script),
	    TEST(test_another_uid_is_refused_and_logged),
	    TEST(test_oversized_request_costs_only_itself),
	    TEST(test_malformed_request_costs_only_itself),
	    TEST(test_slow_request_is_closed_after_its_time),
	    TEST(test_c_finds_the_socket_in_the_configuration),
	    TEST(test_no_socket_or_a_bad_command_line_exits_2),
	};
	if (getenv("TEST_FILTER") != NULL)
		cmocka_set_test_filter(getenv("TEST_FILTER"));
	return cmocka_run_group_tests_name("control", tests, NULL, NULL);
}
