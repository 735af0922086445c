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
/* The repository's root (the tests run from it), and $SUPERD or ./superd. */
const char *sd_repo(void);
const char *sd_binary(void);

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
/* utime + stime, in seconds, or -1. */
double proc_cpu_s(pid_t pid);

/* A port free on 127.0.0.1 for both TCP and UDP (the kernel picks). */
int free_port(void);

/* Makes d->dir; then files go in with sd_write (name relative to dir). */
void sd_init(struct superd *d);
void sd_write(struct superd *d, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/*
 * superd.conf for the shipped scripts: the log on stderr, script_dir the
 * repository's services/, the global lines, then the services (fmt, each
 * "{ ... }", separated by commas).
 */
void sd_conf(struct superd *d, const char *globals, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Starts $SUPERD (default ./superd) -c d->conf; waits until port accepts. */
int sd_start(struct superd *d, int port);
/* sd_start, or the test fails with superd's log on stderr (d cleaned up). */
void sd_started(struct superd *d, int port);
/*
 * The shipped services/name.lua as service "name" on 127.0.0.1:port, its
 * options the shipped quotes, with the extra settings and shutdown_timeout
 * 1: started.
 */
void sd_start_shipped(
    struct superd *d, const char *name, int port, const char *extra);
/* One service "name" running script as t.lua, with extra settings, on a
 * free loopback port (tried again if another process takes it): the port,
 * or -1 with d->log kept. */
int sd_serve(
    struct superd *d, const char *name, const char *extra, const char *script);
/* sd_serve, or the test fails as sd_started does: the port. */
int sd_served(
    struct superd *d, const char *name, const char *extra, const char *script);
/* Runs superd with the given arguments to the end; output in *out. */
int sd_run(struct superd *d, char *out, size_t len, const char *arg1, ...);
int sd_signal(struct superd *d, int sig);
/* 1 while superd runs; 0 once it has exited, with d->status set. */
int sd_alive(struct superd *d);
/* Fails the test unless superd still runs (after: what it survived). */
void assert_alive(struct superd *d, const char *after);
/* SIGTERM, then wait up to 10 s; the exit status, or -1 (then SIGKILL). */
int sd_stop(struct superd *d);
/* Waits up to ms for needle to appear n times in the log; the count seen. */
int sd_log_wait(struct superd *d, const char *needle, int n, int ms);
int sd_log_count(struct superd *d, const char *needle);
/* The first log line holding needle, without its '\n': 0, or -1 (none). */
int sd_log_line(struct superd *d, const char *needle, char *out, size_t len);
/* The same, waiting up to ms for the line to come. */
int sd_log_wait_line(
    struct superd *d, const char *needle, char *out, size_t len, int ms);
/* The log lines holding a and (when not NULL) b; waits up to ms for n. */
int sd_log_lines(struct superd *d, const char *a, const char *b);
int sd_log_lines_wait(
    struct superd *d, const char *a, const char *b, int n, int ms);
void sd_cleanup(struct superd *d);

/* Runs argv, stdout and stderr to outpath, killed after ms: exit status,
 * or -1. */
int run_for(char *const argv[], const char *outpath, int ms);
/* A file's text, NUL-terminated ("" when it cannot be read). */
void read_text(const char *path, char *out, size_t len);
/* Fails the test unless needle is in s. */
void assert_has(const char *s, const char *needle);

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
/* To ip (IPv4 or IPv6) port. */
int tcp_connect_to(const char *ip, int port);
/* tcp_connect, and the test fails unless it connected. */
int connect_ok(int port);
/* Waits up to ms for port to accept: 0, or -1. */
int wait_port(int port, int ms);
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
/* Fails the test unless EOF (or a reset) comes within ms after want. */
void expect_all(int fd, const char *want, int ms);
/*
 * A fresh connection to port: the bytes (a line) sent, one line back into
 * reply (with its '\n') within ms; the reply's length (0: none came), or -1
 * when it could not connect or send.
 */
ssize_t ask_bytes(
    int port, const void *data, size_t len, char *reply, size_t max, int ms);
ssize_t ask(int port, const char *line, char *reply, size_t max, int ms);
/* A connection that sent mode as its first line and was answered
 * "mode <mode>" (the test fails otherwise). */
int mode_conn(int port, const char *mode);
/* An echo answers "ping" on fd: the connection is being served. */
int served(int fd);
/* fd was closed unanswered, and the log says service name refused the
 * client ip:fd's port for why. */
void assert_refused(struct superd *d, const char *name, const char *ip, int fd,
    const char *why);
/* Closes fd; the test fails unless service name logs it closed by peer. */
void close_and_wait(struct superd *d, const char *name, int fd);
/* The local port of a socket (IPv4 or IPv6), or -1. */
int local_port(int fd);
/* A UDP socket bound to ip:port (0: any port), SO_REUSEADDR first when
 * reuse is set; -1 when it cannot bind. */
int udp_open(const char *ip, int port, int reuse);
/* One datagram to ip:port: 0, or -1. */
int udp_send(int fd, const char *ip, int port, const void *msg, size_t len);
/* One datagram within ms, NUL-terminated in buf: its length, or -1. */
ssize_t udp_recv(int fd, void *buf, size_t max, int ms);
/* udp_send, then udp_recv. */
ssize_t udp_ask(int fd, const char *ip, int port, const void *msg, size_t len,
    void *reply, size_t max, int ms);
/* The same from a fresh socket to 127.0.0.1:port. */
ssize_t udp_exchange(
    int port, const void *msg, size_t len, void *reply, size_t max, int ms);
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

/*
 * A fixture (fix_setup, fix_teardown) for a test of one service beside a
 * healthy echo: bad input or a bad script must cost its connection only.
 */
struct fix {
	struct superd d;
	int port;  /* the service under test */
	int echo;  /* the healthy echo beside it */
	pid_t pid; /* superd's pid when it started */
};

/* The healthy echo's script (echo.lua in d.dir). */
#define ECHO_LUA                           \
	"function main(s)\n"               \
	"  while true do\n"                \
	"    local d = s:readsome(4096)\n" \
	"    if not d then return end\n"   \
	"    s:write(d)\n"                 \
	"  end\n"                          \
	"end\n"

int fix_setup(void **state);
int fix_teardown(void **state);
/* superd.conf: shutdown_timeout 1, the globals, the services given (each
 * "{ ... },\n"), then the healthy echo. */
void fix_conf(struct fix *f, const char *globals, const char *services);
/* Service "test" on f->port runs test.lua with the extra settings. */
void fix_conf_test(struct fix *f, const char *globals, const char *extra);
/* Started on that configuration; f->pid is superd's. */
void fix_start(struct fix *f);
/* test.lua is lua; service "test" has the extra settings: started. */
void fix_start_test(struct fix *f, const char *lua, const char *extra);
/* superd still runs, and the echo beside the test answers. */
void assert_healthy(struct fix *f);
/* The error line logged for a client port of service "test". */
void fix_error_line(struct fix *f, int port, char *out, size_t len);

#endif
