/*
 * test_stream_flush.c - a stream's output: flush to the kernel and where
 * it stops, send errors, the flush queue, shutdown("w") after the queue.
 * Real socketpairs; a fake transport where only a fake reaches the path.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loop.h"
#include "stream.h"

/* The transport, counted, failing on demand, else recv(2) and send(2). */
static struct {
	int sends, shutdowns;
	int send_fails, send_errno; /* the next send_fails calls fail */
	size_t send_max;	    /* bytes a send takes at most; 0: all */
} fake;

static ssize_t
fake_recv(struct stream *st, void *p, size_t n)
{
	return stream_plain.recv(st, p, n);
}

static ssize_t
fake_send(struct stream *st, const void *p, size_t n)
{
	fake.sends++;
	if (fake.send_fails > 0) {
		fake.send_fails--;
		errno = fake.send_errno;
		return -1;
	}
	if (fake.send_max > 0 && n > fake.send_max)
		n = fake.send_max;
	return stream_plain.send(st, p, n);
}

static int
fake_shutdown(struct stream *st, int how)
{
	fake.shutdowns++;
	return stream_plain.shutdown(st, how);
}

static const struct stream_ops fake_ops = {
    .recv = fake_recv, .send = fake_send, .shutdown = fake_shutdown};

/* What the owner was told. */
static struct {
	int io, events;
	struct stream *st;
} seen;

static void
on_io(struct stream *st, int events)
{
	seen.io++;
	seen.events |= events;
	seen.st = st;
}

static void
on_idle(struct stream *st)
{
	(void)st;
	fail_msg("no idle timer is armed here");
}

static void
on_header(struct stream *st, int how, const union net_addr *client)
{
	(void)st;
	(void)how;
	(void)client;
	fail_msg("no stream here waits for a PROXY header");
}

static void
on_lost(struct stream *st)
{
	(void)st;
	fail_msg("no stream here reads");
}

static const struct stream_events events = {
    .io = on_io, .idle = on_idle, .header = on_header, .lost = on_lost};

static struct stream a, b;
static int peer_a = -1, peer_b = -1;
static struct service_stats totals; /* the service's counters */

/* st on one end of a non-blocking socketpair; the other end in *peer. */
static void
open_pair(struct stream *st, int *peer, const struct stream_ops *ops)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX,
			     SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv),
	    0);
	stream_init(st, sv[0], ops, &events);
	st->stats = &totals;
	*peer = sv[1];
}

/* What the peer can read now, appended to got[*len..cap). */
static void
take(int fd, char *got, size_t *len, size_t cap)
{
	ssize_t n;

	while (*len < cap && (n = recv(fd, got + *len, cap - *len, 0)) > 0)
		*len += n;
}

static int
setup(void **state)
{
	(void)state;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	a.io.fd = b.io.fd = -1;
	memset(&fake, 0, sizeof(fake));
	memset(&seen, 0, sizeof(seen));
	memset(&totals, 0, sizeof(totals));
	loop_update_time();
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	stream_close(&a);
	stream_close(&b);
	if (peer_a >= 0)
		close(peer_a);
	if (peer_b >= 0)
		close(peer_b);
	peer_a = peer_b = -1;
	return 0;
}

static void
test_flush_sends_everything_queued_and_counts_it(void **state)
{
	char got[1000], want[1000];
	size_t len = 0;

	(void)state;
	open_pair(&a, &peer_a, &stream_plain);
	memset(want, 'w', sizeof(want));
	assert_int_equal(buf_append(&a.out, want, sizeof(want)), 0);
	assert_int_equal(stream_flush(&a), 0);
	assert_int_equal(buf_used(&a.out), 0);
	assert_int_equal(a.bytes_out, sizeof(want));
	assert_int_equal(totals.bytes_out, sizeof(want));
	take(peer_a, got, &len, sizeof(got));
	assert_int_equal(len, sizeof(want));
	assert_memory_equal(got, want, sizeof(want));
}

#define BIG (1 << 20)

/* BIG bytes of a pattern no shift of it repeats. */
static char *
pattern(void)
{
	char *p = malloc(BIG);
	size_t i;

	assert_non_null(p);
	for (i = 0; i < BIG; i++)
		p[i] = (char)(i % 251);
	return p;
}

static void
small_sndbuf(int fd)
{
	int n = 4096;

	assert_int_equal(
	    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &n, sizeof(n)), 0);
}

/* The kernel takes part: flush stops there, and goes on when it can. */
static void
test_flush_stops_where_the_kernel_is_full_and_resumes(void **state)
{
	char *want = pattern(), *got = malloc(BIG);
	size_t len = 0;
	int rounds = 0;

	(void)state;
	open_pair(&a, &peer_a, &stream_plain);
	small_sndbuf(a.io.fd);
	assert_int_equal(buf_append(&a.out, want, BIG), 0);
	assert_int_equal(stream_flush(&a), 0);
	assert_true(buf_used(&a.out) > 0);
	assert_true(a.bytes_out > 0);
	assert_int_equal(a.bytes_out + buf_used(&a.out), BIG);
	assert_int_equal(totals.bytes_out, a.bytes_out);
	while (buf_used(&a.out) > 0 && rounds++ < 100000) {
		take(peer_a, got, &len, BIG);
		assert_int_equal(stream_flush(&a), 0);
	}
	take(peer_a, got, &len, BIG);
	assert_int_equal(len, BIG);
	assert_memory_equal(got, want, BIG);
	assert_int_equal(totals.bytes_out, BIG);
	free(want);
	free(got);
}

