/* test_chat_bus.c - the shipped chat's Redis bus when Redis refuses,
 * misbehaves, streams, goes silent, moves, or superd stops: the bus
 * recovers, bounds what it holds and what it passes on to members. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client.h"

#define FAKE_CONNS 32

struct world {
	struct superd d;
	pid_t redis[2], fake;
};

/* What a fake Redis sends a subscriber after confirming SUBSCRIBE. */
struct bad {
	const char *data;
	size_t len;
	long stream; /* then this many bytes of junk */
	int keep;    /* stay open, answering nothing */
};

static int
setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));

	sd_init(&w->d);
	*state = w;
	return 0;
}

static int
teardown(void **state)
{
	struct world *w = *state;

	sd_cleanup(&w->d);
	proc_stop(w->redis[0]);
	proc_stop(w->redis[1]);
	proc_stop(w->fake);
	free(w);
	return 0;
}

static void
need_redis(void)
{
	if (access(REDIS_SERVER, X_OK) != 0) {
		print_message("redis-server is not installed: skipped\n");
		skip();
	}
}

/* The chat on a free port with these options (after redis and channel). */
static int
start_chat(struct superd *d, int redis, const char *globals, const char *opts)
{
	int port = free_port();

	sd_write(d, "superd.conf",
	    "script_dir = \"%s/services\";\nshutdown_timeout = 3;\n%s\n"
	    "services = ({ name = \"chat\"; port = %d; address = "
	    "\"127.0.0.1\"; script = \"chat.lua\";\n"
	    "  options = { redis = \"127.0.0.1:%d\"; channel = \"t\"; %s }; "
	    "});\n",
	    sd_repo(), globals, port, redis, opts);
	sd_started(d, port);
	return port;
}

static void
send_all_blocking(int fd, const char *p, size_t n)
{
	ssize_t k;

	while (n > 0 && (k = send(fd, p, n, MSG_NOSIGNAL)) > 0) {
		p += k;
		n -= (size_t)k;
	}
}

/* PUBLISH t msg (after AUTH when password), as any Redis client may. */
static void
redis_publish(int port, const char *password, const char *msg, size_t len)
{
	char head[128], reply[256];
	int fd = tcp_connect(port);

	assert_true(fd >= 0);
	if (password) {
		snprintf(head, sizeof(head),
		    "*2\r\n$4\r\nAUTH\r\n$%zu\r\n%s\r\n", strlen(password),
		    password);
		send_str(fd, head);
		assert_true(recv_line(fd, reply, sizeof(reply), 3000) > 0);
		assert_string_equal(reply, "+OK\r\n");
	}
	snprintf(head, sizeof(head),
	    "*3\r\n$7\r\nPUBLISH\r\n$1\r\nt\r\n$%zu\r\n", len);
	send_str(fd, head);
	send_all_blocking(fd, msg, len);
	send_str(fd, "\r\n");
	assert_true(recv_line(fd, reply, sizeof(reply), 10000) > 0);
	assert_int_equal(reply[0], ':');
	close(fd);
}

static void
publish_str(int port, const char *password, const char *msg)
{
	redis_publish(port, password, msg, strlen(msg));
}

#define CONFIRM "*3\r\n$9\r\nsubscribe\r\n$1\r\nt\r\n:1\r\n"
#define GOOD "*3\r\n$7\r\nmessage\r\n$1\r\nt\r\n$15\r\nfake:1\nbob: hi\n\r\n"
#define PONG "*2\r\n$4\r\npong\r\n$0\r\n\r\n"

static void
stream_junk(int fd, long n)
{
	static char junk[65536];

	memset(junk, 'x', sizeof(junk));
	while (n > 0) {
		size_t k = n < (long)sizeof(junk) ? (size_t)n : sizeof(junk);
		ssize_t s = send(fd, junk, k, MSG_NOSIGNAL);

		if (s <= 0)
			return;
		n -= s;
	}
}

/* A subscriber's k-th connection: the k-th bad reply, then the good one. */
static int
fake_subscribed(int fd, const struct bad *bad, int nbad, int *k)
{
	const struct bad *b = *k < nbad ? &bad[*k] : NULL;

	(*k)++;
	send_str(fd, CONFIRM);
	if (b == NULL) {
		send_str(fd, GOOD);
		return 1;
	}
	send_all_blocking(fd, b->data, b->len);
	stream_junk(fd, b->stream);
	return b->keep ? 0 : -1;
}

