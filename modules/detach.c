/*
 * detach.c - -d: the classic double fork.  The first parent waits on a
 * pipe until the daemon says it serves (detach_done) and exits 0, or sees
 * the pipe close first and exits 1: an error after the fork (the pid
 * file, the privilege drop) still reaches the caller, on the stderr kept
 * till then.  Plain C.
 */
#include <fcntl.h>
#include <unistd.h>

#include "detach.h"
#include "devnull.h"
#include "log.h"

static int ready_fd = -1;

/* In the grandchild, in a session of its own: 0; or -1 with errno. */
int
detach(void)
{
	int p[2];
	pid_t pid;
	char c;

	if (pipe2(p, O_CLOEXEC) < 0 || (pid = fork()) < 0)
		return -1;
	if (pid > 0) {
		close(p[1]);
		_exit(read(p[0], &c, 1) == 1 ? 0 : 1);
	}
	close(p[0]);
	ready_fd = p[1];
	setsid();
	if ((pid = fork()) > 0)
		_exit(0);
	if (pid < 0 || chdir("/") < 0)
		return -1;
	return 0;
}

/* It serves: stdio goes to /dev/null and the starter exits 0. */
void
detach_done(void)
{
	if (ready_fd < 0)
		return;
	log_warn_unheard();
	devnull_stdio();
	if (write(ready_fd, "", 1) < 0)
		log_msg(LOG_WARNING, "-d: the starting process is gone");
	close(ready_fd);
	ready_fd = -1;
}
