/* udp.c - a coroutine per datagram, replies to the sender. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <lauxlib.h>
#include <sys/socket.h>

#include "conn.h"
#include "log.h"
#include "lsocket.h"
#include "service.h"
#include "task.h"
#include "udp.h"

/*
 * Datagrams are taken UDP_BATCH at a time with recvmmsg, and the replies
 * written in a turn of the loop wait in `out` until udp_flush sends them
 * with sendmmsg at the turn's end: two system calls for a batch instead
 * of two per datagram.  Each message has room for the largest datagram;
 * the kernel touches only the pages a datagram fills.
 */
#define UDP_BATCH 32
#define UDP_OUT_BYTES (128 * 1024)

static char in_data[UDP_BATCH][UDP_MAX_PAYLOAD + 1];
static union net_addr in_peer[UDP_BATCH];
static struct iovec in_iov[UDP_BATCH];
static struct mmsghdr in_msg[UDP_BATCH];

static struct {
	int fd; /* the listener the queued replies leave from */
	int n;
	size_t used;
	char data[UDP_OUT_BYTES];
	union net_addr peer[UDP_BATCH];
	struct iovec iov[UDP_BATCH];
	struct mmsghdr msg[UDP_BATCH];
} out;

/* Datagrams being served: their replies leave from a listener's fd. */
static LIST_HEAD(, conn) dgrams = LIST_HEAD_INITIALIZER(dgrams);

/*
 * Sources that must never get an answer (OpenBSD inetd's dg_badinput):
 * another host's small services (port < 1024, the CVE-1999-0103 echo
 * and chargen loop), broadcast and multicast, and our own UDP ports.
 */
static const char *
bad_source(const union net_addr *peer)
{
	const struct in6_addr *v6 = &peer->in6.sin6_addr;
	uint32_t v4;

	if (net_port(peer) < 1024)
		return "source port below 1024";
	if (peer->sa.sa_family == AF_INET6 && !IN6_IS_ADDR_V4MAPPED(v6)) {
		if (IN6_IS_ADDR_MULTICAST(v6))
			return "multicast source";
	} else {
		v4 = ntohl(peer->sa.sa_family == AF_INET
			       ? peer->in4.sin_addr.s_addr
			       : ((const uint32_t *)v6->s6_addr)[3]);
		if (v4 == INADDR_BROADCAST || IN_MULTICAST(v4))
			return "broadcast or multicast source";
	}
	if (listeners_is_own_udp(peer))
		return "source is one of superd's own ports";
	return NULL;
}

struct dgram_args {
	struct service *s;
	struct listener *l;
	const union net_addr *peer;
	const char *data;
	size_t len;
	struct conn *c;
};

/* A datagram's socket ends with its main: no descriptor of its own. */
static void
end(struct conn *c)
{
	char addr[NET_ADDRSTRLEN];
	int port;

	if (c->state == CONN_CLOSED)
		return;
	c->state = CONN_CLOSED;
	LIST_REMOVE(c, all);
	if (c->reader)
		task_wake(c->reader);
	buf_free(&c->st.in);
	c->st.io.fd = -1;
	luaL_unref(c->svc->L, LUA_REGISTRYINDEX, c->ref);
	c->ref = LUA_NOREF;
	if (log_enabled(LOG_DEBUG)) {
		net_ntop(&c->peer, addr, &port);
		log_msg(LOG_DEBUG,
		    "%s: udp %s:%d: %llu bytes in, %llu bytes out",
		    c->svc->name, addr, port,
		    (unsigned long long)c->st.bytes_in,
		    (unsigned long long)c->st.bytes_out);
	}
	admit_release(&c->svc->admit, &c->peer, ADMIT_DATAGRAM);
}

/* However main ended, returned, raised or was killed, its socket ends. */
static void
main_ended(struct task *t, int status)
{
	struct conn *c = t->ud;

	(void)status;
	c->task = NULL;
	end(c);
}

static int
dgram_p(lua_State *L)
{
	struct dgram_args *a = lua_touserdata(L, 1);
	struct conn *c;

	if (lua_getglobal(L, "main") != LUA_TFUNCTION)
		return luaL_error(L, "the script defines no main()");
	c = conn_new(L, DATAGRAM_KEY);
	/* the payload waits as a Lua string: read() hands it over uncopied */
	lua_pushlstring(L, a->data, a->len);
	lua_setuservalue(L, -2);
	/*
	 * No registry anchor: main's stack holds the socket while it runs,
	 * and a datagram's socket ends only when main does (end, with no
	 * Lua allocation in between that could let the collector in).
	 */
	a->c = c;
	c->svc = a->s;
	c->peer = *a->peer;
	conn_spawn_main(L, c)->on_end = main_ended;
	c->st.io.fd = a->l->io.fd;
	c->state = CONN_OPEN;
	c->started = loop_now();
	c->st.bytes_in = a->len;
	return 0;
}

static void
drop(struct service *s, const union net_addr *peer, const char *why)
{
	char addr[NET_ADDRSTRLEN];
	int port;

	admit_count_refusal(&s->admit, why);

	if (!log_enabled(LOG_DEBUG))
		return;
	net_ntop(peer, addr, &port);
	log_msg(
	    LOG_DEBUG, "%s: udp %s:%d: dropped: %s", s->name, addr, port, why);
}

