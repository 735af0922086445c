/* detach.h - -d: the daemon's double fork, its starter told once it serves. */
#ifndef SUPERD_DETACH_H
#define SUPERD_DETACH_H

int detach(void);
void detach_done(void);

#endif
