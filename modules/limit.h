/* limit.h - connection rate buckets and per-source counts. */
#ifndef SUPERD_LIMIT_H
#define SUPERD_LIMIT_H

#include <stdint.h>

/* A token bucket: rate tokens a second, as many at most. */
struct bucket {
	double tokens;
	double last;
};

int bucket_take(struct bucket *b, double rate, double now);

struct source;

/* Open connections per source address: a small open hash table. */
struct sources {
	struct source *v;
	uint32_t cap, used;
};

long sources_get(const struct sources *s, const uint8_t key[16]);
int sources_reserve(struct sources *s);
int sources_add(struct sources *s, const uint8_t key[16], int delta);
void sources_free(struct sources *s);

#endif
