/* conn.h - a TCP connection: buffers, flushing, one teardown path. */
#ifndef SUPERD_CONN_H
#define SUPERD_CONN_H

#include <lua.h>
#include <stdint.h>
#include <sys/queue.h>

#include "buf.h"
#include "loop.h"
#include "net.h"

struct service;
struct task;

#define CONN_OPEN 0	/* Lua may use it */
#define CONN_DRAINING 1 /* main has ended; output still leaving */
#define CONN_CLOSED 2	/* descriptor closed */

/* Why a connection ended, for the log line. */
enum conn_why {
	WHY_NONE,
	WHY_PEER,
	WHY_SCRIPT,
	WHY_ERROR,
	WHY_TIMEOUT,
	WHY_SLOW,
	WHY_SHUTDOWN,
	WHY_RESET,
	WHY_NOPROXY,
	WHY_REFUSED,
	WHY_CONNECT,
};

#define SHUT_WR_NONE 0
#define SHUT_WR_QUEUED 1 /* once the queue has gone */
#define SHUT_WR_DONE 2

#define CONN_REPORTED_R 0x1
#define CONN_REPORTED_W 0x2

/* Lives inside the socket userdata, so Lua may keep it after the close. */
struct conn {
	struct loop_io io;
	struct service *svc;
	struct task *task;    /* running main, NULL once it ended */
	struct task *reader;  /* the task parked in a read */
	struct task *writer;  /* the task parked in a write or flush */
	struct task *owner;   /* superd.connect: the task that opened it */
	struct task *presser; /* a writer slowed until this queue drains */
	struct buf in, out;
	union net_addr peer;
	int ref; /* anchors the userdata while the descriptor is open */
	uint8_t state, reported, why, eof, broken, skipping, flushq_on, udp;
	uint8_t proxy_pending, counted, outbound;
	uint8_t drained; /* the kernel has nothing to read until epoll says */
	uint8_t hup;	 /* epoll said the peer shut its side */
	uint8_t shut_rd; /* shutdown("r"): reads end */
	uint8_t shut_wr; /* shutdown("w"): SHUT_WR_* */
	double timeout;
	double started, active;
	struct loop_timer idle;
	struct loop_timer slow; /* armed while above the mark */
	double stalled;		/* above the mark since, or sent last */
	uint64_t bytes_in, bytes_out;
	TAILQ_ENTRY(conn) flushq;
	LIST_ENTRY(conn) all;
};

#define CONN_HIGH_WATER 65536
#define PROXY_TIMEOUT 3.0 /* seconds for a PROXY header to arrive */

int conn_accept(
    struct service *s, int fd, const union net_addr *peer, int proxied);
void conn_init(
    struct conn *c, struct service *s, int fd, const union net_addr *peer);
struct task *conn_spawn_main(lua_State *L, struct conn *c);
void conn_end(struct conn *c, enum conn_why why);
int conn_flush(struct conn *c);
void conn_want_flush(struct conn *c);
int conn_flush_queue(void);
long conn_count(void);
long conn_outbound(void);
void conn_end_all(enum conn_why why);
int conn_connect(lua_State *L, struct conn *c, struct service *s,
    struct task *owner, const union net_addr *to);
void conn_end_owned(struct task *owner);
void conn_shutdown(struct conn *c, int rd, int wr);
size_t conn_mark(const struct conn *c);
int conn_settle(struct conn *c, struct task *writer);
void conn_unpress_all(struct task *writer);

const char *conn_why_text(enum conn_why why);

#endif