/*
 * One request read on fd; 0 keeps it, -1 closes it.  live[i]: 1 answers
 * PINGs, 0 stays silent.
 */
static int
fake_request(
    int fd, int *live, const struct bad *bad, int nbad, int *k, long pub_stream)
{
	char buf[4096];
	ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return -1;
	buf[n] = '\0';
	if (strstr(buf, "SUBSCRIBE") != NULL) {
		if ((*live = fake_subscribed(fd, bad, nbad, k)) < 0)
			return -1;
	} else if (strstr(buf, "PING") != NULL && *live) {
		send_str(fd, *live == 2 ? "+PONG\r\n" : PONG);
	}
	if (strstr(buf, "REPLY\r\n$3\r\nOFF") != NULL && pub_stream > 0) {
		stream_junk(fd, pub_stream);
		return -1;
	}
	return 0;
}

/* A fake Redis on port, for at most 60 s. */
static pid_t
start_fake(int port, const struct bad *bad, int nbad, long pub_stream)
{
	struct pollfd p[FAKE_CONNS];
	int live[FAKE_CONNS], n = 1, i, k = 0, fd;
	int lfd = listen_local(port, SOCK_STREAM);
	pid_t pid;

	assert_true(lfd >= 0);
	if ((pid = fork()) != 0) {
		close(lfd);
		return pid;
	}
	alarm(60);
	signal(SIGPIPE, SIG_IGN);
	p[0].fd = lfd;
	p[0].events = POLLIN;
	for (;;) {
		if (poll(p, n, -1) < 0)
			_exit(1);
		if ((p[0].revents & POLLIN) && n < FAKE_CONNS &&
		    (fd = accept(lfd, NULL, NULL)) >= 0) {
			p[n].fd = fd;
			p[n].events = POLLIN;
			p[n].revents = 0;
			live[n++] = 2; /* a publisher until it subscribes */
		}
		for (i = 1; i < n; i++) {
			if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			if (fake_request(p[i].fd, &live[i], bad, nbad, &k,
				pub_stream) == 0)
				continue;
			close(p[i].fd);
			p[i] = p[--n];
			live[i--] = live[n];
		}
	}
}

static void
expect_hi(int fd, int ms)
{
	char line[256] = "";

	assert_true(recv_line(fd, line, sizeof(line), ms) > 0);
	assert_string_equal(line, "bob: hi\n");
}

/*
 * Redis refuses the chat's SUBSCRIBE with error (its first word): each
 * try is closed and logged, 1 s, 2 s, 4 s apart, and no descriptor stays.
 */
static void
assert_refusal_backs_off(struct world *w, const char *error)
{
	int fds, tries;

	assert_true(
	    sd_log_lines_wait(&w->d, "subscriber on", error, 1, 5000) >= 1);
	fds = proc_fd_count(w->d.pid);
	sleep(6);
	/* 1 s, 2 s, 4 s apart: at most three more tries, each closed */
	tries = sd_log_lines(&w->d, "subscriber on", error);
	assert_in_range(tries, 2, 4);
	assert_in_range(proc_fd_count(w->d.pid), 0, fds + 1);
	assert_int_equal(sd_stop(&w->d), 0);
}

static void
test_refused_subscribe_is_closed_logged_and_retried_with_backoff(void **state)
{
	struct world *w = *state;
	int pr = free_port();

	need_redis();
	w->redis[0] = redis_start(w->d.dir, pr, "sesame");
	assert_true(w->redis[0] > 0);
	start_chat(&w->d, pr, "", "");
	assert_refusal_backs_off(w, "NOAUTH");
}

/* An ACL that keeps the default user off the chat's channel: -NOPERM. */
static void
test_subscribe_refused_by_an_acl_backs_off_too(void **state)
{
	struct world *w = *state;
	char cmd[256];
	int pr = free_port();

	need_redis();
	if (access("/usr/bin/redis-cli", X_OK) < 0) {
		printf("skipped: needs redis-cli\n");
		return;
	}
	w->redis[0] = redis_start(w->d.dir, pr, NULL);
	assert_true(w->redis[0] > 0);
	snprintf(cmd, sizeof(cmd),
	    "/usr/bin/redis-cli -p %d ACL SETUSER default resetchannels "
	    "'&other' >/dev/null",
	    pr);
	assert_int_equal(system(cmd), 0);
	start_chat(&w->d, pr, "", "");
	assert_refusal_backs_off(w, "NOPERM");
}

