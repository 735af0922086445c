/* test_lifecycle.c - config errors, reload, fini, errors and signals. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client.h"

/* Answers lines as "mode" tells; fini logs the mode of its socket. */
#define FINI_LUA                                                \
	"modes = {}\n"                                          \
	"function main(s)\n"                                    \
	"  local mode = s:read()\n"                             \
	"  if not mode then return end\n"                       \
	"  modes[s] = mode\n"                                   \
	"  if mode == 'error' then error('boom in main') end\n" \
	"  s:write('mode ', mode, '\\n')\n"                     \
	"  if mode == 'return' then return end\n"               \
	"  while s:read() do end\n"                             \
	"end\n"                                                 \
	"function fini(s)\n"                                    \
	"  print('FINI ' .. tostring(modes[s]))\n"              \
	"  modes[s] = nil\n"                                    \
	"end\n"

/*
 * Started, and past its start-up: the port accepts once it is bound, but
 * a signal before the daemon's signal handling is set up (the other
 * services' scripts still running, slowly under valgrind) would kill it.
 */
static void
serving(struct superd *d, int port)
{
	assert_int_equal(sd_start(d, port), 0);
	assert_int_equal(sd_log_wait(d, " started, ", 1, 10000), 1);
}

/* Service "life" running life.lua (given) on port, shutdown_timeout 1. */
static void
start_life(struct superd *d, int port, const char *lua)
{
	sd_write(d, "life.lua", "%s", lua);
	sd_write(d, "superd.conf",
	    "shutdown_timeout = 1;\n"
	    "services = ({ name = \"life\"; port = %d;"
	    " address = \"127.0.0.1\"; script = \"life.lua\"; });\n",
	    port);
	serving(d, port);
}

/* The exit status once superd has exited by itself, or -1 after ms. */
static int
wait_exit(struct superd *d, int ms)
{
	long end = now_ms() + ms;
	int status;

	while (now_ms() < end) {
		if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
			d->pid = 0;
			return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		}
		usleep(10000);
	}
	return -1;
}

/* "ok\n" from a fresh connection to port. */
static void
assert_serves(int port)
{
	int fd = tcp_connect(port);

	assert_true(fd >= 0);
	assert_int_equal(expect_line(fd, "ok\n"), 0);
	close(fd);
}

/* superd [-t] -c conf to the end; a hang ends the test by SIGALRM. */
static int
run_conf(struct superd *d, char *out, size_t len, int check)
{
	int rc;

	alarm(5);
	if (check)
		rc = sd_run(d, out, len, "-t", "-c", d->conf, NULL);
	else
		rc = sd_run(d, out, len, "-c", d->conf, NULL);
	alarm(0);
	return rc;
}

/* Both superd and superd -t refuse the config, naming conf:line and what. */
static void
assert_conf_error(struct superd *d, int line, const char *what, int check)
{
	char out[4096], where[256];

	snprintf(where, sizeof(where), "%s:%d:", d->conf, line);
	assert_int_equal(run_conf(d, out, sizeof(out), 0), 1);
	assert_has(out, where);
	assert_has(out, what);
	if (!check)
		return;
	assert_int_equal(run_conf(d, out, sizeof(out), 1), 1);
	assert_has(out, where);
	assert_has(out, what);
	assert_true(strstr(out, "configuration ok") == NULL);
}

static void
write_service_conf(struct superd *d, const char *a, const char *b)
{
	sd_write(d, "superd.conf",
	    "shutdown_timeout = 1;\n" /* 1 */
	    "services = (\n"	      /* 2 */
	    "  {\n"		      /* 3 */
	    "%s"		      /* 4 .. 7 */
	    "  },\n"		      /* 8 */
	    "  {\n"		      /* 9 */
	    "%s"		      /* 10 .. 13 */
	    "  }\n"
	    ");\n",
	    a, b);
}

/* Four lines of settings for one service. */
static void
service_lines(char *buf, size_t len, const char *name, int port,
    const char *script, const char *extra)
{
	snprintf(buf, len,
	    "    name = \"%s\";\n"
	    "    port = %d; address = \"127.0.0.1\";\n"
	    "    script = \"%s\";\n"
	    "    %s\n",
	    name, port, script, extra);
}

static void
test_good_config_checks_ok_without_serving(void **state)
{
	char a[256], b[256], out[4096];
	int p1 = free_port(), p2 = free_port(), fd;
	struct superd *d = *state;

	sd_write(d, "ok.lua", "function main(s) s:write('ok\\n') end\n");
	service_lines(a, sizeof(a), "one", p1, "ok.lua", "");
	service_lines(b, sizeof(b), "two", p2, "ok.lua", "");
	write_service_conf(d, a, b);
	assert_int_equal(run_conf(d, out, sizeof(out), 1), 0);
	assert_has(out, "configuration ok");
	fd = tcp_connect(p1);
	assert_true(fd < 0);
}

