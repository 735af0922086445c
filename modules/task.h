/* task.h - a coroutine's life: spawn, resume, park, wake, reap. */
#ifndef SUPERD_TASK_H
#define SUPERD_TASK_H

#include <lua.h>
#include <sys/queue.h>

#include "loop.h"

struct service;
struct conn;

/* What a parked task waits for; TASK_RUN = runnable or running. */
#define TASK_RUN 0
#define TASK_READ 1
#define TASK_WRITE 2
#define TASK_SLEEP 3
#define TASK_LOOKUP 4
#define TASK_TURN 5  /* gave the loop a turn: queued to run again */
#define TASK_DRAIN 6 /* waits for the sockets it filled to drain */

/* How long a coroutine may hold the loop before its next I/O call yields. */
#define TASK_SLICE 0.001

struct task {
	lua_State *T;
	int ref; /* anchors T in the registry while the task lives */
	struct service *svc;
	struct conn *conn;    /* the connection this task is main of */
	struct conn *waiting; /* the connection it is parked on */
	int wait;
	int nargs; /* for the first resume */
	unsigned queued : 1, timedout : 1, killed : 1;
	unsigned exposed : 1; /* coroutine.running() handed T to the script */
	int npressing;	      /* sockets it left above their high-water mark */
	double deadline;      /* for the current socket call, 0 = none */
	void *lookup;	      /* a name lookup under way (lconnect.c) */
	int outbound;	      /* sockets it opened with superd.connect */

	struct loop_timer timer;
	TAILQ_ENTRY(task) runq;
	LIST_ENTRY(task) link;
	struct task *spare; /* on the free list */
};

struct task *task_current(lua_State *L);
struct task *task_spawn(
    lua_State *L, struct service *s, struct conn *c, int nargs);
void task_wake(struct task *t);
void task_kill(struct task *t);
void task_deadline(struct task *t, double timeout);
int task_park(lua_State *L, struct task *t, int wait, struct conn *c,
    double until, lua_KContext ctx, lua_KFunction k);
int task_take_timeout(struct task *t);
int task_must_pause(lua_State *L, struct task *t);
int task_pause(lua_State *L, struct task *t, lua_KContext ctx, lua_KFunction k);
int task_slice_over(lua_State *L, struct task *t);
#define task_can_turn(L, t) ((t) != NULL && lua_isyieldable(L))
int task_turn(lua_State *L, struct task *t, lua_KContext ctx, lua_KFunction k);
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
