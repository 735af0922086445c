/*
 * tlsclient.h - the OpenSSL contexts of outbound TLS (superd.connect):
 * one per set of options (CA file, client certificate, verification),
 * kept for the next connection that asks for the same.
 */
#ifndef SUPERD_TLSCLIENT_H
#define SUPERD_TLSCLIENT_H

#include <stddef.h>

struct tls_ctx;

struct tls_client_opts {
	const char *ca;		/* PEM file; NULL: the system's CAs */
	const char *certificate; /* the client's own, with key, or NULL */
	const char *key;
	int verify; /* check the server's certificate and name */
};

/* A context held for the caller, or NULL with the reason in err. */
struct tls_ctx *tlsclient_ctx(
    const struct tls_client_opts *o, char *err, size_t len);
/* The contexts kept, let go (the daemon's end). */
void tlsclient_forget(void);

#endif
