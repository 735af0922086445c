/* test_conf.c - the config loader: values, defaults, FILE:LINE errors. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "confcmp.h"

static char dir[] = "/tmp/superd-conf.XXXXXX";
static char path[256], err[CONF_ERRLEN * 2];

static int
setup(void **state)
{
	FILE *f;
	char script[300];

	(void)state;
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/superd.conf", dir);
	snprintf(script, sizeof(script), "%s/s.lua", dir);
	if ((f = fopen(script, "w")) == NULL)
		return -1;
	fputs("function main(s) end\n", f);
	fclose(f);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static struct conf *
load(const char *text)
{
	FILE *f = fopen(path, "w");

	fputs(text, f);
	fclose(f);
	err[0] = '\0';
	return conf_load(path, err, sizeof(err));
}

/* The loader must fail, naming FILE:LINE and the given words. */
static void
expect_error(const char *text, int line, const char *words)
{
	char where[300];

	assert_null(load(text));
	snprintf(where, sizeof(where), "%s:%d: ", path, line);
	if (strncmp(err, where, strlen(where)) != 0 ||
	    strstr(err, words) == NULL)
		fail_msg("expected \"%s...%s\", got \"%s\"", where, words, err);
}

static void
test_good_config_with_defaults(void **state)
{
	struct conf *c;

	(void)state;
	c = load("services = ({ name = \"echo\"; port = 7; script = "
		 "\"s.lua\"; });\n");
	assert_non_null(c);
	assert_int_equal(c->nsvcs, 1);
	assert_string_equal(c->svcs[0].name, "echo");
	assert_int_equal(c->svcs[0].port, 7);
	assert_string_equal(c->svcs[0].addrs[0], "::");
	assert_int_equal(c->svcs[0].protos, CONF_TCP);
	assert_int_equal(c->svcs[0].max_connections, 1000);
	assert_int_equal(c->svcs[0].max_line, 65536);
	assert_int_equal(c->svcs[0].output_limit, 1048576);
	assert_int_equal(c->svcs[0].memory_limit, 64L << 20);
	assert_int_equal(c->svcs[0].idle_timeout, 300);
	assert_int_equal(c->max_connections, 10000);
	assert_true(c->shutdown_timeout == 5);
	assert_true(c->svcs[0].slow_timeout == 5);
	conf_free(c);
}

static void
test_values_and_relative_paths(void **state)
{
	struct conf *c;
	char want[300];

	(void)state;
	c = load("script_dir = \".\";\nmax_connections = 5;\n"
		 "services = ({ name = \"a-b_1\"; port = 70;\n"
		 "  address = [\"127.0.0.1\", \"::1\"];\n"
		 "  protocol = [\"tcp\", \"udp\"]; script = \"s.lua\";\n"
		 "  max_line = 100; output_limit = 2048; timeout = 1.5;\n"
		 "  options = { x = 1; }; });\n");
	assert_non_null(c);
	assert_int_equal(c->max_connections, 5);
	assert_int_equal(c->svcs[0].naddrs, 2);
	assert_string_equal(c->svcs[0].addrs[1], "::1");
	assert_int_equal(c->svcs[0].protos, CONF_TCP | CONF_UDP);
	assert_int_equal(c->svcs[0].max_line, 100);
	assert_true(c->svcs[0].timeout == 1.5);
	assert_non_null(c->svcs[0].options);
	snprintf(want, sizeof(want), "%s/s.lua", dir);
	assert_string_equal(c->svcs[0].script, want);
	conf_free(c);
}