static void
dgram_start(struct listener *l, const union net_addr *peer, const char *data,
    size_t len)
{
	struct dgram_args a = {l->owner, l, peer, data, len, NULL};
	const char *why;

	if ((why = bad_source(peer)) != NULL ||
	    (why = admit_check(&a.s->admit, peer)) != NULL) {
		drop(a.s, peer, why);
		return;
	}
	if (service_pcall(a.s, dgram_p, &a) != LUA_OK) {
		if (a.c) {
			if (a.c->task)
				task_kill(a.c->task);
			buf_free(&a.c->st.in);
			luaL_unref(a.s->L, LUA_REGISTRYINDEX, a.c->ref);
			a.c->state = CONN_CLOSED;
		}
		drop(a.s, peer, "script cannot start");
		return;
	}
	LIST_INSERT_HEAD(&dgrams, a.c, all);
	a.s->stats->bytes_in += len;
	admit_hold(&a.s->admit, peer, ADMIT_DATAGRAM);
	a.s->stats->accepted++;
}

static socklen_t
addr_len(const union net_addr *a)
{
	return a->sa.sa_family == AF_INET ? sizeof(a->in4) : sizeof(a->in6);
}

/* Sends what the turn queued; a datagram the kernel refuses is dropped. */
void
udp_flush(void)
{
	int i = 0, n;

	while (i < out.n) {
		n = sendmmsg(out.fd, out.msg + i, (unsigned)(out.n - i), 0);
		if (n > 0)
			i += n;
		else if (n < 0 && errno == EINTR)
			continue;
		else {
			log_msg(LOG_DEBUG, "udp reply dropped: %s",
			    strerror(errno));
			i++;
		}
	}
	out.n = 0;
	out.used = 0;
}

static void
out_queue(int fd, const union net_addr *peer, const char *data, size_t len)
{
	struct mmsghdr *m;

	if (out.n > 0 && (out.fd != fd || out.n == UDP_BATCH ||
			     out.used + len > sizeof(out.data)))
		udp_flush();
	out.fd = fd;
	m = &out.msg[out.n];
	out.peer[out.n] = *peer;
	memcpy(out.data + out.used, data, len);
	out.iov[out.n] = (struct iovec){out.data + out.used, len};
	*m = (struct mmsghdr){.msg_hdr = {.msg_name = &out.peer[out.n],
				  .msg_namelen = addr_len(peer),
				  .msg_iov = &out.iov[out.n],
				  .msg_iovlen = 1}};
	out.used += len;
	out.n++;
}

/*
 * Only IPv6 carries a datagram above UDP_MAX_PAYLOAD (up to 65527 bytes);
 * the kernel cuts it to the buffer and says so in msg_flags.  Served cut,
 * it would be a different request: it is dropped.
 */
#define TRUNCATED "datagram larger than the receive buffer"

/* The buffers' addresses are set once; the kernel rewrites only lengths. */
static int
receive(int fd)
{
	static int ready;
	int i, n;

	for (i = 0; i < UDP_BATCH; i++) {
		if (!ready) {
			in_iov[i] =
			    (struct iovec){in_data[i], sizeof(in_data[i])};
			in_msg[i].msg_hdr.msg_name = &in_peer[i];
			in_msg[i].msg_hdr.msg_iov = &in_iov[i];
			in_msg[i].msg_hdr.msg_iovlen = 1;
		}
		in_msg[i].msg_hdr.msg_namelen = sizeof(in_peer[i]);
	}
	ready = 1;
	n = recvmmsg(fd, in_msg, UDP_BATCH, 0, NULL);
	return n < 0 ? 0 : n;
}

void
udp_io(struct loop_io *io, int events)
{
	struct listener *l = (struct listener *)io;
	int i, n, round;

	(void)events;
	for (round = 0; round < 2; round++) {
		if ((n = receive(io->fd)) == 0)
			break;
		for (i = 0; i < n; i++)
			if (in_msg[i].msg_hdr.msg_flags & MSG_TRUNC)
				drop(l->owner, &in_peer[i], TRUNCATED);
			else
				dgram_start(l, &in_peer[i], in_data[i],
				    in_msg[i].msg_len);
		if (n < UDP_BATCH)
			break; /* the queue is empty */
	}
}

/* A datagram back to the sender, sent when the turn ends. */
int
udp_send(struct conn *c, const char *data, size_t len)
{
	if (c->st.io.fd < 0)
		return -1; /* its listener has closed */
	out_queue(c->st.io.fd, &c->peer, data, len);
	c->st.bytes_out += len;
	c->svc->stats->bytes_out += len;
	return 0;
}

/*
 * A UDP listener is about to close (SIGHUP removed it, or a stop): its
 * queued replies leave now, and the datagrams it started can no longer
 * answer, or their replies would go out on whatever socket gets its
 * descriptor number next.
 */
void
udp_closing(int fd)
{
	struct conn *c;

	if (out.n > 0 && out.fd == fd)
		udp_flush();
	LIST_FOREACH(c, &dgrams, all)
	if (c->st.io.fd == fd)
		c->st.io.fd = -1;
}
