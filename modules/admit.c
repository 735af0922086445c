/*
 * admit.c - who may connect: a service's access lists and limits, the
 * counts they are checked against, and the refusals, logged and counted
 * by reason.  One max_connections check serves every kind of socket.
 */
#include <stdint.h>
#include <string.h>

#include "acl.h"
#include "admit.h"
#include "log.h"
#include "loop.h"

/* Every service together, against the global max_connections. */
static long total, outbound_total, max_total = 10000;
static uint32_t last_id;

/* superctl's name for a new client connection, a script's or a relay's. */
uint32_t
admit_new_id(void)
{
	/* after 2^32 - 1 of them, 0 is skipped: it names no connection */
	if (++last_id == 0)
		++last_id;
	return last_id;
}

/* Clients open now, of every kind: not superd.connect's sockets. */
long
admit_clients_total(void)
{
	return total - outbound_total;
}

void
admit_set_max_total(long max)
{
	max_total = max;
}

long
admit_open_total(void)
{
	return total;
}

/* Sockets opened by superd.connect: they do not hold up a shutdown. */
long
admit_outbound_total(void)
{
	return outbound_total;
}

void
admit_init(struct admission *a, const char *name, const struct svc_conf *v,
    struct service_stats *stats)
{
	memset(a, 0, sizeof(*a));
	a->name = name;
	a->conf = v;
	a->stats = stats;
}

void
admit_free(struct admission *a)
{
	sources_free(&a->sources);
}

/*
 * The one max_connections check: for accepted clients, clients waiting
 * for their PROXY header, datagrams and superd.connect sockets alike.
 */
const char *
admit_room(const struct admission *a)
{
	if (total >= max_total)
		return "global max_connections";
	if (a->open >= a->conf->max_connections)
		return "max_connections";
	return NULL;
}

/* NULL when peer may connect now, else why not. */
const char *
admit_check(struct admission *a, const union net_addr *peer)
{
	const struct svc_conf *v = a->conf;
	const char *why;
	uint8_t key[16];

	if (v->deny.n && acl_match(&v->deny, peer))
		return "no_access";
	if (v->only_from && !acl_match(&v->allow, peer))
		return "only_from";
	if ((why = admit_room(a)) != NULL)
		return why;
	acl_key(peer, key);
	if (v->per_source && sources_get(&a->sources, key) >= v->per_source)
		return "per_source";
	/* so that admit_hold, which cannot fail, has room to count it */
	if (sources_reserve(&a->sources) < 0)
		return "out of memory";
	if (!bucket_take(&a->bucket, (double)v->rate, loop_now()))
		return "rate";
	return NULL;
}

/*
 * Behind a proxy the peer is the proxy: only proxy_from and the counts
 * apply now; the access lists and per-source limits wait for the header.
 */
const char *
admit_check_proxy(struct admission *a, const union net_addr *peer)
{
	const char *why;

	if (!acl_match(&a->conf->proxy_from, peer))
		return "proxy_from";
	if ((why = admit_room(a)) != NULL)
		return why;
	if (sources_reserve(&a->sources) < 0)
		return "out of memory";
	return NULL;
}

/*
 * What a socket holds while it is open.  ADMIT_CLIENT counts against its
 * address's per_source too; a datagram's coroutine and a superd.connect
 * socket do not.
 */
static void
count(struct admission *a, const union net_addr *peer, enum admit_kind kind,
    int delta)
{
	uint8_t key[16];

	a->open += delta;
	total += delta;
	if (kind == ADMIT_CLIENT) {
		acl_key(peer, key);
		sources_add(&a->sources, key, delta);
	} else if (kind == ADMIT_OUTBOUND) {
		a->outbound += delta;
		outbound_total += delta;
	}
	a->stats->active = a->open;
}

void
admit_hold(
    struct admission *a, const union net_addr *peer, enum admit_kind kind)
{
	count(a, peer, kind, 1);
}

void
admit_release(
    struct admission *a, const union net_addr *peer, enum admit_kind kind)
{
	count(a, peer, kind, -1);
}

/* Counted by reason, for superd.stats() and /metrics. */
void
admit_count_refusal(struct admission *a, const char *why)
{
	struct service_stats *st = a->stats;
	int i;

	st->refused++;
	for (i = 0; i < STATS_REASONS; i++) {
		if (st->refused_by[i].why == NULL)
			st->refused_by[i].why = why;
		if (strcmp(st->refused_by[i].why, why) == 0) {
			st->refused_by[i].n++;
			return;
		}
	}
}

void
admit_refuse(struct admission *a, const char *proto, const union net_addr *peer,
    const char *why)
{
	char text[NET_PEERSTRLEN];

	admit_count_refusal(a, why);
	log_msg(LOG_NOTICE, "%s: %s: refused: %s", a->name,
	    net_peer(peer, proto, text), why);
}
