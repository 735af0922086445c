/* fix.c - a superd beside its clients: the echo fixture, log checks. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fix.h"
#include "proc.h"
#include "sock.h"

/* Refused: superd accepted and closed with nothing written (recv is 0). */
static int
closed_empty(int fd, int ms)
{
	struct pollfd p = {fd, POLLIN, 0};
	char c;

	if (fd < 0 || poll(&p, 1, ms) <= 0)
		return 0;
	return recv(fd, &c, 1, 0) == 0;
}

void
assert_refused(
    struct superd *d, const char *name, const char *ip, int fd, const char *why)
{
	char needle[128], line[512];
	int port = local_port(fd);

	assert_true(closed_empty(fd, 2000));
	close(fd);
	snprintf(
	    needle, sizeof(needle), "%s: tcp %s:%d: refused: ", name, ip, port);
	assert_int_equal(
	    sd_log_wait_line(d, needle, line, sizeof(line), 2000), 0);
	assert_string_equal(strstr(line, "refused: ") + 9, why);
}

void
close_and_wait(struct superd *d, const char *name, int fd)
{
	char needle[128], line[512];

	snprintf(needle, sizeof(needle), "%s: tcp 127.0.0.1:%d: ", name,
	    local_port(fd));
	close(fd);
	assert_int_equal(
	    sd_log_wait_line(d, needle, line, sizeof(line), 3000), 0);
	assert_non_null(strstr(line, "closed by peer"));
}

int
fix_setup(void **state)
{
	static struct fix f;

	memset(&f, 0, sizeof(f));
	sd_init(&f.d);
	f.port = free_port();
	do
		f.echo = free_port();
	while (f.echo == f.port);
	sd_write(&f.d, "echo.lua", "%s", ECHO_LUA);
	*state = &f;
	return 0;
}

/* Also after a failed assertion: no superd outlives its test. */
int
fix_teardown(void **state)
{
	struct fix *f = *state;

	sd_cleanup(&f->d);
	return 0;
}

void
fix_conf(struct fix *f, const char *globals, const char *services)
{
	sd_write(&f->d, "superd.conf",
	    "shutdown_timeout = 1;\n"
	    "%s"
	    "services = (\n"
	    "%s"
	    "  { name = \"echo\"; port = %d; address = \"127.0.0.1\";"
	    " protocol = [\"tcp\", \"udp\"]; script = \"echo.lua\"; }\n"
	    ");\n",
	    globals, services, f->echo);
}

void
fix_conf_test(struct fix *f, const char *globals, const char *extra)
{
	char svc[1024];

	snprintf(svc, sizeof(svc),
	    "  { name = \"test\"; port = %d; address = \"127.0.0.1\";"
	    " script = \"test.lua\"; %s },\n",
	    f->port, extra);
	fix_conf(f, globals, svc);
}

void
fix_start(struct fix *f)
{
	sd_started(&f->d, f->echo);
	f->pid = f->d.pid;
}

void
fix_start_test(struct fix *f, const char *lua, const char *extra)
{
	sd_write(&f->d, "test.lua", "%s", lua);
	fix_conf_test(f, "", extra);
	fix_start(f);
}

void
assert_healthy(struct fix *f)
{
	int fd;

	assert_alive(&f->d, "the test");
	fd = tcp_connect(f->echo);
	assert_true(fd >= 0);
	assert_int_equal(send_str(fd, "healthy\n"), 0);
	assert_int_equal(expect_line(fd, "healthy\n"), 0);
	close(fd);
}

void
fix_error_line(struct fix *f, int port, char *out, size_t len)
{
	char needle[64];

	snprintf(needle, sizeof(needle), "test: peer 127.0.0.1:%d:", port);
	if (sd_log_lines_wait(&f->d, needle, NULL, 1, 5000) < 1)
		fail_msg("no error logged for port %d", port);
	sd_log_line(&f->d, needle, out, len);
}

static const char *
ctl_binary(void)
{
	const char *b = getenv("SUPERCTL");

	return b && *b ? b : "./superctl";
}

int
sd_superctl(struct superd *d, char *out, size_t len, const char **args)
{
	char *argv[16], path[256];
	int i = 0, rc;

	argv[i++] = (char *)ctl_binary();
	for (; *args && i < 15; args++)
		argv[i++] = (char *)*args;
	argv[i] = NULL;
	snprintf(path, sizeof(path), "%s/ctl.out", d->dir);
	rc = run_for(argv, path, 45000);
	read_text(path, out, len);
	return rc;
}
