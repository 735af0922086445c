/* task.c - a coroutine's life: spawn, resume, park, wake, reap. */
#include <lauxlib.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "net.h"
#include "service.h"
#include "task.h"

#define task_of_timer(p) \
	((struct task *)((char *)(p)-offsetof(struct task, timer)))

static TAILQ_HEAD(, task) runq = TAILQ_HEAD_INITIALIZER(runq);
static struct task dead_task; /* the task of a thread killed mid-wait */
static LIST_HEAD(, task) live = LIST_HEAD_INITIALIZER(live);
static int nqueued;
static double slice_end;     /* when the running coroutine's time slice ends */
static struct task *running; /* the task being resumed, or NULL */

/* Every thread's extra space names the task it runs for (NULL: none). */
struct task *
task_current(lua_State *L)
{
	return *(struct task **)lua_getextraspace(L);
}

static void
set_task(lua_State *L, struct task *t)
{
	*(struct task **)lua_getextraspace(L) = t;
}

static void
enqueue(struct task *t)
{
	if (t->queued)
		return;
	t->queued = 1;
	nqueued++;
	TAILQ_INSERT_TAIL(&runq, t, runq);
}

static void
dequeue(struct task *t)
{
	if (!t->queued)
		return;
	t->queued = 0;
	nqueued--;
	TAILQ_REMOVE(&runq, t, runq);
}

static void
timer_fired(struct loop_timer *lt)
{
	struct task *t = task_of_timer(lt);

	if (t->wait != TASK_SLEEP)
		t->timedout = 1;
	task_wake(t);
}

/*
 * Task structs and finished threads are kept for the next coroutine: a
 * UDP datagram or a short connection then costs no lua_newthread, no
 * registry slot and no malloc.
 */
#define TASK_SPARES 256
#ifndef THREAD_SPARES /* -DTHREAD_SPARES=0 measures what the pool saves */
#define THREAD_SPARES 64
#endif

static struct task *spare_tasks;
static int nspare_tasks;

static struct task *
task_alloc(void)
{
	struct task *t = spare_tasks;

	if (t == NULL)
		return calloc(1, sizeof(*t));
	spare_tasks = t->spare;
	nspare_tasks--;
	memset(t, 0, sizeof(*t));
	return t;
}

static void
task_free(struct task *t)
{
	if (nspare_tasks >= TASK_SPARES) {
		free(t);
		return;
	}
	t->spare = spare_tasks;
	spare_tasks = t;
	nspare_tasks++;
}

void
task_release_spares(void)
{
	struct task *t;

	while ((t = spare_tasks) != NULL) {
		spare_tasks = t->spare;
		free(t);
	}
	nspare_tasks = 0;
}

/* A thread whose function returned: lua_resume starts it afresh. */
static lua_State *
pooled_thread(lua_State *L, struct service *s, int *ref)
{
	lua_State *T;

	if (s->nthreads == 0)
		return NULL;
	*ref = s->threads[--s->nthreads];
	lua_rawgeti(L, LUA_REGISTRYINDEX, *ref);
	T = lua_tothread(L, -1);
	lua_pop(L, 1);
	return T;
}

static void
pool_thread(struct task *t)
{
	struct service *s = t->svc;
	int *v;

	if (s->nthreads == s->capthreads && s->capthreads < THREAD_SPARES) {
		v = realloc(s->threads, (s->capthreads + 16) * sizeof(*v));
		if (v != NULL) {
			s->threads = v;
			s->capthreads += 16;
		}
	}
	if (s->nthreads == s->capthreads) {
		luaL_unref(s->L, LUA_REGISTRYINDEX, t->ref);
		return;
	}
	lua_settop(t->T, 0);
	s->threads[s->nthreads++] = t->ref;
}

/*
 * Called in protected mode with a function and nargs arguments on top of
 * L (and, when keep is set, a value below the function): moves them to a
 * thread anchored in the registry, and queues it.  The kept value stays
 * below the function, where lua_resume leaves it, so whatever it holds
 * (a connection's socket, a spawn's handle) lives as long as the task.
 */
