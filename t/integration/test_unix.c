/*
 * test_unix.c - services on unix-domain sockets: served over AF_UNIX,
 * the socket file's mode and owner, a stale file replaced, a live one or
 * a file that is not a socket refused, the file removed on stop and when
 * SIGHUP drops the service, the peer's credentials (getpeercred, the
 * exec environment, per_source per uid); and ports named by
 * /etc/services, as superd -t sees them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <grp.h>
#include <netdb.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client.h"

/* The first line says what to do: cred, name, or echo until the end. */
#define WHO_LUA                                                          \
	"function main(s)\n"                                             \
	"  local what = s:read()\n"                                      \
	"  if what == 'cred' then\n"                                     \
	"    local a, b, c = s:getpeercred()\n"                          \
	"    s:write(tostring(a), ' ', tostring(b), ' ', tostring(c),\n" \
	"      '\\n')\n"                                                 \
	"  elseif what == 'name' then\n"                                 \
	"    local a, b = s:getpeername()\n"                             \
	"    local c, d = s:getsockname()\n"                             \
	"    s:write(a, ' ', b, ' ', c, ' ', d, ' ', s:protocol(),\n"    \
	"      ' ', tostring(s):match('^socket [^#]*'), '\\n')\n"        \
	"  else\n"                                                       \
	"    for l in s:lines() do s:write(l, '\\n') end\n"              \
	"  end\n"                                                        \
	"end\n"

static void
sock_path(struct superd *d, char *out, size_t len)
{
	snprintf(out, len, "%s/who.sock", d->dir);
}

/*
 * superd.conf: service "who" on the unix socket who.sock in d's directory
 * (line 5) with the extra settings, running who.lua unless they name an
 * exec, and "probe" running who.lua on a TCP port: that port.
 */
static int
conf_who(struct superd *d, const char *extra)
{
	char script[300] = "";
	int port = free_port();

	if (strstr(extra, "exec =") == NULL)
		snprintf(script, sizeof(script), " script = \"%s/who.lua\";",
		    d->dir);
	sd_write(d, "who.lua", "%s", WHO_LUA);
	sd_conf(d, "shutdown_timeout = 1;",
	    "{ name = \"who\"; path = \"%s/who.sock\";%s %s },\n"
	    "{ name = \"probe\"; port = %d; address = \"127.0.0.1\";"
	    " script = \"%s/who.lua\"; }",
	    d->dir, script, extra, port, d->dir);
	return port;
}

/* Started on conf_who's configuration (the probe port shows it serves). */
static void
start_who(struct superd *d, const char *extra)
{
	sd_started(d, conf_who(d, extra));
}

/* A client of who.sock that sent what as its first line. */
static int
who_conn(struct superd *d, const char *what)
{
	char path[256], line[64];
	int fd;

	sock_path(d, path, sizeof(path));
	fd = unix_connect(path);
	assert_true(fd >= 0);
	snprintf(line, sizeof(line), "%s\n", what);
	assert_int_equal(send_str(fd, line), 0);
	return fd;
}

/* An echo on the connection: ping answered. */
static int
echoes(int fd)
{
	return served(fd);
}

static void
test_lua_echo_serves_a_client_over_af_unix(void **state)
{
	struct superd *d = *state;
	char needle[128], line[512];
	int fd;

	start_who(d, "");
	fd = who_conn(d, "echo");
	assert_int_equal(send_str(fd, "hello over unix\n"), 0);
	assert_int_equal(expect_line(fd, "hello over unix\n"), 0);
	close(fd);
	snprintf(needle, sizeof(needle),
	    "who: unix uid %u pid %d: ", (unsigned)getuid(), (int)getpid());
	assert_int_equal(
	    sd_log_wait_line(d, needle, line, sizeof(line), 3000), 0);
	assert_non_null(strstr(line, "closed by peer"));
	assert_int_equal(sd_stop(d), 0);
}

