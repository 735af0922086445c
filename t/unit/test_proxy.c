/* test_proxy.c - PROXY protocol v1 and v2 headers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <string.h>

#include "proxy.h"

static int
parse(const char *buf, size_t len, char *addr, int *port, int *local)
{
	union net_addr a;
	int n;

	memset(&a, 0, sizeof(a));
	*local = -1;
	n = proxy_parse(buf, len, &a, local);
	if (n > 0 && !*local)
		net_ntop(&a, addr, port);
	return n;
}

static void
test_v1_tcp4_and_tcp6(void **state)
{
	const char *h = "PROXY TCP4 192.0.2.7 10.0.0.1 56324 443\r\nGET";
	const char *h6 = "PROXY TCP6 2001:db8::1 ::1 4000 80\r\n";
	char addr[NET_ADDRSTRLEN];
	int port, local;

	(void)state;
	assert_int_equal(
	    parse(h, strlen(h), addr, &port, &local), strlen(h) - 3);
	assert_string_equal(addr, "192.0.2.7");
	assert_int_equal(port, 56324);
	assert_int_equal(local, 0);
	assert_int_equal(
	    parse(h6, strlen(h6), addr, &port, &local), strlen(h6));
	assert_string_equal(addr, "2001:db8::1");
	assert_int_equal(port, 4000);
}

static void
test_v1_unknown_is_local(void **state)
{
	const char *h = "PROXY UNKNOWN\r\n";
	char addr[NET_ADDRSTRLEN];
	int port, local;

	(void)state;
	assert_int_equal(parse(h, strlen(h), addr, &port, &local), 15);
	assert_int_equal(local, 1);
	/* the specification: what follows UNKNOWN and a space is ignored */
	h = "PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n";
	assert_int_equal(
	    parse(h, strlen(h), addr, &port, &local), (int)strlen(h));
	assert_int_equal(local, 1);
}

static void
test_partial_headers_need_more(void **state)
{
	const char *h = "PROXY TCP4 192.0.2.7 10.0.0.1 56324 443\r\n";
	char addr[NET_ADDRSTRLEN];
	size_t i;
	int port, local;

	(void)state;
	assert_int_equal(parse(NULL, 0, addr, &port, &local), PROXY_NEED_MORE);
	for (i = 1; i < strlen(h); i++)

		assert_int_equal(
		    parse(h, i, addr, &port, &local), PROXY_NEED_MORE);
}

static void
test_malformed_headers_are_bad(void **state)
{
	static const char *const bad[] = {
	    "GET / HTTP/1.0\r\n",
	    "PROXY TCP4 192.0.2.7 10.0.0.1 56324\r\n",
	    "PROXY TCP4 300.0.2.7 10.0.0.1 1 2\r\n",
	    "PROXY TCP4 192.0.2.7 10.0.0.1 1 70000\r\n",
	    "PROXY TCP4 192.0.2.7 10.0.0.1 01 2\r\n",
	    "PROXY TCP5 192.0.2.7 10.0.0.1 1 2\r\n",
	    "PROXY TCP4 ::1 ::1 1 2\r\n",
	    "PROXY TCP4 192.0.2.7 10.0.0.1 1 2\rX",
	    "PROXY TCP4 192.0.2.7 10.0.0.1 1 2 extra\r\n",
	    "PROXY UNKNOWNJUNK\r\n",
	    "PROXY  TCP4 192.0.2.7 10.0.0.1 1 2\r\n",
	    "PROXY TCP4  192.0.2.7 10.0.0.1 1 2\r\n",
	    "PROXY TCP4 192.0.2.7 10.0.0.1  1 2\r\n",
	    "PROXY TCP4 192.0.2.7 10.0.0.1 1\t2\r\n",
	    NULL,
	};
	char addr[NET_ADDRSTRLEN], longline[200];
	int i, port, local;

	(void)state;
	for (i = 0; bad[i]; i++)
		if (parse(bad[i], strlen(bad[i]), addr, &port, &local) !=
		    PROXY_BAD)
			fail_msg("accepted: %s", bad[i]);
	memset(longline, 'x', sizeof(longline));
	memcpy(longline, "PROXY ", 6);
	assert_int_equal(
	    parse(longline, sizeof(longline), addr, &port, &local), PROXY_BAD);
}

static size_t
v2(unsigned char *out, int cmd, int fam, const void *addrs, uint16_t n)
{
	memcpy(out, "\r\n\r\n\0\r\nQUIT\n", 12);
	out[12] = (unsigned char)(0x20 | cmd);
	out[13] = (unsigned char)fam;
	out[14] = (unsigned char)(n >> 8);
	out[15] = (unsigned char)n;
	memcpy(out + 16, addrs, n);
	return 16 + (size_t)n;
}

