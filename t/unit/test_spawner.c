/*
 * test_spawner.c - the spawner starts only the programs of its own
 * configuration's exec services, signals only what it started, tells
 * the event loop when they end, removes only the socket files the loop
 * made at its configuration's paths, and opens only its TLS services'
 * certificate and key files.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf.h"
#include "loop.h"
#include "spawner.h"

static char dir[64];
static struct conf *conf;
static pid_t ended_pid;
static int ended_status;

/* The program, in the spawner's child: names its service on fd. */
static void
run(const struct conf *c, const struct svc_conf *v, int fd,
    const union net_addr *peer, const struct child_tls *tls)
{
	char line[128];
	int n;

	(void)c;
	(void)tls;
	n = snprintf(line, sizeof(line), "%s %s\n", v->name,
	    peer ? "client" : "listening");
	if (write(fd, line, (size_t)n) < 0)
		_exit(1);
	_exit(7);
}

static void
ended(pid_t pid, int status)
{
	ended_pid = pid;
	ended_status = status;
}

static void
write_file(const char *name, const char *text)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int
setup(void **state)
{
	char path[128], err[CONF_ERRLEN];

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/superd-spawner.XXXXXX");
	assert_non_null(mkdtemp(dir));
	write_file("x.lua", "function main(s) end\n");
	write_file("superd.conf",
	    "script_dir = \".\";\n"
	    "services = (\n"
	    " { name = \"prog\"; port = 7; exec = [\"/bin/true\"]; },\n"
	    " { name = \"lua\"; port = 9; script = \"x.lua\"; },\n"
	    " { name = \"unix\"; path = \"u.sock\"; script = \"x.lua\"; },\n"
	    " { name = \"sec\"; port = 11; script = \"x.lua\";\n"
	    "   tls = { certificate = \"c.pem\"; key = \"k.pem\"; }; }\n"
	    ");\n");
	write_file("k.pem", "the key\n");
	snprintf(path, sizeof(path), "%s/superd.conf", dir);
	conf = conf_load(path, err, sizeof(err));
	if (conf == NULL)
		fail_msg("%s", err);
	assert_int_equal(spawner_start(conf, run, ended), 0);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	spawner_stop();
	conf_free(conf);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
test_starts_an_exec_service_and_tells_its_end(void **state)
{
	union net_addr peer = {0};
	char line[128] = "";
	int sv[2];
	pid_t pid;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid = spawner_exec("prog", sv[0], &peer, NULL);
	close(sv[0]);
	assert_true(pid > 0);
	assert_true(read(sv[1], line, sizeof(line) - 1) > 0);
	assert_string_equal(line, "prog client\n");
	close(sv[1]);
	/* the end comes unasked, or before the answer to the next ask */
	ended_pid = 0;
	usleep(200000);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_true(spawner_exec("prog", sv[0], NULL, NULL) > 0);
	close(sv[0]);
	close(sv[1]);
	assert_int_equal(ended_pid, pid);
	assert_true(WIFEXITED(ended_status));
	assert_int_equal(WEXITSTATUS(ended_status), 7);
}

static void
test_refuses_what_is_not_an_exec_service(void **state)
{
	union net_addr peer = {0};
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	errno = 0;
	assert_int_equal(spawner_exec("lua", sv[0], &peer, NULL), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(spawner_exec("nothing", sv[0], &peer, NULL), -1);
	assert_int_equal(errno, EPERM);
	close(sv[0]);
	close(sv[1]);
}

/* kill(2) of a process it did not start is refused: this one lives. */
static void
test_signals_only_what_it_started(void **state)
{
	pid_t other = fork();
	int status;

	(void)state;
	if (other == 0) {
		pause();
		_exit(0);
	}
	assert_int_equal(spawner_kill(other, SIGKILL), 0);
	usleep(200000);
	assert_int_equal(waitpid(other, &status, WNOHANG), 0);
	kill(other, SIGKILL);
	waitpid(other, &status, 0);
}

/* A socket file at dir/name, as the loop records it. */
static void
socket_file(const char *name, char *path, size_t len, struct unixsock_id *id)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct stat st;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(path, len, "%s/%s", dir, name);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
	assert_int_equal(lstat(path, &st), 0);
	id->dev = st.st_dev;
	id->ino = st.st_ino;
}

static void
test_removes_only_a_configured_socket_file_the_loop_made(void **state)
{
	char mine[128], other[128];
	struct unixsock_id a, b, wrong;
	struct stat st;

	(void)state;
	socket_file("u.sock", mine, sizeof(mine), &a);
	socket_file("other.sock", other, sizeof(other), &b);
	wrong = a;
	wrong.ino++;
	assert_int_equal(spawner_unlink(other, &b), 0);
	assert_int_equal(spawner_unlink(mine, &wrong), 0);
	usleep(200000);
	assert_int_equal(lstat(other, &st), 0);
	assert_int_equal(lstat(mine, &st), 0);
	assert_int_equal(spawner_unlink(mine, &a), 0);
	usleep(200000);
	assert_int_equal(lstat(mine, &st), -1);
	assert_int_equal(lstat(other, &st), 0);
}

/* What spawner_open gave for dir's file: its text, or "" when refused. */
static void
opened(const char *name, char *out, size_t len)
{
	char path[128];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s%s", dir, name);
	out[0] = '\0';
	if ((fd = spawner_open(path)) < 0)
		return;
	n = read(fd, out, len - 1);
	out[n > 0 ? n : 0] = '\0';
	close(fd);
}

static void
test_opens_only_the_tls_files_of_its_configuration(void **state)
{
	char got[64];

	(void)state;
	opened("/k.pem", got, sizeof(got));
	assert_string_equal(got, "the key\n");
	/* not a TLS file: refused, whatever it is */
	assert_int_equal(spawner_open("/etc/passwd"), -1);
	assert_int_equal(errno, EPERM);
	opened("/superd.conf", got, sizeof(got));
	assert_string_equal(got, "");
	opened("/x.lua", got, sizeof(got));
	assert_string_equal(got, "");
	/* a file the configuration names since: as a SIGHUP reads it */
	write_file("new.key", "renewed\n");
	write_file("superd.conf",
	    "script_dir = \".\";\n"
	    "services = ({ name = \"sec\"; port = 11; script = \"x.lua\";\n"
	    "   tls = { certificate = \"c.pem\"; key = \"new.key\"; }; });\n");
	opened("/new.key", got, sizeof(got));
	assert_string_equal(got, "renewed\n");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		test_starts_an_exec_service_and_tells_its_end, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_refuses_what_is_not_an_exec_service, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_signals_only_what_it_started, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_removes_only_a_configured_socket_file_the_loop_made, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(
		test_opens_only_the_tls_files_of_its_configuration, setup,
		teardown),
	};

	if (loop_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