static void
test_config_errors_name_file_and_line(void **state)
{
	char a[256], b[256], out[4096];
	int p1 = free_port(), p2 = free_port(), check;
	struct superd *d = *state;

	sd_write(d, "ok.lua", "function main(s) s:write('ok\\n') end\n");
	service_lines(a, sizeof(a), "one", p1, "ok.lua", "");

	/* A syntax error on line 11. */
	sd_write(d, "superd.conf",
	    "shutdown_timeout = 1;\n"
	    "services = (\n"
	    "  {\n"
	    "%s"
	    "  },\n"
	    "  {\n"
	    "    name = \"two\";\n"
	    "    port = ;\n"
	    "  }\n"
	    ");\n",
	    a);
	assert_conf_error(d, 11, "syntax error", 1);

	service_lines(b, sizeof(b), "two", p2, "ok.lua", "colour = \"blue\";");
	write_service_conf(d, a, b);
	assert_conf_error(d, 13, "unknown setting", 1);
	assert_conf_error(d, 13, "colour", 1);

	snprintf(b, sizeof(b),
	    "    name = \"two\";\n"
	    "    port = \"x\"; address = \"127.0.0.1\";\n"
	    "    script = \"ok.lua\";\n"
	    "\n");
	write_service_conf(d, a, b);
	assert_conf_error(d, 11, "port", 1);

	service_lines(b, sizeof(b), "one", p2, "ok.lua", "");
	write_service_conf(d, a, b);
	assert_conf_error(d, 9, "duplicate", 1);

	service_lines(b, sizeof(b), "two", p1, "ok.lua", "");
	write_service_conf(d, a, b);
	assert_conf_error(d, 9, "already used", 1);

	service_lines(b, sizeof(b), "two", p2, "nope.lua", "");
	write_service_conf(d, a, b);
	assert_conf_error(d, 12, "nope.lua", 1);

	/* An address list that names no place, or one place twice. */
	snprintf(b, sizeof(b),
	    "    name = \"two\";\n"
	    "    port = %d; address = [];\n"
	    "    script = \"ok.lua\";\n"
	    "\n",
	    p2);
	write_service_conf(d, a, b);
	assert_conf_error(d, 11, "\"address\" lists no address", 1);
	snprintf(b, sizeof(b),
	    "    name = \"two\";\n"
	    "    port = %d; address = [\"127.0.0.1\", \"127.0.0.1\"];\n"
	    "    script = \"ok.lua\";\n"
	    "\n",
	    p2);
	write_service_conf(d, a, b);
	assert_conf_error(d, 11, "address 127.0.0.1 is listed twice", 1);

	/* The script's own path and line: bad.lua fails on line 3. */
	sd_write(d, "bad.lua",
	    "function main(s)\n"
	    "  s:write('x')\n"
	    "  local = 1\n"
	    "end\n");
	service_lines(b, sizeof(b), "two", p2, "bad.lua", "");
	write_service_conf(d, a, b);
	for (check = 0; check < 2; check++) {
		assert_int_equal(run_conf(d, out, sizeof(out), check), 1);
		assert_has(out, d->dir);
		assert_has(out, "bad.lua:3:");
	}
	/* Nothing may be left listening from the good first service. */
	assert_true(tcp_connect(p1) < 0);
}

static void
test_port_in_use_is_a_startup_error(void **state)
{
	char a[256], b[256], out[4096];
	int p1 = free_port(), p2 = free_port(), busy;
	struct superd *d = *state;

	busy = listen_local(p2, SOCK_STREAM);
	assert_true(busy >= 0);
	sd_write(d, "ok.lua", "function main(s) s:write('ok\\n') end\n");
	service_lines(a, sizeof(a), "one", p1, "ok.lua", "");
	service_lines(b, sizeof(b), "two", p2, "ok.lua", "");
	write_service_conf(d, a, b);
	/* -t checks the file, not the ports: a running superd holds them. */
	assert_conf_error(d, 9, "already in use", 0);
	assert_int_equal(run_conf(d, out, sizeof(out), 1), 0);
	assert_true(tcp_connect(p1) < 0);
	close(busy);
}

/* With log = "syslog" a start-up error still goes to stderr, plainly. */
static void
test_startup_error_is_on_stderr_whatever_the_log(void **state)
{
	char out[4096], want[300];
	int port = free_port(), busy;
	struct superd *d = *state;

	busy = listen_local(port, SOCK_STREAM);
	assert_true(busy >= 0);
	sd_write(d, "ok.lua", "function main(s) end\n");
	sd_write(d, "superd.conf",
	    "log = \"syslog\";\n"
	    "services = ({ name = \"one\"; port = %d;\n"
	    "  address = \"127.0.0.1\"; script = \"ok.lua\"; });\n",
	    port);
	assert_int_equal(run_conf(d, out, sizeof(out), 0), 1);
	snprintf(want, sizeof(want), "%s:2: service \"one\": cannot listen",
	    d->conf);
	assert_int_equal(strncmp(out, want, strlen(want)), 0);
	close(busy);
}

