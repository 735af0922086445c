/* acl.c - CIDR allow and deny lists. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"

static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/*
 * Every address as 16 bytes: IPv4 as v4-mapped IPv6, so a peer on a
 * dual-stack socket (::ffff:a.b.c.d) meets the same rules as on IPv4.
 * A unix peer is its uid, after twelve bytes of 0xff (a multicast
 * prefix, never a client's), so per_source counts per user there.
 */
void
acl_key(const union net_addr *peer, uint8_t key[16])
{
	uint32_t uid;

	if (peer->sa.sa_family == AF_UNIX) {
		uid = peer->un.uid;
		memset(key, 0xff, 12);
		memcpy(key + 12, &uid, 4);
	} else if (peer->sa.sa_family == AF_INET) {
		memcpy(key, v4mapped, 12);
		memcpy(key + 12, &peer->in4.sin_addr, 4);
	} else {
		memcpy(key, &peer->in6.sin6_addr, 16);
	}
}

/* "a.b.c.d", "a.b.c.d/n", "x::y" or "x::y/n"; -1 when it is not one. */
int
acl_parse_one(const char *text, struct cidr *out)
{
	char host[64], *slash, *end;
	int v4, max;
	long bits;

	if (strlen(text) >= sizeof(host))
		return -1;
	strcpy(host, text);
	if ((slash = strchr(host, '/')) != NULL)
		*slash++ = '\0';
	v4 = inet_pton(AF_INET, host, out->addr + 12) == 1;
	if (v4)
		memcpy(out->addr, v4mapped, 12);
	else if (inet_pton(AF_INET6, host, out->addr) != 1)
		return -1;
	max = v4 ? 32 : 128;
	bits = max;
	if (slash) {
		bits = strtol(slash, &end, 10);
		if (*slash == '\0' || *end != '\0' || bits < 0 || bits > max)
			return -1;
	}
	out->bits = (int)bits + (v4 ? 96 : 0);
	return 0;
}

int
acl_parse(char **texts, int n, struct acl *out, int *bad)
{
	int i;

	out->n = 0;
	out->v = NULL;
	if (n == 0)
		return 0;
	if ((out->v = calloc(n, sizeof(*out->v))) == NULL) {
		*bad = -1; /* no text is to blame */
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (acl_parse_one(texts[i], &out->v[i]) < 0) {
			*bad = i;
			acl_free(out);
			return -1;
		}
	}
	out->n = n;
	return 0;
}

static int
cidr_match(const struct cidr *c, const uint8_t key[16])
{
	int full = c->bits / 8, rest = c->bits % 8;
	uint8_t mask;

	if (memcmp(c->addr, key, full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	mask = (uint8_t)(0xff << (8 - rest));
	return (c->addr[full] & mask) == (key[full] & mask);
}

/* 1 when peer falls in a block of the list. */
int
acl_match(const struct acl *a, const union net_addr *peer)
{
	uint8_t key[16];
	int i;

	acl_key(peer, key);
	for (i = 0; i < a->n; i++)
		if (cidr_match(&a->v[i], key))
			return 1;
	return 0;
}

void
acl_free(struct acl *a)
{
	free(a->v);
	a->v = NULL;
	a->n = 0;
}
