/*
 * tlsctx.c - a service's OpenSSL server contexts.  One context per
 * certificate: the first for clients that name no server or one no SNI
 * entry has, one for each tls.sni entry, picked by the client's server
 * name; all of them with the same versions, ciphers, ALPN and client
 * certificate checks.  Renegotiation is refused, compression off, and
 * idle connections give their buffers back (SSL_MODE_RELEASE_BUFFERS).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "conftls.h"
#include "tlsctx.h"
#include "tlspem.h"

/*
 * OpenSSL's reason for what just failed (a system call's errno as its
 * text), or NULL when it gave none; its error queue emptied.
 */
const char *
tlsctx_reason(char *buf, size_t len)
{
	unsigned long e, last = 0, sys = 0;
	const char *r;

	/* "system lib" says only that the errno is further down */
	while ((e = ERR_get_error()) != 0) {
		if (ERR_SYSTEM_ERROR(e) && sys == 0)
			sys = e;
		last = e;
	}
	if (last == 0)
		return NULL;
	r = ERR_reason_error_string(last);
	if (sys != 0 &&
	    (ERR_SYSTEM_ERROR(last) || ERR_GET_REASON(last) == ERR_R_SYS_LIB))
		r = strerror(ERR_GET_REASON(sys));
	snprintf(buf, len, "%s", r ? r : "failed");
	return buf;
}

static const char *
reason(char *buf, size_t len)
{
	return tlsctx_reason(buf, len) ? buf : "failed";
}

static int
blame_file(const struct tls_conf *t, const struct tls_file *f, const char *what,
    char *err, size_t len)
{
	char why[256];

	snprintf(err, len, "%s:%d: tls %s %s: %s", t->file, f->line, what,
	    f->path, reason(why, sizeof(why)));
	return -1;
}

