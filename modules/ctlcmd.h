/* ctlcmd.h - what superctl's requests do, for the control socket. */
#ifndef SUPERD_CTLCMD_H
#define SUPERD_CTLCMD_H

struct buf;

/* The daemon's SIGHUP and SIGUSR1: 0, or -1; what they did in report. */
typedef int ctlcmd_reload_fn(struct buf *report);

struct ctlcmd_reloads {
	ctlcmd_reload_fn *config;  /* superctl reload */
	ctlcmd_reload_fn *scripts; /* superctl reload-scripts */
	ctlcmd_reload_fn *upgrade; /* superctl upgrade: CONTROL_LATER */
};

void ctlcmd_init(const struct ctlcmd_reloads *r);
int ctlcmd_run(const char *request, struct buf *out);

#endif
