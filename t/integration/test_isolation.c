/* test_isolation.c - what one connection holds no other connection can
 * see or take: its bytes, its coroutine, a finished coroutine's state, a
 * coroutine superd runs or holds asleep. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"

/*
 * The victim fills its state to the memory limit, so that pushing what it
 * reads raises a memory error, which it catches; another connection then
 * reads a secret while the victim sleeps.  The victim's next read must be
 * its own bytes, none lost.
 */
static const char leak_lua[] =
    "function main(s)\n"
    "  local role = s:read()\n"
    "  if role ~= 'victim' then\n"
    "    if role then s:write('stored\\n') end\n"
    "    return\n"
    "  end\n"
    "  local hog = {}\n"
    "  pcall(function()\n"
    "    while true do hog[#hog + 1] = string.rep('x', 4000) .. #hog end\n"
    "  end)\n"
    "  for i = 1, 4 do hog[#hog] = nil end\n"
    "  collectgarbage()\n"
    "  s:write('full\\n')\n"
    "  local ok = pcall(s.readsome, s, 60000)\n"
    "  hog = nil\n"
    "  collectgarbage()\n"
    "  s:write('caught ', tostring(ok), '\\n')\n"
    "  superd.sleep(1)\n"
    "  local line = s:read()\n"
    "  s:write('got ', tostring(line), '\\n')\n"
    "end\n";

static void
test_memory_error_in_read_never_shows_another_connections_bytes(void **state)
{
	static char big[50000], reply[70000];
	struct superd *d = *state;
	int port = sd_served(d, "t", "memory_limit = 1;", leak_lua);
	int victim = connect_ok(port), other = connect_ok(port);
	size_t n;

	assert_int_equal(send_str(victim, "victim\n"), 0);
	assert_int_equal(expect_line(victim, "full\n"), 0);
	memset(big, 'A', sizeof(big));
	assert_int_equal(send_all(victim, big, sizeof(big)), 0);
	assert_int_equal(expect_line(victim, "caught false\n"), 0);

	assert_int_equal(send_str(other, "SECRET-PASSWORD=hunter2\n"), 0);
	assert_int_equal(expect_line(other, "stored\n"), 0);

	assert_int_equal(send_str(victim, "mine\n"), 0);
	assert_true(recv_line(victim, reply, sizeof(reply), 3000) > 0);
	if (strstr(reply, "SECRET") != NULL)
		fail_msg(
		    "the victim read another connection's bytes: %.60s", reply);
	/* and the bytes of the read that raised are still there */
	n = strlen(reply);
	assert_int_equal(n, 4 + sizeof(big) + 5);
	assert_true(strncmp(reply, "got A", 5) == 0);
	assert_string_equal(reply + n - 6, "Amine\n");
	close(victim);
	close(other);
}

/* Session state keyed by coroutine, as a script may keep it. */
static const char sessions_lua[] = "sessions = sessions or {}\n"
				   "function main(s)\n"
				   "  local co = coroutine.running()\n"
				   "  local seen = sessions[co]\n"
				   "  sessions[co] = s:read()\n"
				   "  s:write(tostring(seen), '\\n')\n"
				   "end\n";

static void
test_each_connection_runs_in_a_coroutine_no_other_sees(void **state)
{
	struct superd *d = *state;
	int port = sd_served(d, "t", "", sessions_lua), i;
	char line[64], reply[256];

	for (i = 0; i < 40; i++) {
		snprintf(line, sizeof(line), "secret-%d\n", i);
		assert_true(ask(port, line, reply, sizeof(reply), 3000) > 0);
		if (strcmp(reply, "nil\n") != 0)
			fail_msg("client %d saw a predecessor's state: %s", i,
			    reply);
	}
}

/*
 * keep: the connection's and a spawned coroutine are saved; resume: 1,000
 * resumes of finished ones, counted by the answer each got.
 */
static const char dead_lua[] =
    "saved = saved or {}\n"
    "function main(s)\n"
    "  local cmd = s:read()\n"
    "  if cmd == nil then return end\n"
    "  if cmd == 'keep' then\n"
    "    saved[#saved + 1] = coroutine.running()\n"
    "    superd.spawn(function()\n"
    "      saved[#saved + 1] = coroutine.running()\n"
    "    end)\n"
    "    s:write('kept\\n')\n"
    "    return\n"
    "  end\n"
    "  local dead, other = 0, nil\n"
    "  for i = 1, 1000 do\n"
    "    local ok, err = coroutine.resume(saved[i % #saved + 1])\n"
    "    if ok == false and err == 'cannot resume dead coroutine' then\n"
    "      dead = dead + 1\n"
    "    else\n"
    "      other = other or (tostring(ok) .. ' ' .. tostring(err))\n"
    "    end\n"
    "  end\n"
    "  s:write(dead, ' ', tostring(other), '\\n')\n"
    "end\n";

