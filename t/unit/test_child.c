/* test_child.c - an exec'd program's environment, built before the fork. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "child.h"
#include "conf.h"

static void
peer_of(union net_addr *a, const char *ip, int port)
{
	memset(a, 0, sizeof(*a));
	a->in4.sin_family = AF_INET;
	a->in4.sin_port = htons(port);
	inet_pton(AF_INET, ip, &a->in4.sin_addr);
}

static void
test_child_env_holds_the_connection_then_settings_then_path(void **state)
{
	char *env[] = {"A=1", "EMPTY=", NULL}, *pass[] = {"T_PASSED", NULL};
	struct svc_conf v = {.env = env, .passenv = pass};
	struct child_env e;
	union net_addr peer;

	(void)state;
	setenv("T_PASSED", "yes", 1);
	setenv("T_SECRET", "no", 1);
	peer_of(&peer, "192.0.2.7", 4711);
	/* no socket: no TCPLOCAL* */
	assert_int_equal(child_env_build(&e, &v, -1, &peer, NULL), 0);
	assert_int_equal(e.n, 7);
	assert_string_equal(e.v[0], "PROTO=TCP");
	assert_string_equal(e.v[1], "TCPREMOTEIP=192.0.2.7");
	assert_string_equal(e.v[2], "TCPREMOTEPORT=4711");
	assert_string_equal(e.v[3], "A=1");
	assert_string_equal(e.v[4], "EMPTY=");
	assert_string_equal(e.v[5], "T_PASSED=yes");
	assert_string_equal(e.v[6], "PATH=" CHILD_PATH);
	assert_null(e.v[7]);
	child_env_free(&e);
	assert_null(e.v);
}

/* The first of a name wins: the connection's, then env, then passenv. */
static void
test_child_env_first_of_a_name_wins(void **state)
{
	char *env[] = {
	    "TCPREMOTEIP=6.6.6.6", "PATH=/bin", "B=env", "B=again", NULL};
	char *pass[] = {"B", "T_UNSET", NULL};
	struct svc_conf v = {.env = env, .passenv = pass};
	struct child_env e;
	union net_addr peer;
	int i;

	(void)state;
	setenv("B", "passed", 1);
	unsetenv("T_UNSET");
	peer_of(&peer, "127.0.0.1", 1);
	assert_int_equal(child_env_build(&e, &v, -1, &peer, NULL), 0);
	assert_int_equal(e.n, 5);
	assert_string_equal(e.v[1], "TCPREMOTEIP=127.0.0.1");
	assert_string_equal(e.v[3], "PATH=/bin");
	assert_string_equal(e.v[4], "B=env");
	assert_int_equal(child_env_set(&e, "B", "later"), 0);
	assert_int_equal(child_env_set(&e, "HOME", "/home/x"), 0);
	assert_int_equal(e.n, 6);
	for (i = 0; i < e.n; i++)
		assert_null(strstr(e.v[i], "later"));
	assert_string_equal(e.v[5], "HOME=/home/x");
	child_env_free(&e);
}

/* Behind TLS: PROTO=SSL, mod_ssl's set ones, and the relay's local end. */
static void
test_child_env_behind_tls_says_ssl(void **state)
{
	struct svc_conf v = {0};
	struct child_tls t = {.protocol = "TLSv1.3",
	    .cipher = "TLS_AES_128_GCM_SHA256",
	    .verify = "NONE"};
	struct child_env e;
	union net_addr peer;

	(void)state;
	peer_of(&peer, "192.0.2.7", 4711);
	peer_of(&t.local, "127.0.0.1", 443);
	assert_int_equal(child_env_build(&e, &v, -1, &peer, &t), 0);
	assert_int_equal(e.n, 9);
	assert_string_equal(e.v[0], "PROTO=SSL");
	assert_string_equal(e.v[1], "SSL_PROTOCOL=TLSv1.3");
	assert_string_equal(e.v[2], "SSL_CIPHER=TLS_AES_128_GCM_SHA256");
	assert_string_equal(e.v[3], "SSL_CLIENT_VERIFY=NONE");
	assert_string_equal(e.v[4], "TCPREMOTEIP=192.0.2.7");
	assert_string_equal(e.v[5], "TCPREMOTEPORT=4711");
	assert_string_equal(e.v[6], "TCPLOCALIP=127.0.0.1");
	assert_string_equal(e.v[7], "TCPLOCALPORT=443");
	assert_string_equal(e.v[8], "PATH=" CHILD_PATH);
	child_env_free(&e);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(
		test_child_env_holds_the_connection_then_settings_then_path),
	    cmocka_unit_test(test_child_env_first_of_a_name_wins),
	    cmocka_unit_test(test_child_env_behind_tls_says_ssl),
	};
	return cmocka_run_group_tests_name("child", tests, NULL, NULL);
}
