/*
 * stream.h - a byte stream on a descriptor: input and output buffers,
 * recv and send through its transport, the flush queue, the idle timer,
 * the PROXY header phase, an outbound connect.  Plain C: its owner hears
 * what happens through callbacks.
 */
#ifndef SUPERD_STREAM_H
#define SUPERD_STREAM_H

#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include "buf.h"
#include "loop.h"
#include "net.h"
#include "stats.h"

struct stream;

/* The transport: how bytes cross.  -1 with errno as recv(2) and send(2). */
struct stream_ops {
	ssize_t (*recv)(struct stream *st, void *p, size_t n);
	/* what recv would give, left where it is (the PROXY phase's) */
	ssize_t (*peek)(struct stream *st, void *p, size_t n);
	ssize_t (*send)(struct stream *st, const void *p, size_t n);
	int (*shutdown)(struct stream *st, int how); /* SHUT_RD, SHUT_WR */
	/* a step of the handshake: 1 done, 0 not yet, -1 failed (or NULL) */
	int (*handshake)(struct stream *st);
	void (*close)(struct stream *st); /* before the descriptor closes */
};

extern const struct stream_ops stream_plain; /* TCP, unix: recv, send */

/* How the PROXY phase ended, for the owner's header callback. */
#define STREAM_HEADER_OK 0
#define STREAM_HEADER_BAD 1  /* none, a bad one, or the peer left */
#define STREAM_HEADER_LATE 3 /* not all there within the time */

/* How the handshake ended, for the owner's secured callback. */
#define STREAM_SECURE_OK 0
#define STREAM_SECURE_BAD 1
#define STREAM_SECURE_LATE 3 /* not done within the time */

/* What the owner is told. */
struct stream_events {
	/* after the stream's part of an epoll event (0: the flush queue
	 * sent some of the output): wake readers, writers, close */
	void (*io)(struct stream *st, int events);
	/* the idle timer fired: the owner re-arms it or ends the stream */
	void (*idle)(struct stream *st);
	/* the PROXY header came (client NULL: it named none), or not */
	void (*header)(
	    struct stream *st, int how, const union net_addr *client);
	/* its unread input could not be kept: it has been dropped */
	void (*lost)(struct stream *st);
	/* the transport's handshake ended (STREAM_SECURE_*) */
	void (*secured)(struct stream *st, int how);
};

struct ssl_st;

#define SHUT_WR_NONE 0
#define SHUT_WR_QUEUED 1 /* once the queue has gone */
#define SHUT_WR_DONE 2

struct stream {
	struct loop_io io; /* first: the loop hands the stream back */
	const struct stream_ops *ops;
	const struct stream_events *ev;
	struct buf in, out;
	uint64_t bytes_in, bytes_out;
	struct service_stats *stats; /* the service's counters, or NULL */
	struct ssl_st *ssl;	     /* stream_tls's, or NULL */
	double active;		     /* the last traffic either way */
	double sent;		     /* the last send that took bytes */
	struct loop_timer idle;
	unsigned eof : 1;	  /* the input has ended */
	unsigned broken : 1;	  /* a send failed: nothing more leaves */
	unsigned reset : 1;	  /* the peer reset the connection */
	unsigned drained : 1;	  /* nothing to read until epoll says */
	unsigned hup : 1;	  /* epoll said the peer shut its side */
	unsigned shut_rd : 1;	  /* shutdown("r"): reads end */
	unsigned shut_wr : 2;	  /* SHUT_WR_* */
	unsigned proxy : 1;	  /* waiting for a PROXY header */
	unsigned handshaking : 1; /* the transport's handshake goes on */
	unsigned flushq_on : 1;
	TAILQ_ENTRY(stream) flushq;
};

void stream_init(struct stream *st, int fd, const struct stream_ops *ops,
    const struct stream_events *ev);
int stream_start(struct stream *st);
void stream_close(struct stream *st);
int stream_connect(const union net_addr *to, int *fd);

int stream_fill(struct stream *st);
int stream_flush(struct stream *st);
void stream_want_flush(struct stream *st);
void stream_flush_queue(void);
void stream_shutdown(struct stream *st, int rd, int wr);
void stream_free_input(struct stream *st);
void stream_idle_at(struct stream *st, double when);
/*
 * A client's connection's last log line, at info: "SERVICE: PEER TLS:
 * SECONDS, N bytes in, M bytes out, WHY".
 */
void stream_log_end(const struct stream *st, const char *service,
    const char *peer, const char *tls, double started, const char *why);
void stream_handshake(struct stream *st);

#define STREAM_PROXY_TIMEOUT 3.0 /* seconds for a PROXY header to arrive */

#endif
