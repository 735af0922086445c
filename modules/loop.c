/* loop.c - one epoll loop with a min-heap of timers. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"

#define LOOP_BATCH 256

static int epfd = -1;
static int stopping;
static double now_cache;
static loop_idle_fn *idle_fn;

/*
 * The round's events not yet dispatched: a callback may free the owner
 * of one of them (a listener closed at a stop, a stream), so loop_del
 * blanks its entries, as libuv does.
 */
static struct epoll_event ev[LOOP_BATCH];
static int ev_next, ev_n;

static struct loop_timer **heap;
static int heap_len, heap_cap;
/*
 * Timers armed while the heap could not grow: a list through the timers
 * themselves, so arming one never fails (a lost timer would be a sleep
 * that never ends, or listeners paused for good).  Moved to the heap as
 * soon as it has room.
 */
static struct loop_timer *overflow;

int
loop_init(void)
{
	epfd = epoll_create1(EPOLL_CLOEXEC);
	loop_update_time();
	return epfd < 0 ? -1 : 0;
}

void
loop_update_time(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now_cache = ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The time as of the last wake-up: cheap enough to call per operation. */
double
loop_now(void)
{
	return now_cache;
}

static uint32_t
epoll_mask(int mask)
{
	uint32_t ev = 0;

	if (mask & LOOP_READ)
		ev |= EPOLLIN | EPOLLRDHUP;
	if (mask & LOOP_WRITE)
		ev |= EPOLLOUT;
	if (mask & LOOP_EDGE)
		ev |= EPOLLET;
	return ev;
}

int
loop_add(struct loop_io *io, int fd, int mask, loop_io_fn *fn)
{
	struct epoll_event ev = {.events = epoll_mask(mask), .data.ptr = io};

	io->fd = fd;
	io->mask = mask;
	io->fn = fn;
	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

int
loop_mod(struct loop_io *io, int mask)
{
	struct epoll_event ev = {.events = epoll_mask(mask), .data.ptr = io};

	if (io->mask == mask)
		return 0;
	io->mask = mask;
	return epoll_ctl(epfd, EPOLL_CTL_MOD, io->fd, &ev);
}

void
loop_del(struct loop_io *io)
{
	int i;

	if (io->fd >= 0)
		epoll_ctl(epfd, EPOLL_CTL_DEL, io->fd, NULL);
	io->mask = 0;
	for (i = ev_next; i < ev_n; i++)
		if (ev[i].data.ptr == io)
			ev[i].data.ptr = NULL;
}

/* The timer heap: heap[0] is the nearest deadline. */
static void
heap_place(struct loop_timer *t, int i)
{
	heap[i] = t;
	t->slot = i;
}

static void
heap_up(int i)
{
	struct loop_timer *t = heap[i];

	while (i > 0 && heap[(i - 1) / 2]->when > t->when) {
		heap_place(heap[(i - 1) / 2], i);
		i = (i - 1) / 2;
	}
	heap_place(t, i);
}

static void
heap_down(int i)
{
	struct loop_timer *t = heap[i];
	int c;

	while ((c = 2 * i + 1) < heap_len) {
		if (c + 1 < heap_len && heap[c + 1]->when < heap[c]->when)
			c++;
		if (heap[c]->when >= t->when)
			break;
		heap_place(heap[c], i);
		i = c;
	}
	heap_place(t, i);
}

void
loop_timer_init(struct loop_timer *t, loop_timer_fn *fn)
{
	t->when = 0;
	t->slot = -1;
	t->fn = fn;
}

int
loop_timer_armed(const struct loop_timer *t)
{
	return t->slot != -1;
}

static int
heap_grow(void)
{
	int cap = heap_cap ? heap_cap * 2 : 64;
	struct loop_timer **h = realloc(heap, cap * sizeof(*h));

	if (h == NULL)
		return -1;
	heap = h;
	heap_cap = cap;
	return 0;
}

static void
overflow_unlink(struct loop_timer *t)
{
	struct loop_timer **p;

	for (p = &overflow; *p != t; p = &(*p)->next)
		;
	*p = t->next;
	t->slot = -1;
}

/* Never fails: without room in the heap the timer waits in overflow. */
int
loop_timer_set(struct loop_timer *t, double when)
{
	t->when = when;
	if (t->slot >= 0) {
		heap_up(t->slot);
		heap_down(t->slot);
		return 0;
	}
	if (t->slot == LOOP_OVERFLOW)
		return 0;
	if (heap_len == heap_cap && heap_grow() < 0) {
		t->slot = LOOP_OVERFLOW;
		t->next = overflow;
		overflow = t;
		return 0;
	}
	heap_place(t, heap_len++);
	heap_up(t->slot);
	return 0;
}

void
loop_timer_cancel(struct loop_timer *t)
{
	int i = t->slot;

	if (i == LOOP_OVERFLOW)
		overflow_unlink(t);
	if (i < 0)
		return;
	t->slot = -1;
	if (--heap_len == i)
		return;
	heap_place(heap[heap_len], i);
	heap_up(i);
	heap_down(heap[i]->slot);
}

/* Into the heap while it can grow; the rest stay where they are. */
static void
overflow_drain(void)
{
	struct loop_timer *t;

	while ((t = overflow) != NULL &&
	       (heap_len < heap_cap || heap_grow() == 0)) {
		overflow_unlink(t);
		loop_timer_set(t, t->when);
	}
}

/* The timer due first, in the heap or in overflow; NULL when none. */
static struct loop_timer *
first_due(void)
{
	struct loop_timer *t, *first = heap_len > 0 ? heap[0] : NULL;

	for (t = overflow; t != NULL; t = t->next)
		if (first == NULL || t->when < first->when)
			first = t;
	return first;
}

static void
run_timers(void)
{
	struct loop_timer *t;

	overflow_drain();
	while ((t = first_due()) != NULL && t->when <= now_cache) {
		loop_timer_cancel(t);
		t->fn(t);
	}
}

static int
wait_ms(int busy)
{
	struct loop_timer *t = first_due();
	double ms;

	if (busy)
		return 0;
	if (t == NULL)
		return -1;
	ms = ceil((t->when - now_cache) * 1000.0);
	if (ms < 0)
		return 0;
	return ms > 86400000 ? 86400000 : (int)ms;
}

static int
events_of(uint32_t ev)
{
	int m = 0;

	if (ev & (EPOLLIN | EPOLLRDHUP))
		m |= LOOP_READ;
	if (ev & EPOLLOUT)
		m |= LOOP_WRITE;
	if (ev & (EPOLLRDHUP | EPOLLHUP))
		m |= LOOP_HUP;
	if (ev & (EPOLLERR | EPOLLHUP))
		m |= LOOP_ERROR | LOOP_READ | LOOP_WRITE;
	return m;
}

void
loop_set_idle(loop_idle_fn *fn)
{
	idle_fn = fn;
}

void
loop_run(void)
{
	struct loop_io *io;
	int n, busy;

	stopping = 0;
	while (!stopping) {
		busy = idle_fn ? idle_fn() : 0;
		if (stopping)
			break;
		n = epoll_wait(epfd, ev, LOOP_BATCH, wait_ms(busy));
		if (n < 0 && errno != EINTR)
			log_msg(LOG_ERR, "epoll_wait: %m");
		loop_update_time();
		for (ev_next = 0, ev_n = n; ev_next < ev_n; ev_next++) {
			io = ev[ev_next].data.ptr;
			if (io != NULL)
				io->fn(io, events_of(ev[ev_next].events));
		}
		ev_n = 0;
		run_timers();
	}
}

void
loop_stop(void)
{
	stopping = 1;
}
