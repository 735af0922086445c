/* conftls.h - a service's TLS settings: certificates, SNI, ALPN, clients. */
#ifndef SUPERD_CONFTLS_H
#define SUPERD_CONFTLS_H

#include <libconfig.h>
#include <stddef.h>

struct svc_conf;

#define TLS_VERIFY_NONE 0
#define TLS_VERIFY_OPTIONAL 1
#define TLS_VERIFY_REQUIRE 2
#define TLS_VERIFY_ANY 3 /* asked for, any accepted: the script decides */

/* A file the settings name, resolved, and the line that names it. */
struct tls_file {
	char *path;
	int line;
};

/* One more certificate, chosen when the client asks for name (SNI). */
struct tls_sni {
	char *name;
	struct tls_file certificate, key;
};

struct tls_conf {
	char *file; /* the configuration file the settings are in */
	int line;   /* where "tls" is */
	struct tls_file certificate, key, client_ca;
	struct tls_sni *sni;
	int nsni;
	char **alpn;	    /* NULL-terminated, in preference order, or NULL */
	int verify_client;  /* TLS_VERIFY_* */
	int min_version;    /* an OpenSSL version: TLS1_2_VERSION, ... */
	char *ciphers;	    /* TLS 1.2's list, or NULL: OpenSSL's */
	char *ciphersuites; /* TLS 1.3's, or NULL */
	double handshake_timeout; /* seconds for the whole handshake */
};

/*
 * Service g's "tls" group and "starttls", into v; relative paths against
 * dir; file names the configuration file.  -1 with msg set and *at the
 * setting to blame (confservice.c adds FILE:LINE).
 */
int conftls_load(const config_setting_t *g, struct svc_conf *v,
    const char *file, const char *dir, const config_setting_t **at, char *msg,
    size_t len);
/* 1 when path is one of t's certificate, key and CA files. */
int conftls_has_file(const struct tls_conf *t, const char *path);
void conftls_free(struct tls_conf *t);

#endif
