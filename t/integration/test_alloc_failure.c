/*
 * test_alloc_failure.c - superd under injected allocation failures
 * (t/failalloc.c, by LD_PRELOAD): through connections, SIGHUPs and
 * SIGUSR1s it never dies, and once allocations succeed again every
 * service answers.  At start a failure is an exit with a message.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client.h"

#define SHIM "t/bin/failalloc.so"
#define CHURN_MS 6000 /* per failure rate */
#define ROUNDS 400    /* at most, within CHURN_MS */

struct ports {
	int echo, slow, relay, cat, extra;
};

/* Echo on TCP and UDP; its globals grow, so reloads have state to keep. */
#define GROWING_ECHO_LUA                      \
	"if seen == nil then seen = {} end\n" \
	"function main(s)\n"                  \
	"  for l in s:lines() do\n"           \
	"    seen[#seen %% 64 + 1] = l\n"     \
	"    s:write(l, '\\n')\n"             \
	"  end\n"                             \
	"end\n"                               \
	"function fini(s) seen[#seen %% 64 + 1] = tostring(s) end\n"

/* Timers and spawned coroutines: a sleep, then the line upper-cased. */
#define SLOW_LUA                                               \
	"function main(s)\n"                                   \
	"  local l = s:read()\n"                               \
	"  if not l then return end\n"                         \
	"  superd.spawn(function() superd.sleep(0.005) end)\n" \
	"  superd.sleep(0.01)\n"                               \
	"  s:write(string.upper(l), '\\n')\n"                  \
	"end\n"

/* superd.connect: the line goes to echo and comes back from there. */
#define RELAY_LUA                                                    \
	"function main(s)\n"                                         \
	"  local l = s:read()\n"                                     \
	"  if not l then return end\n"                               \
	"  local c = superd.connect('127.0.0.1', options.echo, 1)\n" \
	"  if not c then return end\n"                               \
	"  c:write(l, '\\n')\n"                                      \
	"  s:write('relayed ', tostring(c:read()), '\\n')\n"         \
	"end\n"

#define EXTRA_LUA                                   \
	"function main(s)\n"                        \
	"  s:write('extra ', options.tag, '\\n')\n" \
	"end\n"

/*
 * Two configurations for SIGHUP to alternate between: the second adds
 * a service and changes the options of another.
 */
static void
write_conf(struct superd *d, const struct ports *p, int second)
{
	char extra[256] = "";

	if (second)
		snprintf(extra, sizeof(extra),
		    ",\n { name = \"extra\"; port = %d; address = "
		    "\"127.0.0.1\"; script = \"extra.lua\";"
		    " options = { tag = \"b\"; }; }",
		    p->extra);
	sd_write(d, "superd.conf",
	    "log_level = \"info\";\n"
	    "shutdown_timeout = 1;\n"
	    "services = (\n"
	    " { name = \"echo\"; port = %d; address = \"127.0.0.1\";"
	    " protocol = [\"tcp\", \"udp\"]; script = \"echo.lua\";"
	    " options = { tag = \"%s\"; }; },\n"
	    " { name = \"slow\"; port = %d; address = \"127.0.0.1\";"
	    " script = \"slow.lua\"; },\n"
	    " { name = \"relay\"; port = %d; address = \"127.0.0.1\";"
	    " script = \"relay.lua\"; options = { echo = %d; }; },\n"
	    " { name = \"cat\"; port = %d; address = \"127.0.0.1\";"
	    " exec = [\"/bin/cat\"]; }%s\n"
	    ");\n",
	    p->echo, second ? "b" : "a", p->slow, p->relay, p->echo, p->cat,
	    extra);
}

/* Ports and scripts for the services of write_conf. */
static void
prepare(struct superd *d, struct ports *p)
{
	p->echo = free_port();
	p->slow = free_port();
	p->relay = free_port();
	p->cat = free_port();
	p->extra = free_port();
	sd_write(d, "echo.lua", GROWING_ECHO_LUA);
	sd_write(d, "slow.lua", SLOW_LUA);
	sd_write(d, "relay.lua", RELAY_LUA);
	sd_write(d, "extra.lua", EXTRA_LUA);
}

/*
 * superd's environment gets the shim; this process does not use it.
 * ALLOC_SEED=n picks other failures (the log names a run's seed).
 */
