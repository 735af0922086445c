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
#include "reexec.h"
#include "spawner.h"
#include "upgrade.h"

/* Past the successor's own REEXEC_TIMEOUT: by then it has given up. */
#define UPGRADE_GRACE 5

static struct loop_io pio = {-1, 0, NULL};
static struct loop_timer late;
static upgrade_done_fn *done;
static pid_t successor;
static char said[1024]; /* its lines, till each is whole */
static size_t nsaid;
static char why[sizeof(said)]; /* what it said went wrong */

static void
finish(const char *err)
{
	upgrade_done_fn *fn = done;

	loop_del(&pio);
	close(pio.fd);
	pio.fd = -1;
	loop_timer_cancel(&late);
	done = NULL;
	fn(successor, err);
}

/* One line of the successor's; 1 once it serves. */
static int
heard(char *line)
{
	int e;

	if (strncmp(line, "pid ", 4) == 0)
		successor = (pid_t)atol(line + 4);
	else if (strncmp(line, "error: ", 7) == 0)
		snprintf(why, sizeof(why), "%s", line + 7);
	else if (sscanf(line, "exec %d", &e) == 1)
		snprintf(
		    why, sizeof(why), "cannot run the binary: %s", strerror(e));
	return strcmp(line, "ready") == 0;
}

static void
said_io(struct loop_io *io, int events)
{
	char *nl;
	ssize_t n;

	(void)events;
	while ((n = read(io->fd, said + nsaid, sizeof(said) - 1 - nsaid)) > 0) {
		nsaid += (size_t)n;
		said[nsaid] = '\0';
		while ((nl = strchr(said, '\n')) != NULL) {
			*nl = '\0';
			if (heard(said)) {
				finish(NULL);
				return;
			}
			nsaid -= (size_t)(nl + 1 - said);
			memmove(said, nl + 1, nsaid + 1);
		}
		if (nsaid == sizeof(said) - 1)
			nsaid = 0; /* a line too long to be one of ours */
	}
	if (n == 0)
		finish(why[0] ? why : "the new binary exited before it served");
	else if (errno != EAGAIN && errno != EINTR)
		finish(strerror(errno));
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
 * The successor started; done hears how it went.  0, or -1 with the
 * reason in err (nothing was started then).
 */
int
upgrade_start(upgrade_done_fn *fn, char *err, size_t len)
{
	int p[2], rc;

	if (pio.fd >= 0) {
		snprintf(err, len, "an upgrade is under way");
		return -1;
	}
	if (pipe2(p, O_CLOEXEC) < 0) {
		snprintf(err, len, "pipe: %s", strerror(errno));
		return -1;
	}
	rc = hand_over(p[1]);
	close(p[1]);
	if (rc < 0 || fcntl(p[0], F_SETFL, O_NONBLOCK) < 0 ||
	    loop_add(&pio, p[0], LOOP_READ, said_io) < 0) {
		snprintf(
		    err, len, "cannot start the binary: %s", strerror(errno));
		close(p[0]);
		pio.fd = -1;
		return -1;
	}
	done = fn;
	successor = 0;
	nsaid = 0;
	why[0] = '\0';
	loop_timer_init(&late, too_late);
	loop_timer_set(&late, loop_now() + REEXEC_TIMEOUT + UPGRADE_GRACE);
	return 0;
}

int
upgrade_under_way(void)
{
	return pio.fd >= 0;
}
