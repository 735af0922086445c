/* master.h - workers = N: fork, supervise, forward signals, drain. */
#ifndef SUPERD_MASTER_H
#define SUPERD_MASTER_H

/* Runs worker number index (1..N) to its end; returns its exit status. */
typedef int master_worker_fn(int index);

int master_run(int workers, double grace, master_worker_fn *fn);

#endif