static void
test_redis_password_authenticates(void **state)
{
	struct world *w = *state;
	int pr = free_port(), alice;

	need_redis();
	w->redis[0] = redis_start(w->d.dir, pr, "sesame");
	assert_true(w->redis[0] > 0);
	alice = chat_join(
	    start_chat(&w->d, pr, "", "redis_password = \"sesame\";"), "alice");
	assert_int_equal(sd_log_wait(&w->d, "subscribed to t", 1, 5000), 1);
	assert_int_equal(sd_log_wait(&w->d, "publishing to t", 1, 5000), 1);
	publish_str(pr, "sesame", "x:1\nbob: hi\n");
	expect_hi(alice, 3000);
	assert_int_equal(sd_log_count(&w->d, "NOAUTH"), 0);
	close(alice);
	assert_int_equal(sd_stop(&w->d), 0);
}

static void
test_malformed_replies_cost_one_connection_each(void **state)
{
	struct world *w = *state;
	static char nested[300000 * 4 + 1];
	const struct bad bad[] = {
	    {"$abc\r\n", 6, 0, 0},
	    {"*1x\r\n", 5, 0, 0},
	    {"*3\r\n$7\r\nmessage\r\n$1\r\nt\r\n:5\r\n", 29, 0, 0},
	    {"*3\r\n$7\r\nmessage\r\n$1\r\nt\r\n*0\r\n", 29, 0, 0},
	    {"*3\r\n$7\r\nmessage\r\n$1\r\nt\r\n$-1\r\n", 30, 0, 0},
	    {nested, sizeof(nested) - 1, 0, 0},
	    {"*3\r\n$7\r\nmessage\r\n$1\r\nt\r\n$1000000000\r\n", 38, 80L << 20,
		0},
	};
	int pf = free_port(), alice, i;

	for (i = 0; i < 300000; i++)
		memcpy(nested + 4 * i, "*1\r\n", 4);
	w->fake = start_fake(pf, bad, 7, 0);
	alice = chat_join(start_chat(&w->d, pf, "", ""), "alice");
	expect_hi(alice, 25000);
	assert_true(sd_log_count(&w->d, "protocol error") >= 4);
	assert_int_equal(sd_log_count(&w->d, "subscribed to t"), 8);
	assert_alive(&w->d, "malformed replies");
	close(alice);
	assert_int_equal(sd_stop(&w->d), 0);
}

static void
test_publisher_discards_what_redis_streams(void **state)
{
	struct world *w = *state;
	int pf = free_port();
	long end, rss, peak = 0;

	w->fake = start_fake(pf, NULL, 0, 300L << 20);
	start_chat(&w->d, pf, "", "");
	/* 300 MiB, then the fake closes: superd's peak on the way */
	for (end = now_ms() + 30000; now_ms() < end;) {
		if ((rss = proc_rss_kb(w->d.pid)) > peak)
			peak = rss;
		if (sd_log_count(&w->d, "publisher on") > 0)
			break;
		usleep(20000);
	}
	assert_int_equal(sd_log_count(&w->d, "publisher on"), 1);
	if (!sd_sanitized())
		assert_in_range(peak, 0, 64 * 1024);
	assert_int_equal(sd_stop(&w->d), 0);
}

static void
test_remote_lines_past_max_line_are_dropped(void **state)
{
	struct world *w = *state;
	size_t big = 2 << 20, huge = 25 << 20;
	char *msg = malloc(huge + 8);
	int pr = free_port(), alice;

	need_redis();
	w->redis[0] = redis_start(w->d.dir, pr, NULL);
	assert_true(w->redis[0] > 0);
	alice = chat_join(start_chat(&w->d, pr, "", ""), "alice");
	assert_int_equal(sd_log_wait(&w->d, "subscribed to t", 1, 5000), 1);
	memcpy(msg, "x:1\n", 4);
	memset(msg + 4, 'A', huge);
	msg[4 + big] = '\n';
	redis_publish(pr, NULL, msg, 4 + big + 1);
	msg[4 + huge] = '\n';
	redis_publish(pr, NULL, msg, 4 + huge + 1);
	free(msg);
	publish_str(pr, NULL, "x:1\nbob: hi\n");
	expect_hi(alice, 10000);
	assert_int_equal(sd_log_count(&w->d, "dropped a message"), 2);
	assert_int_equal(sd_log_count(&w->d, "subscribed to t"), 1);
	close(alice);
	assert_int_equal(sd_stop(&w->d), 0);
}

