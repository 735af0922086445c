/*
 * test_reload.c - SIGHUP and SIGUSR1 on a running superd: services added,
 * removed and changed while open connections carry on; a bad file or a
 * failing script keeps what runs (one that loops is stopped by its
 * cpu_limit); reloads under load lose no connection and keep the
 * listening sockets.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client.h"

static void
assert_word(int port, const char *want)
{
	char buf[64];
	int fd = tcp_connect(port);

	assert_true(fd >= 0);
	assert_true(recv_line(fd, buf, sizeof(buf), 2000) > 0);
	close(fd);
	assert_string_equal(buf, want);
}

static void
test_sighup_adds_removes_changes_and_keeps_open_connection(void **state)
{
	struct superd *d = *state;
	char line[512], want[256];
	int pa = free_port(), pb = free_port(), pc = free_port(), b, fd, i;

	sd_write(d, "word.lua",
	    "function main(s) s:write(options.word, \"\\n\") end\n");
	sd_conf(d, "",
	    "{ name = \"a\"; port = %d; address = \"127.0.0.1\";"
	    " script = \"%s/word.lua\"; options = { word = \"before\"; }; },\n"
	    "{ name = \"b\"; port = %d; address = \"127.0.0.1\";"
	    " script = \"echo.lua\"; }",
	    pa, d->dir, pb);
	assert_int_equal(sd_start(d, pa), 0);
	assert_word(pa, "before\n");
	b = tcp_connect(pb);
	assert_true(served(b));

	sd_conf(d, "",
	    "{ name = \"a\"; port = %d; address = \"127.0.0.1\";"
	    " script = \"%s/word.lua\"; options = { word = \"after\"; }; },\n"
	    "{ name = \"c\"; port = %d; address = \"127.0.0.1\";"
	    " script = \"echo.lua\"; }",
	    pa, d->dir, pc);
	assert_int_equal(sd_signal(d, SIGHUP), 0);
	assert_int_equal(sd_log_wait_line(d, "SIGHUP: configuration", line,
			     sizeof(line), 5000),
	    0);
	assert_non_null(strstr(line, "loaded"));
	fd = tcp_connect(pc);
	assert_true(served(fd));
	close(fd);
	/* b stopped listening ... */
	for (i = 0; i < 50 && (fd = tcp_connect(pb)) >= 0; i++) {
		close(fd);
		usleep(20000);
	}
	assert_int_equal(fd, -1);
	/* ... but its open connection carries on */
	assert_true(served(b));
	close_and_wait(d, "b", b);
	assert_word(pa, "after\n");

	sd_write(d, "superd.conf",
	    "log = \"stderr\";\n"
	    "services = (\n"
	    "  this is not a setting\n"
	    ");\n");
	assert_int_equal(sd_signal(d, SIGHUP), 0);
	assert_int_equal(
	    sd_log_wait_line(d, "keeping the running configuration", line,
		sizeof(line), 5000),
	    0);
	snprintf(want, sizeof(want), "superd.conf:3");
	if (strstr(line, want) == NULL)
		fail_msg("expected %s in: %s", want, line);
	assert_word(pa, "after\n");
	fd = tcp_connect(pc);
	assert_true(served(fd));
	close(fd);
	assert_int_equal(sd_log_count(d, "SIGHUP: configuration"), 1);
	assert_int_equal(sd_stop(d), 0);
}

/* A reload raising a table is logged as such, not as "(null)". */
static void
test_reload_error_object_that_is_a_table_is_named(void **state)
{
	struct fix *f = *state;

	fix_start_test(f,
	    "if RELOADED then error({}) end\n"
	    "RELOADED = true\n" ECHO_LUA,
	    "");
	sd_signal(&f->d, SIGUSR1);
	assert_int_equal(
	    sd_log_wait(&f->d, "(error object is a table value)", 1, 3000), 1);
	assert_int_equal(sd_log_count(&f->d, "(null)"), 0);
	assert_healthy(f);
	assert_int_equal(sd_stop(&f->d), 0);
}

#define VERSION_LUA(v) "function main(s) s:write('" v "\\n') end\n"

