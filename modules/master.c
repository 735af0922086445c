/*
 * master.c - workers = N.  The master binds nothing and runs no Lua: it
 * forks the workers (each its own loop, Lua states and SO_REUSEPORT
 * listeners), restarts one that dies (backing off while it keeps dying
 * young), hands SIGHUP and SIGUSR1 on to all, and on SIGTERM lets them
 * drain and exits when the last has.  It waits in sigtimedwait: there is
 * nothing else for it to wait on.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "master.h"
#include "stats.h"

#define YOUNG 5.0 /* a worker that dies sooner was not well */
#define MAX_BACKOFF 30.0

struct worker {
	pid_t pid;
	double started, restart_at, backoff;
};

static struct worker workers[STATS_WORKERS + 1];
static int nworkers;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
spawn(int k, master_worker_fn *fn)
{
	pid_t pid = fork();

	if (pid == 0) {
		/* A worker does not outlive its master. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		exit(fn(k));
	}
	if (pid < 0) {
		log_msg(LOG_ERR, "worker %d: fork: %m", k);
		workers[k].restart_at = now() + 1;
		return;
	}
	workers[k].pid = pid;
	workers[k].started = now();
	workers[k].restart_at = 0;
}

static void
forward(int sig)
{
	int k;

	for (k = 1; k <= nworkers; k++)
		if (workers[k].pid > 0)
			kill(workers[k].pid, sig);
}

static int
live(void)
{
	int k, n = 0;

	for (k = 1; k <= nworkers; k++)
		n += workers[k].pid > 0;
	return n;
}

static void
reap(int stopping)
{
	struct worker *w;
	int status, k;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (k = 1; k <= nworkers && workers[k].pid != pid; k++)
			;
		if (k > nworkers)
			continue;
		w = &workers[k];
		w->pid = 0;
		stats_worker_gone(k);
		if (stopping)
			continue;
		if (now() - w->started < YOUNG)
			w->backoff = w->backoff ? w->backoff * 2 : 0.1;
		else
			w->backoff = 0;

		if (w->backoff > MAX_BACKOFF)
			w->backoff = MAX_BACKOFF;
		w->restart_at = now() + w->backoff + 0.01;
		log_msg(LOG_WARNING,
		    "worker %d (pid %d) %s %d; restarting in %.1f s", k,
		    (int)pid,
		    WIFEXITED(status) ? "exited with status"
				      : "was killed by signal",
		    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
		    w->backoff);
	}
}

/* Seconds to the next restart or the stop deadline. */
static struct timespec
next_wake(double deadline)
{
	double soonest = deadline, t;
	struct timespec ts;
	int k;

	for (k = 1; k <= nworkers; k++)
		if (workers[k].pid == 0 && workers[k].restart_at > 0 &&
		    workers[k].restart_at < soonest)
			soonest = workers[k].restart_at;
	t = soonest - now();
	if (t < 0.001)
		t = 0.001;
	ts.tv_sec = (time_t)t;
	ts.tv_nsec = (long)((t - ts.tv_sec) * 1e9);
	return ts;
}

static void
restart_due(master_worker_fn *fn)
{
	int k;

	for (k = 1; k <= nworkers; k++)
		if (workers[k].pid == 0 && workers[k].restart_at > 0 &&
		    workers[k].restart_at <= now())
			spawn(k, fn);
}

int
master_run(int n, double grace, master_worker_fn *fn, master_hup_fn *hup)
{
	double deadline = now() + 86400;
	struct timespec ts;
	int k, sig, stopping = 0;
	sigset_t set;

	nworkers = n > STATS_WORKERS ? STATS_WORKERS : n;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	for (k = 1; k <= nworkers; k++)
		spawn(k, fn);
	log_msg(LOG_NOTICE, "master: %d workers started", nworkers);
	while (!stopping || live() > 0) {
		ts = next_wake(deadline);
		sig = sigtimedwait(&set, NULL, &ts);
		if (sig == SIGCHLD)
			reap(stopping);
		else if (sig == SIGHUP || sig == SIGUSR1) {
			if (sig == SIGHUP && hup)
				grace = hup();
			forward(sig);
		} else if ((sig == SIGTERM || sig == SIGINT) && !stopping) {
			stopping = 1;
			deadline = now() + grace + 5;
			forward(SIGTERM);
		}
		if (stopping && now() >= deadline)
			forward(SIGKILL);
		else if (!stopping)
			restart_due(fn);
	}
	log_msg(LOG_NOTICE, "master: all workers stopped");
	return 0;
}
