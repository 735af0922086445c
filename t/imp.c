/* imp.c - superd -I in a test: its output and errors, then put to use. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "imp.h"
#include "proc.h"

int
imp_run(struct superd *d, const char *path, char *out, size_t len, char *err,
    size_t elen)
{
	char op[256], ep[256];
	int o, e, status;
	pid_t pid;

	snprintf(op, sizeof(op), "%s/import.out", d->dir);
	snprintf(ep, sizeof(ep), "%s/import.err", d->dir);
	o = open(op, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	e = open(ep, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if ((pid = fork()) == 0) {
		dup2(o, 1);
		dup2(e, 2);
		execl(sd_binary(), "superd", "-I", path, (char *)NULL);
		_exit(127);
	}
	close(o);
	close(e);
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return -1;
	read_text(op, out, len);
	read_text(ep, err, elen);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void
imp_subst(char *text, size_t cap, const char *from, const char *to)
{
	char *at = strstr(text, from);
	size_t tail;

	if (at == NULL)
		fail_msg("\"%s\" not in:\n%s", from, text);
	tail = strlen(at + strlen(from));
	if (at - text + strlen(to) + tail + 1 > cap)
		fail_msg("no room to put \"%s\" for \"%s\"", to, from);
	memmove(at + strlen(to), at + strlen(from), tail + 1);
	memcpy(at, to, strlen(to));
}

void
imp_use(struct superd *d, char *text, size_t cap)
{
	char *line = strstr(text, "script_dir = \""), old[512], new[512];

	if (line == NULL)
		fail_msg("no script_dir in:\n%s", text);
	snprintf(old, sizeof(old), "%.*s", (int)strcspn(line, "\n"), line);
	snprintf(new, sizeof(new),
	    "script_dir = \"%s/services\";\nshutdown_timeout = 1;", sd_repo());
	imp_subst(text, cap, old, new);
	sd_write(d, "superd.conf", "%s", text);
}

int
imp_check(struct superd *d, char *out, size_t len)
{
	return sd_run(d, out, len, "-t", "-c", d->conf, NULL) == 0 ? 0 : -1;
}