/* -t names every bad script and every missing program, not the first. */
static void
test_check_reports_every_error(void **state)
{
	char out[4096];
	struct superd *d = *state;

	sd_write(d, "bad.lua", "function main(s)\n  local = 1\nend\n");
	sd_write(d, "superd.conf",
	    "services = (\n"
	    "  { name = \"one\"; port = %d; address = \"127.0.0.1\";\n"
	    "    exec = [\"/no/such/program\"]; },\n"
	    "  { name = \"two\"; port = %d; address = \"127.0.0.1\";\n"
	    "    script = \"bad.lua\"; },\n"
	    "  { name = \"three\"; port = %d; address = \"127.0.0.1\";\n"
	    "    exec = [\"/no/such/other\"]; }\n"
	    ");\n",
	    free_port(), free_port(), free_port());
	assert_int_equal(run_conf(d, out, sizeof(out), 1), 1);
	assert_has(out, ":2: service \"one\": /no/such/program:");
	assert_has(out, "bad.lua:2:");
	assert_has(out, ":6: service \"three\": /no/such/other:");
}

/* "(service "name" at CONF:line)", as an error of a script ends. */
static void
assert_script_error(
    struct superd *d, const char *out, const char *name, int line)
{
	char want[300];

	snprintf(want, sizeof(want), "(service \"%s\" at %s:%d)", name, d->conf,
	    line);
	assert_has(out, want);
}

/*
 * -t runs each script's top level as start does, in its sandbox and
 * under its limits, and names every one that fails or defines no main.
 */
static void
test_check_runs_every_script_as_start_does(void **state)
{
	char out[4096];
	struct superd *d = *state;

	sd_write(d, "raise.lua", "local x = 1\nerror('boom at load')\n");
	sd_write(d, "nomain.lua", "function mian(s) end\n");
	sd_write(d, "spin.lua", "while true do end\n");
	sd_write(d, "big.lua",
	    "local s = string.rep('x', 1 << 24)\nfunction main(s) end\n");
	sd_write(d, "spawn.lua",
	    "superd.spawn(function() print('SPAWNED') end)\n"
	    "function main(s) end\n");
	sd_write(d, "superd.conf",
	    "services = (\n"
	    "  { name = \"raise\"; port = %d; address = \"127.0.0.1\";\n"
	    "    script = \"raise.lua\"; },\n"
	    "  { name = \"nomain\"; port = %d; address = \"127.0.0.1\";\n"
	    "    script = \"nomain.lua\"; },\n"
	    "  { name = \"spin\"; port = %d; address = \"127.0.0.1\";\n"
	    "    script = \"spin.lua\"; cpu_limit = 100000; },\n"
	    "  { name = \"big\"; port = %d; address = \"127.0.0.1\";\n"
	    "    script = \"big.lua\"; memory_limit = 1; },\n"
	    "  { name = \"spawn\"; port = %d; address = \"127.0.0.1\";\n"
	    "    script = \"spawn.lua\"; }\n"
	    ");\n",
	    free_port(), free_port(), free_port(), free_port(), free_port());
	assert_int_equal(run_conf(d, out, sizeof(out), 1), 1);
	assert_has(out, "raise.lua:2: boom at load");
	assert_script_error(d, out, "raise", 2);
	assert_has(out, "nomain.lua: the script defines no main()");
	assert_script_error(d, out, "nomain", 4);
	assert_has(out, "cpu limit exceeded");
	assert_script_error(d, out, "spin", 6);
	assert_has(out, "big.lua:1: not enough memory");
	assert_script_error(d, out, "big", 8);
	assert_true(strstr(out, "\"spawn\"") == NULL);
	assert_true(strstr(out, "SPAWNED") == NULL);
}

/*
 * Listeners that bind would refuse are an error for -t, which binds
 * nothing, and for start, before it binds: the same address however
 * spelt, "::" (dual stack) beside anything, "0.0.0.0" beside IPv4.
 */
