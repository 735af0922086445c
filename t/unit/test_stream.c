/*
 * test_stream.c - a stream's input: fill, the shared scratch and its
 * owner, eof and reset, the drained short cut, shutdown("r"); connect.
 * Real socketpairs; a fake transport where only a fake reaches the path.
 * The output side is in test_stream_flush.c, the PROXY phase and the idle
 * timer in test_stream_proxy.c.
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
	int recvs, shutdowns;
	int recv_fails, recv_errno; /* the next recv_fails calls fail */
} fake;

static ssize_t
fake_recv(struct stream *st, void *p, size_t n)
{
	fake.recvs++;
	if (fake.recv_fails > 0) {
		fake.recv_fails--;
		errno = fake.recv_errno;
		return -1;
	}
	return stream_plain.recv(st, p, n);
}

static ssize_t
fake_send(struct stream *st, const void *p, size_t n)
{
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
	int io, events, lost;
	struct stream *st, *lost_st;
} seen;
static int stop_on; /* the events that end run() */

static void
on_io(struct stream *st, int events)
{
	seen.io++;
	seen.events |= events;
	seen.st = st;
	if (events & stop_on)
		loop_stop();
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
	seen.lost++;
	seen.lost_st = st;
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
run(int until)
{
	stop_on = until;
	loop_update_time();
	loop_timer_set(&watchdog, loop_now() + 2);
	loop_run();
	loop_timer_cancel(&watchdog);
}

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
	memset(&b, 0, sizeof(b));
	a.io.fd = b.io.fd = -1;
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
	stream_close(&b);
	if (peer_a >= 0)
		close(peer_a);
	if (peer_b >= 0)
		close(peer_b);
	peer_a = peer_b = -1;
	return 0;
}

static void
test_fill_reads_what_the_peer_sent_and_counts_it(void **state)
{
	(void)state;
	open_pair(&a, &peer_a, &stream_plain);
	put(peer_a, "hello");
	assert_int_equal(stream_fill(&a), 1);
	assert_input(&a, "hello");
	assert_int_equal(a.bytes_in, 5);
	assert_int_equal(totals.bytes_in, 5);
	assert_false(a.eof);
}

/*
 * a's unread bytes sit in the shared scratch until b reads into it: they
 * move to a buffer of a's own first, and a reads on after them.
 */
static void
test_a_second_reader_moves_the_first_readers_bytes_out_of_the_scratch(
    void **state)
{
	(void)state;
	open_pair(&a, &peer_a, &stream_plain);
	open_pair(&b, &peer_b, &stream_plain);
	put(peer_a, "aaaa");
	assert_int_equal(stream_fill(&a), 1);
	assert_true(a.in.borrowed);
	put(peer_b, "bbbbbb");
	assert_int_equal(stream_fill(&b), 1);
	assert_false(a.in.borrowed);
	assert_input(&a, "aaaa");
	assert_input(&b, "bbbbbb");
	put(peer_a, "AA");
	assert_int_equal(stream_start(&a), 0);
	run(LOOP_READ);
	assert_int_equal(stream_fill(&a), 1);
	assert_input(&a, "aaaaAA");
	assert_input(&b, "bbbbbb");
	assert_int_equal(seen.lost, 0);
}

static void
test_fill_after_the_peer_closed_is_eof_without_reset(void **state)
{
	(void)state;
	open_pair(&a, &peer_a, &stream_plain);
	close(peer_a);
	peer_a = -1;
	assert_int_equal(stream_fill(&a), 0);
	assert_true(a.eof);
	assert_false(a.reset);
}

static void
test_fill_after_a_recv_error_is_eof_and_reset(void **state)
{
	(void)state;
	open_pair(&a, &peer_a, &fake_ops);
	fake.recv_fails = 1;
	fake.recv_errno = ECONNRESET;
	assert_int_equal(stream_fill(&a), 0);
	assert_true(a.eof);
	assert_true(a.reset);
}

