/*
 * control.c - the control socket superctl speaks to: made by the user
 * superd starts as, mode 0600; each client's SO_PEERCRED checked; one
 * request line read into a bounded buffer within CONTROL_TIMEOUT; run
 * between two epoll rounds, since a command may close listeners whose
 * events the loop still holds; the reply sent; the connection closed.
 * A client that is slow, sends too much or sends nonsense loses its own
 * connection and nothing else.  Plain C: what a request does is the
 * handler's.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "control.h"
#include "listener.h"
#include "log.h"
#include "loop.h"
#include "net.h"
#include "stream.h"
#include "unixsock.h"

struct client {
	struct stream st;    /* first: the stream's callbacks find it */
	union net_addr peer; /* as SO_PEERCRED said */
	char *request;	     /* the line, once it has all come */
	int replied;	     /* closes once the reply has gone */
	int waiting;	     /* for control_answer */
	LIST_ENTRY(client) link;
};

static LIST_HEAD(, client) clients = LIST_HEAD_INITIALIZER(clients);
static int nclients;
static struct loop_io lio = {-1, 0, NULL};
static struct unixsock_id file;
static char *path;
static uid_t started_as;
static control_fn *handler;

/* Only from its own events, a timer or between rounds: it is freed. */
static void
client_close(struct client *c)
{
	stream_close(&c->st);
	LIST_REMOVE(c, link);
	nclients--;
	free(c->request);
	free(c);
}

static void
reply_queued(struct client *c)
{
	c->replied = 1;
	stream_idle_at(&c->st, loop_now() + CONTROL_TIMEOUT);
	stream_want_flush(&c->st);
}

/* A request that will not run: the reason logged and sent, then the end. */
static void
client_fail(struct client *c, const char *why)
{
	char peer[NET_PEERSTRLEN];

	log_msg(LOG_WARNING, "control: %s: %s", net_peer(&c->peer, NULL, peer),
	    why);
	stream_free_input(&c->st);
	buf_printf(&c->st.out, CONTROL_ERROR "\n%s\n", why);
	reply_queued(c);
}

static int
printable(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)p[i] < 0x20 || (unsigned char)p[i] > 0x7e)
			return 0;
	return 1;
}

/* The first n bytes of the input are the request, its line end with it. */
static void
take(struct client *c, size_t n)
{
	const char *p = buf_head(&c->st.in);

	if (n > 0 && p[n - 1] == '\n')
		n--;
	if (n > 0 && p[n - 1] == '\r')
		n--;
	if (!printable(p, n)) {
		client_fail(
		    c, "malformed request: not a line of printable text");
		return;
	}
	if ((c->request = malloc(n + 1)) == NULL) {
		client_fail(c, "out of memory");
		return;
	}
	memcpy(c->request, p, n);
	c->request[n] = '\0';
	stream_free_input(&c->st);
}

/* Reads until the line is in, the kernel has no more, or too much came. */
static void
client_read(struct client *c)
{
	size_t n;
	int rc;

	for (;;) {
		n = buf_line(&c->st.in, CONTROL_MAX);
		if (n == BUF_LINE_TOOLONG) {
			client_fail(c, "request longer than 65536 bytes");
			return;
		}
		if (n != BUF_LINE_NONE) {
			take(c, n);
			return;
		}
		if ((rc = stream_fill(&c->st)) == -1)
			return;
		if (rc == -2) {
			client_fail(c, "out of memory");
			return;
		}
		if (rc == 0 && buf_used(&c->st.in) == 0) {
			client_fail(c, "no request before the end");
			return;
		}
		if (rc == 0) { /* the last line needs no '\n' */
			take(c, buf_used(&c->st.in));
			return;
		}
	}
}

static void
client_io(struct stream *st, int events)
{
	struct client *c = (struct client *)st;

	if (c->replied && (buf_used(&st->out) == 0 || st->broken))
		client_close(c);
	else if (!c->replied && c->request == NULL && (events & LOOP_READ))
		client_read(c);
}

/* Its time is up, for the request or for reading the reply. */
static void
client_late(struct stream *st)
{
	struct client *c = (struct client *)st;
	char peer[NET_PEERSTRLEN];

	log_msg(LOG_WARNING, "control: %s: timed out %s",
	    net_peer(&c->peer, NULL, peer),
	    c->replied ? "reading the reply" : "sending the request");
	client_close(c);
}

/* Told from inside another stream's read: it may not be freed there. */
static void
client_lost(struct stream *st)
{
	client_fail((struct client *)st, "out of memory");
}

static const struct stream_events client_events = {
    .io = client_io, .idle = client_late, .lost = client_lost};

/* Root, the user superd started as, and the one it serves as. */
static int
allowed(uid_t uid)
{
	return uid == 0 || uid == started_as || uid == geteuid();
}

