/*
 * stats.c - with workers = N, every worker's counters live in one shared
 * anonymous mapping made before the fork, a slot per service name and a
 * row per worker, so any worker can report them all.  Each row has one
 * writer (its worker); readers may see a count a moment old.
 */
#include <string.h>
#include <sys/mman.h>

#include "stats.h"

static struct stats_slot *slots;
static int nworkers = 1;

int
stats_share(int workers)
{
	if (workers > STATS_WORKERS)
		workers = STATS_WORKERS;
	slots = mmap(NULL, STATS_SERVICES * sizeof(*slots),
	    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (slots == MAP_FAILED) {
		slots = NULL;
		return -1;
	}
	nworkers = workers;
	return 0;
}

int
stats_workers(void)
{
	return slots ? nworkers : 1;
}

/* The slot named name, claimed if there is none; NULL when all are used. */
struct service_stats *
stats_slot_for(const char *name, int worker)
{
	int i, free_state;

	if (slots == NULL || worker < 1 || worker > nworkers)
		return NULL;
	for (;;) {
		for (i = 0; i < STATS_SERVICES; i++)
			if (__atomic_load_n(
				&slots[i].state, __ATOMIC_ACQUIRE) == 2 &&
			    strncmp(slots[i].name, name,
				sizeof(slots[i].name)) == 0)
				return &slots[i].w[worker - 1];
		for (i = 0; i < STATS_SERVICES; i++) {
			free_state = 0;
			if (__atomic_compare_exchange_n(&slots[i].state,
				&free_state, 1, 0, __ATOMIC_ACQ_REL,
				__ATOMIC_ACQUIRE)) {
				strncpy(slots[i].name, name,
				    sizeof(slots[i].name) - 1);
				__atomic_store_n(
				    &slots[i].state, 2, __ATOMIC_RELEASE);
				return &slots[i].w[worker - 1];
			}
		}
		return NULL;
	}
}

const struct stats_slot *
stats_slot(int i)
{
	if (slots == NULL || i < 0 || i >= STATS_SERVICES ||
	    __atomic_load_n(&slots[i].state, __ATOMIC_ACQUIRE) != 2)
		return NULL;
	return &slots[i];
}

/*
 * A worker died: what it had open and the memory its Lua states held went
 * with it.  Its counts of what it served stay; the master writes the row
 * only while no worker owns it.
 */
void
stats_worker_gone(int worker)
{
	int i;

	if (slots == NULL || worker < 1 || worker > nworkers)
		return;
	for (i = 0; i < STATS_SERVICES; i++) {
		slots[i].w[worker - 1].active = 0;
		slots[i].w[worker - 1].memory = 0;
	}
}