static void
preload(struct superd *d, int every, unsigned seed)
{
	char shim[PATH_MAX], flag[256], n[32];

	if (getenv("ALLOC_SEED") != NULL)
		seed += (unsigned)atoi(getenv("ALLOC_SEED")) * 104729u;

	assert_non_null(realpath(SHIM, shim));
	snprintf(flag, sizeof(flag), "%s/failalloc.flag", d->dir);
	setenv("LD_PRELOAD", shim, 1);
	setenv("FAILALLOC_FLAG", flag, 1);
	snprintf(n, sizeof(n), "%d", every);
	setenv("FAILALLOC_EVERY", n, 1);
	snprintf(n, sizeof(n), "%u", seed);
	setenv("FAILALLOC_SEED", n, 1);
}

static void
unpreload(void)
{
	unsetenv("LD_PRELOAD");
	unsetenv("FAILALLOC_FLAG");
	unsetenv("FAILALLOC_EVERY");
	unsetenv("FAILALLOC_SEED");
}

static void
set_flag(struct superd *d, int on)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/failalloc.flag", d->dir);
	if (on)
		sd_write(d, "failalloc.flag", "on\n");
	else
		assert_int_equal(unlink(path), 0);
	usleep(50000); /* the shim looks at the flag every 10 ms */
}

/*
 * A malloc shim cannot stand in front of ASan's allocator (ASan insists
 * on coming first and aborts).  Running the plain build instead would
 * repeat what `make check` does, so under a sanitizer build this test
 * says so and skips.
 */
static int
sanitized(void)
{
	if (!sd_sanitized())
		return 0;
	fprintf(stderr,
	    "skipped: %s is an ASan build, and an LD_PRELOAD "
	    "allocator cannot run under ASan; make check runs "
	    "this test on ./superd\n",
	    getenv("SUPERD"));
	return 1;
}

/* A line to port and the answer, tried once; 0 when it was want. */
static int
answers(int port, const char *line, const char *want, int ms)
{
	char buf[256];

	if (ask(port, line, buf, sizeof(buf), ms) <= 0)
		return -1;
	return strcmp(buf, want) == 0 ? 0 : -1;
}

/*
 * A burst of clients on every service at once, each answered or not:
 * some ask and close, some reset, some leave before the answer.
 */
static void
churn(const struct ports *p, int round)
{
	const int ports[] = {p->echo, p->slow, p->relay, p->cat, p->extra};
	char buf[256];
	int fd[20], i;

	for (i = 0; i < 20; i++)
		if ((fd[i] = tcp_connect(ports[i % 5])) >= 0)
			send_str(fd[i], "churn line\n");
	for (i = 0; i < 20; i++) {
		if (fd[i] < 0)
			continue;
		if ((i + round) % 3 == 0)
			reset_close(fd[i]);
		else if ((i + round) % 3 == 1)
			close(fd[i]);
		else {
			recv_line(fd[i], buf, sizeof(buf), 200);
			close(fd[i]);
		}
	}
	for (i = 0; i < 4; i++)
		udp_exchange(
		    p->echo, "churn datagram", 14, buf, sizeof(buf), 50);
}

/* Every service of the running configuration answers as it should. */
static void
assert_serving(const struct ports *p, int second)
{
	char buf[256];

	assert_int_equal(answers(p->echo, "hello\n", "hello\n", 3000), 0);
	assert_int_equal(answers(p->slow, "hello\n", "HELLO\n", 3000), 0);
	assert_int_equal(
	    answers(p->relay, "hello\n", "relayed hello\n", 3000), 0);
	assert_int_equal(answers(p->cat, "hello\n", "hello\n", 3000), 0);
	assert_int_equal(
	    udp_exchange(p->echo, "hello", 5, buf, sizeof(buf), 3000), 6);
	assert_string_equal(buf, "hello\n");
	if (second)
		assert_int_equal(answers(p->extra, "\n", "extra b\n", 3000), 0);
}

/* How many allocations the shim failed, from its report at exit. */
static long
failed_count(struct superd *d)
{
	char buf[1 << 16], *p;
	long n = -1;
	size_t len;
	FILE *f;

	if ((f = fopen(d->log, "r")) == NULL)
		return -1;
	/* the report is the last line */
	if (fseek(f, -(long)sizeof(buf) + 1, SEEK_END) < 0)
		rewind(f);
	len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[len] = '\0';
	for (p = buf; (p = strstr(p, "]: ")) != NULL; p++)
		if (sscanf(p, "]: %ld allocations failed", &n) == 1)
			break;
	return n;
}

