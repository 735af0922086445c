/*
 * test_import_xinetd.c - superd -I on xinetd's files: an xinetd.d
 * directory read as xinetd reads it (no names with '.' or ending in '~'),
 * internal services, a disabled one commented out, a program with its
 * access lists, limits and environment, redirect as relay.lua; an
 * xinetd.conf whose defaults and +=, -= apply as in xinetd; errors with
 * FILE:LINE.  The output passes -t and serves.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client.h"
#include "imp.h"

#define BIG 32768

struct ports {
	int echo, greet, relay;
};

/*
 * xinetd.d: echo over stream and dgram, daytime disabled, greet a
 * program with its access lists, limits and environment, relay a
 * redirect to echo; two leftovers xinetd skips.
 */
static void
write_xinetd_d(struct superd *d, const struct ports *p)
{
	char dir[256];

	snprintf(dir, sizeof(dir), "%s/xinetd.d", d->dir);
	mkdir(dir, 0755);
	sd_write(d, "xinetd.d/echo",
	    "# echo, as xinetd ships it, on a port of the test's\n"
	    "service echo\n{\n\ttype = INTERNAL UNLISTED\n"
	    "\tid = echo-stream\n\tsocket_type = stream\n\twait = no\n"
	    "\tport = %d\n\tbind = 127.0.0.1\n}\n\n"
	    "service echo\n{\n\ttype = INTERNAL UNLISTED\n"
	    "\tid = echo-dgram\n\tsocket_type = dgram\n\twait = yes\n"
	    "\tport = %d\n\tbind = 127.0.0.1\n}\n",
	    p->echo, p->echo);
	sd_write(d, "xinetd.d/daytime",
	    "service daytime\n{\n\tdisable = yes\n\ttype = INTERNAL\n"
	    "\tid = daytime-stream\n\tsocket_type = stream\n"
	    "\tprotocol = tcp\n\tuser = root\n\twait = no\n}\n");
	sd_write(d, "xinetd.d/greet",
	    "service greet\n{\n\ttype = UNLISTED\n\tsocket_type = stream\n"
	    "\tprotocol = tcp\n\twait = no\n\tuser = nobody\n"
	    "\tserver = /usr/bin/printenv\n\tserver_args = GREETING LANG\n"
	    "\tport = %d\n\tbind = 127.0.0.1\n"
	    "\tonly_from = 127.0.0.1 10.0.0.0 192.168.{1,2} "
	    "gate.example.org\n"
	    "\tonly_from += ::1\n"
	    "\tinstances = 10\n\tper_source = 3\n\tcps = 25 30\n"
	    "\tenv = LANG=C GREETING=hello\n\tpassenv = TZ\n"
	    "\trlimit_as = 64M\n\trlimit_files = 128\n\tnice = 5\n"
	    "\tumask = 0027\n"
	    "\tlog_on_success = PID HOST DURATION\n"
	    "\tflags = REUSE KEEPALIVE\n}\n",
	    p->greet);
	sd_write(d, "xinetd.d/relay",
	    "service relay\n{\n\ttype = UNLISTED\n\tsocket_type = stream\n"
	    "\twait = no\n\tport = %d\n\tbind = 127.0.0.1\n"
	    "\tredirect = 127.0.0.1 %d\n}\n",
	    p->relay, p->echo);
	sd_write(d, "xinetd.d/greet.rpmsave", "not xinetd at all\n");
	sd_write(d, "xinetd.d/greet~", "nor this\n");
}

static int
import_xinetd_d(struct superd *d, char *out, char *err)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/xinetd.d", d->dir);
	return imp_run(d, path, out, BIG, err, BIG);
}

