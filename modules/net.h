/* net.h - socket helpers: -1 with errno set, or an error text in err. */
#ifndef SUPERD_NET_H
#define SUPERD_NET_H

#include <netinet/in.h>
#include <sys/socket.h>

#define NET_ADDRSTRLEN 64

/* Big enough for IPv4 and IPv6, small enough to keep per connection. */
union net_addr {
	struct sockaddr sa;
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;
};

extern int net_reuseport;
extern int net_owner; /* with net_reuseport: the sockets' uid, or -1 */

int net_listen(const char *host, int port, int type, char *err, size_t len);
int net_accept(int fd, union net_addr *peer);
int net_nodelay(int fd);
const char *net_ntop(const union net_addr *a, char *buf, int *port);
int net_local(int fd, union net_addr *a);
int net_port(const union net_addr *a);
const char *net_canon(const char *host, char *buf);

int net_is_any(const union net_addr *a);

#endif
