/* client.c - what integration tests share: a real superd and a client. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include "client.h"

long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

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

static int
bind_any(int type, int port)
{
	struct sockaddr_in a = {0};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, type, 0);

	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(port);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

/* Never the same port twice in one test program: two services of one
 * test would otherwise clash now and then. */
int
free_port(void)
{
	static int given[256], ngiven;
	int i, j, port;

	for (i = 0; i < 100; i++) {
		port = bind_any(SOCK_STREAM, 0);
		for (j = 0; j < ngiven && given[j] != port; j++)
			;
		if (port > 0 && j == ngiven &&
		    bind_any(SOCK_DGRAM, port) == port) {
			given[ngiven++ % 256] = port;
			if (ngiven > 256)
				ngiven = 256;
			return port;
		}
	}
	return -1;
}

void
sd_init(struct superd *d)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->dir, sizeof(d->dir), "/tmp/superd-test.XXXXXX");
	if (mkdtemp(d->dir) == NULL) {
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

static pid_t
spawn(char *const argv[], int errfd)
{
	pid_t pid = fork();

	if (pid == 0) {
		dup2(errfd, 2);
		dup2(errfd, 1);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
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
	d->pid = spawn(argv, logfd);
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

/* The whole run of argv to its end, bounded by ms: exit status or -1. */
int
run_for(char *const argv[], const char *outpath, int ms)
{
	long end = now_ms() + ms;
	int fd, status;
	pid_t pid;

	fd = open(outpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return -1;
	pid = spawn(argv, fd);
	close(fd);
	if (pid < 0)
		return -1;
	while (now_ms() < end) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

void
read_text(const char *path, char *out, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n = 0;

	if (f != NULL) {
		n = fread(out, 1, len - 1, f);
		fclose(f);
	}
	out[n] = '\0';
}

void
assert_has(const char *s, const char *needle)
{
	if (strstr(s, needle) == NULL)
		fail_msg("\"%s\" not in:\n%s", needle, s);
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
	pid = spawn(argv, fd);
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

/* From src (NULL: any), with SO_RCVBUF rcvbuf (0: default); 5 s bound. */
int
tcp_connect_from(const char *src, int port, int rcvbuf)
{
	struct timeval tv = {5, 0};
	struct sockaddr_in a = {0};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (rcvbuf > 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	a.sin_family = AF_INET;
	if (src != NULL && (inet_pton(AF_INET, src, &a.sin_addr) != 1 ||
			       bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0))
		goto fail;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(port);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		goto fail;
	return fd;
fail:
	close(fd);
	return -1;
}

/* ip (IPv4 or IPv6) and port as a socket address: its length, or 0. */
static socklen_t
make_addr(const char *ip, int port, struct sockaddr_storage *ss)
{
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, ip, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons(port);
		return sizeof(*a4);
	}
	if (inet_pton(AF_INET6, ip, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(port);
		return sizeof(*a6);
	}
	return 0;
}

int
tcp_connect_to(const char *ip, int port)
{
	struct sockaddr_storage to;
	socklen_t tolen = make_addr(ip, port, &to);
	int fd = socket(to.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&to, tolen) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int
connect_ok(int port)
{
	int fd = tcp_connect(port);

	assert_true(fd >= 0);
	return fd;
}

int
wait_port(int port, int ms)
{
	long end = now_ms() + ms;
	int fd;

	do {
		if ((fd = tcp_connect(port)) >= 0) {
			close(fd);
			return 0;
		}
		usleep(20000);
	} while (now_ms() < end);
	return -1;
}

int
tcp_connect(int port)
{
	struct sockaddr_in a = {0};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(port);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

int
send_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

int
send_str(int fd, const char *s)
{
	return send_all(fd, s, strlen(s));
}

/* Waits for input; 1 readable, 0 timed out. */
static int
readable(int fd, long end)
{
	struct pollfd p = {fd, POLLIN, 0};
	long left = end - now_ms();

	if (left < 0)
		left = 0;
	return poll(&p, 1, (int)left) > 0;
}

ssize_t
recv_n(int fd, void *buf, size_t n, int ms)
{
	long end = now_ms() + ms;
	size_t got = 0;
	ssize_t r;

	while (got < n && readable(fd, end)) {
		r = recv(fd, (char *)buf + got, n - got, 0);
		if (r <= 0)
			break;
		got += r;
	}
	return got;
}

ssize_t
recv_line(int fd, char *buf, size_t max, int ms)
{
	long end = now_ms() + ms;
	size_t got = 0;

	while (got + 1 < max && readable(fd, end)) {
		if (recv(fd, buf + got, 1, 0) != 1)
			break;
		if (buf[got++] == '\n')
			break;
	}
	buf[got] = '\0';
	return got;
}

ssize_t
recv_all(int fd, void *buf, size_t max, int ms)
{
	long end = now_ms() + ms;
	size_t got = 0;
	ssize_t r;

	while (got < max && readable(fd, end)) {
		r = recv(fd, (char *)buf + got, max - got, 0);
		if (r <= 0)
			return got;
		got += r;
	}
	return got < max ? -1 : (ssize_t)got;
}

void
expect_all(int fd, const char *want, int ms)
{
	char buf[4096];
	ssize_t n = recv_all(fd, buf, sizeof(buf) - 1, ms);

	if (n < 0)
		fail_msg(
		    "still open after %d ms, want \"%s\" then EOF", ms, want);
	buf[n] = '\0';
	assert_string_equal(buf, want);
}

ssize_t
ask_bytes(
    int port, const void *data, size_t len, char *reply, size_t max, int ms)
{
	int fd = tcp_connect(port);
	ssize_t n;

	reply[0] = '\0';
	if (fd < 0)
		return -1;
	if (send_all(fd, data, len) < 0)
		n = -1;
	else
		n = recv_line(fd, reply, max, ms);
	close(fd);
	return n;
}

ssize_t
ask(int port, const char *line, char *reply, size_t max, int ms)
{
	return ask_bytes(port, line, strlen(line), reply, max, ms);
}

int
mode_conn(int port, const char *mode)
{
	char buf[64];
	int fd = tcp_connect(port);

	assert_true(fd >= 0);
	snprintf(buf, sizeof(buf), "%s\n", mode);
	assert_int_equal(send_str(fd, buf), 0);
	snprintf(buf, sizeof(buf), "mode %s\n", mode);
	assert_int_equal(expect_line(fd, buf), 0);
	return fd;
}

int
served(int fd)
{
	char buf[16];

	if (fd < 0 || send_str(fd, "ping\n") < 0)
		return 0;
	return recv_line(fd, buf, sizeof(buf), 2000) == 5 &&
	       strcmp(buf, "ping\n") == 0;
}

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

ssize_t
lines_next(struct lines *r, char *out, size_t max, int ms)
{
	long end = now_ms() + ms;
	char *nl;
	ssize_t got;
	size_t n;

	while ((nl = memchr(r->buf, '\n', r->len)) == NULL) {
		if (r->len == sizeof(r->buf))
			return -1;
		got = recv(r->fd, r->buf + r->len, sizeof(r->buf) - r->len,
		    MSG_DONTWAIT);
		if (got > 0)
			r->len += got;
		else if (got == 0 || (errno != EAGAIN && errno != EINTR))
			return -1;
		else if (!readable(r->fd, end))
			return 0;
	}
	n = nl - r->buf + 1;
	if (n >= max)
		return -1;
	memcpy(out, r->buf, n);
	out[n] = '\0';
	memmove(r->buf, r->buf + n, r->len - n);
	r->len -= n;
	return n;
}

int
wait_closed(int fd, int ms)
{
	long end = now_ms() + ms;
	char buf[4096];
	ssize_t r;

	while (readable(fd, end)) {
		r = recv(fd, buf, sizeof(buf), 0);
		if (r <= 0)
			return 1;
	}
	return 0;
}

int
quiet_for(int fd, int ms)
{
	return !readable(fd, now_ms() + ms);
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

long
proc_rss_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

double
proc_waited(pid_t pid)
{
	char path[64];
	unsigned long long run, wait;
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fscanf(f, "%llu %llu", &run, &wait);
	fclose(f);
	return n == 2 ? wait / 1e9 : -1;
}

double
proc_cpu_s(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY)) < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
		&ut, &st) != 2)
		return -1;
	return (double)(ut + st) / sysconf(_SC_CLK_TCK);
}

int
proc_fd_count(pid_t pid)
{
	char path[64];
	struct dirent *e;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

int
expect_line(int fd, const char *want)
{
	char line[8192];

	if (recv_line(fd, line, sizeof(line), 3000) <= 0 ||
	    strcmp(line, want) != 0) {
		fprintf(stderr, "expected \"%s\", got \"%s\"\n", want, line);
		return -1;
	}
	return 0;
}

int
chat_join(int port, const char *name)
{
	return chat_login(tcp_connect(port), name);
}

int
chat_login(int fd, const char *name)
{
	char prompt[32];

	if (fd < 0)
		return -1;
	if (recv_n(fd, prompt, 18, 3000) != 18 ||
	    memcmp(prompt, "Handle you go by: ", 18) != 0 ||
	    send_str(fd, name) < 0 || send_str(fd, "\n") < 0 ||
	    expect_line(fd, "You are in the room.\n") < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int
listen_local(int port, int type)
{
	struct sockaddr_in a = {0};
	int fd = socket(AF_INET, type, 0), on = 1;

	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(port);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    (type == SOCK_STREAM && listen(fd, 16) < 0)) {
		close(fd);
		return -1;
	}
	return fd;
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

int
local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -1;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

int
udp_open(const char *ip, int port, int reuse)
{
	struct sockaddr_storage a;
	socklen_t alen = make_addr(ip, port, &a);
	int fd = socket(a.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0), on = 1;

	if (fd < 0)
		return -1;
	if ((reuse && setsockopt(
			  fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) < 0) ||
	    bind(fd, (struct sockaddr *)&a, alen) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int
udp_send(int fd, const char *ip, int port, const void *msg, size_t len)
{
	struct sockaddr_storage to;
	socklen_t tolen = make_addr(ip, port, &to);

	return sendto(fd, msg, len, 0, (struct sockaddr *)&to, tolen) ==
		       (ssize_t)len
		   ? 0
		   : -1;
}

ssize_t
udp_recv(int fd, void *buf, size_t max, int ms)
{
	ssize_t n;

	if (!readable(fd, now_ms() + ms))
		return -1;
	n = recv(fd, buf, max - 1, 0);
	((char *)buf)[n > 0 ? n : 0] = '\0';
	return n;
}

ssize_t
udp_ask(int fd, const char *ip, int port, const void *msg, size_t len,
    void *reply, size_t max, int ms)
{
	if (udp_send(fd, ip, port, msg, len) < 0)
		return -1;
	return udp_recv(fd, reply, max, ms);
}

ssize_t
udp_exchange(
    int port, const void *msg, size_t len, void *reply, size_t max, int ms)
{
	int fd = udp_open("127.0.0.1", 0, 0);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = udp_ask(fd, "127.0.0.1", port, msg, len, reply, max, ms);
	close(fd);
	return n;
}

void
reset_close(int fd)
{
	struct linger l = {1, 0};

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(fd);
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
