/*
 * confglobal.c - the main file's own settings: logging, scripts and
 * lua_path, user, group and pid file, limits, workers, the control socket.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "confdata.h"
#include "confload.h"
#include "confwhere.h"
#include "log.h"
#include "stats.h"
#include "unixsock.h"

static const char *const global_names[] = {
    "log",
    "log_level",
    "script_dir",
    "lua_path",
    "user",
    "group",
    "pidfile",
    "max_connections",
    "shutdown_timeout",
    "workers",
    "include_dir",
    "control",
    "services",
    NULL,
};

static int
load_log(struct conf_ctx *x, const config_setting_t *root)
{
	char *where = NULL, *level = NULL;
	int rc = 0;

	if (conf_get_str(x, root, "log", &where) < 0 ||
	    conf_get_str(x, root, "log_level", &level) < 0)
		rc = -1;
	x->c->log_set = where != NULL;
	if (rc == 0 && where && strcmp(where, "syslog") == 0)
		x->c->log_where = LOG_TO_SYSLOG;
	else if (rc == 0 && where && strcmp(where, "stderr") != 0)
		rc = conf_fail(x, config_setting_get_member(root, "log"),
		    "\"log\" must be \"stderr\" or \"syslog\"");
	if (rc == 0 && level && (x->c->log_level = log_level_parse(level)) < 0)
		rc = conf_fail(x, config_setting_get_member(root, "log_level"),
		    "unknown log_level \"%s\"", level);
	free(where);
	free(level);
	return rc;
}

/* workers = N, or "auto": one per CPU. */
static int
load_workers(struct conf_ctx *x, const config_setting_t *root)
{
	const config_setting_t *s = config_setting_get_member(root, "workers");
	long n = 1;

	if (s != NULL && config_setting_type(s) == CONFIG_TYPE_STRING &&
	    strcmp(config_setting_get_string(s), "auto") == 0)
		n = sysconf(_SC_NPROCESSORS_ONLN);
	else if (s != NULL &&
		 (config_setting_type(s) != CONFIG_TYPE_INT ||
		     (n = config_setting_get_int(s)) < 1 || n > STATS_WORKERS))
		return conf_fail(x, s,
		    "\"workers\" must be 1 to %d or \"auto\"", STATS_WORKERS);
	x->c->workers = n < 1 ? 1 : n > STATS_WORKERS ? STATS_WORKERS : (int)n;
	return 0;
}

/*
 * control = PATH, against the file's directory.  One loop serves it: with
 * workers, each would hold connections the socket could not name.
 */
static int
load_control(struct conf_ctx *x, const config_setting_t *root)
{
	const config_setting_t *s = config_setting_get_member(root, "control");
	char *path = NULL, msg[CONF_ERRLEN];

	if (s == NULL)
		return 0;
	if (conf_get_str(x, root, "control", &path) < 0)
		return -1;
	x->c->control = conf_resolve(x->c->dir, path);
	free(path);
	if (x->c->control == NULL)
		return conf_no_memory(x, s);
	if (x->c->workers > 1)
		return conf_fail(x, s, "\"control\" needs workers = 1");
	if (unixsock_check(x->c->control, msg, sizeof(msg)) < 0)
		return conf_fail(x, s, "\"control\": %s", msg);
	return 0;
}

int
conf_globals(struct conf_ctx *x, const config_setting_t *root)
{
	struct conf *c = x->c;
	char *dir = NULL, *lpath = NULL;

	if (conf_check_known(x, root, global_names, NULL) < 0 ||
	    load_log(x, root) < 0 ||
	    conf_get_str(x, root, "script_dir", &dir) < 0 ||
	    conf_get_str(x, root, "lua_path", &lpath) < 0 ||
	    conf_get_str(x, root, "user", &c->user) < 0 ||
	    conf_get_str(x, root, "group", &c->group) < 0 ||
	    conf_get_str(x, root, "pidfile", &c->pidfile) < 0 ||
	    conf_get_long(x, root, "max_connections", 1, INT_MAX,
		&c->max_connections) < 0 ||
	    conf_get_seconds(
		x, root, "shutdown_timeout", &c->shutdown_timeout) < 0)
		goto fail;
	if (load_workers(x, root) < 0 || load_control(x, root) < 0)
		goto fail;
	if ((c->script_dir = conf_resolve(c->dir, dir ? dir : ".")) == NULL)
		goto nomem;
	if (lpath == NULL &&
	    asprintf(&lpath, "%s/lib/?.lua", c->script_dir) < 0) {
		lpath = NULL;
		goto nomem;
	}
	c->lua_path =
	    lpath[0] == '/' ? strdup(lpath) : conf_resolve(c->dir, lpath);
	if (c->lua_path == NULL)
		goto nomem;
	if (c->pidfile) {
		free(dir);
		dir = c->pidfile;
		if ((c->pidfile = conf_resolve(c->dir, dir)) == NULL)
			goto nomem;
	}
	free(dir);
	free(lpath);
	return 0;
nomem:
	conf_no_memory(x, NULL);
fail:
	free(dir);
	free(lpath);
	return -1;
}
