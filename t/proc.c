/* proc.c - other processes: the clock, a program run to its end, /proc. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proc.h"
#include "sock.h"

pid_t
proc_spawn(char *const argv[], int errfd)
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

pid_t
proc_spawn_logged(char *const argv[], const char *logpath)
{
	int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0644);
	pid_t pid;

	if (fd < 0)
		return -1;
	pid = proc_spawn(argv, fd);
	close(fd);
	return pid;
}

void
proc_stop(pid_t pid)
{
	int status;

	if (pid > 0) {
		kill(pid, SIGTERM);
		waitpid(pid, &status, 0);
	}
}

pid_t
redis_start(const char *dir, int port, const char *password)
{
	char p[16], log[256],
	    *argv[12] = {REDIS_SERVER, "--port", p, "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", NULL};
	pid_t pid;

	snprintf(p, sizeof(p), "%d", port);
	snprintf(log, sizeof(log), "%s/redis-%d.log", dir, port);
	if (password) {
		argv[9] = "--requirepass";
		argv[10] = (char *)password;
	}
	pid = proc_spawn_logged(argv, log);
	if (pid > 0 && wait_port(port, 3000) != 0) {
		proc_stop(pid);
		pid = -1;
	}
	return pid;
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
	pid = proc_spawn(argv, fd);
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
run_text(const char *cmd, char *out, size_t len)
{
	FILE *p = popen(cmd, "r");
	size_t n;

	assert_non_null(p);
	n = fread(out, 1, len - 1, p);
	out[n] = '\0';
	pclose(p);
}

void
assert_has(const char *s, const char *needle)
{
	if (strstr(s, needle) == NULL)
		fail_msg("\"%s\" not in:\n%s", needle, s);
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
proc_fd_settled(pid_t pid)
{
	int n, last = -1, same = 0, i;

	for (i = 0; i < 100 && same < 3; i++) {
		n = proc_fd_count(pid);
		same = n == last ? same + 1 : 0;
		last = n;
		usleep(100000);
	}
	return last;
}
