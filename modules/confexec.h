/* confexec.h - an exec service's own settings: argv0, environment, limits. */
#ifndef SUPERD_CONFEXEC_H
#define SUPERD_CONFEXEC_H

#include <libconfig.h>
#include <stddef.h>

struct svc_conf;

/*
 * The settings of service group g that only an exec service may have, into
 * v (after "exec" is known): 0, or -1 with "FILE:LINE: ..." in err.  The
 * file is libconfig's, relative to dir, or file when libconfig names none.
 */
int confexec_load(const config_setting_t *g, struct svc_conf *v,
    const char *file, const char *dir, char *err, size_t len);
void confexec_free(struct svc_conf *v);

#endif
