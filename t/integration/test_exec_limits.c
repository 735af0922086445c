/*
 * test_exec_limits.c - what an exec service's program may use: resource
 * limits, niceness and umask set before it runs, a maximum run time, and
 * bad settings refused with their file and line.
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

/* Service "x" with the given settings (exec among them), started: its port. */
static int
start_x(struct superd *d, const char *settings)
{
	int port = free_port();

	sd_conf(d, "",
	    "{ name = \"x\"; port = %d; address = \"127.0.0.1\"; %s }", port,
	    settings);
	sd_started(d, port);
	return port;
}

/*
 * Service "x" with the given settings (exec among them) started; what the
 * program wrote to one connection, until it closed, in out.
 */
static void
program_output(struct superd *d, const char *settings, char *out, size_t len)
{
	int fd = tcp_connect(start_x(d, settings));
	ssize_t n;

	assert_true(fd >= 0);
	n = recv_all(fd, out, len - 1, 5000);
	close(fd);
	if (n < 0)
		fail_msg("the program did not end");
	out[n] = '\0';
}

/* /proc/self/limits' line for what: its soft and hard limit are want. */
static void
assert_limit(const char *limits, const char *what, const char *want)
{
	const char *p = strstr(limits, what);
	char soft[32], hard[32];

	if (p == NULL || sscanf(p + strlen(what), "%31s %31s", soft, hard) != 2)
		fail_msg("no \"%s\" in:\n%s", what, limits);
	if (strcmp(soft, want) != 0 || strcmp(hard, want) != 0)
		fail_msg("%s: %s %s, want %s for both", what, soft, hard, want);
}

static void
test_exec_rlimits_bound_the_program(void **state)
{
	struct superd *d = *state;
	char limits[8192];

	program_output(d,
	    "exec = [\"/bin/cat\", \"/proc/self/limits\"];"
	    " rlimits = { as = 512; cpu = 20; nofile = 64; nproc = 10000;"
	    " fsize = \"unlimited\"; core = 0; };",
	    limits, sizeof(limits));
	assert_limit(limits, "Max address space", "536870912");
	assert_limit(limits, "Max cpu time", "20");
	assert_limit(limits, "Max open files", "64");
	assert_limit(limits, "Max processes", "10000");
	assert_limit(limits, "Max file size", "unlimited");
	assert_limit(limits, "Max core file size", "0");
	assert_int_equal(sd_stop(d), 0);
}

/* nproc = 1: the program is its user's one process, it cannot fork. */
static void
test_exec_nproc_stops_the_program_forking(void **state)
{
	struct superd *d = *state;
	char out[512];

	if (getuid() != 0 || getpwnam("nobody") == NULL) {
		printf("skipped: needs root and a user nobody\n");
		return;
	}
	program_output(d,
	    "user = \"nobody\"; rlimits = { nproc = 1; };"
	    " exec = [\"/bin/sh\", \"-c\", \"/bin/true && echo forked\"];",
	    out, sizeof(out));
	if (strstr(out, "forked") != NULL)
		fail_msg("the program forked: %s", out);
	assert_int_equal(sd_stop(d), 0);
}

static void
test_exec_nice_sets_the_niceness(void **state)
{
	struct superd *d = *state;
	char out[64];

	program_output(
	    d, "exec = \"/usr/bin/nice\"; nice = 7;", out, sizeof(out));
	assert_string_equal(out, "7\n");
	assert_int_equal(sd_stop(d), 0);
}

static void
test_exec_umask_is_the_programs(void **state)
{
	struct superd *d = *state;
	char out[64];

	program_output(d,
	    "exec = [\"/bin/sh\", \"-c\", \"umask\"]; umask = \"027\";", out,
	    sizeof(out));
	assert_int_equal(strtol(out, NULL, 8), 027);
	assert_int_equal(sd_stop(d), 0);
}

static void
test_exec_bad_limits_are_refused_with_file_and_line(void **state)
{
	struct superd *d = *state;
	char out[1024], want[256];

	sd_write(d, "superd.conf",
	    "services = ({ name = \"x\"; port = 1; exec = \"/bin/cat\";\n"
	    "  nice = -5;\n"
	    "  rlimits = { nofile = 64;\n"
	    "    stack = 8; };\n"
	    "});\n");
	assert_int_equal(
	    sd_run(d, out, sizeof(out), "-t", "-c", d->conf, NULL), 1);
	snprintf(want, sizeof(want), "%s:4: unknown limit \"rlimits.stack\"",
	    d->conf);
	assert_has(out, want);
	sd_write(d, "t.lua", "function main(s) end\n");
	sd_write(d, "superd.conf",
	    "services = ({ name = \"x\"; port = 1; script = \"t.lua\";\n"
	    "  umask = \"022\";\n"
	    "});\n");
	assert_int_equal(
	    sd_run(d, out, sizeof(out), "-t", "-c", d->conf, NULL), 1);
	snprintf(want, sizeof(want), "%s:2: \"umask\" is for exec services",
	    d->conf);
	assert_has(out, want);
}