static void
test_flush_resumes_after_short_and_interrupted_sends(void **state)
{
	char got[8];
	size_t len = 0;

	(void)state;
	open_pair(&a, &peer_a, &fake_ops);
	fake.send_max = 1;
	fake.send_fails = 1;
	fake.send_errno = EINTR;
	assert_int_equal(buf_append(&a.out, "hello", 5), 0);
	assert_int_equal(stream_flush(&a), 0);
	assert_int_equal(fake.sends, 6);
	assert_int_equal(a.bytes_out, 5);
	assert_false(a.broken);
	take(peer_a, got, &len, sizeof(got));
	assert_int_equal(len, 5);
	assert_memory_equal(got, "hello", 5);
}

/* The peer's end closed: send says EPIPE. */
static void
test_a_send_to_a_closed_peer_breaks_and_resets_the_stream(void **state)
{
	(void)state;
	open_pair(&a, &peer_a, &stream_plain);
	close(peer_a);
	peer_a = -1;
	assert_int_equal(buf_append(&a.out, "lost", 4), 0);
	assert_int_equal(stream_flush(&a), -1);
	assert_true(a.broken);
	assert_true(a.reset);
	assert_int_equal(buf_used(&a.out), 0);
	assert_int_equal(a.bytes_out, 0);
}

static void
test_a_failed_send_drops_the_queue_reset_only_for_a_reset(void **state)
{
	static const struct {
		int err, reset;
	} cases[] = {{ECONNRESET, 1}, {EPIPE, 1}, {EIO, 0}};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		setup(NULL);
		open_pair(&a, &peer_a, &fake_ops);
		fake.send_fails = 1;
		fake.send_errno = cases[i].err;
		assert_int_equal(buf_append(&a.out, "gone", 4), 0);
		assert_int_equal(stream_flush(&a), -1);
		assert_true(a.broken);
		assert_int_equal(a.reset, cases[i].reset);
		assert_int_equal(buf_used(&a.out), 0);
		teardown(NULL);
	}
}

static void
test_the_flush_queue_sends_and_tells_the_owner_once(void **state)
{
	char got[8];
	size_t len = 0;

	(void)state;
	open_pair(&a, &peer_a, &stream_plain);
	assert_int_equal(buf_append(&a.out, "abc", 3), 0);
	stream_want_flush(&a);
	stream_want_flush(&a);
	stream_flush_queue();
	assert_int_equal(seen.io, 1);
	assert_ptr_equal(seen.st, &a);
	assert_int_equal(seen.events, 0);
	assert_false(a.flushq_on);
	take(peer_a, got, &len, sizeof(got));
	assert_int_equal(len, 3);
	assert_memory_equal(got, "abc", 3);
	stream_flush_queue();
	assert_int_equal(seen.io, 1);
}

static void
test_a_stream_closed_while_queued_leaves_the_flush_queue(void **state)
{
	(void)state;
	open_pair(&a, &peer_a, &stream_plain);
	open_pair(&b, &peer_b, &stream_plain);
	assert_int_equal(buf_append(&a.out, "a", 1), 0);
	assert_int_equal(buf_append(&b.out, "b", 1), 0);
	stream_want_flush(&a);
	stream_want_flush(&b);
	stream_close(&a);
	assert_false(a.flushq_on);
	stream_flush_queue();
	assert_int_equal(seen.io, 1);
	assert_ptr_equal(seen.st, &b);
	assert_int_equal(b.bytes_out, 1);
}

/* The peer reads all that was queued, and only then the end. */
static void
test_shutdown_write_waits_until_the_queue_has_gone(void **state)
{
	char *want = pattern(), *got = malloc(BIG), c;
	size_t len = 0;
	int rounds = 0;

	(void)state;
	open_pair(&a, &peer_a, &fake_ops);
	small_sndbuf(a.io.fd);
	assert_int_equal(buf_append(&a.out, want, BIG), 0);
	stream_shutdown(&a, 0, 1);
	assert_int_equal(a.shut_wr, SHUT_WR_QUEUED);
	stream_flush_queue();
	assert_true(buf_used(&a.out) > 0);
	assert_int_equal(a.shut_wr, SHUT_WR_QUEUED);
	assert_int_equal(fake.shutdowns, 0);
	while (buf_used(&a.out) > 0 && rounds++ < 100000) {
		take(peer_a, got, &len, BIG);
		assert_int_equal(stream_flush(&a), 0);
	}
	assert_int_equal(a.shut_wr, SHUT_WR_DONE);
	assert_int_equal(fake.shutdowns, 1);
	take(peer_a, got, &len, BIG);
	assert_int_equal(len, BIG);
	assert_memory_equal(got, want, BIG);
	assert_int_equal(recv(peer_a, &c, 1, 0), 0);
	free(want);
	free(got);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_flush_sends_everything_queued_and_counts_it),
	    T(test_flush_stops_where_the_kernel_is_full_and_resumes),
	    T(test_flush_resumes_after_short_and_interrupted_sends),
	    T(test_a_send_to_a_closed_peer_breaks_and_resets_the_stream),
	    T(test_a_failed_send_drops_the_queue_reset_only_for_a_reset),
	    T(test_the_flush_queue_sends_and_tells_the_owner_once),
	    T(test_a_stream_closed_while_queued_leaves_the_flush_queue),
	    T(test_shutdown_write_waits_until_the_queue_has_gone),
	};
	int rc;

	if (loop_init() < 0)
		return 1;
	rc = cmocka_run_group_tests_name("stream_flush", tests, NULL, NULL);
	buf_release_spares();
	return rc;
}
