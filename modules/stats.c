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

/* Worker's row of slot i, which its service now uses. */
static struct service_stats *
use(int i, int worker)
{
	__atomic_fetch_or(
	    &slots[i].users, 1u << (worker - 1), __ATOMIC_ACQ_REL);
	return &slots[i].w[worker - 1];
}

/*
 * The slot named name, claimed if there is none; NULL when all are used.
 * worker 0 names a slot for the workers to come, using it for none.
 */
struct service_stats *
stats_slot_for(const char *name, int worker)
{
	int i, free_state;

	if (slots == NULL || worker < 0 || worker > nworkers)
		return NULL;
	for (i = 0; i < STATS_SERVICES; i++)
		if (__atomic_load_n(&slots[i].state, __ATOMIC_ACQUIRE) == 2 &&
		    strncmp(slots[i].name, name, sizeof(slots[i].name)) == 0)
			return worker ? use(i, worker) : &slots[i].w[0];
	for (i = 0; i < STATS_SERVICES; i++) {
		free_state = 0;
		if (__atomic_compare_exchange_n(&slots[i].state, &free_state, 1,
			0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
			memset(slots[i].w, 0, sizeof(slots[i].w));
			strncpy(slots[i].name, name, sizeof(slots[i].name) - 1);
			slots[i].name[sizeof(slots[i].name) - 1] = '\0';
			__atomic_store_n(&slots[i].state, 2, __ATOMIC_RELEASE);
			return worker ? use(i, worker) : &slots[i].w[0];
		}
	}
	return NULL;
}

/*
 * Worker's service of that row is gone; the slot is free again once no
 * worker's service uses it (its counts go with it).
 */
void
stats_slot_release(struct service_stats *row, int worker)
{
	uint32_t bit = 1u << (worker - 1), left;
	int i;

	if (slots == NULL || worker < 1 || worker > nworkers)
		return;
	i = (int)(((char *)row - (char *)slots) / (ptrdiff_t)sizeof(*slots));
	if (i < 0 || i >= STATS_SERVICES || &slots[i].w[worker - 1] != row)
		return;
	left = __atomic_and_fetch(&slots[i].users, ~bit, __ATOMIC_ACQ_REL);
	if (left == 0)
		__atomic_store_n(&slots[i].state, 0, __ATOMIC_RELEASE);
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
