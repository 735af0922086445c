/*
 * test_upgrade.c - the binary upgrade (SIGUSR2, superctl upgrade): the
 * binary at superd's path starts anew on the same listening sockets; the
 * old process stops accepting only once the new one serves, and drains.
 * Clients connecting all along are neither refused nor failed; an open
 * connection keeps working on the old process; a broken binary or a bad
 * configuration changes nothing.  superd runs from a copy of the binary
 * in the test's directory, so that a test may break it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client.h"

#define CLIENTS 16

struct up {
	struct superd d;
	char orig[256];	 /* the binary built */
	char bin[256];	 /* the copy superd runs from */
	char pidf[256];	 /* its pid file */
	char ctl[256];	 /* its control socket */
	char unix_[256]; /* a unix socket service's */
	int port;
	pid_t successor; /* to stop at the end */
};

static void
copy_binary(const char *from, const char *to)
{
	char cmd[1200];

	snprintf(cmd, sizeof(cmd), "cp '%s' '%s.new' && mv '%s.new' '%s'", from,
	    to, to, to);
	assert_int_equal(system(cmd), 0);
}

/* The binary at the copy's path replaced by a program that cannot serve. */
static void
break_binary(struct up *u)
{
	char tmp[300];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.broken", u->bin);
	assert_non_null(f = fopen(tmp, "w"));
	fprintf(f, "#!/bin/sh\necho 'this superd is broken' >&2\nexit 3\n");
	fclose(f);
	assert_int_equal(chmod(tmp, 0755), 0);
	assert_int_equal(rename(tmp, u->bin), 0);
}

static pid_t
pid_in_file(struct up *u)
{
	FILE *f = fopen(u->pidf, "r");
	long pid = 0;

	if (f == NULL)
		return 0;
	if (fscanf(f, "%ld", &pid) != 1)
		pid = 0;
	fclose(f);
	return (pid_t)pid;
}

/* The copy, its files named; nothing written yet. */
static struct up *
prepare(void)
{
	struct up *u = calloc(1, sizeof(*u));

	assert_non_null(u);
	sd_init(&u->d);
	snprintf(u->orig, sizeof(u->orig), "%s", sd_binary());
	snprintf(u->bin, sizeof(u->bin), "%s/superd", u->d.dir);
	snprintf(u->pidf, sizeof(u->pidf), "%s/superd.pid", u->d.dir);
	snprintf(u->ctl, sizeof(u->ctl), "%s/control", u->d.dir);
	snprintf(u->unix_, sizeof(u->unix_), "%s/local.sock", u->d.dir);
	u->port = free_port();
	copy_binary(u->orig, u->bin);
	setenv("SUPERD", u->bin, 1);
	return u;
}

/* One process: an echo on TCP and on a unix socket, superctl's socket. */
static int
setup(void **state)
{
	struct up *u = prepare();
	char globals[1024];

	snprintf(globals, sizeof(globals),
	    "shutdown_timeout = 5; pidfile = \"%s\"; control = \"%s\";",
	    u->pidf, u->ctl);
	sd_conf(&u->d, globals,
	    "{ name = \"echo\"; port = %d; address = \"127.0.0.1\";"
	    " script = \"echo.lua\"; },"
	    "{ name = \"local\"; path = \"%s\"; script = \"echo.lua\"; }",
	    u->port, u->unix_);
	*state = u;
	return 0;
}

/* A master and two workers: an echo on TCP and UDP. */
static int
setup_workers(void **state)
{
	struct up *u = prepare();
	char globals[1024];

	snprintf(globals, sizeof(globals),
	    "workers = 2; shutdown_timeout = 5; pidfile = \"%s\";", u->pidf);
	sd_conf(&u->d, globals,
	    "{ name = \"echo\"; port = %d; address = \"127.0.0.1\";"
	    " protocol = [\"tcp\", \"udp\"]; script = \"echo.lua\"; }",
	    u->port);
	*state = u;
	return 0;
}

/* Stops whichever process serves last: the old one is ours to reap. */
static int
teardown(void **state)
{
	struct up *u = *state;
	long end = now_ms() + 10000;
	pid_t last = u->successor > 0 ? u->successor : pid_in_file(u);

	/* a test that failed half-way may not know the successor's pid */
	if (last == u->d.pid)
		last = 0;
	if (last > 0 && kill(last, SIGTERM) == 0) {
		while (kill(last, 0) == 0 && now_ms() < end)
			usleep(20000);
		if (kill(last, 0) == 0)
			kill(last, SIGKILL);
	}
	unsetenv("SUPERD");
	sd_cleanup(&u->d);
	free(u);
	return 0;
}

static void
start(struct up *u)
{
	sd_started(&u->d, u->port);
	assert_int_equal(wait_port(u->port, 5000), 0);
}