struct task *
task_spawn(lua_State *L, struct service *s, int nargs, int keep)
{
	int ref = LUA_NOREF, n = nargs + 1 + (keep != 0);
	lua_State *T = pooled_thread(L, s, &ref);
	struct task *t;

	if (T == NULL) {
		T = lua_newthread(L);
		lua_insert(L, -(n + 1));
	}
	if (!lua_checkstack(T, n + 1)) {
		if (ref != LUA_NOREF)
			s->threads[s->nthreads++] = ref;
		luaL_error(L, "too many arguments");
	}
	lua_xmove(L, T, n);
	if (ref == LUA_NOREF)
		ref = luaL_ref(L, LUA_REGISTRYINDEX);
	if ((t = task_alloc()) == NULL) {
		luaL_unref(L, LUA_REGISTRYINDEX, ref);
		luaL_error(L, "not enough memory");
	}
	t->T = T;
	t->ref = ref;
	t->svc = s;
	t->keep = keep != 0;
	t->nargs = nargs;
	loop_timer_init(&t->timer, timer_fired);
	set_task(T, t);
	LIST_INSERT_HEAD(&live, t, link);
	enqueue(t);
	return t;
}

/* A parked task gives up the slot it waited in (a socket's reader...). */
static void
leave_slot(struct task *t)
{
	if (t->slot && *t->slot == t)
		*t->slot = NULL;
	t->slot = NULL;
}

void
task_hold(struct task *t, struct task_hold *h, void (*drop)(struct task_hold *))
{
	h->drop = drop;
	LIST_INSERT_HEAD(&t->holds, h, link);
}

/* Its owner lets go first: nothing to drop when the task ends. */
void
task_unhold(struct task_hold *h)
{
	if (h->drop == NULL)
		return;
	h->drop = NULL;
	LIST_REMOVE(h, link);
}

static void
drop_holds(struct task *t)
{
	struct task_hold *h;
	void (*drop)(struct task_hold *);

	while ((h = LIST_FIRST(&t->holds)) != NULL) {
		drop = h->drop;
		task_unhold(h);
		drop(h);
	}
	t->npressing = 0;
}

/* Drops the last reference to the thread: the collector frees it. */
static void
task_release(struct task *t, int finished)
{
	dequeue(t);
	loop_timer_cancel(&t->timer);
	leave_slot(t);
	/* a thread killed mid-wait must never be resumed by a script */
	set_task(t->T, finished ? NULL : &dead_task);
	drop_holds(t);
	/*
	 * A thread the script has seen (coroutine.running) is never handed to
	 * another connection; emptied, it reads as dead to coroutine.resume.
	 */
	if (finished && !t->exposed) {
		pool_thread(t);
		goto out;
	}
	if (finished)
		lua_settop(t->T, 0);
	luaL_unref(t->svc->L, LUA_REGISTRYINDEX, t->ref);
out:
	LIST_REMOVE(t, link);
	task_free(t);
}

/* The values a finished task returned, on top of its thread. */
int
task_nresults(struct task *t)
{
	return lua_gettop(t->T) - t->keep;
}

/* Ends a parked task without resuming it: it never runs again. */
void
task_kill(struct task *t)
{
	if (t->on_end)
		t->on_end(t, TASK_KILLED);
	task_release(t, 0);
}

/* Kills t now, or at its next wait when it is the one running. */
void
task_kill_soon(struct task *t)
{
	if (t == running)
		t->doomed = 1;
	else
		task_kill(t);
}

void
task_wake(struct task *t)
{
	leave_slot(t);
	loop_timer_cancel(&t->timer);
	t->wait = TASK_RUN;
	enqueue(t);
}

/* Starts the deadline of one socket call (settimeout). */
void
task_deadline(struct task *t, double timeout)
{
	if (t == NULL)
		return;
	t->timedout = 0;
	t->deadline = timeout > 0 ? loop_now() + timeout : 0;
}

int
task_take_timeout(struct task *t)
{
	if (t == NULL || !t->timedout)
		return 0;
	t->timedout = 0;
	return 1;
}

