/*
 * listener.c - a service's listening sockets: bound or taken over from a
 * running service or from systemd, the bounded accept loop, and the pause
 * when descriptors run out.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acl.h"
#include "listener.h"
#include "log.h"
#include "net.h"
#include "unixsock.h"

/* Every attached listener, whoever owns it. */
static LIST_HEAD(, listener) live = LIST_HEAD_INITIALIZER(live);

static void
listeners_mask(int mask)
{
	struct listener *l;

	LIST_FOREACH(l, &live, live)
	if (l->proto == CONF_TCP && !l->held)
		loop_mod(&l->io, mask);
}

static void
accept_resume(struct loop_timer *t)
{
	(void)t;
	listeners_mask(LOOP_READ);
}

static struct loop_timer accept_timer = {0, -1, accept_resume, NULL};

/*
 * Out of descriptors: the pending connection stays in the kernel's queue,
 * so a level-triggered listener would wake us at once, forever.  Stop
 * polling the listeners for a moment instead.
 */
static void
accept_pause(void)
{
	static double last_log;

	if (loop_now() - last_log > 60) {
		log_msg(LOG_WARNING, "out of file descriptors: not accepting "
				     "for a moment (%m)");
		last_log = loop_now();
	}
	listeners_mask(0);
	loop_timer_set(&accept_timer, loop_now() + 0.25);
}

static void
listener_io(struct loop_io *io, int events)
{
	struct listener *l = (struct listener *)io;
	union net_addr peer;
	int i, fd;

	(void)events;
	/* Bounded, so one busy port cannot starve the others. */
	for (i = 0; i < 64; i++) {
		fd = net_accept(io->fd, &peer);
		if (fd >= 0) {
			l->ops->accept(l->owner, fd, &peer);
			continue;
		}
		if (errno == EMFILE || errno == ENFILE)
			accept_pause();
		else if (errno != EAGAIN && errno != EWOULDBLOCK &&
			 errno != EINTR && errno != ECONNABORTED)
			log_msg(LOG_ERR, "%s: accept: %m", l->name);
		break;
	}
}

static void release_fired(struct loop_timer *t);

static struct listener *
listener_new(const char *addr, int port, int proto, int fd)
{
	struct listener *l = calloc(1, sizeof(*l));

	if (l == NULL || (l->addr = strdup(addr)) == NULL) {
		free(l);
		return NULL;
	}
	loop_timer_init(&l->release, release_fired);
	l->io.fd = fd;
	l->proto = proto;
	l->port = port;
	net_local(fd, &l->local);
	return l;
}

static void listener_unlink(const struct listener *l);

/*
 * Sockets handed over by systemd or a predecessor, until a service takes
 * them; and a master's own, kept for its workers.
 */
static struct listener *inherited;

static int
listener_fits(const struct listener *l, const char *addr, int port, int proto)
{
	return !l->claimed && l->port == port && l->proto == proto &&
	       strcmp(l->addr, addr) == 0;
}

/*
 * An open listener of a running service, or one systemd passed, that
 * fits: it is kept as is rather than bound again.
 */
static struct listener *
listener_find(const char *addr, int port, int proto)
{
	char buf[NET_ADDRSTRLEN];
	const char *canon = inherited ? net_canon(addr, buf) : addr;
	struct listener *l;

	for (l = inherited; l; l = l->next)
		if (listener_fits(l, canon, port, proto))
			return l;
	LIST_FOREACH(l, &live, live)
	if (listener_fits(l, addr, port, proto))
		return l;
	return NULL;
}

/* An inherited socket as a service names it: address and port, or path. */
static int
inherited_name(int fd, char *addr, size_t len, int *port)
{
	union net_addr a;

	if (net_local(fd, &a) < 0)
		return -1;
	if (a.sa.sa_family == AF_UNIX) {
		*port = 0;
		return unixsock_path(fd, addr, len);
	}
	return net_ntop(&a, addr, port) == NULL ? -1 : 0;
}

