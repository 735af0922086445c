/*
 * test_privsep.c - Lua never runs as root: started as root, superd serves
 * as its configured user (nobody when none is set), while a spawner that
 * keeps root and holds nothing but its socket starts each exec service's
 * program as that service's own user, root included.
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

/* A process's real uid and its parent, from /proc; -1 when gone. */
static long
status_field(pid_t pid, const char *field)
{
	char path[64], buf[4096], *p;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	read_text(path, buf, sizeof(buf));
	p = strstr(buf, field);
	return p == NULL ? -1 : strtol(p + strlen(field), NULL, 10);
}

/* The only child of superd that is not a program: the spawner. */
static pid_t
spawner_of(pid_t superd)
{
	char path[64], list[256];

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)superd,
	    (int)superd);
	read_text(path, list, sizeof(list));
	return (pid_t)strtol(list, NULL, 10);
}

static struct passwd *
need_root_and_nobody(void)
{
	struct passwd *pw = getpwnam("nobody");

	if (getuid() != 0 || pw == NULL)
		printf("skipped: needs root and a user nobody\n");
	return getuid() == 0 ? pw : NULL;
}

/*
 * No user set: superd serves as nobody and says so; a script cannot read
 * what only root may; the spawner keeps root and only its socket.
 */
static void
test_lua_never_runs_as_root(void **state)
{
	struct superd *d = *state;
	struct passwd *pw = need_root_and_nobody();
	char line[256];
	int port, fd;
	pid_t sp;

	if (pw == NULL)
		return;
	port = sd_served(d, "shadow", "",
	    "function main(s)\n"
	    "  local f, err = io.open('/etc/shadow')\n"
	    "  s:write(tostring(f), ' ', tostring(err), '\\n')\n"
	    "end\n");
	assert_int_equal(status_field(d->pid, "\nUid:"), (long)pw->pw_uid);
	assert_int_equal(sd_log_count(d, "no user set: serving as nobody"), 1);
	fd = tcp_connect(port);
	assert_true(fd >= 0);
	assert_true(recv_line(fd, line, sizeof(line), 3000) > 0);
	assert_has(line, "nil /etc/shadow: Permission denied");
	close(fd);
	sp = spawner_of(d->pid);
	assert_true(sp > 0);
	assert_int_equal(status_field(sp, "\nUid:"), 0);
	/* /dev/null on 0 to 2, its socket, its signalfd: no port */
	assert_int_equal(proc_fd_count(sp), 5);
	assert_int_equal(sd_stop(d), 0);
}

/* What /usr/bin/id -u prints for a program of service on port. */
static long
program_uid(int port)
{
	char line[64];
	int fd = tcp_connect(port);

	assert_true(fd >= 0);
	assert_true(recv_line(fd, line, sizeof(line), 3000) > 0);
	close(fd);
	return strtol(line, NULL, 10);
}

/*
 * With the daemon serving as nobody, an exec service's user is still
 * honoured, root too; one that names none runs as the daemon's user.
 */
static void
test_exec_user_is_honoured_whatever_the_global_user(void **state)
{
	struct superd *d = *state;
	struct passwd *pw = need_root_and_nobody();
	int p1 = free_port(), p2 = free_port();

	if (pw == NULL)
		return;
	sd_conf(d, "user = \"nobody\";",
	    "{ name = \"asroot\"; port = %d; address = \"127.0.0.1\";"
	    " user = \"root\"; exec = [\"/usr/bin/id\", \"-u\"]; },"
	    "{ name = \"asdaemon\"; port = %d; address = \"127.0.0.1\";"
	    " exec = [\"/usr/bin/id\", \"-u\"]; }",
	    p1, p2);
	assert_int_equal(sd_start(d, p1), 0);
	assert_int_equal(status_field(d->pid, "\nUid:"), (long)pw->pw_uid);
	assert_int_equal(program_uid(p1), 0);
	assert_int_equal(program_uid(p2), (long)pw->pw_uid);
	/* a SIGHUP's new exec service is the spawner's too */
	sd_conf(d, "user = \"nobody\";",
	    "{ name = \"asroot\"; port = %d; address = \"127.0.0.1\";"
	    " user = \"root\"; exec = [\"/usr/bin/id\", \"-u\"]; },"
	    "{ name = \"added\"; port = %d; address = \"127.0.0.1\";"
	    " user = \"root\"; exec = [\"/usr/bin/id\", \"-u\"]; }",
	    p1, p2);
	sd_signal(d, SIGHUP);
	assert_int_equal(sd_log_wait(d, "configuration", 1, 3000), 1);
	assert_int_equal(program_uid(p2), 0);
	assert_int_equal(sd_stop(d), 0);
}

static void
test_unknown_exec_user_is_a_config_error(void **state)
{
	struct superd *d = *state;
	char out[2048];

	sd_conf(d, "",
	    "{ name = \"who\"; port = %d; address = \"127.0.0.1\";"
	    " user = \"no-such-user-here\"; exec = [\"/usr/bin/id\"]; }",
	    free_port());
	assert_int_equal(
	    sd_run(d, out, sizeof(out), "-t", "-c", d->conf, NULL), 1);
	assert_has(out, d->conf);
	assert_has(out, "unknown user or group \"no-such-user-here\"");
}

#define T(f) cmocka_unit_test_setup_teardown(f, sd_setup, sd_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_lua_never_runs_as_root),
	    T(test_exec_user_is_honoured_whatever_the_global_user),
	    T(test_unknown_exec_user_is_a_config_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
