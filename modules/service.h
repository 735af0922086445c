/* service.h - a service: its Lua state, script, listeners and counters. */
#ifndef SUPERD_SERVICE_H
#define SUPERD_SERVICE_H

#include <lua.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "conf.h"
#include "limit.h"
#include "loop.h"
#include "net.h"
#include "stats.h"

struct listener {
	struct loop_io io;
	struct service *svc;
	int proto; /* CONF_TCP or CONF_UDP */
	char *addr;
	int port;
	int claimed;	       /* a reload hands its socket on */
	union net_addr local;  /* as bound */
	struct listener *from; /* while prepared: the listener it takes over */
	struct listener *next;
};

struct service {
	char *name;
	struct svc_conf *conf; /* points into the running struct conf */
	lua_State *L;
	size_t mem, mem_limit;
	long nconns;	/* open connections, exec children, UDP coroutines */
	long noutbound; /* of which superd.connect sockets */
	int *threads;	/* registry refs of finished threads, for reuse */
	int nthreads, capthreads;
	struct listener *listeners;
	struct service_stats *stats; /* own_stats, or a shared row */
	struct service_stats own_stats;
	struct bucket bucket;
	struct sources sources;
	struct conf *owner; /* the configuration conf points into */
	int retired;	    /* gone from the config: freed with its last conn */
	LIST_ENTRY(service) link;
};

LIST_HEAD(service_list, service);
extern struct service_list services;
extern long service_total, service_max_total, service_reloads;
extern double service_started;
extern int service_worker;

struct service *service_new(
    struct svc_conf *v, const struct conf *c, char *err, size_t len);
void service_free(struct service *s);
int service_reload(struct service *s);
int service_listen(struct service *s, char *err, size_t len);
int listeners_prepare(struct service *s, const struct svc_conf *v,
    struct listener **out, char *err, size_t len);
void listeners_abort(struct listener *l);
void service_attach(struct service *s, struct listener *list);
int service_set_options(struct service *s);
int service_adopt_inherited(void);
int service_claim_inherited(const char *addr, int port, int proto);
void service_drop_inherited(int keep);

void service_unlisten(struct service *s);
void service_accept(struct service *s, int fd, const union net_addr *peer);
int service_pcall(struct service *s, lua_CFunction fn, void *ud);
const char *service_admit(struct service *s, const union net_addr *peer);
#define HOLD_CLIENT 0
#define HOLD_DATAGRAM 1
#define HOLD_OUTBOUND 2

void service_hold(struct service *s, const union net_addr *peer, int kind);
void service_release(struct service *s, const union net_addr *peer, int kind);
void service_refuse(struct service *s, const char *proto,
    const union net_addr *peer, const char *why);
void service_count_refusal(struct service *s, const char *why);

struct service *service_find(const char *name);
void service_reap(void);
void service_sync_stats(struct service *s);
int service_is_own_udp(const union net_addr *peer);

#endif
