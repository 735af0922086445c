/* exec.c - exec services: a program per connection, as inetd runs it. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "exec.h"
#include "listener.h"
#include "log.h"
#include "service.h"
#include "spawner.h"

/* Between max_runtime's SIGTERM and the SIGKILL that follows. */
#define KILL_GRACE 2.0

struct child {
	pid_t pid;
	struct service *svc;
	union net_addr peer;
	int listening; /* wait: the listening socket it was handed, else -1 */
	double started;
	struct loop_timer runtime; /* max_runtime, then KILL_GRACE */
	int overtime;		   /* signals max_runtime has sent */
	exec_end_fn *on_end;	   /* a relay's: it holds the admission */
	void *ud;
	struct child *next;
};

#define RUNTIME_CHILD(t) \
	((struct child *)((char *)(t)-offsetof(struct child, runtime)))

static struct child *children;
static int nchildren;

int
exec_count(void)
{
	return nchildren;
}

/* The program of exec service v is there; -1 with err set if not. */
int
exec_check(const struct svc_conf *v, const char *path, char *err, size_t len)
{
	const char *who = NULL;

	if (v->exec == NULL)
		return 0;
	if (v->user != NULL && getpwnam(v->user) == NULL)
		who = v->user;
	else if (v->group != NULL && getgrnam(v->group) == NULL)
		who = v->group;
	if (who != NULL) {
		snprintf(err, len,
		    "%s:%d: service \"%s\": unknown user or group \"%s\"", path,
		    v->line, v->name, who);
		return -1;
	}
	if (access(v->exec[0], X_OK) == 0)
		return 0;
	snprintf(err, len, "%s:%d: service \"%s\": %s: %s", path, v->line,
	    v->name, v->exec[0], strerror(errno));
	return -1;
}

/*
 * In the (spawner's) child: v's program, as its user, or the daemon's
 * (see exec_default_user) for a service that names none.
 */
static void
child_main(const struct conf *c, const struct svc_conf *v, int fd,
    const union net_addr *peer, const struct child_tls *tls)
{
	const char *user = v->user, *group = v->group;

	if (user == NULL && group == NULL) {
		user = exec_default_user(c);
		group = c->group;
	}
	child_exec(v, user, group, fd, peer, tls);
}

/*
 * The program leads a process group of its own (child.c): a shell's
 * children go with it.  One that moved to another group still gets it.
 */
static void
signal_program(pid_t pid, int sig)
{
	if (spawner_active())
		spawner_kill(pid, sig);
	else if (kill(-pid, sig) < 0)
		kill(pid, sig);
}

/*
 * Whom a child served: its client, or where a wait service listens; on a
 * unix socket that end is superd itself, so its path says more.
 */
static const char *
child_whom(const struct child *c, char *buf, size_t len)
{
	const char *path = c->svc->conf->path;

	if (c->listening >= 0 && c->peer.sa.sa_family == AF_UNIX)
		snprintf(buf, len, "wait %s", path ? path : "unix");
	else
		net_peer(&c->peer, c->listening >= 0 ? "wait" : "tcp", buf);
	return buf;
}

/* Past max_runtime: SIGTERM, and SIGKILL when that was not enough. */
static void
runtime_over(struct loop_timer *t)
{
	struct child *c = RUNTIME_CHILD(t);
	char whom[NET_PEERSTRLEN + 128];
	int sig = c->overtime++ == 0 ? SIGTERM : SIGKILL;

	log_msg(LOG_NOTICE, "%s: %s: pid %d %s: %s", c->svc->name,
	    child_whom(c, whom, sizeof(whom)), (int)c->pid,
	    sig == SIGTERM ? "ran past max_runtime" : "outlived SIGTERM",
	    sig == SIGTERM ? "SIGTERM" : "SIGKILL");
	signal_program(c->pid, sig);
	if (sig == SIGTERM)
		loop_timer_set(t, loop_now() + KILL_GRACE);
}

/*
 * Recorded before the fork: an unrecorded child would run untracked.
 * NULL when it cannot start (logged).
 */
static struct child *
spawn(struct service *s, int fd, const union net_addr *peer,
    const struct child_tls *tls)
{
	struct child *c = calloc(1, sizeof(*c));
	pid_t pid = -1;

	if (c != NULL && spawner_active())
		pid = spawner_exec(s->name, fd, peer, tls);
	else if (c != NULL && (pid = fork()) == 0)
		child_main(s->owner, s->conf, fd, peer, tls);
	if (pid < 0) {
		log_msg(LOG_ERR, "%s: cannot start %s: %m", s->name,
		    s->conf->exec[0]);
		free(c);
		return NULL;
	}
	c->pid = pid;
	c->svc = s;
	c->listening = -1;
	c->started = loop_now();
	loop_timer_init(&c->runtime, runtime_over);
	if (s->conf->max_runtime > 0)
		loop_timer_set(&c->runtime, c->started + s->conf->max_runtime);
	c->next = children;
	children = c;
	nchildren++;
	return c;
}

