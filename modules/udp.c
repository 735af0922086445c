/* udp.c - a coroutine per datagram, replies to the sender. */
#include <arpa/inet.h>
#include <errno.h>
#include <lauxlib.h>
#include <sys/socket.h>

#include "conn.h"
#include "log.h"
#include "lsocket.h"
#include "service.h"
#include "task.h"
#include "udp.h"

static char dgram[UDP_MAX_PAYLOAD + 1];

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
	if (service_is_own_udp(peer))
		return "source is one of superd's own ports";
	return NULL;
}

struct dgram_args {
	struct service *s;
	struct listener *l;
	const union net_addr *peer;
	size_t len;
	struct conn *c;
};

static int
dgram_p(lua_State *L)
{
	struct dgram_args *a = lua_touserdata(L, 1);
	struct conn *c;

	if (lua_getglobal(L, "main") != LUA_TFUNCTION)
		return luaL_error(L, "the script defines no main()");
	c = lsocket_new(L);
	c->udp = 1;
	/* the payload waits as a Lua string: read() hands it over uncopied */
	lua_pushlstring(L, dgram, a->len);
	lua_setuservalue(L, -2);
	/*
	 * No registry anchor: main's stack holds the socket while it runs,
	 * and a datagram's socket ends only when main does (udp_end, with no
	 * Lua allocation in between that could let the collector in).
	 */
	a->c = c;
	c->task = task_spawn(L, a->s, c, 1);
	c->io.fd = a->l->io.fd;
	c->svc = a->s;
	c->peer = *a->peer;
	c->state = CONN_OPEN;
	c->started = loop_now();
	c->bytes_in = a->len;
	return 0;
}

static void
drop(struct service *s, const union net_addr *peer, const char *why)
{
	char addr[NET_ADDRSTRLEN];
	int port;

	service_count_refusal(s, why);

	if (!log_enabled(LOG_DEBUG))
		return;
	net_ntop(peer, addr, &port);
	log_msg(
	    LOG_DEBUG, "%s: udp %s:%d: dropped: %s", s->name, addr, port, why);
}

static void
dgram_start(struct listener *l, const union net_addr *peer, size_t len)
{
	struct dgram_args a = {l->svc, l, peer, len, NULL};
	const char *why;

	if ((why = bad_source(peer)) != NULL ||
	    (why = service_admit(l->svc, peer)) != NULL) {
		drop(l->svc, peer, why);
		return;
	}
	if (service_pcall(l->svc, dgram_p, &a) != LUA_OK) {
		if (a.c) {
			if (a.c->task)
				task_kill(a.c->task);
			buf_free(&a.c->in);
			luaL_unref(l->svc->L, LUA_REGISTRYINDEX, a.c->ref);
			a.c->state = CONN_CLOSED;
		}
		drop(l->svc, peer, "script cannot start");
		return;
	}
	l->svc->stats->bytes_in += len;
	service_hold(l->svc, peer, HOLD_DATAGRAM);
	l->svc->stats->accepted++;
}

void
udp_io(struct loop_io *io, int events)
{
	struct listener *l = (struct listener *)io;
	union net_addr peer;
	socklen_t plen;
	ssize_t n;
	int i;

	(void)events;
	for (i = 0; i < 64; i++) {
		plen = sizeof(peer);
		n = recvfrom(io->fd, dgram, sizeof(dgram), 0, &peer.sa, &plen);
		if (n < 0)
			break;
		dgram_start(l, &peer, (size_t)n);
	}
}

int
udp_send(struct conn *c, const char *data, size_t len)
{
	socklen_t plen = c->peer.sa.sa_family == AF_INET ? sizeof(c->peer.in4)
							 : sizeof(c->peer.in6);
	ssize_t n;

	n = sendto(c->io.fd, data, len, 0, &c->peer.sa, plen);
	if (n < 0)
		return -1;
	c->bytes_out += n;
	c->svc->stats->bytes_out += n;
	return 0;
}

/* A datagram's coroutine ended: no descriptor of its own to close. */
void
udp_end(struct conn *c)
{
	char addr[NET_ADDRSTRLEN];
	int port;

	if (c->state == CONN_CLOSED)
		return;
	c->state = CONN_CLOSED;
	if (c->task)
		task_kill(c->task);
	if (c->waiter)
		task_wake(c->waiter);
	buf_free(&c->in);
	c->io.fd = -1;
	luaL_unref(c->svc->L, LUA_REGISTRYINDEX, c->ref);
	c->ref = LUA_NOREF;
	if (log_enabled(LOG_DEBUG)) {
		net_ntop(&c->peer, addr, &port);
		log_msg(LOG_DEBUG,
		    "%s: udp %s:%d: %llu bytes in, %llu bytes out",
		    c->svc->name, addr, port, (unsigned long long)c->bytes_in,
		    (unsigned long long)c->bytes_out);
	}
	service_release(c->svc, &c->peer, HOLD_DATAGRAM);
}
