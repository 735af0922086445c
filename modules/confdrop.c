/*
 * confdrop.c - include_dir: the drop-in files confdir.c lists, each read
 * beside its own directory and adding services, and nothing else.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "confdata.h"
#include "confdir.h"
#include "confload.h"
#include "confread.h"
#include "confwhere.h"

/* A drop-in adds services, and nothing else. */
static int
only_services(struct conf_ctx *x, const config_setting_t *root)
{
	const config_setting_t *s;
	int i;

	for (i = 0; (s = config_setting_get_elem(root, i)) != NULL; i++)
		if (strcmp(config_setting_name(s), "services") != 0)
			return conf_fail(x, s,
			    "\"%s\": a drop-in file sets only \"services\"",
			    config_setting_name(s));
	return 0;
}

/* A config_t more, kept with c: its services' options point into it. */
static config_t *
new_cfg(struct conf *c)
{
	config_t **v = realloc(c->dropins, (c->ndropins + 1) * sizeof(*v));

	if (v == NULL)
		return NULL;
	c->dropins = v;
	if ((v[c->ndropins] = malloc(sizeof(**v))) == NULL)
		return NULL;
	config_init(v[c->ndropins]);
	return v[c->ndropins++];
}

/* Its relative scripts and @include files are beside it. */
static int
load_dropin(struct conf_ctx *x, const char *path)
{
	struct conf_ctx d = {x->c, path, NULL, NULL, x->err, x->len};
	config_t *cfg = NULL;
	char *dir;
	int rc = -1;

	if ((dir = conf_dir_of(path)) == NULL ||
	    (cfg = new_cfg(x->c)) == NULL) {
		free(dir);
		snprintf(x->err, x->len, "%s:0: out of memory", path);
		return -1;
	}
	d.dir = d.script_dir = dir;
	if (confread(cfg, path, dir, x->err, x->len) == 0 &&
	    only_services(&d, config_root_setting(cfg)) == 0)
		rc = conf_services(&d, config_lookup(cfg, "services"));
	free(dir);
	return rc;
}

/* include_dir: every *.conf file there, in name order, adds services. */
int
conf_dropins(struct conf_ctx *x, const config_setting_t *root)
{
	const config_setting_t *s =
	    config_setting_get_member(root, "include_dir");
	char *name = NULL, *dir, **paths = NULL;
	int i, rc = 0;

	if (s == NULL)
		return 0;
	if (conf_get_str(x, root, "include_dir", &name) < 0)
		return -1;
	dir = conf_resolve(x->dir, name);
	free(name);
	if (dir == NULL)
		return conf_no_memory(x, s);
	if (confdir_list(dir, x->file, &paths) < 0)
		rc = conf_fail(
		    x, s, "include_dir \"%s\": %s", dir, strerror(errno));
	for (i = 0; rc == 0 && paths[i] != NULL; i++)
		rc = load_dropin(x, paths[i]);
	conf_strv_free(paths);
	free(dir);
	return rc;
}
