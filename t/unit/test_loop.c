/*
 * test_loop.c - timers fire in order, also when the heap cannot grow; a
 * descriptor deleted during a round hears nothing more of it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loop.h"

/* More than the heap holds, however much it grew in an earlier test. */
#define NTIMERS 300

/* Linked with -Wl,--wrap=realloc: the heap's growth fails on demand. */
void *__real_realloc(void *p, size_t n);
static int realloc_fails;

void *
__wrap_realloc(void *p, size_t n)
{
	return realloc_fails ? NULL : __real_realloc(p, n);
}

static struct loop_timer timers[NTIMERS];
static double fired[NTIMERS];
static int nfired, nexpected;

static void
record(struct loop_timer *t)
{
	fired[nfired++] = t->when;
	if (nfired == nexpected)
		loop_stop();
}

/* Deadlines a few ms ahead, in no order, from the i-th timer on. */
static void
arm(int from, int to)
{
	int i;

	for (i = from; i < to; i++) {
		loop_timer_init(&timers[i], record);
		assert_int_equal(loop_timer_set(&timers[i],
				     loop_now() + 0.001 * ((i * 37) % 50)),
		    0);
		assert_true(loop_timer_armed(&timers[i]));
	}
}

static void
assert_in_order(int n)
{
	int i;

	assert_int_equal(nfired, n);
	for (i = 1; i < n; i++)
		assert_true(fired[i - 1] <= fired[i]);
}

static int
setup(void **state)
{
	(void)state;
	nfired = 0;
	realloc_fails = 0;
	loop_update_time();
	return 0;
}

static void
test_timers_armed_while_the_heap_cannot_grow_fire_in_order(void **state)
{
	(void)state;
	arm(0, 64);
	realloc_fails = 1;
	arm(64, NTIMERS);
	nexpected = NTIMERS;
	loop_run();
	assert_in_order(NTIMERS);
}

static void
test_timers_kept_aside_join_the_heap_once_it_can_grow(void **state)
{
	(void)state;
	realloc_fails = 1;
	arm(0, NTIMERS);
	realloc_fails = 0;
	nexpected = NTIMERS;
	loop_run();
	assert_in_order(NTIMERS);
}

static void
test_a_timer_kept_aside_can_be_moved_and_cancelled(void **state)
{
	struct loop_timer *gone = &timers[NTIMERS - 3],
			  *moved = &timers[NTIMERS - 5];

	(void)state;
	realloc_fails = 1;
	arm(0, NTIMERS);
	loop_timer_cancel(gone);
	assert_false(loop_timer_armed(gone));
	loop_timer_cancel(gone);
	assert_int_equal(loop_timer_set(moved, loop_now() + 0.06), 0);
	nexpected = NTIMERS - 1;
	loop_run();
	assert_in_order(NTIMERS - 1);
	assert_true(fired[NTIMERS - 2] == moved->when);
}

/* Two ready descriptors; whichever is called first frees the other. */
struct owner {
	struct loop_io io;
	struct owner *other;
	int calls;
};

static struct owner *pair[2];

static void
frees_the_other(struct loop_io *io, int events)
{
	struct owner *o = (struct owner *)io, *x = o->other;

	(void)events;
	o->calls++;
	if (x != NULL) {
		loop_del(&x->io);
		close(x->io.fd);
		pair[pair[0] == x ? 0 : 1] = NULL;
		free(x);
		o->other = NULL;
	}
	loop_stop();
}

static struct owner *
ready_owner(int sv[2])
{
	struct owner *o = calloc(1, sizeof(*o));

	assert_non_null(o);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(write(sv[1], "x", 1), 1);
	assert_int_equal(
	    loop_add(&o->io, sv[0], LOOP_READ, frees_the_other), 0);
	return o;
}

static void
test_an_owner_freed_in_the_round_hears_nothing(void **state)
{
	int a[2], b[2], i, calls = 0;

	(void)state;
	pair[0] = ready_owner(a);
	pair[1] = ready_owner(b);
	pair[0]->other = pair[1];
	pair[1]->other = pair[0];
	loop_run(); /* one round: both were ready in it */
	for (i = 0; i < 2; i++)
		if (pair[i] != NULL) {
			calls += pair[i]->calls;
			loop_del(&pair[i]->io);
			close(pair[i]->io.fd);
			free(pair[i]);
		}
	assert_int_equal(calls, 1);
	close(a[1]);
	close(b[1]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(
		test_timers_armed_while_the_heap_cannot_grow_fire_in_order,
		setup),
	    cmocka_unit_test_setup(
		test_timers_kept_aside_join_the_heap_once_it_can_grow, setup),
	    cmocka_unit_test_setup(
		test_a_timer_kept_aside_can_be_moved_and_cancelled, setup),
	    cmocka_unit_test_setup(
		test_an_owner_freed_in_the_round_hears_nothing, setup),
	};

	if (loop_init() < 0)
		return 1;
	return cmocka_run_group_tests_name("loop", tests, NULL, NULL);
}