/* A predecessor's unix socket: its file is the successor's to remove. */
static void
own_file(struct listener *l)
{
	struct stat sb;

	if (l->port == 0 && stat(l->addr, &sb) == 0 && S_ISSOCK(sb.st_mode)) {
		l->file.dev = sb.st_dev;
		l->file.ino = sb.st_ino;
	}
}

/*
 * Socket activation (sd_listen_fds(3)): descriptors 3 and up, when
 * LISTEN_PID is ours.  Each is matched to a service by address, port
 * and protocol (a unix socket by its path) when the services start.
 * From a predecessor superd (own_files), the unix sockets' files are
 * superd's own, removed when their services end.  -1 when there was no
 * memory to keep one.
 */
int
listeners_adopt_inherited(int own_files)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	char addr[128]; /* an address, or a path of up to 107 bytes */
	int i, n, fd, type, port;
	socklen_t len = sizeof(type);
	struct listener *l;

	if (pid == NULL || fds == NULL || atol(pid) != (long)getpid())
		return 0;
	n = atoi(fds);
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	for (i = 0; i < n; i++) {
		fd = 3 + i;
		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 ||
		    inherited_name(fd, addr, sizeof(addr), &port) < 0) {
			log_msg(LOG_ERR,
			    "inherited descriptor %d is not a "
			    "socket superd can use",
			    fd);
			continue;
		}
		fcntl(fd, F_SETFD, FD_CLOEXEC);
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		l = listener_new(
		    addr, port, type == SOCK_STREAM ? CONF_TCP : CONF_UDP, fd);
		if (l == NULL)
			return -1;
		if (own_files)
			own_file(l);
		l->next = inherited;
		inherited = l;
	}
	return n;
}

/*
 * The master's claim on an inherited socket for addr, port and proto, so
 * that it binds no socket of its own there; 1 when there is one.
 */
int
listeners_claim_inherited(const char *addr, int port, int proto)
{
	struct listener *l = listener_find(addr, port, proto);

	if (l != NULL)
		l->claimed = 1;
	return l != NULL;
}

/*
 * The inherited stream socket at a unix path, taken off the list (the
 * control socket a predecessor handed on): its descriptor, or -1.
 */
int
listeners_take_inherited(const char *path)
{
	struct listener *l, **pl;
	int fd;

	for (pl = &inherited; (l = *pl) != NULL; pl = &l->next)
		if (l->port == 0 && l->proto == CONF_TCP && !l->claimed &&
		    strcmp(l->addr, path) == 0)
			break;
	if (l == NULL)
		return -1;
	*pl = l->next;
	fd = l->io.fd;
	free(l->addr);
	free(l);
	return fd;
}

/*
 * After start-up: an inherited socket no service took is an error.  A
 * worker takes the rest over and forgets the list; the master (keep)
 * holds them open for the workers it starts, each to claim them anew.
 */
void
listeners_drop_inherited(int keep)
{
	struct listener *l, **pl = &inherited;

	while ((l = *pl) != NULL) {
		if (!l->claimed && l->shared)
			listener_unlink(l); /* a service gone since */
		else if (!l->claimed && l->port == 0)
			log_msg(LOG_ERR,
			    "inherited socket %s matches no service; closed",
			    l->addr);
		else if (!l->claimed)
			log_msg(LOG_ERR,
			    "inherited socket %s port %d/%s "
			    "matches no service; closed",
			    l->addr, l->port,
			    l->proto == CONF_TCP ? "tcp" : "udp");
		if (keep && l->claimed) {
			l->claimed = 0;
			pl = &l->next;
			continue;
		}
		if (!l->claimed)
			close(l->io.fd);
		*pl = l->next;
		free(l->addr);
		free(l);
	}
}

/* A new socket: on a port of addr, or v's unix socket, its file made. */
static int
listener_open(const struct svc_conf *v, const char *addr, int proto,
    struct unixsock_id *file, char *err, size_t len)
{
	int type = proto == CONF_TCP ? SOCK_STREAM : SOCK_DGRAM;

	if (v->path != NULL)
		return unixsock_listen(v->path, type, &v->sock, file, err, len);
	return net_listen(addr, v->port, type, err, len);
}

/*
 * An upgrade's: the descriptor of every socket superd listens on, and of
 * those a master keeps for its workers; how many, up to max.
 */