/*
 * A connection to port that the program's end closes between min and max
 * ms after it was made; the log says max_runtime sent SIGTERM, and the
 * line of that end holds how.  The connection's log needle in needle.
 */
static void
assert_ended_by_max_runtime(struct superd *d, int port, long min, long max,
    const char *how, char *needle, size_t len)
{
	int fd = tcp_connect(port), cport;
	long start = now_ms(), took;

	assert_true(fd >= 0);
	cport = local_port(fd);
	if (!wait_closed(fd, max + 1000))
		fail_msg("the program still runs after %ld ms", max + 1000);
	took = now_ms() - start;
	close(fd);
	if (took < min || took > max)
		fail_msg(
		    "closed after %ld ms, want %ld to %ld", took, min, max);
	snprintf(needle, len, "x: tcp 127.0.0.1:%d: ", cport);
	assert_int_equal(sd_log_lines_wait(d, needle, how, 1, 3000), 1);
	assert_int_equal(
	    sd_log_lines(d, needle, "ran past max_runtime: SIGTERM"), 1);
}

static void
test_exec_max_runtime_ends_a_program_with_sigterm(void **state)
{
	struct superd *d = *state;
	char needle[64];
	int port;

	port = start_x(d, "exec = [\"/bin/sleep\", \"30\"]; max_runtime = 1;");
	assert_ended_by_max_runtime(d, port, 800, 4000,
	    ", killed by signal 15 (max_runtime)", needle, sizeof(needle));
	assert_int_equal(sd_log_count(d, "SIGKILL"), 0);
	assert_int_equal(sd_stop(d), 0);
}

/* The shell waits in sleep: only the process group's end closes it all. */
static void
test_exec_max_runtime_ends_the_programs_children_too(void **state)
{
	struct superd *d = *state;
	char needle[64];
	int port;

	port =
	    start_x(d, "exec = [\"/bin/sh\", \"-c\", \"sleep 30; echo done\"];"
		       " max_runtime = 1;");
	assert_ended_by_max_runtime(d, port, 800, 4000,
	    ", killed by signal 15 (max_runtime)", needle, sizeof(needle));
	assert_int_equal(sd_stop(d), 0);
}

static void
test_exec_max_runtime_kills_a_program_that_ignores_sigterm(void **state)
{
	struct superd *d = *state;
	char needle[64];
	int port;

	port = start_x(d,
	    "exec = [\"/bin/sh\", \"-c\", \"trap '' TERM; sleep 30; echo "
	    "done\"]; max_runtime = 1;");
	assert_ended_by_max_runtime(d, port, 2700, 6000,
	    ", killed by signal 9 (max_runtime)", needle, sizeof(needle));
	assert_int_equal(
	    sd_log_lines(d, needle, "outlived SIGTERM: SIGKILL"), 1);
	assert_int_equal(sd_stop(d), 0);
}

/* A SIGHUP's new settings: the next program gets them. */
static void
test_exec_settings_changed_by_sighup_apply_to_new_connections(void **state)
{
	struct superd *d = *state;
	const char *prog = "exec = [\"/bin/sh\", \"-c\","
			   " \"echo $GREETING; exec sleep 30\"];";
	int port = start_x(d, prog), fd;
	char line[256];

	fd = tcp_connect(port);
	assert_true(recv_line(fd, line, sizeof(line), 3000) > 0);
	assert_string_equal(line, "\n");
	sd_conf(d, "",
	    "{ name = \"x\"; port = %d; address = \"127.0.0.1\"; %s"
	    " env = [\"GREETING=after\"]; max_runtime = 1; }",
	    port, prog);
	assert_int_equal(sd_signal(d, SIGHUP), 0);
	assert_int_equal(sd_log_wait_line(d, "SIGHUP: changed service", line,
			     sizeof(line), 5000),
	    0);
	assert_has(line, "env, max_runtime");
	assert_ended_by_max_runtime(
	    d, port, 800, 4000, "(max_runtime)", line, sizeof(line));
	/* the one started before keeps running without a limit */
	assert_true(quiet_for(fd, 200));
	close(fd);
	fd = tcp_connect(port);
	assert_true(recv_line(fd, line, sizeof(line), 3000) > 0);
	assert_string_equal(line, "after\n");
	close(fd);
	assert_int_equal(sd_stop(d), 0);
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, sd_setup, sd_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    TEST(test_exec_rlimits_bound_the_program),
	    TEST(test_exec_nproc_stops_the_program_forking),
	    TEST(test_exec_nice_sets_the_niceness),
	    TEST(test_exec_umask_is_the_programs),
	    TEST(test_exec_bad_limits_are_refused_with_file_and_line),
	    TEST(test_exec_max_runtime_ends_a_program_with_sigterm),
	    TEST(test_exec_max_runtime_ends_the_programs_children_too),
	    TEST(test_exec_max_runtime_kills_a_program_that_ignores_sigterm),
	    TEST(test_exec_settings_changed_by_sighup_apply_to_new_connections),
	};
	if (getenv("TEST_FILTER") != NULL)
		cmocka_set_test_filter(getenv("TEST_FILTER"));
	return cmocka_run_group_tests_name("exec_limits", tests, NULL, NULL);
}
