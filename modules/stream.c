/*
 * stream.c - a byte stream on a descriptor: what comes in waits in its
 * input buffer until the owner takes it, what the owner queues leaves
 * through the flush queue at the end of each turn, or at once when the
 * owner flushes.  The transport (stream_ops) does the recv and send; the
 * owner (stream_events) is told of readiness, idleness, the PROXY header.
 */
#include <errno.h>
#include <stddef.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "proxy.h"
#include "stream.h"

#define READ_CHUNK 16384

static TAILQ_HEAD(, stream) flushq = TAILQ_HEAD_INITIALIZER(flushq);

static ssize_t
plain_recv(struct stream *st, void *p, size_t n)
{
	return recv(st->io.fd, p, n, 0);
}

static ssize_t
plain_peek(struct stream *st, void *p, size_t n)
{
	return recv(st->io.fd, p, n, MSG_PEEK);
}

static ssize_t
plain_send(struct stream *st, const void *p, size_t n)
{
	return send(st->io.fd, p, n, MSG_NOSIGNAL);
}

static int
plain_shutdown(struct stream *st, int how)
{
	return shutdown(st->io.fd, how);
}

const struct stream_ops stream_plain = {.recv = plain_recv,
    .peek = plain_peek,
    .send = plain_send,
    .shutdown = plain_shutdown};

static void proxy_read(struct stream *st);

#define stream_of_idle(p) \
	((struct stream *)((char *)(p)-offsetof(struct stream, idle)))

static void
idle_fired(struct loop_timer *t)
{
	struct stream *st = stream_of_idle(t);

	if (st->proxy) {
		st->ev->header(st, STREAM_HEADER_LATE, NULL);
	} else if (st->handshaking) {
		st->handshaking = 0;
		st->ev->secured(st, STREAM_SECURE_LATE);
	} else {
		st->ev->idle(st);
	}
}

void
stream_init(struct stream *st, int fd, const struct stream_ops *ops,
    const struct stream_events *ev)
{
	st->io.fd = fd;
	st->ops = ops;
	st->ev = ev;
	st->active = st->sent = loop_now();
	loop_timer_init(&st->idle, idle_fired);
}

static void
stream_io(struct loop_io *io, int events)
{
	struct stream *st = (struct stream *)io;

	if (st->io.fd < 0)
		return;
	/* kept through the phases: a shutdown reported now has no event to
	 * come once the owner reads */
	if (events & LOOP_HUP)
		st->hup = 1;
	if (st->proxy) {
		if (events & LOOP_READ)
			proxy_read(st);
		return;
	}
	if (st->handshaking) {
		stream_handshake(st);
		return;
	}
	if ((events & LOOP_WRITE) && buf_used(&st->out) > 0)
		stream_flush(st);
	if (events & LOOP_READ)
		st->drained = 0;
	st->ev->io(st, events);
}

/* Edge-triggered: reads and writes go on until the kernel says EAGAIN. */
int
stream_start(struct stream *st)
{
	return loop_add(
	    &st->io, st->io.fd, LOOP_READ | LOOP_WRITE | LOOP_EDGE, stream_io);
}

void
stream_want_flush(struct stream *st)
{
	if (st->flushq_on)
		return;
	st->flushq_on = 1;
	TAILQ_INSERT_TAIL(&flushq, st, flushq);
}

static void
flushq_remove(struct stream *st)
{
	if (!st->flushq_on)
		return;
	st->flushq_on = 0;
	TAILQ_REMOVE(&flushq, st, flushq);
}

void
stream_close(struct stream *st)
{
	if (st->io.fd < 0)
		return;
	loop_del(&st->io);
	if (st->ops->close)
		st->ops->close(st);
	close(st->io.fd);
	st->io.fd = -1;
	loop_timer_cancel(&st->idle);
	stream_free_input(st);
	buf_free(&st->out);
	flushq_remove(st);
}

/* shutdown("w") takes effect once the queue has gone. */
static void
shut_write(struct stream *st)
{
	if (st->shut_wr != SHUT_WR_QUEUED || buf_used(&st->out) > 0)
		return;
	st->shut_wr = SHUT_WR_DONE;
	st->ops->shutdown(st, SHUT_WR);
}