/* ALPN: the first of ours, in our order, that the client offers. */
static int
alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	const struct tls_ctx *x = arg;
	unsigned char *sel;

	(void)ssl;
	/* ours first: the server's preference order decides */
	if (SSL_select_next_proto(&sel, outlen, x->alpn, x->alpn_len, in,
		inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK; /* on, no protocol agreed */
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

/* "b.example" matches itself; "*.example" one label under example. */
static int
name_matches(const char *pattern, const char *name)
{
	const char *dot;

	if (strcasecmp(pattern, name) == 0)
		return 1;
	if (strncmp(pattern, "*.", 2) != 0 || (dot = strchr(name, '.')) == NULL)
		return 0;
	return dot != name && strcasecmp(pattern + 1, dot) == 0;
}

static int
servername(SSL *ssl, int *alert, void *arg)
{
	const struct tls_ctx *x = arg;
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	int i;

	(void)alert;
	if (name == NULL)
		return SSL_TLSEXT_ERR_OK;
	for (i = 0; i < x->nsni; i++)
		if (name_matches(x->names[i], name)) {
			SSL_set_SSL_CTX(ssl, x->sni[i]);
			break;
		}
	return SSL_TLSEXT_ERR_OK;
}

static int
set_ciphers(SSL_CTX *ctx, const struct tls_conf *t, char *err, size_t len)
{
	char why[256];

	if (t->ciphers && SSL_CTX_set_cipher_list(ctx, t->ciphers) != 1) {
		snprintf(err, len, "%s:%d: tls ciphers \"%s\": %s", t->file,
		    t->line, t->ciphers, reason(why, sizeof(why)));
		return -1;
	}
	if (t->ciphersuites &&
	    SSL_CTX_set_ciphersuites(ctx, t->ciphersuites) != 1) {
		snprintf(err, len, "%s:%d: tls ciphersuites \"%s\": %s",
		    t->file, t->line, t->ciphersuites,
		    reason(why, sizeof(why)));
		return -1;
	}
	return 0;
}

/*
 * optional_no_ca: the chain's verdict is kept for SSL_get_verify_result
 * (the script's verified, SSL_CLIENT_VERIFY=FAILED), the handshake goes on.
 */
static int
accept_any(int ok, X509_STORE_CTX *x)
{
	(void)ok;
	(void)x;
	return 1;
}

static int
set_clients(SSL_CTX *ctx, const struct tls_conf *t, char *err, size_t len)
{
	int mode = SSL_VERIFY_PEER;

	if (t->client_ca.path == NULL)
		return 0;
	if (tlspem_cas(ctx, t->client_ca.path) < 0)
		return blame_file(t, &t->client_ca, "client_ca", err, len);
	if (t->verify_client == TLS_VERIFY_REQUIRE)
		mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
	if (t->verify_client != TLS_VERIFY_NONE)
		SSL_CTX_set_verify(ctx, mode,
		    t->verify_client == TLS_VERIFY_ANY ? accept_any : NULL);
	return 0;
}

/* A server context with t's settings and the pair cert, key. */
static SSL_CTX *
ctx_new(struct tls_ctx *x, const struct tls_conf *t,
    const struct tls_file *cert, const struct tls_file *key, char *err,
    size_t len)
{
	static const unsigned char sid[] = "superd";
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	char why[256];

	if (ctx == NULL) {
		snprintf(err, len, "%s:%d: tls: %s", t->file, t->line,
		    reason(why, sizeof(why)));
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, t->min_version);
	/* a FIN without close_notify ends the input, as on a plain socket */
	SSL_CTX_set_options(ctx,
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
		SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS |
				  SSL_MODE_ENABLE_PARTIAL_WRITE |
				  SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_session_id_context(ctx, sid, sizeof(sid) - 1);
	if (x->alpn != NULL)
		SSL_CTX_set_alpn_select_cb(ctx, alpn_select, x);
	if (tlspem_chain(ctx, cert->path) < 0)
		blame_file(t, cert, "certificate", err, len);
	else if (tlspem_key(ctx, key->path) < 0)
		blame_file(t, key, "key", err, len);
	else if (SSL_CTX_check_private_key(ctx) != 1)
		blame_file(t, key, "key (not the certificate's)", err, len);
	else if (set_ciphers(ctx, t, err, len) == 0 &&
		 set_clients(ctx, t, err, len) == 0)
		return ctx;
	SSL_CTX_free(ctx);
	return NULL;
}

/* ALPN's names as the wire has them, and the SNI names: the ctx's own. */
static int
copy_names(struct tls_ctx *x, const struct tls_conf *t)
{
	unsigned n = 0;
	size_t k;
	int i;

	for (i = 0; t->alpn != NULL && t->alpn[i] != NULL; i++)
		n += 1 + (unsigned)strlen(t->alpn[i]);
	if (n > 0 && (x->alpn = malloc(n)) == NULL)
		return -1;
	for (i = 0; n > 0 && t->alpn[i] != NULL; i++) {
		k = strlen(t->alpn[i]);
		x->alpn[x->alpn_len++] = (unsigned char)k;
		memcpy(x->alpn + x->alpn_len, t->alpn[i], k);
		x->alpn_len += (unsigned)k;
	}
	if (t->nsni == 0)
		return 0;
	if ((x->sni = calloc(t->nsni, sizeof(*x->sni))) == NULL ||
	    (x->names = calloc(t->nsni, sizeof(char *))) == NULL)
		return -1;
	for (i = 0; i < t->nsni; i++, x->nsni++)
		if ((x->names[i] = strdup(t->sni[i].name)) == NULL)
			return -1;
	return 0;
}

struct tls_ctx *
tlsctx_new(const struct tls_conf *t, char *err, size_t len)
{
	struct tls_ctx *x = calloc(1, sizeof(*x));
	int i;

	if (x == NULL || copy_names(x, t) < 0) {
		snprintf(
		    err, len, "%s:%d: tls: out of memory", t->file, t->line);
		tlsctx_release(x);
		return NULL;
	}
	x->refs = 1;
	x->timeout = t->handshake_timeout;
	if ((x->main = ctx_new(x, t, &t->certificate, &t->key, err, len)) ==
	    NULL) {
		tlsctx_release(x);
		return NULL;
	}
	for (i = 0; i < t->nsni; i++)
		if ((x->sni[i] = ctx_new(x, t, &t->sni[i].certificate,
			 &t->sni[i].key, err, len)) == NULL) {
			tlsctx_release(x);
			return NULL;
		}
	if (t->nsni > 0) {
		SSL_CTX_set_tlsext_servername_callback(x->main, servername);
		SSL_CTX_set_tlsext_servername_arg(x->main, x);
	}
	return x;
}

struct tls_ctx *
tlsctx_hold(struct tls_ctx *x)
{
	x->refs++;
	return x;
}

/* The last holder frees it (refs 0: one that never was complete). */
void
tlsctx_release(struct tls_ctx *x)
{
	int i;

	if (x == NULL || --x->refs > 0)
		return;
	SSL_CTX_free(x->main);
	for (i = 0; i < x->nsni; i++) {
		SSL_CTX_free(x->sni[i]);
		free(x->names[i]);
	}
	free(x->sni);
	free(x->names);
	free(x->alpn);
	free(x);
}
