/* log.h - one line per event, to stderr or syslog. */
#ifndef SUPERD_LOG_H
#define SUPERD_LOG_H

#include <syslog.h>

#define LOG_TO_STDERR 0
#define LOG_TO_SYSLOG 1

void log_open(int where, int level);
int log_level_parse(const char *name);
int log_enabled(int level);
void log_tag(int worker);
void log_warn_unheard(void);
void log_msg(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