/* A connection accepted on fd: its own program, as inetd's nowait. */
void
exec_start(struct service *s, int fd, const union net_addr *peer)
{
	struct child *c = spawn(s, fd, peer, NULL);

	close(fd);
	if (c == NULL)
		return;
	c->peer = *peer;
	admit_hold(&s->admit, peer, ADMIT_CLIENT);
	s->stats->accepted++;
}

/*
 * A TLS client's program on fd, its end of the relay's socket pair (fd
 * stays the caller's): NULL when it cannot start (logged).  The relay,
 * which holds the client's admission, hears of its end through fn.
 */
struct child *
exec_relayed(struct service *s, int fd, const union net_addr *peer,
    const struct child_tls *tls, exec_end_fn *fn, void *ud)
{
	struct child *c = spawn(s, fd, peer, tls);

	if (c == NULL)
		return NULL;
	c->peer = *peer;
	c->on_end = fn;
	c->ud = ud;
	return c;
}

/* Its relay has closed: the program holds the admission until it ends. */
void
exec_detach(struct child *c)
{
	c->on_end = NULL;
	c->ud = NULL;
}

/*
 * Started SERVICE_WAIT_BURST times within SERVICE_WAIT_WINDOW seconds:
 * a program that exits at once (it cannot use the socket) would have
 * superd start it forever.
 */
static int
too_fast(struct service *s)
{
	double now = loop_now(), *oldest = &s->wait_starts[s->wait_next];

	if (*oldest > 0 && now - *oldest < SERVICE_WAIT_WINDOW)
		return 1;
	*oldest = now;
	s->wait_next = (s->wait_next + 1) % SERVICE_WAIT_BURST;
	return 0;
}

/*
 * Something is pending on a wait service's listener: its program gets the
 * socket (inetd's wait), and superd watches it again once that exits.
 */
void
exec_start_wait(struct service *s, struct listener *l)
{
	struct child *c;

	listener_hold(l);
	if (too_fast(s)) {
		log_msg(LOG_WARNING,
		    "%s: %s started %d times in %d s: paused for %d s", s->name,
		    s->conf->exec[0], SERVICE_WAIT_BURST, SERVICE_WAIT_WINDOW,
		    SERVICE_WAIT_PAUSE);
		memset(s->wait_starts, 0, sizeof(s->wait_starts));
		listener_release_at(l, loop_now() + SERVICE_WAIT_PAUSE);
		return;
	}
	if ((c = spawn(s, l->io.fd, NULL, NULL)) == NULL) {
		listener_release_at(l, loop_now() + 1);
		return;
	}
	c->listening = l->io.fd;
	c->peer = l->local;
	admit_hold(&s->admit, NULL, ADMIT_PROGRAM);
	s->stats->accepted++;
}

static void
child_log(struct child *c, int status)
{
	char whom[NET_PEERSTRLEN + 128], how[64];
	const char *why = c->overtime ? " (max_runtime)" : "";

	if (WIFEXITED(status))
		snprintf(how, sizeof(how), "exit status %d%s",
		    WEXITSTATUS(status), why);
	else
		snprintf(how, sizeof(how), "killed by signal %d%s",
		    WTERMSIG(status), why);
	log_msg(LOG_INFO, "%s: %s: %.3fs, pid %d, %s", c->svc->name,
	    child_whom(c, whom, sizeof(whom)), loop_now() - c->started,
	    (int)c->pid, how);
}

/* A child has ended: logged, and what it held let go. */
static void
ended(pid_t pid, int status)
{
	struct child **pp, *c;

	for (pp = &children; (c = *pp) != NULL; pp = &c->next)
		if (c->pid == pid)
			break;
	if (c == NULL)
		return;
	*pp = c->next;
	nchildren--;
	loop_timer_cancel(&c->runtime);
	child_log(c, status);
	if (c->on_end != NULL) {
		c->on_end(c->ud);
	} else if (c->listening >= 0) {
		admit_release(&c->svc->admit, NULL, ADMIT_PROGRAM);
		listener_release_fd(c->listening);
	} else {
		admit_release(&c->svc->admit, &c->peer, ADMIT_CLIENT);
	}
	free(c);
}

/* On SIGCHLD: every child that ended, without blocking the loop. */
void
exec_reap(void)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		ended(pid, status);
}

void
exec_kill_all(int sig)
{
	struct child *c;

	if (spawner_active()) {
		spawner_kill(0, sig);
		return;
	}
	for (c = children; c; c = c->next)
		kill(c->pid, sig);
}

/*
 * Who a program runs as when its service names no user: the daemon's
 * user, nobody when superd runs as root and the configuration names none
 * (a script must never run as root, nor what it starts).
 */
const char *
exec_default_user(const struct conf *c)
{
	if (c->user != NULL || c->group != NULL || getuid() != 0)
		return c->user;
	return EXEC_DEFAULT_USER;
}

/*
 * Root's programs start from a process that keeps root (spawner.c); the
 * event loop is then free to give root up.
 */
int
exec_separate(struct conf *c)
{
	if (getuid() != 0)
		return 0;
	return spawner_start(c, child_main, ended);
}
