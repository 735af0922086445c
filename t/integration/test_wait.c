/*
 * test_wait.c - wait services (inetd's wait, systemd's Accept=no): the
 * program is handed the listening socket, TCP or UDP, on descriptors 0 to
 * 3 with LISTEN_FDS; superd watches the socket again once it exits, and
 * pauses a service whose program keeps exiting at once.  Run with
 * --accept N, this program is itself the TCP wait program of the tests.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client.h"

/*
 * The wait program: accepts up to n connections on descriptor 0, tells
 * each who it is and what it was handed, and exits once n are served or
 * none came for 3 s.  It rests 0.3 s after each, so the next client
 * waits in the backlog, where superd would see it were it watching.
 */
static int
wait_program(int n)
{
	char line[256];
	int fd, listening = 0;
	socklen_t len = sizeof(listening);
	struct pollfd p = {0, POLLIN, 0};

	getsockopt(3, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len);
	while (n-- > 0 && poll(&p, 1, 3000) == 1) {
		if ((fd = accept(0, NULL, NULL)) < 0)
			return 1;
		snprintf(line, sizeof(line),
		    "pid=%ld fds=%s lpid=%s name=%s fd3=%s\n", (long)getpid(),
		    getenv("LISTEN_FDS") ?: "-", getenv("LISTEN_PID") ?: "-",
		    getenv("LISTEN_FDNAMES") ?: "-",
		    listening ? "listening" : "-");
		if (write(fd, line, strlen(line)) < 0)
			return 1;
		close(fd);
		usleep(300000);
	}
	return 0;
}

/* This test program's own path, to run it as the wait program. */
static const char *
self(void)
{
	static char path[512];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);

	assert_true(n > 0);
	path[n] = '\0';
	return path;
}

/* One connection's line from the wait program. */
static void
program_line(int port, char *line, size_t len)
{
	int fd = tcp_connect(port);

	assert_true(fd >= 0);
	assert_true(recv_line(fd, line, len, 5000) > 0);
	close(fd);
}

/* How many children a process has now. */
static int
children_of(pid_t pid)
{
	char path[64], list[1024], *p, *end;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid,
	    (int)pid);
	read_text(path, list, sizeof(list));
	for (p = list; strtol(p, &end, 10) > 0; p = end)
		n++;
	return n;
}

static long
pid_in(const char *line)
{
	const char *p = strstr(line, "pid=");

	assert_non_null(p);
	return strtol(p + 4, NULL, 10);
}

static void
test_tcp_wait_program_accepts_on_the_listening_socket(void **state)
{
	struct superd *d = *state;
	char a[256], b[256], c[256], want[256];
	int port = free_port();

	sd_conf(d, "",
	    "{ name = \"acceptor\"; port = %d; address = \"127.0.0.1\";"
	    " wait = true; exec = [\"%s\", \"--accept\", \"3\"]; }",
	    port, self());
	/* sd_start's own probe is the program's first client */
	assert_int_equal(sd_start(d, port), 0);
	program_line(port, a, sizeof(a));
	program_line(port, b, sizeof(b));
	/* one program accepted both: superd accepted neither */
	assert_int_equal(pid_in(a), pid_in(b));
	snprintf(want, sizeof(want),
	    "pid=%ld fds=1 lpid=%ld name=acceptor fd3=listening\n", pid_in(a),
	    pid_in(a));
	assert_string_equal(a, want);
	/* it exits after three; the next client starts another */
	assert_int_equal(sd_log_wait(d, "acceptor: wait ", 1, 5000), 1);
	assert_int_equal(sd_log_count(d, "exit status 0"), 1);
	program_line(port, c, sizeof(c));
	assert_true(pid_in(c) != pid_in(a));
	assert_int_equal(sd_stop(d), 0);
}

/*
 * A SIGHUP while the program has the socket keeps it the program's: no
 * second program starts beside it.
 */
