/* test_priv.c - the user and group switch, with the syscalls faked. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "priv.h"

/* What the faked calls saw, in order, as "setgroups 0 setgid 0 ...". */
static char calls[256];
static uid_t fake_uid;
static int fail_setgid;

static void
record(const char *name, long arg)
{
	size_t n = strlen(calls);

	snprintf(
	    calls + n, sizeof(calls) - n, "%s%s %ld", n ? " " : "", name, arg);
}

uid_t
__wrap_getuid(void)
{
	return fake_uid;
}

int
__wrap_setgroups(size_t size, const gid_t *list)
{
	(void)list;
	record("setgroups", (long)size);
	return 0;
}

int
__wrap_initgroups(const char *user, gid_t group)
{
	record(user, (long)group);
	return 0;
}

int
__wrap_setgid(gid_t gid)
{
	record("setgid", (long)gid);
	if (fail_setgid) {
		errno = EPERM;
		return -1;
	}
	return 0;
}

int
__wrap_setuid(uid_t uid)
{
	record("setuid", (long)uid);
	return 0;
}

static int
setup(void **state)
{
	(void)state;
	calls[0] = '\0';
	fake_uid = 0;
	fail_setgid = 0;
	return 0;
}

static void
test_nothing_asked_is_a_no_op(void **state)
{
	struct priv p;
	char err[128] = "";

	(void)state;
	assert_int_equal(
	    priv_lookup(NULL, NULL, &p, err, sizeof(err)), PRIV_NOTHING);
	assert_string_equal(err, "");
}

static void
test_not_root_ignores_user_and_group(void **state)
{
	struct priv p;
	char err[128] = "";

	(void)state;
	fake_uid = 1000;
	assert_int_equal(priv_lookup("no-such-user-superd", "no-such-group", &p,
			     err, sizeof(err)),
	    PRIV_NOT_ROOT);
	assert_string_equal(err, "");
}

static void
test_unknown_user_is_an_error_naming_it(void **state)
{
	struct priv p;
	char err[128];

	(void)state;
	assert_int_equal(
	    priv_lookup("no-such-user-superd", "root", &p, err, sizeof(err)),
	    -1);
	assert_string_equal(
	    err, "unknown user or group \"no-such-user-superd\"");
}

static void
test_unknown_group_is_an_error_naming_it(void **state)
{
	struct priv p;
	char err[128];

	(void)state;
	assert_int_equal(
	    priv_lookup("root", "no-such-group-superd", &p, err, sizeof(err)),
	    -1);
	assert_string_equal(
	    err, "unknown user or group \"no-such-group-superd\"");
}

static void
test_user_alone_takes_its_own_group(void **state)
{
	struct priv p;
	char err[128];

	(void)state;
	assert_int_equal(priv_lookup("root", NULL, &p, err, sizeof(err)), 0);
	assert_string_equal(p.user, "root");
	assert_int_equal(p.uid, 0);
	assert_int_equal(p.gid, 0);
}

static void
test_group_alone_keeps_the_user(void **state)
{
	struct priv p;
	char err[128];

	(void)state;
	assert_int_equal(priv_lookup(NULL, "root", &p, err, sizeof(err)), 0);
	assert_null(p.user);
	assert_int_equal(priv_switch(&p, PRIV_INITGROUPS), 0);
	assert_string_equal(calls, "setgroups 0 setgid 0");
}

static void
test_switch_drops_every_other_group(void **state)
{
	struct priv p = {"daemon", 1, 1};

	(void)state;
	assert_int_equal(priv_switch(&p, 0), 0);
	assert_string_equal(calls, "setgroups 0 setgid 1 setuid 1");
}

static void
test_switch_with_initgroups_takes_the_users_groups(void **state)
{
	struct priv p = {"daemon", 1, 1};

	(void)state;
	assert_int_equal(priv_switch(&p, PRIV_INITGROUPS), 0);
	assert_string_equal(calls, "daemon 1 setgid 1 setuid 1");
}

static void
test_failed_setgid_keeps_the_user(void **state)
{
	struct priv p = {"daemon", 1, 1};

	(void)state;
	fail_setgid = 1;
	assert_int_equal(priv_switch(&p, 0), -1);
	assert_int_equal(errno, EPERM);
	assert_string_equal(calls, "setgroups 0 setgid 1");
}

#define T(f) cmocka_unit_test_setup(f, setup)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_nothing_asked_is_a_no_op),
	    T(test_not_root_ignores_user_and_group),
	    T(test_unknown_user_is_an_error_naming_it),
	    T(test_unknown_group_is_an_error_naming_it),
	    T(test_user_alone_takes_its_own_group),
	    T(test_group_alone_keeps_the_user),
	    T(test_switch_drops_every_other_group),
	    T(test_switch_with_initgroups_takes_the_users_groups),
	    T(test_failed_setgid_keeps_the_user),
	};

	return cmocka_run_group_tests_name("priv", tests, NULL, NULL);
}