static void
test_reload_of_looping_script_keeps_old_version(void **state)
{
	struct fix *f = *state;
	char line[1024];
	int fd;

	fix_start_test(f, VERSION_LUA("v1"), "cpu_limit = 1000000;");
	fd = tcp_connect(f->port);
	expect_all(fd, "v1\n", 3000);
	close(fd);
	sd_write(&f->d, "test.lua", VERSION_LUA("v2") "while true do end\n");
	assert_int_equal(sd_signal(&f->d, SIGUSR1), 0);
	assert_int_equal(sd_log_wait(&f->d, "reload failed", 1, 5000), 1);
	sd_log_line(&f->d, "reload failed", line, sizeof(line));
	assert_has(line, "the previous version stays");
	assert_has(line, "cpu limit exceeded");
	fd = tcp_connect(f->port);
	expect_all(fd, "v1\n", 3000);
	close(fd);
	/* SIGHUP reloads scripts the same way. */
	assert_int_equal(sd_signal(&f->d, SIGHUP), 0);
	assert_int_equal(sd_log_wait(&f->d, "reload failed", 2, 5000), 2);
	fd = tcp_connect(f->port);
	expect_all(fd, "v1\n", 3000);
	close(fd);
	/* The hook is gone after the failure: a good script still loads. */
	sd_write(&f->d, "test.lua", VERSION_LUA("v3"));
	assert_int_equal(sd_signal(&f->d, SIGUSR1), 0);
	assert_true(sd_log_wait(&f->d, "test: reloaded", 1, 5000) >= 1);
	fd = tcp_connect(f->port);
	expect_all(fd, "v3\n", 3000);
	close(fd);
	assert_healthy(f);
	assert_int_equal(sd_stop(&f->d), 0);
}

/* At reload, coroutines that pcall catches cannot stretch the limit. */
static void
test_reload_looping_through_coroutines_meets_cpu_limit(void **state)
{
	struct fix *f = *state;
	int fd;

	fix_start_test(f,
	    "if RELOADED then\n"
	    "  while true do\n"
	    "    pcall(coroutine.wrap(function() while true do end end))\n"
	    "  end\n"
	    "end\n"
	    "RELOADED = true\n" ECHO_LUA,
	    "cpu_limit = 100000;");
	sd_signal(&f->d, SIGUSR1);
	assert_int_equal(sd_log_wait(&f->d, "reload failed", 1, 5000), 1);
	fd = tcp_connect(f->port);
	assert_int_equal(send_str(fd, "still\n"), 0);
	assert_int_equal(expect_line(fd, "still\n"), 0);
	close(fd);
	assert_healthy(f);
	assert_int_equal(sd_stop(&f->d), 0);
}

#define RCLIENTS 50

struct rt {
	int fd, n;
	size_t got;
	long sent_at;
	char want[32], buf[32];
};

static void
rt_send(struct rt *r, int i)
{
	snprintf(r->want, sizeof(r->want), "c%02d-%06d\n", i, r->n);
	r->got = 0;
	r->sent_at = now_ms();
	if (send_str(r->fd, r->want) < 0)
		fail_msg("client %d: send: %s", i, strerror(errno));
}

static void
rt_open(struct rt *r, int i, int port)
{
	if ((r->fd = tcp_connect_from(NULL, port, 0)) < 0)
		fail_msg("client %d: connect: %s", i, strerror(errno));
	rt_send(r, i);
}

/* Reads what came for client i; a whole echo starts the next one. */
static void
rt_read(struct rt *r, int i, int port)
{
	size_t want = strlen(r->want);
	ssize_t n = recv(r->fd, r->buf + r->got, want - r->got, MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0)
		fail_msg("client %d: %s after %d round trips", i,
		    n == 0 ? "EOF" : strerror(errno), r->n);
	if ((r->got += n) < want)
		return;
	if (memcmp(r->buf, r->want, want) != 0)
		fail_msg("client %d: echo \"%.*s\", want \"%s\"", i, (int)want,
		    r->buf, r->want);
	/* Every 100 round trips a new connection, so accepts go on too. */
	if (++r->n % 100 == 0) {
		close(r->fd);
		rt_open(r, i, port);
	} else {
		rt_send(r, i);
	}
}

static void
rt_pump(struct rt *rt, int port, int ms)
{
	struct pollfd p[RCLIENTS];
	long end = now_ms() + ms;
	int i;

	do {
		for (i = 0; i < RCLIENTS; i++)
			p[i] = (struct pollfd){rt[i].fd, POLLIN, 0};
		if (poll(p, RCLIENTS, 2) < 0)
			fail_msg("poll: %s", strerror(errno));
		for (i = 0; i < RCLIENTS; i++) {
			if (p[i].revents)
				rt_read(&rt[i], i, port);
			else if (now_ms() - rt[i].sent_at > 5000)
				fail_msg("client %d: no echo in 5 s", i);
		}
	} while (now_ms() < end);
}