static void
test_reload_while_the_program_runs_leaves_it_the_socket(void **state)
{
	struct superd *d = *state;
	char a[256], b[256];
	int port = free_port();

	sd_conf(d, "",
	    "{ name = \"acceptor\"; port = %d; address = \"127.0.0.1\";"
	    " wait = true; exec = [\"%s\", \"--accept\", \"4\"]; }",
	    port, self());
	assert_int_equal(sd_start(d, port), 0);
	program_line(port, a, sizeof(a));
	sd_signal(d, SIGHUP);
	assert_int_equal(sd_log_wait(d, "configuration", 1, 3000), 1);
	program_line(port, b, sizeof(b));
	assert_int_equal(pid_in(a), pid_in(b));
	usleep(200000); /* time for a second program to start, were it to */
	assert_int_equal(children_of(d->pid), 1);
	assert_int_equal(sd_log_count(d, "acceptor: wait "), 0);
	assert_int_equal(sd_stop(d), 0);
}

/*
 * inetd's "tftp dgram udp wait": in.tftpd gets the UDP socket, answers,
 * and leaves after a second without requests; the next request starts it
 * again.
 */
static void
test_udp_wait_serves_tftp_through_in_tftpd(void **state)
{
	struct superd *d = *state;
	char cmd[1024], got[64];
	int port = free_port(), probe = free_port(), i;

	if (access("/usr/sbin/in.tftpd", X_OK) < 0 ||
	    access("/usr/bin/tftp", X_OK) < 0) {
		printf("skipped: needs tftpd-hpa and tftp-hpa\n");
		return;
	}
	sd_write(d, "hello.txt", "hello over tftp\n");
	chmod(d->dir, 0755); /* in.tftpd serves it as nobody */
	snprintf(cmd, sizeof(cmd), "%s/hello.txt", d->dir);
	chmod(cmd, 0644);
	sd_conf(d, "",
	    "{ name = \"tftp\"; port = %d; address = \"127.0.0.1\";"
	    " protocol = \"udp\"; wait = true; user = \"root\";"
	    " exec = [\"/usr/sbin/in.tftpd\", \"-t\", \"1\", \"-s\", \"%s\"];"
	    " },"
	    "{ name = \"probe\"; port = %d; address = \"127.0.0.1\";"
	    " script = \"echo.lua\"; }",
	    port, d->dir, probe);
	assert_int_equal(sd_start(d, probe), 0);
	for (i = 0; i < 2; i++) {
		snprintf(cmd, sizeof(cmd),
		    "cd %s && rm -f got.txt && timeout 10 /usr/bin/tftp "
		    "127.0.0.1 %d -m binary -c get hello.txt got.txt",
		    d->dir, port);
		assert_int_equal(system(cmd), 0);
		snprintf(cmd, sizeof(cmd), "%s/got.txt", d->dir);
		read_text(cmd, got, sizeof(got));
		assert_string_equal(got, "hello over tftp\n");
		/* in.tftpd leaves a second after its last request */
		assert_int_equal(
		    sd_log_wait(d, "tftp: wait ", i + 1, 5000), i + 1);
	}
	assert_int_equal(sd_stop(d), 0);
}

/*
 * A program that exits without taking the pending client is started ten
 * times at most, then the service rests for a minute: no spinning.
 */
static void
test_wait_program_exiting_at_once_pauses_the_service(void **state)
{
	struct superd *d = *state;
	int port = free_port(), fd, n;

	sd_conf(d, "",
	    "{ name = \"quitter\"; port = %d; address = \"127.0.0.1\";"
	    " wait = true; exec = [\"/bin/true\"]; }",
	    port);
	assert_int_equal(sd_start(d, port), 0);
	fd = tcp_connect(port); /* stays in the backlog: readable */
	assert_true(fd >= 0);
	assert_int_equal(sd_log_wait(d, "paused for 60 s", 1, 8000), 1);
	assert_int_equal(sd_log_wait(d, "quitter: wait ", 10, 3000), 10);
	usleep(1500000);
	n = sd_log_count(d, "quitter: wait ");
	assert_int_equal(n, 10);
	assert_int_equal(sd_log_count(d, "started 10 times in 10 s"), 1);
	close(fd);
	assert_int_equal(sd_stop(d), 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, sd_setup, sd_teardown)

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    T(test_tcp_wait_program_accepts_on_the_listening_socket),
	    T(test_reload_while_the_program_runs_leaves_it_the_socket),
	    T(test_udp_wait_serves_tftp_through_in_tftpd),
	    T(test_wait_program_exiting_at_once_pauses_the_service),
	};

	if (argc == 3 && strcmp(argv[1], "--accept") == 0)
		return wait_program(atoi(argv[2]));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