static void
test_getpeercred_gives_the_clients_pid_uid_gid(void **state)
{
	struct superd *d = *state;
	char want[64], line[128];
	int fd, port;

	port = conf_who(d, "");
	sd_started(d, port);
	fd = who_conn(d, "cred");
	snprintf(want, sizeof(want), "%d %u %u\n", (int)getpid(),
	    (unsigned)geteuid(), (unsigned)getegid());
	assert_true(recv_line(fd, line, sizeof(line), 3000) > 0);
	assert_string_equal(line, want);
	close(fd);

	/* the same script on TCP */
	fd = connect_ok(port);
	assert_int_equal(send_str(fd, "cred\n"), 0);
	assert_true(recv_line(fd, line, sizeof(line), 3000) > 0);
	assert_string_equal(line, "nil not a unix socket nil\n");
	close(fd);
	assert_int_equal(sd_stop(d), 0);
}

static void
test_getpeername_gives_unix_and_the_path(void **state)
{
	struct superd *d = *state;
	char path[256], want[700], line[700];
	int fd;

	start_who(d, "");
	sock_path(d, path, sizeof(path));
	fd = who_conn(d, "name");
	snprintf(want, sizeof(want),
	    "unix %s unix %s unix socket unix uid %u pid %d \n", path, path,
	    (unsigned)getuid(), (int)getpid());
	assert_true(recv_line(fd, line, sizeof(line), 3000) > 0);
	assert_string_equal(line, want);
	close(fd);
	assert_int_equal(sd_stop(d), 0);
}

static void
test_socket_file_gets_the_mode_default_0666(void **state)
{
	struct superd *d = *state;
	char path[256];
	struct stat st;

	start_who(d, "mode = \"0640\";");
	sock_path(d, path, sizeof(path));
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(sd_stop(d), 0);

	/* whatever the umask */
	umask(077);
	start_who(d, "");
	umask(022);
	assert_int_equal(lstat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0666);
	assert_int_equal(sd_stop(d), 0);
}

static void
test_socket_file_gets_owner_and_group(void **state)
{
	struct superd *d = *state;
	struct passwd *pw = getpwnam("nobody");
	struct group *gr = pw ? getgrgid(pw->pw_gid) : NULL;
	char path[256], extra[256];
	struct stat st;

	if (getuid() != 0 || pw == NULL || gr == NULL) {
		printf("skipped: needs root and a user nobody with a group\n");
		return;
	}
	snprintf(extra, sizeof(extra),
	    "owner = \"nobody\"; group = \"%s\"; mode = \"0660\";",
	    gr->gr_name);
	start_who(d, extra);
	sock_path(d, path, sizeof(path));
	assert_int_equal(lstat(path, &st), 0);
	assert_int_equal(st.st_uid, pw->pw_uid);
	assert_int_equal(st.st_gid, gr->gr_gid);
	assert_int_equal(st.st_mode & 07777, 0660);
	assert_int_equal(sd_stop(d), 0);
}

static void
test_stale_socket_file_is_replaced(void **state)
{
	struct superd *d = *state;
	char path[256];
	int fd;

	sock_path(d, path, sizeof(path));
	/* a crashed server's: bound, nobody accepting */
	fd = unix_bound(path, 0);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(unix_connect(path), -1);
	assert_int_equal(errno, ECONNREFUSED);
	start_who(d, "");
	fd = who_conn(d, "echo");
	assert_true(echoes(fd));
	close(fd);
	assert_int_equal(sd_stop(d), 0);
}

static void
test_live_socket_at_the_path_is_in_use(void **state)
{
	struct superd *d = *state;
	char path[256], text[4096], want[512];
	int live, fd;

	sock_path(d, path, sizeof(path));
	live = unix_bound(path, 1);
	assert_true(live >= 0);
	assert_int_equal(sd_start(d, conf_who(d, "")), -1);
	assert_true(WIFEXITED(d->status));
	assert_int_equal(WEXITSTATUS(d->status), 1);
	read_text(d->log, text, sizeof(text));
	snprintf(want, sizeof(want),
	    "%s:5: service \"who\": cannot listen on %s: a live socket",
	    d->conf, path);
	assert_has(text, want);
	/* the other server's socket is left alone */
	fd = unix_connect(path);
	assert_true(fd >= 0);
	close(fd);
	close(live);
}

