/* listener.h - listening sockets: bound, taken over, the accept loop. */
#ifndef SUPERD_LISTENER_H
#define SUPERD_LISTENER_H

#include <stddef.h>
#include <sys/queue.h>

#include "conf.h"
#include "loop.h"
#include "net.h"
#include "unixsock.h"

/* TCP: fd is a connection accepted from peer, now the owner's. */
typedef void listener_accept_fn(
    void *owner, int fd, const union net_addr *peer);
/* UDP: the socket is about to close; what it started can no longer reply. */
typedef void listener_closing_fn(int fd);

/*
 * What a listener's owner does with what arrives.  An owner without an
 * accept function (a wait service) is told of a readable TCP socket as
 * of a UDP one, and takes it whole.
 */
struct listener_ops {
	listener_accept_fn *accept;   /* TCP */
	loop_io_fn *readable;	      /* UDP: called with the listener's io */
	listener_closing_fn *closing; /* UDP */
};

struct listener {
	struct loop_io io; /* first: a loop_io is its listener */
	const struct listener_ops *ops;
	void *owner;	  /* handed to ops->accept */
	const char *name; /* the owner's, for the log */
	int proto;	  /* CONF_TCP or CONF_UDP */
	char *addr;	  /* or a unix socket's path, with port 0 */
	int port;
	struct unixsock_attr attr; /* a unix socket's file: as it should be */
	struct unixsock_id file;   /* and which it is, when superd made it */
	int claimed;		   /* a reload hands its socket on */
	int shared; /* a master's, for its workers: its file the master's */
	int held;   /* a program has the socket: not watched */
	struct loop_timer release; /* held until then (a paused service) */
	union net_addr local;	   /* as bound */
	struct listener *from; /* while prepared: the listener it takes over */
	struct listener *next; /* the owner's list */
	LIST_ENTRY(listener) live; /* while attached */
};

int listeners_prepare(
    const struct svc_conf *v, struct listener **out, char *err, size_t len);
void listeners_abort(struct listener *l);
void listeners_attach(struct listener *list, void *owner, const char *name,
    const struct listener_ops *ops);
void listeners_close(struct listener **list);
int listeners_is_own_udp(const union net_addr *peer);
void listener_hold(struct listener *l);
void listener_release_at(struct listener *l, double when);
void listener_release_fd(int fd);

int listeners_adopt_inherited(int own_files);
int listeners_claim_inherited(const char *addr, int port, int proto);
void listeners_drop_inherited(int keep);
void listeners_keep(struct listener *list);
void listeners_close_kept(void);
int listeners_take_inherited(const char *path);
int listeners_fds(int *fds, int max);
void listeners_disown(void);

#endif
