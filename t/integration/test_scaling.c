/* test_scaling.c - the README's "Scaling out" example, as shipped in
 * conf/examples/: HAProxy (send-proxy-v2) in front of superd with two
 * workers, the chat's room spanning them through Redis. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client.h"

#define HAPROXY "/usr/sbin/haproxy"

struct world {
	struct superd d;
	pid_t haproxy, redis;
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
	proc_stop(w->haproxy);
	proc_stop(w->redis);
	free(w);
	return 0;
}

/* The example file with its ports and paths swapped for the test's. */
static void
copy_example(struct superd *d, const char *name, const char *const *swap)
{
	char path[512], *text, *p, *out;
	size_t n, i, len;
	FILE *f;

	snprintf(path, sizeof(path), "conf/examples/%s", name);
	f = fopen(path, "r");
	assert_non_null(f);
	text = calloc(1, 1 << 16);
	n = fread(text, 1, (1 << 16) - 1, f);
	fclose(f);
	text[n] = '\0';
	for (i = 0; swap[i]; i += 2) {
		while ((p = strstr(text, swap[i])) != NULL) {
			len = strlen(swap[i]);
			out = calloc(1, 1 << 16);
			memcpy(out, text, p - text);
			strcat(out, swap[i + 1]);
			strcat(out, p + len);
			free(text);
			text = out;
		}
	}
	sd_write(d, name, "%s", text);
	free(text);
}

static void
test_readme_scaling_example_runs(void **state)
{
	struct world *w = *state;
	char chat[8], redis[8], front[8], repo[512], services[600], cfg[300],
	    log[300], rport[8];
	int i, fds[10];

	if (access(HAPROXY, X_OK) != 0 || access(REDIS_SERVER, X_OK) != 0) {
		print_message("haproxy or redis-server missing: skipped\n");
		skip();
	}
	snprintf(chat, sizeof(chat), "%d", free_port());
	snprintf(redis, sizeof(redis), "%d", free_port());
	snprintf(front, sizeof(front), "%d", free_port());
	assert_non_null(getcwd(repo, sizeof(repo)));
	snprintf(services, sizeof(services), "%s/services", repo);
	{
		const char *const swap[] = {"7070", chat, "6379", redis,
		    "../../services", services, "\"auto\"", "2", NULL};
		const char *const hswap[] = {"7070", chat, "6070", front, NULL};

		copy_example(&w->d, "scaled.conf", swap);
		copy_example(&w->d, "haproxy.cfg", hswap);
	}
	snprintf(w->d.conf, sizeof(w->d.conf), "%s/scaled.conf", w->d.dir);
	snprintf(rport, sizeof(rport), "%s", redis);
	snprintf(log, sizeof(log), "%s/redis.log", w->d.dir);
	{
		char *const argv[] = {REDIS_SERVER, "--port", rport, "--bind",
		    "127.0.0.1", "--save", "", "--appendonly", "no", NULL};

		w->redis = proc_spawn_logged(argv, log);
	}
	assert_int_equal(wait_port(atoi(redis), 3000), 0);
	/* the probe connection of sd_start has no PROXY header: harmless */
	assert_int_equal(sd_start(&w->d, atoi(chat)), 0);
	assert_int_equal(sd_log_wait(&w->d, "publishing to", 2, 5000), 2);
	assert_int_equal(sd_log_wait(&w->d, "subscribed to", 2, 5000), 2);
	snprintf(cfg, sizeof(cfg), "%s/haproxy.cfg", w->d.dir);
	snprintf(log, sizeof(log), "%s/haproxy.log", w->d.dir);
	{
		char *const argv[] = {HAPROXY, "-db", "-f", cfg, NULL};

		w->haproxy = proc_spawn_logged(argv, log);
	}
	assert_int_equal(wait_port(atoi(front), 3000), 0);
	/* ten members through HAProxy; the kernel spreads them over the
	 * two workers (all on one: a chance of 1 in 512) */
	for (i = 0; i < 10; i++) {
		char name[16];

		snprintf(name, sizeof(name), "m%d", i);
		fds[i] = chat_join(atoi(front), name);
		usleep(50000);
	}
	send_str(fds[0], "hello all\n");
	for (i = 1; i < 10; i++) {
		char line[256];

		/* skip the join announcements of the later members */
		do
			assert_true(
			    recv_line(fds[i], line, sizeof(line), 3000) > 0);
		while (strstr(line, "is in da room!") != NULL);
		assert_string_equal(line, "m0: hello all\n");
	}
	assert_int_equal(expect_line(fds[0], "m1 is in da room!\n"), 0);
	/* both workers have members, and they heard each other */
	assert_true(sd_log_count(&w->d, "superd/1[info]: chat: m") > 0);
	assert_true(sd_log_count(&w->d, "superd/2[info]: chat: m") > 0);
	for (i = 0; i < 10; i++)
		close(fds[i]);
	assert_int_equal(sd_stop(&w->d), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		test_readme_scaling_example_runs, setup, teardown),
	};
	return cmocka_run_group_tests_name("scaling", tests, NULL, NULL);
}
