/* devnull.h - a process's standard descriptors pointed at /dev/null. */
#ifndef SUPERD_DEVNULL_H
#define SUPERD_DEVNULL_H

int devnull_stdio(void);

#endif