int
listeners_fds(int *fds, int max)
{
	struct listener *l;
	int n = 0;

	LIST_FOREACH(l, &live, live)
	if (n < max)
		fds[n++] = l->io.fd;
	for (l = inherited; l != NULL; l = l->next)
		if (n < max)
			fds[n++] = l->io.fd;
	return n;
}

/* A successor has the sockets: their files are no longer ours to remove. */
void
listeners_disown(void)
{
	struct listener *l;

	LIST_FOREACH(l, &live, live)
	l->file.ino = 0;
	for (l = inherited; l != NULL; l = l->next)
		l->file.ino = 0;
}

/* A unix socket's file goes with the socket superd made it for. */
static void
listener_unlink(const struct listener *l)
{
	if (l->file.ino != 0 && unixsock_remove(l->addr, &l->file) < 0)
		log_msg(LOG_WARNING, "cannot remove %s: %m", l->addr);
}

static int
listener_add(const struct svc_conf *v, const char *addr, int proto,
    struct listener **list, char *err, size_t len)
{
	int port = v->path != NULL ? 0 : v->port, fd;
	struct listener *old = listener_find(addr, port, proto), *l;
	struct unixsock_id file = {0, 0};

	if (old != NULL) {
		old->claimed = 1;
		fd = old->io.fd;
		if (!old->shared) /* a master's socket's file is the master's */
			file = old->file;
	} else if ((fd = listener_open(v, addr, proto, &file, err, len)) < 0) {
		return -1;
	}
	if ((l = listener_new(addr, port, proto, fd)) == NULL) {
		if (old != NULL) {
			old->claimed = 0;
		} else {
			close(fd);
			unixsock_remove(addr, &file);
		}
		snprintf(err, len, "out of memory");
		return -1;
	}
	l->attr = v->sock;
	l->file = file;
	l->from = old;
	if (old != NULL && old->held) {
		/* its program still runs, or its pause has not ended */
		l->held = 1;
		if (loop_timer_armed(&old->release))
			loop_timer_set(&l->release, old->release.when);
	}
	l->next = *list;
	*list = l;
	return 0;
}

/*
 * The listeners v asks for, reusing the open socket of any running
 * service that matches: a reload never re-creates a listening socket.
 */
int
listeners_prepare(
    const struct svc_conf *v, struct listener **out, char *err, size_t len)
{
	int i;

	*out = NULL;
	if (v->path != NULL)
		return listener_add(v, v->path,
		    (v->protos & CONF_UDP) ? CONF_UDP : CONF_TCP, out, err,
		    len);
	for (i = 0; i < v->naddrs; i++) {
		if ((v->protos & CONF_TCP) &&
		    listener_add(v, v->addrs[i], CONF_TCP, out, err, len) < 0)
			return -1;
		if ((v->protos & CONF_UDP) &&
		    listener_add(v, v->addrs[i], CONF_UDP, out, err, len) < 0)
			return -1;
	}
	return 0;
}

/*
 * A master's, after listeners_prepare: the sockets kept open for the
 * workers to share (each claims them as inherited ones, so that an
 * upgrade can hand the very sockets on), their files the master's.
 */
void
listeners_keep(struct listener *l)
{
	char buf[NET_ADDRSTRLEN], *canon;
	struct listener *next;

	for (; l; l = next) {
		next = l->next;
		if (l->from) {
			l->from->claimed = 0;
			l->from->shared = 1;
			free(l->addr);
			free(l);
			continue;
		}
		/* found again as an inherited socket is: by canonical name */
		if (l->port != 0 &&
		    (canon = strdup(net_canon(l->addr, buf))) != NULL) {
			free(l->addr);
			l->addr = canon;
		}
		l->shared = 1;
		l->claimed = 0;
		l->next = inherited;
		inherited = l;
	}
}

/* A master's end: what it kept closed, the files it made removed. */
void
listeners_close_kept(void)
{
	struct listener *l;

	while ((l = inherited) != NULL) {
		inherited = l->next;
		close(l->io.fd);
		if (l->shared)
			listener_unlink(l);
		free(l->addr);
		free(l);
	}
}