static void
test_file_at_the_path_that_is_not_a_socket_is_an_error(void **state)
{
	struct superd *d = *state;
	char path[256], out[4096], want[512];

	sock_path(d, path, sizeof(path));
	conf_who(d, "");
	sd_write(d, "who.sock", "not a socket\n");
	snprintf(want, sizeof(want),
	    "%s:5: \"path\": %s exists and is not a socket", d->conf, path);
	assert_int_equal(
	    sd_run(d, out, sizeof(out), "-t", "-c", d->conf, NULL), 1);
	assert_has(out, want);
	assert_int_equal(sd_run(d, out, sizeof(out), "-c", d->conf, NULL), 1);
	assert_has(out, want);
	read_text(path, out, sizeof(out));
	assert_string_equal(out, "not a socket\n");
}

/*
 * 1 once nothing is at path, within ms: the spawner that removes a file
 * for superd may do it just after superd has exited.
 */
static int
gone_within(const char *path, int ms)
{
	long end = now_ms() + ms;
	struct stat st;
	int gone;

	while (
	    !(gone = lstat(path, &st) < 0 && errno == ENOENT) && now_ms() < end)
		usleep(10000);
	return gone;
}

static void
test_file_removed_on_sigterm(void **state)
{
	struct superd *d = *state;
	char path[256];
	struct stat st;

	start_who(d, "");
	sock_path(d, path, sizeof(path));
	assert_int_equal(lstat(path, &st), 0);
	assert_int_equal(sd_stop(d), 0);
	assert_true(gone_within(path, 2000));
}

/* The probe service alone, on the same port: SIGHUP drops "who". */
static void
drop_who(struct superd *d, int port)
{
	sd_conf(d, "shutdown_timeout = 1;",
	    "{ name = \"probe\"; port = %d; address = \"127.0.0.1\";"
	    " script = \"%s/who.lua\"; }",
	    port, d->dir);
}

/* "who" again, in dir, beside the probe. */
static void
readd_who(struct superd *d, const char *dir, int port)
{
	sd_conf(d, "shutdown_timeout = 1;",
	    "{ name = \"who\"; path = \"%s/who.sock\"; script = "
	    "\"%s/who.lua\"; },\n{ name = \"probe\"; port = %d; address = "
	    "\"127.0.0.1\"; script = \"%s/who.lua\"; }",
	    dir, d->dir, port, d->dir);
}

/*
 * Removed by superd, or, for a file it made as root in root's directory,
 * by the spawner that kept root for it.
 */
static void
test_file_removed_when_sighup_drops_the_service(void **state)
{
	struct superd *d = *state;
	char path[256], run[200];
	int port, fd;

	port = conf_who(d, "");
	sd_started(d, port);
	sock_path(d, path, sizeof(path));
	fd = who_conn(d, "echo");
	assert_true(echoes(fd));
	drop_who(d, port);
	assert_int_equal(sd_signal(d, SIGHUP), 0);
	assert_int_equal(sd_log_wait(d, "removed service \"who\"", 1, 3000), 1);
	assert_true(gone_within(path, 3000));
	/* the open connection finishes */
	assert_true(echoes(fd));
	close(fd);

	/*
	 * and back.  Started as root, superd serves as nobody, who may not
	 * make a file in root's directory: that SIGHUP fails, as one for a
	 * port below 1024 does; one in a directory nobody may write works.
	 */
	if (getuid() == 0) {
		readd_who(d, d->dir, port);
		assert_int_equal(sd_signal(d, SIGHUP), 0);
		assert_int_equal(
		    sd_log_wait(d, "keeping the running", 1, 3000), 1);
		assert_int_equal(sd_log_count(d, "cannot listen on"), 1);
	}
	snprintf(run, sizeof(run), "%s/run", d->dir);
	assert_int_equal(mkdir(run, 0777), 0);
	assert_int_equal(chmod(run, 0777), 0);
	readd_who(d, run, port);
	assert_int_equal(sd_signal(d, SIGHUP), 0);
	assert_int_equal(sd_log_wait(d, "added service \"who\"", 1, 3000), 1);
	snprintf(path, sizeof(path), "%s/who.sock", run);
	fd = unix_connect(path);
	assert_true(fd >= 0);
	assert_int_equal(send_str(fd, "echo\n"), 0);
	assert_true(echoes(fd));
	close(fd);
	assert_int_equal(sd_stop(d), 0);
	assert_true(gone_within(path, 2000));
}

