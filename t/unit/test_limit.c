/* test_limit.c - the rate bucket and per-source counts. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "limit.h"

static void
test_bucket_starts_full_then_refuses(void **state)
{
	struct bucket b = {0};

	(void)state;
	assert_true(bucket_take(&b, 3, 100.0));
	assert_true(bucket_take(&b, 3, 100.0));
	assert_true(bucket_take(&b, 3, 100.0));
	assert_false(bucket_take(&b, 3, 100.0));
}

static void
test_bucket_refills_at_rate(void **state)
{
	struct bucket b = {0};
	int i;

	(void)state;
	for (i = 0; i < 2; i++)
		assert_true(bucket_take(&b, 2, 10.0));
	assert_false(bucket_take(&b, 2, 10.2));
	assert_true(bucket_take(&b, 2, 10.6));
	assert_false(bucket_take(&b, 2, 10.6));
	/* a long pause refills only up to the rate, not beyond */
	assert_true(bucket_take(&b, 2, 100.0));
	assert_true(bucket_take(&b, 2, 100.0));
	assert_false(bucket_take(&b, 2, 100.0));
}

static void
test_bucket_zero_rate_is_unlimited(void **state)
{
	struct bucket b = {0};
	int i;

	(void)state;
	for (i = 0; i < 1000; i++)
		assert_true(bucket_take(&b, 0, 1.0));
}

static void
key_of(int n, uint8_t key[16])
{
	memset(key, 0, 16);
	memcpy(key, &n, sizeof(n));
}

static void
test_sources_count_up_and_down(void **state)
{
	struct sources s = {0};
	uint8_t a[16], b[16];

	(void)state;
	key_of(1, a);
	key_of(2, b);
	assert_int_equal(sources_get(&s, a), 0);
	sources_add(&s, a, 1);
	sources_add(&s, a, 1);
	sources_add(&s, b, 1);
	assert_int_equal(sources_get(&s, a), 2);
	assert_int_equal(sources_get(&s, b), 1);
	sources_add(&s, a, -1);
	sources_add(&s, a, -1);
	assert_int_equal(sources_get(&s, a), 0);
	assert_int_equal(sources_get(&s, b), 1);
	assert_int_equal(s.used, 1);
	sources_free(&s);
}

static void
test_sources_many_keys_survive_growth_and_removal(void **state)
{
	struct sources s = {0};
	uint8_t k[16];
	int i;

	(void)state;
	for (i = 0; i < 5000; i++) {
		key_of(i, k);
		sources_add(&s, k, i % 3 + 1);
	}
	for (i = 0; i < 5000; i += 2) {
		key_of(i, k);
		sources_add(&s, k, -(i % 3 + 1));
	}
	for (i = 0; i < 5000; i++) {
		key_of(i, k);
		assert_int_equal(sources_get(&s, k), i % 2 ? i % 3 + 1 : 0);
	}
	assert_int_equal(s.used, 2500);
	sources_free(&s);
}

/* A release needs no memory: it cannot fail, even on an empty table. */
static void
test_sources_release_allocates_nothing(void **state)
{
	struct sources s = {0};
	uint8_t a[16], b[16];

	(void)state;
	key_of(1, a);
	key_of(2, b);
	assert_int_equal(sources_add(&s, a, -1), 0);
	assert_null(s.v);
	assert_int_equal(sources_reserve(&s), 0);
	assert_int_equal(s.cap, 16);
	assert_int_equal(sources_add(&s, a, 1), 0);
	assert_int_equal(sources_add(&s, b, -1), 0);
	assert_int_equal(sources_get(&s, a), 1);
	assert_int_equal(s.used, 1);
	sources_free(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bucket_starts_full_then_refuses),
	    cmocka_unit_test(test_bucket_refills_at_rate),
	    cmocka_unit_test(test_bucket_zero_rate_is_unlimited),
	    cmocka_unit_test(test_sources_count_up_and_down),
	    cmocka_unit_test(test_sources_many_keys_survive_growth_and_removal),
	    cmocka_unit_test(test_sources_release_allocates_nothing),
	};
	return cmocka_run_group_tests_name("limit", tests, NULL, NULL);
}