/* superctl upgrade: its exit status, what it printed in out. */
static int
ctl_upgrade(struct up *u, char *out, size_t len)
{
	const char *args[] = {"-s", u->ctl, "upgrade", NULL};

	return sd_superctl(&u->d, out, len, args);
}

/* The pid that serves once the old one has said so: not the old one. */
static pid_t
wait_successor(struct up *u, pid_t old)
{
	long end = now_ms() + 15000;
	pid_t pid;

	while (now_ms() < end) {
		pid = pid_in_file(u);
		if (pid > 0 && pid != old &&
		    sd_log_count(&u->d, "upgrade: pid ") > 0)
			return pid;
		usleep(20000);
	}
	fail_msg("no successor serves; log in %s", u->d.log);
	return 0;
}

/* An echo round-trip on a new unix connection. */
static int
unix_echo(const char *path)
{
	char buf[16] = {0};
	int fd = unix_connect(path), ok;

	if (fd < 0)
		return 0;
	ok = send_str(fd, "unix\n") == 0 &&
	     recv_line(fd, buf, sizeof(buf), 3000) > 0 &&
	     strcmp(buf, "unix\n") == 0;
	close(fd);
	return ok;
}

/*
 * A client that connects, sends a line, reads it back and closes, again
 * and again until the deadline; it writes "ok failed" on out.
 */
static void
client_loop(int port, long until, int out)
{
	char line[32];
	int ok = 0, failed = 0, fd;

	while (now_ms() < until) {
		fd = tcp_connect(port);
		if (fd < 0) {
			failed++;
			continue;
		}
		if (send_str(fd, "ping\n") == 0 &&
		    recv_line(fd, line, sizeof(line), 3000) > 0 &&
		    strcmp(line, "ping\n") == 0)
			ok++;
		else
			failed++;
		close(fd);
	}
	snprintf(line, sizeof(line), "%d %d\n", ok, failed);
	if (write(out, line, strlen(line)) < 0)
		_exit(2);
	_exit(0);
}

static void
clients_start(pid_t *kids, int port, long until, int out)
{
	int i;

	for (i = 0; i < CLIENTS; i++) {
		kids[i] = fork();
		assert_true(kids[i] >= 0);
		if (kids[i] == 0)
			client_loop(port, until, out);
	}
}

