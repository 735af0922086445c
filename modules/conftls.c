/*
 * conftls.c - a service's TLS settings, read as plain values: the files
 * are resolved here and loaded by tlsctx.c, at -t and at every start and
 * SIGHUP, so a renewed certificate is taken by the next reload.
 */
#include <stdlib.h>
#include <string.h>

#include "confsvc.h"
#include "conftls.h"
#include "confwhere.h"

#define TLS12 0x0303 /* TLS1_2_VERSION: conf.c stays OpenSSL-free */
#define TLS13 0x0304

static const char *const tls_names[] = {"certificate", "key", "sni", "alpn",
    "client_ca", "verify_client", "min_version", "ciphers", "ciphersuites",
    "handshake_timeout", NULL};

static const char *const sni_names[] = {"name", "certificate", "key", NULL};

struct tctx {
	struct conf_where w;
	const char *dir;
};

static int
known(struct tctx *x, const config_setting_t *g, const char *const *names,
    const char *what)
{
	const config_setting_t *m;
	int i, j;

	for (j = 0; (m = config_setting_get_elem(g, j)) != NULL; j++) {
		for (i = 0; names[i] && strcmp(names[i], m->name) != 0; i++)
			;
		if (names[i] == NULL)
			return conf_blame(&x->w, m, "unknown setting \"%s.%s\"",
			    what, m->name);
	}
	return 0;
}

static int
get_string(
    struct tctx *x, const config_setting_t *g, const char *name, char **out)
{
	const config_setting_t *s = config_setting_get_member(g, name);

	if (s == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_STRING ||
	    *config_setting_get_string(s) == '\0')
		return conf_blame(
		    &x->w, s, "\"tls.%s\" must be a string, not empty", name);
	if ((*out = strdup(config_setting_get_string(s))) == NULL)
		return conf_blame(&x->w, s, "out of memory");
	return 0;
}

/* A file's path, against the configuration's directory, and its line. */
static int
get_file(struct tctx *x, const config_setting_t *g, const char *name,
    struct tls_file *f)
{
	const config_setting_t *s = config_setting_get_member(g, name);
	char *path = NULL;

	if (get_string(x, g, name, &path) < 0 || path == NULL)
		return path == NULL && s == NULL ? 0 : -1;
	f->path = conf_resolve(x->dir, path);
	f->line = config_setting_source_line(s);
	free(path);
	return f->path ? 0 : conf_blame(&x->w, s, "out of memory");
}

/* certificate and key, both or neither (the caller says which). */
static int
get_pair(struct tctx *x, const config_setting_t *g, struct tls_file *cert,
    struct tls_file *key, const char *what)
{
	if (get_file(x, g, "certificate", cert) < 0 ||
	    get_file(x, g, "key", key) < 0)
		return -1;
	if (cert->path == NULL || key->path == NULL)
		return conf_blame(&x->w, g,
		    "%s needs a \"certificate\" and a "
		    "\"key\"",
		    what);
	return 0;
}

static int
get_sni_one(struct tctx *x, const config_setting_t *e, struct tls_sni *n)
{
	char *name = NULL;

	if (!config_setting_is_group(e))
		return conf_blame(&x->w, e,
		    "each \"tls.sni\" entry must be a group { name = ...; "
		    "certificate = ...; key = ...; }");
	if (known(x, e, sni_names, "tls.sni") < 0 ||
	    get_string(x, e, "name", &name) < 0)
		return -1;
	n->name = name;
	if (name == NULL)
		return conf_blame(
		    &x->w, e, "a \"tls.sni\" entry needs a \"name\"");
	return get_pair(x, e, &n->certificate, &n->key, "a \"tls.sni\" entry");
}

