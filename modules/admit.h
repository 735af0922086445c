/* admit.h - who may connect: access lists, limits, counts, refusals. */
#ifndef SUPERD_ADMIT_H
#define SUPERD_ADMIT_H

#include <stdint.h>

#include "conf.h"
#include "limit.h"
#include "net.h"
#include "stats.h"

/* What an admitted peer holds while it is open. */
enum admit_kind {
	ADMIT_CLIENT,	/* an accepted connection or exec child: per_source */
	ADMIT_DATAGRAM, /* a datagram's coroutine */
	ADMIT_OUTBOUND, /* a superd.connect socket */
	ADMIT_PROGRAM	/* a wait service's program: it has the listener */
};

/* A service's admission: embedded in it, its counts in one place. */
struct admission {
	const char *name;	     /* the service's, for the log */
	const struct svc_conf *conf; /* its limits and access lists */
	struct service_stats *stats; /* refusals and the open count go there */
	long open;		/* clients, children, datagrams, outbound */
	long outbound;		/* of which superd.connect sockets */
	struct sources sources; /* open clients per address */
	struct bucket bucket;	/* the rate */
};

void admit_init(struct admission *a, const char *name, const struct svc_conf *v,
    struct service_stats *stats);
void admit_free(struct admission *a);

const char *admit_check(struct admission *a, const union net_addr *peer);
const char *admit_check_proxy(struct admission *a, const union net_addr *peer);
const char *admit_room(const struct admission *a);

void admit_hold(
    struct admission *a, const union net_addr *peer, enum admit_kind kind);
void admit_release(
    struct admission *a, const union net_addr *peer, enum admit_kind kind);

void admit_count_refusal(struct admission *a, const char *why);
void admit_refuse(struct admission *a, const char *proto,
    const union net_addr *peer, const char *why);

void admit_set_max_total(long max);
long admit_open_total(void);
long admit_outbound_total(void);
long admit_clients_total(void);
uint32_t admit_new_id(void);

#endif
