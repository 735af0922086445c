/* service.h - a service: its Lua state, script, listeners and counters. */
#ifndef SUPERD_SERVICE_H
#define SUPERD_SERVICE_H

#include <lua.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "conf.h"
#include "loop.h"

struct listener {
	struct loop_io io;
	struct service *svc;
	int proto; /* CONF_TCP or CONF_UDP */
	char *addr;
	int port;
	struct listener *next;
};

struct service_stats {
	uint64_t accepted, refused, bytes_in, bytes_out, errors;
};

struct service {
	char *name;
	struct svc_conf *conf; /* points into the running struct conf */
	lua_State *L;
	size_t mem, mem_limit;
	long nconns; /* open connections */
	struct listener *listeners;
	struct service_stats stats;
	LIST_ENTRY(service) link;
};

LIST_HEAD(service_list, service);
extern struct service_list services;

struct service *service_new(struct svc_conf *v, const struct conf *c,
			    int compile_only, char *err, size_t len);
void service_free(struct service *s);
int service_reload(struct service *s);
int service_listen(struct service *s, char *err, size_t len);
void service_unlisten(struct service *s);
int service_pcall(struct service *s, lua_CFunction fn, void *ud);
const char *service_path(void);

#endif
