/*
 * test_notify.c - systemd's notify protocol: superd, started with
 * NOTIFY_SOCKET naming a unix datagram socket the test reads, says
 * READY=1 once it serves, RELOADING=1 and READY=1 around a SIGHUP (with
 * the error as STATUS= when the file is bad), STOPPING=1 on SIGTERM;
 * with workers, the master alone speaks, once all of them serve.
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
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "client.h"

#define ECHO_SERVICE                                             \
	"{ name = \"echo\"; port = %d; address = \"127.0.0.1\";" \
	" script = \"echo.lua\"; }"

/* A datagram socket at name ("@..." abstract) that learns who sent. */
static int
notify_socket(const char *name)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	socklen_t len = offsetof(struct sockaddr_un, sun_path) + strlen(name);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), on = 1;

	assert_true(fd >= 0);
	memcpy(a.sun_path, name, strlen(name));
	if (name[0] == '@')
		a.sun_path[0] = '\0';
	else
		len++;
	assert_int_equal(bind(fd, (struct sockaddr *)&a, len), 0);
	/* writable by the user superd serves as, as systemd's own is */
	if (name[0] == '/')
		assert_int_equal(chmod(name, 0666), 0);
	assert_int_equal(
	    setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)), 0);
	return fd;
}

/* The next message within ms, its sender in *pid: its length, or -1. */
static ssize_t
notify_recv(int fd, char *buf, size_t max, int ms, pid_t *pid)
{
	char cbuf[CMSG_SPACE(sizeof(struct ucred))];
	struct iovec iov = {buf, max - 1};
	struct msghdr m = {.msg_iov = &iov,
	    .msg_iovlen = 1,
	    .msg_control = cbuf,
	    .msg_controllen = sizeof(cbuf)};
	struct pollfd p = {fd, POLLIN, 0};
	struct cmsghdr *c;
	ssize_t n;

	if (poll(&p, 1, ms) != 1 || (n = recvmsg(fd, &m, 0)) < 0)
		return -1;
	buf[n] = '\0';
	*pid = 0;
	for (c = CMSG_FIRSTHDR(&m); c != NULL; c = CMSG_NXTHDR(&m, c))
		if (c->cmsg_type == SCM_CREDENTIALS)
			*pid = ((struct ucred *)CMSG_DATA(c))->pid;
	return n;
}

/* The next message, which must come from superd's own pid. */
static void
expect_from(struct superd *d, int fd, char *buf, size_t max)
{
	pid_t pid;

	if (notify_recv(fd, buf, max, 10000, &pid) < 0)
		fail_msg("no notify message from superd within 10 s");
	assert_int_equal(pid, d->pid);
}

static unsigned long long
monotonic_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000ULL +
	       (unsigned long long)ts.tv_nsec / 1000ULL;
}

/* superd -c d->conf with NOTIFY_SOCKET=name, serving port. */
static void
start_notified(struct superd *d, const char *name, int port)
{
	setenv("NOTIFY_SOCKET", name, 1);
	sd_started(d, port);
	unsetenv("NOTIFY_SOCKET");
}

/*
 * superd on port with the global settings, told DIR/notify.sock: the
 * socket, its first message in msg.
 */
static int
notified(struct superd *d, const char *globals, int port, char *msg, size_t len)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/notify.sock", d->dir);
	fd = notify_socket(path);
	sd_conf(d, globals, ECHO_SERVICE, port);
	start_notified(d, path, port);
	expect_from(d, fd, msg, len);
	return fd;
}

static void
test_ready_reloading_and_stopping(void **state)
{
	struct superd *d = *state;
	char msg[1024], want[64];
	unsigned long long before, sent;
	int port = free_port(), fd, c;
	const char *usec;

	fd = notified(d, "shutdown_timeout = 1;", port, msg, sizeof(msg));
	snprintf(want, sizeof(want), "READY=1\nMAINPID=%d\n", (int)d->pid);
	assert_has(msg, want);
	assert_has(msg, "STATUS=serving 1 services");
	/* ready means serving */
	assert_true((c = tcp_connect(port)) >= 0);
	close(c);

	before = monotonic_usec();
	sd_signal(d, SIGHUP);
	expect_from(d, fd, msg, sizeof(msg));
	assert_has(msg, "RELOADING=1\nMONOTONIC_USEC=");
	usec = strstr(msg, "MONOTONIC_USEC=") + strlen("MONOTONIC_USEC=");
	sent = strtoull(usec, NULL, 10);
	assert_true(sent >= before && sent <= monotonic_usec());
	expect_from(d, fd, msg, sizeof(msg));
	assert_has(msg, "READY=1\n");
	assert_has(msg, "STATUS=serving 1 services");

	sd_write(d, "superd.conf", "services = ( { name = \"x\"; } )\n;;\n");
	sd_signal(d, SIGHUP);
	expect_from(d, fd, msg, sizeof(msg));
	assert_has(msg, "RELOADING=1\n");
	expect_from(d, fd, msg, sizeof(msg));
	assert_has(msg, "READY=1\n");
	assert_has(msg, "STATUS=SIGHUP: ");
	assert_has(msg, "superd.conf:");
	assert_has(msg, "; keeping the running configuration");
	assert_int_equal(strchr(strstr(msg, "STATUS="), '\n'), NULL);
	assert_true((c = tcp_connect(port)) >= 0);
	close(c);

	sd_signal(d, SIGTERM);
	expect_from(d, fd, msg, sizeof(msg));
	assert_string_equal(msg, "STOPPING=1");
	assert_int_equal(sd_stop(d), 0);
	close(fd);
}

