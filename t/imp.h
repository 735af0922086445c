/* imp.h - superd -I in a test: its output and errors, then put to use. */
#ifndef SUPERD_T_IMP_H
#define SUPERD_T_IMP_H

#include <stddef.h>

#include "sd.h"

/* superd -I path: stdout into out, stderr into err; the exit status. */
int imp_run(struct superd *d, const char *path, char *out, size_t len,
    char *err, size_t elen);
/* The first from in text (cap bytes in all) becomes to; fails without. */
void imp_subst(char *text, size_t cap, const char *from, const char *to);
/*
 * text, the output of -I, as d->conf: its script_dir the repository's
 * services/, shutdown_timeout 1.
 */
void imp_use(struct superd *d, char *text, size_t cap);
/* superd -t -c d->conf: 0, or -1 with its output in out. */
int imp_check(struct superd *d, char *out, size_t len);

#endif