static void
test_slow_timeout_takes_fractions_and_refuses_negatives_and_strings(
    void **state)
{
	struct conf *c;

	(void)state;
	c = load("services = ({ name = \"a\"; port = 1; script = \"s.lua\";"
		 " slow_timeout = 0.5; });\n");
	assert_non_null(c);
	assert_true(c->svcs[0].slow_timeout == 0.5);
	conf_free(c);
	c = load("services = ({ name = \"a\"; port = 1; script = \"s.lua\";"
		 " slow_timeout = 2; });\n");
	assert_non_null(c);
	assert_true(c->svcs[0].slow_timeout == 2);
	conf_free(c);
	expect_error("services = ({ name = \"a\"; port = 1;\n"
		     " script = \"s.lua\";\n slow_timeout = -1; });\n",
	    3, "\"slow_timeout\" must not be negative");
	expect_error("services = ({ name = \"a\"; port = 1;\n"
		     " slow_timeout = -0.25; script = \"s.lua\"; });\n",
	    2, "\"slow_timeout\" must not be negative");
	expect_error("services = ({ name = \"a\"; port = 1;\n"
		     " script = \"s.lua\";\n\n slow_timeout = \"5\"; });\n",
	    4, "\"slow_timeout\" must be a number of seconds");
}

static void
test_syntax_error_names_its_line(void **state)
{
	(void)state;
	expect_error("log = \"stderr\";\n\nservices = ( { name = ; } );\n", 3,
	    "syntax error");
}

static void
test_unknown_setting_names_its_line(void **state)
{
	(void)state;
	expect_error("services = (\n { name = \"a\"; port = 1;\n"
		     "   script = \"s.lua\";\n   colour = \"red\"; });\n",
	    4, "unknown setting \"colour\"");
	expect_error("\nfoo = 1;\n", 2, "unknown setting \"foo\"");
}

static void
test_wrong_type_names_its_line(void **state)
{
	(void)state;
	expect_error("services = (\n { name = \"a\";\n port = \"x\";\n"
		     " script = \"s.lua\"; });\n",
	    3, "\"port\" must be an integer");
	expect_error("\nlog_level = 3;\n", 2, "\"log_level\" must be a string");
}

static void
test_out_of_range_port(void **state)
{
	(void)state;
	expect_error("services = ({ name = \"a\"; port = 70000; script = "
		     "\"s.lua\"; });\n",
	    1, "between 1 and 65535");
}

static void
test_duplicate_name(void **state)
{
	(void)state;
	expect_error("services = (\n { name = \"a\"; port = 1; script = "
		     "\"s.lua\"; },\n { name = \"a\"; port = 2; script = "
		     "\"s.lua\"; });\n",
	    3, "duplicate service name \"a\"");
}

/* Service b (the second) beside a, on one port: conf_overlap's verdict. */
static int
overlap(const char *a, const char *b, const char *protos)
{
	char text[512];
	struct conf *c;
	int rc;

	snprintf(text, sizeof(text),
	    "services = (\n { name = \"a\"; port = 1; script = \"s.lua\";"
	    " address = [%s]; protocol = %s; },\n { name = \"b\"; port = 1;"
	    " script = \"s.lua\"; address = [%s]; });\n",
	    a, protos, b);
	assert_non_null(c = load(text));
	assert_int_equal(conf_overlap(c, 0, err, sizeof(err)), 0);
	rc = conf_overlap(c, 1, err, sizeof(err));
	conf_free(c);
	return rc;
}