static void
test_import_xinetd_dir_prints_each_service(void **state)
{
	struct superd *d = *state;
	struct ports p = {free_port(), free_port(), free_port()};
	char *out = malloc(BIG), *err = malloc(BIG), want[512];

	write_xinetd_d(d, &p);
	assert_int_equal(import_xinetd_d(d, out, err), 0);
	assert_string_equal(err, "");
	assert_has(out, "imported by superd -I from the xinetd.d directory");
	/* the directory in strcmp order: daytime, echo, greet, relay */
	assert_has(out, "xinetd.d/daytime:1\n  # {\n"
			"  #   name = \"daytime\";\n  #   port = 13;\n");
	assert_has(out, "  #   script = \"daytime.lua\";\n"
			"  #   # xinetd \"disable = yes\": carried over "
			"commented out\n  # }\n");
	snprintf(want, sizeof(want),
	    "xinetd.d/echo:2,12\n  {\n    name = \"echo\";\n"
	    "    port = %d;\n    address = \"127.0.0.1\";\n"
	    "    protocol = [\"tcp\", \"udp\"];\n"
	    "    script = \"echo.lua\";\n  },\n",
	    p.echo);
	assert_has(out, want);
	assert_has(out, "    exec = [\"/usr/bin/printenv\", \"GREETING\", "
			"\"LANG\"];\n    user = \"nobody\";\n"
			"    max_connections = 10;\n    per_source = 3;\n"
			"    rate = 25;\n"
			"    only_from = [\"127.0.0.1\", \"10.0.0.0/8\", "
			"\"192.168.1.0/24\", \"192.168.2.0/24\", \"::1\"];\n"
			"    env = [\"LANG=C\", \"GREETING=hello\"];\n"
			"    passenv = [\"TZ\"];\n"
			"    rlimits = { as = 64; nofile = 128; };\n"
			"    nice = 5;\n    umask = \"027\";\n");
	assert_has(out, "# xinetd \"only_from = gate.example.org\" not carried "
			"over: superd's access lists take addresses and CIDR "
			"blocks\n");
	assert_has(out, "# xinetd \"cps = 25 30\" also paused the service");
	assert_has(out, "# xinetd \"flags = KEEPALIVE\" not carried over");
	assert_has(out, "# xinetd \"log_on_success\" not carried over: "
			"superd logs every connection at info\n");
	snprintf(want, sizeof(want),
	    "    script = \"relay.lua\";\n"
	    "    options = { host = \"127.0.0.1\"; port = %d; };\n  }\n);\n",
	    p.echo);
	assert_has(out, want);
	assert_null(strstr(out, "rpmsave"));
	imp_use(d, out, BIG);
	if (imp_check(d, err, BIG) < 0)
		fail_msg("superd -t refused the import:\n%s\n%s", err, out);
	free(out);
	free(err);
}

static void
test_import_xinetd_dir_output_passes_check_and_relays(void **state)
{
	struct superd *d = *state;
	struct ports p = {free_port(), free_port(), free_port()};
	char *out = malloc(BIG), *err = malloc(BIG), reply[128];
	int fd;
	ssize_t n;

	write_xinetd_d(d, &p);
	assert_int_equal(import_xinetd_d(d, out, err), 0);
	imp_use(d, out, BIG);
	if (imp_check(d, err, BIG) < 0)
		fail_msg("superd -t refused the import:\n%s\n%s", err, out);
	sd_started(d, p.echo);
	assert_int_equal(
	    ask(p.echo, "xinetd echo\n", reply, sizeof(reply), 3000), 12);
	assert_int_equal(
	    udp_exchange(p.echo, "ping", 4, reply, sizeof(reply), 3000), 4);
	assert_int_equal(
	    ask(p.relay, "through relay.lua\n", reply, sizeof(reply), 3000),
	    18);
	assert_string_equal(reply, "through relay.lua\n");
	assert_true((fd = tcp_connect(p.greet)) >= 0);
	n = recv_all(fd, reply, sizeof(reply) - 1, 3000);
	close(fd);
	reply[n > 0 ? n : 0] = '\0';
	assert_string_equal(reply, "hello\nC\n"); /* env, server_args */
	assert_int_equal(sd_stop(d), 0);
	free(out);
	free(err);
}

/*
 * xinetd.conf: the defaults reach every service (also those of its
 * includedir); a set's "=" replaces them, "+=" adds, "-=" takes away;
 * what the defaults say that superd has no setting for is said once.
 */
