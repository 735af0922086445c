/*
 * daemon.h - the daemon's life: start-up, -d and the pid file, signals,
 * the loop's turns, SIGHUP, shutdown; one process or the master's side.
 */
#ifndef SUPERD_DAEMON_H
#define SUPERD_DAEMON_H

struct conf;

/*
 * The master's test of a configuration re-read on SIGHUP: 0 when the
 * workers would take it, else -1, reporting nothing.
 */
typedef int daemon_check_fn(struct conf *c);

void daemon_init(
    struct conf *c, const char *conf_path, const char *pidfile, int background);
int daemon_run(void);
int daemon_master(daemon_check_fn *check);
void daemon_end(void);

#endif