static void
test_overlapping_addresses(void **state)
{
	char where[512];
	struct conf *c;

	(void)state;
	assert_int_equal(
	    overlap("\"127.0.0.1\"", "\"127.0.0.1\"", "\"tcp\""), -1);
	snprintf(where, sizeof(where),
	    "%s:3: service \"b\": port 1/tcp on "
	    "127.0.0.1 is already used by service \"a\" on 127.0.0.1",
	    path);
	assert_string_equal(err, where);
	assert_int_equal(overlap("\"::\"", "\"127.0.0.1\"", "\"tcp\""), -1);
	assert_int_equal(overlap("\"::\"", "\"::1\"", "\"tcp\""), -1);
	assert_int_equal(overlap("\"::\"", "\"0.0.0.0\"", "\"tcp\""), -1);
	assert_int_equal(overlap("\"0.0.0.0\"", "\"10.0.0.1\"", "\"tcp\""), -1);
	assert_int_equal(
	    overlap("\"::ffff:127.0.0.1\"", "\"127.0.0.1\"", "\"tcp\""), -1);
	assert_int_equal(overlap("\"::1\"", "\"0:0::1\"", "\"tcp\""), -1);
	assert_int_equal(overlap("\"0.0.0.0\"", "\"::1\"", "\"tcp\""), 0);
	assert_int_equal(overlap("\"::1\"", "\"127.0.0.1\"", "\"tcp\""), 0);
	assert_int_equal(
	    overlap("\"127.0.0.1\"", "\"127.0.0.2\"", "\"tcp\""), 0);
	assert_int_equal(overlap("\"::\"", "\"127.0.0.1\"", "\"udp\""), 0);
	assert_int_equal(
	    overlap("\"::\"", "\"127.0.0.1\"", "[\"udp\", \"tcp\"]"), -1);

	/* one service, two addresses */
	assert_non_null(c = load("services = ({ name = \"a\"; port = 1;\n"
				 " script = \"s.lua\";"
				 " address = [\"127.0.0.1\", \"::\"]; });\n"));
	assert_int_equal(conf_overlap(c, 0, err, sizeof(err)), -1);
	snprintf(where, sizeof(where),
	    "%s:1: service \"a\": port 1/tcp on :: "
	    "is already used by its own address 127.0.0.1",
	    path);
	assert_string_equal(err, where);
	conf_free(c);
}

static void
test_missing_script_names_its_line(void **state)
{
	(void)state;
	expect_error("services = (\n { name = \"a\"; port = 1;\n"
		     "   script = \"nope.lua\"; });\n",
	    3, "nope.lua");
}

static void
test_bad_values(void **state)
{
	(void)state;
	expect_error("services = ({ name = \"A!\"; port = 1; script = "
		     "\"s.lua\"; });\n",
	    1, "[a-z0-9_-]+");
	expect_error("services = ({ name = \"a\"; port = 1; script = "
		     "\"s.lua\";\n protocol = \"sctp\"; });\n",
	    2, "\"protocol\"");
	expect_error(
	    "services = ({ name = \"a\"; port = 1; });\n", 1, "exactly one of");
	expect_error("\nlog = \"file\";\n", 2, "\"log\" must be");
	expect_error("services = ({ name = \"a\"; port = 1;\n exec = []; });\n",
	    2, "absolute path");
	expect_error(
	    "services = ({ name = \"a\"; port = 1; script = \"s.lua\";\n"
	    " exec = [1]; });\n",
	    2, "\"exec\" must hold strings");

	expect_error("services = ({ port = 1; script = \"s.lua\"; });\n", 1,
	    "needs a \"name\"");
	/* the shared counters keep 63 characters of a name */
	expect_error(
	    "services = ({ name = \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaa\"; port = 1; script = \"s.lua\"; "
	    "});\n",
	    1, "63 at most");
}

/* An exec service's own settings, and a reload that changes them. */
static void
test_exec_environment_settings(void **state)
{
	struct conf *a, *b;
	char what[256];

	(void)state;
	a = load("services = ({ name = \"a\"; port = 1; exec = \"/bin/env\";"
		 " env = [\"A=1\", \"B=x=y\"]; passenv = \"TZ\";"
		 " argv0 = \"in.a\"; });\n");
	assert_non_null(a);
	assert_string_equal(a->svcs[0].argv0, "in.a");
	assert_string_equal(a->svcs[0].env[0], "A=1");
	assert_string_equal(a->svcs[0].env[1], "B=x=y");
	assert_null(a->svcs[0].env[2]);
	assert_string_equal(a->svcs[0].passenv[0], "TZ");
	assert_null(a->svcs[0].passenv[1]);
	b = load("services = ({ name = \"a\"; port = 1; exec = \"/bin/env\";"
		 " env = [\"A=2\", \"B=x=y\"]; passenv = \"TZ\"; });\n");
	assert_non_null(b);
	assert_int_equal(
	    conf_changes(&a->svcs[0], &b->svcs[0], what, sizeof(what)), 2);
	assert_string_equal(what, "argv0, env");
	conf_free(a);
	conf_free(b);
}

