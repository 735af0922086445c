/* task.h - a coroutine's life: spawn, resume, park, wake, reap. */
#ifndef SUPERD_TASK_H
#define SUPERD_TASK_H

#include <lua.h>
#include <sys/queue.h>

#include "loop.h"

struct service;
struct task;
union net_addr;

/*
 * Told when a task ends, before its thread is let go (its results are
 * still on it): status is LUA_OK, a Lua error status, or TASK_KILLED.
 */
typedef void task_end_fn(struct task *t, int status);
#define TASK_KILLED (-1)

/* What a parked task waits for; TASK_RUN = runnable or running. */
#define TASK_RUN 0
#define TASK_READ 1
#define TASK_WRITE 2
#define TASK_SLEEP 3
#define TASK_LOOKUP 4
#define TASK_TURN 5  /* gave the loop a turn: queued to run again */
#define TASK_DRAIN 6 /* waits for the sockets it filled to drain */
#define TASK_FLUSH 7 /* waits for a socket's queue to reach the kernel */
#define TASK_JOIN 8  /* waits for a spawned coroutine to end */

/* How long a coroutine may hold the loop before its next I/O call yields. */
#define TASK_SLICE 0.001

/*
 * Something a task owns that must go when it ends (an outbound socket, a
 * name lookup, a writer's claim on a socket it filled): its owner links
 * it with task_hold, and drop runs when the task is released.
 */
struct task_hold {
	void (*drop)(struct task_hold *h); /* NULL while not held */
	LIST_ENTRY(task_hold) link;
};

struct task {
	union {
		lua_State *T;	    /* its coroutine, while it lives */
		struct task *spare; /* on the free list */
	};
	int ref; /* anchors T in the registry while the task lives */
	struct service *svc;
	void *ud;		    /* its user's object (a connection...) */
	task_end_fn *on_end;	    /* its user's, or NULL */
	const union net_addr *peer; /* whose it is, for an error's log line */
	struct task **slot;	    /* the waiter slot it holds while parked */
	int wait;
	int nargs; /* for the first resume */
	unsigned queued : 1, timedout : 1, killed : 1;
	unsigned keep : 1;    /* a value below the function is kept on T */
	unsigned doomed : 1;  /* h:kill() from itself: ends at its next wait */
	unsigned exposed : 1; /* coroutine.running() handed T to the script */
	int npressing;	      /* sockets it left above their high-water mark */
	double deadline;      /* for the current socket call, 0 = none */
	LIST_HEAD(, task_hold) holds;

	struct loop_timer timer;
	TAILQ_ENTRY(task) runq;
	LIST_ENTRY(task) link;
};

struct task *task_current(lua_State *L);
struct task *task_spawn(lua_State *L, struct service *s, int nargs, int keep);
int task_nresults(struct task *t);
void task_wake(struct task *t);
void task_kill(struct task *t);
void task_kill_soon(struct task *t);
void task_deadline(struct task *t, double timeout);
int task_park(lua_State *L, struct task *t, int wait, struct task **slot,
    double until, lua_KContext ctx, lua_KFunction k);
int task_take_timeout(struct task *t);
int task_must_pause(lua_State *L, struct task *t);
int task_pause(lua_State *L, struct task *t, lua_KContext ctx, lua_KFunction k);
int task_slice_over(lua_State *L, struct task *t);
#define task_can_turn(L, t) ((t) != NULL && lua_isyieldable(L))
int task_turn(lua_State *L, struct task *t, lua_KContext ctx, lua_KFunction k);
void task_hold(
    struct task *t, struct task_hold *h, void (*drop)(struct task_hold *));
void task_unhold(struct task_hold *h);
void task_press(struct task *t);
void task_unpress(struct task *t);
int task_run_queue(void);
int task_pending(void);
void task_kill_all(void);
void task_release_spares(void);
void task_kill_service(struct service *s);
void task_cpu_hook(lua_State *L, lua_Debug *ar);
int task_killed(lua_State *L);
extern int task_load_killed;

void task_open_coroutine(lua_State *L);

#endif
