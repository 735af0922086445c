/* client.h - what integration tests share: a real superd and a client. */
#ifndef SUPERD_T_CLIENT_H
#define SUPERD_T_CLIENT_H

#include <stddef.h>
#include <sys/types.h>

struct superd {
	pid_t pid;
	int status;	/* waitpid's, once sd_start or sd_alive saw it exit */
	char dir[128];	/* temporary directory: config, scripts, log */
	char conf[192]; /* its superd.conf */
	char log[192];	/* superd's stderr */
};

long now_ms(void);

/* cmocka fixtures: *state becomes a struct superd, ready for sd_write. */
int sd_setup(void **state);
int sd_teardown(void **state);
int sd_setup_bare(void **state);
int sd_sanitized(void);

/*
 * What /proc says of a process: VmRSS in kB, open descriptors, and the
 * seconds it has spent runnable but waiting for a CPU (schedstat's
 * run_delay), or -1.
 */
long proc_rss_kb(pid_t pid);
int proc_fd_count(pid_t pid);
double proc_waited(pid_t pid);

/* A port free on 127.0.0.1 for both TCP and UDP (the kernel picks). */
int free_port(void);

/* Makes d->dir; then files go in with sd_write (name relative to dir). */
void sd_init(struct superd *d);
void sd_write(struct superd *d, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Starts $SUPERD (default ./superd) -c d->conf; waits until port accepts. */
int sd_start(struct superd *d, int port);
/* One service "name" running script as t.lua, with extra settings, on a
 * free loopback port (tried again if another process takes it): the port,
 * or -1 with d->log kept. */
int sd_serve(
    struct superd *d, const char *name, const char *extra, const char *script);
/* Runs superd with the given arguments to the end; output in *out. */
int sd_run(struct superd *d, char *out, size_t len, const char *arg1, ...);
int sd_signal(struct superd *d, int sig);
/* 1 while superd runs; 0 once it has exited, with d->status set. */
int sd_alive(struct superd *d);
/* SIGTERM, then wait up to 10 s; the exit status, or -1 (then SIGKILL). */
int sd_stop(struct superd *d);
/* Waits up to ms for needle to appear n times in the log; the count seen. */
int sd_log_wait(struct superd *d, const char *needle, int n, int ms);
int sd_log_count(struct superd *d, const char *needle);
/* The first log line holding needle, without its '\n': 0, or -1 (none). */
int sd_log_line(struct superd *d, const char *needle, char *out, size_t len);
void sd_cleanup(struct superd *d);

/*
 * Socket activation as systemd does it: superd -c d->conf with fd3 (and
 * fd4 unless it is -1) as descriptors 3 and 4, LISTEN_PID its own pid.
 * Returns its pid; the caller waits for it.
 */
pid_t sd_start_activated(struct superd *d, int fd3, int fd4);
/* A socket of type bound to 127.0.0.1:port (listening for TCP), or -1. */
int listen_local(int port, int type);

/* Clients: each call is bounded by ms and returns -1 on timeout/error. */
int tcp_connect(int port);
/* From src (NULL: any), with SO_RCVBUF rcvbuf (0: default) set before the
 * connect, so the window starts small; sends time out after 5 s. */
int tcp_connect_from(const char *src, int port, int rcvbuf);
int send_all(int fd, const void *buf, size_t len);
int send_str(int fd, const char *s);
/* Reads until n bytes, EOF or timeout; returns the count read. */
ssize_t recv_n(int fd, void *buf, size_t n, int ms);
/* One line with its '\n' (NUL-terminated); the length, 0 on EOF. */
ssize_t recv_line(int fd, char *buf, size_t max, int ms);
/* Lines from a socket, buffered, so short lines cost few syscalls. */
struct lines {
	int fd;
	size_t len; /* bytes in buf not yet handed out */
	char buf[65536];
};
/*
 * The next line with its '\n' (NUL-terminated) within ms (0: only what
 * has come): its length, 0 when none came in time, -1 on EOF, error, or a
 * line longer than max or buf.
 */
ssize_t lines_next(struct lines *r, char *out, size_t max, int ms);
/* Everything until EOF. */
ssize_t recv_all(int fd, void *buf, size_t max, int ms);
/* The local port of a socket (IPv4 or IPv6), or -1. */
int local_port(int fd);
/*
 * One datagram to 127.0.0.1:port from a fresh socket; the answer's
 * length (NUL-terminated in reply), or -1 when none came within ms.
 */
ssize_t udp_exchange(
    int port, const char *msg, char *reply, size_t max, int ms);
/* Closes with an RST instead of a FIN. */
void reset_close(int fd);
/* 1 when the peer closed (EOF or reset) within ms, 0 otherwise. */
int wait_closed(int fd, int ms);
/* 1 when no data arrives within ms. */
int quiet_for(int fd, int ms);
/* 0 when the next line is want (with its '\n'). */
int expect_line(int fd, const char *want);
/* Logs in to a chat as name: the connected fd, or -1. */
int chat_join(int port, const char *name);
/* The same on a connected fd (-1 passes through; closed on failure). */
int chat_login(int fd, const char *name);

#endif
