/*
 * reexec.h - the binary upgrade's two ends in plain C: starting the
 * binary now at superd's own path with the listening sockets, and, in
 * the process so started, telling its predecessor how its start went.
 */
#ifndef SUPERD_REEXEC_H
#define SUPERD_REEXEC_H

/* Seconds a successor has to serve before it gives up (and is given up). */
#define REEXEC_TIMEOUT 30

/* The environment variable naming the successor's end of the pipe. */
#define REEXEC_ENV "SUPERD_UPGRADE_FD"

/* The most descriptors an upgrade hands over. */
#define REEXEC_MAX_FDS 1024

int reexec_save(const char *conf_path, const char *pidfile, int background);
int reexec_start(const int stdio[3], const int *fds, int n, int ready);

int reexec_init(void);
int reexec_successor(void);
void reexec_failed(const char *why);
int reexec_serving(void);

#endif
