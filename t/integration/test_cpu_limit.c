/*
 * test_cpu_limit.c - cpu_limit stops a script that loops, under pcall, in
 * coroutines, in xpcall's message handler or at its top level at start,
 * and that costs only its connection (or the start).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client.h"

#define RUNAWAY_LUA                                                         \
	"function main(s)\n"                                                \
	"  local mode = s:read()\n"                                         \
	"  if mode == 'loop' then while true do end end\n"                  \
	"  if mode == 'dead' then while true do pcall(s.read, s) end end\n" \
	"  if mode == 'pcall' then\n"                                       \
	"    while true do pcall(function() while true do end end) end\n"   \
	"  end\n"                                                           \
	"  if mode == 'xpcall' then\n"                                      \
	"    xpcall(function() while true do end end,\n"                    \
	"      function() while true do end end)\n"                         \
	"    s:write('survived\\n')\n"                                      \
	"  end\n"                                                           \
	"  if mode == 'handler' then\n"                                     \
	"    xpcall(function() error('x') end,\n"                           \
	"      function() while true do end end)\n"                         \
	"    s:write('survived\\n')\n"                                      \
	"  end\n"                                                           \
	"  if mode == 'wrap' then\n"                                        \
	"    while true do\n"                                               \
	"      pcall(coroutine.wrap(function() while true do end end))\n"   \
	"    end\n"                                                         \
	"  end\n"                                                           \
	"  s:write('ok ', tostring(mode), '\\n')\n"                         \
	"  for line in s:lines() do s:write('ok ', line, '\\n') end\n"      \
	"end\n"

static void
test_cpu_limit_kills_runaway_loops_even_under_pcall(void **state)
{
	/* dead: a read that fails at once, in a loop, is no wait */
	static const char *const modes[] = {"loop", "pcall", "wrap", "dead"};
	struct fix *f = *state;
	char buf[64], line[1024];
	int keep, fd, port;
	size_t i;
	long t0;

	fix_start_test(f, RUNAWAY_LUA, "cpu_limit = 1000000;");
	keep = tcp_connect(f->port);
	assert_true(keep >= 0);
	assert_int_equal(send_str(keep, "hello\n"), 0);
	assert_int_equal(expect_line(keep, "ok hello\n"), 0);
	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		fd = tcp_connect(f->port);
		assert_true(fd >= 0);
		port = local_port(fd);
		snprintf(buf, sizeof(buf), "%s\n", modes[i]);
		t0 = now_ms();
		assert_int_equal(send_str(fd, buf), 0);
		shutdown(fd, SHUT_WR);
		expect_all(fd, "", 5000);
		close(fd);
		print_message(
		    "    %s killed in %ld ms\n", modes[i], now_ms() - t0);
		fix_error_line(f, port, line, sizeof(line));
		assert_has(line, "cpu limit exceeded");
		assert_int_equal(send_str(keep, "again\n"), 0);
		assert_int_equal(expect_line(keep, "ok again\n"), 0);
	}
	close(keep);
	assert_healthy(f);
	assert_int_equal(sd_stop(&f->d), 0);
}

/* 1 when the healthy echo answers within ms. */
static int
echo_answers(struct fix *f, int ms)
{
	char buf[64];
	int fd = tcp_connect(f->echo), ok;

	if (fd < 0)
		return 0;
	ok = send_str(fd, "healthy\n") == 0 &&
	     recv_line(fd, buf, sizeof(buf), ms) > 0 &&
	     strcmp(buf, "healthy\n") == 0;
	close(fd);
	return ok;
}

/*
 * xpcall's message handler runs inside the hook that raised the CPU error,
 * where Lua turns hooks off: a handler that loops must not hang superd.
 */
static void
runaway_handler(struct fix *f, const char *mode)
{
	char buf[64], line[1024];
	int fd, port, echo;
	double cpu;

	fix_start_test(f, RUNAWAY_LUA, "cpu_limit = 1000000;");
	fd = tcp_connect(f->port);
	assert_true(fd >= 0);
	port = local_port(fd);
	snprintf(buf, sizeof(buf), "%s\n", mode);
	assert_int_equal(send_str(fd, buf), 0);
	if (recv_all(fd, buf, sizeof(buf), 3000) < 0) {
		cpu = proc_cpu_s(f->pid);
		echo = echo_answers(f, 1000);
		cpu = proc_cpu_s(f->pid) - cpu;
		kill(f->d.pid, SIGKILL);
		fail_msg("%s: still open after 3 s; superd then used %.2f s "
			 "CPU in 1 s and the echo %s",
		    mode, cpu, echo ? "answered" : "did not answer (hung)");
	}
	close(fd);
	fix_error_line(f, port, line, sizeof(line));
	assert_has(line, "cpu limit exceeded");
	assert_healthy(f);
	assert_int_equal(sd_stop(&f->d), 0);
}

static void
test_cpu_limit_kills_looping_handler_of_cpu_error(void **state)
{
	runaway_handler(*state, "xpcall");
}

static void
test_cpu_limit_kills_looping_handler_of_plain_error(void **state)
{
	runaway_handler(*state, "handler");
}

static void
test_script_looping_at_top_level_fails_start(void **state)
{
	struct fix *f = *state;
	char *argv[] = {(char *)sd_binary(), "-c", f->d.conf, NULL};
	char out[4096], path[256];
	long t0 = now_ms();

	sd_write(&f->d, "test.lua",
	    "function main(s) s:write('never\\n') end\n"
	    "while true do end\n");
	fix_conf_test(f, "", "cpu_limit = 1000000;");
	snprintf(path, sizeof(path), "%s/run.out", f->d.dir);
	assert_int_equal(run_for(argv, path, 10000), 1);
	read_text(path, out, sizeof(out));
	assert_has(out, "cpu limit exceeded");
	assert_true(now_ms() - t0 < 5000);
	assert_true(tcp_connect(f->port) < 0);
}

#define FIX(f) cmocka_unit_test_setup_teardown(f, fix_setup, fix_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    FIX(test_cpu_limit_kills_runaway_loops_even_under_pcall),
	    FIX(test_cpu_limit_kills_looping_handler_of_cpu_error),
	    FIX(test_cpu_limit_kills_looping_handler_of_plain_error),
	    FIX(test_script_looping_at_top_level_fails_start),
	};
	if (getenv("TEST_FILTER") != NULL)
		cmocka_set_test_filter(getenv("TEST_FILTER"));
	return cmocka_run_group_tests_name("cpu_limit", tests, NULL, NULL);
}
