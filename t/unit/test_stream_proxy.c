/*
 * test_stream_proxy.c - the PROXY header phase (stream_start with proxy
 * set, the owner told how it ended) and the idle timer that ends it late
 * or, after it, tells the owner the stream is idle.  Real socketpairs
 * under the real loop; a fake transport where only a fake reaches the
 * path.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loop.h"
#include "stream.h"

/* Linked with -Wl,--wrap=malloc: a new buffer fails on demand. */
void *__real_malloc(size_t n);
static int malloc_fails;

void *
__wrap_malloc(size_t n)
{
	return malloc_fails ? NULL : __real_malloc(n);
}

/* The transport, counted, failing on demand, else recv(2) and send(2). */
static struct {
	int recvs;
	int recv_fails, recv_errno; /* the next recv_fails calls fail */
} fake;

/* The next call fails, when a test has asked for that. */
static int
fails(void)
{
	fake.recvs++;
	if (fake.recv_fails == 0)
		return 0;
	fake.recv_fails--;
	errno = fake.recv_errno;
	return 1;
}

static ssize_t
fake_recv(struct stream *st, void *p, size_t n)
{
	return fails() ? -1 : stream_plain.recv(st, p, n);
}

static ssize_t
fake_peek(struct stream *st, void *p, size_t n)
{
	return fails() ? -1 : stream_plain.peek(st, p, n);
}

static ssize_t
fake_send(struct stream *st, const void *p, size_t n)
{
	return stream_plain.send(st, p, n);
}

static int
fake_shutdown(struct stream *st, int how)
{
	return stream_plain.shutdown(st, how);
}

static const struct stream_ops fake_ops = {.recv = fake_recv,
    .peek = fake_peek,
    .send = fake_send,
    .shutdown = fake_shutdown};

/* What the owner was told. */
static struct {
	int io, idle, header, how, named;
	union net_addr client;
	struct stream *st;
} seen;

static void
on_io(struct stream *st, int events)
{
	(void)events;
	seen.io++;
	seen.st = st;
}

static void
on_idle(struct stream *st)
{
	seen.idle++;
	seen.st = st;
	loop_stop();
}

static void
on_header(struct stream *st, int how, const union net_addr *client)
{
	seen.header++;
	seen.how = how;
	seen.named = client != NULL;
	if (client != NULL)
		seen.client = *client;
	seen.st = st;
	loop_stop();
}

static void
on_lost(struct stream *st)
{
	(void)st;
	fail_msg("no other stream reads here");
}

static const struct stream_events events = {
    .io = on_io, .idle = on_idle, .header = on_header, .lost = on_lost};

static void
watchdog_fired(struct loop_timer *t)
{
	(void)t;
	loop_stop();
}

static struct loop_timer watchdog = {0, -1, watchdog_fired, NULL};

/* The loop until a callback stops it, or two seconds. */
static void
run(void)
{
	loop_update_time();
	loop_timer_set(&watchdog, loop_now() + 2);
	loop_run();
	loop_timer_cancel(&watchdog);
}

static struct stream a;
static int peer = -1;
static struct service_stats totals; /* the service's counters */

/* a on one end of a non-blocking socketpair, the other end in peer. */
static void
open_pair(const struct stream_ops *ops)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX,
			     SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv),
	    0);
	stream_init(&a, sv[0], ops, &events);
	a.stats = &totals;
	peer = sv[1];
}

/* a waits for its header, for at most the given seconds. */
static void
start_proxied(const struct stream_ops *ops, double timeout)
{
	open_pair(ops);
	a.proxy = 1;
	assert_int_equal(stream_start(&a), 0);
	stream_idle_at(&a, loop_now() + timeout);
}

static void
put(int fd, const char *s)
{
	assert_int_equal(send(fd, s, strlen(s), 0), (ssize_t)strlen(s));
}

