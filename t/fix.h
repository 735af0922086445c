/* fix.h - a superd beside its clients: the echo fixture, log checks. */
#ifndef SUPERD_T_FIX_H
#define SUPERD_T_FIX_H

#include <stddef.h>

#include "sd.h"

/* fd was closed unanswered, and the log says service name refused the
 * client ip:fd's port for why. */
void assert_refused(struct superd *d, const char *name, const char *ip, int fd,
    const char *why);
/* Closes fd; the test fails unless service name logs it closed by peer. */
void close_and_wait(struct superd *d, const char *name, int fd);

/*
 * A fixture (fix_setup, fix_teardown) for a test of one service beside a
 * healthy echo: bad input or a bad script must cost its connection only.
 */
struct fix {
	struct superd d;
	int port;  /* the service under test */
	int echo;  /* the healthy echo beside it */
	pid_t pid; /* superd's pid when it started */
};

/* The healthy echo's script (echo.lua in d.dir). */
#define ECHO_LUA                           \
	"function main(s)\n"               \
	"  while true do\n"                \
	"    local d = s:readsome(4096)\n" \
	"    if not d then return end\n"   \
	"    s:write(d)\n"                 \
	"  end\n"                          \
	"end\n"

int fix_setup(void **state);
int fix_teardown(void **state);
/* superd.conf: shutdown_timeout 1, the globals, the services given (each
 * "{ ... },\n"), then the healthy echo. */
void fix_conf(struct fix *f, const char *globals, const char *services);
/* Service "test" on f->port runs test.lua with the extra settings. */
void fix_conf_test(struct fix *f, const char *globals, const char *extra);
/* Started on that configuration; f->pid is superd's. */
void fix_start(struct fix *f);
/* test.lua is lua; service "test" has the extra settings: started. */
void fix_start_test(struct fix *f, const char *lua, const char *extra);
/* superd still runs, and the echo beside the test answers. */
void assert_healthy(struct fix *f);
/* The error line logged for a client port of service "test". */
void fix_error_line(struct fix *f, int port, char *out, size_t len);

/*
 * The built superctl ($SUPERCTL, or ./superctl beside ./superd) with args
 * (NULL-terminated), run to its end: its exit status, its stdout and
 * stderr in out.
 */
int sd_superctl(struct superd *d, char *out, size_t len, const char **args);

#endif
