/* sd.c - a real superd: its directory and config, its run, its log. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proc.h"
#include "sd.h"
#include "sock.h"

const char *
sd_repo(void)
{
	static char repo[512];

	if (repo[0] == '\0' && getcwd(repo, sizeof(repo)) == NULL) {
		perror("getcwd");
		exit(1);
	}
	return repo;
}

const char *
sd_binary(void)
{
	const char *b = getenv("SUPERD");

	return b && *b ? b : "./superd";
}

void
sd_init(struct superd *d)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->dir, sizeof(d->dir), "/tmp/superd-test.XXXXXX");
	/* readable by all: superd started as root serves as nobody, who
	 * reads the configuration and scripts again on SIGHUP and SIGUSR1 */
	if (mkdtemp(d->dir) == NULL || chmod(d->dir, 0755) < 0) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(d->conf, sizeof(d->conf), "%s/superd.conf", d->dir);
	snprintf(d->log, sizeof(d->log), "%s/superd.log", d->dir);
}

void
sd_write(struct superd *d, const char *name, const char *fmt, ...)
{
	char path[512];
	va_list ap;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", d->dir, name);
	if ((f = fopen(path, "w")) == NULL) {
		perror(path);
		exit(1);
	}
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fclose(f);
}

void
sd_conf(struct superd *d, const char *globals, const char *fmt, ...)
{
	char body[8192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	sd_write(d, "superd.conf",
	    "log = \"stderr\";\n"
	    "script_dir = \"%s/services\";\n"
	    "%s\n"
	    "services = (\n%s\n);\n",
	    sd_repo(), globals, body);
}

/* $SUPERD is a sanitizer build (make sanitize). */
int
sd_sanitized(void)
{
	const char *b = getenv("SUPERD");

	return b != NULL && strstr(b, "asan") != NULL;
}

int
sd_start(struct superd *d, int port)
{
	char *argv[] = {(char *)sd_binary(), "-c", d->conf, NULL};
	long end = now_ms() + 10000;
	int fd, logfd, status;

	logfd = open(d->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
	d->pid = proc_spawn(argv, logfd);
	close(logfd);
	while (now_ms() < end) {
		if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
			d->status = status;
			d->pid = 0;
			return -1;
		}
		if ((fd = tcp_connect(port)) >= 0) {
			close(fd);
			return 0;
		}
		usleep(20000);
	}
	return -1;
}

/* What a test that could not start superd shows before it fails. */
static void
start_failed(struct superd *d)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "cat '%s' >&2", d->log);
	if (system(cmd) != 0)
		fprintf(stderr, "no log in %s\n", d->dir);
	sd_cleanup(d);
	fail_msg("superd did not start");
}

void
sd_started(struct superd *d, int port)
{
	if (sd_start(d, port) < 0)
		start_failed(d);
}

void
sd_start_shipped(
    struct superd *d, const char *name, int port, const char *extra)
{
	sd_conf(d, "shutdown_timeout = 1;",
	    "{ name = \"%s\"; port = %d; address = \"127.0.0.1\";"
	    " script = \"%s.lua\";"
	    " options = { quotes = \"%s/conf/quotes.txt\"; }; %s }",
	    name, port, name, sd_repo(), extra ? extra : "");
	sd_started(d, port);
}

