/* master.h - workers = N: fork, supervise, forward signals, drain. */
#ifndef SUPERD_MASTER_H
#define SUPERD_MASTER_H

/* Runs worker number index (1..N) to its end; returns its exit status. */
typedef int master_worker_fn(int index);

/*
 * On SIGHUP, before it is passed on: workers started later see the news.
 * Returns the shutdown_timeout the master gives the workers from now on.
 */
typedef double master_hup_fn(void);

/* A worker tells its master it serves (listeners bound, scripts run). */
void master_worker_serving(void);

int master_run(
    int workers, double grace, master_worker_fn *fn, master_hup_fn *hup);

#endif
