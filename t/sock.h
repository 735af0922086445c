/* sock.h - a test's client sockets: TCP, unix, lines, UDP, free ports. */
#ifndef SUPERD_T_SOCK_H
#define SUPERD_T_SOCK_H

#include <stddef.h>
#include <sys/types.h>

/* A port free on 127.0.0.1 for both TCP and UDP (the kernel picks). */
int free_port(void);

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
/* Milliseconds of a monotonic clock: the tests' deadlines. */
long now_ms(void);
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
/* A client of the unix stream socket at path, or -1. */
int unix_connect(const char *path);
/* A unix stream socket bound at path, listening when listening is set
 * (else its file is one nobody accepts on, as a crashed server's), or -1. */
int unix_bound(const char *path, int listening);
/*
 * A unix datagram client bound at self (mode 0666, removed after): msg
 * sent to path, the reply (NUL-terminated) within ms; its length, or -1.
 */
ssize_t unix_dgram_ask(const char *self, const char *path, const char *msg,
    char *reply, size_t max, int ms);
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