/* Every client's counts: the total failures; *ok the round-trips. */
static int
clients_end(pid_t *kids, int in, int *ok)
{
	char buf[CLIENTS * 32 + 1], *p;
	int i, failed = 0, a, b;
	ssize_t n;

	for (i = 0; i < CLIENTS; i++)
		waitpid(kids[i], NULL, 0);
	n = read(in, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	*ok = 0;
	for (p = buf, i = 0; sscanf(p, "%d %d", &a, &b) == 2; i++) {
		*ok += a;
		failed += b;
		p = strchr(p, '\n') + 1;
	}
	assert_int_equal(i, CLIENTS);
	return failed;
}

/*
 * 16 clients connect over and over while how() upgrades superd: none
 * fails; a connection open across it keeps working on the old process,
 * which exits 0 once it is closed.  The successor's pid.
 */
static pid_t
upgrade_under_load(struct up *u, void (*how)(struct up *))
{
	pid_t kids[CLIENTS], old, now;
	char buf[32];
	int p[2], fd, ok, failed;

	start(u);
	old = u->d.pid;
	assert_int_equal(pid_in_file(u), old);
	fd = connect_ok(u->port); /* open across the upgrade */
	assert_true(served(fd));
	assert_int_equal(pipe(p), 0);
	clients_start(kids, u->port, now_ms() + 3000, p[1]);
	close(p[1]);
	usleep(800000);
	how(u);
	now = u->successor = wait_successor(u, old);
	failed = clients_end(kids, p[0], &ok);
	close(p[0]);
	assert_int_equal(failed, 0);
	assert_true(ok > CLIENTS * 10);
	/* the old process drains: its open connection still echoes */
	assert_true(sd_alive(&u->d));
	assert_int_equal(send_str(fd, "still here\n"), 0);
	assert_true(recv_line(fd, buf, sizeof(buf), 3000) > 0);
	assert_string_equal(buf, "still here\n");
	close(fd);
	/* and exits once it is closed, cleanly */
	for (long end = now_ms() + 10000; sd_alive(&u->d) && now_ms() < end;)
		usleep(20000);
	assert_false(sd_alive(&u->d));
	assert_true(WIFEXITED(u->d.status) && WEXITSTATUS(u->d.status) == 0);
	assert_true(kill(now, 0) == 0);
	assert_true(served(connect_ok(u->port)));
	return now;
}

static void
by_superctl(struct up *u)
{
	char out[512];
	int rc = ctl_upgrade(u, out, sizeof(out));

	if (rc != 0)
		fail_msg("superctl upgrade: exit %d: %s", rc, out);
	assert_non_null(strstr(out, "upgraded: pid "));
}

static void
by_sigusr2(struct up *u)
{
	assert_int_equal(kill(u->d.pid, SIGUSR2), 0);
}

static void
test_upgrade_under_load_refuses_nobody(void **state)
{
	struct up *u = *state;
	pid_t now = upgrade_under_load(u, by_superctl);

	/* the successor has every socket: TCP, the unix one, control */
	assert_true(unix_echo(u->unix_));
	assert_int_equal(pid_in_file(u), now);
}

static void
test_sigusr2_upgrades_and_the_last_one_removes_the_files(void **state)
{
	struct up *u = *state;
	struct stat sb;
	long end;
	pid_t old, now;

	start(u);
	old = u->d.pid;
	assert_int_equal(kill(old, SIGUSR2), 0);
	now = u->successor = wait_successor(u, old);
	assert_int_equal(sd_log_wait(&u->d, "superd stopped", 1, 10000), 1);
	assert_true(unix_echo(u->unix_));
	/* the old one left the files alone: they are the new one's */
	assert_int_equal(stat(u->unix_, &sb), 0);
	assert_int_equal(stat(u->ctl, &sb), 0);
	/* a second upgrade, from the successor itself */
	assert_int_equal(kill(now, SIGUSR2), 0);
	end = now_ms() + 15000;
	while (pid_in_file(u) == now && now_ms() < end)
		usleep(20000);
	assert_true(pid_in_file(u) != now);
	u->successor = pid_in_file(u);
	assert_int_equal(sd_log_wait(&u->d, "superd stopped", 2, 10000), 2);
	assert_true(served(connect_ok(u->port)));
	/* the last one, stopped, removes what superd made */
	assert_int_equal(kill(u->successor, SIGTERM), 0);
	assert_int_equal(sd_log_wait(&u->d, "superd stopped", 3, 10000), 3);
	for (end = now_ms() + 5000;
	     kill(u->successor, 0) == 0 && now_ms() < end;)
		usleep(20000);
	u->successor = 0;
	assert_int_equal(stat(u->unix_, &sb), -1);
	assert_int_equal(stat(u->ctl, &sb), -1);
	assert_int_equal(stat(u->pidf, &sb), -1);
}

/* The master hands its workers' sockets on, and new workers serve them. */
static void
test_master_upgrades_its_workers_under_load(void **state)
{
	struct up *u = *state;
	char reply[16];
	pid_t now = upgrade_under_load(u, by_sigusr2);

	assert_int_equal(
	    udp_exchange(u->port, "dgram", 5, reply, sizeof(reply), 3000), 5);
	assert_int_equal(pid_in_file(u), now);
	assert_true(sd_log_count(&u->d, "master: 2 workers started") >= 2);
}

/*
 * superctl upgrade fails (its reason in out) and changes nothing: the
 * same process serves, logged why, and names itself in the pid file.
 */
static void
upgrade_refused(struct up *u, char *out, size_t len, const char *after)
{
	pid_t old = u->d.pid;

	assert_int_equal(ctl_upgrade(u, out, len), 1);
	assert_non_null(strstr(out, "upgrade failed: "));
	assert_int_equal(sd_log_count(&u->d, "upgrade failed: "), 1);
	assert_alive(&u->d, after);
	assert_int_equal(pid_in_file(u), old);
	assert_true(served(connect_ok(u->port)));
	assert_true(unix_echo(u->unix_));
}

static void
test_broken_binary_changes_nothing(void **state)
{
	struct up *u = *state;
	char out[512];
	pid_t old;

	start(u);
	old = u->d.pid;
	break_binary(u);
	upgrade_refused(u, out, sizeof(out), "a broken binary");
	/* the files are still the serving process's, and it upgrades later */
	copy_binary(u->orig, u->bin);
	assert_int_equal(ctl_upgrade(u, out, sizeof(out)), 0);
	u->successor = wait_successor(u, old);
	assert_true(served(connect_ok(u->port)));
}

static void
test_bad_configuration_at_upgrade_changes_nothing(void **state)
{
	struct up *u = *state;
	char out[1024];

	start(u);
	sd_write(&u->d, "superd.conf", "services = ( { name = 1; } );\n");
	upgrade_refused(
	    u, out, sizeof(out), "an upgrade refused by its configuration");
	assert_non_null(strstr(out, "superd.conf:1"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		test_upgrade_under_load_refuses_nobody, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_sigusr2_upgrades_and_the_last_one_removes_the_files, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(
		test_master_upgrades_its_workers_under_load, setup_workers,
		teardown),
	    cmocka_unit_test_setup_teardown(
		test_broken_binary_changes_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_bad_configuration_at_upgrade_changes_nothing, setup,
		teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