static void
test_overlapping_addresses_are_an_error_before_binding(void **state)
{
	int p1 = free_port(), p2 = free_port(), p3 = free_port();
	int p4 = free_port();
	char out[4096], want[300];
	struct superd *d = *state;

	sd_write(d, "ok.lua", "function main(s) s:write('ok\\n') end\n");
	sd_write(d, "superd.conf",
	    "services = (\n"
	    "  { name = \"any\"; port = %d; address = \"::\";"
	    " script = \"ok.lua\"; },\n"
	    "  { name = \"lo\"; port = %d; address = \"127.0.0.1\";"
	    " script = \"ok.lua\"; },\n"
	    "  { name = \"both\"; port = %d; protocol = \"udp\";"
	    " address = [\"0.0.0.0\", \"127.0.0.1\"]; script = \"ok.lua\"; },\n"
	    "  { name = \"v6\"; port = %d; address = \"::1\";"
	    " script = \"ok.lua\"; },\n"
	    "  { name = \"v4\"; port = %d; address = \"0.0.0.0\";"
	    " script = \"ok.lua\"; },\n"
	    "  { name = \"udp\"; port = %d; address = \"127.0.0.1\";"
	    " protocol = \"udp\"; script = \"ok.lua\"; },\n"
	    "  { name = \"mapped\"; port = %d; address = \"::ffff:127.0.0.1\";"
	    " script = \"ok.lua\"; },\n"
	    "  { name = \"plain\"; port = %d; address = \"127.0.0.1\";"
	    " script = \"ok.lua\"; }\n"
	    ");\n",
	    p1, p1, p2, p3, p3, p1, p4, p4);
	assert_int_equal(run_conf(d, out, sizeof(out), 1), 1);
	snprintf(want, sizeof(want),
	    "%s:3: service \"lo\": port %d/tcp on 127.0.0.1 is already used "
	    "by service \"any\" on ::\n",
	    d->conf, p1);
	assert_has(out, want);
	snprintf(want, sizeof(want),
	    "%s:4: service \"both\": port %d/udp on 127.0.0.1 is already "
	    "used by its own address 0.0.0.0\n",
	    d->conf, p2);
	assert_has(out, want);
	snprintf(want, sizeof(want),
	    "%s:9: service \"plain\": port %d/tcp on 127.0.0.1 is already "
	    "used by service \"mapped\" on ::ffff:127.0.0.1\n",
	    d->conf, p4);
	assert_has(out, want);
	assert_true(strstr(out, "\"v4\"") == NULL);
	assert_true(strstr(out, "\"udp\"") == NULL);
	assert_true(strstr(out, "configuration ok") == NULL);

	assert_int_equal(run_conf(d, out, sizeof(out), 0), 1);
	snprintf(want, sizeof(want),
	    "%s:3: service \"lo\": port %d/tcp on 127.0.0.1 is already used "
	    "by service \"any\" on ::\n",
	    d->conf, p1);
	assert_string_equal(out, want);
}

/* Two UDP sockets with SO_REUSEADDR both bind: SIGHUP refuses the second. */
static void
test_sighup_refuses_an_overlapping_udp_service(void **state)
{
	int pt = free_port(), pu = free_port();
	struct superd *d = *state;
	char want[300];

	sd_write(d, "ok.lua", "function main(s) s:write('ok\\n') end\n");
	sd_write(d, "superd.conf",
	    "services = (\n"
	    "  { name = \"t\"; port = %d; address = \"127.0.0.1\";"
	    " script = \"ok.lua\"; },\n"
	    "  { name = \"u\"; port = %d; address = \"127.0.0.1\";"
	    " protocol = \"udp\"; script = \"ok.lua\"; }\n"
	    ");\n",
	    pt, pu);
	serving(d, pt);
	sd_write(d, "superd.conf",
	    "services = (\n"
	    "  { name = \"t\"; port = %d; address = \"127.0.0.1\";"
	    " script = \"ok.lua\"; },\n"
	    "  { name = \"u\"; port = %d; address = \"127.0.0.1\";"
	    " protocol = \"udp\"; script = \"ok.lua\"; },\n"
	    "  { name = \"v\"; port = %d; address = \"::\";"
	    " protocol = \"udp\"; script = \"ok.lua\"; }\n"
	    ");\n",
	    pt, pu, pu);
	assert_int_equal(sd_signal(d, SIGHUP), 0);
	assert_int_equal(
	    sd_log_wait(d, "keeping the running configuration", 1, 10000), 1);
	snprintf(want, sizeof(want),
	    "%s:4: service \"v\": port %d/udp on :: is already used by "
	    "service \"u\" on 127.0.0.1; keeping",
	    d->conf, pu);
	assert_int_equal(sd_log_count(d, want), 1);
	assert_serves(pt);
	assert_int_equal(sd_stop(d), 0);
}

/*
 * A SIGHUP refused after a new script has run drops what that script
 * spawned, unrun: whether its own script failed or a later service did.
 */
static void
test_refused_sighup_runs_nothing_a_new_script_spawned(void **state)
{
	int pa = free_port(), pb = free_port(), pc = free_port(), busy;
	struct superd *d = *state;

	start_life(d, pa, "function main(s) s:write('ok\\n') end\n");
	sd_write(d, "spawn.lua",
	    "superd.spawn(function() print('SPAWNED') end)\n"
	    "if options.fail then error('refused at load') end\n"
	    "function main(s) end\n");
	sd_write(d, "superd.conf",
	    "services = (\n"
	    "  { name = \"life\"; port = %d; address = \"127.0.0.1\";"
	    " script = \"life.lua\"; },\n"
	    "  { name = \"b\"; port = %d; address = \"127.0.0.1\";"
	    " script = \"spawn.lua\"; options = { fail = true; }; }\n"
	    ");\n",
	    pa, pb);
	assert_int_equal(sd_signal(d, SIGHUP), 0);
	assert_int_equal(sd_log_wait(d, "refused at load", 1, 10000), 1);
	assert_serves(pa);

	busy = listen_local(pc, SOCK_STREAM);
	assert_true(busy >= 0);
	sd_write(d, "superd.conf",
	    "services = (\n"
	    "  { name = \"life\"; port = %d; address = \"127.0.0.1\";"
	    " script = \"life.lua\"; },\n"
	    "  { name = \"b\"; port = %d; address = \"127.0.0.1\";"
	    " script = \"spawn.lua\"; },\n"
	    "  { name = \"c\"; port = %d; address = \"127.0.0.1\";"
	    " script = \"life.lua\"; }\n"
	    ");\n",
	    pa, pb, pc);
	assert_int_equal(sd_signal(d, SIGHUP), 0);
	assert_int_equal(sd_log_wait(d, "already in use", 1, 10000), 1);
	assert_serves(pa);
	close(busy);
	usleep(200000);
	assert_int_equal(sd_log_count(d, "SPAWNED"), 0);
	assert_int_equal(sd_log_count(d, "keeping the running"), 2);
	assert_int_equal(sd_stop(d), 0);
}

