/* log.c - one line per event, to stderr or syslog. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static int log_where = LOG_TO_STDERR;
static int log_max = LOG_INFO;
static char tag[16]; /* "/2" in worker 2 */

static const char *const level_names[] = {
    "emerg",
    "alert",
    "crit",
    "error",
    "warning",
    "notice",
    "info",
    "debug",
};

void
log_open(int where, int level)
{
	if (log_where == LOG_TO_SYSLOG && where != LOG_TO_SYSLOG)
		closelog();
	if (where == LOG_TO_SYSLOG && log_where != LOG_TO_SYSLOG)
		openlog("superd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	log_where = where;
	log_max = level;
}

/*
 * Without a syslog daemon (no _PATH_LOG, "/dev/log", as in many
 * containers) syslog(3) drops every line without a word: whoever started
 * superd is told once, on the stderr it still has.
 */
void
log_warn_unheard(void)
{
	if (log_where == LOG_TO_SYSLOG && access(_PATH_LOG, F_OK) < 0)
		fprintf(stderr,
		    "superd: warning: the log goes to syslog but %s is "
		    "absent: its lines will be lost (set log = \"stderr\" "
		    "or start a syslog daemon)\n",
		    _PATH_LOG);
}

/* Returns the syslog priority for a level name, or -1. */
int
log_level_parse(const char *name)
{
	int i;

	for (i = 0; i < 8; i++)
		if (strcmp(name, level_names[i]) == 0)
			return i;
	return -1;
}

void
log_tag(int worker)
{
	snprintf(tag, sizeof(tag), "/%d", worker);
}

int
log_enabled(int level)
{
	return level <= log_max;
}

/* Under systemd the journal stamps each line itself. */
static int
journal(void)
{
	static int known, yes;

	if (!known) {
		yes = getenv("JOURNAL_STREAM") != NULL;
		known = 1;
	}
	return yes;
}

/*
 * One write per line: several workers share this stderr, and lines
 * written in pieces would splice into each other.
 */
static void
log_stderr(int level, const char *fmt, va_list ap)
{
	char line[8192], when[32];
	struct timespec ts;
	struct tm tm;
	int n = 0;

	if (journal()) {
		n = snprintf(line, sizeof(line), "<%d>superd%s[%s]: ", level,
		    tag, level_names[level]);
	} else {
		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
		n = snprintf(line, sizeof(line),
		    "%s.%03ld superd%s[%s]: ", when, ts.tv_nsec / 1000000, tag,
		    level_names[level]);
	}
	n += vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	if (n > (int)sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	fflush(stderr);
	if (write(STDERR_FILENO, line, n) < 0)
		return;
}

void
log_msg(int level, const char *fmt, ...)
{
	va_list ap;

	if (!log_enabled(level))
		return;
	va_start(ap, fmt);
	if (log_where == LOG_TO_SYSLOG)
		vsyslog(level, fmt, ap);
	else
		log_stderr(level, fmt, ap);
	va_end(ap);
}
