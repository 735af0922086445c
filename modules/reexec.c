/*
 * reexec.c - the binary upgrade's two ends in plain C.
 *
 * The predecessor's end: it (or its spawner, when it gave root up) forks
 * twice, so that the successor is nobody's child; the grandchild puts
 * the listening sockets at descriptor 3 and up as sd_listen_fds(3) says,
 * the pipe to its predecessor after them, and runs the binary now at the
 * path superd started from, with the options it started with, made
 * absolute.  Only async-signal-safe calls run between fork and exec: the
 * event loop may have threads.
 *
 * The successor's end: it writes "pid N", then "ready" once it serves or
 * "error: WHY", a line each, and gives up by itself (SIGALRM) when it
 * has not served within REEXEC_TIMEOUT seconds.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "reexec.h"

extern char **environ;

static char self[PATH_MAX];   /* the binary's path as superd started */
static char *args[8];	      /* its options, made absolute */
static char *notify_env;      /* NOTIFY_SOCKET=, before notify.c unset it */
static int successor_fd = -1; /* the successor's end of the pipe */

/*
 * At start, before anything unsets NOTIFY_SOCKET: what an upgrade will
 * run.  The strings stay the caller's.  0, or -1 (no upgrade then).
 */
int
reexec_save(const char *conf_path, const char *pidfile, int background)
{
	const char *n = getenv("NOTIFY_SOCKET");
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	int i = 0;

	if (n != NULL && asprintf(&notify_env, "NOTIFY_SOCKET=%s", n) < 0)
		notify_env = NULL;
	if (len <= 0)
		return -1;
	self[len] = '\0';
	args[i++] = self;
	args[i++] = "-c";
	args[i++] = (char *)conf_path;
	if (pidfile != NULL) {
		args[i++] = "-p";
		args[i++] = (char *)pidfile;
	}
	if (background)
		args[i++] = "-d";
	args[i] = NULL;
	return 0;
}

static int
inherited_var(const char *e)
{
	static const char *const gone[] = {"LISTEN_PID=", "LISTEN_FDS=",
	    "LISTEN_FDNAMES=", "NOTIFY_SOCKET=", REEXEC_ENV "="};
	size_t i;

	for (i = 0; i < sizeof(gone) / sizeof(gone[0]); i++)
		if (strncmp(e, gone[i], strlen(gone[i])) == 0)
			return 0;
	return 1;
}

/* What the successor is handed, built before the fork. */
struct plan {
	char **env;
	char *pid;  /* LISTEN_PID='s digits, written in the grandchild */
	int *from;  /* stdio, the sockets, the pipe: where they are now */
	int *moved; /* and out of the way of their places */
	int nfrom;
	char vars[3][64];
};

static int
plan_env(struct plan *p, int n)
{
	size_t i, k = 0, count = 0;

	while (environ[count] != NULL)
		count++;
	if ((p->env = calloc(count + 5, sizeof(char *))) == NULL)
		return -1;
	for (i = 0; i < count; i++)
		if (inherited_var(environ[i]))
			p->env[k++] = environ[i];
	if (notify_env != NULL)
		p->env[k++] = notify_env;
	snprintf(p->vars[0], sizeof(p->vars[0]), "LISTEN_FDS=%d", n);
	snprintf(p->vars[1], sizeof(p->vars[1]), REEXEC_ENV "=%d", 3 + n);
	snprintf(p->vars[2], sizeof(p->vars[2]), "LISTEN_PID=%20s", "");
	p->pid = p->vars[2] + strlen("LISTEN_PID=");
	p->env[k++] = p->vars[0];
	p->env[k++] = p->vars[1];
	p->env[k++] = p->vars[2];
	return 0;
}