static void
test_fill_retries_a_recv_interrupted_by_a_signal(void **state)
{
	(void)state;
	open_pair(&a, &peer_a, &fake_ops);
	put(peer_a, "x");
	fake.recv_fails = 1;
	fake.recv_errno = EINTR;
	assert_int_equal(stream_fill(&a), 1);
	assert_int_equal(fake.recvs, 2);
	assert_input(&a, "x");
	assert_false(a.eof);
}

/*
 * A short read emptied the kernel's buffer: no recv until epoll reports
 * more, though bytes came meanwhile.
 */
static void
test_after_a_short_read_fill_waits_for_the_read_event(void **state)
{
	(void)state;
	open_pair(&a, &peer_a, &fake_ops);
	put(peer_a, "x");
	assert_int_equal(stream_fill(&a), 1);
	assert_true(a.drained);
	put(peer_a, "y");
	assert_int_equal(stream_fill(&a), -1);
	assert_int_equal(fake.recvs, 1);
	assert_int_equal(stream_start(&a), 0);
	run(LOOP_READ);
	assert_false(a.drained);
	assert_int_equal(stream_fill(&a), 1);
	assert_int_equal(fake.recvs, 2);
	assert_input(&a, "xy");
}

static void
test_an_empty_recv_marks_the_stream_drained(void **state)
{
	(void)state;
	open_pair(&a, &peer_a, &fake_ops);
	assert_int_equal(stream_fill(&a), -1);
	assert_true(a.drained);
	assert_int_equal(stream_fill(&a), -1);
	assert_int_equal(fake.recvs, 1);
	assert_false(a.eof);
}

/* A shutdown epoll already reported brings no further event: read on. */
static void
test_a_drained_stream_reads_on_once_the_peer_shut_its_side(void **state)
{
	(void)state;
	open_pair(&a, &peer_a, &fake_ops);
	put(peer_a, "x");
	assert_int_equal(stream_fill(&a), 1);
	assert_true(a.drained);
	close(peer_a);
	peer_a = -1;
	a.hup = 1; /* as stream_io sets it on LOOP_HUP */
	assert_int_equal(stream_fill(&a), 0);
	assert_int_equal(fake.recvs, 2);
	assert_true(a.eof);
	assert_input(&a, "x");
}

/* No memory to move a's bytes off the scratch: a loses them and is told. */
static void
test_an_owner_whose_bytes_cannot_be_moved_loses_them_and_is_told(void **state)
{
	(void)state;
	open_pair(&a, &peer_a, &stream_plain);
	open_pair(&b, &peer_b, &stream_plain);
	put(peer_a, "aaaa");
	assert_int_equal(stream_fill(&a), 1);
	put(peer_b, "bbbbbb");
	buf_release_spares();
	malloc_fails = 1;
	assert_int_equal(stream_fill(&b), 1);
	malloc_fails = 0;
	assert_int_equal(seen.lost, 1);
	assert_ptr_equal(seen.lost_st, &a);
	assert_int_equal(buf_used(&a.in), 0);
	assert_input(&b, "bbbbbb");
	/* b owns the scratch now: a's next read moves b's bytes first */
	put(peer_a, "A");
	a.drained = 0; /* as a read event does */
	assert_int_equal(stream_fill(&a), 1);
	assert_input(&a, "A");
	assert_input(&b, "bbbbbb");
	assert_int_equal(seen.lost, 1);
}

/* The owner's own next read cannot move its bytes: -2, and they stay. */
static void
test_fill_without_memory_for_more_input_keeps_the_unread_bytes(void **state)
{
	(void)state;
	open_pair(&a, &peer_a, &stream_plain);
	put(peer_a, "aaaa");
	assert_int_equal(stream_fill(&a), 1);
	put(peer_a, "AA");
	a.drained = 0; /* as a read event does */
	buf_release_spares();
	malloc_fails = 1;
	assert_int_equal(stream_fill(&a), -2);
	malloc_fails = 0;
	assert_input(&a, "aaaa");
	assert_int_equal(seen.lost, 0);
	assert_int_equal(stream_fill(&a), 1);
	assert_input(&a, "aaaaAA");
}