static void
survive(struct superd *d, int every)
{
	struct ports p;
	int round, second = 0, loaded;
	long end;

	if (sanitized())
		skip();
	prepare(d, &p);
	write_conf(d, &p, 0);
	preload(d, every, (unsigned)every * 7919u);
	assert_int_equal(sd_start(d, p.echo), 0);
	unpreload();
	set_flag(d, 1);
	end = now_ms() + CHURN_MS;
	for (round = 0; round < ROUNDS && now_ms() < end; round++) {
		churn(&p, round);
		if (round % 4 == 1) {
			second = !second;
			write_conf(d, &p, second);
			sd_signal(d, SIGHUP);
		} else if (round % 4 == 3) {
			sd_signal(d, SIGUSR1);
		}
		usleep(20000);
		assert_alive(d, round % 4 == 1	 ? "a SIGHUP"
				: round % 4 == 3 ? "a SIGUSR1"
						 : "connections");
	}
	set_flag(d, 0);
	assert_alive(d, "the flag went");

	/* the running configuration is whichever SIGHUP last took */
	assert_serving(&p, 0);
	loaded = sd_log_count(d, "SIGHUP: configuration");
	write_conf(d, &p, 1);
	sd_signal(d, SIGHUP);
	assert_true(
	    sd_log_wait(d, "SIGHUP: configuration", loaded + 1, 5000) > loaded);
	assert_serving(&p, 1);
	loaded = sd_log_count(d, "echo: reloaded");
	sd_signal(d, SIGUSR1);
	assert_true(
	    sd_log_wait(d, "echo: reloaded", loaded + 1, 5000) > loaded);
	assert_serving(&p, 1);

	assert_int_equal(sd_stop(d), 0);
	assert_true(failed_count(d) > 0);
}

static void
test_one_allocation_in_20_failing_never_kills_superd(void **state)
{
	survive(*state, 20);
}

static void
test_one_allocation_in_200_failing_never_kills_superd(void **state)
{
	survive(*state, 200);
}

static void
test_one_allocation_in_2000_failing_never_kills_superd(void **state)
{
	survive(*state, 2000);
}

/* superd did not start: it exited 1, saying why. */
static void
assert_start_error(struct superd *d)
{
	int lines = sd_log_count(d, "\n") - sd_log_count(d, "failalloc[");

	if (WIFEXITED(d->status) && WEXITSTATUS(d->status) == 1 && lines > 0)
		return;
	assert_alive(d, "a start");
	fail_msg("superd exited 1 at start without a message");
}

/*
 * Starting while allocations fail: superd serves, or exits 1 with a
 * message; it is never killed by a signal.
 */
static void
test_start_under_failing_allocations_serves_or_exits_1_with_a_message(
    void **state)
{
	struct superd *d = *state;
	struct ports p;
	int i, rc;

	if (sanitized())
		skip();
	prepare(d, &p);
	write_conf(d, &p, 1);
	sd_write(d, "failalloc.flag", "on\n");
	for (i = 0; i < 12; i++) {
		sd_write(d, "superd.log", "%s", "");
		preload(d, 20, (unsigned)i + 1);
		rc = sd_start(d, p.echo);
		unpreload();
		if (rc == 0) {
			set_flag(d, 0);
			assert_serving(&p, 1);
			assert_int_equal(sd_stop(d), 0);
			sd_write(d, "failalloc.flag", "on\n");
		} else {
			assert_start_error(d);
		}
	}
}

int
main(void)
{
#define TEST(f) cmocka_unit_test_setup_teardown(f, sd_setup, sd_teardown)
	const struct CMUnitTest tests[] = {
	    TEST(test_one_allocation_in_20_failing_never_kills_superd),
	    TEST(test_one_allocation_in_200_failing_never_kills_superd),
	    TEST(test_one_allocation_in_2000_failing_never_kills_superd),
	    TEST(
		test_start_under_failing_allocations_serves_or_exits_1_with_a_message),
	};
	return cmocka_run_group_tests_name("alloc_failure", tests, NULL, NULL);
}
