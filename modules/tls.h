/*
 * tls.h - TLS as a stream transport (stream_ops): OpenSSL on the stream's
 * descriptor, non-blocking, in the one loop.  The handshake is a phase
 * of the stream, as the PROXY header is; after it the owner reads and
 * writes plaintext as on any stream.
 */
#ifndef SUPERD_TLS_H
#define SUPERD_TLS_H

#include <stddef.h>

#include "stream.h"

struct tls_ctx;

extern const struct stream_ops stream_tls;

/* What a script's socket:tlsinfo() and the log line tell. */
struct tls_info {
	const char *version; /* "TLSv1.3" */
	const char *cipher;
	const char *sni; /* the server name the client asked for, or NULL */
	char alpn[256];	 /* the protocol agreed, or "" */
	char subject[256], issuer[256]; /* the client's certificate, or "" */
	int peer;			/* the client sent a certificate */
	int verified;			/* a client certificate that passed */
	int resumed;
};

/*
 * st becomes a TLS server stream of x (held until the stream closes),
 * its handshake due within x's handshake_timeout: 0, or -1 (no memory).
 */
int tls_attach(struct stream *st, struct tls_ctx *x);
/*
 * st, connected, becomes a TLS client stream of x: the server's name
 * (for SNI and, when x verifies, the certificate's check) and the ALPN
 * protocols offered (wire format, or NULL).  0, or -1 (no memory).
 */
int tls_attach_client(struct stream *st, struct tls_ctx *x,
    const char *servername, const unsigned char *alpn, unsigned alpn_len,
    double timeout);
/* 0 with *out filled on a TLS stream whose handshake is done; else -1. */
int tls_info(const struct stream *st, struct tls_info *out);
void tls_note(const struct stream *st, char *out, size_t len);
/* Why the last handshake failed, for the log line, and its kind. */
const char *tls_failure(void);
#define TLS_FAIL_PROTOCOL 0    /* not TLS, or TLS gone wrong */
#define TLS_FAIL_CERTIFICATE 1 /* a certificate refused, or none */
#define TLS_FAIL_CLOSED 2      /* the peer left mid-handshake */
#define TLS_FAIL_TIMEOUT 3     /* handshake_timeout (the owner's to say) */
int tls_failure_kind(void);
extern const char *const tls_failure_kinds[]; /* their names */
/*
 * A handshake's end (STREAM_SECURE_*) counted, a failure logged as
 * "SERVICE: PEER: TLS handshake failed: WHY"; 1 when it succeeded.
 */
int tls_handshake_end(const struct stream *st, int how,
    struct service_stats *stats, const char *service, const char *peer);
/* 1 for TLS 1.3, 0 for older, on a stream whose handshake is done. */
int tls_is_13(const struct stream *st);

#endif
