/*
 * test_exec_env.c - what an exec service's program is started with: an
 * environment built from the connection, the user and the configuration,
 * with nothing of superd's own leaking through, and its argv[0].
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"

#define SECRET "SUPERD_TEST_SECRET"

/*
 * Service "x" with the given settings (exec among them) started; what the
 * program wrote to one connection, until it closed, in out.
 */
static void
program_output(struct superd *d, const char *settings, char *out, size_t len)
{
	int port = free_port(), fd;
	ssize_t n;

	sd_conf(d, "",
	    "{ name = \"x\"; port = %d; address = \"127.0.0.1\"; %s }", port,
	    settings);
	sd_started(d, port);
	fd = tcp_connect(port);
	assert_true(fd >= 0);
	n = recv_all(fd, out, len - 1, 5000);
	close(fd);
	if (n < 0)
		fail_msg("the program did not end");
	out[n] = '\0';
}

/* The value of name in env's output, or NULL. */
static const char *
var(const char *env, const char *name, char *buf, size_t len)
{
	const char *p = env;
	size_t n = strlen(name);

	for (; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, name, n) == 0 && p[n] == '=') {
			snprintf(buf, len, "%.*s",
			    (int)strcspn(p + n + 1, "\n"), p + n + 1);
			return buf;
		}
	return NULL;
}

static void
assert_var(const char *env, const char *name, const char *want)
{
	char buf[512];
	const char *got = var(env, name, buf, sizeof(buf));

	if (got == NULL)
		fail_msg("no %s in the environment:\n%s", name, env);
	if (strcmp(got, want) != 0)
		fail_msg("%s=%s, want %s", name, got, want);
}

static int
count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void
test_exec_environment_is_built_not_inherited(void **state)
{
	struct superd *d = *state;
	/* a service that names no user runs as nobody when superd is root */
	struct passwd *pw =
	    getuid() == 0 ? getpwnam("nobody") : getpwuid(getuid());
	char env[8192];

	assert_non_null(pw);
	setenv(SECRET, "must-not-leak", 1);
	program_output(d, "exec = \"/usr/bin/env\";", env, sizeof(env));
	unsetenv(SECRET);
	if (strstr(env, SECRET) != NULL || strstr(env, "must-not-leak"))
		fail_msg("superd's environment leaked:\n%s", env);
	assert_var(env, "PROTO", "TCP");
	assert_var(env, "TCPREMOTEIP", "127.0.0.1");
	assert_var(env, "TCPLOCALIP", "127.0.0.1");
	assert_var(env, "PATH",
	    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	assert_var(env, "HOME", pw->pw_dir);
	assert_var(env, "USER", pw->pw_name);
	assert_var(env, "LOGNAME", pw->pw_name);
	assert_var(env, "SHELL", *pw->pw_shell ? pw->pw_shell : "/bin/sh");
	/* those ten and not one more */
	if (count_lines(env) != 10)
		fail_msg("want 10 variables, got:\n%s", env);
	assert_int_equal(sd_stop(d), 0);
}

static void
test_exec_env_and_passenv_add_variables(void **state)
{
	struct superd *d = *state;
	char env[8192], buf[64];

	setenv("SUPERD_TEST_TZ", "Europe/Paris", 1);
	unsetenv("SUPERD_TEST_UNSET");
	program_output(d,
	    "exec = \"/usr/bin/env\";"
	    " env = [\"GREETING=hello, world\", \"PATH=/bin\", \"EMPTY=\","
	    " \"TCPREMOTEIP=192.0.2.1\"];"
	    " passenv = [\"SUPERD_TEST_TZ\", \"SUPERD_TEST_UNSET\"];",
	    env, sizeof(env));
	unsetenv("SUPERD_TEST_TZ");
	assert_var(env, "GREETING", "hello, world");
	assert_var(env, "PATH", "/bin");
	assert_var(env, "EMPTY", "");
	assert_var(env, "SUPERD_TEST_TZ", "Europe/Paris");
	assert_null(var(env, "SUPERD_TEST_UNSET", buf, sizeof(buf)));
	/* the connection's own variables are not for a setting to fake */
	assert_var(env, "TCPREMOTEIP", "127.0.0.1");
	assert_int_equal(sd_stop(d), 0);
}

static void
test_exec_environment_names_the_configured_user(void **state)
{
	struct superd *d = *state;
	struct passwd *pw = getpwnam("nobody");
	char env[8192], home[256], shell[256];

	if (getuid() != 0 || pw == NULL) {
		printf("skipped: needs root and a user nobody\n");
		return;
	}
	snprintf(home, sizeof(home), "%s", pw->pw_dir);
	snprintf(shell, sizeof(shell), "%s", pw->pw_shell);
	program_output(
	    d, "user = \"nobody\"; exec = \"/usr/bin/env\";", env, sizeof(env));
	assert_var(env, "HOME", home);
	assert_var(env, "USER", "nobody");
	assert_var(env, "LOGNAME", "nobody");
	assert_var(env, "SHELL", shell);
	assert_int_equal(sd_stop(d), 0);
}

/* sh -c without a command name: $0 is the shell's own argv[0]. */
static void
test_exec_argv0_replaces_the_path_in_argv(void **state)
{
	struct superd *d = *state;
	char out[256];

	program_output(d,
	    "exec = [\"/bin/sh\", \"-c\", \"echo \\\"$0\\\"\"];"
	    " argv0 = \"in.test\";",
	    out, sizeof(out));
	assert_string_equal(out, "in.test\n");
	assert_int_equal(sd_stop(d), 0);
}

static void
test_exec_argv0_defaults_to_the_path(void **state)
{
	struct superd *d = *state;
	char out[256];

	program_output(d, "exec = [\"/bin/sh\", \"-c\", \"echo \\\"$0\\\"\"];",
	    out, sizeof(out));
	assert_string_equal(out, "/bin/sh\n");
	assert_int_equal(sd_stop(d), 0);
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, sd_setup, sd_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    TEST(test_exec_environment_is_built_not_inherited),
	    TEST(test_exec_env_and_passenv_add_variables),
	    TEST(test_exec_environment_names_the_configured_user),
	    TEST(test_exec_argv0_replaces_the_path_in_argv),
	    TEST(test_exec_argv0_defaults_to_the_path),
	};
	if (getenv("TEST_FILTER") != NULL)
		cmocka_set_test_filter(getenv("TEST_FILTER"));
	return cmocka_run_group_tests_name("exec_env", tests, NULL, NULL);
}