/*
 * Parks t until a wake-up, or until `until` (0: none).  slot, when given,
 * is where the waker finds it (a socket's reader or writer); the caller
 * has checked it is free or t's own.
 */
int
task_park(lua_State *L, struct task *t, int wait, struct task **slot,
    double until, lua_KContext ctx, lua_KFunction k)
{
	if (t == NULL)
		return luaL_error(L, "cannot wait outside a connection's "
				     "coroutine (at load time?)");
	if (!lua_isyieldable(L))
		return luaL_error(L, "attempt to yield across a C-call "
				     "boundary (socket call inside a "
				     "metamethod or callback)");
	t->wait = wait;
	t->slot = slot;
	if (slot)
		*slot = t;
	if (until > 0)
		loop_timer_set(&t->timer, until);
	return lua_yieldk(L, 0, ctx, k);
}

/*
 * Fairness: a coroutine whose I/O never has to wait (a fast reader of
 * chargen, lines already buffered) still gives the loop a turn once its
 * slice is used up, and a writer whose targets are above their high-water
 * mark waits for them to drain.  Never where a yield cannot happen.
 */
int
task_must_pause(lua_State *L, struct task *t)
{
	if (!task_can_turn(L, t))
		return 0;
	return t->npressing > 0 || task_slice_over(L, t);
}

/* The slice alone: writes to other sockets give turns, never wait. */
int
task_slice_over(lua_State *L, struct task *t)
{
	if (!task_can_turn(L, t))
		return 0;
	loop_update_time();
	return loop_now() >= slice_end;
}

/* Yields for one turn of the loop, whatever t's targets. */
int
task_turn(lua_State *L, struct task *t, lua_KContext ctx, lua_KFunction k)
{
	t->wait = TASK_TURN;
	t->slot = NULL;
	return lua_yieldk(L, 0, ctx, k);
}

/* Yields for a turn or for the drain; k then makes the call itself. */
int
task_pause(lua_State *L, struct task *t, lua_KContext ctx, lua_KFunction k)
{
	t->wait = t->npressing > 0 ? TASK_DRAIN : TASK_TURN;
	t->slot = NULL;
	/* the call's settimeout deadline bounds the drain too */
	if (t->wait == TASK_DRAIN && t->deadline > 0)
		loop_timer_set(&t->timer, t->deadline);
	return lua_yieldk(L, 0, ctx, k);
}

void
task_press(struct task *t)
{
	t->npressing++;
}

/* One of the sockets t filled has drained, or is gone. */
void
task_unpress(struct task *t)
{
	if (--t->npressing == 0 && t->wait == TASK_DRAIN)
		task_wake(t);
}

/*
 * Whose error it is: "peer ADDR:PORT" ("peer unix uid N pid N" on a unix
 * socket), or a coroutine of no connection.
 */
static const char *
task_whose(struct task *t, char *buf, size_t len)
{
	char peer[NET_PEERSTRLEN];

	if (t->peer == NULL)
		return "fini/spawn";
	snprintf(buf, len, "peer %s", net_peer(t->peer, NULL, peer));
	return buf;
}

static int
log_error_p(lua_State *L)
{
	struct task *t = lua_touserdata(L, 1);
	const char *msg = lua_tostring(t->T, -1);
	char whose[NET_PEERSTRLEN + 8];

	if (msg == NULL)
		msg = lua_pushfstring(
		    L, "(error object is a %s value)", luaL_typename(t->T, -1));
	luaL_traceback(L, t->T, msg, 0);
	log_msg(LOG_ERR, "%s: %s: %s", t->svc->name,
	    task_whose(t, whose, sizeof(whose)), lua_tostring(L, -1));
	return 0;
}

/*
 * With a traceback when there is memory for one; a memory error is said
 * without asking Lua for more.
 */
static void
task_log_error(struct task *t, int status)
{
	lua_State *L = t->svc->L;
	char whose[NET_PEERSTRLEN + 8];

	if (status != LUA_ERRMEM) {
		lua_pushcfunction(L, log_error_p);
		lua_pushlightuserdata(L, t);
		if (lua_pcall(L, 1, 0, 0) == LUA_OK)
			return;
		lua_pop(L, 1);
	}
	log_msg(LOG_ERR, "%s: %s: %s", t->svc->name,
	    task_whose(t, whose, sizeof(whose)),
	    status == LUA_ERRMEM ? "not enough memory"
				 : "script error (no memory for a traceback)");
}