/* sni = ( { name = ...; certificate = ...; key = ...; }, ... ) */
static int
get_sni(struct tctx *x, const config_setting_t *g, struct tls_conf *t)
{
	const config_setting_t *s = config_setting_get_member(g, "sni");
	int i, n;

	if (s == NULL)
		return 0;
	if (!config_setting_is_list(s) && !config_setting_is_array(s))
		return conf_blame(
		    &x->w, s, "\"tls.sni\" must be a list ( ... )");
	n = config_setting_length(s);
	if ((t->sni = calloc(n + 1, sizeof(*t->sni))) == NULL)
		return conf_blame(&x->w, s, "out of memory");
	for (i = 0; i < n; i++, t->nsni++)
		if (get_sni_one(x, config_setting_get_elem(s, i), &t->sni[i]) <
		    0) {
			t->nsni++; /* freed with the rest */
			return -1;
		}
	return 0;
}

/* alpn = ["imap", "x-custom"]: protocol names of 1 to 255 bytes. */
static int
get_alpn(struct tctx *x, const config_setting_t *g, struct tls_conf *t)
{
	const config_setting_t *s = config_setting_get_member(g, "alpn"), *e;
	const char *name;
	int i, n;

	if (s == NULL)
		return 0;
	if (!config_setting_is_array(s) && !config_setting_is_list(s))
		return conf_blame(
		    &x->w, s, "\"tls.alpn\" must be a list of names");
	n = config_setting_length(s);
	if (n == 0)
		return conf_blame(&x->w, s, "\"tls.alpn\" names no protocol");
	if ((t->alpn = calloc(n + 1, sizeof(char *))) == NULL)
		return conf_blame(&x->w, s, "out of memory");
	for (i = 0; i < n; i++) {
		e = config_setting_get_elem(s, i);
		name = config_setting_get_string(e);
		if (name == NULL || strlen(name) == 0 || strlen(name) > 255)
			return conf_blame(&x->w, e,
			    "\"tls.alpn\" holds names of 1 to 255 bytes");
		if ((t->alpn[i] = strdup(name)) == NULL)
			return conf_blame(&x->w, e, "out of memory");
	}
	return 0;
}

/* One of words, as its index; an error lists them (say, "a" or "b"). */
static int
get_choice(struct tctx *x, const config_setting_t *g, const char *name,
    const char *const *words, const char *say, int *out)
{
	const config_setting_t *s = config_setting_get_member(g, name);
	const char *v;
	int i;

	if (s == NULL)
		return 0;
	v = config_setting_get_string(s);
	for (i = 0; v != NULL && words[i] != NULL; i++)
		if (strcmp(v, words[i]) == 0) {
			*out = i;
			return 0;
		}
	return conf_blame(&x->w, s, "\"tls.%s\" must be %s", name, say);
}

static int
get_versions(struct tctx *x, const config_setting_t *g, struct tls_conf *t)
{
	static const char *const verify[] = {
	    "none", "optional", "require", "optional_no_ca", NULL};
	static const char *const versions[] = {"TLSv1.2", "TLSv1.3", NULL};
	int v = 0;

	if (get_choice(x, g, "min_version", versions,
		"\"TLSv1.2\" or \"TLSv1.3\"", &v) < 0)
		return -1;
	t->min_version = v == 0 ? TLS12 : TLS13;
	return get_choice(x, g, "verify_client", verify,
	    "\"none\", \"optional\", \"require\" or \"optional_no_ca\"",
	    &t->verify_client);
}

static int
get_timeout(struct tctx *x, const config_setting_t *g, struct tls_conf *t)
{
	const config_setting_t *s =
	    config_setting_get_member(g, "handshake_timeout");
	double v;

	t->handshake_timeout = 10;
	if (s == NULL)
		return 0;
	if (config_setting_type(s) == CONFIG_TYPE_INT)
		v = config_setting_get_int(s);
	else if (config_setting_type(s) == CONFIG_TYPE_FLOAT)
		v = config_setting_get_float(s);
	else
		v = -1;
	if (v <= 0 || v > 3600)
		return conf_blame(&x->w, s,
		    "\"tls.handshake_timeout\" must be seconds, above 0 and "
		    "up to 3600");
	t->handshake_timeout = v;
	return 0;
}