/* Four lines of an exec service running /bin/cat. */
static void
exec_lines(char *buf, size_t len, int port, const char *extra)
{
	snprintf(buf, len,
	    "    name = \"two\";\n"
	    "    port = %d; address = \"127.0.0.1\";\n"
	    "    exec = [\"/bin/cat\"];\n"
	    "    %s\n",
	    port, extra);
}

/*
 * wait is for exec services, a UDP exec service must wait, and what looks
 * at a client (access lists, per_source, rate) cannot apply to one.
 */
static void
test_wait_settings_are_checked(void **state)
{
	char a[256], b[256], out[4096];
	int p1 = free_port(), p2 = free_port();
	struct superd *d = *state;

	sd_write(d, "ok.lua", "function main(s) s:write('ok\\n') end\n");
	service_lines(a, sizeof(a), "one", p1, "ok.lua", "");
	exec_lines(b, sizeof(b), p2, "protocol = \"udp\";");
	write_service_conf(d, a, b);
	assert_conf_error(d, 13, "a UDP exec service needs \"wait = true\"", 1);

	service_lines(b, sizeof(b), "two", p2, "ok.lua", "wait = true;");
	write_service_conf(d, a, b);
	assert_conf_error(d, 13, "\"wait\" is for exec services", 1);

	exec_lines(
	    b, sizeof(b), p2, "wait = true; only_from = [\"127.0.0.1\"];");
	write_service_conf(d, a, b);
	assert_conf_error(d, 13, "\"only_from\" does not apply", 1);

	exec_lines(b, sizeof(b), p2, "wait = true; protocol = \"udp\";");
	write_service_conf(d, a, b);
	assert_int_equal(run_conf(d, out, sizeof(out), 1), 0);
	assert_has(out, "configuration ok");
}

/* SIGHUP refuses an exec service whose program is not there, as start does. */
static void
test_sighup_refuses_a_missing_program(void **state)
{
	int p1 = free_port(), p2 = free_port(), fd;
	struct superd *d = *state;
	char buf[16];

	sd_write(d, "ok.lua", "function main(s) s:write('ok\\n') end\n");
	sd_write(d, "superd.conf",
	    "services = ({ name = \"one\"; port = %d; address = \"127.0.0.1\";"
	    " script = \"ok.lua\"; });\n",
	    p1);
	serving(d, p1);
	sd_write(d, "superd.conf",
	    "services = ({ name = \"one\"; port = %d; address = \"127.0.0.1\";"
	    " script = \"ok.lua\"; },\n"
	    " { name = \"two\"; port = %d; address = \"127.0.0.1\";\n"
	    "   exec = [\"/no/such/program\"]; });\n",
	    p1, p2);
	sd_signal(d, SIGHUP);
	assert_int_equal(
	    sd_log_wait(d, "keeping the running configuration", 1, 10000), 1);
	assert_int_equal(sd_log_count(d, "/no/such/program"), 1);
	assert_true(tcp_connect(p2) < 0);
	fd = tcp_connect(p1);
	assert_true(recv_line(fd, buf, sizeof(buf), 3000) > 0);
	assert_string_equal(buf, "ok\n");
	close(fd);
	assert_int_equal(sd_stop(d), 0);
}

/*
 * A file caught half written (emptied by an editor or cp, or left with
 * its comments or globals only) declares no services: SIGHUP keeps the
 * running ones, and names the file and its last line.
 */
static void
test_sighup_without_services_keeps_every_service_serving(void **state)
{
	static const char *const files[] = {
	    "",
	    "# superd.conf\n# services = ( ... ) follows\n",
	    "shutdown_timeout = 1;\nlog_level = \"info\";\n\n",
	};
	static const int last[] = {1, 2, 3};
	int port = free_port(), i;
	struct superd *d = *state;
	char want[300];

	start_life(d, port, "function main(s) s:write('ok\\n') end\n");
	for (i = 0; i < 3; i++) {
		sd_write(d, "superd.conf", "%s", files[i]);
		assert_int_equal(sd_signal(d, SIGHUP), 0);
		assert_int_equal(
		    sd_log_wait(
			d, "keeping the running configuration", i + 1, 10000),
		    i + 1);
		snprintf(want, sizeof(want), "%s:%d: no services declared",
		    d->conf, last[i]);
		assert_int_equal(sd_log_count(d, want), 1);
		assert_serves(port);
	}
	assert_int_equal(sd_log_count(d, "SIGHUP: configuration"), 0);
	assert_int_equal(sd_stop(d), 0);
}