static void
test_sighup_keeps_the_socket_and_applies_a_new_mode(void **state)
{
	struct superd *d = *state;
	struct stat before, after;
	char path[256], extra[128];
	const char *owner;
	int port, fd;

	/* once root is given up, only the file's owner may change its mode */
	owner = getuid() == 0 ? " owner = \"nobody\";" : "";
	snprintf(extra, sizeof(extra), "mode = \"0660\";%s", owner);
	port = conf_who(d, extra);
	sd_started(d, port);
	sock_path(d, path, sizeof(path));
	assert_int_equal(lstat(path, &before), 0);
	fd = who_conn(d, "echo");
	assert_true(echoes(fd));
	sd_conf(d, "shutdown_timeout = 1;",
	    "{ name = \"who\"; path = \"%s/who.sock\"; mode = \"0600\";%s"
	    " script = \"%s/who.lua\"; },\n{ name = \"probe\"; port = %d;"
	    " address = \"127.0.0.1\"; script = \"%s/who.lua\"; }",
	    d->dir, owner, d->dir, port, d->dir);
	assert_int_equal(sd_signal(d, SIGHUP), 0);
	assert_int_equal(
	    sd_log_wait(d, "changed service \"who\": mode", 1, 3000), 1);
	assert_int_equal(lstat(path, &after), 0);
	assert_int_equal(after.st_ino, before.st_ino);
	assert_int_equal(after.st_mode & 07777, 0600);
	assert_true(echoes(fd));
	close(fd);
	fd = who_conn(d, "echo");
	assert_true(echoes(fd));
	close(fd);
	assert_int_equal(sd_stop(d), 0);
}

static void
test_exec_gets_proto_unix_and_the_clients_credentials(void **state)
{
	struct superd *d = *state;
	char buf[8192], want[5][300], path[256], needle[128], line[512];
	int fd, i;
	ssize_t n;

	start_who(d, "exec = [\"/usr/bin/env\"];");
	sock_path(d, path, sizeof(path));
	fd = unix_connect(path);
	assert_true(fd >= 0);
	n = recv_all(fd, buf, sizeof(buf) - 1, 3000);
	close(fd);
	assert_true(n > 0);
	buf[n] = '\0';
	snprintf(want[0], sizeof(want[0]), "\nPROTO=UNIX\n");
	snprintf(
	    want[1], sizeof(want[1]), "\nUNIXREMOTEPID=%d\n", (int)getpid());
	snprintf(want[2], sizeof(want[2]), "\nUNIXREMOTEEUID=%u\n",
	    (unsigned)geteuid());
	snprintf(want[3], sizeof(want[3]), "\nUNIXREMOTEEGID=%u\n",
	    (unsigned)getegid());
	snprintf(want[4], sizeof(want[4]), "\nUNIXLOCALPATH=%s\n", path);
	memmove(buf + 1, buf, n + 1);
	buf[0] = '\n';
	for (i = 0; i < 5; i++)
		if (strstr(buf, want[i]) == NULL)
			fail_msg(
			    "the environment lacks %s:%s", want[i] + 1, buf);
	assert_null(strstr(buf, "TCPREMOTEIP="));
	snprintf(needle, sizeof(needle),
	    "who: unix uid %u pid %d: ", (unsigned)getuid(), (int)getpid());
	assert_int_equal(
	    sd_log_wait_line(d, needle, line, sizeof(line), 3000), 0);
	assert_non_null(strstr(line, "exit status 0"));
	assert_int_equal(sd_stop(d), 0);
}