static int
load_group(struct tctx *x, const config_setting_t *g, struct tls_conf *t)
{
	if (known(x, g, tls_names, "tls") < 0 ||
	    get_pair(x, g, &t->certificate, &t->key, "\"tls\"") < 0 ||
	    get_sni(x, g, t) < 0 || get_alpn(x, g, t) < 0 ||
	    get_file(x, g, "client_ca", &t->client_ca) < 0 ||
	    get_versions(x, g, t) < 0 ||
	    get_string(x, g, "ciphers", &t->ciphers) < 0 ||
	    get_string(x, g, "ciphersuites", &t->ciphersuites) < 0 ||
	    get_timeout(x, g, t) < 0)
		return -1;
	if (t->verify_client != TLS_VERIFY_NONE && t->client_ca.path == NULL)
		return conf_blame(&x->w,
		    config_setting_get_member(g, "verify_client"),
		    "\"tls.verify_client\" needs a \"client_ca\"");
	return 0;
}

/* A TLS service speaks TCP; its program or script sees plaintext. */
static int
check_fit(struct tctx *x, const config_setting_t *s, const struct svc_conf *v)
{
	if (v->protos & CONF_UDP)
		return conf_blame(&x->w, s,
		    "\"tls\" is for TCP and unix stream sockets: "
		    "\"protocol\" must be \"tcp\"");
	if (v->wait)
		return conf_blame(&x->w, s,
		    "\"tls\" does not apply to a wait service: its program "
		    "takes the listening socket");
	return 0;
}

static int
get_starttls(struct tctx *x, const config_setting_t *g, struct svc_conf *v)
{
	const config_setting_t *s = config_setting_get_member(g, "starttls");

	if (s == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_BOOL)
		return conf_blame(
		    &x->w, s, "\"starttls\" must be true or false");
	v->starttls = config_setting_get_bool(s);
	if (v->starttls && v->tls == NULL)
		return conf_blame(
		    &x->w, s, "\"starttls\" needs a \"tls\" group");
	if (v->starttls && v->exec != NULL)
		return conf_blame(&x->w, s,
		    "\"starttls\" is for Lua services: an exec service's "
		    "TLS begins with the connection");
	return 0;
}

int
conftls_load(const config_setting_t *g, struct svc_conf *v, const char *file,
    const char *dir, const config_setting_t **at, char *msg, size_t len)
{
	const config_setting_t *s = config_setting_get_member(g, "tls");
	struct tctx x = {{g, at, msg, len}, dir};

	if (s != NULL) {
		if (!config_setting_is_group(s))
			return conf_blame(
			    &x.w, s, "\"tls\" must be a group { ... }");
		if (check_fit(&x, s, v) < 0)
			return -1;
		if ((v->tls = calloc(1, sizeof(*v->tls))) == NULL ||
		    (v->tls->file = strdup(file)) == NULL)
			return conf_blame(&x.w, s, "out of memory");
		v->tls->line = config_setting_source_line(s);
		if (load_group(&x, s, v->tls) < 0)
			return -1;
	}
	return get_starttls(&x, g, v);
}

static int
is(const struct tls_file *f, const char *path)
{
	return f->path != NULL && strcmp(f->path, path) == 0;
}

int
conftls_has_file(const struct tls_conf *t, const char *path)
{
	int i;

	if (is(&t->certificate, path) || is(&t->key, path) ||
	    is(&t->client_ca, path))
		return 1;
	for (i = 0; i < t->nsni; i++)
		if (is(&t->sni[i].certificate, path) ||
		    is(&t->sni[i].key, path))
			return 1;
	return 0;
}

static void
file_free(struct tls_file *f)
{
	free(f->path);
}

void
conftls_free(struct tls_conf *t)
{
	int i;

	if (t == NULL)
		return;
	file_free(&t->certificate);
	file_free(&t->key);
	file_free(&t->client_ca);
	for (i = 0; i < t->nsni; i++) {
		free(t->sni[i].name);
		file_free(&t->sni[i].certificate);
		file_free(&t->sni[i].key);
	}
	free(t->sni);
	for (i = 0; t->alpn && t->alpn[i]; i++)
		free(t->alpn[i]);
	free(t->alpn);
	free(t->ciphers);
	free(t->ciphersuites);
	free(t->file);
	free(t);
}