static void
assert_input(const struct stream *st, const char *s)
{
	assert_int_equal(buf_used(&st->in), strlen(s));
	assert_memory_equal(buf_head(&st->in), s, strlen(s));
}

static int
setup(void **state)
{
	(void)state;
	memset(&a, 0, sizeof(a));
	a.io.fd = -1;
	memset(&fake, 0, sizeof(fake));
	memset(&seen, 0, sizeof(seen));
	memset(&totals, 0, sizeof(totals));
	malloc_fails = 0;
	loop_update_time();
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	malloc_fails = 0;
	stream_close(&a);
	if (peer >= 0)
		close(peer);
	peer = -1;
	return 0;
}

#define HEAD1 "PROXY TCP4 192.0.2.1 19"
#define HEAD2 "8.51.100.2 56324 443\r\n"

/* The header's second piece, once the loop has read the first. */
static int recvs_before_rest;

static void
rest_fired(struct loop_timer *t)
{
	(void)t;
	recvs_before_rest = fake.recvs;
	assert_int_equal(seen.header, 0);
	put(peer, HEAD2 "hello");
}

static void
test_a_v1_header_in_two_pieces_names_the_client_and_keeps_what_follows(
    void **state)
{
	struct loop_timer rest = {0, -1, rest_fired, NULL};
	char ip[INET_ADDRSTRLEN];

	(void)state;
	start_proxied(&fake_ops, 1);
	put(peer, HEAD1);
	loop_timer_set(&rest, loop_now() + 0.02);
	run();
	assert_true(recvs_before_rest >= 1);
	assert_int_equal(seen.header, 1);
	assert_int_equal(seen.how, STREAM_HEADER_OK);
	assert_true(seen.named);
	assert_int_equal(seen.client.sa.sa_family, AF_INET);
	inet_ntop(AF_INET, &seen.client.in4.sin_addr, ip, sizeof(ip));
	assert_string_equal(ip, "192.0.2.1");
	assert_int_equal(ntohs(seen.client.in4.sin_port), 56324);
	assert_false(a.proxy);
	assert_false(loop_timer_armed(&a.idle));
	assert_int_equal(seen.io, 0);
	/* only the header was taken: what came with it is the next read's */
	assert_int_equal(a.bytes_in, strlen(HEAD1 HEAD2));
	assert_int_equal(buf_used(&a.in), 0);
	assert_int_equal(stream_fill(&a), 1);
	assert_input(&a, "hello");
	/* what comes next follows it (the loop would report its edge) */
	put(peer, " more");
	a.drained = 0;
	assert_int_equal(stream_fill(&a), 1);
	assert_input(&a, "hello more");
}

static void
test_an_unknown_header_names_no_client(void **state)
{
	(void)state;
	start_proxied(&stream_plain, 1);
	put(peer, "PROXY UNKNOWN\r\nrest");
	run();
	assert_int_equal(seen.how, STREAM_HEADER_OK);
	assert_false(seen.named);
	assert_int_equal(stream_fill(&a), 1);
	assert_input(&a, "rest");
}

static void
test_a_bad_header_is_bad(void **state)
{
	(void)state;
	start_proxied(&stream_plain, 1);
	put(peer, "GET / HTTP/1.0\r\n\r\n");
	run();
	assert_int_equal(seen.header, 1);
	assert_int_equal(seen.how, STREAM_HEADER_BAD);
	assert_false(seen.named);
	assert_true(a.proxy);
}

static void
test_the_peer_leaving_before_the_whole_header_is_bad(void **state)
{
	(void)state;
	start_proxied(&stream_plain, 1);
	put(peer, HEAD1);
	close(peer);
	peer = -1;
	run();
	assert_int_equal(seen.header, 1);
	assert_int_equal(seen.how, STREAM_HEADER_BAD);
}

