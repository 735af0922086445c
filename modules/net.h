/* net.h - socket helpers: -1 with errno set, or an error text in err. */
#ifndef SUPERD_NET_H
#define SUPERD_NET_H

#include <netinet/in.h>
#include <sys/socket.h>

#define NET_ADDRSTRLEN 64
/* "tcp ADDR:PORT" or "unix uid N pid N", as net_peer writes it. */
#define NET_PEERSTRLEN (NET_ADDRSTRLEN + 32)

/*
 * Big enough for IPv4 and IPv6, small enough to keep per connection.  A
 * unix peer is not its sockaddr_un (110 bytes, and a client's has no
 * path) but who it is, as SO_PEERCRED said at the accept.
 */
union net_addr {
	struct sockaddr sa;
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;
	struct {
		sa_family_t family; /* AF_UNIX */
		pid_t pid;
		uid_t uid;
		gid_t gid;
	} un;
};

_Static_assert(sizeof(union net_addr) == sizeof(struct sockaddr_in6),
    "a connection keeps its peer: no room for more than an IPv6 address");

extern int net_reuseport;
extern int net_owner; /* with net_reuseport: the sockets' uid, or -1 */

int net_listen(const char *host, int port, int type, char *err, size_t len);
int net_accept(int fd, union net_addr *peer);
int net_nodelay(int fd);
const char *net_ntop(const union net_addr *a, char *buf, int *port);
const char *net_peer(const union net_addr *a, const char *kind, char *buf);
int net_local(int fd, union net_addr *a);
int net_port(const union net_addr *a);
const char *net_canon(const char *host, char *buf);

int net_is_any(const union net_addr *a);

#endif
