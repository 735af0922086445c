/* test_stats.c - the shared counters' slots: one per service name, a row
 * per worker, free again once no worker's service uses it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "stats.h"

/* The index of the slot named name, or -1. */
static int
slot_named(const char *name)
{
	const struct stats_slot *sl;
	int i;

	for (i = 0; i < STATS_SERVICES; i++)
		if ((sl = stats_slot(i)) != NULL && strcmp(sl->name, name) == 0)
			return i;
	return -1;
}

static int
share(void **state)
{
	(void)state;
	return stats_share(2);
}

static void
test_workers_share_a_slot_with_a_row_each(void **state)
{
	struct service_stats *one, *two;

	(void)state;
	one = stats_slot_for("same", 1);
	two = stats_slot_for("same", 2);
	assert_non_null(one);
	assert_non_null(two);
	assert_ptr_not_equal(one, two);
	assert_ptr_equal(stats_slot_for("same", 1), one);
	one->accepted = 5;
	assert_int_equal(stats_slot(slot_named("same"))->w[0].accepted, 5);
	stats_slot_release(one, 1);
	stats_slot_release(two, 2);
}

/* Named while either worker's service uses it, free once neither does. */
static void
test_slot_is_freed_with_its_last_user(void **state)
{
	struct service_stats *one, *two;

	(void)state;
	one = stats_slot_for("gone", 1);
	two = stats_slot_for("gone", 2);
	one->accepted = 7;
	stats_slot_release(one, 1);
	assert_true(slot_named("gone") >= 0);
	stats_slot_release(two, 2);
	assert_int_equal(slot_named("gone"), -1);
}

/* Far more names over time than slots: each new one gets a clean slot. */
static void
test_renamed_services_never_run_out_of_slots(void **state)
{
	struct service_stats *row;
	char name[32];
	int i;

	(void)state;
	for (i = 0; i < 3 * STATS_SERVICES; i++) {
		snprintf(name, sizeof(name), "svc%d", i);
		row = stats_slot_for(name, 1);
		assert_non_null(row);
		assert_int_equal(row->accepted, 0);
		row->accepted = 10;
		stats_slot_release(row, 1);
	}
}

/* The master names slots for its workers, using none itself. */
static void
test_a_slot_named_for_workers_is_freed_by_them(void **state)
{
	struct service_stats *row;

	(void)state;
	assert_non_null(stats_slot_for("early", 0));
	row = stats_slot_for("early", 2);
	assert_true(slot_named("early") >= 0);
	stats_slot_release(row, 2);
	assert_int_equal(slot_named("early"), -1);
}

/* A full table refuses a new name, and takes one again after a release. */
static void
test_full_table_refuses_until_a_slot_is_freed(void **state)
{
	struct service_stats *rows[STATS_SERVICES];
	char name[32];
	int i;

	(void)state;
	for (i = 0; i < STATS_SERVICES; i++) {
		snprintf(name, sizeof(name), "full%d", i);
		assert_non_null(rows[i] = stats_slot_for(name, 1));
	}
	assert_null(stats_slot_for("one more", 1));
	stats_slot_release(rows[10], 1);
	assert_non_null(stats_slot_for("one more", 1));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_workers_share_a_slot_with_a_row_each),
	    cmocka_unit_test(test_slot_is_freed_with_its_last_user),
	    cmocka_unit_test(test_renamed_services_never_run_out_of_slots),
	    cmocka_unit_test(test_a_slot_named_for_workers_is_freed_by_them),
	    cmocka_unit_test(test_full_table_refuses_until_a_slot_is_freed),
	};

	return cmocka_run_group_tests(tests, share, NULL);
}
