/*
 * confsvc.h - one service's settings as plain values, as confservice.c and
 * the readers of its parts (conflisten.c, conftls.c, confexec.c) fill them.
 */
#ifndef SUPERD_CONFSVC_H
#define SUPERD_CONFSVC_H

#include <libconfig.h>
#include <limits.h>

#include "acl.h"
#include "unixsock.h"

#define CONF_TCP 0x1
#define CONF_UDP 0x2
#define CONF_ERRLEN 512

/* An exec service's rlimits = { ... }, by index in svc_conf's rlimits. */
enum {
	CONF_RLIMIT_AS,
	CONF_RLIMIT_CPU,
	CONF_RLIMIT_NOFILE,
	CONF_RLIMIT_NPROC,
	CONF_RLIMIT_FSIZE,
	CONF_RLIMIT_CORE,
	CONF_RLIMITS
};
#define CONF_UNSET (-1L)	/* a limit or umask not set: superd's own */
#define CONF_UNLIMITED LONG_MAX /* a limit set to "unlimited" */
#define CONF_NICE_KEEP 100	/* nice not set: superd's own */

struct tls_conf;

struct svc_conf {
	char *name;
	char *file; /* the file and line where the service's group starts */
	int line;
	int port;
	char **addrs;
	int naddrs;
	char *path;  /* a unix socket instead, resolved, or NULL */
	char *owner; /* of its file; "group" is the file's too */
	struct unixsock_attr sock; /* the file's mode, owner and group */
	int protos;
	char *script; /* resolved path, or NULL for an exec service */
	char **exec;  /* NULL-terminated argv, or NULL */
	int wait;     /* exec: the program is handed the listening socket */
	char *user, *group;
	const config_setting_t *options; /* NULL when absent */
	long max_connections;
	long per_source;
	long rate;
	long idle_timeout;
	double timeout;
	double slow_timeout; /* a target above its mark may not stall longer */
	long max_line;
	long output_limit;
	long memory_limit; /* bytes */
	long cpu_limit;
	char **only_from, **no_access;
	int nonly_from, nno_access;
	struct acl allow, deny; /* parsed only_from (when given), no_access */
	int proxy_protocol;
	struct acl proxy_from;
	/* exec services only (confexec.c) */
	char *argv0;	/* the program's argv[0]; NULL: exec's path */
	char **env;	/* "NAME=value" entries, NULL-terminated, or NULL */
	char **passenv; /* names taken from superd's environment, or NULL */
	/* bytes, seconds or counts, or CONF_UNSET */
	long rlimits[CONF_RLIMITS];
	int nice;	      /* -20..19, or CONF_NICE_KEEP */
	int umask;	      /* 0..0777, or CONF_UNSET */
	double max_runtime;   /* seconds before SIGTERM; 0: no limit */
	struct tls_conf *tls; /* conftls.c: NULL for a plain service */
	int starttls;	      /* plain until the script calls starttls() */
};

#endif
