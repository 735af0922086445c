/*
 * spawner.c - privilege separation for exec services, as OpenBSD's
 * daemons split theirs: forked while superd is still root, before any
 * port is bound or any Lua state made, the spawner keeps root and does
 * nothing but start, signal and reap the programs of the configured exec
 * services.  The event loop, which gives root up, sends it a request and
 * the client's descriptor (SCM_RIGHTS) over a socket pair; a request that
 * does not name an exec service of the spawner's own configuration is
 * refused, and a signal goes only to a program it started.  It also
 * removes, for the event loop, the file of a unix socket that the loop
 * made while it was root, in a directory only root may write; and opens,
 * for a SIGHUP's renewal, a certificate or key file of a TLS service
 * that only root may read, handing the loop the open descriptor.  And, for
 * a binary upgrade, it starts superd's own binary anew (reexec.c) as root
 * with the listening sockets the loop hands it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "conftls.h"
#include "devnull.h"
#include "log.h"
#include "loop.h"
#include "reexec.h"
#include "spawner.h"
#include "tlspem.h"

enum {
	SP_EXEC = 1,
	SP_KILL,
	SP_RELOAD,
	SP_STARTED,
	SP_EXITED,
	SP_UNLINK,
	SP_OPEN,
	SP_OPENED,
	SP_PASS,      /* a descriptor for the upgrade: status says which */
	SP_UPGRADE,   /* the pipe to the successor: start it */
	SP_UPGRADING, /* the answer: pid 0, or -errno */
};

#define SP_PASS_SOCKET (-1) /* else a standard descriptor, 0 to 2 */

struct sp_msg {
	int type;
	pid_t pid;     /* STARTED, OPENED (-errno when refused), EXITED, KILL */
	int status;    /* EXITED: waitpid's; KILL: the signal */
	int listening; /* EXEC: the descriptor is a listening socket */
	int relayed;   /* EXEC: superd's TLS relay, tls says what it agreed */
	union net_addr peer;
	struct child_tls tls;
	char service[64];
	char path[PATH_MAX];	 /* UNLINK: a unix socket's; OPEN: a TLS file */
	struct unixsock_id file; /* UNLINK: the one the loop made */
};

static int sock = -1;	   /* the event loop's end */
static struct loop_io sio; /* its watch, for EXITED */
static spawner_exit_fn *exit_fn;

