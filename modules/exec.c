/* exec.c - exec services: a program per connection, as inetd runs it. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec.h"
#include "listener.h"
#include "log.h"
#include "priv.h"
#include "service.h"
#include "spawner.h"

struct child {
	pid_t pid;
	struct service *svc;
	union net_addr peer;
	int listening; /* wait: the listening socket it was handed, else -1 */
	double started;
	struct child *next;
};

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

static int
set_env_addr(
    const char *ip_name, const char *port_name, const union net_addr *a)
{
	char addr[NET_ADDRSTRLEN], port[16];
	int p;

	net_ntop(a, addr, &p);
	snprintf(port, sizeof(port), "%d", p);
	if (setenv(ip_name, addr, 1) < 0 || setenv(port_name, port, 1) < 0)
		return -1;
	return 0;
}

/*
 * In the child: the program's user and group, when superd is root; the
 * daemon's own (see daemon_user) for a service that names none.  It
 * cannot say why it fails: its stderr is the client's socket.
 */
static int
become(const struct conf *c, const struct svc_conf *v)
{
	const char *user = v->user, *group = v->group;
	char err[128];
	struct priv p;
	int rc;

	if (user == NULL && group == NULL) {
		user = exec_default_user(c);
		group = c->group;
	}
	rc = priv_lookup(user, group, &p, err, sizeof(err));

	if (rc != 0)
		return rc < 0 ? -1 : 0;
	return priv_switch(&p, PRIV_INITGROUPS);
}

/* ucspi-tcp's variables: who the client is, where it came in. */
static int
set_env_tcp(const union net_addr *peer)
{
	union net_addr local;

	if (setenv("PROTO", "TCP", 1) < 0 ||
	    set_env_addr("TCPREMOTEIP", "TCPREMOTEPORT", peer) < 0 ||
	    (net_local(0, &local) == 0 &&
		set_env_addr("TCPLOCALIP", "TCPLOCALPORT", &local) < 0))
		return -1;
	return 0;
}

/*
 * systemd's Accept=no: the listening socket is descriptor 3 too, named
 * for the service, so a socket-activated daemon runs unchanged.
 */
static int
set_env_listen(const char *name)
{
	char pid[16];

	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	if (dup2(0, 3) < 0 || setenv("LISTEN_FDS", "1", 1) < 0 ||
	    setenv("LISTEN_PID", pid, 1) < 0 ||
	    setenv("LISTEN_FDNAMES", name, 1) < 0)
		return -1;
	return 0;
}

/*
 * fd on 0-2: a client's connection (peer), or for a wait service (peer
 * NULL) the listening socket, also on 3.
 */
static void
child_main(const struct conf *c, const struct svc_conf *v, int fd,
    const union net_addr *peer)
{
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	if (dup2(fd, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
		_exit(126);
	/* Only 0-2: no other connection's or listener's descriptor. */
	close_range(3, ~0U, 0);
	fcntl(0, F_SETFL, fcntl(0, F_GETFL) & ~O_NONBLOCK);
	/* without memory for its environment the program does not run */
	if (peer != NULL ? set_env_tcp(peer) < 0 : set_env_listen(v->name) < 0)
		_exit(126);
	if (become(c, v) < 0)
		_exit(126);
	execv(v->exec[0], v->exec);
	_exit(127);
}

/*
 * Recorded before the fork: an unrecorded child would run untracked.
 * NULL when it cannot start (logged).
 */
static struct child *
spawn(struct service *s, int fd, const union net_addr *peer)
{
	struct child *c = calloc(1, sizeof(*c));
	pid_t pid = -1;

	if (c != NULL && spawner_active())
		pid = spawner_exec(s->name, fd, peer);
	else if (c != NULL && (pid = fork()) == 0)
		child_main(s->owner, s->conf, fd, peer);
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
	c->next = children;
	children = c;
	nchildren++;
	return c;
}

/* A connection accepted on fd: its own program, as inetd's nowait. */
void
exec_start(struct service *s, int fd, const union net_addr *peer)
{
	struct child *c = spawn(s, fd, peer);

	close(fd);
	if (c == NULL)
		return;
	c->peer = *peer;
	admit_hold(&s->admit, peer, ADMIT_CLIENT);
	s->stats->accepted++;
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
	if ((c = spawn(s, l->io.fd, NULL)) == NULL) {
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
	char addr[NET_ADDRSTRLEN], how[64];
	int port;

	if (WIFEXITED(status))
		snprintf(
		    how, sizeof(how), "exit status %d", WEXITSTATUS(status));
	else
		snprintf(
		    how, sizeof(how), "killed by signal %d", WTERMSIG(status));
	net_ntop(&c->peer, addr, &port);
	log_msg(LOG_INFO, "%s: %s %s:%d: %.3fs, pid %d, %s", c->svc->name,
	    c->listening >= 0 ? "wait" : "tcp", addr, port,
	    loop_now() - c->started, (int)c->pid, how);
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
	child_log(c, status);
	if (c->listening >= 0) {
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
