/*
 * test_import.c - superd -I on an inetd.conf: internal services become
 * the shipped scripts (a tcp and a udp line one service), tcpd is taken
 * out of the way with a note, user:group and wait come along, a line it
 * cannot parse is an error with FILE:LINE; the output passes -t and
 * serves: echo, programs, and real in.fingerd, in.tftpd and rsync.
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

/* The ports the inetd.conf below names by number. */
struct ports {
	int wrapped, nobody;
};

/*
 * inetd.conf with what every import meets: comments, a default address
 * line, internal echo and daytime over tcp and udp, a program behind
 * tcpd, one with user:group, a per-minute limit and its own argv[0], and
 * a line cut short (line 13).
 */
static void
write_inetd_conf(struct superd *d, const struct ports *p)
{
	sd_write(d, "inetd.conf",
	    "# inetd.conf as a Debian system has it\n"
	    "\n"
	    "127.0.0.1:\n"
	    "echo\tstream\ttcp\tnowait\troot\tinternal\n"
	    "echo\tdgram\tudp\twait\troot\tinternal\n"
	    "daytime\tstream\ttcp\tnowait\troot\tinternal\n"
	    "daytime\tdgram\tudp\twait\troot\tinternal\n"
	    "#discard\tstream\ttcp\tnowait\troot\tinternal\n"
	    "%d\tstream\ttcp\tnowait\troot\t/usr/sbin/tcpd\t/bin/echo "
	    "wrapped-by-tcpd\n"
	    "%d\tstream\ttcp\tnowait.120\tnobody:nogroup\t/bin/sh\tsh -c "
	    "id\n"
	    "# the next line lost its program\n"
	    "\n"
	    "broken\tstream\ttcp\tnowait\n",
	    p->wrapped, p->nobody);
}

static int
import_inetd_conf(struct superd *d, char *out, char *err)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/inetd.conf", d->dir);
	return imp_run(d, path, out, BIG, err, BIG);
}

static void
test_import_inetd_conf_prints_each_service(void **state)
{
	struct superd *d = *state;
	struct ports p = {free_port(), free_port()};
	char *out = malloc(BIG), *err = malloc(BIG), want[512];

	write_inetd_conf(d, &p);
	assert_int_equal(import_inetd_conf(d, out, err), 1);
	snprintf(want, sizeof(want),
	    "%s/inetd.conf:13: expected service, socket type, protocol, "
	    "wait, user and program\n",
	    d->dir);
	assert_string_equal(err, want);
	assert_has(out, "imported by superd -I from the inetd.conf");
	assert_has(out, "#   user  superd's loop and scripts run as this user");
	assert_has(out, "  # ");
	assert_has(out, "inetd.conf:4,5\n  {\n    name = \"echo\";\n"
			"    port = 7;\n    address = \"127.0.0.1\";\n"
			"    protocol = [\"tcp\", \"udp\"];\n"
			"    script = \"echo.lua\";\n  },\n");
	assert_has(out, "    name = \"daytime\";\n    port = 13;\n");
	assert_has(out, "    script = \"daytime.lua\";\n");
	assert_null(strstr(out, "discard"));
	assert_has(out, "    name = \"echo-2\";\n");
	assert_has(out, "    exec = [\"/bin/echo\", \"wrapped-by-tcpd\"];\n"
			"    user = \"root\";\n"
			"    # inetd ran it through tcpd: hosts.allow and "
			"hosts.deny are not applied; put their rules in "
			"only_from and no_access\n");
	assert_has(out, "    name = \"sh\";\n");
	assert_has(out,
	    "    exec = [\"/bin/sh\", \"-c\", \"id\"];\n"
	    "    user = \"nobody\";\n    group = \"nogroup\";\n"
	    "    rate = 2;\n"
	    "    # inetd \"nowait.120\" allows 120 a minute; superd's "
	    "rate counts a second: 120/60, rounded up\n"
	    "  }\n  # "); /* the last service: no comma */
	assert_has(out, "inetd.conf:13: not imported: expected service, "
			"socket type, protocol, wait, user and program:\n");
	assert_has(out, "inetd.conf:13:   broken\tstream\ttcp\tnowait\n);\n");
	free(out);
	free(err);
}

