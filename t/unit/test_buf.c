/* test_buf.c - the line/buffer reader. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "buf.h"

static void
test_line_split_across_appends(void **state)
{
	struct buf b = {0};

	(void)state;
	buf_append(&b, "hel", 3);
	assert_int_equal(buf_line(&b, 100), BUF_LINE_NONE);
	buf_append(&b, "lo\nwor", 6);
	assert_int_equal(buf_line(&b, 100), 6);
	assert_memory_equal(buf_head(&b), "hello\n", 6);
	buf_consume(&b, 6);
	assert_int_equal(buf_line(&b, 100), BUF_LINE_NONE);
	buf_append(&b, "ld\r\n", 4);
	assert_int_equal(buf_line(&b, 100), 7);
	assert_memory_equal(buf_head(&b), "world\r\n", 7);
	buf_consume(&b, 7);
	assert_null(b.data);
}

static void
test_search_resumes_where_it_stopped(void **state)
{
	struct buf b = {0};

	(void)state;
	buf_append(&b, "abcdef", 6);
	assert_int_equal(buf_line(&b, 100), BUF_LINE_NONE);
	assert_int_equal(b.scan, 6);
	buf_append(&b, "g\n", 2);
	assert_int_equal(buf_line(&b, 100), 8);
	buf_free(&b);
}

static void
test_line_too_long(void **state)
{
	struct buf b = {0};
	char big[64];

	(void)state;
	memset(big, 'x', sizeof(big));
	buf_append(&b, big, sizeof(big));
	assert_int_equal(buf_line(&b, 16), BUF_LINE_TOOLONG);
	buf_free(&b);
	buf_append(&b, "0123456789abcde\n", 16);
	assert_int_equal(buf_line(&b, 16), 16);
	buf_free(&b);
}

static void
test_skip_line_drops_through_newline(void **state)
{
	struct buf b = {0};

	(void)state;
	buf_append(&b, "junkjunk", 8);
	assert_int_equal(buf_skip_line(&b), 0);
	assert_int_equal(buf_used(&b), 0);
	buf_append(&b, "more\nnext\n", 10);
	assert_int_equal(buf_skip_line(&b), 1);
	assert_int_equal(buf_line(&b, 100), 5);
	assert_memory_equal(buf_head(&b), "next\n", 5);
	buf_free(&b);
}

static void
test_borrowed_view_is_never_freed(void **state)
{
	char mem[32] = "one\ntwo";
	struct buf b;

	(void)state;
	buf_view(&b, mem, 7, sizeof(mem));
	assert_int_equal(buf_line(&b, 100), 4);
	buf_consume(&b, 4);
	buf_consume(&b, 3);
	assert_ptr_equal(b.data, mem);
	assert_int_equal(buf_used(&b), 0);
	buf_free(&b);
}

static void
test_large_append_grows(void **state)
{
	static char big[100000];
	struct buf b = {0};

	(void)state;
	memset(big, 'y', sizeof(big));
	big[sizeof(big) - 1] = '\n';
	buf_append(&b, "a", 1);
	buf_consume(&b, 1);
	buf_append(&b, big, sizeof(big));
	assert_int_equal(buf_used(&b), sizeof(big));
	assert_int_equal(buf_line(&b, sizeof(big) + 1), sizeof(big));
	buf_free(&b);
}

/*
 * A buffer's offsets are 32 bits: growing it to BUF_MAX bytes or more
 * fails, as an allocation that fails does, and what it holds is kept.
 */
static void
test_growth_past_the_limit_fails_and_keeps_the_bytes(void **state)
{
	struct buf b = {0};
	size_t room;

	(void)state;
	assert_null(buf_reserve(&b, BUF_MAX, &room));
	assert_null(b.data);
	assert_int_equal(buf_append(&b, "kept", 4), 0);
	assert_null(buf_reserve(&b, BUF_MAX - 4, &room));
	assert_int_equal(buf_append(&b, "x", BUF_MAX), -1);
	assert_int_equal(buf_used(&b), 4);
	assert_memory_equal(buf_head(&b), "kept", 4);
	assert_non_null(buf_reserve(&b, 4096, &room));
	assert_true(room >= 4096);
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_line_split_across_appends),
	    cmocka_unit_test(test_search_resumes_where_it_stopped),
	    cmocka_unit_test(test_line_too_long),
	    cmocka_unit_test(test_skip_line_drops_through_newline),
	    cmocka_unit_test(test_borrowed_view_is_never_freed),
	    cmocka_unit_test(test_large_append_grows),
	    cmocka_unit_test(
		test_growth_past_the_limit_fails_and_keeps_the_bytes),
	};
	return cmocka_run_group_tests_name("buf", tests, NULL, NULL);
}