/* One message, with a descriptor when fd is not -1. */
static int
send_msg(int s, const struct sp_msg *m, int fd)
{
	char ctl[CMSG_SPACE(sizeof(int))] = {0};
	struct iovec iov = {(void *)m, sizeof(*m)};
	struct msghdr h = {.msg_iov = &iov, .msg_iovlen = 1};
	struct cmsghdr *cm;

	if (fd >= 0) {
		h.msg_control = ctl;
		h.msg_controllen = sizeof(ctl);
		cm = CMSG_FIRSTHDR(&h);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	while (sendmsg(s, &h, MSG_NOSIGNAL) < 0)
		if (errno != EINTR)
			return -1;
	return 0;
}

/* One message and its descriptor (*fd, else -1): 1, 0 at EOF, or -1. */
static int
recv_msg(int s, struct sp_msg *m, int *fd, int flags)
{
	char ctl[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {m, sizeof(*m)};
	struct msghdr h = {.msg_iov = &iov,
	    .msg_iovlen = 1,
	    .msg_control = ctl,
	    .msg_controllen = sizeof(ctl)};
	struct cmsghdr *cm;
	ssize_t n;

	while ((n = recvmsg(s, &h, flags | MSG_CMSG_CLOEXEC)) < 0)
		if (errno != EINTR)
			return -1;
	if (n == 0)
		return 0;
	*fd = -1;
	cm = CMSG_FIRSTHDR(&h);
	if (cm != NULL && cm->cmsg_type == SCM_RIGHTS)
		memcpy(fd, CMSG_DATA(cm), sizeof(int));
	if (n != sizeof(*m)) {
		if (*fd >= 0)
			close(*fd);
		errno = EPROTO;
		return -1;
	}
	return 1;
}

/* ---- the spawner's side: root, a table of its children ---- */

struct spawner {
	int sock, sigfd;
	struct conf *c;
	spawner_run_fn *run;
	pid_t *kids;
	int nkids, capkids;
	char *control; /* the control socket start made: SIGHUP keeps it */
	int passed[REEXEC_MAX_FDS]; /* SP_PASS's sockets, till SP_UPGRADE */
	int npassed;
	int stdio[3];
};

static const struct svc_conf *
exec_service(const struct conf *c, const char *name)
{
	int i;

	for (i = 0; i < c->nsvcs; i++)
		if (c->svcs[i].exec != NULL &&
		    strcmp(c->svcs[i].name, name) == 0)
			return &c->svcs[i];
	return NULL;
}

static int
kid_index(const struct spawner *sp, pid_t pid)
{
	int i;

	for (i = 0; i < sp->nkids; i++)
		if (sp->kids[i] == pid)
			return i;
	return -1;
}

static int
kid_add(struct spawner *sp, pid_t pid)
{
	pid_t *k;

	if (sp->nkids == sp->capkids) {
		k = realloc(sp->kids, (sp->capkids * 2 + 16) * sizeof(*k));
		if (k == NULL)
			return -1;
		sp->kids = k;
		sp->capkids = sp->capkids * 2 + 16;
	}
	sp->kids[sp->nkids++] = pid;
	return 0;
}

/* The program's process: signals as a program expects them. */
static void
start_child(struct spawner *sp, const struct svc_conf *v, int fd,
    const struct sp_msg *m)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGCHLD};
	size_t i;

	close(sp->sock);
	close(sp->sigfd);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], SIG_DFL);
	sp->run(sp->c, v, fd, m->listening ? NULL : &m->peer,
	    m->relayed ? &m->tls : NULL);
	_exit(127);
}

static void
do_exec(struct spawner *sp, struct sp_msg *m, int fd)
{
	const struct svc_conf *v;
	pid_t pid;

	m->service[sizeof(m->service) - 1] = '\0';
	m->type = SP_STARTED;
	if (fd < 0 || (v = exec_service(sp->c, m->service)) == NULL) {
		m->pid = -EPERM;
	} else if ((pid = fork()) == 0) {
		start_child(sp, v, fd, m);
	} else if (pid < 0 || kid_add(sp, pid) < 0) {
		m->pid = -(pid < 0 ? errno : ENOMEM);
		if (pid > 0)
			kill(pid, SIGKILL);
	} else {
		m->pid = pid;
	}
	if (fd >= 0)
		close(fd);
	send_msg(sp->sock, m, -1);
}

/*
 * Only a program it started, or all of them (pid 0).  One program leads
 * a process group of its own (child.c), and what it started goes with it.
 */
static void
do_kill(struct spawner *sp, const struct sp_msg *m)
{
	int i;

	if (m->pid == 0) {
		for (i = 0; i < sp->nkids; i++)
			kill(sp->kids[i], m->status);
	} else if (kid_index(sp, m->pid) >= 0 && kill(-m->pid, m->status) < 0) {
		kill(m->pid, m->status);
	}
}

/* SIGHUP: its own reading of the file the event loop has just taken. */
static void
do_reload(struct spawner *sp)
{
	char err[CONF_ERRLEN];
	struct conf *c = conf_load(sp->c->path, err, sizeof(err));

	if (c == NULL)
		return;
	conf_free(sp->c);
	sp->c = c;
}

/*
 * Only the path of a unix socket of its configuration (or the control
 * socket), and only the socket file the loop made there: the loop asks
 * before it reloads the spawner, so a service a SIGHUP removes is still
 * in that configuration.
 */