static void
test_v2_tcp4_tcp6_and_local(void **state)
{
	unsigned char buf[128], a4[12 + 5], a6[36];
	char addr[NET_ADDRSTRLEN];
	uint16_t p = htons(6553), q = htons(80);
	int port, local;
	size_t n;

	(void)state;
	inet_pton(AF_INET, "198.51.100.9", a4);
	inet_pton(AF_INET, "127.0.0.1", a4 + 4);
	memcpy(a4 + 8, &p, 2);
	memcpy(a4 + 10, &q, 2);
	memset(a4 + 12, 0, 5); /* a TLV after the addresses is skipped */
	n = v2(buf, 1, 0x11, a4, sizeof(a4));
	assert_int_equal(parse((char *)buf, n, addr, &port, &local), n);
	assert_string_equal(addr, "198.51.100.9");
	assert_int_equal(port, 6553);
	assert_int_equal(
	    parse((char *)buf, n - 1, addr, &port, &local), PROXY_NEED_MORE);
	inet_pton(AF_INET6, "2001:db8::9", a6);
	inet_pton(AF_INET6, "::1", a6 + 16);
	memcpy(a6 + 32, &p, 2);
	memcpy(a6 + 34, &q, 2);
	n = v2(buf, 1, 0x21, a6, sizeof(a6));
	assert_int_equal(parse((char *)buf, n, addr, &port, &local), n);
	assert_string_equal(addr, "2001:db8::9");
	n = v2(buf, 0, 0x00, a6, 0);
	assert_int_equal(parse((char *)buf, n, addr, &port, &local), 16);
	assert_int_equal(local, 1);
}

/*
 * UDP and AF_UNIX carry nothing a TCP listener can use: the specification
 * lets the receiver fall back to UNSPEC, the real connection's addresses.
 */
static void
test_v2_udp_and_unix_fall_back_to_local(void **state)
{
	static const int fams[] = {0x12, 0x22, 0x31, 0x32};
	unsigned char buf[256], a[216] = {0};
	char addr[NET_ADDRSTRLEN];
	uint16_t lens[] = {12, 36, 216, 216};
	int i, port, local;
	size_t n;

	(void)state;
	for (i = 0; i < 4; i++) {
		n = v2(buf, 1, fams[i], a, lens[i]);
		if (parse((char *)buf, n, addr, &port, &local) != (int)n ||
		    local != 1)
			fail_msg("family 0x%02x not taken as local", fams[i]);
	}
	n = v2(buf, 1, 0x31, a, 100); /* too short for AF_UNIX */
	assert_int_equal(parse((char *)buf, n, addr, &port, &local), PROXY_BAD);
	n = v2(buf, 1, 0x41, a, 12); /* no such family */
	assert_int_equal(parse((char *)buf, n, addr, &port, &local), PROXY_BAD);
	n = v2(buf, 1, 0x13, a, 12); /* no such transport */
	assert_int_equal(parse((char *)buf, n, addr, &port, &local), PROXY_BAD);
}

static void
test_v2_bad_version_and_lengths(void **state)
{
	unsigned char buf[128], a4[12] = {0};
	char addr[NET_ADDRSTRLEN];
	int port, local;
	size_t n;

	(void)state;
	n = v2(buf, 1, 0x11, a4, sizeof(a4));
	buf[12] = 0x31; /* version 3 */
	assert_int_equal(parse((char *)buf, n, addr, &port, &local), PROXY_BAD);
	n = v2(buf, 1, 0x11, a4, 4); /* too short for TCP4 */
	assert_int_equal(parse((char *)buf, n, addr, &port, &local), PROXY_BAD);
	n = v2(buf, 1, 0x11, a4, sizeof(a4));
	buf[14] = 0xff; /* longer than any header */
	assert_int_equal(parse((char *)buf, n, addr, &port, &local), PROXY_BAD);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_v1_tcp4_and_tcp6),
	    cmocka_unit_test(test_v1_unknown_is_local),
	    cmocka_unit_test(test_partial_headers_need_more),
	    cmocka_unit_test(test_malformed_headers_are_bad),
	    cmocka_unit_test(test_v2_tcp4_tcp6_and_local),
	    cmocka_unit_test(test_v2_udp_and_unix_fall_back_to_local),
	    cmocka_unit_test(test_v2_bad_version_and_lengths),
	};
	return cmocka_run_group_tests_name("proxy", tests, NULL, NULL);
}
