/*
 * confload.h - what the files that load a configuration share, as relayd's
 * one header names each file's part: the file being loaded, the readers of
 * a setting (confget.c), and each part's loader.
 */
#ifndef SUPERD_CONFLOAD_H
#define SUPERD_CONFLOAD_H

#include <libconfig.h>
#include <stddef.h>

struct conf;
struct svc_conf;

/* The file being loaded: the main one or a drop-in. */
struct conf_ctx {
	struct conf *c;
	const char *file;
	const char *dir;	/* its directory */
	const char *script_dir; /* where its relative scripts are */
	char *err;
	size_t len;
};

/* A long setting of a service, its bounds and its default. */
struct conf_num {
	const char *name;
	size_t off;
	long min, max, def;
};

/* confget.c: -1 with "FILE:LINE: ..." in x->err, or 0. */
const char *conf_file_of(
    struct conf_ctx *x, const config_setting_t *s, char *buf, size_t len);
int conf_fail(struct conf_ctx *x, const config_setting_t *s, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));
int conf_no_memory(struct conf_ctx *x, const config_setting_t *s);
int conf_check_known(struct conf_ctx *x, const config_setting_t *g,
    const char *const *names, const struct conf_num *nums);
int conf_get_str(struct conf_ctx *x, const config_setting_t *g,
    const char *name, char **out);
int conf_get_long(struct conf_ctx *x, const config_setting_t *g,
    const char *name, long min, long max, long *out);
int conf_get_seconds(struct conf_ctx *x, const config_setting_t *g,
    const char *name, double *out);
int conf_get_strv(struct conf_ctx *x, const config_setting_t *g,
    const char *name, char ***out, int *n);
void conf_strv_free(char **v);
char *conf_dir_of(const char *path);

/* confglobal.c: the main file's own settings. */
int conf_globals(struct conf_ctx *x, const config_setting_t *root);

/* confservice.c: a file's services list, and one service freed. */
int conf_services(struct conf_ctx *x, const config_setting_t *list);
void conf_svc_free(struct svc_conf *v);

/* confdrop.c: include_dir's files, each adding services. */
int conf_dropins(struct conf_ctx *x, const config_setting_t *root);

#endif
