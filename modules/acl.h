/* acl.h - CIDR allow and deny lists. */
#ifndef SUPERD_ACL_H
#define SUPERD_ACL_H

#include <stdint.h>

#include "net.h"

struct cidr {
	uint8_t addr[16]; /* IPv4 blocks are stored as v4-mapped IPv6 */
	int bits;	  /* prefix length over the 128-bit form */
};

struct acl {
	struct cidr *v;
	int n;
};

int acl_parse_one(const char *text, struct cidr *out);
/* -1 with *bad the index of the bad text, or -1 when out of memory. */
int acl_parse(char **texts, int n, struct acl *out, int *bad);
int acl_match(const struct acl *a, const union net_addr *peer);
void acl_free(struct acl *a);
void acl_key(const union net_addr *peer, uint8_t key[16]);

#endif