/* The inode of the socket listening on 127.0.0.1:port (0: none). */
static unsigned long
listen_inode(int port)
{
	FILE *f = fopen("/proc/net/tcp", "r");
	unsigned long inode, found = 0;
	unsigned int p, st;
	char line[512];

	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line,
			" %*s %*[0-9A-Fa-f]:%x %*s %x %*s %*s %*s %*u %*u "
			"%lu",
			&p, &st, &inode) == 3 &&
		    (int)p == port && st == 0x0A)
			found = inode;
	if (f != NULL)
		fclose(f);
	return found;
}

static int
holds_inode(pid_t pid, unsigned long inode)
{
	char path[320], link[64], want[64];
	struct dirent *e;
	int found = 0;
	ssize_t n;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	snprintf(want, sizeof(want), "socket:[%lu]", inode);
	if ((dir = opendir(path)) == NULL)
		return 0;
	while ((e = readdir(dir)) != NULL && !found) {
		snprintf(
		    path, sizeof(path), "/proc/%d/fd/%s", (int)pid, e->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		link[n > 0 ? n : 0] = '\0';
		found = strcmp(link, want) == 0;
	}
	closedir(dir);
	return found;
}

/* A SIGHUP with a syntax error on line 3, then the good file back. */
static void
broken_hup(struct fix *f, struct rt *rt)
{
	const char *keep = "keeping the running configuration";
	int n = sd_log_lines(&f->d, keep, NULL);
	long end = now_ms() + 5000;

	sd_write(&f->d, "superd.conf",
	    "shutdown_timeout = 1;\n"
	    "services = (\n"
	    "  { name = \"test\"; port = ; }\n"
	    ");\n");
	assert_int_equal(sd_signal(&f->d, SIGHUP), 0);
	while (sd_log_lines(&f->d, keep, NULL) == n && now_ms() < end)
		rt_pump(rt, f->port, 20);
	assert_int_equal(sd_log_lines(&f->d, keep, NULL), n + 1);
	fix_conf_test(f, "", "");
}

static void
test_reload_under_load_loses_nothing(void **state)
{
	struct fix *f = *state;
	struct rt rt[RCLIENTS];
	unsigned long inode;
	char where[256];
	int i, trips = 0;

	memset(rt, 0, sizeof(rt));
	fix_start_test(f, ECHO_LUA, "");
	inode = listen_inode(f->port);
	assert_true(inode != 0 && holds_inode(f->pid, inode));
	for (i = 0; i < RCLIENTS; i++)
		rt_open(&rt[i], i, f->port);
	for (i = 0; i < 200; i++) {
		assert_int_equal(sd_signal(&f->d, i % 2 ? SIGUSR1 : SIGHUP), 0);
		rt_pump(rt, f->port, 10);
		if (i % 67 == 33)
			broken_hup(f, rt);
	}
	rt_pump(rt, f->port, 500);
	for (i = 0; i < RCLIENTS; i++) {
		trips += rt[i].n;
		close(rt[i].fd);
	}
	print_message("    %d round trips; %d SIGHUP loads, %d reloads\n",
	    trips, sd_log_count(&f->d, "SIGHUP: configuration"),
	    sd_log_count(&f->d, "test: reloaded"));
	assert_true(sd_log_count(&f->d, "SIGHUP: configuration") > 0);
	assert_true(sd_log_count(&f->d, "test: reloaded") > 0);
	assert_int_equal(
	    sd_log_count(&f->d, "keeping the running configuration"), 3);
	snprintf(where, sizeof(where), "%s:3:", f->d.conf);
	assert_int_equal(sd_log_lines(&f->d, where, "keeping the running"), 3);
	assert_int_equal(sd_log_count(&f->d, "refused"), 0);
	assert_int_equal(listen_inode(f->port), inode);
	assert_true(holds_inode(f->pid, inode));
	assert_healthy(f);
	assert_int_equal(sd_stop(&f->d), 0);
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, sd_setup, sd_teardown)
#define FIX(f) cmocka_unit_test_setup_teardown(f, fix_setup, fix_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    TEST(test_sighup_adds_removes_changes_and_keeps_open_connection),
	    FIX(test_reload_error_object_that_is_a_table_is_named),
	    FIX(test_reload_of_looping_script_keeps_old_version),
	    FIX(test_reload_looping_through_coroutines_meets_cpu_limit),
	    FIX(test_reload_under_load_loses_nothing),
	};
	if (getenv("TEST_FILTER") != NULL)
		cmocka_set_test_filter(getenv("TEST_FILTER"));
	return cmocka_run_group_tests_name("reload", tests, NULL, NULL);
}