static void
test_a_reset_before_the_header_is_bad(void **state)
{
	(void)state;
	start_proxied(&fake_ops, 1);
	fake.recv_fails = 1;
	fake.recv_errno = ECONNRESET;
	put(peer, HEAD1);
	run();
	assert_int_equal(seen.header, 1);
	assert_int_equal(seen.how, STREAM_HEADER_BAD);
}

static void
test_a_header_not_all_there_in_time_is_late(void **state)
{
	double from = loop_now();

	(void)state;
	start_proxied(&stream_plain, 0.05);
	put(peer, HEAD1);
	run();
	assert_int_equal(seen.header, 1);
	assert_int_equal(seen.how, STREAM_HEADER_LATE);
	assert_false(seen.named);
	assert_int_equal(seen.idle, 0);
	assert_true(loop_now() - from >= 0.05);
}

/* The header is parsed where the kernel holds it: no memory is needed. */
static void
test_the_header_needs_no_memory(void **state)
{
	(void)state;
	start_proxied(&stream_plain, 1);
	put(peer, HEAD1 HEAD2);
	buf_release_spares();
	malloc_fails = 1;
	run();
	malloc_fails = 0;
	assert_int_equal(seen.header, 1);
	assert_int_equal(seen.how, STREAM_HEADER_OK);
	assert_true(seen.named);
}

/* The bytes read with the header count in the service's total too. */
static void
test_bytes_read_with_the_header_count_in_the_service_total(void **state)
{
	(void)state;
	start_proxied(&stream_plain, 1);
	put(peer, HEAD1 HEAD2 "hello");
	run();
	assert_int_equal(seen.how, STREAM_HEADER_OK);
	assert_int_equal(totals.bytes_in, a.bytes_in);
}

/*
 * A recv interrupted by a signal during the header is tried again: edge-
 * triggered, the bytes already in the kernel bring no further event.
 */
static void
test_an_interrupted_recv_during_the_header_is_retried(void **state)
{
	(void)state;
	start_proxied(&fake_ops, 0.2);
	fake.recv_fails = 1;
	fake.recv_errno = EINTR;
	put(peer, HEAD1 HEAD2);
	run();
	assert_int_equal(seen.header, 1);
	assert_int_equal(seen.how, STREAM_HEADER_OK);
}

static void
test_the_idle_timer_tells_the_owner(void **state)
{
	double from = loop_now();

	(void)state;
	open_pair(&stream_plain);
	stream_idle_at(&a, loop_now() + 0.02);
	run();
	assert_int_equal(seen.idle, 1);
	assert_ptr_equal(seen.st, &a);
	assert_true(loop_now() - from >= 0.02);
	assert_false(loop_timer_armed(&a.idle));
	assert_int_equal(seen.header, 0);
}

static void
test_a_closed_stream_has_no_idle_timer(void **state)
{
	(void)state;
	open_pair(&stream_plain);
	stream_idle_at(&a, loop_now() + 0.01);
	stream_close(&a);
	assert_false(loop_timer_armed(&a.idle));
	assert_int_equal(a.io.fd, -1);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_a_v1_header_in_two_pieces_names_the_client_and_keeps_what_follows),
	    T(test_an_unknown_header_names_no_client),
	    T(test_a_bad_header_is_bad),
	    T(test_the_peer_leaving_before_the_whole_header_is_bad),
	    T(test_a_reset_before_the_header_is_bad),
	    T(test_a_header_not_all_there_in_time_is_late),
	    T(test_the_header_needs_no_memory),
	    T(test_bytes_read_with_the_header_count_in_the_service_total),
	    T(test_an_interrupted_recv_during_the_header_is_retried),
	    T(test_the_idle_timer_tells_the_owner),
	    T(test_a_closed_stream_has_no_idle_timer),
	};
	int rc;

	if (loop_init() < 0)
		return 1;
	rc = cmocka_run_group_tests_name("stream_proxy", tests, NULL, NULL);
	buf_release_spares();
	return rc;
}
