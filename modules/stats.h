/* stats.h - a service's counters, and their home in shared memory when
 * several worker processes serve the same services. */
#ifndef SUPERD_STATS_H
#define SUPERD_STATS_H

#include <stddef.h>
#include <stdint.h>

#define STATS_REASONS 16
#define STATS_SERVICES 128
#define STATS_WORKERS 32

/* TLS handshake failures by kind, as tls.c sorts them. */
#define STATS_TLS_KINDS 4

struct service_stats {
	uint64_t accepted, refused, bytes_in, bytes_out, errors;
	int64_t active;	 /* open now */
	uint64_t memory; /* bytes in the Lua state */
	uint64_t tls_handshakes, tls_failures;
	uint64_t tls_versions[2];		 /* TLS 1.2, 1.3 */
	uint64_t tls_failed_by[STATS_TLS_KINDS]; /* TLS_FAIL_* */
	struct {
		const char *why; /* a literal: the same in every worker */
		uint64_t n;
	} refused_by[STATS_REASONS];
};

/* One service's counters, a row per worker. */
struct stats_slot {
	int state;	/* 0 free, 1 being claimed, 2 named */
	uint32_t users; /* a bit per worker whose service uses it */
	char name[64];
	struct service_stats w[STATS_WORKERS];
};

int stats_share(int workers);
int stats_workers(void);
struct service_stats *stats_slot_for(const char *name, int worker);
void stats_slot_release(struct service_stats *row, int worker);
const struct stats_slot *stats_slot(int i);
void stats_worker_gone(int worker);

#endif