/*
 * An upgrade: the old process names the new main pid once it serves, and
 * the new one speaks for itself from then on (STOPPING=1 at its end).
 */
static void
test_upgrade_names_the_new_main_pid(void **state)
{
	struct superd *d = *state;
	char msg[1024];
	int port = free_port(), fd, c;
	long end = now_ms() + 10000;
	pid_t next, from;

	fd = notified(d, "shutdown_timeout = 1;", port, msg, sizeof(msg));
	assert_has(msg, "READY=1\n");
	sd_signal(d, SIGUSR2);
	expect_from(d, fd, msg, sizeof(msg));
	assert_has(msg, "READY=1\n");
	assert_non_null(strstr(msg, "MAINPID="));
	next = (pid_t)atol(strstr(msg, "MAINPID=") + strlen("MAINPID="));
	assert_true(next > 0 && next != d->pid);
	assert_true((c = tcp_connect(port)) >= 0);
	close(c);
	while (sd_alive(d) && now_ms() < end) /* it drains, then exits */
		usleep(20000);
	assert_false(sd_alive(d));
	assert_int_equal(kill(next, SIGTERM), 0);
	assert_true(notify_recv(fd, msg, sizeof(msg), 10000, &from) > 0);
	assert_string_equal(msg, "STOPPING=1");
	assert_int_equal(from, next);
	for (end = now_ms() + 10000; kill(next, 0) == 0 && now_ms() < end;)
		usleep(20000);
	assert_int_not_equal(kill(next, 0), 0);
	close(fd);
}

/* "@name": systemd's abstract-namespace form of the socket. */
static void
test_abstract_notify_socket(void **state)
{
	struct superd *d = *state;
	char name[64], msg[1024];
	int port = free_port(), fd;

	snprintf(name, sizeof(name), "@superd-test-notify-%d", (int)getpid());
	fd = notify_socket(name);
	sd_conf(d, "", ECHO_SERVICE, port);
	start_notified(d, name, port);
	expect_from(d, fd, msg, sizeof(msg));
	assert_has(msg, "READY=1\n");
	assert_int_equal(sd_stop(d), 0);
	close(fd);
}

/*
 * workers = 2: one READY=1, from the master, once both workers serve;
 * nothing from a worker (systemd would refuse it, and the master speaks
 * for them).
 */
static void
test_workers_ready_comes_from_the_master_once(void **state)
{
	struct superd *d = *state;
	char msg[1024];
	int port = free_port(), fd, c;
	pid_t pid;

	fd = notified(
	    d, "workers = 2; shutdown_timeout = 1;", port, msg, sizeof(msg));
	assert_has(msg, "READY=1\n");
	assert_has(msg, "STATUS=serving with all workers");
	assert_int_equal(sd_log_wait(d, "started, 1 services", 2, 5000), 2);
	assert_int_equal(notify_recv(fd, msg, sizeof(msg), 1000, &pid), -1);
	assert_true((c = tcp_connect(port)) >= 0);
	close(c);
	sd_signal(d, SIGHUP);
	expect_from(d, fd, msg, sizeof(msg));
	assert_has(msg, "RELOADING=1\n");
	expect_from(d, fd, msg, sizeof(msg));
	assert_has(msg, "READY=1\n");
	sd_signal(d, SIGTERM);
	expect_from(d, fd, msg, sizeof(msg));
	assert_string_equal(msg, "STOPPING=1");
	assert_int_equal(sd_stop(d), 0);
	assert_int_equal(notify_recv(fd, msg, sizeof(msg), 200, &pid), -1);
	close(fd);
}

/* Without NOTIFY_SOCKET nothing is sent, and a bad one is only logged. */
static void
test_bad_notify_socket_is_logged_and_serves(void **state)
{
	struct superd *d = *state;
	int port = free_port();

	sd_conf(d, "", ECHO_SERVICE, port);
	start_notified(d, "not-a-path", port);
	assert_int_equal(sd_log_count(d, "NOTIFY_SOCKET: "), 1);
	assert_int_equal(sd_stop(d), 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, sd_setup, sd_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_ready_reloading_and_stopping),
	    T(test_abstract_notify_socket),
	    T(test_upgrade_names_the_new_main_pid),
	    T(test_workers_ready_comes_from_the_master_once),
	    T(test_bad_notify_socket_is_logged_and_serves),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
