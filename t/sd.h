/* sd.h - a real superd: its directory and config, its run, its log. */
#ifndef SUPERD_T_SD_H
#define SUPERD_T_SD_H

#include <stddef.h>
#include <sys/types.h>

struct superd {
	pid_t pid;
	int status;	/* waitpid's, once sd_start or sd_alive saw it exit */
	char dir[128];	/* temporary directory: config, scripts, log */
	char conf[192]; /* its superd.conf */
	char log[192];	/* superd's stderr */
};

/* The repository's root (the tests run from it), and $SUPERD or ./superd. */
const char *sd_repo(void);
const char *sd_binary(void);

/* cmocka fixtures: *state becomes a struct superd, ready for sd_write. */
int sd_setup(void **state);
int sd_teardown(void **state);
int sd_setup_bare(void **state);
int sd_sanitized(void);

/* Makes d->dir; then files go in with sd_write (name relative to dir). */
void sd_init(struct superd *d);
void sd_write(struct superd *d, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/*
 * superd.conf for the shipped scripts: the log on stderr, script_dir the
 * repository's services/, the global lines, then the services (fmt, each
 * "{ ... }", separated by commas).
 */
void sd_conf(struct superd *d, const char *globals, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Starts $SUPERD (default ./superd) -c d->conf; waits until port accepts. */
int sd_start(struct superd *d, int port);
/* sd_start, or the test fails with superd's log on stderr (d cleaned up). */
void sd_started(struct superd *d, int port);
/*
 * The shipped services/name.lua as service "name" on 127.0.0.1:port, its
 * options the shipped quotes, with the extra settings and shutdown_timeout
 * 1: started.
 */
void sd_start_shipped(
    struct superd *d, const char *name, int port, const char *extra);
/* One service "name" running script as t.lua, with extra settings, on a
 * free loopback port (tried again if another process takes it): the port,
 * or -1 with d->log kept. */
int sd_serve(
    struct superd *d, const char *name, const char *extra, const char *script);
/* sd_serve, or the test fails as sd_started does: the port. */
int sd_served(
    struct superd *d, const char *name, const char *extra, const char *script);
/* Runs superd with the given arguments to the end; output in *out. */
int sd_run(struct superd *d, char *out, size_t len, const char *arg1, ...);
int sd_signal(struct superd *d, int sig);
/* 1 while superd runs; 0 once it has exited, with d->status set. */
int sd_alive(struct superd *d);
/* Fails the test unless superd still runs (after: what it survived). */
void assert_alive(struct superd *d, const char *after);
/* SIGTERM, then wait up to 10 s; the exit status, or -1 (then SIGKILL). */
int sd_stop(struct superd *d);
/* Waits up to ms for needle to appear n times in the log; the count seen. */
int sd_log_wait(struct superd *d, const char *needle, int n, int ms);
int sd_log_count(struct superd *d, const char *needle);
/* The first log line holding needle, without its '\n': 0, or -1 (none). */
int sd_log_line(struct superd *d, const char *needle, char *out, size_t len);
/* The same, waiting up to ms for the line to come. */
int sd_log_wait_line(
    struct superd *d, const char *needle, char *out, size_t len, int ms);
/* The log lines holding a and (when not NULL) b; waits up to ms for n. */
int sd_log_lines(struct superd *d, const char *a, const char *b);
int sd_log_lines_wait(
    struct superd *d, const char *a, const char *b, int n, int ms);
void sd_cleanup(struct superd *d);

/*
 * Socket activation as systemd does it: superd -c d->conf with fd3 (and
 * fd4 unless it is -1) as descriptors 3 and 4, LISTEN_PID its own pid.
 * Returns its pid; the caller waits for it.
 */
pid_t sd_start_activated(struct superd *d, int fd3, int fd4);

#endif
