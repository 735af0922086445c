/*
 * upgrade.c - a binary upgrade from the serving process's side.  superd's
 * binary is started anew with every listening socket (by the spawner
 * when superd has given root up, so that the successor starts as root as
 * superd itself did); then its lines are read from a pipe inside the
 * loop, so that the old process serves on while the new one starts.  The
 * owner hears once: the successor serves, or why it will not.  Plain C.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control.h"
#include "listener.h"
#include "loop.h"
#include "notify.h"
#include "reexec.h"
#include "spawner.h"
#include "upgrade.h"

/* Past the successor's own REEXEC_TIMEOUT: by then it has given up. */
#define UPGRADE_GRACE 5

static struct loop_io pio = {-1, 0, NULL};
static struct loop_timer late;
static upgrade_done_fn *done;
static struct upgrade_news news;

static void
finish(const char *err)
{
	upgrade_done_fn *fn = done;

	loop_del(&pio);
	close(pio.fd);
	pio.fd = -1;
	loop_timer_cancel(&late);
	done = NULL;
	fn(news.pid, err);
}

/* One line of the successor's; 1 once it serves. */
static int
heard(struct upgrade_news *n, const char *line)
{
	int e;

	if (strncmp(line, "pid ", 4) == 0)
		n->pid = (pid_t)atol(line + 4);
	else if (strncmp(line, "error: ", 7) == 0)
		snprintf(n->why, sizeof(n->why), "%s", line + 7);
	else if (sscanf(line, "exec %d", &e) == 1)
		snprintf(n->why, sizeof(n->why), "cannot run the binary: %s",
		    strerror(e));
	return strcmp(line, "ready") == 0;
}

/* Whole lines of what has come. */
static int
heard_lines(struct upgrade_news *n)
{
	char *nl;

	while ((nl = strchr(n->said, '\n')) != NULL) {
		*nl = '\0';
		if (heard(n, n->said))
			return 1;
		n->nsaid -= (size_t)(nl + 1 - n->said);
		memmove(n->said, nl + 1, n->nsaid + 1);
	}
	if (n->nsaid == sizeof(n->said) - 1)
		n->nsaid = 0; /* a line too long to be one of ours */
	return 0;
}

/*
 * What the successor said on fd since: UPGRADE_READY, UPGRADE_FAILED
 * (its end closed first, or the pipe failed: n->why says why), or
 * UPGRADE_WAIT.
 */
int
upgrade_news_read(struct upgrade_news *n, int fd)
{
	ssize_t got;

	while ((got = read(fd, n->said + n->nsaid,
		    sizeof(n->said) - 1 - n->nsaid)) > 0) {
		n->nsaid += (size_t)got;
		n->said[n->nsaid] = '\0';
		if (heard_lines(n))
			return UPGRADE_READY;
	}
	if (got < 0 && (errno == EAGAIN || errno == EINTR))
		return UPGRADE_WAIT;
	if (got < 0)
		snprintf(n->why, sizeof(n->why), "%s", strerror(errno));
	else if (n->why[0] == '\0')
		snprintf(n->why, sizeof(n->why),
		    "the new binary exited before it served");
	return UPGRADE_FAILED;
}

static void
said_io(struct loop_io *io, int events)
{
	(void)events;
	switch (upgrade_news_read(&news, io->fd)) {
	case UPGRADE_READY:
		finish(NULL);
		break;
	case UPGRADE_FAILED:
		finish(news.why);
		break;
	}
}

static void
too_late(struct loop_timer *t)
{
	(void)t;
	finish("the new binary did not serve in time");
}

static int
hand_over(int ready)
{
	static const int stdio[3] = {0, 1, 2};
	int *fds = calloc(REEXEC_MAX_FDS, sizeof(int)), n, rc;

	if (fds == NULL) {
		errno = ENOMEM;
		return -1;
	}
	n = listeners_fds(fds, REEXEC_MAX_FDS - 1);
	if (control_fd() >= 0)
		fds[n++] = control_fd();
	if (spawner_active())
		rc = spawner_upgrade(fds, n, ready);
	else
		rc = reexec_start(stdio, fds, n, ready);
	free(fds);
	return rc;
}

/*
 * The successor started, with the read end of its pipe (non-blocking)
 * returned; or -1 with the reason in err (nothing was started then).
 */
int
upgrade_launch(char *err, size_t len)
{
	int p[2], rc;

	if (pipe2(p, O_CLOEXEC) < 0) {
		snprintf(err, len, "pipe: %s", strerror(errno));
		return -1;
	}
	rc = hand_over(p[1]);
	close(p[1]);
	if (rc < 0 || fcntl(p[0], F_SETFL, O_NONBLOCK) < 0) {
		snprintf(
		    err, len, "cannot start the binary: %s", strerror(errno));
		close(p[0]);
		return -1;
	}
	return p[0];
}

/*
 * The successor started; done hears how it went.  0, or -1 with the
 * reason in err (nothing was started then).
 */
int
upgrade_start(upgrade_done_fn *fn, char *err, size_t len)
{
	int fd;

	if (pio.fd >= 0) {
		snprintf(err, len, "an upgrade is under way");
		return -1;
	}
	if ((fd = upgrade_launch(err, len)) < 0)
		return -1;
	if (loop_add(&pio, fd, LOOP_READ, said_io) < 0) {
		snprintf(err, len, "epoll: %s", strerror(errno));
		close(fd);
		pio.fd = -1;
		return -1;
	}
	done = fn;
	memset(&news, 0, sizeof(news));
	loop_timer_init(&late, too_late);
	loop_timer_set(&late, loop_now() + REEXEC_TIMEOUT + UPGRADE_GRACE);
	return 0;
}

/*
 * The successor serves: systemd hears that it is the main process now,
 * and the files of the sockets (unix ones, the control socket) are its.
 */
void
upgrade_hand_over(pid_t successor)
{
	notify("MAINPID=%d\nREADY=1\nSTATUS=upgraded: pid %d serves",
	    (int)successor, (int)successor);
	listeners_disown();
	control_disown();
}

int
upgrade_under_way(void)
{
	return pio.fd >= 0;
}
