/*
 * notify.c - systemd's notify protocol: READY=1, RELOADING=1, STOPPING=1,
 * STATUS= and MAINPID= as datagrams to the unix socket systemd names in
 * $NOTIFY_SOCKET (a path, or "@name" for the abstract namespace).  A
 * message that cannot be sent is dropped: superd serves on regardless.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "notify.h"

static struct sockaddr_un to;
static socklen_t to_len; /* 0: no socket */
static int fd = -1;

int
notify_init(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	size_t n;

	if (path == NULL)
		return 0;
	n = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || n < 2 ||
	    n >= sizeof(to.sun_path)) {
		unsetenv("NOTIFY_SOCKET");
		errno = EINVAL;
		return -1;
	}
	memset(&to, 0, sizeof(to));
	to.sun_family = AF_UNIX;
	memcpy(to.sun_path, path, n);
	if (path[0] == '@')
		to.sun_path[0] = '\0';
	to_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
			     (path[0] == '/'));
	unsetenv("NOTIFY_SOCKET");
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		to_len = 0;
	return fd < 0 ? -1 : 0;
}

void
notify_forget(void)
{
	if (fd >= 0)
		close(fd);
	fd = -1;
	to_len = 0;
}

void
notify(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	int n;

	if (to_len == 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(msg))
		n = sizeof(msg) - 1;
	sendto(
	    fd, msg, (size_t)n, MSG_NOSIGNAL, (struct sockaddr *)&to, to_len);
}

/* READY=1 and a STATUS= of one line; MAINPID= names who sends it. */
void
notify_ready(const char *status)
{
	char line[512];
	size_t i;

	snprintf(line, sizeof(line), "%s", status);
	for (i = 0; line[i] != '\0'; i++)
		if (line[i] == '\n')
			line[i] = ' ';
	notify("READY=1\nMAINPID=%d\nSTATUS=%s", (int)getpid(), line);
}

void
notify_reloading(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	notify("RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000ULL +
		(unsigned long long)ts.tv_nsec / 1000ULL);
}
