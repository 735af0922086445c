/*
 * tlsclient.c - outbound TLS contexts, by their options: a CA file is
 * read once, not at every connect.  The few kept are held here; a
 * connection holds its own reference, so one dropped from the list
 * lives until its last connection ends.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "tlsclient.h"
#include "tlsctx.h"
#include "tlspem.h"

#define KEPT 8

static struct {
	char *key; /* the options as one string */
	struct tls_ctx *x;
} kept[KEPT];
static int next_slot;

static char *
options_key(const struct tls_client_opts *o)
{
	char *k;

	if (asprintf(&k, "%d\n%s\n%s\n%s", o->verify, o->ca ? o->ca : "",
		o->certificate ? o->certificate : "", o->key ? o->key : "") < 0)
		return NULL;
	return k;
}

static int
fail(char *err, size_t len, const char *what, const char *path)
{
	char why[256];

	snprintf(err, len, "%s%s%s: %s", what, path ? " " : "", path ? path : "",
	    tlsctx_reason(why, sizeof(why)) ? why : "failed");
	return -1;
}

static int
configure(SSL_CTX *ctx, const struct tls_client_opts *o, char *err, size_t len)
{
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
				     SSL_OP_NO_COMPRESSION |
				     SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS |
				  SSL_MODE_ENABLE_PARTIAL_WRITE |
				  SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (o->ca != NULL && tlspem_cas(ctx, o->ca) < 0)
		return fail(err, len, "ca", o->ca);
	if (o->ca == NULL && SSL_CTX_set_default_verify_paths(ctx) != 1)
		return fail(err, len, "the system's CAs", NULL);
	if (o->certificate != NULL && tlspem_chain(ctx, o->certificate) < 0)
		return fail(err, len, "certificate", o->certificate);
	if (o->key != NULL && tlspem_key(ctx, o->key) < 0)
		return fail(err, len, "key", o->key);
	SSL_CTX_set_verify(ctx, o->verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE,
	    NULL);
	/* a client CA list is no business of a client's */
	SSL_CTX_set_client_CA_list(ctx, NULL);
	return 0;
}

static struct tls_ctx *
ctx_new(const struct tls_client_opts *o, char *err, size_t len)
{
	struct tls_ctx *x = calloc(1, sizeof(*x));

	if (x == NULL || (x->main = SSL_CTX_new(TLS_client_method())) == NULL) {
		free(x);
		snprintf(err, len, "out of memory");
		return NULL;
	}
	x->refs = 1;
	if (configure(x->main, o, err, len) < 0) {
		tlsctx_release(x);
		return NULL;
	}
	return x;
}

struct tls_ctx *
tlsclient_ctx(const struct tls_client_opts *o, char *err, size_t len)
{
	char *key = options_key(o);
	struct tls_ctx *x;
	int i;

	if (key == NULL) {
		snprintf(err, len, "out of memory");
		return NULL;
	}
	for (i = 0; i < KEPT; i++)
		if (kept[i].key != NULL && strcmp(kept[i].key, key) == 0) {
			free(key);
			return tlsctx_hold(kept[i].x);
		}
	if ((x = ctx_new(o, err, len)) == NULL) {
		free(key);
		return NULL;
	}
	i = next_slot++ % KEPT;
	free(kept[i].key);
	tlsctx_release(kept[i].x);
	kept[i].key = key;
	kept[i].x = tlsctx_hold(x);
	return x;
}

void
tlsclient_forget(void)
{
	int i;

	for (i = 0; i < KEPT; i++) {
		free(kept[i].key);
		tlsctx_release(kept[i].x);
		kept[i].key = NULL;
		kept[i].x = NULL;
	}
}