static void
test_bad_exec_environment_settings_name_their_line(void **state)
{
	(void)state;
	expect_error(
	    "services = ({ name = \"a\"; port = 1; exec = \"/bin/env\";"
	    "\n env = [\"A=1\",\n \"NOEQUALS\"]; });\n",
	    3, "\"env\": \"NOEQUALS\" is not NAME=value");
	expect_error(
	    "services = ({ name = \"a\"; port = 1; exec = \"/bin/env\";"
	    "\n env = \"=x\"; });\n",
	    2, "is not NAME=value");
	expect_error(
	    "services = ({ name = \"a\"; port = 1; exec = \"/bin/env\";"
	    "\n env = [1]; });\n",
	    2, "\"env\" must hold strings");
	expect_error(
	    "services = ({ name = \"a\"; port = 1; exec = \"/bin/env\";"
	    "\n passenv = [\"TZ=UTC\"]; });\n",
	    2, "\"passenv\": \"TZ=UTC\" is not a variable name");
	expect_error(
	    "services = ({ name = \"a\"; port = 1; exec = \"/bin/env\";"
	    "\n passenv = { TZ = 1; }; });\n",
	    2, "must be a string or a list");
	expect_error("services = ({ name = \"a\"; port = 1; script = \"s.lua\";"
		     "\n env = [\"A=1\"]; });\n",
	    2, "\"env\" is for exec services");
	expect_error(
	    "services = ({ name = \"a\"; port = 1; exec = \"/bin/env\";"
	    "\n argv0 = \"\"; });\n",
	    2, "\"argv0\" must be a string");
	expect_error("services = ({ name = \"a\"; port = 1; script = \"s.lua\";"
		     "\n argv0 = \"x\"; });\n",
	    2, "\"argv0\" is for exec services");
}

static void
test_exec_limits_settings(void **state)
{
	struct conf *c;
	struct svc_conf *v;

	(void)state;
	c = load("services = ({ name = \"a\"; port = 1; exec = \"/bin/env\";"
		 " rlimits = { as = 256; cpu = 10; nofile = 64; nproc = 32;"
		 " fsize = \"unlimited\"; }; nice = -3; umask = \"027\";"
		 " max_runtime = 2.5; },"
		 " { name = \"b\"; port = 2; exec = \"/bin/env\"; });\n");
	assert_non_null(c);
	v = &c->svcs[0];
	assert_int_equal(v->rlimits[CONF_RLIMIT_AS], 256L << 20);
	assert_int_equal(v->rlimits[CONF_RLIMIT_CPU], 10);
	assert_int_equal(v->rlimits[CONF_RLIMIT_NOFILE], 64);
	assert_int_equal(v->rlimits[CONF_RLIMIT_NPROC], 32);
	assert_int_equal(v->rlimits[CONF_RLIMIT_FSIZE], CONF_UNLIMITED);
	assert_int_equal(v->rlimits[CONF_RLIMIT_CORE], CONF_UNSET);
	assert_int_equal(v->nice, -3);
	assert_int_equal(v->umask, 027);
	assert_true(v->max_runtime == 2.5);
	v = &c->svcs[1];
	assert_int_equal(v->rlimits[CONF_RLIMIT_AS], CONF_UNSET);
	assert_int_equal(v->nice, CONF_NICE_KEEP);
	assert_int_equal(v->umask, CONF_UNSET);
	assert_true(v->max_runtime == 0);
	conf_free(c);
}

