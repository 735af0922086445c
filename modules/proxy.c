/*
 * proxy.c - HAProxy's PROXY protocol header, versions 1 and 2, as its
 * specification (proxy-protocol.txt) has them.  Plain C: the caller
 * reads, this only parses.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy.h"

static const char v2sig[12] = "\r\n\r\n\0\r\nQUIT\n";

static void
set_v4(union net_addr *a, const void *ip, uint16_t port_be)
{
	memset(a, 0, sizeof(*a));
	a->in4.sin_family = AF_INET;
	memcpy(&a->in4.sin_addr, ip, 4);
	a->in4.sin_port = port_be;
}

static void
set_v6(union net_addr *a, const void *ip, uint16_t port_be)
{
	memset(a, 0, sizeof(*a));
	a->in6.sin6_family = AF_INET6;
	memcpy(&a->in6.sin6_addr, ip, 16);
	a->in6.sin6_port = port_be;
}

/* The address block's length for each family (high nibble of byte 13). */
static const uint16_t v2_addr_len[4] = {0, 12, 36, 216};

/*
 * UNSPEC, AF_UNIX and UDP carry no address a TCP listener can use: the
 * specification lets the receiver fall back to UNSPEC, that is the real
 * connection's addresses, as for LOCAL.
 */
static int
parse_v2(const unsigned char *p, size_t len, union net_addr *src, int *local)
{
	uint16_t n, port;
	size_t total;
	int fam, proto;

	if (len < 16)
		return PROXY_NEED_MORE;
	if ((p[12] & 0xf0) != 0x20 || (p[12] & 0x0f) > 1)
		return PROXY_BAD;
	n = (uint16_t)(p[14] << 8 | p[15]);
	total = 16 + (size_t)n;
	if (total > PROXY_MAX)
		return PROXY_BAD;
	if (len < total)
		return PROXY_NEED_MORE;
	*local = 1;
	fam = p[13] >> 4;
	proto = p[13] & 0x0f;
	if ((p[12] & 0x0f) == 0)
		return (int)total;
	if (fam > 3 || proto > 2 || n < v2_addr_len[fam])
		return PROXY_BAD;
	if (fam == 0 || fam == 3 || proto != 1)
		return (int)total;
	*local = 0;
	if (fam == 1) {
		memcpy(&port, p + 24, 2);
		set_v4(src, p + 16, port);
	} else {
		memcpy(&port, p + 48, 2);
		set_v6(src, p + 16, port);
	}
	return (int)total;
}

static int
port_of(const char *s, uint16_t *out)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < 0 || v > 65535 ||
	    (s[0] == '0' && s[1] != '\0'))
		return -1;
	*out = htons((uint16_t)v);
	return 0;
}

/*
 * sscanf's %s skips any run of white space; the specification has exactly
 * one space between fields.
 */
static int
single_spaced(const char *line, const char *proto, const char *s, const char *d,
    const char *sp, const char *dp)
{
	char again[160]; /* the fields' buffers' sizes, so never cut */

	snprintf(
	    again, sizeof(again), "PROXY %s %s %s %s %s", proto, s, d, sp, dp);
	return strcmp(line, again) == 0;
}

/* "PROXY TCP4 src dst sport dport\r\n", at most 107 bytes. */
static int
parse_v1(const char *p, size_t len, union net_addr *src, int *local)
{
	char line[108], proto[8], s[48], d[48], sp[8], dp[8], extra;
	const char *crlf = memchr(p, '\r', len < 107 ? len : 107);
	unsigned char sip[16], dip[16];
	uint16_t port, dport;
	size_t n;

	if (crlf == NULL)
		return len >= 107 ? PROXY_BAD : PROXY_NEED_MORE;
	n = crlf - p;
	if (n + 1 >= len)
		return PROXY_NEED_MORE;
	if (crlf[1] != '\n')
		return PROXY_BAD;
	memcpy(line, p, n);
	line[n] = '\0';
	/* What follows "UNKNOWN " is ignored, as the specification says. */
	if (strncmp(line, "PROXY UNKNOWN", 13) == 0 &&
	    (line[13] == '\0' || line[13] == ' ')) {
		*local = 1;
		return (int)n + 2;
	}
	if (sscanf(line, "PROXY %7s %47s %47s %7s %7s%c", proto, s, d, sp, dp,
		&extra) != 5 ||
	    port_of(sp, &port) < 0 || port_of(dp, &dport) < 0 ||
	    !single_spaced(line, proto, s, d, sp, dp))
		return PROXY_BAD;
	*local = 0;
	if (strcmp(proto, "TCP4") == 0 && inet_pton(AF_INET, s, sip) == 1 &&
	    inet_pton(AF_INET, d, dip) == 1)
		set_v4(src, sip, port);
	else if (strcmp(proto, "TCP6") == 0 &&
		 inet_pton(AF_INET6, s, sip) == 1 &&
		 inet_pton(AF_INET6, d, dip) == 1)
		set_v6(src, sip, port);
	else
		return PROXY_BAD;
	return (int)n + 2;
}

/*
 * The header's length once all of it is in buf, with *src the client's
 * address (*local set when the header carries none: LOCAL or UNKNOWN);
 * PROXY_NEED_MORE while it may still be arriving; PROXY_BAD when it is not
 * a PROXY header.
 */
int
proxy_parse(const char *buf, size_t len, union net_addr *src, int *local)
{
	size_t n = len < 12 ? len : 12;

	if (len == 0)
		return PROXY_NEED_MORE;
	if (memcmp(buf, v2sig, n) == 0)

		return len < 12 ? PROXY_NEED_MORE
				: parse_v2((const unsigned char *)buf, len, src,
				      local);
	n = len < 6 ? len : 6;
	if (memcmp(buf, "PROXY ", n) != 0)
		return PROXY_BAD;
	return len < 6 ? PROXY_NEED_MORE : parse_v1(buf, len, src, local);
}