static void
task_finish(struct task *t, int status)
{
	if (status != LUA_OK) {
		t->svc->stats->errors++;
		task_log_error(t, status);
	}
	if (t->on_end)
		t->on_end(t, status);
	task_release(t, status == LUA_OK);
}

/*
 * The clock is read again after every resume: a long one would otherwise
 * leave the next slices, the timers and the log's durations behind.
 */
static void
task_resume(struct task *t)
{
	int nargs = t->nargs, status;

	t->nargs = 0;
	slice_end = loop_now() + TASK_SLICE;
	lua_sethook(
	    t->T, task_cpu_hook, LUA_MASKCOUNT, (int)t->svc->conf->cpu_limit);
	running = t;
	status = lua_resume(t->T, NULL, nargs);
	running = NULL;
	loop_update_time();
	if (status != LUA_YIELD)
		task_finish(t, status);
	else if (t->doomed)
		task_kill(t);
	else if (t->wait == TASK_RUN || t->wait == TASK_TURN) {
		/* A plain coroutine.yield() or a slice used up: next turn. */
		lua_settop(t->T, 0);
		t->wait = TASK_RUN;
		enqueue(t);
	}
}

/*
 * Resumes the tasks queued when the turn began; those woken meanwhile
 * wait for the next turn, so no coroutine starves the loop.
 */
int
task_run_queue(void)
{
	struct task *t;
	int n;

	for (n = nqueued; n > 0 && (t = TAILQ_FIRST(&runq)) != NULL; n--) {
		dequeue(t);
		task_resume(t);
	}
	return nqueued > 0;
}

int
task_pending(void)
{
	return nqueued > 0;
}

void
task_kill_all(void)
{
	while (!LIST_EMPTY(&live))
		task_kill(LIST_FIRST(&live));
}

/* Set when the CPU limit stopped a script running at load or reload. */
int task_load_killed;

int
task_killed(lua_State *L)
{
	struct task *t = task_current(L);

	return t ? t->killed : task_load_killed;
}

void
task_kill_service(struct service *s)

{
	struct task *t, *next;

	for (t = LIST_FIRST(&live); t != NULL; t = next) {
		next = LIST_NEXT(t, link);
		if (t->svc == s)
			task_kill(t);
	}
}

/*
 * The CPU limit: once over, the hook fires at every instruction and
 * raises again, so a pcall cannot keep the coroutine alive.
 */
void
task_cpu_hook(lua_State *L, lua_Debug *ar)
{
	struct task *t = task_current(L);

	(void)ar;
	if (t)
		t->killed = 1;
	else
		task_load_killed = 1;
	lua_sethook(L, task_cpu_hook, LUA_MASKCOUNT, 1);
	luaL_error(L, "cpu limit exceeded: too many instructions without "
		      "yielding");
}

/*
 * coroutine.resume and coroutine.wrap, made transparent to superd: when
 * the inner coroutine parks on a socket or timer, the outer thread parks
 * too, and the wake-up resumes the inner one where it stopped.
 */
static int co_step(lua_State *L, lua_State *co, int narg, int wrap);

static int
co_again(lua_State *L, int status, lua_KContext wrap)
{
	lua_State *co = lua_tothread(L, wrap ? lua_upvalueindex(1) : 1);

	(void)status;
	return co_step(L, co, 0, (int)wrap);
}

static int
co_results(lua_State *L, lua_State *co, int status, int wrap)
{
	int nres;

	if (status == LUA_OK || status == LUA_YIELD) {
		nres = lua_gettop(co);
		if (!lua_checkstack(L, nres + 1)) {
			lua_pop(co, nres);
			return luaL_error(L, "too many results to resume");
		}
		if (!wrap)
			lua_pushboolean(L, 1);
		lua_xmove(co, L, nres);
		return nres + !wrap;
	}
	lua_xmove(co, L, 1);
	if (wrap)
		return lua_error(L);
	lua_pushboolean(L, 0);
	lua_insert(L, -2);
	return 2;
}