static void
test_import_xinetd_conf_applies_defaults_and_operators(void **state)
{
	struct superd *d = *state;
	char *out = malloc(BIG), *err = malloc(BIG), path[256];

	mkdir(strcat(strcpy(path, d->dir), "/more"), 0755);
	sd_write(d, "more/qotd",
	    "service qotd\n{\n\tsocket_type = stream\n\twait = no\n"
	    "\tuser = nobody\n\tserver = /usr/games/fortune\n}\n");
	sd_write(d, "xinetd.conf",
	    "defaults\n{\n\tlog_type = SYSLOG daemon info\n"
	    "\tlog_on_success = PID\n\tonly_from = 127.0.0.1\n"
	    "\tinstances = 20\n\tdisabled = qotd\n\tumask = 022\n}\n\n"
	    "service chargen\n{\n\ttype = INTERNAL\n\tsocket_type = stream\n"
	    "\twait = no\n\tonly_from += ::1\n\tno_access = 127.0.0.2\n}\n"
	    "service time\n{\n\ttype = INTERNAL\n\tsocket_type = dgram\n"
	    "\twait = yes\n\tonly_from = 10.0.0.0/8\n"
	    "\tinstances = UNLIMITED\n\tlog_on_success += DURATION\n}\n"
	    "service discard {\n\ttype = INTERNAL\n\tsocket_type = stream\n"
	    "\twait = no\n\tonly_from -= 127.0.0.1\n}\n"
	    "includedir %s/more\n",
	    d->dir);
	snprintf(path, sizeof(path), "%s/xinetd.conf", d->dir);
	assert_int_equal(imp_run(d, path, out, BIG, err, BIG), 0);
	assert_has(out, "imported by superd -I from the xinetd configuration");
	assert_has(out, "# xinetd defaults \"log_type\" not carried over: "
			"superd's log is global: see log at the top\n");
	assert_has(out, "# xinetd defaults \"log_on_success\" not carried "
			"over: superd logs every connection at info\n");
	assert_has(out, "    name = \"chargen\";\n    port = 19;\n"
			"    address = \"::\";\n    protocol = \"tcp\";\n"
			"    script = \"chargen.lua\";\n"
			"    max_connections = 20;\n"
			"    only_from = [\"127.0.0.1\", \"::1\"];\n"
			"    no_access = [\"127.0.0.2\"];\n");
	assert_has(out, "    name = \"time\";\n    port = 37;\n"
			"    address = \"::\";\n    protocol = \"udp\";\n"
			"    script = \"time.lua\";\n"
			"    only_from = [\"10.0.0.0/8\"];\n"
			"    # xinetd \"log_on_success\" not carried over");
	assert_has(out, "    script = \"discard.lua\";\n"
			"    max_connections = 20;\n    only_from = [];\n"
			"    # \"only_from\" is empty: it admits no one\n");
	assert_has(out, "  #   exec = [\"/usr/games/fortune\"];\n");
	/* a program's umask from the defaults; the scripts have none */
	assert_has(out, "  #   umask = \"022\";\n");
	assert_null(strstr(strstr(out, "umask = ") + 1, "umask = "));
	assert_has(out, "listed in xinetd's defaults \"disabled\": carried "
			"over commented out\n");
	free(out);
	free(err);
}

/* Each error is FILE:LINE on stderr; the services around it still come. */
static void
test_import_xinetd_errors_name_file_and_line(void **state)
{
	struct superd *d = *state;
	char *out = malloc(BIG), *err = malloc(BIG), path[256], want[2048];

	sd_write(d, "xinetd.conf",
	    "service echo\n{\n\ttype = INTERNAL\n\tsocket_type = stream\n"
	    "\twait no\n}\n"
	    "service daytime\n\tsocket_type = stream\n}\n"
	    "bogus line\n"
	    "service time\n{\n\ttype = INTERNAL\n\tsocket_type = stream\n"
	    "service chargen\n{\n\ttype = INTERNAL\n\tsocket_type = stream\n"
	    "}\n");
	snprintf(path, sizeof(path), "%s/xinetd.conf", d->dir);
	assert_int_equal(imp_run(d, path, out, BIG, err, BIG), 1);
	snprintf(want, sizeof(want),
	    "%s:5: expected ATTRIBUTE = VALUE..., found \"wait no\"\n"
	    "%s:7: service daytime: missing {\n"
	    "%s:10: expected service NAME, defaults, include or "
	    "includedir\n"
	    "%s:11: service time: no closing }\n",
	    path, path, path, path);
	assert_string_equal(err, want);
	assert_has(out, "    name = \"echo\";\n");
	assert_has(out, "    # not imported, cannot parse: wait no\n");
	assert_has(out, "xinetd.conf:7: not imported: service daytime: "
			"missing {\n");
	assert_has(out, "xinetd.conf:11: not imported: service time: no "
			"closing }\n");
	assert_has(out, "    name = \"chargen\";\n");
	free(out);
	free(err);
}

#define T(f) cmocka_unit_test_setup_teardown(f, sd_setup, sd_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_import_xinetd_dir_prints_each_service),
	    T(test_import_xinetd_dir_output_passes_check_and_relays),
	    T(test_import_xinetd_conf_applies_defaults_and_operators),
	    T(test_import_xinetd_errors_name_file_and_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
