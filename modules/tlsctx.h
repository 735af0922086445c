/*
 * tlsctx.h - a service's OpenSSL contexts, made from its TLS settings:
 * the certificate and key (and one pair per SNI name), ALPN, client
 * certificates, versions and ciphers.
 */
#ifndef SUPERD_TLSCTX_H
#define SUPERD_TLSCTX_H

#include <stddef.h>

struct tls_conf;
struct ssl_ctx_st;

/*
 * Held by each connection that uses it, so a SIGHUP's new contexts do
 * not pull the old ones from under a handshake: what the callbacks read
 * is the contexts' own copy, not the configuration's.
 */
struct tls_ctx {
	struct ssl_ctx_st *main; /* the certificate given first */
	struct ssl_ctx_st **sni; /* one per name, in the settings' order */
	char **names;		 /* the SNI names */
	int nsni;
	unsigned char *alpn; /* ALPN's wire format: length, name, ... */
	unsigned alpn_len;
	double timeout; /* handshake_timeout */
	int refs;
};

/*
 * Every file loaded and checked (a key that is not its certificate's is
 * an error): the contexts, or NULL with "FILE:LINE: ..." in err.
 */
struct tls_ctx *tlsctx_new(const struct tls_conf *t, char *err, size_t len);
struct tls_ctx *tlsctx_hold(struct tls_ctx *x);
const char *tlsctx_reason(char *buf, size_t len);
void tlsctx_release(struct tls_ctx *x);

#endif