static void
count_out(struct stream *st, size_t n)
{
	st->active = st->sent = loop_now();
	st->bytes_out += n;
	if (st->stats)
		st->stats->bytes_out += n;
	buf_consume(&st->out, n);
}

/*
 * Sends what is queued until the kernel says EAGAIN; -1 when it broke
 * (what was queued is dropped).  A queued shutdown("w") follows the last
 * byte.
 */
int
stream_flush(struct stream *st)
{
	ssize_t n;

	for (;;) {
		if (buf_used(&st->out) == 0) {
			shut_write(st);
			return 0;
		}
		n = st->ops->send(st, buf_head(&st->out), buf_used(&st->out));
		if (n > 0) {
			count_out(st, (size_t)n);
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			return 0;
		} else {
			if (errno == ECONNRESET || errno == EPIPE)
				st->reset = 1;
			st->broken = 1;
			buf_consume(&st->out, buf_used(&st->out));
			return -1;
		}
	}
}

/* What the turn queued goes out; each owner hears of its stream after. */
void
stream_flush_queue(void)
{
	struct stream *st;

	while ((st = TAILQ_FIRST(&flushq)) != NULL) {
		flushq_remove(st);
		stream_flush(st);
		st->ev->io(st, 0);
	}
}

/*
 * Reads land here first, so an idle stream holds no input buffer.  Its
 * owner's unread bytes may stay here, even across a Lua error, since
 * every other recv into it moves them out first (evict): no stream can
 * ever read another's bytes.
 */
static char scratch[65536];
static struct stream *scratch_owner;

/*
 * Moves st's unread bytes off the shared scratch, into a buffer of its
 * own; without memory for one they stay where they are, st still owner.
 */
static int
keep_input(struct stream *st)
{
	struct buf own = {0};

	if (!st->in.borrowed)
		return 0;
	if (buf_append(&own, buf_head(&st->in), buf_used(&st->in)) < 0)
		return -1;
	st->in = own;
	if (scratch_owner == st)
		scratch_owner = NULL;
	return 0;
}

/*
 * Before st's recv into scratch: the bytes left there are another's.  An
 * owner they cannot be moved for loses them, and is told.
 */
static void
evict(struct stream *st)
{
	struct stream *o = scratch_owner;

	if (o == NULL || o == st || keep_input(o) == 0)
		return;
	stream_free_input(o);
	o->ev->lost(o);
}

/* The stream's input goes with its descriptor. */
void
stream_free_input(struct stream *st)
{
	if (scratch_owner == st)
		scratch_owner = NULL;
	buf_free(&st->in);
}

/* Where the next recv lands: the scratch when nothing waits, else in. */
static char *
fill_room(struct stream *st, size_t *room)
{
	if (buf_used(&st->in) == 0) {
		evict(st);
		buf_free(&st->in);
		buf_view(&st->in, scratch, 0, sizeof(scratch));
		scratch_owner = st;
		*room = sizeof(scratch);
		return scratch;
	}
	if (keep_input(st) < 0)
		return NULL;
	return buf_reserve(&st->in, READ_CHUNK, room);
}

/*
 * One recv into the input buffer.  1: bytes arrived; 0: the input ended
 * (eof is set); -1: nothing yet; -2: no memory.
 */
int
stream_fill(struct stream *st)
{
	size_t room;
	ssize_t n;
	char *p;

	/*
	 * A short read emptied the kernel's buffer, and edge-triggered epoll
	 * reports the next bytes when they come: no recv just to hear EAGAIN.
	 * A shutdown already reported has no event to come, so it reads on.
	 */
	if (st->drained && !st->hup)
		return -1;
	if ((p = fill_room(st, &room)) == NULL)
		return -2;
	do
		n = st->ops->recv(st, p, room);
	while (n < 0 && errno == EINTR);
	if (n > 0) {
		st->drained = (size_t)n < room;
		st->active = loop_now();
		buf_commit(&st->in, n);
		st->bytes_in += n;
		if (st->stats)
			st->stats->bytes_in += n;
		return 1;
	}
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		st->drained = 1;
		return -1;
	}
	if (n < 0)
		st->reset = 1;
	st->eof = 1;
	return 0;
}

