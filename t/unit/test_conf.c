/* test_conf.c - the config loader: values, defaults, FILE:LINE errors. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "confcmp.h"
#include "conftls.h"

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

/* Another file in the test's directory, name relative to it. */
static void
put(const char *name, const char *text)
{
	char file[300];
	FILE *f;

	snprintf(file, sizeof(file), "%s/%s", dir, name);
	assert_non_null(f = fopen(file, "w"));
	fputs(text, f);
	fclose(f);
}

/* The loader must fail, naming file (relative to dir), line and words. */
static void
expect_error_in(const char *file, const char *text, int line, const char *words)
{
	char where[300];

	assert_null(load(text));
	snprintf(where, sizeof(where), "%s/%s:%d: ", dir, file, line);
	if (strncmp(err, where, strlen(where)) != 0 ||
	    strstr(err, words) == NULL)
		fail_msg("expected \"%s...%s\", got \"%s\"", where, words, err);
}

/* The loader must fail, naming FILE:LINE and the given words. */
static void
expect_error(const char *text, int line, const char *words)
{
	expect_error_in("superd.conf", text, line, words);
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
	expect_error("services = (\n { name = \"a\";\n port = 7.5;\n"
		     " script = \"s.lua\"; });\n",
	    3, "\"port\" must be an integer or a name");
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

/* A service on the unix socket x.sock with the settings given. */
static struct conf *
load_unix(const char *settings)
{
	char text[1024];

	snprintf(text, sizeof(text),
	    "services = ({ name = \"u\"; script = \"s.lua\";\n"
	    " path = \"x.sock\";\n %s });\n",
	    settings);
	return load(text);
}

static void
expect_unix_error(const char *settings, int line, const char *words)
{
	char text[1024];

	snprintf(text, sizeof(text),
	    "services = ({ name = \"u\"; script = \"s.lua\";\n"
	    " path = \"x.sock\";\n %s });\n",
	    settings);
	expect_error(text, line, words);
}

static void
test_port_by_name(void **state)
{
	struct servent *se = getservbyname("echo", "tcp");
	struct conf *c;

	(void)state;
	if (se == NULL || getservbyname("echo", "udp") == NULL) {
		printf("skipped: no echo/tcp and echo/udp in /etc/services\n");
		return;
	}
	c = load("services = ({ name = \"e\"; port = \"echo\";\n"
		 " protocol = [\"tcp\", \"udp\"]; script = \"s.lua\"; });\n");
	assert_non_null(c);
	assert_int_equal(c->svcs[0].port, ntohs((uint16_t)se->s_port));
	assert_null(c->svcs[0].path);
	conf_free(c);
	expect_error("services = ({ name = \"e\";\n port = \"no-such-x\";"
		     " script = \"s.lua\"; });\n",
	    2, "\"port\": no service \"no-such-x\" for tcp");
	/* finger is TCP only */
	if (getservbyname("finger", "tcp") != NULL &&
	    getservbyname("finger", "udp") == NULL)
		expect_error("services = ({ name = \"e\";\n port = \"finger\";"
			     " protocol = [\"tcp\", \"udp\"];"
			     " script = \"s.lua\"; });\n",
		    2, "\"port\": no service \"finger\" for udp");
	expect_error("services = ({ name = \"e\"; script = \"s.lua\"; });\n", 1,
	    "needs a \"port\" or a \"path\"");
}

static void
test_unix_path_resolved_with_its_file_settings(void **state)
{
	char want[300];
	struct conf *c;

	(void)state;
	assert_non_null(c = load_unix(""));
	snprintf(want, sizeof(want), "%s/x.sock", dir);
	assert_string_equal(c->svcs[0].path, want);
	assert_int_equal(c->svcs[0].naddrs, 0);
	assert_int_equal(c->svcs[0].sock.mode, 0666);
	assert_int_equal(c->svcs[0].sock.uid, (uid_t)-1);
	assert_int_equal(c->svcs[0].sock.gid, (gid_t)-1);
	conf_free(c);
	assert_non_null(c = load_unix("mode = \"0600\"; owner = \"root\";"
				      " group = \"root\";"));
	assert_int_equal(c->svcs[0].sock.mode, 0600);
	assert_int_equal(c->svcs[0].sock.uid, 0);
	assert_int_equal(c->svcs[0].sock.gid, 0);
	conf_free(c);
}

/* A TLS service on port 1 with these tls settings (from line 2 on). */
static struct conf *
load_tls(const char *tls, const char *extra)
{
	char text[2048];

	snprintf(text, sizeof(text),
	    "services = ({ name = \"s\"; port = 1; script = \"s.lua\"; %s\n"
	    " tls = { %s }; });\n",
	    extra, tls);
	return load(text);
}

static void
expect_tls_error(const char *tls, const char *extra, int line, const char *w)
{
	char text[2048], where[300];

	snprintf(text, sizeof(text),
	    "services = ({ name = \"s\"; port = 1; script = \"s.lua\"; %s\n"
	    " tls = { %s }; });\n",
	    extra, tls);
	assert_null(load(text));
	snprintf(where, sizeof(where), "%s/superd.conf:%d: ", dir, line);
	if (strncmp(err, where, strlen(where)) != 0 || strstr(err, w) == NULL)
		fail_msg("expected \"%s...%s\", got \"%s\"", where, w, err);
}

static void
test_tls_settings_with_their_defaults(void **state)
{
	char want[300];
	struct conf *c;

	(void)state;
	assert_non_null(
	    c = load_tls("certificate = \"a.pem\"; key = \"/k/a.key\";", ""));
	snprintf(want, sizeof(want), "%s/a.pem", dir);
	assert_string_equal(c->svcs[0].tls->certificate.path, want);
	assert_int_equal(c->svcs[0].tls->certificate.line, 2);
	assert_string_equal(c->svcs[0].tls->key.path, "/k/a.key");
	assert_int_equal(c->svcs[0].tls->min_version, 0x0303);
	assert_int_equal(c->svcs[0].tls->verify_client, TLS_VERIFY_NONE);
	assert_true(c->svcs[0].tls->handshake_timeout == 10);
	assert_null(c->svcs[0].tls->alpn);
	assert_int_equal(c->svcs[0].starttls, 0);
	conf_free(c);
	assert_non_null(
	    c = load_tls(
		"certificate = \"a.pem\"; key = \"a.key\"; alpn = [\"imap\", "
		"\"x\"];"
		" min_version = \"TLSv1.3\"; client_ca = \"ca.pem\";"
		" verify_client = \"require\"; handshake_timeout = 2.5;"
		" ciphersuites = \"TLS_AES_128_GCM_SHA256\";"
		" sni = ( { name = \"b.example\"; certificate = \"b.pem\";"
		" key = \"b.key\"; } );",
		"starttls = true;"));
	assert_string_equal(c->svcs[0].tls->alpn[1], "x");
	assert_int_equal(c->svcs[0].tls->min_version, 0x0304);
	assert_int_equal(c->svcs[0].tls->verify_client, TLS_VERIFY_REQUIRE);
	assert_true(c->svcs[0].tls->handshake_timeout == 2.5);
	assert_int_equal(c->svcs[0].tls->nsni, 1);
	assert_string_equal(c->svcs[0].tls->sni[0].name, "b.example");
	assert_int_equal(c->svcs[0].starttls, 1);
	conf_free(c);
}

static void
test_tls_settings_refuse_what_cannot_work(void **state)
{
	(void)state;
	expect_tls_error("key = \"a.key\";", "", 2,
	    "\"tls\" needs a \"certificate\" and a \"key\"");
	expect_tls_error("certificate = \"a.pem\"; key = \"a.key\"; cert = 1;",
	    "", 2, "unknown setting \"tls.cert\"");
	expect_tls_error("certificate = \"a.pem\"; key = \"\";", "", 2,
	    "\"tls.key\" must be a string, not empty");
	expect_tls_error("certificate = \"a.pem\"; key = \"a.key\"; "
			 "min_version = \"SSLv3\";",
	    "", 2, "\"tls.min_version\" must be \"TLSv1.2\" or \"TLSv1.3\"");
	expect_tls_error("certificate = \"a.pem\"; key = \"a.key\";"
			 " verify_client = \"require\";",
	    "", 2, "\"tls.verify_client\" needs a \"client_ca\"");
	expect_tls_error("certificate = \"a.pem\"; key = \"a.key\";"
			 " verify_client = \"maybe\"; client_ca = \"c.pem\";",
	    "", 2,
	    "must be \"none\", \"optional\", \"require\" or "
	    "\"optional_no_ca\"");
	expect_tls_error(
	    "certificate = \"a.pem\"; key = \"a.key\"; handshake_timeout = 0;",
	    "", 2, "\"tls.handshake_timeout\" must be seconds");
	expect_tls_error("certificate = \"a.pem\"; key = \"a.key\"; alpn = [];",
	    "", 2, "\"tls.alpn\" names no protocol");
	expect_tls_error(
	    "certificate = \"a.pem\"; key = \"a.key\";"
	    " sni = ( { name = \"b\"; certificate = \"b.pem\"; } );",
	    "", 2, "a \"tls.sni\" entry needs a \"certificate\" and a \"key\"");
	expect_tls_error("certificate = \"a.pem\"; key = \"a.key\";",
	    "protocol = \"udp\";", 2, "\"tls\" is for TCP");
	expect_error(
	    "services = ({ name = \"s\"; port = 1; script = \"s.lua\";\n"
	    " starttls = true; });\n",
	    2, "\"starttls\" needs a \"tls\" group");
	expect_error(
	    "services = ({ name = \"s\"; port = 1;\n"
	    " exec = [\"/bin/cat\"]; wait = true;\n"
	    " tls = { certificate = \"a.pem\"; key = \"a.key\"; }; });\n",
	    3, "\"tls\" does not apply to a wait service");
	expect_error(
	    "services = ({ name = \"s\"; port = 1; exec = [\"/bin/cat\"];\n"
	    " tls = { certificate = \"a.pem\"; key = \"a.key\"; };\n"
	    " starttls = true; });\n",
	    3, "\"starttls\" is for Lua services");
}

static void
test_unix_datagram_socket_is_for_a_wait_program(void **state)
{
	struct conf *c;

	(void)state;
	assert_non_null(
	    c = load("services = ({ name = \"u\";"
		     " exec = [\"/bin/true\"]; wait = true;\n"
		     " path = \"x.sock\"; protocol = \"udp\"; });\n"));
	assert_int_equal(c->svcs[0].protos, CONF_UDP);
	assert_int_equal(c->svcs[0].wait, 1);
	conf_free(c);
}

static void
test_unix_path_refuses_what_does_not_apply(void **state)
{
	(void)state;
	expect_unix_error("port = 7;", 3, "\"port\" and \"path\" cannot go");
	expect_unix_error("address = \"127.0.0.1\";", 3,
	    "\"address\" and \"path\" cannot go");
	expect_unix_error("protocol = \"udp\";", 3,
	    "a unix datagram socket (\"path\", protocol \"udp\") is for an "
	    "exec service with \"wait = true\"");
	expect_unix_error("protocol = [\"tcp\", \"udp\"];", 3,
	    "a unix socket (\"path\") is of one type");
	expect_unix_error("only_from = [\"127.0.0.1\"];", 3,
	    "\"only_from\" does not apply to a unix socket");
	expect_unix_error(
	    "no_access = [\"10.0.0.0/8\"];", 3, "\"no_access\" does not apply");
	expect_unix_error(
	    "proxy_protocol = true;", 3, "\"proxy_protocol\" does not apply");
	expect_unix_error("mode = \"0999\";", 3, "\"mode\" must be octal");
	expect_unix_error("mode = 660;", 3, "\"mode\" must be octal");
	expect_unix_error("mode = \"01777\";", 3, "\"mode\" must be octal");
	expect_unix_error("owner = \"no-such-user-x\";", 3,
	    "unknown user \"no-such-user-x\"");
	expect_unix_error("group = \"no-such-group-x\";", 3,
	    "unknown group \"no-such-group-x\"");
	expect_error("workers = 2;\nservices = ({ name = \"u\";"
		     " script = \"s.lua\";\n path = \"x.sock\"; });\n",
	    3, "needs workers = 1");
	expect_error("services = ({ name = \"u\"; script = \"s.lua\";"
		     " port = 1;\n mode = \"0600\"; });\n",
	    2, "\"mode\" is for a unix socket");
}

static void
test_unix_path_that_is_not_a_socket_or_too_long(void **state)
{
	char file[300], text[512];
	FILE *f;

	(void)state;
	snprintf(file, sizeof(file), "%s/x.sock", dir);
	assert_non_null(f = fopen(file, "w"));
	fclose(f);
	expect_unix_error("", 2, "x.sock exists and is not a socket");
	unlink(file);
	snprintf(text, sizeof(text),
	    "services = ({ name = \"u\"; script = \"s.lua\";\n path = "
	    "\"/%0120d\";"
	    " });\n",
	    0);
	expect_error(text, 2, "longer than the 107 bytes");
}

static void
test_two_services_on_one_path(void **state)
{
	char where[512];
	struct conf *c;

	(void)state;
	c = load("services = (\n { name = \"a\"; script = \"s.lua\";"
		 " path = \"x.sock\"; },\n { name = \"b\"; script = \"s.lua\";"
		 " path = \"x.sock\"; },\n { name = \"c\"; script = \"s.lua\";"
		 " path = \"y.sock\"; });\n");
	assert_non_null(c);
	assert_int_equal(conf_overlap(c, 0, err, sizeof(err)), 0);
	assert_int_equal(conf_overlap(c, 1, err, sizeof(err)), -1);
	snprintf(where, sizeof(where),
	    "%s:3: service \"b\": path %s/x.sock is already used by "
	    "service \"a\"",
	    path, dir);
	assert_string_equal(err, where);
	assert_int_equal(conf_overlap(c, 2, err, sizeof(err)), 0);
	conf_free(c);
}

static void
test_unreadable_file(void **state)
{
	(void)state;
	assert_null(conf_load("/nonexistent/superd.conf", err, sizeof(err)));
	assert_non_null(strstr(err, "/nonexistent/superd.conf:0: "));
}

/* superd -d runs in /: an @include is found beside the file. */
static void
test_include_is_relative_to_the_including_file(void **state)
{
	struct conf *c;
	char want[300];

	(void)state;
	put("svcs.inc", "services = (\n { name = \"a\"; port = 1;\n"
			" script = \"s.lua\"; });\n");
	assert_int_equal(chdir("/"), 0);
	c = load("max_connections = 5;\n@include \"svcs.inc\"\n");
	assert_non_null(c);
	assert_int_equal(c->nsvcs, 1);
	snprintf(want, sizeof(want), "%s/svcs.inc", dir);
	assert_string_equal(c->svcs[0].file, want);
	assert_int_equal(c->svcs[0].line, 2);
	conf_free(c);
}

static void
test_include_by_absolute_path(void **state)
{
	struct conf *c;
	char text[400];

	(void)state;
	put("abs.inc", "services = ();\n");
	snprintf(text, sizeof(text), "@include \"%s/abs.inc\"\n", dir);
	assert_int_equal(chdir("/"), 0);
	assert_non_null(c = load(text));
	assert_int_equal(c->nsvcs, 0);
	conf_free(c);
}

/* An error in an included file is at its own FILE:LINE, not the main's. */
static void
test_error_in_included_file_names_that_file(void **state)
{
	(void)state;
	put("bad.inc", "\nservices = (\n { name = \"a\"; port = 1;\n"
		       " colour = 1; script = \"s.lua\"; });\n");
	expect_error_in("bad.inc", "\n@include \"bad.inc\"\n", 4,
	    "unknown setting \"colour\"");
	put("syntax.inc", "\n\nservices = ( { name = ; } );\n");
	expect_error_in(
	    "syntax.inc", "@include \"syntax.inc\"\n", 3, "syntax error");
}

static void
test_include_of_missing_file_or_directory_names_its_line(void **state)
{
	char words[300];

	(void)state;
	snprintf(
	    words, sizeof(words), "@include \"%s/nope.inc\": No such", dir);
	expect_error("log = \"stderr\";\n@include \"nope.inc\"\n"
		     "services = ();\n",
	    2, words);
	/* libconfig itself would end the process ("flex scanner failed") */
	snprintf(words, sizeof(words), "%s/sub.inc", dir);
	assert_int_equal(mkdir(words, 0700), 0);
	expect_error(
	    "\n\n@include \"sub.inc\"\nservices = ();\n", 3, "Is a directory");
	/* and in an included file, at its line */
	put("outer.inc", "\n@include \"nope.inc\"\n");
	expect_error_in("outer.inc", "@include \"outer.inc\"\nservices = ();\n",
	    2, "No such file");
}

/* Where libconfig's scanner sees no @include, none is looked for. */
static void
test_include_in_comment_or_string_is_not_read(void **state)
{
	struct conf *c;

	(void)state;
	c = load("# @include \"nope\"\n/*\n@include \"nope\"\n*/\n"
		 "services = ({ name = \"a\"; port = 1; script = \"s.lua\";\n"
		 " options = { x = \"\n@include \\\"nope\\\"\n\"; }; });\n");
	assert_non_null(c);
	conf_free(c);
}

static void
test_a_directory_as_the_file_is_an_error(void **state)
{
	(void)state;
	assert_null(conf_load(dir, err, sizeof(err)));
	assert_non_null(strstr(err, "Is a directory"));
}

/* A directory of drop-ins in the test's directory. */
static void
put_dir(const char *name)
{
	char d[300];

	snprintf(d, sizeof(d), "%s/%s", dir, name);
	assert_int_equal(mkdir(d, 0700), 0);
}

static void
test_dropins_follow_the_main_file_in_name_order(void **state)
{
	struct conf *c;
	char want[300];
	int n = 0;

	(void)state;
	put_dir("order.d");
	put("order.d/b.conf", "services = ({ name = \"b\"; port = 2;"
			      " script = \"b.lua\"; });\n");
	put("order.d/b.lua", "function main(s) end\n");
	put("order.d/a.conf",
	    "\nservices = ({ name = \"a\"; port = 3;\n"
	    " script = \"b.lua\"; options = { n = 7; }; });\n");
	put("order.d/c.conf.orig", "not read");
	c = load("include_dir = \"order.d\";\nservices = ({ name = \"m\";"
		 " port = 1; script = \"s.lua\"; });\n");
	assert_non_null(c);
	assert_int_equal(c->nsvcs, 3);
	assert_string_equal(c->svcs[0].name, "m");
	assert_string_equal(c->svcs[1].name, "a");
	assert_string_equal(c->svcs[2].name, "b");
	snprintf(want, sizeof(want), "%s/order.d/a.conf", dir);
	assert_string_equal(c->svcs[1].file, want);
	assert_int_equal(c->svcs[1].line, 2);
	snprintf(want, sizeof(want), "%s/order.d/b.lua", dir);
	assert_string_equal(c->svcs[1].script, want);
	/* its options live in the drop-in's config_t, kept with c */
	assert_int_equal(config_setting_lookup_int(c->svcs[1].options, "n", &n),
	    CONFIG_TRUE);
	assert_int_equal(n, 7);
	conf_free(c);
}

static void
test_dropin_errors_name_the_dropin(void **state)
{
	char file[300];

	(void)state;
	put_dir("bad.d");
	put("bad.d/x.conf", "# nothing yet\n");
	expect_error_in("bad.d/x.conf",
	    "include_dir = \"bad.d\";\n"
	    "services = ();\n",
	    1, "no services declared");
	put("bad.d/x.conf", "services = ();\n\nworkers = 2;\n");
	expect_error_in("bad.d/x.conf",
	    "include_dir = \"bad.d\";\n"
	    "services = ();\n",
	    3, "\"workers\": a drop-in file sets only");
	/* its @include is beside it */
	put("bad.d/x.conf", "\n@include \"x.inc\"\n");
	put("bad.d/x.inc", "services = ({ name = \"x\"; port = 1;\n"
			   " script = \"nope.lua\"; });\n");
	snprintf(file, sizeof(file), "%s/bad.d/nope.lua", dir);
	expect_error_in("bad.d/x.inc",
	    "include_dir = \"bad.d\";\n"
	    "services = ();\n",
	    2, file);
	put("bad.d/x.conf", "services = ();\n");
	expect_error("\ninclude_dir = \"s.lua\";\nservices = ();\n", 2,
	    "Not a directory");
}

/* An exec service's own settings name the drop-in and its @include too. */
static void
test_exec_setting_errors_name_the_dropin(void **state)
{
	(void)state;
	put_dir("exec.d");
	put("exec.d/x.conf",
	    "services = ({ name = \"x\"; port = 1;\n"
	    " exec = \"/bin/env\"; env = [\"NOEQUALS\"]; });\n");
	expect_error_in("exec.d/x.conf",
	    "include_dir = \"exec.d\";\nservices = ();\n", 2,
	    "\"env\": \"NOEQUALS\" is not NAME=value");
	put("exec.d/x.conf", "\n@include \"x.inc\"\n");
	put("exec.d/x.inc", "services = ({ name = \"x\"; port = 1;\n"
			    " exec = \"/bin/env\";\n umask = 22; });\n");
	expect_error_in("exec.d/x.inc",
	    "include_dir = \"exec.d\";\nservices = ();\n", 3,
	    "\"umask\" must be an octal string");
	put("exec.d/x.conf", "services = ();\n");
}

/* include_dir = "." beside the main file: the main file is no drop-in. */
static void
test_include_dir_beside_the_main_file_leaves_it_out(void **state)
{
	char main_path[300];
	struct conf *c;

	(void)state;
	put_dir("dot.d");
	put("dot.d/main.conf", "log = \"stderr\";\ninclude_dir = \".\";\n"
			       "services = ();\n");
	put("dot.d/x.conf", "services = ({ name = \"x\"; port = 1;"
			    " script = \"../s.lua\"; });\n");
	snprintf(main_path, sizeof(main_path), "%s/dot.d/main.conf", dir);
	c = conf_load(main_path, err, sizeof(err));
	if (c == NULL)
		fail_msg("%s", err);
	assert_int_equal(c->nsvcs, 1);
	assert_string_equal(c->svcs[0].name, "x");
	conf_free(c);
}

static void
test_control_path_resolved_against_the_files_directory(void **state)
{
	struct conf *c;
	char want[300];

	(void)state;
	assert_non_null(c = load("control = \"ctl.sock\";\nservices = ();\n"));
	snprintf(want, sizeof(want), "%s/ctl.sock", dir);
	assert_string_equal(c->control, want);
	conf_free(c);
	assert_non_null(
	    c = load("control = \"/run/x/control\";\nservices = ();\n"));
	assert_string_equal(c->control, "/run/x/control");
	conf_free(c);
	assert_non_null(c = load("services = ();\n"));
	assert_null(c->control);
	conf_free(c);
}

static void
test_control_errors_name_their_line(void **state)
{
	char text[512], longname[200];

	(void)state;
	expect_error("services = ();\ncontrol = 5;\n", 2,
	    "\"control\" must be a string");
	expect_error("workers = 2;\n\ncontrol = \"c.sock\";\nservices = ();\n",
	    3, "\"control\" needs workers = 1");
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	snprintf(text, sizeof(text), "control = \"%s\";\nservices = ();\n",
	    longname);
	expect_error(text, 1, "bytes a unix socket's path may have");
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
	    cmocka_unit_test(test_port_by_name),
	    cmocka_unit_test(test_unix_path_resolved_with_its_file_settings),
	    cmocka_unit_test(test_tls_settings_with_their_defaults),
	    cmocka_unit_test(test_tls_settings_refuse_what_cannot_work),
	    cmocka_unit_test(test_unix_datagram_socket_is_for_a_wait_program),
	    cmocka_unit_test(test_unix_path_refuses_what_does_not_apply),
	    cmocka_unit_test(test_unix_path_that_is_not_a_socket_or_too_long),
	    cmocka_unit_test(test_two_services_on_one_path),
	    cmocka_unit_test(test_include_is_relative_to_the_including_file),
	    cmocka_unit_test(test_include_by_absolute_path),
	    cmocka_unit_test(test_error_in_included_file_names_that_file),
	    cmocka_unit_test(
		test_include_of_missing_file_or_directory_names_its_line),
	    cmocka_unit_test(test_include_in_comment_or_string_is_not_read),
	    cmocka_unit_test(test_a_directory_as_the_file_is_an_error),
	    cmocka_unit_test(test_dropins_follow_the_main_file_in_name_order),
	    cmocka_unit_test(test_dropin_errors_name_the_dropin),
	    cmocka_unit_test(test_exec_setting_errors_name_the_dropin),
	    cmocka_unit_test(
		test_include_dir_beside_the_main_file_leaves_it_out),
	    cmocka_unit_test(
		test_control_path_resolved_against_the_files_directory),
	    cmocka_unit_test(test_control_errors_name_their_line),
	};
	return cmocka_run_group_tests_name("conf", tests, setup, teardown);
}