static int
co_step(lua_State *L, lua_State *co, int narg, int wrap)
{
	struct task *t = task_current(L);
	int status;

	if (!lua_checkstack(co, narg))
		return luaL_error(L, "too many arguments to resume");
	lua_xmove(L, co, narg);
	set_task(co, t);
	/* The CPU limit counts from each resume, in every coroutine. */
	if (t)
		lua_sethook(co, task_cpu_hook, LUA_MASKCOUNT,
		    (int)t->svc->conf->cpu_limit);
	for (;;) {
		status = lua_resume(co, L, narg);
		if (t ? t->killed : task_load_killed) {
			lua_sethook(L, task_cpu_hook, LUA_MASKCOUNT, 1);
			return luaL_error(L, "cpu limit exceeded");
		}
		/* a pause with no turn to give from here: co goes on */
		if (status != LUA_YIELD || t == NULL || lua_isyieldable(L) ||
		    (t->wait != TASK_TURN && t->wait != TASK_DRAIN))
			break;
		t->wait = TASK_RUN;
		narg = 0;
	}
	if (status == LUA_YIELD && t && t->wait != TASK_RUN) {
		if (!lua_isyieldable(L)) {
			task_wake(t);
			dequeue(t);
			return luaL_error(L, "attempt to yield across a C-call "
					     "boundary");
		}
		/* co stays marked as t's until co_again resumes it */
		return lua_yieldk(L, 0, wrap, co_again);
	}
	set_task(co, NULL);
	return co_results(L, co, status, wrap);
}

/*
 * A script may resume only a coroutine no task holds: not a connection's
 * or spawned main thread, nor one parked in a socket call or a sleep
 * (only its own task's wake-up resumes that, through co_again).
 */
#define HELD \
	"cannot resume a coroutine that superd runs or that waits in superd"

/* Why co cannot be resumed by a script, as lcorolib says it; NULL: it can. */
static const char *
co_refusal(lua_State *co)
{
	struct task *t = task_current(co);

	if (t == &dead_task ||
	    (t == NULL && lua_status(co) == LUA_OK && lua_gettop(co) == 0))
		return "cannot resume dead coroutine";
	return t != NULL ? HELD : NULL;
}

static int
co_resume(lua_State *L)
{
	lua_State *co = lua_tothread(L, 1);
	const char *why;

	luaL_argcheck(L, co, 1, "coroutine expected");
	if ((why = co_refusal(co)) != NULL) {
		lua_pushboolean(L, 0);
		lua_pushstring(L, why);
		return 2;
	}
	return co_step(L, co, lua_gettop(L) - 1, 0);
}

static int
co_wrap_call(lua_State *L)
{
	lua_State *co = lua_tothread(L, lua_upvalueindex(1));
	const char *why;

	if ((why = co_refusal(co)) != NULL)
		return luaL_error(L, "%s", why);
	return co_step(L, co, lua_gettop(L), 1);
}

/* Marks the task whose own thread this is: it is not pooled. */
static int
co_running(lua_State *L)
{
	struct task *t = task_current(L);

	if (t != NULL && t->T == L)
		t->exposed = 1;
	lua_pushboolean(L, lua_pushthread(L));
	return 2;
}

static int
co_wrap(lua_State *L)
{
	lua_State *co;

	luaL_checktype(L, 1, LUA_TFUNCTION);
	co = lua_newthread(L);
	lua_pushvalue(L, 1);
	lua_xmove(L, co, 1);
	lua_pushcclosure(L, co_wrap_call, 1);
	return 1;
}

void
task_open_coroutine(lua_State *L)
{
	lua_getglobal(L, "coroutine");
	lua_pushcfunction(L, co_resume);
	lua_setfield(L, -2, "resume");
	lua_pushcfunction(L, co_wrap);
	lua_setfield(L, -2, "wrap");
	lua_pushcfunction(L, co_running);
	lua_setfield(L, -2, "running");
	lua_pop(L, 1);
}
