/*
 * notify.h - systemd's notify protocol (sd_notify(3)) without libsystemd:
 * datagrams of NAME=value lines to $NOTIFY_SOCKET, when it is set.
 */
#ifndef SUPERD_NOTIFY_H
#define SUPERD_NOTIFY_H

/* Takes $NOTIFY_SOCKET out of the environment: 0, or -1 if unusable. */
int notify_init(void);
/* A forked worker: systemd hears only the process it started. */
void notify_forget(void);
/* Sends the lines fmt makes; nothing when there is no socket. */
void notify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* READY=1, MAINPID= and STATUS=status (made one line). */
void notify_ready(const char *status);
/* RELOADING=1 with the MONOTONIC_USEC= systemd wants beside it. */
void notify_reloading(void);

#endif