static int
plan_fds(struct plan *p, const int stdio[3], const int *fds, int n, int ready)
{
	int i;

	p->nfrom = n + 4;
	p->from = calloc(p->nfrom, sizeof(int));
	p->moved = calloc(p->nfrom, sizeof(int));
	if (p->from == NULL || p->moved == NULL)
		return -1;
	for (i = 0; i < 3; i++)
		p->from[i] = stdio[i];
	for (i = 0; i < n; i++)
		p->from[3 + i] = fds[i];
	p->from[3 + n] = ready;
	return 0;
}

static void
plan_free(struct plan *p)
{
	free(p->env);
	free(p->from);
	free(p->moved);
}

/* The pid's digits, right-aligned in the 20 spaces reserved for them. */
static void
put_pid(char *slot, pid_t pid)
{
	char *end = slot + 20;

	do {
		*--end = (char)('0' + pid % 10);
		pid /= 10;
	} while (pid > 0 && end > slot);
	while (end > slot)
		*--end = '0';
}

/* The grandchild: descriptors in their places, signals as at birth. */
static void
become_successor(struct plan *p)
{
	sigset_t none;
	int i, top = p->nfrom;

	for (i = 0; i < p->nfrom; i++)
		if ((p->moved[i] = fcntl(p->from[i], F_DUPFD, top)) < 0)
			goto fail;
	for (i = 0; i < p->nfrom; i++)
		if (dup2(p->moved[i], i) < 0)
			goto fail;
	close_range(top, ~0U, 0);
	for (i = 1; i < NSIG; i++)
		signal(i, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	put_pid(p->pid, getpid());
	execve(self, args, p->env);
fail:
	i = errno;
	dprintf(p->from[p->nfrom - 1], "exec %d\n", i);
	_exit(127);
}

/*
 * The binary at superd's path, as a successor holding fds[0..n) and the
 * pipe's end ready, its standard descriptors stdio.  0, or -1 with errno.
 */
int
reexec_start(const int stdio[3], const int *fds, int n, int ready)
{
	struct plan p = {0};
	pid_t pid;
	int status, rc = -1;

	if (self[0] == '\0') {
		errno = ENOENT;
		return -1;
	}
	if (plan_env(&p, n) < 0 || plan_fds(&p, stdio, fds, n, ready) < 0) {
		errno = ENOMEM;
		goto done;
	}
	if ((pid = fork()) < 0)
		goto done;
	if (pid == 0) {
		if (fork() == 0)
			become_successor(&p);
		_exit(0);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	rc = 0;
done:
	plan_free(&p);
	return rc;
}

/* ---- the successor's end ---- */

/*
 * At the successor's start: its pipe found, its pid told, the time it
 * has running.  1 when superd is a successor, else 0.
 */
int
reexec_init(void)
{
	const char *v = getenv(REEXEC_ENV);

	if (v == NULL)
		return 0;
	successor_fd = atoi(v);
	unsetenv(REEXEC_ENV);
	if (successor_fd < 3 || fcntl(successor_fd, F_SETFD, FD_CLOEXEC) < 0) {
		successor_fd = -1;
		return 0;
	}
	alarm(REEXEC_TIMEOUT);
	dprintf(successor_fd, "pid %d\n", (int)getpid());
	return 1;
}

int
reexec_successor(void)
{
	return successor_fd >= 0;
}

/* Why the successor will not serve, for its predecessor's log. */
void
reexec_failed(const char *why)
{
	char line[1024];
	size_t i;

	if (successor_fd < 0)
		return;
	snprintf(line, sizeof(line), "%s", why);
	for (i = 0; line[i] != '\0'; i++)
		if (line[i] == '\n')
			line[i] = ' ';
	dprintf(successor_fd, "error: %s\n", line);
}

/*
 * The successor serves: its predecessor hears so and stops accepting.
 * -1 when the predecessor has given up on it meanwhile.
 */
int
reexec_serving(void)
{
	int rc;

	if (successor_fd < 0)
		return 0;
	alarm(0);
	rc = write(successor_fd, "ready\n", 6) == 6 ? 0 : -1;
	close(successor_fd);
	successor_fd = -1;
	return rc;
}