/* The internal services' well-known ports, moved to free ones. */
static void
move_port(char *out, int from, int to)
{
	char a[32], b[32];

	snprintf(a, sizeof(a), "port = %d;", from);
	snprintf(b, sizeof(b), "port = %d;", to);
	imp_subst(out, BIG, a, b);
}

static void
expect_program(int port, const char *want)
{
	char buf[256];
	int fd = tcp_connect(port);
	ssize_t n;

	assert_true(fd >= 0);
	n = recv_all(fd, buf, sizeof(buf) - 1, 3000);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	assert_has(buf, want);
}

static void
test_import_inetd_output_passes_check_and_serves(void **state)
{
	struct superd *d = *state;
	struct ports p = {free_port(), free_port()};
	char *out = malloc(BIG), *err = malloc(BIG), reply[128];
	int echo = free_port(), daytime = free_port(), fd;

	write_inetd_conf(d, &p);
	assert_int_equal(import_inetd_conf(d, out, err), 1);
	move_port(out, 7, echo);
	move_port(out, 13, daytime);
	imp_use(d, out, BIG);
	if (imp_check(d, err, BIG) < 0)
		fail_msg("superd -t refused the import:\n%s\n%s", err, out);
	sd_started(d, echo);
	assert_int_equal(
	    ask(echo, "imported echo\n", reply, sizeof(reply), 3000), 14);
	assert_string_equal(reply, "imported echo\n");
	assert_int_equal(
	    udp_exchange(echo, "ping", 4, reply, sizeof(reply), 3000), 4);
	assert_true((fd = tcp_connect(daytime)) >= 0);
	assert_true(recv_line(fd, reply, sizeof(reply), 3000) > 10);
	close(fd);
	expect_program(p.wrapped, "wrapped-by-tcpd\n");
	if (getuid() == 0)
		expect_program(p.nobody, "(nobody) gid=65534(nogroup)");
	else
		expect_program(p.nobody, "uid=");
	assert_int_equal(sd_stop(d), 0);
	free(out);
	free(err);
}

/*
 * inetd's tftp line: UDP and wait, which superd hands the listening
 * socket; in.tftpd answers a real tftp client through it.
 */