/* An empty file neither checks nor starts; "services = ();" checks. */
static void
test_empty_file_is_an_error_but_an_empty_list_is_not(void **state)
{
	char out[4096], want[300];
	struct superd *d = *state;

	sd_write(d, "superd.conf", "%s", "");
	snprintf(want, sizeof(want), "%s:1: no services declared", d->conf);
	assert_int_equal(run_conf(d, out, sizeof(out), 1), 1);
	assert_has(out, want);
	assert_int_equal(run_conf(d, out, sizeof(out), 0), 1);
	assert_has(out, want);

	sd_write(d, "superd.conf", "log_level = \"info\";\nservices = ();\n");
	assert_int_equal(run_conf(d, out, sizeof(out), 1), 0);
	assert_has(out, "configuration ok");
}

/* Three services a, b, c, answering "ok\n"; c's line is the same. */
static void
write_merge_conf(struct superd *d, const char *a, const char *b, int pc)
{
	sd_write(d, "superd.conf",
	    "shutdown_timeout = 1;\n"
	    "services = (\n%s%s"
	    "  { name = \"c\"; port = %d; address = \"127.0.0.1\";"
	    " script = \"life.lua\"; }\n"
	    ");\n",
	    a, b, pc);
}

/* SIGHUP says, a line each, which service it added, removed, changed. */
static void
test_sighup_logs_each_added_removed_and_changed_service(void **state)
{
	int pa = free_port(), pb = free_port(), pc = free_port();
	int pd = free_port(), fd;
	struct superd *d = *state;
	char a[256], b[256];

	sd_write(
	    d, "life.lua", "function main(s) s:write('ok\\n') s:read() end\n");
	snprintf(a, sizeof(a),
	    "  { name = \"a\"; port = %d; address = \"127.0.0.1\";"
	    " script = \"life.lua\"; options = { x = 1; }; },\n",
	    pa);
	snprintf(b, sizeof(b),
	    "  { name = \"b\"; port = %d; address = \"127.0.0.1\";"
	    " script = \"life.lua\"; },\n",
	    pb);
	write_merge_conf(d, a, b, pc);
	serving(d, pa);
	fd = tcp_connect(pb);
	assert_true(fd >= 0);
	assert_int_equal(expect_line(fd, "ok\n"), 0);

	snprintf(a, sizeof(a),
	    "  { name = \"a\"; port = %d; address = \"127.0.0.1\";"
	    " script = \"life.lua\"; options = { x = 2; };"
	    " max_connections = 5; },\n",
	    pd);
	snprintf(b, sizeof(b),
	    "  { name = \"d\"; port = %d; address = \"127.0.0.1\";"
	    " script = \"life.lua\"; },\n",
	    pb);
	write_merge_conf(d, a, b, pc);
	assert_int_equal(sd_signal(d, SIGHUP), 0);
	assert_int_equal(sd_log_wait(d, "SIGHUP: configuration", 1, 10000), 1);
	assert_int_equal(sd_log_count(d, "SIGHUP: added service \"d\"\n"), 1);
	assert_int_equal(
	    sd_log_count(d, "SIGHUP: removed service \"b\", 1 connections "
			    "finish first\n"),
	    1);
	assert_int_equal(
	    sd_log_count(d, "SIGHUP: changed service \"a\": port, options, "
			    "max_connections\n"),
	    1);
	assert_int_equal(sd_log_count(d, "service \"c\""), 0);
	assert_serves(pd);
	assert_serves(pb);

	/* Again: nothing changed, and b, still draining, is not removed twice.
	 */
	assert_int_equal(sd_signal(d, SIGHUP), 0);
	assert_int_equal(sd_log_wait(d, "SIGHUP: configuration", 2, 10000), 2);
	assert_int_equal(sd_log_count(d, "SIGHUP: added"), 1);
	assert_int_equal(sd_log_count(d, "SIGHUP: removed"), 1);
	assert_int_equal(sd_log_count(d, "SIGHUP: changed"), 1);
	close(fd);
	assert_int_equal(sd_stop(d), 0);
}

#define RELOAD_LUA(v)                                          \
	"if count == nil then count = 0 end\n"                 \
	"function main(s)\n"                                   \
	"  count = count + 1\n"                                \
	"  s:write('" v " ', count, '\\n')\n"                  \
	"  for line in s:lines() do s:write('" v "\\n') end\n" \
	"end\n"