static void
test_sighup_moves_and_removes_the_bus(void **state)
{
	struct world *w = *state;
	int p1 = free_port(), p2 = free_port(), port, alice;
	char want[64];

	need_redis();
	w->redis[0] = redis_start(w->d.dir, p1, NULL);
	assert_true(w->redis[0] > 0);
	w->redis[1] = redis_start(w->d.dir, p2, NULL);
	assert_true(w->redis[1] > 0);
	port = start_chat(&w->d, p1, "", "");
	alice = chat_join(port, "alice");
	assert_int_equal(sd_log_wait(&w->d, "subscribed to t", 1, 5000), 1);
	sd_write(&w->d, "superd.conf",
	    "script_dir = \"%s/services\";\n"
	    "services = ({ name = \"chat\"; port = %d; address = "
	    "\"127.0.0.1\"; script = \"chat.lua\";\n"
	    "  options = { redis = \"127.0.0.1:%d\"; channel = \"t\"; }; });\n",
	    sd_repo(), port, p2);
	sd_signal(&w->d, SIGHUP);
	snprintf(want, sizeof(want), "subscribed to t on 127.0.0.1:%d", p2);
	assert_int_equal(sd_log_wait(&w->d, want, 1, 10000), 1);
	publish_str(p1, NULL, "x:1\nnot here\n");
	publish_str(p2, NULL, "x:1\nbob: hi\n");
	expect_hi(alice, 3000);
	sd_write(&w->d, "superd.conf",
	    "script_dir = \"%s/services\";\n"
	    "services = ({ name = \"chat\"; port = %d; address = "
	    "\"127.0.0.1\"; script = \"chat.lua\"; });\n",
	    sd_repo(), port);
	sd_signal(&w->d, SIGHUP);
	assert_int_equal(sd_log_wait(&w->d, "bus on", 2, 10000), 2);
	assert_int_equal(sd_log_wait(&w->d, "tcp out", 4, 5000), 4);
	publish_str(p2, NULL, "x:1\nbob: gone\n");
	assert_true(quiet_for(alice, 500));
	assert_int_equal(sd_log_count(&w->d, "publisher on"), 0);
	close(alice);
	assert_int_equal(sd_stop(&w->d), 0);
}

static void
test_silent_redis_is_left_after_redis_timeout(void **state)
{
	struct world *w = *state;
	const struct bad bad[] = {{"", 0, 0, 1}};
	int pf = free_port(), alice;

	w->fake = start_fake(pf, bad, 1, 0);
	alice =
	    chat_join(start_chat(&w->d, pf, "", "redis_timeout = 1;"), "alice");
	expect_hi(alice, 8000);
	assert_int_equal(sd_log_count(&w->d, "no answer to PING"), 1);
	close(alice);
	assert_int_equal(sd_stop(&w->d), 0);
}

static void
test_shutdown_does_not_connect_again(void **state)
{
	struct world *w = *state;
	int pr = free_port(), alice;

	need_redis();
	w->redis[0] = redis_start(w->d.dir, pr, NULL);
	assert_true(w->redis[0] > 0);
	alice = chat_join(start_chat(&w->d, pr, "", ""), "alice");
	assert_int_equal(sd_log_wait(&w->d, "subscribed to t", 1, 5000), 1);
	sd_signal(&w->d, SIGTERM);
	assert_int_equal(sd_log_wait(&w->d, "shutting down", 1, 3000), 1);
	/* Redis restarts while alice keeps superd draining */
	proc_stop(w->redis[0]);
	w->redis[0] = redis_start(w->d.dir, pr, NULL);
	assert_true(w->redis[0] > 0);
	sleep(3);
	assert_int_equal(sd_log_count(&w->d, "subscribed to t"), 1);
	assert_int_equal(sd_log_count(&w->d, "publishing to t"), 1);
	close(alice);
	assert_int_equal(sd_stop(&w->d), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		test_refused_subscribe_is_closed_logged_and_retried_with_backoff,
		setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_subscribe_refused_by_an_acl_backs_off_too, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(
		test_redis_password_authenticates, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_malformed_replies_cost_one_connection_each, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(
		test_publisher_discards_what_redis_streams, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_remote_lines_past_max_line_are_dropped, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_sighup_moves_and_removes_the_bus, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_silent_redis_is_left_after_redis_timeout, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_shutdown_does_not_connect_again, setup, teardown),
	};
	return cmocka_run_group_tests_name("chat_bus", tests, NULL, NULL);
}