int
sd_run(struct superd *d, char *out, size_t len, const char *arg1, ...)
{
	char *argv[16], path[512];
	int i = 0, fd, status;
	ssize_t n;
	va_list ap;
	pid_t pid;

	argv[i++] = (char *)sd_binary();
	va_start(ap, arg1);
	for (const char *a = arg1; a && i < 15; a = va_arg(ap, const char *))
		argv[i++] = (char *)a;
	va_end(ap);
	argv[i] = NULL;
	snprintf(path, sizeof(path), "%s/run.out", d->dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	pid = proc_spawn(argv, fd);
	if (waitpid(pid, &status, 0) < 0)
		status = -1;
	n = pread(fd, out, len - 1, 0);
	out[n > 0 ? n : 0] = '\0';
	close(fd);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int
sd_signal(struct superd *d, int sig)
{
	return d->pid > 0 ? kill(d->pid, sig) : -1;
}

int
sd_alive(struct superd *d)
{
	if (d->pid <= 0)
		return 0;
	if (waitpid(d->pid, &d->status, WNOHANG) != d->pid)
		return 1;
	d->pid = 0;
	return 0;
}

void
assert_alive(struct superd *d, const char *after)
{
	char cmd[512];

	if (sd_alive(d))
		return;
	snprintf(cmd, sizeof(cmd), "tail -n 30 '%s' >&2", d->log);
	if (system(cmd) != 0)
		fprintf(stderr, "see %s\n", d->log);
	fail_msg("superd died after %s: %s %d", after,
	    WIFSIGNALED(d->status) ? "signal" : "exit status",
	    WIFSIGNALED(d->status) ? WTERMSIG(d->status)
				   : WEXITSTATUS(d->status));
}

/* A sanitizer report in the daemon's log fails the test that ran it. */
static int
sanitizer_clean(struct superd *d)
{
	char cmd[256];

	if (sd_log_count(d, "Sanitizer") == 0 &&
	    sd_log_count(d, "runtime error:") == 0)
		return 1;
	snprintf(cmd, sizeof(cmd), "cat '%s' >&2", d->log);
	if (system(cmd) != 0)
		fprintf(stderr, "see %s\n", d->log);
	return 0;
}

int
sd_stop(struct superd *d)
{
	long end = now_ms() + 10000;
	int status;

	if (d->pid <= 0)
		return -1;
	kill(d->pid, SIGTERM);
	while (now_ms() < end) {
		if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
			d->pid = 0;
			if (!sanitizer_clean(d))
				return -2;
			return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		}
		usleep(10000);
	}

	kill(d->pid, SIGKILL);
	waitpid(d->pid, &status, 0);
	d->pid = 0;
	return -1;
}

int
sd_log_count(struct superd *d, const char *needle)
{
	char *buf, *p;
	int count = 0;
	size_t n;
	FILE *f;

	if ((f = fopen(d->log, "r")) == NULL)
		return 0;
	buf = malloc(1 << 22);
	n = fread(buf, 1, (1 << 22) - 1, f);
	buf[n] = '\0';
	fclose(f);
	for (p = buf; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		count++;
	free(buf);
	return count;
}

int
sd_log_wait(struct superd *d, const char *needle, int n, int ms)
{
	long end = now_ms() + ms;
	int seen;

	while ((seen = sd_log_count(d, needle)) < n && now_ms() < end)
		usleep(10000);
	return seen;
}

/*
 * One service "name" running t.lua (script) with extra settings, on a
 * free port: its port, or -1.  Another process may take the port between
 * free_port() and superd's bind: then it tries again on a new port.
 */
int
sd_serve(
    struct superd *d, const char *name, const char *extra, const char *script)
{
	int port, tries;

	for (tries = 0; tries < 3; tries++) {
		port = free_port();
		sd_init(d);
		sd_write(d, "t.lua", "%s", script);
		sd_write(d, "superd.conf",
		    "services = ({ name = \"%s\"; port = %d;"
		    " address = \"127.0.0.1\"; script = \"t.lua\"; %s });\n",
		    name, port, extra);
		if (sd_start(d, port) == 0)
			return port;
		if (sd_log_count(d, "already in use") == 0)
			break;
		sd_cleanup(d);
	}
	return -1;
}

int
sd_served(
    struct superd *d, const char *name, const char *extra, const char *script)
{
	int port = sd_serve(d, name, extra, script);

	if (port < 0)
		start_failed(d);
	return port;
}

int
sd_log_line(struct superd *d, const char *needle, char *out, size_t len)
{
	FILE *f = fopen(d->log, "r");
	char *line = NULL;
	size_t cap = 0;
	int rc = -1;

	out[0] = '\0';
	while (f != NULL && rc < 0 && getline(&line, &cap, f) > 0)
		if (strstr(line, needle)) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(out, len, "%s", line);
			rc = 0;
		}
	free(line);
	if (f != NULL)
		fclose(f);
	return rc;
}

int
sd_log_wait_line(
    struct superd *d, const char *needle, char *out, size_t len, int ms)
{
	if (sd_log_wait(d, needle, 1, ms) < 1) {
		out[0] = '\0';
		return -1;
	}
	return sd_log_line(d, needle, out, len);
}

int
sd_log_lines(struct superd *d, const char *a, const char *b)
{
	FILE *f = fopen(d->log, "r");
	char *line = NULL;
	size_t cap = 0;
	int n = 0;

	if (f == NULL)
		return 0;
	while (getline(&line, &cap, f) > 0)
		if (strstr(line, a) && (b == NULL || strstr(line, b)))
			n++;
	free(line);
	fclose(f);
	return n;
}

int
sd_log_lines_wait(struct superd *d, const char *a, const char *b, int n, int ms)
{
	long end = now_ms() + ms;
	int seen;

	while ((seen = sd_log_lines(d, a, b)) < n && now_ms() < end)
		usleep(5000);
	return seen;
}

void
sd_cleanup(struct superd *d)
{
	char cmd[256];

	if (d->pid > 0)
		sd_stop(d);
	if (getenv("KEEP_TEST_DIRS") == NULL && d->dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", d->dir);
	}
}

int
sd_setup(void **state)
{
	struct superd *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return -1;
	sd_init(d);
	*state = d;
	return 0;
}

/* As sd_setup, without the directory: for tests that start with sd_serve. */
int
sd_setup_bare(void **state)
{
	return (*state = calloc(1, sizeof(struct superd))) ? 0 : -1;
}

int
sd_teardown(void **state)
{
	struct superd *d = *state;

	sd_cleanup(d);
	free(d);
	return 0;
}

pid_t
sd_start_activated(struct superd *d, int fd3, int fd4)
{
	char pid[32];
	pid_t p;
	int log = open(d->log, O_WRONLY | O_CREAT | O_APPEND, 0644);

	if ((p = fork()) != 0) {
		close(log);
		return p;
	}
	/* out of the way first, so neither lands on the other */
	fd3 = fcntl(fd3, F_DUPFD, 10);
	fd4 = fd4 >= 0 ? fcntl(fd4, F_DUPFD, 10) : -1;
	dup2(log, 2);
	dup2(fd3, 3);
	if (fd4 >= 0)
		dup2(fd4, 4);
	close_range(fd4 >= 0 ? 5 : 4, ~0U, 0); /* none of the test's own */
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	setenv("LISTEN_PID", pid, 1);
	setenv("LISTEN_FDS", fd4 >= 0 ? "2" : "1", 1);
	execl(sd_binary(), "superd", "-c", d->conf, (char *)NULL);
	_exit(127);
}