/* systemd's socket: matched by its path, served, and left to systemd. */
static void
test_socket_passed_by_systemd_is_served_and_left_in_place(void **state)
{
	struct superd *d = *state;
	char path[256];
	struct stat st;
	int port, passed, fd;

	sock_path(d, path, sizeof(path));
	passed = unix_bound(path, 1);
	assert_true(passed >= 0);
	port = conf_who(d, "mode = \"0600\";");
	d->pid = sd_start_activated(d, passed, -1);
	close(passed);
	assert_int_equal(wait_port(port, 10000), 0);
	fd = who_conn(d, "echo");
	assert_true(echoes(fd));
	close(fd);
	assert_int_equal(sd_log_count(d, "matches no service"), 0);
	assert_int_equal(sd_stop(d), 0);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
}

/* A wait program takes the listening unix socket itself (on 0 and 3). */
#define ACCEPT_PY                                             \
	"import os, socket\n"                                 \
	"s = socket.socket(fileno=3)\n"                       \
	"c, _ = s.accept()\n"                                 \
	"c.send(('took it, LISTEN_FDS=%s\\n'\n"               \
	"        % os.environ.get('LISTEN_FDS')).encode())\n" \
	"c.close()\n"

static void
test_wait_service_gets_the_unix_listening_socket(void **state)
{
	struct superd *d = *state;
	char extra[512], path[256], line[384];
	int fd;

	if (access("/usr/bin/python3", X_OK) != 0) {
		printf("skipped: needs /usr/bin/python3 as the wait program\n");
		return;
	}
	sd_write(d, "accept.py", "%s", ACCEPT_PY);
	snprintf(extra, sizeof(extra),
	    "wait = true; exec = [\"/usr/bin/python3\", \"%s/accept.py\"];",
	    d->dir);
	start_who(d, extra);
	sock_path(d, path, sizeof(path));
	fd = unix_connect(path);
	assert_true(fd >= 0);
	assert_true(recv_line(fd, line, sizeof(line), 5000) > 0);
	assert_string_equal(line, "took it, LISTEN_FDS=1\n");
	close(fd);
	snprintf(line, sizeof(line), "who: wait %s: ", path);
	assert_int_equal(sd_log_wait(d, line, 1, 3000), 1);
	assert_int_equal(sd_stop(d), 0);
}

/* The wait program of a unix datagram socket: one reply, then it exits. */
#define REPLY_PY                                     \
	"import os, socket\n"                        \
	"s = socket.socket(fileno=0)\n"              \
	"d, peer = s.recvfrom(512)\n"                \
	"s.sendto(b'got ' + d + b' LISTEN_FDS=' +\n" \
	"    os.environ['LISTEN_FDS'].encode(), peer)\n"

/*
 * protocol = "udp" on a path: a unix datagram socket, its file as mode
 * says, handed to the wait program, watched again when it exits, and
 * removed at the stop.
 */
static void
test_wait_service_gets_a_unix_datagram_socket(void **state)
{
	struct superd *d = *state;
	char extra[512], path[256], self[300], reply[128], line[384];
	struct stat st;

	if (access("/usr/bin/python3", X_OK) != 0) {
		printf("skipped: needs /usr/bin/python3 as the wait program\n");
		return;
	}
	sd_write(d, "reply.py", "%s", REPLY_PY);
	snprintf(extra, sizeof(extra),
	    "protocol = \"udp\"; mode = \"0622\"; wait = true;"
	    " exec = [\"/usr/bin/python3\", \"%s/reply.py\"];",
	    d->dir);
	start_who(d, extra);
	sock_path(d, path, sizeof(path));
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0622);
	snprintf(self, sizeof(self), "%s/client.sock", d->dir);
	assert_true(
	    unix_dgram_ask(self, path, "one", reply, sizeof(reply), 5000) > 0);
	assert_string_equal(reply, "got one LISTEN_FDS=1");
	assert_true(
	    unix_dgram_ask(self, path, "two", reply, sizeof(reply), 5000) > 0);
	assert_string_equal(reply, "got two LISTEN_FDS=1");
	snprintf(line, sizeof(line), "who: wait %s: ", path);
	assert_int_equal(sd_log_wait(d, line, 2, 3000), 2);
	assert_int_equal(sd_stop(d), 0);
	assert_int_equal(lstat(path, &st), -1);
}

