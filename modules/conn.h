/*
 * conn.h - a client's connection as its script sees it: the stream, the
 * coroutines that run and wait on it, the log line, one teardown path.
 */
#ifndef SUPERD_CONN_H
#define SUPERD_CONN_H

#include <lua.h>
#include <stdint.h>
#include <sys/queue.h>

#include "loop.h"
#include "net.h"
#include "stream.h"
#include "task.h"

/* The socket userdata's metatables: a connection's, a datagram's. */
#define SOCKET_MT "superd.socket"
#define DATAGRAM_MT "superd.datagram"
/* The same metatables in the registry by address: no string lookup. */
extern const char conn_mt_keys[2];
#define SOCKET_KEY (&conn_mt_keys[0])
#define DATAGRAM_KEY (&conn_mt_keys[1])

struct service;

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
	WHY_TLS,
	WHY_KICKED,
};

#define CONN_REPORTED_R 0x1
#define CONN_REPORTED_W 0x2

/* Lives inside the socket userdata, so Lua may keep it after the close. */
struct conn {
	struct stream st; /* first: the stream's callbacks find the conn */
	struct service *svc;
	struct task *task;	/* running main, NULL once it ended */
	struct task *reader;	/* the task parked in a read */
	struct task *writer;	/* the task parked in a write or flush */
	struct task *owner;	/* superd.connect: the task that opened it */
	struct task *presser;	/* a writer slowed until this queue drains */
	struct task_hold owned; /* in owner's holds: closes with it */
	struct task_hold press; /* in presser's holds */
	union net_addr peer;
	int ref;     /* anchors the userdata while the descriptor is open */
	uint32_t id; /* superctl's name for it: 1 up, 0 for a datagram */
	uint8_t state, reported, why;
	/* bits, so that id costs no byte: struct conn is the hot path */
	unsigned skipping : 1, counted : 1, outbound : 1;
	double timeout;
	double started;
	struct loop_timer slow; /* armed while above the mark */
	double stalled;		/* above the mark since */
	LIST_ENTRY(conn) all;
};

#define CONN_HIGH_WATER 65536

struct conn *conn_new(lua_State *L, const void *mt_key);
int conn_accept(
    struct service *s, int fd, const union net_addr *peer, int proxied);
struct task *conn_spawn_main(lua_State *L, struct conn *c);
void conn_end(struct conn *c, enum conn_why why);
void conn_end_all(enum conn_why why);
int conn_connect(lua_State *L, struct conn *c, struct service *s,
    struct task *owner, const union net_addr *to);
void conn_shutdown(struct conn *c, int rd, int wr);
int conn_starttls(struct conn *c);
size_t conn_mark(const struct conn *c);
int conn_settle(struct conn *c, struct task *writer);

const char *conn_why_text(enum conn_why why);

/* superctl: every open connection in turn, or the one of that id. */
typedef void conn_visit_fn(struct conn *c, void *ud);
void conn_foreach(conn_visit_fn *fn, void *ud);
struct conn *conn_find(uint32_t id);

#endif
