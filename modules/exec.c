/* exec.c - exec services: a program per connection, as inetd runs it. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "exec.h"
#include "log.h"
#include "service.h"

/* Between max_runtime's SIGTERM and the SIGKILL that follows. */
#define KILL_GRACE 2.0

struct child {
	pid_t pid;
	struct service *svc;
	union net_addr peer;
	double started;
	struct loop_timer runtime; /* max_runtime, then KILL_GRACE */
	int overtime;		   /* signals max_runtime has sent */
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
	if (v->exec == NULL || access(v->exec[0], X_OK) == 0)
		return 0;
	snprintf(err, len, "%s:%d: service \"%s\": %s: %s", path, v->line,
	    v->name, v->exec[0], strerror(errno));
	return -1;
}

/*
 * The program leads a process group of its own (child.c): a shell's
 * children go with it.  One that moved to another group still gets it.
 */
static void
signal_program(pid_t pid, int sig)
{
	if (kill(-pid, sig) < 0)
		kill(pid, sig);
}

/* Past max_runtime: SIGTERM, and SIGKILL when that was not enough. */
static void
runtime_over(struct loop_timer *t)
{
	struct child *c = RUNTIME_CHILD(t);
	char addr[NET_ADDRSTRLEN];
	int port, sig = c->overtime++ == 0 ? SIGTERM : SIGKILL;

	net_ntop(&c->peer, addr, &port);
	log_msg(LOG_NOTICE, "%s: tcp %s:%d: pid %d %s: %s", c->svc->name, addr,
	    port, (int)c->pid,
	    sig == SIGTERM ? "ran past max_runtime" : "outlived SIGTERM",
	    sig == SIGTERM ? "SIGTERM" : "SIGKILL");
	signal_program(c->pid, sig);
	if (sig == SIGTERM)
		loop_timer_set(t, loop_now() + KILL_GRACE);
}

/*
 * Recorded before the fork: an unrecorded child would run untracked.  Its
 * environment is built here too, so the child allocates little.
 */
void
exec_start(struct service *s, int fd, const union net_addr *peer)
{
	struct child *c = calloc(1, sizeof(*c));
	struct child_env env;
	pid_t pid = -1;

	if (c != NULL && child_env_build(&env, s->conf, fd, peer) == 0) {
		if ((pid = fork()) == 0)
			child_exec(s->conf, fd, &env);
		if (pid > 0) /* as the child does: whichever runs first */
			setpgid(pid, pid);
		child_env_free(&env);
	}
	close(fd);
	if (pid < 0) {
		log_msg(LOG_ERR, "%s: cannot start %s: %m", s->name,
		    s->conf->exec[0]);
		free(c);
		return;
	}
	c->pid = pid;
	c->svc = s;
	c->peer = *peer;
	c->started = loop_now();
	loop_timer_init(&c->runtime, runtime_over);
	if (s->conf->max_runtime > 0)
		loop_timer_set(&c->runtime, c->started + s->conf->max_runtime);
	c->next = children;
	children = c;
	nchildren++;
	admit_hold(&s->admit, peer, ADMIT_CLIENT);
	s->stats->accepted++;
}

static void
child_log(struct child *c, int status)
{
	char addr[NET_ADDRSTRLEN], how[64];
	const char *why = c->overtime ? " (max_runtime)" : "";
	int port;

	if (WIFEXITED(status))
		snprintf(how, sizeof(how), "exit status %d%s",
		    WEXITSTATUS(status), why);
	else
		snprintf(how, sizeof(how), "killed by signal %d%s",
		    WTERMSIG(status), why);
	net_ntop(&c->peer, addr, &port);
	log_msg(LOG_INFO, "%s: tcp %s:%d: %.3fs, pid %d, %s", c->svc->name,
	    addr, port, loop_now() - c->started, (int)c->pid, how);
}

/* On SIGCHLD: every child that ended, without blocking the loop. */
void
exec_reap(void)
{
	struct child **pp, *c;
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (pp = &children; (c = *pp) != NULL; pp = &c->next)
			if (c->pid == pid)
				break;
		if (c == NULL)
			continue;
		*pp = c->next;
		nchildren--;
		loop_timer_cancel(&c->runtime);
		child_log(c, status);
		admit_release(&c->svc->admit, &c->peer, ADMIT_CLIENT);
		free(c);
	}
}

void
exec_kill_all(int sig)
{
	struct child *c;

	for (c = children; c; c = c->next)
		kill(c->pid, sig);
}
