/* fuzz_conf.c - libFuzzer over configuration text. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "conf.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	char path[64], err[CONF_ERRLEN * 2];
	struct conf *c;

	if (fd < 0 && (fd = memfd_create("superd.conf", 0)) < 0)
		return 0;
	if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		return 0;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	c = conf_load(path, err, sizeof(err));
	conf_free(c);
	return 0;
}