static void
test_finished_coroutine_cannot_be_resumed(void **state)
{
	struct superd *d = *state;
	int port = sd_served(d, "t", "", dead_lua), i;
	char reply[256];

	for (i = 0; i < 5; i++) {
		assert_true(
		    ask(port, "keep\n", reply, sizeof(reply), 3000) > 0);
		assert_string_equal(reply, "kept\n");
	}
	usleep(100000); /* the spawned ones have finished too */
	assert_true(ask(port, "resume\n", reply, sizeof(reply), 3000) > 0);
	assert_string_equal(reply, "1000 nil\n");
	for (i = 0; i < 20; i++) {
		assert_true(
		    ask(port, "keep\n", reply, sizeof(reply), 3000) > 0);
		assert_string_equal(reply, "kept\n");
	}
	assert_int_equal(sd_log_count(d, "script error"), 0);
}

#define RESUME_LUA                                                           \
	"function main(s)\n"                                                 \
	"  local l = s:read()\n"                                             \
	"  if l == 'victim' then\n"                                          \
	"    VICTIM = coroutine.running()\n"                                 \
	"    superd.sleep(0.3)\n"                                            \
	"    s:write('victim woke\\n')\n"                                    \
	"  elseif l == 'attacker' then\n"                                    \
	"    s:write(tostring(select(2, coroutine.resume(VICTIM))), "        \
	"'\\n')\n"                                                           \
	"  elseif l == 'parked' then\n"                                      \
	"    local co = coroutine.create(function()\n"                       \
	"      superd.sleep(0.2) return 'slept' end)\n"                      \
	"    superd.spawn(function()\n"                                      \
	"      print('spawn resume:', coroutine.resume(co)) end)\n"          \
	"    s:write('parked ', tostring(select(2, coroutine.resume(co))), " \
	"'\\n')\n"                                                           \
	"  end\n"                                                            \
	"end\n"

/*
 * A coroutine superd runs (another connection's main) or that waits in
 * superd (a sleep) is not a script's to resume: it gets an error, and
 * the owner goes on as if nothing had happened.
 */
static void
test_script_cannot_resume_a_coroutine_superd_holds(void **state)
{
	struct fix *f = *state;
	int victim, attacker, parked;
	char buf[256];
	long t0;

	fix_start_test(f, RESUME_LUA, "");
	victim = tcp_connect(f->port);
	t0 = now_ms();
	assert_int_equal(send_str(victim, "victim\n"), 0);
	usleep(50000);
	attacker = tcp_connect(f->port);
	assert_int_equal(send_str(attacker, "attacker\n"), 0);
	assert_true(recv_line(attacker, buf, sizeof(buf), 3000) > 0);
	assert_has(buf, "cannot resume a coroutine that superd runs");
	assert_int_equal(expect_line(victim, "victim woke\n"), 0);
	assert_true(now_ms() - t0 >= 280);

	parked = tcp_connect(f->port);
	assert_int_equal(send_str(parked, "parked\n"), 0);
	assert_int_equal(expect_line(parked, "parked slept\n"), 0);
	assert_int_equal(
	    sd_log_wait(&f->d, "spawn resume:\tfalse\t", 1, 2000), 1);
	close(victim);
	close(attacker);
	close(parked);
	assert_healthy(f);
	assert_int_equal(sd_stop(&f->d), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		test_memory_error_in_read_never_shows_another_connections_bytes,
		sd_setup_bare, sd_teardown),
	    cmocka_unit_test_setup_teardown(
		test_each_connection_runs_in_a_coroutine_no_other_sees,
		sd_setup_bare, sd_teardown),
	    cmocka_unit_test_setup_teardown(
		test_finished_coroutine_cannot_be_resumed, sd_setup_bare,
		sd_teardown),
	    cmocka_unit_test_setup_teardown(
		test_script_cannot_resume_a_coroutine_superd_holds, fix_setup,
		fix_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
