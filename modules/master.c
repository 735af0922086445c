/*
 * master.c - workers = N.  The master runs no Lua: it keeps the listening
 * sockets open for the workers it forks (each its own loop and Lua
 * states), restarts one that dies (backing off while it keeps dying
 * young), hands SIGHUP and SIGUSR1 on to all, and on SIGTERM lets them
 * drain and exits when the last has.  On SIGUSR2 it starts the binary
 * anew with the sockets, and once the new master's workers serve, its
 * own drain.  It waits in poll on a signalfd and a pipe: each worker
 * writes its number there once its listeners and scripts are up (a
 * signal could not reach a root master from a worker that gave root up),
 * and systemd hears READY=1 when all have.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "listener.h"
#include "log.h"
#include "master.h"
#include "notify.h"
#include "reexec.h"
#include "stats.h"
#include "upgrade.h"

#define YOUNG 5.0 /* a worker that dies sooner was not well */
#define MAX_BACKOFF 30.0

struct worker {
	pid_t pid;
	double started, restart_at, backoff;
	int serving; /* has said so since it was started */
};

static struct worker workers[STATS_WORKERS + 1];
static int nworkers;
static int serving_pipe[2] = {-1, -1}; /* workers write their number */
static int my_index;		       /* in a worker: its number */
static int upgrade_fd = -1; /* the successor's pipe, while it starts */
static struct upgrade_news news;

/* next_signal's word that the successor serves: the workers drain. */
#define UPGRADED (-1)

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
		my_index = k;
		close(serving_pipe[0]);
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
	workers[k].serving = 0;
}

/* In a worker: its listeners are bound and its scripts ran. */
void
master_worker_serving(void)
{
	unsigned char k = (unsigned char)my_index;

	if (write(serving_pipe[1], &k, 1) < 0)
		log_msg(LOG_WARNING, "cannot tell the master it serves: %m");
}

/* Workers that say they serve: READY=1 the first time all of them have. */
static void
serving(int *told)
{
	unsigned char k;
	int i, n = 0;

	while (read(serving_pipe[0], &k, 1) == 1)
		if (k >= 1 && k <= nworkers && workers[k].pid > 0)
			workers[k].serving = 1;
	for (i = 1; i <= nworkers; i++)
		n += workers[i].serving;
	if (n == nworkers && !*told) {
		*told = 1;
		if (!reexec_successor())
			notify_ready("serving with all workers");
		else if (reexec_serving() < 0)
			log_msg(LOG_ERR, "master: upgrade: the old master gave "
					 "up on this one");
	}
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

/* Milliseconds to the next restart or the stop deadline. */
static int
next_wake(double deadline)
{
	double soonest = deadline, t;
	int k;

	for (k = 1; k <= nworkers; k++)
		if (workers[k].pid == 0 && workers[k].restart_at > 0 &&
		    workers[k].restart_at < soonest)
			soonest = workers[k].restart_at;
	t = soonest - now();
	if (t < 0.001)
		t = 0.001;
	return t > 3600 ? 3600000 : (int)(t * 1000) + 1;
}

/* SIGUSR2: the binary anew, handed every socket the master keeps. */
static void
upgrade(int stopping)
{
	char err[256];

	if (stopping || upgrade_fd >= 0)
		return;
	memset(&news, 0, sizeof(news));
	if ((upgrade_fd = upgrade_launch(err, sizeof(err))) < 0)
		log_msg(LOG_ERR, "master: upgrade failed: %s", err);
	else
		log_msg(
		    LOG_NOTICE, "master: upgrade: starting the binary anew");
}

/* What the successor said: UPGRADED once it serves, else 0. */
static int
upgrade_news(void)
{
	int rc = upgrade_news_read(&news, upgrade_fd);

	if (rc == UPGRADE_WAIT)
		return 0;
	close(upgrade_fd);
	upgrade_fd = -1;
	if (rc == UPGRADE_FAILED) {
		log_msg(LOG_ERR, "master: upgrade failed: %s", news.why);
		return 0;
	}
	log_msg(LOG_NOTICE, "master: upgrade: pid %d serves; the workers drain",
	    (int)news.pid);
	upgrade_hand_over(news.pid);
	return UPGRADED;
}

/*
 * The next signal within ms, or 0; what the workers said meanwhile; or
 * UPGRADED.
 */
static int
next_signal(int sigfd, int ms, int *told)
{
	struct pollfd p[3] = {{sigfd, POLLIN, 0}, {serving_pipe[0], POLLIN, 0},
	    {upgrade_fd, POLLIN, 0}};
	struct signalfd_siginfo si;

	if (poll(p, upgrade_fd >= 0 ? 3 : 2, ms) <= 0)
		return 0;
	if (p[1].revents & POLLIN)
		serving(told);
	if (upgrade_fd >= 0 && (p[2].revents & (POLLIN | POLLHUP)) &&
	    upgrade_news() == UPGRADED)
		return UPGRADED;
	if ((p[0].revents & POLLIN) &&
	    read(sigfd, &si, sizeof(si)) == sizeof(si))
		return (int)si.ssi_signo;
	return 0;
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
	int k, sig, sigfd, stopping = 0, told = 0;
	sigset_t set;

	nworkers = n > STATS_WORKERS ? STATS_WORKERS : n;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if ((sigfd = signalfd(-1, &set, SFD_CLOEXEC)) < 0 ||
	    pipe2(serving_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		log_msg(LOG_ERR, "master: %m");
		return 1;
	}
	for (k = 1; k <= nworkers; k++)
		spawn(k, fn);
	log_msg(LOG_NOTICE, "master: %d workers started", nworkers);
	while (!stopping || live() > 0) {
		sig = next_signal(sigfd, next_wake(deadline), &told);
		if (sig == SIGCHLD)
			reap(stopping);
		else if (sig == SIGHUP || sig == SIGUSR1) {
			if (sig == SIGHUP && hup)
				grace = hup();
			forward(sig);
		} else if (sig == SIGUSR2) {
			upgrade(stopping);
		} else if (sig == UPGRADED && !stopping) {
			stopping = 1;
			deadline = now() + grace + 5;
			forward(SIGTERM);
		} else if ((sig == SIGTERM || sig == SIGINT) && !stopping) {
			stopping = 1;
			notify("STOPPING=1");
			deadline = now() + grace + 5;
			forward(SIGTERM);
		}
		if (stopping && now() >= deadline)
			forward(SIGKILL);
		else if (!stopping)
			restart_due(fn);
	}
	log_msg(LOG_NOTICE, "master: all workers stopped");
	close(sigfd);
	close(serving_pipe[0]);
	close(serving_pipe[1]);
	return 0;
}
