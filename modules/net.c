/* net.c - socket helpers: -1 with errno set, or an error text in err. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <sys/fsuid.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "net.h"

/* Set with workers = N: every worker binds the same ports. */
int net_reuseport;
int net_owner = -1;

static int
net_resolve(const char *host, int port, int type, union net_addr *a,
    socklen_t *alen, char *err, size_t len)
{
	struct addrinfo hints = {0}, *res;
	char serv[16];
	int rc;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = type;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
	snprintf(serv, sizeof(serv), "%d", port);
	rc = getaddrinfo(host, serv, &hints, &res);
	if (rc != 0) {
		snprintf(
		    err, len, "bad address \"%s\": %s", host, gai_strerror(rc));
		return -1;
	}
	memcpy(a, res->ai_addr, res->ai_addrlen);
	*alen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static int
net_bind(int fd, const union net_addr *a, socklen_t alen, int type)
{
	int on = 1, off = 0;

	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) < 0)
		return -1;
	if (net_reuseport &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) < 0)
		return -1;
	/* "::" is one dual-stack socket, whatever the sysctl default says. */
	if (a->sa.sa_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)) < 0)
		return -1;
	if (bind(fd, &a->sa, alen) < 0)
		return -1;
	if (type == SOCK_STREAM && listen(fd, 511) < 0)
		return -1;
	return 0;
}

/*
 * Linux shares a port among SO_REUSEPORT sockets of one owner only: the
 * uid of whoever made the socket.  Workers made before and after giving
 * root up (one restarted, a port added on SIGHUP) and the master's trial
 * binds must agree, so with net_owner set every socket is the serving
 * user's from the start, though root binds it.
 */
static int
owned_socket(int family, int type)
{
	int fd, prev;

	if (!net_reuseport || net_owner < 0)
		return socket(family, type, 0);
	prev = setfsuid((uid_t)net_owner);
	fd = socket(family, type, 0);
	setfsuid((uid_t)prev);
	return fd;
}

int
net_listen(const char *host, int port, int type, char *err, size_t len)
{
	union net_addr a;
	socklen_t alen;
	int fd;

	if (net_resolve(host, port, type, &a, &alen, err, len) < 0)
		return -1;
	fd = owned_socket(a.sa.sa_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0 || net_bind(fd, &a, alen, type) < 0) {
		snprintf(err, len, "cannot listen on %s port %d/%s: %s", host,
		    port, type == SOCK_STREAM ? "tcp" : "udp", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* A unix peer as it is kept: the credentials it connected with. */
static int
net_peercred(int fd, union net_addr *peer)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return -1;
	memset(peer, 0, sizeof(*peer));
	peer->un.family = AF_UNIX;
	peer->un.pid = cred.pid;
	peer->un.uid = cred.uid;
	peer->un.gid = cred.gid;
	return 0;
}

int
net_accept(int fd, union net_addr *peer)
{
	socklen_t len = sizeof(*peer);
	int c = accept4(fd, &peer->sa, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (c >= 0 && peer->sa.sa_family == AF_UNIX &&
	    net_peercred(c, peer) < 0) {
		close(c);
		return -1;
	}
	return c;
}

int
net_nodelay(int fd)
{
	int on = 1;

	return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
}

/* A unix socket's local end is this process, as its peer's SO_PEERCRED. */
int
net_local(int fd, union net_addr *a)
{
	socklen_t len = sizeof(*a);

	if (getsockname(fd, &a->sa, &len) < 0)
		return -1;
	if (a->sa.sa_family == AF_UNIX) {
		memset(a, 0, sizeof(*a));
		a->un.family = AF_UNIX;
		a->un.pid = getpid();
		a->un.uid = geteuid();
		a->un.gid = getegid();
	}
	return 0;
}

/*
 * An IPv4-mapped IPv6 peer prints as plain IPv4, so logs and access
 * lists see one spelling of one address.
 */
const char *
net_ntop(const union net_addr *a, char *buf, int *port)
{
	const struct in6_addr *v6 = &a->in6.sin6_addr;

	if (a->sa.sa_family == AF_UNIX) {
		*port = 0;
		return strcpy(buf, "unix");
	}
	if (a->sa.sa_family == AF_INET) {
		*port = ntohs(a->in4.sin_port);
		return inet_ntop(
		    AF_INET, &a->in4.sin_addr, buf, NET_ADDRSTRLEN);
	}
	*port = ntohs(a->in6.sin6_port);
	if (IN6_IS_ADDR_V4MAPPED(v6))
		return inet_ntop(
		    AF_INET, &v6->s6_addr[12], buf, NET_ADDRSTRLEN);
	return inet_ntop(AF_INET6, v6, buf, NET_ADDRSTRLEN);
}

/*
 * A peer as the log names it: "KIND ADDR:PORT" (no kind when NULL), and
 * on a unix socket "unix uid N pid N", whatever the kind.
 */
const char *
net_peer(const union net_addr *a, const char *kind, char *buf)
{
	char addr[NET_ADDRSTRLEN];
	int port;

	if (a->sa.sa_family == AF_UNIX) {
		snprintf(buf, NET_PEERSTRLEN, "unix uid %u pid %d",
		    (unsigned)a->un.uid, (int)a->un.pid);
		return buf;
	}
	if (net_ntop(a, addr, &port) == NULL)
		strcpy(addr, "?");
	snprintf(buf, NET_PEERSTRLEN, "%s%s%s:%d", kind ? kind : "",
	    kind ? " " : "", addr, port);
	return buf;
}

int
net_port(const union net_addr *a)
{
	if (a->sa.sa_family == AF_UNIX)
		return 0;
	return ntohs(
	    a->sa.sa_family == AF_INET ? a->in4.sin_port : a->in6.sin6_port);
}

int
net_is_any(const union net_addr *a)
{
	if (a->sa.sa_family == AF_UNIX)
		return 0;
	if (a->sa.sa_family == AF_INET)
		return a->in4.sin_addr.s_addr == htonl(INADDR_ANY);
	return IN6_IS_ADDR_UNSPECIFIED(&a->in6.sin6_addr);
}

/* The address as net_ntop would print it, so two spellings compare equal. */
const char *
net_canon(const char *host, char *buf)
{
	union net_addr a;
	int port;

	memset(&a, 0, sizeof(a));
	if (inet_pton(AF_INET, host, &a.in4.sin_addr) == 1)
		a.sa.sa_family = AF_INET;
	else if (inet_pton(AF_INET6, host, &a.in6.sin6_addr) == 1)
		a.sa.sa_family = AF_INET6;
	else
		return host;
	return net_ntop(&a, buf, &port);
}
