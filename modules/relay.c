/*
 * relay.c - an exec service behind TLS.  The handshake is a phase of the
 * client's stream, as for a script; once it is done the program starts
 * on one end of a socket pair (no process of superd's in between) and
 * the loop relays plaintext between the client's stream and the other
 * end.  Each way stops reading while the other side has RELAY_MARK bytes
 * queued, and reads again once they have gone (back-pressure); the end
 * of one side's input shuts the other side's write once its queue has
 * gone (a close_notify to the client).  The relay closes once both ways
 * are done, when the client fails or idles, or once the program has
 * ended and what it wrote has gone.  Plain C: no Lua here.
 */
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <unistd.h>

#include "admit.h"
#include "child.h"
#include "exec.h"
#include "log.h"
#include "relay.h"
#include "service.h"
#include "stream.h"
#include "tls.h"
#include "unixsock.h"

struct relay {
	struct stream net;  /* first: the client's, TLS */
	struct stream prog; /* superd's end of the program's socket pair */
	struct service *svc;
	union net_addr peer;
	struct child *child; /* the program, until it ends */
	double started;
	uint32_t id;	   /* superctl's name for it */
	const char *why;   /* set once it has closed */
	unsigned gone : 1; /* the program has ended */
	LIST_ENTRY(relay) all;
};

#define relay_of_prog(p) \
	((struct relay *)((char *)(p)-offsetof(struct relay, prog)))

static LIST_HEAD(, relay) relays = LIST_HEAD_INITIALIZER(relays);
/* closed, freed after the loop's turn (relay_collect) */
static LIST_HEAD(, relay) dead = LIST_HEAD_INITIALIZER(dead);

static void
relay_log(const struct relay *r, const char *tls)
{
	char peer[NET_PEERSTRLEN];

	if (!log_enabled(LOG_INFO))
		return;
	stream_log_end(&r->net, r->svc->name, net_peer(&r->peer, "tcp", peer),
	    tls, r->started, r->why);
}

/*
 * The one way a relay ends: both descriptors closed (the program sees
 * the end of its input and output), the log line, and the admission left
 * to the program while it still runs.  Freed after the loop's turn: an
 * event of this turn may still name one of its streams.
 */
static void
relay_close(struct relay *r, const char *why)
{
	char tls[160];

	if (r->why != NULL)
		return;
	r->why = why;
	tls[0] = '\0';
	if (log_enabled(LOG_INFO))
		tls_note(&r->net, tls, sizeof(tls));
	stream_close(&r->net);
	stream_close(&r->prog);
	LIST_REMOVE(r, all);
	LIST_INSERT_HEAD(&dead, r, all);
	relay_log(r, tls);
	if (r->child != NULL)
		exec_detach(r->child);
	else
		admit_release(&r->svc->admit, &r->peer, ADMIT_CLIENT);
}

/*
 * from's input onto to's queue while to has room: -1 when no memory was
 * left for it, else 0 (from's input ended, or waits for bytes or room).
 * from's end of input shuts to's write side once to's queue has gone.
 */
static int
pump(struct stream *from, struct stream *to)
{
	int r;

	while (!from->eof && !to->broken && buf_used(&to->out) < RELAY_MARK) {
		if ((r = stream_fill(from)) == -2)
			return -1;
		if (r <= 0)
			break;
		if (buf_append(
			&to->out, buf_head(&from->in), buf_used(&from->in)) < 0)
			return -1;
		stream_free_input(from);
		stream_want_flush(to);
	}
	if (from->eof)
		stream_shutdown(to, 0, 1);
	return 0;
}

/*
 * Both ways done: what the program wrote has gone, with a close_notify,
 * and what the client sent has reached the program, or nothing more can
 * (it stopped reading, or has ended).
 */
static int
relay_done(const struct relay *r)
{
	if (r->net.shut_wr != SHUT_WR_DONE)
		return 0;
	return r->gone || r->prog.broken || r->prog.shut_wr == SHUT_WR_DONE;
}

/* After either side's news: the bytes move on, and the end is seen. */
static void
relay_step(struct relay *r)
{
	if (r->why != NULL)
		return;
	if (pump(&r->net, &r->prog) < 0 || pump(&r->prog, &r->net) < 0) {
		log_msg(LOG_ERR, "%s: no memory to relay", r->svc->name);
		relay_close(r, "no memory");
	} else if (r->net.reset) {
		relay_close(r, "reset by peer");
	} else if (r->net.broken) {
		relay_close(r, "closed by peer");
	} else if (relay_done(r)) {
		relay_close(r, r->gone ? "program ended" : "closed");
	}
}

static void
net_io(struct stream *st, int events)
{
	(void)events;
	relay_step((struct relay *)st);
}

static void
prog_io(struct stream *st, int events)
{
	(void)events;
	relay_step(relay_of_prog(st));
}

/* Re-armed lazily, as a script's connection's: traffic moves active. */
static void
net_idle(struct stream *st)
{
	struct relay *r = (struct relay *)st;
	double when = st->active + r->svc->conf->idle_timeout;

	if (when > loop_now())
		stream_idle_at(st, when);
	else
		relay_close(r, "timeout");
}

static void
relay_lost(struct relay *r)
{
	log_msg(LOG_ERR, "%s: no memory for unread input", r->svc->name);
	relay_close(r, "no memory");
}

static void
net_lost(struct stream *st)
{
	relay_lost((struct relay *)st);
}

static void
prog_lost(struct stream *st)
{
	relay_lost(relay_of_prog(st));
}

