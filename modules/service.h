/*
 * service.h - a service: its configuration, Lua state, admission and
 * listeners; the registry.
 */
#ifndef SUPERD_SERVICE_H
#define SUPERD_SERVICE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "admit.h"
#include "conf.h"
#include "listener.h"
#include "net.h"
#include "stats.h"

struct lua_State;
struct tls_ctx;

#define SERVICE_WAIT_BURST 10  /* program starts ... */
#define SERVICE_WAIT_WINDOW 10 /* ... within this many seconds: paused */
#define SERVICE_WAIT_PAUSE 60

struct service {
	char *name;
	struct svc_conf *conf; /* points into the running struct conf */
	struct lua_State *L;
	size_t mem, mem_limit;
	int *threads; /* registry refs of finished threads, for reuse */
	int nthreads, capthreads;
	struct listener *listeners;
	struct service_stats *stats; /* own_stats, or a shared row */
	struct service_stats own_stats;
	struct admission admit; /* its counts: open, outbound, per source */
	struct conf *owner;	/* the configuration conf points into */
	struct tls_ctx *tls;	/* its certificates, or NULL: plain */
	int retired;  /* gone from the config: freed with its last conn */
	int disabled; /* superctl disable: no listeners until enabled */
	/* a wait service's last program starts, a ring (exec.c) */
	double wait_starts[SERVICE_WAIT_BURST];
	int wait_next;
	LIST_ENTRY(service) link;
};

LIST_HEAD(service_list, service);
extern struct service_list services;
extern long service_reloads;
/* Set once a SIGTERM or SIGINT began the shutdown (superd.stopping). */
extern int service_stopping;
extern double service_started;
extern int service_worker;

struct service *service_new(struct svc_conf *v, char *err, size_t len);
void service_add(struct service *s);
void service_remove(struct service *s);
void service_free(struct service *s);
void service_set_conf(struct service *s, struct svc_conf *v);
void service_attach(
    struct service *s, struct listener *list, const struct listener_ops *ops);
void service_unlisten(struct service *s);

struct service *service_find(const char *name);
void service_sync_stats(struct service *s);

/* fn is a lua_CFunction, run protected on s's main state. */
int service_pcall(struct service *s, int (*fn)(struct lua_State *), void *ud);
const char *service_error(struct service *s, char *buf, size_t len);

#endif