/* "vN <count>\n": the count, checking the version. */
static int
greeting(int fd, const char *v)
{
	char buf[64];
	int n = -1;

	assert_true(recv_line(fd, buf, sizeof(buf), 3000) > 0);
	assert_int_equal(strncmp(buf, v, 2), 0);
	assert_int_equal(sscanf(buf + 2, " %d", &n), 1);
	return n;
}

static void
test_reload_keeps_globals_and_old_connections(void **state)
{
	int port = free_port(), a, b, c, n;
	char line[1024];
	struct superd *d = *state;

	start_life(d, port, RELOAD_LUA("v1"));
	a = tcp_connect(port);
	assert_true(a >= 0);
	n = greeting(a, "v1");
	assert_int_equal(send_str(a, "x\n"), 0);
	assert_int_equal(expect_line(a, "v1\n"), 0);

	sd_write(d, "life.lua", "%s", RELOAD_LUA("v2"));
	assert_int_equal(sd_signal(d, SIGUSR1), 0);
	assert_int_equal(sd_log_wait(d, "reloaded", 1, 10000), 1);
	assert_int_equal(send_str(a, "x\n"), 0);
	assert_int_equal(expect_line(a, "v1\n"), 0);
	b = tcp_connect(port);
	assert_true(b >= 0);
	assert_int_equal(greeting(b, "v2"), n + 1);
	assert_int_equal(send_str(b, "x\n"), 0);
	assert_int_equal(expect_line(b, "v2\n"), 0);

	/* A broken script is logged; the last good version stays. */
	sd_write(d, "life.lua",
	    "if count == nil then count = 0 end\n"
	    "function main(s) s:write('v3') end end\n");
	assert_int_equal(sd_signal(d, SIGUSR1), 0);
	assert_int_equal(sd_log_wait(d, "life.lua:2:", 1, 10000), 1);
	sd_log_line(d, "life.lua:2:", line, sizeof(line));
	assert_has(line, d->dir);
	c = tcp_connect(port);
	assert_true(c >= 0);
	assert_int_equal(greeting(c, "v2"), n + 2);
	assert_int_equal(send_str(c, "x\n"), 0);
	assert_int_equal(expect_line(c, "v2\n"), 0);
	assert_int_equal(send_str(a, "x\n"), 0);
	assert_int_equal(expect_line(a, "v1\n"), 0);
	close(a);
	close(b);
	close(c);
	assert_int_equal(sd_stop(d), 0);
}

/* fini logged exactly once for mode, and no second time later. */
static void
assert_fini_once(struct superd *d, const char *mode)
{
	char needle[64];

	snprintf(needle, sizeof(needle), "FINI %s\n", mode);
	assert_int_equal(sd_log_wait(d, needle, 1, 10000), 1);
	usleep(300000);
	assert_int_equal(sd_log_count(d, needle), 1);
}

static void
test_fini_runs_once_when_main_returns(void **state)
{
	int port = free_port(), fd;
	struct superd *d = *state;

	start_life(d, port, FINI_LUA);
	fd = mode_conn(port, "return");
	assert_true(wait_closed(fd, 3000));
	close(fd);
	assert_fini_once(d, "return");
	assert_int_equal(sd_stop(d), 0);
	assert_int_equal(sd_log_count(d, "FINI return\n"), 1);
}

static void
test_fini_runs_once_when_peer_closes_during_read(void **state)
{
	int port = free_port(), fd;
	struct superd *d = *state;

	start_life(d, port, FINI_LUA);
	fd = mode_conn(port, "peer");
	assert_true(quiet_for(fd, 200));
	assert_int_equal(sd_log_count(d, "FINI peer\n"), 0);
	close(fd);
	assert_fini_once(d, "peer");
	assert_int_equal(sd_stop(d), 0);
	assert_int_equal(sd_log_count(d, "FINI peer\n"), 1);
}

static void
test_fini_runs_once_when_main_raises(void **state)
{
	int port = free_port(), fd;
	struct superd *d = *state;

	start_life(d, port, FINI_LUA);
	fd = tcp_connect(port);
	assert_true(fd >= 0);
	assert_int_equal(send_str(fd, "error\n"), 0);
	assert_true(wait_closed(fd, 3000));
	close(fd);
	assert_fini_once(d, "error");
	assert_int_equal(sd_log_count(d, "boom in main"), 1);
	assert_int_equal(sd_stop(d), 0);
	assert_int_equal(sd_log_count(d, "FINI error\n"), 1);
}

static void
test_fini_runs_once_on_shutdown(void **state)
{
	int port = free_port(), a, b;
	struct superd *d = *state;

	start_life(d, port, FINI_LUA);
	a = mode_conn(port, "idle");
	b = mode_conn(port, "idle");
	assert_int_equal(sd_stop(d), 0);
	assert_int_equal(sd_log_count(d, "FINI idle\n"), 2);
	close(a);
	close(b);
}