/* The program has ended: once what it wrote has gone, so does its relay. */
static void
program_ended(void *ud)
{
	struct relay *r = ud;

	r->child = NULL;
	r->gone = 1;
	relay_step(r);
}

/* What the program is told of its client (child.c's SSL_* and TCP*). */
static void
relay_env(const struct relay *r, struct child_tls *t)
{
	struct tls_info ti;

	memset(t, 0, sizeof(*t));
	if (r->peer.sa.sa_family == AF_UNIX)
		unixsock_path(
		    r->net.io.fd, t->local_path, sizeof(t->local_path));
	else if (net_local(r->net.io.fd, &t->local) < 0)
		t->local.sa.sa_family = AF_UNSPEC;
	if (tls_info(&r->net, &ti) < 0)
		return;
	snprintf(t->protocol, sizeof(t->protocol), "%s", ti.version);
	snprintf(
	    t->cipher, sizeof(t->cipher), "%s", ti.cipher ? ti.cipher : "");
	snprintf(t->sni, sizeof(t->sni), "%s", ti.sni ? ti.sni : "");
	snprintf(t->subject, sizeof(t->subject), "%s", ti.subject);
	snprintf(t->issuer, sizeof(t->issuer), "%s", ti.issuer);
	snprintf(t->verify, sizeof(t->verify), "%s",
	    !ti.peer	  ? "NONE"
	    : ti.verified ? "SUCCESS"
			  : "FAILED");
}

static const struct stream_events prog_events = {
    .io = prog_io,
    .lost = prog_lost,
};

/*
 * The program on its end of a socket pair (blocking, as its own
 * descriptors 0-2); superd keeps the other, non-blocking, in the loop.
 */
static int
start_program(struct relay *r)
{
	struct child_tls t;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		log_msg(LOG_ERR, "%s: socketpair: %m", r->svc->name);
		return -1;
	}
	relay_env(r, &t);
	r->child = exec_relayed(r->svc, sv[1], &r->peer, &t, program_ended, r);
	close(sv[1]);
	stream_init(&r->prog, sv[0], &stream_plain, &prog_events);
	if (r->child == NULL)
		return -1;
	if (fcntl(sv[0], F_SETFL, O_NONBLOCK) < 0 ||
	    stream_start(&r->prog) < 0) {
		log_msg(LOG_ERR, "%s: relay: %m", r->svc->name);
		return -1;
	}
	return 0;
}

/* Only a client whose handshake is done ever starts the program. */
static void
net_secured(struct stream *st, int how)
{
	struct relay *r = (struct relay *)st;
	struct service *s = r->svc;
	char peer[NET_PEERSTRLEN];

	if (!tls_handshake_end(
		st, how, s->stats, s->name, net_peer(&r->peer, "tcp", peer))) {
		relay_close(r, "TLS handshake failed");
		return;
	}
	if (s->conf->idle_timeout > 0)
		stream_idle_at(st, loop_now() + s->conf->idle_timeout);
	if (start_program(r) < 0) {
		relay_close(r, "cannot start");
		return;
	}
	/* what came with the client's Finished has no edge to come for it */
	relay_step(r);
}

static const struct stream_events net_events = {
    .io = net_io,
    .idle = net_idle,
    .lost = net_lost,
    .secured = net_secured,
};

/* An admitted client of exec service s behind TLS: its handshake first. */
void
relay_accept(struct service *s, int fd, const union net_addr *peer)
{
	struct relay *r = calloc(1, sizeof(*r));

	if (r == NULL) {
		close(fd);
		admit_refuse(&s->admit, "tcp", peer, "no memory");
		return;
	}
	stream_init(&r->net, fd, &stream_plain, &net_events);
	r->net.stats = s->stats;
	r->prog.io.fd = -1;
	r->svc = s;
	r->peer = *peer;
	r->started = loop_now();
	r->id = admit_new_id();
	LIST_INSERT_HEAD(&relays, r, all);
	admit_hold(&s->admit, peer, ADMIT_CLIENT);
	s->stats->accepted++;
	if (peer->sa.sa_family != AF_UNIX)
		net_nodelay(fd);
	if (tls_attach(&r->net, s->tls) < 0) {
		log_msg(LOG_ERR, "%s: no memory for a TLS session", s->name);
		relay_close(r, "no memory");
	} else if (stream_start(&r->net) < 0) {
		log_msg(LOG_ERR, "%s: epoll: %m", s->name);
		relay_close(r, "error");
	} else {
		stream_handshake(&r->net);
	}
}

/* superctl: each open relay in turn. */
void
relay_foreach(relay_visit_fn *fn, void *ud)
{
	struct relay *r;

	LIST_FOREACH(r, &relays, all)
	fn(r->id, r->svc, &r->peer, r->started, &r->net, ud);
}

/*
 * superctl kick: the relay of that id closes, *s and *peer say whose it
 * was; 0 when there is none.
 */
int
relay_kick(uint32_t id, const struct service **s, union net_addr *peer)
{
	struct relay *r;

	LIST_FOREACH(r, &relays, all)
	if (r->id == id) {
		*s = r->svc;
		*peer = r->peer;
		relay_close(r, "kicked");
		return 1;
	}
	return 0;
}

/* Shutdown: every relay closes; its program sees the end and goes. */
void
relay_end_all(void)
{
	while (!LIST_EMPTY(&relays))
		relay_close(LIST_FIRST(&relays), "shutdown");
}

/* Between two turns of the loop: no event names a closed relay now. */
void
relay_collect(void)
{
	struct relay *r;

	while ((r = LIST_FIRST(&dead)) != NULL) {
		LIST_REMOVE(r, all);
		free(r);
	}
}
