/* loop.h - one epoll loop with a min-heap of timers. */
#ifndef SUPERD_LOOP_H
#define SUPERD_LOOP_H

#include <stdint.h>

#define LOOP_READ 0x1
#define LOOP_WRITE 0x2
#define LOOP_EDGE 0x4 /* edge-triggered: the owner reads/writes to EAGAIN */
#define LOOP_ERROR 0x8
#define LOOP_HUP 0x10 /* the peer has shut its side: reads will end */

struct loop_io;
struct loop_timer;

typedef void loop_io_fn(struct loop_io *io, int events);
typedef void loop_timer_fn(struct loop_timer *t);
typedef int loop_idle_fn(void); /* nonzero: work is pending, do not sleep */

/* Embedded in its owner: the loop keeps no table indexed by descriptor. */
struct loop_io {
	int fd;
	int mask;
	loop_io_fn *fn;
};

#define LOOP_OVERFLOW (-2) /* a timer's slot: armed, waiting for heap room */

struct loop_timer {
	double when; /* monotonic seconds */
	int slot;    /* index in the heap, -1 when not armed */
	loop_timer_fn *fn;
	struct loop_timer *next; /* while its slot is LOOP_OVERFLOW */
};

int loop_init(void);
double loop_now(void);
void loop_update_time(void);

int loop_add(struct loop_io *io, int fd, int mask, loop_io_fn *fn);
int loop_mod(struct loop_io *io, int mask);
/* Also drops io's events still to come in this round: it may be freed. */
void loop_del(struct loop_io *io);

void loop_timer_init(struct loop_timer *t, loop_timer_fn *fn);
int loop_timer_set(struct loop_timer *t, double when);
void loop_timer_cancel(struct loop_timer *t);
int loop_timer_armed(const struct loop_timer *t);

void loop_set_idle(loop_idle_fn *fn);
void loop_run(void);
void loop_stop(void);

#endif
