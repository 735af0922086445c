/*
 * confdata.h - the whole configuration as plain values, as the loaders
 * (confglobal.c, confservice.c, confdrop.c) fill it; conf.h hands it on.
 */
#ifndef SUPERD_CONFDATA_H
#define SUPERD_CONFDATA_H

#include <libconfig.h>

#include "confsvc.h"

struct conf {
	config_t cfg;	    /* kept alive: services' options point into it */
	config_t **dropins; /* the include_dir files', kept alive as cfg */
	int ndropins;
	char *path;
	char *dir;
	int log_where;
	int log_level;
	char *script_dir;
	char *lua_path;
	char *user, *group, *pidfile;
	char *control; /* superctl's socket, resolved, or NULL */
	long max_connections;
	double shutdown_timeout;
	int workers;
	struct svc_conf *svcs;
	int nsvcs;
	int refs;    /* the running config and services still pointing in */
	int log_set; /* "log" was given: -d keeps it */
};

#endif
