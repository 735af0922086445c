/* limit.c - connection rate buckets and per-source counts. */
#include <stdlib.h>
#include <string.h>

#include "limit.h"

/* 1 when a token was there to take; a bucket starts full. */
int
bucket_take(struct bucket *b, double rate, double now)
{
	if (rate <= 0)
		return 1;
	if (b->last == 0)
		b->tokens = rate;
	else
		b->tokens += (now - b->last) * rate;
	if (b->tokens > rate)
		b->tokens = rate;
	b->last = now;
	if (b->tokens < 1)
		return 0;
	b->tokens -= 1;
	return 1;
}

struct source {
	uint8_t key[16];
	long count; /* 0: free slot */
};

static uint32_t
hash(const uint8_t key[16])
{
	uint32_t h = 2166136261u;
	int i;

	for (i = 0; i < 16; i++)
		h = (h ^ key[i]) * 16777619u;
	return h;
}

static struct source *
slot(const struct sources *s, const uint8_t key[16], int want_free)
{
	uint32_t i, mask = s->cap - 1;
	struct source *e;

	for (i = hash(key) & mask;; i = (i + 1) & mask) {
		e = &s->v[i];
		if (e->count == 0)
			return want_free ? e : NULL;
		if (memcmp(e->key, key, 16) == 0)
			return e;
	}
}

long
sources_get(const struct sources *s, const uint8_t key[16])
{
	struct source *e;

	if (s->used == 0)
		return 0;
	e = slot(s, key, 0);
	return e ? e->count : 0;
}

static int
rehash(struct sources *s, uint32_t cap)
{
	struct sources n = {calloc(cap, sizeof(struct source)), cap, 0};
	uint32_t i;

	if (n.v == NULL)
		return -1;
	for (i = 0; i < s->cap; i++)
		if (s->v[i].count > 0) {
			*slot(&n, s->v[i].key, 1) = s->v[i];
			n.used++;
		}
	free(s->v);
	*s = n;
	return 0;
}

/* Removing an entry re-inserts the run after it (linear probing). */
static void
drop(struct sources *s, struct source *e)
{
	uint32_t mask = s->cap - 1, i = (uint32_t)(e - s->v);
	struct source moved;

	e->count = 0;
	s->used--;
	for (i = (i + 1) & mask; s->v[i].count > 0; i = (i + 1) & mask) {
		moved = s->v[i];
		s->v[i].count = 0;
		*slot(s, moved.key, 1) = moved;
	}
}

/* Room for one more address, so that the next sources_add cannot fail. */
int
sources_reserve(struct sources *s)
{
	if ((s->used + 1) * 2 > s->cap)
		return rehash(s, s->cap ? s->cap * 2 : 16);
	return 0;
}

/* Only a new address can fail (-1): a release never allocates. */
int
sources_add(struct sources *s, const uint8_t key[16], int delta)
{
	struct source *e;

	if (delta <= 0 && s->used == 0)
		return 0;
	if (delta > 0 && sources_reserve(s) < 0)
		return -1;
	e = slot(s, key, 1);
	if (e->count == 0) {
		if (delta <= 0)
			return 0;
		memcpy(e->key, key, 16);
		s->used++;
	}
	e->count += delta;
	if (e->count <= 0)
		drop(s, e);
	return 0;
}

void
sources_free(struct sources *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}