/* Undoes listeners_prepare: new sockets closed, old ones unclaimed. */
void
listeners_abort(struct listener *l)
{
	struct listener *next;

	for (; l; l = next) {
		next = l->next;
		if (l->from) {
			l->from->claimed = 0;
		} else {
			close(l->io.fd);
			listener_unlink(l);
		}
		free(l->addr);
		free(l);
	}
}

static void
listener_free(struct listener *l)
{
	loop_del(&l->io);
	loop_timer_cancel(&l->release);
	LIST_REMOVE(l, live);
	if (!l->claimed && l->ops->closing)
		l->ops->closing(l->io.fd);
	if (!l->claimed) {
		close(l->io.fd);
		listener_unlink(l);
	}
	free(l->addr);
	free(l);
}

static int
watch(struct listener *l)
{
	return loop_add(&l->io, l->io.fd, LOOP_READ, l->io.fn);
}

/* Prepared listeners start serving their owner. */
void
listeners_attach(struct listener *list, void *owner, const char *name,
    const struct listener_ops *ops)
{
	struct listener *l;

	for (l = list; l; l = l->next) {
		l->owner = owner;
		l->name = name;
		l->ops = ops;
		/* a reload may have changed the mode or owner of the file */
		if (l->from != NULL && l->file.ino != 0 &&
		    unixsock_apply(l->addr, &l->attr, &l->file) < 0)
			log_msg(LOG_WARNING,
			    "%s: %s: mode and owner not set: %m", name,
			    l->addr);
		l->from = NULL;
		LIST_INSERT_HEAD(&live, l, live);
		l->io.fn = l->proto == CONF_TCP && ops->accept ? listener_io
							       : ops->readable;
		if (!l->held && watch(l) < 0)
			log_msg(LOG_ERR, "%s: epoll: %m", name);
	}
}

/* Each closed, but for a socket a reload has handed on. */
void
listeners_close(struct listener **list)
{
	struct listener *l;

	while ((l = *list) != NULL) {
		*list = l->next;
		listener_free(l);
	}
}

/* A source that is one of our own UDP ports would loop a reply back. */
int
listeners_is_own_udp(const union net_addr *peer)
{
	struct listener *l;
	uint8_t a[16], b[16];

	acl_key(peer, a);
	LIST_FOREACH(l, &live, live)
	{
		if (l->proto != CONF_UDP ||
		    net_port(&l->local) != net_port(peer))
			continue;
		acl_key(&l->local, b);
		if (memcmp(a, b, 16) == 0 || net_is_any(&l->local))
			return 1;
	}
	return 0;
}

/* A wait service's program has the socket: superd stops watching it. */
void
listener_hold(struct listener *l)
{
	l->held = 1;
	loop_del(&l->io);
}

/*
 * Watched again: non-blocking once more (the program shares the open file
 * and may have cleared the flag), and its owner told of what is pending.
 */
static void
release(struct listener *l)
{
	int fl = fcntl(l->io.fd, F_GETFL);

	if (fl >= 0 && !(fl & O_NONBLOCK))
		fcntl(l->io.fd, F_SETFL, fl | O_NONBLOCK);
	l->held = 0;
	loop_timer_cancel(&l->release);
	if (watch(l) < 0)
		log_msg(LOG_ERR, "%s: epoll: %m", l->name);
}

#define listener_of_release(t) \
	((struct listener *)((char *)(t)-offsetof(struct listener, release)))

static void
release_fired(struct loop_timer *t)
{
	release(listener_of_release(t));
}

/* Held until when: a service paused for starting its program too often. */
void
listener_release_at(struct listener *l, double when)
{
	loop_timer_set(&l->release, when);
}

/*
 * The program that had socket fd has exited: its listener, if a reload
 * kept it, is watched again.  A listener since closed is not found.
 */
void
listener_release_fd(int fd)
{
	struct listener *l;

	LIST_FOREACH(l, &live, live)
	if (l->io.fd == fd && l->held && !loop_timer_armed(&l->release)) {
		release(l);
		return;
	}
}
