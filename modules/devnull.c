/*
 * devnull.c - a process's standard descriptors pointed at /dev/null: a
 * detached daemon, and the helpers it leaves behind, hold no terminal or
 * pipe of whoever started them.
 */
#include <fcntl.h>
#include <unistd.h>

#include "devnull.h"

/* 0, or -1 when /dev/null cannot be opened (then nothing changed). */
int
devnull_stdio(void)
{
	int fd = open("/dev/null", O_RDWR);

	if (fd < 0)
		return -1;
	dup2(fd, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	if (fd > 2)
		close(fd);
	return 0;
}
