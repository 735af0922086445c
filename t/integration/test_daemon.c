/*
 * test_daemon.c - superd as a system daemon: -d returns once it serves
 * and keeps a pid file until SIGTERM (removed even when superd serves as
 * an unprivileged user), an error after the fork still
 * reaches whoever started it, and each connection leaves one log line
 * with its duration, bytes and how it ended.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"

static pid_t daemon_pid; /* a detached superd the teardown must kill */

/* Alive and not a zombie waiting for an init that does not reap. */
static int
alive(pid_t pid)
{
	char path[64], buf[512], *p;

	if (kill(pid, 0) < 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	read_text(path, buf, sizeof(buf));
	p = strrchr(buf, ')');
	return p == NULL || (p[1] == ' ' && p[2] != 'Z' && p[2] != 'X');
}

/* The real uid of a running process, from /proc, or -1. */
static long
running_as(pid_t pid)
{
	char path[64], buf[2048], *p;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	read_text(path, buf, sizeof(buf));
	p = strstr(buf, "\nUid:");
	return p == NULL ? -1 : strtol(p + 5, NULL, 10);
}

/* Runs even when an assertion failed: nothing is left running. */
static int
teardown(void **state)
{
	struct superd *d = *state;

	if (daemon_pid > 0) {
		kill(daemon_pid, SIGKILL);
		daemon_pid = 0;
	}
	sd_cleanup(d);
	free(d);
	return 0;
}

/*
 * superd -d -p with the given global settings: it returns once superd
 * serves, the pid file names a running superd (as uid, unless it is -1),
 * and SIGTERM ends it and removes the file.
 */
static void
detach_serve_and_stop(struct superd *d, const char *globals, long uid)
{
	char pidpath[256], outpath[256], text[256];
	char *argv[] = {
	    (char *)sd_binary(), "-d", "-p", pidpath, "-c", d->conf, NULL};
	int port = free_port(), fd = -1, rc;
	long end;

	snprintf(pidpath, sizeof(pidpath), "%s/superd.pid", d->dir);
	snprintf(outpath, sizeof(outpath), "%s/run.out", d->dir);
	sd_conf(d, globals,
	    "{ name = \"echo\"; port = %d; address = \"127.0.0.1\";"
	    " script = \"echo.lua\"; }",
	    port);
	end = now_ms();
	rc = run_for(argv, outpath, 5000);
	read_text(outpath, text, sizeof(text));
	if (rc != 0)
		fail_msg("superd -d exited %d: %s", rc, text);
	assert_true(now_ms() - end < 3000);
	/* the parent returns once the daemon serves: the pidfile is there */
	read_text(pidpath, text, sizeof(text));
	daemon_pid = atoi(text);
	assert_true(daemon_pid > 0);
	if (!alive(daemon_pid))
		fail_msg(
		    "pid %d from %s is not running", (int)daemon_pid, pidpath);
	if (uid != -1 && running_as(daemon_pid) != uid)
		fail_msg("superd %d runs as uid %ld, not %ld", (int)daemon_pid,
		    running_as(daemon_pid), uid);
	for (end = now_ms() + 5000; now_ms() < end && fd < 0; usleep(20000))
		fd = tcp_connect(port);
	assert_true(served(fd));
	close(fd);
	assert_int_equal(kill(daemon_pid, SIGTERM), 0);
	for (end = now_ms() + 5000; now_ms() < end; usleep(20000))
		if (!alive(daemon_pid) && access(pidpath, F_OK) < 0)
			break;
	if (alive(daemon_pid))
		fail_msg("detached superd %d still runs 5 s after SIGTERM",
		    (int)daemon_pid);
	if (access(pidpath, F_OK) == 0)
		fail_msg("%s is still there after superd ended", pidpath);
	daemon_pid = 0;
}

static void
test_detach_writes_pidfile_and_removes_it_on_sigterm(void **state)
{
	detach_serve_and_stop(*state, "", -1);
}

/*
 * With user set, superd serves as that user, who may not unlink a file
 * in a directory of root's (the test's directory is root's, mode 0755):
 * the file still goes when superd ends.
 */
static void
test_pidfile_is_removed_after_privileges_were_dropped(void **state)
{
	struct passwd *pw = getpwnam("nobody");

	if (getuid() != 0 || pw == NULL) {
		printf("skipped: needs root and a user nobody\n");
		return;
	}
	detach_serve_and_stop(*state, "user = \"nobody\";", (long)pw->pw_uid);
}

/*
 * An error after the fork (here the pid file's directory is missing)
 * reaches the caller of superd -d: the message, and exit status 1.
 */
static void
test_detach_reports_a_late_start_error(void **state)
{
	struct superd *d = *state;
	char pidpath[256], outpath[256], text[512];
	char *argv[] = {
	    (char *)sd_binary(), "-d", "-p", pidpath, "-c", d->conf, NULL};
	int port = free_port();

	snprintf(pidpath, sizeof(pidpath), "%s/no/such/superd.pid", d->dir);
	snprintf(outpath, sizeof(outpath), "%s/run.out", d->dir);
	sd_conf(d, "",
	    "{ name = \"echo\"; port = %d; address = \"127.0.0.1\";"
	    " script = \"echo.lua\"; }",
	    port);
	assert_int_equal(run_for(argv, outpath, 5000), 1);
	read_text(outpath, text, sizeof(text));
	assert_non_null(strstr(text, "superd.pid: No such file or directory"));
	assert_true(tcp_connect(port) < 0);
}

/*
 * Under -d the log goes to syslog; with no syslog daemon listening on
 * /dev/log (a container) every line would vanish: the caller of -d is
 * told so on its stderr.
 */
static void
test_detach_warns_when_syslog_has_no_dev_log(void **state)
{
	struct superd *d = *state;
	char pidpath[256], outpath[256], text[512];
	char *argv[] = {
	    (char *)sd_binary(), "-d", "-p", pidpath, "-c", d->conf, NULL};
	int port = free_port(), rc;
	long end;

	if (access("/dev/log", F_OK) == 0) {
		printf("skipped: /dev/log exists here, so there is nothing to "
		       "warn of\n");
		return;
	}
	snprintf(pidpath, sizeof(pidpath), "%s/superd.pid", d->dir);
	snprintf(outpath, sizeof(outpath), "%s/run.out", d->dir);
	sd_write(d, "e.lua", "function main(s) end\n");
	sd_write(d, "superd.conf",
	    "services = ({ name = \"e\"; port = %d; address = \"127.0.0.1\";"
	    " script = \"e.lua\"; });\n",
	    port);
	rc = run_for(argv, outpath, 5000);
	read_text(outpath, text, sizeof(text));
	if (rc != 0)
		fail_msg("superd -d exited %d: %s", rc, text);
	read_text(pidpath, pidpath, sizeof(pidpath));
	daemon_pid = atoi(pidpath);
	assert_true(daemon_pid > 0);
	assert_non_null(strstr(text, "/dev/log"));
	assert_int_equal(kill(daemon_pid, SIGTERM), 0);
	for (end = now_ms() + 5000; now_ms() < end && alive(daemon_pid);)
		usleep(20000);
	assert_false(alive(daemon_pid));
	daemon_pid = 0;
}

static void
test_connection_log_line_counts_bytes_and_reason(void **state)
{
	struct superd *d = *state;
	char buf[16], needle[128], line[512], *p;
	int port = free_port(), fd, cport;
	double secs;
	int used = 0;

	sd_start_shipped(d, "echo", port, "protocol = [\"tcp\", \"udp\"];");
	fd = tcp_connect(port);
	assert_true(fd >= 0);
	cport = local_port(fd);
	assert_int_equal(send_str(fd, "hello"), 0);
	assert_int_equal(recv_n(fd, buf, 5, 2000), 5);
	close(fd);
	snprintf(needle, sizeof(needle), "echo: tcp 127.0.0.1:%d: ", cport);
	assert_int_equal(
	    sd_log_wait_line(d, needle, line, sizeof(line), 3000), 0);
	p = strstr(line, needle) + strlen(needle);
	if (sscanf(p, "%lfs, %n", &secs, &used) != 1 || used == 0)
		fail_msg("no duration in: %s", line);
	assert_true(secs >= 0 && secs < 5);
	assert_string_equal(
	    p + used, "5 bytes in, 5 bytes out, closed by peer");
	assert_int_equal(sd_stop(d), 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, sd_setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_detach_writes_pidfile_and_removes_it_on_sigterm),
	    T(test_pidfile_is_removed_after_privileges_were_dropped),
	    T(test_detach_reports_a_late_start_error),
	    T(test_detach_warns_when_syslog_has_no_dev_log),
	    T(test_connection_log_line_counts_bytes_and_reason),
	};
	if (getenv("TEST_FILTER") != NULL)
		cmocka_set_test_filter(getenv("TEST_FILTER"));
	return cmocka_run_group_tests_name("daemon", tests, NULL, NULL);
}