static void
refuse(int fd, const union net_addr *peer, const char *why)
{
	char text[128], who[NET_PEERSTRLEN];
	int n;

	log_msg(LOG_WARNING, "control: %s: refused: %s",
	    net_peer(peer, NULL, who), why);
	n = snprintf(text, sizeof(text), CONTROL_ERROR "\nrefused: %s\n", why);
	if (send(fd, text, n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		log_msg(LOG_DEBUG, "control: %s: %m", who);
	close(fd);
}

static void
admit(int fd, const union net_addr *peer)
{
	struct client *c;

	if (!allowed(peer->un.uid)) {
		refuse(fd, peer, "not root nor superd's user");
		return;
	}
	if (nclients >= CONTROL_CLIENTS) {
		refuse(fd, peer, "too many control connections");
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		refuse(fd, peer, "out of memory");
		return;
	}
	stream_init(&c->st, fd, &stream_plain, &client_events);
	c->peer = *peer;
	LIST_INSERT_HEAD(&clients, c, link);
	nclients++;
	stream_idle_at(&c->st, loop_now() + CONTROL_TIMEOUT);
	if (stream_start(&c->st) < 0) {
		log_msg(LOG_ERR, "control: epoll: %m");
		client_close(c);
	}
}

static void
accept_io(struct loop_io *io, int events)
{
	union net_addr peer;
	int i, fd;

	(void)events;
	for (i = 0; i < CONTROL_CLIENTS; i++) {
		if ((fd = net_accept(io->fd, &peer)) >= 0) {
			admit(fd, &peer);
			continue;
		}
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
		    errno != ECONNABORTED)
			log_msg(LOG_ERR, "control: accept: %m");
		return;
	}
}

static void
reply(struct client *c, int rc, const struct buf *body)
{
	if (buf_printf(
		&c->st.out, "%s\n", rc == 0 ? CONTROL_OK : CONTROL_ERROR) < 0 ||
	    buf_append(&c->st.out, buf_head(body), buf_used(body)) < 0) {
		buf_free(&c->st.out);
		buf_printf(&c->st.out, CONTROL_ERROR "\nout of memory\n");
	}
	reply_queued(c);
}

/* A failed request's first line of reply, for the log. */
static void
log_failure(const char *peer, const char *request, const struct buf *body)
{
	const char *text = buf_used(body) ? buf_head(body) : "";
	const char *nl = memchr(text, '\n', buf_used(body));
	int n = nl ? (int)(nl - text) : (int)buf_used(body);

	log_msg(LOG_NOTICE, "control: %s: %s: %.*s", peer, request, n, text);
}

/* Between two epoll rounds: each request that has come runs. */
void
control_run(void)
{
	char peer[NET_PEERSTRLEN];
	struct buf body = {0};
	struct client *c;
	int rc;

	LIST_FOREACH(c, &clients, link)
	{
		if (c->request == NULL || c->replied || c->waiting)
			continue;
		net_peer(&c->peer, NULL, peer);
		log_msg(LOG_INFO, "control: %s: %s", peer, c->request);
		rc = handler(c->request, &body);
		if (rc < 0)
			log_failure(peer, c->request, &body);
		if (rc == CONTROL_LATER) {
			c->waiting = 1;
			stream_idle_at(
			    &c->st, loop_now() + CONTROL_LATER_TIMEOUT);
		} else {
			reply(c, rc, &body);
		}
		buf_free(&body);
	}
}

/* The reply to every request that waits for it. */
void
control_answer(int rc, const struct buf *body)
{
	struct client *c;

	LIST_FOREACH(c, &clients, link)
	if (c->waiting) {
		c->waiting = 0;
		reply(c, rc, body);
	}
}

/* A predecessor's socket, handed on at an upgrade: its file is ours. */
static void
own_file(int fd)
{
	struct stat sb;

	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	if (stat(path, &sb) == 0 && S_ISSOCK(sb.st_mode)) {
		file.dev = sb.st_dev;
		file.ino = sb.st_ino;
	}
}

/*
 * The socket at path (a crashed run's replaced; a predecessor's taken
 * over) while superd may still
 * be root, for fn to serve; 0, or -1 with the error in err.
 */
int
control_open(const char *at, control_fn *fn, char *err, size_t len)
{
	struct unixsock_attr attr = {0600, (uid_t)-1, (gid_t)-1};
	int fd;

	if ((path = strdup(at)) == NULL) {
		snprintf(err, len, "out of memory");
		return -1;
	}
	if ((fd = listeners_take_inherited(path)) >= 0)
		own_file(fd);
	else if ((fd = unixsock_listen(
		      path, SOCK_STREAM, &attr, &file, err, len)) < 0)
		goto fail;
	if (loop_add(&lio, fd, LOOP_READ, accept_io) < 0) {
		snprintf(err, len, "epoll: %s", strerror(errno));
		close(fd);
		unixsock_remove(path, &file);
		goto fail;
	}
	started_as = getuid();
	handler = fn;
	return 0;
fail:
	free(path);
	path = NULL;
	return -1;
}

/* The listening socket, for an upgrade's successor: -1 when none. */
int
control_fd(void)
{
	return lio.fd;
}

/*
 * A successor has the socket: this process accepts no more on it (its
 * clients still get their replies), and its file is not ours to remove.
 */
void
control_disown(void)
{
	file.ino = 0;
	if (lio.fd < 0)
		return;
	loop_del(&lio);
	close(lio.fd);
	lio.fd = -1;
}

/* Where the socket is, or NULL when there is none. */
const char *
control_path(void)
{
	return path;
}

/* At the end: its clients dropped, its file removed. */
void
control_close(void)
{
	struct client *c;

	while ((c = LIST_FIRST(&clients)) != NULL)
		client_close(c);
	if (lio.fd >= 0) {
		loop_del(&lio);
		close(lio.fd);
		lio.fd = -1;
	}
	if (path != NULL && unixsock_remove(path, &file) < 0)
		log_msg(LOG_WARNING, "cannot remove %s: %m", path);
	free(path);
	path = NULL;
}
