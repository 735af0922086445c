/*
 * pidfile.c - the pid file: written once the daemon serves, removed when
 * it ends, even after it gave up the rights to.
 *
 * A pid file lives in a directory of root's (/run), so a daemon that has
 * switched to its configured user may no longer unlink it.  Before the
 * switch a child that keeps root is left behind holding one end of a
 * pipe: when the daemon ends, however it ends, the pipe closes and the
 * child removes the file, if it still names the daemon, and exits.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "devnull.h"
#include "pidfile.h"

static const char *path; /* written and not yet removed */
static pid_t owner;	 /* the pid it holds */
static int keep_fd = -1; /* the daemon's end of the remover's pipe */

/* 0, or -1 with errno. */
int
pidfile_write(const char *p)
{
	FILE *f = fopen(p, "w");

	if (f == NULL)
		return -1;
	fprintf(f, "%ld\n", (long)getpid());
	if (fclose(f) != 0)
		return -1;
	path = p;
	owner = getpid();
	return 0;
}

/* A superd started since may have written its own pid there. */
static int
still_ours(void)
{
	char line[32];
	long pid = 0;
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return 0;
	if (fgets(line, sizeof(line), f) != NULL)
		pid = strtol(line, NULL, 10);
	fclose(f);
	return pid == (long)owner;
}

/* The child: no port, no log, no signal; it waits for the pipe to close. */
static void
remover(int fd)
{
	sigset_t all;
	char c;

	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	prctl(PR_SET_NAME, "superd-pidfile");
	devnull_stdio();
	if (fd != 3 && (dup2(fd, 3) < 0 || close(fd) < 0))
		_exit(1);
	close_range(4, ~0U, 0);
	while (read(3, &c, 1) < 0 && errno == EINTR)
		;
	if (still_ours())
		unlink(path);
	_exit(0);
}

/*
 * Before the daemon switches user: the remover.  0, or -1 with errno (the
 * daemon then cannot promise to remove its pid file, and does not start).
 */
int
pidfile_keep_remover(void)
{
	int p[2];
	pid_t pid;

	if (path == NULL || keep_fd >= 0)
		return 0;
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	if ((pid = fork()) < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		close(p[1]);
		remover(p[0]);
	}
	close(p[0]);
	keep_fd = p[1];
	return 0;
}

/* At the daemon's end; the remover, if there is one, does the unlink. */
void
pidfile_remove(void)
{
	if (path == NULL || getpid() != owner)
		return;
	if (keep_fd < 0 && still_ours())
		unlink(path);
	if (keep_fd >= 0)
		close(keep_fd);
	keep_fd = -1;
	path = NULL;
}
