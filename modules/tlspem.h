/*
 * tlspem.h - the PEM files of a TLS service read into an OpenSSL
 * context: the certificate chain, the private key, the CAs of clients.
 */
#ifndef SUPERD_TLSPEM_H
#define SUPERD_TLSPEM_H

struct ssl_ctx_st;

/* Opens what superd may not read itself any more: a descriptor, or -1. */
typedef int tlspem_open_fn(const char *path);

/* 0, or -1 with the reason in OpenSSL's error queue (an errno too). */
int tlspem_chain(struct ssl_ctx_st *ctx, const char *path);
int tlspem_key(struct ssl_ctx_st *ctx, const char *path);
int tlspem_cas(struct ssl_ctx_st *ctx, const char *path);
void tlspem_set_opener(tlspem_open_fn *fn);

#endif
