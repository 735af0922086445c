/*
 * conf.c - the libconfig file as plain structs, with FILE:LINE errors: the
 * main file's settings (confglobal.c), its services (confservice.c), then
 * those of its drop-ins (confdrop.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "confload.h"
#include "confread.h"
#include "log.h"

struct conf *
conf_load(const char *path, char *err, size_t len)
{
	struct conf *c = calloc(1, sizeof(*c));
	struct conf_ctx x = {c, path, NULL, NULL, err, len};

	if (c == NULL) {
		snprintf(err, len, "%s:0: out of memory", path);
		return NULL;
	}
	config_init(&c->cfg);
	c->path = strdup(path);
	c->dir = conf_dir_of(path);
	c->log_level = LOG_INFO;
	c->max_connections = 10000;
	c->shutdown_timeout = 5;
	c->workers = 1;
	if (c->path == NULL || c->dir == NULL) {
		snprintf(err, len, "%s:0: out of memory", path);
		goto fail;
	}
	x.dir = c->dir;
	if (confread(&c->cfg, path, c->dir, err, len) < 0 ||
	    conf_globals(&x, config_root_setting(&c->cfg)) < 0)
		goto fail;
	x.script_dir = c->script_dir;
	if (conf_services(&x, config_lookup(&c->cfg, "services")) < 0 ||
	    conf_dropins(&x, config_root_setting(&c->cfg)) < 0)
		goto fail;
	return c;
fail:
	conf_free(c);
	return NULL;
}

void
conf_free(struct conf *c)
{
	int i;

	if (c == NULL)
		return;
	for (i = 0; i < c->nsvcs; i++)
		conf_svc_free(&c->svcs[i]);
	free(c->svcs);
	config_destroy(&c->cfg);
	for (i = 0; i < c->ndropins; i++) {
		config_destroy(c->dropins[i]);
		free(c->dropins[i]);
	}
	free(c->dropins);
	free(c->path);
	free(c->dir);
	free(c->script_dir);
	free(c->lua_path);
	free(c->user);
	free(c->group);
	free(c->pidfile);
	free(c->control);
	free(c);
}

/* Services of an old configuration keep it alive until they are gone. */
void
conf_release(struct conf *c)
{
	if (c != NULL && --c->refs <= 0)
		conf_free(c);
}
