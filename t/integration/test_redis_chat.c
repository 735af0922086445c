/* test_redis_chat.c - the shipped chat across two superd instances on one
 * Redis: members on either see each other's joins, lines and leaves. */
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

struct world {
	struct superd a, b;
	pid_t redis;
};

static int
setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));

	sd_init(&w->a);
	sd_init(&w->b);
	*state = w;
	return 0;
}

static int
teardown(void **state)
{
	struct world *w = *state;

	sd_cleanup(&w->a);
	sd_cleanup(&w->b);
	proc_stop(w->redis);
	free(w);
	return 0;
}

static void
start_chat(struct superd *d, int port, int redis)
{
	sd_write(d, "superd.conf",
	    "script_dir = \"%s/services\";\n"
	    "services = ({ name = \"chat\"; port = %d; address = "
	    "\"127.0.0.1\"; script = \"chat.lua\";\n"
	    "  options = { redis = \"127.0.0.1:%d\"; channel = \"t\"; }; });\n",
	    sd_repo(), port, redis);
	sd_started(d, port);
	assert_int_equal(sd_log_wait(d, "subscribed to t", 1, 5000), 1);
	assert_int_equal(sd_log_wait(d, "publishing to t", 1, 5000), 1);
}

/*
 * The next line is want, past any other member's join: a join announced
 * through Redis reaches the other instance some time later, so one who
 * joins there meanwhile sees it too.
 */
static int
past_joins(int fd, const char *want)
{
	char line[256] = "";
	int i;

	for (i = 0; i < 4; i++) {
		if (recv_line(fd, line, sizeof(line), 3000) <= 0)
			break;
		if (strcmp(line, want) == 0)
			return 0;
		if (strstr(line, " is in da room!\n") == NULL)
			break;
	}
	fprintf(stderr, "expected \"%s\", got \"%s\"\n", want, line);
	return -1;
}

static void
test_members_on_two_instances_share_one_room(void **state)
{
	struct world *w = *state;
	int pa = free_port(), pb = free_port(), pr = free_port(), alice, bob,
	    carol;

	if (access(REDIS_SERVER, X_OK) != 0) {
		print_message("redis-server is not installed: skipped\n");
		skip();
	}
	w->redis = redis_start(w->a.dir, pr, NULL);
	start_chat(&w->a, pa, pr);
	start_chat(&w->b, pb, pr);
	alice = chat_join(pa, "alice");
	bob = chat_join(pb, "bob");
	assert_int_equal(past_joins(alice, "bob is in da room!\n"), 0);
	carol = chat_join(pa, "carol");
	assert_int_equal(past_joins(alice, "carol is in da room!\n"), 0);
	assert_int_equal(past_joins(bob, "carol is in da room!\n"), 0);
	send_str(bob, "hello from b\n");
	assert_int_equal(past_joins(alice, "bob: hello from b\n"), 0);
	assert_int_equal(past_joins(carol, "bob: hello from b\n"), 0);
	send_str(alice, "hello from a\n");
	assert_int_equal(expect_line(bob, "alice: hello from a\n"), 0);
	assert_int_equal(expect_line(carol, "alice: hello from a\n"), 0);
	assert_true(quiet_for(alice, 200)); /* no echo of one's own line */
	close(bob);
	assert_int_equal(expect_line(alice, "bob has left the building!\n"), 0);
	assert_int_equal(expect_line(carol, "bob has left the building!\n"), 0);
	close(alice);
	assert_int_equal(
	    expect_line(carol, "alice has left the building!\n"), 0);
	close(carol);
	assert_int_equal(sd_stop(&w->a), 0);
	assert_int_equal(sd_stop(&w->b), 0);
}

static void
test_chat_without_redis_stays_local(void **state)
{
	struct world *w = *state;
	int pa = free_port(), alice, bob;
	char repo[512];

	assert_non_null(getcwd(repo, sizeof(repo)));
	sd_write(&w->a, "superd.conf",
	    "script_dir = \"%s/services\";\n"
	    "services = ({ name = \"chat\"; port = %d; address = "
	    "\"127.0.0.1\"; script = \"chat.lua\"; });\n",
	    repo, pa);
	assert_int_equal(sd_start(&w->a, pa), 0);
	alice = chat_join(pa, "alice");
	bob = chat_join(pa, "bob");
	assert_int_equal(expect_line(alice, "bob is in da room!\n"), 0);
	send_str(bob, "local\n");
	assert_int_equal(expect_line(alice, "bob: local\n"), 0);
	assert_int_equal(sd_log_count(&w->a, "tcp out"), 0);
	close(alice);
	close(bob);
	assert_int_equal(sd_stop(&w->a), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		test_members_on_two_instances_share_one_room, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_chat_without_redis_stays_local, setup, teardown),
	};
	return cmocka_run_group_tests_name("redis_chat", tests, NULL, NULL);
}
