/*
 * serve.c - a service put to work: built with its Lua state when it has
 * a script, and what arrives on its listeners sent on: admitted, then to
 * its exec program or its script.  The one place that knows both kinds.
 */
#include <unistd.h>

#include "conn.h"
#include "exec.h"
#include "listener.h"
#include "relay.h"
#include "serve.h"
#include "service.h"
#include "udp.h"
#include "vm.h"

/* Limits and access lists first: a refused peer never runs anything. */
static void
serve_accept(void *owner, int fd, const union net_addr *peer)
{
	struct service *s = owner;
	const char *why;

	if (s->conf->proxy_protocol)
		why = admit_check_proxy(&s->admit, peer);
	else
		why = admit_check(&s->admit, peer);
	if (why != NULL) {
		close(fd);
		admit_refuse(&s->admit, "tcp", peer, why);
	} else if (s->L == NULL && s->tls != NULL) {
		relay_accept(s, fd, peer);
	} else if (s->L == NULL) {
		exec_start(s, fd, peer);
	} else {
		conn_accept(s, fd, peer, s->conf->proxy_protocol);
	}
}

const struct listener_ops serve_ops = {serve_accept, udp_io, udp_closing};

/* A wait service: its program takes the whole socket, TCP or UDP. */
static void
serve_wait(struct loop_io *io, int events)
{
	struct listener *l = (struct listener *)io;

	(void)events;
	exec_start_wait(l->owner, l);
}

const struct listener_ops serve_wait_ops = {NULL, serve_wait, NULL};

const struct listener_ops *
serve_ops_for(const struct service *s)
{
	return s->conf->wait ? &serve_wait_ops : &serve_ops;
}

/*
 * Listed only once its script has run: that script's superd.stats()
 * never sees its own service half built.
 */
struct service *
serve_new(struct svc_conf *v, const struct conf *c, char *err, size_t len)
{
	struct service *s = service_new(v, err, len);

	if (s == NULL)
		return NULL;
	if (v->script != NULL && vm_open(s, c, err, len) < 0) {
		service_free(s);
		return NULL;
	}
	service_add(s);
	return s;
}

/* Its Lua state goes, with its coroutines, once nothing can reach it. */
void
serve_free(struct service *s)
{
	service_remove(s);
	vm_close(s);
	service_free(s);
}