static void
test_shutdown_read_ends_the_input_at_once(void **state)
{
	char c;

	(void)state;
	open_pair(&a, &peer_a, &fake_ops);
	open_pair(&b, &peer_b, &stream_plain);
	put(peer_a, "unread");
	assert_int_equal(stream_fill(&a), 1);
	stream_shutdown(&a, 1, 0);
	assert_true(a.eof);
	assert_true(a.shut_rd);
	assert_int_equal(buf_used(&a.in), 0);
	assert_int_equal(fake.shutdowns, 1);
	assert_int_equal(a.shut_wr, SHUT_WR_NONE);
	assert_false(a.flushq_on);
	/* the scratch is no longer a's: b reads into it, a hears nothing */
	put(peer_b, "b");
	assert_int_equal(stream_fill(&b), 1);
	assert_int_equal(seen.lost, 0);
	/* the write side still works */
	assert_int_equal(buf_append(&a.out, "w", 1), 0);
	assert_int_equal(stream_flush(&a), 0);
	assert_int_equal(recv(peer_a, &c, 1, 0), 1);
}

static void
loopback_port(int fd, int listening, union net_addr *to)
{
	socklen_t len = sizeof(*to);

	memset(to, 0, sizeof(*to));
	to->in4.sin_family = AF_INET;
	to->in4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, &to->sa, sizeof(to->in4)), 0);
	if (listening)
		assert_int_equal(listen(fd, 1), 0);
	assert_int_equal(getsockname(fd, &to->sa, &len), 0);
}

static int
so_error(int fd)
{
	socklen_t len = sizeof(int);
	int e = -1;

	assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len), 0);
	return e;
}

static void
test_connect_to_a_listener_turns_writable(void **state)
{
	int l = socket(AF_INET, SOCK_STREAM, 0), fd, rc;
	union net_addr to;

	(void)state;
	loopback_port(l, 1, &to);
	rc = stream_connect(&to, &fd);
	assert_true(rc == 0 || rc == 1);
	stream_init(&a, fd, &stream_plain, &events);
	assert_int_equal(stream_start(&a), 0);
	run(LOOP_WRITE);
	assert_true(seen.events & LOOP_WRITE);
	assert_false(seen.events & LOOP_ERROR);
	assert_int_equal(so_error(fd), 0);
	close(l);
}

/* Refused at once (-1), or in progress (1) and then an error. */
static void
test_connect_to_a_closed_port_is_refused(void **state)
{
	int l = socket(AF_INET, SOCK_STREAM, 0), fd = -1, rc;
	union net_addr to;

	(void)state;
	loopback_port(l, 0, &to);
	rc = stream_connect(&to, &fd);
	if (rc < 0) {
		assert_int_equal(errno, ECONNREFUSED);
	} else {
		assert_int_equal(rc, 1);
		stream_init(&a, fd, &stream_plain, &events);
		assert_int_equal(stream_start(&a), 0);
		run(LOOP_ERROR);
		assert_true(seen.events & LOOP_ERROR);
		assert_int_equal(so_error(fd), ECONNREFUSED);
	}
	close(l);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_fill_reads_what_the_peer_sent_and_counts_it),
	    T(test_a_second_reader_moves_the_first_readers_bytes_out_of_the_scratch),
	    T(test_fill_after_the_peer_closed_is_eof_without_reset),
	    T(test_fill_after_a_recv_error_is_eof_and_reset),
	    T(test_fill_retries_a_recv_interrupted_by_a_signal),
	    T(test_after_a_short_read_fill_waits_for_the_read_event),
	    T(test_an_empty_recv_marks_the_stream_drained),
	    T(test_a_drained_stream_reads_on_once_the_peer_shut_its_side),
	    T(test_an_owner_whose_bytes_cannot_be_moved_loses_them_and_is_told),
	    T(test_fill_without_memory_for_more_input_keeps_the_unread_bytes),
	    T(test_shutdown_read_ends_the_input_at_once),
	    T(test_connect_to_a_listener_turns_writable),
	    T(test_connect_to_a_closed_port_is_refused),
	};
	int rc;

	if (loop_init() < 0)
		return 1;
	rc = cmocka_run_group_tests_name("stream", tests, NULL, NULL);
	buf_release_spares();
	return rc;
}