/*
 * shutdown(2): reads end at once (what is buffered goes); the write side
 * shuts once what is queued has gone to the kernel.
 */
void
stream_shutdown(struct stream *st, int rd, int wr)
{
	if (rd && !st->shut_rd) {
		st->shut_rd = 1;
		st->eof = 1;
		stream_free_input(st);
		st->ops->shutdown(st, SHUT_RD);
	}
	if (wr && st->shut_wr == SHUT_WR_NONE) {
		st->shut_wr = SHUT_WR_QUEUED;
		stream_want_flush(st);
	}
}

void
stream_log_end(const struct stream *st, const char *service, const char *peer,
    const char *tls, double started, const char *why)
{
	log_msg(LOG_INFO, "%s: %s%s: %.3fs, %llu bytes in, %llu bytes out, %s",
	    service, peer, tls, loop_now() - started,
	    (unsigned long long)st->bytes_in, (unsigned long long)st->bytes_out,
	    why);
}

void
stream_idle_at(struct stream *st, double when)
{
	loop_timer_set(&st->idle, when);
}

/*
 * A step of the transport's handshake, whenever the descriptor stirs
 * while it goes on, and once by the owner to begin (what it needs may
 * have come already, with no edge to come for it).  Its end stops the
 * handshake's timer and tells the owner.
 */
void
stream_handshake(struct stream *st)
{
	int r;

	st->handshaking = 1;
	if ((r = st->ops->handshake(st)) == 0)
		return;
	st->handshaking = 0;
	/* what a plain recv knew of the kernel is stale: the handshake's
	 * reads may have taken, and kept, the bytes after it */
	st->drained = 0;
	loop_timer_cancel(&st->idle);
	st->ev->secured(st, r > 0 ? STREAM_SECURE_OK : STREAM_SECURE_BAD);
}

/*
 * An outbound connection, non-blocking: 0 connected, 1 in progress (the
 * stream turns writable when it is done), -1 with errno.
 */
int
stream_connect(const union net_addr *to, int *fd)
{
	socklen_t len =
	    to->sa.sa_family == AF_INET ? sizeof(to->in4) : sizeof(to->in6);
	int rc, e;

	*fd = socket(
	    to->sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (*fd < 0)
		return -1;
	rc = connect(*fd, &to->sa, len);
	if (rc < 0 && errno != EINPROGRESS) {
		e = errno;
		close(*fd);
		errno = e;
		return -1;
	}
	net_nodelay(*fd);
	return rc < 0;
}

/*
 * The header is looked at where the kernel holds it and only its own
 * bytes are taken: what follows (a TLS ClientHello, the client's first
 * line) stays for whoever reads next.  Edge-triggered epoll reports
 * each new segment, so a header cut short is looked at again; one cut
 * short by the peer's shutdown is bad.  No memory is needed.
 */
static void
proxy_read(struct stream *st)
{
	char head[PROXY_MAX];
	union net_addr client;
	int n, local = 0;
	ssize_t r;

	do
		r = st->ops->peek(st, head, sizeof(head));
	while (r < 0 && errno == EINTR);
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	n = r > 0 ? proxy_parse(head, (size_t)r, &client, &local) : PROXY_BAD;
	if (n == PROXY_NEED_MORE && r < (ssize_t)sizeof(head) && !st->hup)
		return;
	if (n == PROXY_NEED_MORE || n == PROXY_BAD ||
	    st->ops->recv(st, head, (size_t)n) != n) {
		st->ev->header(st, STREAM_HEADER_BAD, NULL);
		return;
	}
	st->bytes_in += n;
	if (st->stats)
		st->stats->bytes_in += n;
	st->proxy = 0;
	loop_timer_cancel(&st->idle);
	st->ev->header(st, STREAM_HEADER_OK, local ? NULL : &client);
}