static void
test_bad_exec_limits_name_their_line(void **state)
{
	(void)state;
	expect_error(
	    "services = ({ name = \"a\"; port = 1; exec = \"/bin/env\";"
	    "\n rlimits = { nofile = 64;\n stack = 8; }; });\n",
	    3, "unknown limit \"rlimits.stack\"");
	expect_error(
	    "services = ({ name = \"a\"; port = 1; exec = \"/bin/env\";"
	    "\n rlimits = { nofile = 2; }; });\n",
	    2, "\"rlimits.nofile\" must be between 3 and");
	expect_error(
	    "services = ({ name = \"a\"; port = 1; exec = \"/bin/env\";"
	    "\n rlimits = { as = \"lots\"; }; });\n",
	    2, "\"rlimits.as\" must be an integer or \"unlimited\"");
	expect_error(
	    "services = ({ name = \"a\"; port = 1; exec = \"/bin/env\";"
	    "\n rlimits = [64]; });\n",
	    2, "\"rlimits\" must be a group");
	expect_error(
	    "services = ({ name = \"a\"; port = 1; exec = \"/bin/env\";"
	    "\n nice = 20; });\n",
	    2, "\"nice\" must be an integer, -20 to 19");
	expect_error(
	    "services = ({ name = \"a\"; port = 1; exec = \"/bin/env\";"
	    "\n umask = \"089\"; });\n",
	    2, "\"umask\" must be an octal string");
	expect_error(
	    "services = ({ name = \"a\"; port = 1; exec = \"/bin/env\";"
	    "\n umask = 22; });\n",
	    2, "\"umask\" must be an octal string");
	expect_error(
	    "services = ({ name = \"a\"; port = 1; exec = \"/bin/env\";"
	    "\n umask = \"1777\"; });\n",
	    2, "\"umask\" must be an octal string");
	expect_error("services = ({ name = \"a\"; port = 1; script = \"s.lua\";"
		     "\n rlimits = { nofile = 64; }; });\n",
	    2, "\"rlimits\" is for exec services");
	expect_error("services = ({ name = \"a\"; port = 1; script = \"s.lua\";"
		     "\n nice = 1; });\n",
	    2, "\"nice\" is for exec services");
	expect_error(
	    "services = ({ name = \"a\"; port = 1; exec = \"/bin/env\";"
	    "\n max_runtime = -1; });\n",
	    2, "\"max_runtime\" must not be negative");
	expect_error(
	    "services = ({ name = \"a\"; port = 1; exec = \"/bin/env\";"
	    "\n max_runtime = \"1m\"; });\n",
	    2, "\"max_runtime\" must be a number of seconds");
	expect_error("services = ({ name = \"a\"; port = 1; script = \"s.lua\";"
		     "\n max_runtime = 1; });\n",
	    2, "\"max_runtime\" is for exec services");
}

static void
test_unreadable_file(void **state)
{
	(void)state;
	assert_null(conf_load("/nonexistent/superd.conf", err, sizeof(err)));
	assert_non_null(strstr(err, "/nonexistent/superd.conf:0: "));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good_config_with_defaults),
	    cmocka_unit_test(test_values_and_relative_paths),
	    cmocka_unit_test(
		test_slow_timeout_takes_fractions_and_refuses_negatives_and_strings),
	    cmocka_unit_test(test_syntax_error_names_its_line),
	    cmocka_unit_test(test_unknown_setting_names_its_line),
	    cmocka_unit_test(test_wrong_type_names_its_line),
	    cmocka_unit_test(test_out_of_range_port),
	    cmocka_unit_test(test_duplicate_name),
	    cmocka_unit_test(test_overlapping_addresses),
	    cmocka_unit_test(test_missing_script_names_its_line),
	    cmocka_unit_test(test_bad_values),
	    cmocka_unit_test(test_exec_environment_settings),
	    cmocka_unit_test(
		test_bad_exec_environment_settings_name_their_line),
	    cmocka_unit_test(test_exec_limits_settings),
	    cmocka_unit_test(test_bad_exec_limits_name_their_line),
	    cmocka_unit_test(test_unreadable_file),
	};
	return cmocka_run_group_tests_name("conf", tests, setup, teardown);
}
