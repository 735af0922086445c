/*
 * pidfile.h - the pid file: written once the daemon serves, removed when
 * it ends, even after it gave up the rights to.
 */
#ifndef SUPERD_PIDFILE_H
#define SUPERD_PIDFILE_H

int pidfile_write(const char *path);
int pidfile_keep_remover(void);
void pidfile_remove(void);

#endif
