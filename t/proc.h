/* proc.h - other processes: a program run to its end, /proc. */
#ifndef SUPERD_T_PROC_H
#define SUPERD_T_PROC_H

#include <stddef.h>
#include <sys/types.h>

/*
 * What /proc says of a process: VmRSS in kB, open descriptors, and the
 * seconds it has spent runnable but waiting for a CPU (schedstat's
 * run_delay), or -1.
 */
long proc_rss_kb(pid_t pid);
int proc_fd_count(pid_t pid);
double proc_waited(pid_t pid);
/*
 * Its descriptors once the count has held for 300 ms (at most 10 s): a
 * connection just closed by its client may still be open in superd.
 */
int proc_fd_settled(pid_t pid);
/* utime + stime, in seconds, or -1. */
double proc_cpu_s(pid_t pid);

/* Forks argv[0] with stdout and stderr on errfd: the child's pid. */
pid_t proc_spawn(char *const argv[], int errfd);
/* The same with stdout and stderr in the file logpath. */
pid_t proc_spawn_logged(char *const argv[], const char *logpath);
/* SIGTERM to pid (if > 0), then waits for it. */
void proc_stop(pid_t pid);

#define REDIS_SERVER "/usr/bin/redis-server"
/*
 * A redis-server on 127.0.0.1:port, nothing saved, with requirepass when
 * password is set, its log in dir/redis-PORT.log: its pid once the port
 * accepts, or -1 (then it is stopped).
 */
pid_t redis_start(const char *dir, int port, const char *password);
/* Runs argv, stdout and stderr to outpath, killed after ms: exit status,
 * or -1. */
int run_for(char *const argv[], const char *outpath, int ms);
/* A file's text, NUL-terminated ("" when it cannot be read). */
void read_text(const char *path, char *out, size_t len);
/* What the shell command cmd prints, NUL-terminated. */
void run_text(const char *cmd, char *out, size_t len);
/* Fails the test unless needle is in s. */
void assert_has(const char *s, const char *needle);

#endif