/* A client of path as user pw in a child process: 0 when it was served. */
static int
served_as(const char *path, const struct passwd *pw)
{
	pid_t pid = fork();
	int status, fd;

	if (pid == 0) {
		if (setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0)
			_exit(2);
		fd = unix_connect(path);
		if (fd < 0 || send_str(fd, "echo\n") < 0)
			_exit(3);
		_exit(served(fd) ? 0 : 4);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static void
test_per_source_counts_per_uid(void **state)
{
	struct superd *d = *state;
	struct passwd *pw = getpwnam("nobody");
	char path[256], needle[128], line[512];
	int a, b;

	start_who(d, "per_source = 1;");
	sock_path(d, path, sizeof(path));
	a = who_conn(d, "echo");
	assert_true(echoes(a));
	b = unix_connect(path);
	assert_true(b >= 0);
	assert_true(wait_closed(b, 2000));
	close(b);
	snprintf(needle, sizeof(needle),
	    "who: unix uid %u pid %d: refused: ", (unsigned)getuid(),
	    (int)getpid());
	assert_int_equal(
	    sd_log_wait_line(d, needle, line, sizeof(line), 2000), 0);
	assert_string_equal(strstr(line, "refused: ") + 9, "per_source");
	if (getuid() == 0 && pw != NULL && pw->pw_uid != 0) {
		/* another user is another source */
		assert_int_equal(chmod(d->dir, 0755), 0);
		assert_int_equal(served_as(path, pw), 0);
	} else {
		printf("skipped the second user: needs root and nobody\n");
	}
	assert_true(echoes(a));
	close(a);
	assert_int_equal(sd_stop(d), 0);
}

/* superd -t on one service whose port is name: its exit status, out. */
static int
check_port_name(struct superd *d, const char *name, char *out, size_t len)
{
	sd_write(d, "s.lua", "function main(s) end\n");
	sd_conf(d, "",
	    "{ name = \"named\"; port = \"%s\"; address = \"127.0.0.1\";"
	    " script = \"%s/s.lua\"; }",
	    name, d->dir);
	return sd_run(d, out, len, "-t", "-c", d->conf, NULL);
}

static void
test_port_by_name_from_etc_services(void **state)
{
	struct superd *d = *state;
	char out[4096], want[512];

	if (getservbyname("echo", "tcp") == NULL) {
		printf("skipped: no echo/tcp in /etc/services\n");
		return;
	}
	assert_int_equal(check_port_name(d, "echo", out, sizeof(out)), 0);
	assert_has(out, "configuration ok");
	assert_int_equal(
	    check_port_name(d, "no-such-service-x", out, sizeof(out)), 1);
	snprintf(want, sizeof(want),
	    "%s:5: \"port\": no service \"no-such-service-x\" for tcp",
	    d->conf);
	assert_has(out, want);
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, sd_setup, sd_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    TEST(test_lua_echo_serves_a_client_over_af_unix),
	    TEST(test_getpeercred_gives_the_clients_pid_uid_gid),
	    TEST(test_getpeername_gives_unix_and_the_path),
	    TEST(test_socket_file_gets_the_mode_default_0666),
	    TEST(test_socket_file_gets_owner_and_group),
	    TEST(test_stale_socket_file_is_replaced),
	    TEST(test_live_socket_at_the_path_is_in_use),
	    TEST(test_file_at_the_path_that_is_not_a_socket_is_an_error),
	    TEST(test_file_removed_on_sigterm),
	    TEST(test_file_removed_when_sighup_drops_the_service),
	    TEST(test_sighup_keeps_the_socket_and_applies_a_new_mode),
	    TEST(test_exec_gets_proto_unix_and_the_clients_credentials),
	    TEST(test_wait_service_gets_the_unix_listening_socket),
	    TEST(test_wait_service_gets_a_unix_datagram_socket),
	    TEST(test_per_source_counts_per_uid),
	    TEST(test_socket_passed_by_systemd_is_served_and_left_in_place),
	    TEST(test_port_by_name_from_etc_services),
	};
	if (getenv("TEST_FILTER") != NULL)
		cmocka_set_test_filter(getenv("TEST_FILTER"));
	return cmocka_run_group_tests_name("unix", tests, NULL, NULL);
}