static void
do_unlink(struct spawner *sp, struct sp_msg *m)
{
	int i;

	m->path[sizeof(m->path) - 1] = '\0';
	if (sp->control != NULL && strcmp(sp->control, m->path) == 0) {
		unixsock_remove(m->path, &m->file);
		return;
	}
	for (i = 0; i < sp->c->nsvcs; i++)
		if (sp->c->svcs[i].path != NULL &&
		    strcmp(sp->c->svcs[i].path, m->path) == 0) {
			unixsock_remove(m->path, &m->file);
			return;
		}
}

/* path is a certificate, key or CA file of one of c's TLS services. */
static int
tls_file_of(const struct conf *c, const char *path)
{
	int i;

	for (i = 0; c != NULL && i < c->nsvcs; i++)
		if (c->svcs[i].tls != NULL &&
		    conftls_has_file(c->svcs[i].tls, path))
			return 1;
	return 0;
}

/*
 * Only a TLS file of its configuration, or of the file as it reads now:
 * the loop opens the files of a SIGHUP's configuration before it asks the
 * spawner to take that configuration too.
 */
static void
do_open(struct spawner *sp, struct sp_msg *m)
{
	char err[CONF_ERRLEN];
	struct conf *now = NULL;
	int fd = -1, known;

	m->path[sizeof(m->path) - 1] = '\0';
	known = tls_file_of(sp->c, m->path);
	if (!known && (now = conf_load(sp->c->path, err, sizeof(err))) != NULL)
		known = tls_file_of(now, m->path);
	conf_free(now);
	if (!known)
		m->pid = -EPERM;
	else if ((fd = open(m->path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0)
		m->pid = -errno;
	else
		m->pid = 0;
	m->type = SP_OPENED;
	send_msg(sp->sock, m, fd);
	if (fd >= 0)
		close(fd);
}

static void
drop_passed(struct spawner *sp)
{
	int i;

	for (i = 0; i < sp->npassed; i++)
		close(sp->passed[i]);
	for (i = 0; i < 3; i++)
		if (sp->stdio[i] >= 0)
			close(sp->stdio[i]);
	sp->npassed = 0;
	sp->stdio[0] = sp->stdio[1] = sp->stdio[2] = -1;
}

/* One more descriptor for the upgrade: a listening socket or stdio. */
static void
do_pass(struct spawner *sp, const struct sp_msg *m, int fd)
{
	if (fd < 0)
		return;
	if (m->status >= 0 && m->status < 3 && sp->stdio[m->status] < 0)
		sp->stdio[m->status] = fd;
	else if (m->status == SP_PASS_SOCKET && sp->npassed < REEXEC_MAX_FDS)
		sp->passed[sp->npassed++] = fd;
	else
		close(fd);
}

/* The successor, started as root with what was passed; all dropped. */
static void
do_upgrade(struct spawner *sp, struct sp_msg *m, int fd)
{
	m->type = SP_UPGRADING;
	if (fd < 0 || sp->stdio[0] < 0 || sp->stdio[1] < 0 || sp->stdio[2] < 0)
		m->pid = -EINVAL;
	else if (reexec_start(sp->stdio, sp->passed, sp->npassed, fd) < 0)
		m->pid = -errno;
	else
		m->pid = 0;
	if (fd >= 0)
		close(fd);
	drop_passed(sp);
	send_msg(sp->sock, m, -1);
}

static void
reap(struct spawner *sp)
{
	struct signalfd_siginfo si;
	struct sp_msg m = {.type = SP_EXITED};
	int status, i;
	pid_t pid;

	while (read(sp->sigfd, &si, sizeof(si)) == sizeof(si))
		;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if ((i = kid_index(sp, pid)) < 0)
			continue;
		sp->kids[i] = sp->kids[--sp->nkids];
		m.pid = pid;
		m.status = status;
		send_msg(sp->sock, &m, -1);
	}
}

static int
request(struct spawner *sp)
{
	struct sp_msg m;
	int fd = -1, rc = recv_msg(sp->sock, &m, &fd, 0);

	if (rc <= 0)
		return rc < 0 && errno == EPROTO ? 1 : rc;
	if (m.type == SP_EXEC)
		do_exec(sp, &m, fd);
	else if (m.type == SP_PASS)
		do_pass(sp, &m, fd);
	else if (m.type == SP_UPGRADE)
		do_upgrade(sp, &m, fd);
	else if (fd >= 0)
		close(fd);
	if (m.type == SP_KILL)
		do_kill(sp, &m);
	else if (m.type == SP_RELOAD)
		do_reload(sp);
	else if (m.type == SP_UNLINK)
		do_unlink(sp, &m);
	else if (m.type == SP_OPEN)
		do_open(sp, &m);
	return 1;
}

/* Nothing but its socket: no port, no terminal, no epoll of the loop's. */
static int
isolate(int s)
{
	static const int quiet[] = {SIGINT, SIGTERM, SIGHUP, SIGUSR1};
	sigset_t set;
	size_t i;

	if (dup2(s, 3) < 0)
		return -1;
	close_range(4, ~0U, 0);
	devnull_stdio();
	/* the event loop decides when its programs end */
	for (i = 0; i < sizeof(quiet) / sizeof(quiet[0]); i++)
		signal(quiet[i], SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -1;
	return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

static void
spawner_main(int s, struct conf *c, spawner_run_fn *run)
{
	struct spawner sp = {
	    .sock = 3, .sigfd = -1, .c = c, .run = run, .stdio = {-1, -1, -1}};
	struct pollfd p[2];

	if ((sp.sigfd = isolate(s)) < 0 ||
	    (c->control != NULL && (sp.control = strdup(c->control)) == NULL))
		_exit(1);
	p[0] = (struct pollfd){sp.sock, POLLIN, 0};
	p[1] = (struct pollfd){sp.sigfd, POLLIN, 0};
	for (;;) {
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			_exit(1);
		if ((p[1].revents & POLLIN))
			reap(&sp);
		/* the event loop has gone: so does the spawner */
		if ((p[0].revents & (POLLIN | POLLHUP)) && request(&sp) == 0)
			_exit(0);
	}
}

/* ---- the event loop's side ---- */

/* What the spawner says unasked: a program ended. */
static void
told(const struct sp_msg *m)
{
	if (m->type == SP_EXITED && exit_fn)
		exit_fn(m->pid, m->status);
}

static void
spawner_io(struct loop_io *io, int events)
{
	struct sp_msg m;
	int fd, rc;

	(void)events;
	while ((rc = recv_msg(io->fd, &m, &fd, MSG_DONTWAIT)) > 0) {
		if (fd >= 0)
			close(fd);
		told(&m);
	}
	if (rc == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
		log_msg(LOG_ERR, "the exec spawner has gone: exec services "
				 "cannot start");
		spawner_stop();
	}
}

/*
 * While still root, with the configuration and before any port is bound:
 * the spawner runs c's exec services with run, and the event loop hears
 * of their ends through ended.  0, or -1 with errno.
 */
int
spawner_start(struct conf *c, spawner_run_fn *run, spawner_exit_fn *ended)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	if ((pid = fork()) < 0) {
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (pid == 0) {
		close(sv[0]);
		spawner_main(sv[1], c, run);
	}
	close(sv[1]);
	sock = sv[0];
	exit_fn = ended;
	unixsock_set_remover(spawner_unlink);
	tlspem_set_opener(spawner_open);
	if (loop_add(&sio, sock, LOOP_READ, spawner_io) < 0) {
		spawner_stop();
		return -1;
	}
	return 0;
}

int
spawner_active(void)
{
	return sock >= 0;
}

/* The answer of type want, after any end the spawner told of first. */
static int
answer(int want, struct sp_msg *m, int *fd)
{
	int rc;

	while ((rc = recv_msg(sock, m, fd, 0)) > 0 && m->type != want)
		told(m);
	if (rc <= 0) {
		errno = rc == 0 ? EPIPE : errno;
		return -1;
	}
	return 0;
}

/*
 * The program of exec service `service` on fd (a connection from peer,
 * through superd's TLS relay when tls is not NULL; the listening socket
 * itself when peer is NULL): its pid, or -1 with errno (EPERM: the
 * spawner knows no such exec service).
 */
pid_t
spawner_exec(const char *service, int fd, const union net_addr *peer,
    const struct child_tls *tls)
{
	struct sp_msg m = {.type = SP_EXEC, .listening = peer == NULL};
	int got;

	if (sock < 0) {
		errno = ENOEXEC;
		return -1;
	}
	if (peer != NULL)
		m.peer = *peer;
	if (tls != NULL) {
		m.relayed = 1;
		m.tls = *tls;
	}
	strncpy(m.service, service, sizeof(m.service) - 1);
	if (send_msg(sock, &m, fd) < 0)
		return -1;
	if (answer(SP_STARTED, &m, &got) < 0)
		return -1;
	if (m.pid < 0) {
		errno = -m.pid;
		return -1;
	}
	return m.pid;
}

/* sig to a program the spawner started (pid), or to all of them (0). */
int
spawner_kill(pid_t pid, int sig)
{
	struct sp_msg m = {.type = SP_KILL, .pid = pid, .status = sig};

	return sock < 0 ? -1 : send_msg(sock, &m, -1);
}

/* The configuration file was taken again: the spawner reads it too. */
int
spawner_reload(void)
{
	struct sp_msg m = {.type = SP_RELOAD};

	return sock < 0 ? 0 : send_msg(sock, &m, -1);
}

/*
 * A unix socket's file the event loop made as root: the spawner removes
 * it (unixsock.c asks when the loop may not).  0, or -1 with errno.
 */
int
spawner_unlink(const char *path, const struct unixsock_id *id)
{
	struct sp_msg m = {.type = SP_UNLINK, .file = *id};

	if (sock < 0 || strlen(path) >= sizeof(m.path)) {
		errno = EACCES;
		return -1;
	}
	strcpy(m.path, path);
	return send_msg(sock, &m, -1);
}

/*
 * A certificate, key or CA file of a TLS service, opened by the spawner:
 * the descriptor, or -1 with errno (EPERM: not a file of a TLS service).
 */
int
spawner_open(const char *path)
{
	struct sp_msg m = {.type = SP_OPEN};
	int got = -1;

	if (sock < 0 || strlen(path) >= sizeof(m.path)) {
		errno = EACCES;
		return -1;
	}
	strcpy(m.path, path);
	if (send_msg(sock, &m, -1) < 0)
		return -1;
	if (answer(SP_OPENED, &m, &got) < 0)
		return -1;
	if (m.pid < 0) {
		if (got >= 0)
			close(got);
		errno = -m.pid;
		return -1;
	}
	return got;
}

static int
pass(int fd, int slot)
{
	struct sp_msg m = {.type = SP_PASS, .status = slot};

	return send_msg(sock, &m, fd);
}

/*
 * superd's binary started anew by the spawner, as root, with the loop's
 * standard descriptors, the n sockets fds and the pipe's end ready (the
 * spawner's copies are closed once it has started).  0, or -1 with errno.
 */
int
spawner_upgrade(const int *fds, int n, int ready)
{
	struct sp_msg m = {.type = SP_UPGRADE};
	int i, got;

	if (sock < 0) {
		errno = ENOEXEC;
		return -1;
	}
	for (i = 0; i < 3; i++)
		if (pass(i, i) < 0)
			return -1;
	for (i = 0; i < n; i++)
		if (pass(fds[i], SP_PASS_SOCKET) < 0)
			return -1;
	if (send_msg(sock, &m, ready) < 0 || answer(SP_UPGRADING, &m, &got) < 0)
		return -1;
	if (m.pid < 0) {
		errno = -m.pid;
		return -1;
	}
	return 0;
}

/* Closed: the spawner sees the end of its socket and exits. */
void
spawner_stop(void)
{
	unixsock_set_remover(NULL);
	tlspem_set_opener(NULL);
	if (sock < 0)
		return;
	loop_del(&sio);
	close(sock);
	sock = -1;
}