static void
test_import_inetd_udp_wait_line_serves_tftp(void **state)
{
	struct superd *d = *state;
	char *out = malloc(BIG), *err = malloc(BIG), path[256], got[64];
	char cmd[1024];
	int port = free_port(), probe = free_port();

	if (access("/usr/sbin/in.tftpd", X_OK) < 0 ||
	    access("/usr/bin/tftp", X_OK) < 0) {
		printf("skipped: needs tftpd-hpa and tftp-hpa\n");
		goto done;
	}
	sd_write(d, "hello.txt", "hello over imported tftp\n");
	chmod(d->dir, 0755); /* in.tftpd serves it as nobody */
	snprintf(path, sizeof(path), "%s/hello.txt", d->dir);
	chmod(path, 0644);
	sd_write(d, "inetd.conf",
	    "127.0.0.1:%d dgram udp wait root /usr/sbin/in.tftpd in.tftpd "
	    "-t 1 -s %s\n"
	    "127.0.0.1:echo stream tcp nowait root internal\n",
	    port, d->dir);
	snprintf(path, sizeof(path), "%s/inetd.conf", d->dir);
	assert_int_equal(imp_run(d, path, out, BIG, err, BIG), 0);
	assert_string_equal(err, "");
	assert_has(out, "    protocol = \"udp\";\n"
			"    exec = [\"/usr/sbin/in.tftpd\", \"-t\", \"1\", ");
	assert_has(out, "    user = \"root\";\n    wait = true;\n");
	assert_null(strstr(out, "argv0"));
	move_port(out, 7, probe);
	imp_use(d, out, BIG);
	if (imp_check(d, err, BIG) < 0)
		fail_msg("superd -t refused the import:\n%s\n%s", err, out);
	sd_started(d, probe);
	snprintf(cmd, sizeof(cmd),
	    "cd %s && timeout 10 /usr/bin/tftp 127.0.0.1 %d -m binary "
	    "-c get hello.txt got.txt",
	    d->dir, port);
	assert_int_equal(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/got.txt", d->dir);
	read_text(path, got, sizeof(got));
	assert_string_equal(got, "hello over imported tftp\n");
	assert_int_equal(sd_stop(d), 0);
done:
	free(out);
	free(err);
}

/*
 * Debian's finger line, tcpd and all: in.fingerd runs directly, as
 * nobody, and answers a query.
 */
static void
test_import_debian_finger_line_answers_finger(void **state)
{
	struct superd *d = *state;
	char *out = malloc(BIG), *err = malloc(BIG), path[256], reply[4096];
	int port = free_port(), fd;
	ssize_t n;

	if (access("/usr/sbin/in.fingerd", X_OK) < 0 ||
	    access("/usr/bin/finger", X_OK) < 0) {
		printf("skipped: needs fingerd and finger\n");
		goto done;
	}
	sd_write(d, "inetd.conf",
	    "finger\tstream\ttcp\tnowait\tnobody\t/usr/sbin/tcpd\t"
	    "/usr/sbin/in.fingerd\n");
	snprintf(path, sizeof(path), "%s/inetd.conf", d->dir);
	assert_int_equal(imp_run(d, path, out, BIG, err, BIG), 0);
	assert_string_equal(err, "");
	assert_has(out, "  {\n    name = \"finger\";\n    port = 79;\n"
			"    address = \"0.0.0.0\";\n    protocol = \"tcp\";\n"
			"    exec = [\"/usr/sbin/in.fingerd\"];\n"
			"    user = \"nobody\";\n"
			"    # inetd ran it through tcpd: ");
	move_port(out, 79, port);
	imp_use(d, out, BIG);
	if (imp_check(d, err, BIG) < 0)
		fail_msg("superd -t refused the import:\n%s\n%s", err, out);
	sd_started(d, port);
	assert_true((fd = tcp_connect(port)) >= 0);
	assert_int_equal(send_str(fd, "root\r\n"), 0);
	n = recv_all(fd, reply, sizeof(reply) - 1, 5000);
	close(fd);
	reply[n > 0 ? n : 0] = '\0';
	assert_has(reply, "Login: root");
	assert_int_equal(sd_stop(d), 0);
done:
	free(out);
	free(err);
}

/* A directory tree nobody may read: rsync serves modules as nobody. */
static void
rsync_module(struct superd *d)
{
	char path[256];

	chmod(d->dir, 0755);
	snprintf(path, sizeof(path), "%s/pub", d->dir);
	mkdir(path, 0755);
	sd_write(d, "pub/through-superd.txt", "hello\n");
	snprintf(path, sizeof(path), "%s/pub/through-superd.txt", d->dir);
	chmod(path, 0644);
	sd_write(d, "rsyncd.conf",
	    "use chroot = no\n"
	    "log file = %s/rsyncd.log\n"
	    "[pub]\n"
	    "  path = %s/pub\n"
	    "  comment = imported by superd\n"
	    "  read only = yes\n",
	    d->dir, d->dir);
}

/* rsync's inetd line, with its own argv[0]: a client lists the module. */
static void
test_import_rsync_line_lists_modules(void **state)
{
	struct superd *d = *state;
	char *out = malloc(BIG), *err = malloc(BIG), path[256], url[64];
	char *argv[] = {"/usr/bin/rsync", url, NULL};
	int port = free_port();

	if (access("/usr/bin/rsync", X_OK) < 0) {
		printf("skipped: needs rsync\n");
		goto done;
	}
	rsync_module(d);
	sd_write(d, "inetd.conf",
	    "rsync stream tcp nowait root /usr/bin/rsync rsyncd --daemon "
	    "--config=%s/rsyncd.conf\n",
	    d->dir);
	snprintf(path, sizeof(path), "%s/inetd.conf", d->dir);
	assert_int_equal(imp_run(d, path, out, BIG, err, BIG), 0);
	assert_has(out, "    port = 873;\n");
	assert_has(out, "    exec = [\"/usr/bin/rsync\", \"--daemon\", "
			"\"--config=");
	assert_has(out, "    argv0 = \"rsyncd\";\n    user = \"root\";\n");
	move_port(out, 873, port);
	imp_use(d, out, BIG);
	if (imp_check(d, err, BIG) < 0)
		fail_msg("superd -t refused the import:\n%s\n%s", err, out);
	sd_started(d, port);
	snprintf(path, sizeof(path), "%s/rsync.out", d->dir);
	snprintf(url, sizeof(url), "rsync://127.0.0.1:%d/", port);
	assert_int_equal(run_for(argv, path, 10000), 0);
	read_text(path, err, BIG);
	assert_has(err, "pub");
	assert_has(err, "imported by superd");
	snprintf(url, sizeof(url), "rsync://127.0.0.1:%d/pub/", port);
	assert_int_equal(run_for(argv, path, 10000), 0);
	read_text(path, err, BIG);
	assert_has(err, "through-superd.txt");
	assert_int_equal(sd_stop(d), 0);
done:
	free(out);
	free(err);
}

/*
 * Every line that is not inetd.conf is an error of its own, the others
 * still come along; an internal service named by number is the one
 * /etc/services names, and one no script ships is a comment.
 */
static void
test_import_inetd_reports_every_bad_line(void **state)
{
	struct superd *d = *state;
	char *out = malloc(BIG), *err = malloc(BIG), path[256], want[2048];

	sd_write(d, "inetd.conf",
	    "127.0.0.1:9 stream tcp nowait root internal\n"
	    "finger stream udp nowait nobody /usr/sbin/in.fingerd\n"
	    "finger stream tcp sometimes nobody /usr/sbin/in.fingerd\n"
	    "finger stream tcp nowait nobody in.fingerd\n"
	    "finger pipe tcp nowait nobody /usr/sbin/in.fingerd\n"
	    "rstatd/1-3 dgram rpc/udp wait root /usr/sbin/rpc.rstatd r\n"
	    "tcpmux stream tcp nowait root internal\n"
	    "#<off># talk dgram udp wait nobody.tty /usr/sbin/in.talkd "
	    "in.talkd\n");
	snprintf(path, sizeof(path), "%s/inetd.conf", d->dir);
	assert_int_equal(imp_run(d, path, out, BIG, err, BIG), 1);
	snprintf(want, sizeof(want),
	    "%s:2: protocol \"udp\" does not go with the socket type\n"
	    "%s:3: \"sometimes\" is not wait or nowait[.max]\n"
	    "%s:4: program \"in.fingerd\" is not internal nor an absolute "
	    "path\n"
	    "%s:5: unknown socket type \"pipe\"\n",
	    path, path, path, path);
	assert_string_equal(err, want);
	assert_has(out, "    name = \"discard\";\n    port = 9;\n");
	assert_has(out, "    script = \"discard.lua\";\n");
	assert_has(out, "inetd.conf:6: inetd RPC service not carried over");
	assert_has(out, "inetd.conf:7: inetd's internal \"tcpmux\" not "
			"carried over: superd ships echo, discard, daytime, "
			"chargen and time\n");
	assert_has(out, "  # {\n  #   name = \"talk\";\n  #   port = 517;\n");
	assert_has(out, "  #   group = \"tty\";\n  #   wait = true;\n"
			"  #   # disabled by update-inetd (#<off>#)\n  # }\n");
	free(out);
	free(err);
}

/*
 * What superd may not have yet is still written as its settings say:
 * a unix socket's path, a port by name, and inetd's IPv6-only lines and
 * FreeBSD's limits, with their comments.
 */
static void
test_import_inetd_unix_socket_names_and_families(void **state)
{
	struct superd *d = *state;
	char *out = malloc(BIG), *err = malloc(BIG), path[256];

	sd_write(d, "inetd.conf",
	    "/run/superd-test.sock stream unix nowait root /bin/cat cat\n"
	    "no-such-service stream tcp nowait root /bin/cat cat\n"
	    "4711 stream tcp6 nowait/3/10/2 nobody /bin/cat cat\n"
	    "4712 stream tcp nowait root /bin/true true\n"
	    "4712 stream tcp6 nowait root /bin/true true\n");
	snprintf(path, sizeof(path), "%s/inetd.conf", d->dir);
	assert_int_equal(imp_run(d, path, out, BIG, err, BIG), 0);
	assert_has(out, "  {\n    name = \"cat\";\n"
			"    path = \"/run/superd-test.sock\";\n"
			"    exec = [\"/bin/cat\"];\n");
	assert_has(out, "    name = \"no-such-service\";\n"
			"    port = \"no-such-service\";\n");
	assert_has(out, "    # port \"no-such-service\" is not in "
			"/etc/services here: superd looks it up when it "
			"starts\n");
	assert_has(out, "    name = \"cat-2\";\n    port = 4711;\n"
			"    address = \"::\";\n    protocol = \"tcp\";\n");
	assert_has(out, "    max_connections = 3;\n    per_source = 2;\n");
	assert_has(out, "    # inetd \"nowait/3/10/2\": the limit of 10 a "
			"minute from one address is not carried over\n"
			"    # inetd listened on IPv6 only; superd's \"::\" "
			"takes IPv4 clients too\n");
	/* tcp and tcp6 lines of one program: one service on "::" */
	assert_has(out, "inetd.conf:4,5\n  {\n    name = \"true\";\n"
			"    port = 4712;\n    address = \"::\";\n"
			"    protocol = \"tcp\";\n");
	free(out);
	free(err);
}

/*
 * What superd -I makes of unix stream and datagram lines and a port by
 * name passes superd -t and serves: cat answers over the stream socket,
 * the named port (the importer looks it up in /etc/services) moved to a
 * free one answers over TCP, the datagram socket is made.
 */
static void
test_import_inetd_unix_socket_and_named_port_serve(void **state)
{
	struct superd *d = *state;
	char *out = malloc(BIG), *err = malloc(BIG), path[256], sock[256];
	char port[32], reply[64], dgram[256], want[512];
	int tcp = free_port(), fd;
	struct stat st;

	snprintf(sock, sizeof(sock), "%s/imported.sock", d->dir);
	snprintf(dgram, sizeof(dgram), "%s/dgram.sock", d->dir);
	sd_write(d, "inetd.conf",
	    "%s stream unix nowait root /bin/cat cat\n"
	    "echo stream tcp nowait root /bin/cat cat\n"
	    "%s dgram unix wait root /bin/cat cat\n",
	    sock, dgram);
	snprintf(path, sizeof(path), "%s/inetd.conf", d->dir);
	assert_int_equal(imp_run(d, path, out, BIG, err, BIG), 0);
	snprintf(port, sizeof(port), "port = %d;", tcp);
	snprintf(want, sizeof(want),
	    "    path = \"%s\";\n    protocol = \"udp\";\n", dgram);
	assert_has(out, want);
	imp_subst(out, BIG, "port = 7;", port);
	imp_use(d, out, BIG);
	if (imp_check(d, err, BIG) < 0)
		fail_msg("superd -t refused the import:\n%s\n%s", err, out);
	sd_started(d, tcp);
	assert_int_equal(ask(tcp, "by tcp\n", reply, sizeof(reply), 3000), 7);
	assert_true((fd = unix_connect(sock)) >= 0);
	assert_int_equal(write(fd, "by unix\n", 8), 8);
	assert_int_equal(recv_line(fd, reply, sizeof(reply), 3000), 8);
	assert_string_equal(reply, "by unix\n");
	close(fd);
	assert_int_equal(lstat(dgram, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(sd_stop(d), 0);
	free(out);
	free(err);
}

/* Neither a file nor a directory there: an error, nothing printed. */
static void
test_import_unreadable_file_is_an_error(void **state)
{
	struct superd *d = *state;
	char out[256], err[512], path[256], want[512];

	snprintf(path, sizeof(path), "%s/no-such-inetd.conf", d->dir);
	assert_int_equal(
	    imp_run(d, path, out, sizeof(out), err, sizeof(err)), 1);
	snprintf(want, sizeof(want),
	    "%s:0: cannot read: No such file or directory\n", path);
	assert_string_equal(err, want);
	assert_string_equal(out, "");
}

#define T(f) cmocka_unit_test_setup_teardown(f, sd_setup, sd_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_import_inetd_conf_prints_each_service),
	    T(test_import_inetd_output_passes_check_and_serves),
	    T(test_import_inetd_udp_wait_line_serves_tftp),
	    T(test_import_debian_finger_line_answers_finger),
	    T(test_import_rsync_line_lists_modules),
	    T(test_import_inetd_reports_every_bad_line),
	    T(test_import_inetd_unix_socket_names_and_families),
	    T(test_import_inetd_unix_socket_and_named_port_serve),
	    T(test_import_unreadable_file_is_an_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