static void
test_script_error_closes_only_its_connection(void **state)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	char needle[128];
	int port = free_port(), keep, bad;
	struct superd *d = *state;

	start_life(d, port,
	    "function main(s)\n"
	    "  for line in s:lines() do\n"
	    "    if line == 'boom' then error('kaboom') end\n"
	    "    s:write(line, '\\n')\n"
	    "  end\n"
	    "end\n");
	keep = tcp_connect(port);
	bad = tcp_connect(port);
	assert_true(keep >= 0 && bad >= 0);
	assert_int_equal(send_str(keep, "one\n"), 0);
	assert_int_equal(expect_line(keep, "one\n"), 0);
	assert_int_equal(getsockname(bad, (struct sockaddr *)&sa, &len), 0);
	assert_int_equal(send_str(bad, "boom\n"), 0);
	assert_true(wait_closed(bad, 3000));
	close(bad);
	assert_int_equal(sd_log_wait(d, "kaboom", 1, 10000), 1);
	snprintf(needle, sizeof(needle), "life: peer 127.0.0.1:%d",
	    ntohs(sa.sin_port));
	assert_int_equal(sd_log_count(d, needle), 1);
	assert_int_equal(sd_log_count(d, "stack traceback"), 1);
	assert_int_equal(send_str(keep, "two\n"), 0);
	assert_int_equal(expect_line(keep, "two\n"), 0);
	close(keep);
	assert_int_equal(sd_stop(d), 0);
}

static void
test_sigterm_closes_idle_connection_within_timeout(void **state)
{
	int port = free_port(), fd;
	struct superd *d = *state;
	long t0, waited;

	start_life(d, port, FINI_LUA);
	fd = mode_conn(port, "idle");
	t0 = now_ms();
	assert_int_equal(sd_signal(d, SIGTERM), 0);
	assert_true(wait_closed(fd, 3000));
	waited = now_ms() - t0;
	close(fd);
	assert_int_equal(wait_exit(d, 3000 - (int)waited), 0);
	waited = now_ms() - t0;
	assert_true(waited < 3000);
	/* The idle connection was given its shutdown_timeout first. */
	assert_true(waited >= 800);
	assert_int_equal(sd_log_count(d, "FINI idle\n"), 1);
}

static void
test_sigint_exits_zero(void **state)
{
	int port = free_port();
	struct superd *d = *state;

	start_life(d, port, FINI_LUA);
	assert_int_equal(sd_signal(d, SIGINT), 0);
	assert_int_equal(wait_exit(d, 3000), 0);
	assert_true(tcp_connect(port) < 0);
}

static void
test_peer_reset_during_writes_does_not_kill_superd(void **state)
{
	char buf[4096];
	int port = free_port(), fd, i;
	struct superd *d = *state;

	start_life(d, port,
	    "local chunk = string.rep('x', 65536)\n"
	    "function main(s)\n"
	    "  while s:write(chunk) do end\n"
	    "end\n");
	for (i = 0; i < 5; i++) {
		fd = tcp_connect(port);
		assert_true(fd >= 0);
		assert_int_equal(
		    recv_n(fd, buf, sizeof(buf), 3000), sizeof(buf));
		reset_close(fd);
	}
	usleep(300000);
	fd = tcp_connect(port);
	assert_true(fd >= 0);
	assert_int_equal(recv_n(fd, buf, sizeof(buf), 3000), sizeof(buf));
	assert_int_equal(buf[0], 'x');
	close(fd);
	assert_int_equal(sd_stop(d), 0);
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, sd_setup, sd_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    TEST(test_good_config_checks_ok_without_serving),
	    TEST(test_wait_settings_are_checked),
	    TEST(test_config_errors_name_file_and_line),
	    TEST(test_port_in_use_is_a_startup_error),
	    TEST(test_startup_error_is_on_stderr_whatever_the_log),
	    TEST(test_check_reports_every_error),
	    TEST(test_check_runs_every_script_as_start_does),
	    TEST(test_overlapping_addresses_are_an_error_before_binding),
	    TEST(test_sighup_refuses_an_overlapping_udp_service),
	    TEST(test_refused_sighup_runs_nothing_a_new_script_spawned),
	    TEST(test_sighup_refuses_a_missing_program),
	    TEST(test_sighup_without_services_keeps_every_service_serving),
	    TEST(test_empty_file_is_an_error_but_an_empty_list_is_not),
	    TEST(test_sighup_logs_each_added_removed_and_changed_service),
	    TEST(test_reload_keeps_globals_and_old_connections),
	    TEST(test_fini_runs_once_when_main_returns),
	    TEST(test_fini_runs_once_when_peer_closes_during_read),
	    TEST(test_fini_runs_once_when_main_raises),
	    TEST(test_fini_runs_once_on_shutdown),
	    TEST(test_script_error_closes_only_its_connection),
	    TEST(test_sigterm_closes_idle_connection_within_timeout),
	    TEST(test_sigint_exits_zero),
	    TEST(test_peer_reset_during_writes_does_not_kill_superd),
	};
	return cmocka_run_group_tests_name("lifecycle", tests, NULL, NULL);
}
