/* test_acl.c - CIDR parsing and matching, v4, v6 and v4-mapped peers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <string.h>

#include "acl.h"

static union net_addr
v4(const char *ip)
{
	union net_addr a;

	memset(&a, 0, sizeof(a));
	a.in4.sin_family = AF_INET;
	inet_pton(AF_INET, ip, &a.in4.sin_addr);
	return a;
}

static union net_addr
v6(const char *ip)
{
	union net_addr a;

	memset(&a, 0, sizeof(a));
	a.in6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, ip, &a.in6.sin6_addr);
	return a;
}

static int
matches(const char *block, union net_addr peer)
{
	char *texts[] = {(char *)block};
	struct acl acl;
	int bad = -1, m;

	assert_int_equal(acl_parse(texts, 1, &acl, &bad), 0);
	m = acl_match(&acl, &peer);
	acl_free(&acl);
	return m;
}

static void
test_parse_accepts_addresses_and_blocks(void **state)
{
	struct cidr c;

	(void)state;
	assert_int_equal(acl_parse_one("127.0.0.1", &c), 0);
	assert_int_equal(c.bits, 128);
	assert_int_equal(acl_parse_one("10.0.0.0/8", &c), 0);
	assert_int_equal(c.bits, 104);
	assert_int_equal(acl_parse_one("::1", &c), 0);
	assert_int_equal(acl_parse_one("2001:db8::/32", &c), 0);
	assert_int_equal(c.bits, 32);
	assert_int_equal(acl_parse_one("0.0.0.0/0", &c), 0);
}

static void
test_parse_rejects_bad_text(void **state)
{
	struct cidr c;
	char *texts[] = {"10.0.0.0/8", "10.0.0.0/33"};
	struct acl acl;
	int bad = -1;

	(void)state;
	assert_int_equal(acl_parse_one("10.0.0.0/33", &c), -1);
	assert_int_equal(acl_parse_one("::/129", &c), -1);
	assert_int_equal(acl_parse_one("300.1.1.1", &c), -1);
	assert_int_equal(acl_parse_one("10.0.0.0/", &c), -1);
	assert_int_equal(acl_parse_one("10.0.0.0/8x", &c), -1);
	assert_int_equal(acl_parse_one("example.org", &c), -1);
	assert_int_equal(acl_parse_one("", &c), -1);
	assert_int_equal(acl_parse(texts, 2, &acl, &bad), -1);
	assert_int_equal(bad, 1);
}

static void
test_v4_blocks(void **state)
{
	(void)state;
	assert_true(matches("127.0.0.0/8", v4("127.1.2.3")));
	assert_false(matches("127.0.0.0/8", v4("128.0.0.1")));
	assert_true(matches("192.168.1.128/25", v4("192.168.1.200")));
	assert_false(matches("192.168.1.128/25", v4("192.168.1.100")));
	assert_true(matches("10.1.2.3", v4("10.1.2.3")));
	assert_false(matches("10.1.2.3", v4("10.1.2.4")));
	assert_true(matches("0.0.0.0/0", v4("8.8.8.8")));
}

static void
test_v6_blocks(void **state)
{
	(void)state;
	assert_true(matches("::1", v6("::1")));
	assert_false(matches("::1", v6("::2")));
	assert_true(matches("2001:db8::/32", v6("2001:db8:1::5")));
	assert_false(matches("2001:db8::/32", v6("2001:db9::5")));
	assert_false(matches("::1", v4("127.0.0.1")));
}

static void
test_mapped_peer_meets_v4_rules(void **state)
{
	(void)state;
	assert_true(matches("127.0.0.0/8", v6("::ffff:127.0.0.1")));
	assert_false(matches("10.0.0.0/8", v6("::ffff:127.0.0.1")));
	assert_true(matches("10.0.0.5", v6("::ffff:10.0.0.5")));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_accepts_addresses_and_blocks),
	    cmocka_unit_test(test_parse_rejects_bad_text),
	    cmocka_unit_test(test_v4_blocks),
	    cmocka_unit_test(test_v6_blocks),
	    cmocka_unit_test(test_mapped_peer_meets_v4_rules),
	};
	return cmocka_run_group_tests_name("acl", tests, NULL, NULL);
}
