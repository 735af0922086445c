/*
 * tls.c - TLS as a stream transport.  OpenSSL works on the stream's
 * non-blocking descriptor; "would block", either way, is EAGAIN to the
 * stream, which waits for the next edge as it does for plain bytes.  A
 * recv reads records until the room is full or the kernel has no more,
 * so that no decrypted byte waits inside OpenSSL with no edge to come
 * for it; OpenSSL reads ahead, and a read that came back short tells
 * that the kernel has no more without another.  Every call starts with
 * an empty OpenSSL error queue: one connection's error is never
 * another's.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "log.h"
#include "tls.h"
#include "tlsctx.h"

static char failure[256];
static int failure_kind;

const char *const tls_failure_kinds[] = {
    "protocol", "certificate", "closed", "timeout"};

/* An OpenSSL result that is not data, as errno for the stream. */
static ssize_t
would_block(SSL *ssl, int r)
{
	int e = SSL_get_error(ssl, r);

	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		errno = EAGAIN;
		return -1;
	}
	if (e == SSL_ERROR_ZERO_RETURN)
		return 0; /* the peer's close_notify, or its FIN */
	ERR_clear_error();
	errno = ECONNRESET;
	return -1;
}

/*
 * Set by the socket BIO's callback after each read it makes: the read
 * came back with less than OpenSSL asked for (read-ahead asks for all
 * the room its buffer has), so the kernel held no more just then.
 */
static int kernel_dry;

static long
note_read(BIO *b, int oper, const char *argp, size_t len, int argi, long argl,
    int ret, size_t *processed)
{
	(void)b;
	(void)argp;
	(void)argi;
	(void)argl;
	if (oper == (BIO_CB_READ | BIO_CB_RETURN))
		kernel_dry = ret > 0 && *processed < len;
	return ret;
}

/*
 * Records until the room is full, OpenSSL says WANT_READ, or all it
 * read from a kernel that had no more is decrypted and taken: a short
 * return then says drained, as a short recv does on a plain socket, and
 * edge-triggered epoll reports what comes next.  No SSL_read just to
 * hear WANT_READ.
 */
static ssize_t
tls_recv(struct stream *st, void *p, size_t n)
{
	size_t got = 0;
	ssize_t r;
	int k;

	ERR_clear_error();
	kernel_dry = 0;
	while (got < n) {
		k = SSL_read(st->ssl, (char *)p + got,
		    n - got > INT_MAX ? INT_MAX : (int)(n - got));
		if (k > 0) {
			got += (size_t)k;
			if (kernel_dry && !SSL_has_pending(st->ssl))
				break;
			continue;
		}
		r = would_block(st->ssl, k);
		if (got > 0) {
			/*
			 * The end, or the error, is for the next call, which
			 * no edge will prompt: OpenSSL has read it already.
			 */
			if (r == 0 || errno != EAGAIN)
				st->hup = 1;
			return (ssize_t)got;
		}
		return r;
	}
	return (ssize_t)got;
}

static ssize_t
tls_send(struct stream *st, const void *p, size_t n)
{
	int k;

	ERR_clear_error();
	k = SSL_write(st->ssl, p, n > INT_MAX ? INT_MAX : (int)n);
	if (k > 0)
		return k;
	if (would_block(st->ssl, k) == 0)
		errno = EPIPE;
	return -1;
}

/* shutdown("w"): a close_notify, then the FIN. */
static int
tls_shutdown(struct stream *st, int how)
{
	if (how == SHUT_WR && SSL_is_init_finished(st->ssl)) {
		ERR_clear_error();
		SSL_shutdown(st->ssl);
		ERR_clear_error();
	}
	return shutdown(st->io.fd, how);
}

/* OpenSSL's reason, or what the socket said, for the log line. */
static void
note_failure(SSL *ssl, int r)
{
	int kind = SSL_get_error(ssl, r), saved = errno;

	long v = SSL_get_verify_result(ssl);
	size_t n;

	if (tlsctx_reason(failure, sizeof(failure)) != NULL) {
		n = strlen(failure);
		failure_kind = v != X509_V_OK || strstr(failure, "certificate")
				   ? TLS_FAIL_CERTIFICATE
				   : TLS_FAIL_PROTOCOL;
		if (v != X509_V_OK)
			snprintf(failure + n, sizeof(failure) - n, ": %s",
			    X509_verify_cert_error_string(v));
		return;
	}
	failure_kind = TLS_FAIL_CLOSED;
	if (kind == SSL_ERROR_SYSCALL && saved != 0)
		snprintf(failure, sizeof(failure), "%s", strerror(saved));
	else
		snprintf(failure, sizeof(failure), "the client left");
}

static int
tls_handshake(struct stream *st)
{
	int r, e;

	ERR_clear_error();
	errno = 0;
	if ((r = SSL_do_handshake(st->ssl)) == 1)
		return 1;
	e = SSL_get_error(st->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return 0;
	note_failure(st->ssl, r);
	return -1;
}

/* A close_notify when the handshake was done and the stream is sound. */
static void
tls_close(struct stream *st)
{
	struct tls_ctx *x = SSL_get_app_data(st->ssl);

	if (!st->broken && !st->reset && SSL_is_init_finished(st->ssl) &&
	    !(SSL_get_shutdown(st->ssl) & SSL_SENT_SHUTDOWN)) {
		ERR_clear_error();
		SSL_shutdown(st->ssl);
	}
	ERR_clear_error();
	SSL_free(st->ssl);
	st->ssl = NULL;
	tlsctx_release(x);
}

const struct stream_ops stream_tls = {
    .recv = tls_recv,
    .send = tls_send,
    .shutdown = tls_shutdown,
    .handshake = tls_handshake,
    .close = tls_close,
};

static SSL *
session_new(struct stream *st, struct tls_ctx *x)
{
	SSL *ssl = SSL_new(x->main);

	if (ssl == NULL || SSL_set_fd(ssl, st->io.fd) != 1) {
		SSL_free(ssl);
		ERR_clear_error();
		return NULL;
	}
	/* a record, or several, in one read; note_read says when it was
	 * all the kernel had */
	SSL_set_read_ahead(ssl, 1);
	BIO_set_callback_ex(SSL_get_rbio(ssl), note_read);
	return ssl;
}

/* The stream's transport from now on, its handshake due within timeout. */
static void
session_take(struct stream *st, struct tls_ctx *x, SSL *ssl, double timeout)
{
	SSL_set_app_data(ssl, tlsctx_hold(x));
	st->ssl = ssl;
	st->ops = &stream_tls;
	st->handshaking = 1;
	stream_idle_at(st, loop_now() + timeout);
}

int
tls_attach(struct stream *st, struct tls_ctx *x)
{
	SSL *ssl = session_new(st, x);

	if (ssl == NULL)
		return -1;
	SSL_set_accept_state(ssl);
	session_take(st, x, ssl, x->timeout);
	return 0;
}

/* A name that is an address is checked as one, and sent as no SNI. */
static int
set_server(SSL *ssl, const char *name)
{
	X509_VERIFY_PARAM *p = SSL_get0_param(ssl);
	unsigned char addr[16];

	if (inet_pton(AF_INET, name, addr) == 1 ||
	    inet_pton(AF_INET6, name, addr) == 1)
		return X509_VERIFY_PARAM_set1_ip_asc(p, name) == 1 ? 0 : -1;
	if (SSL_set_tlsext_host_name(ssl, name) != 1)
		return -1;
	return SSL_set1_host(ssl, name) == 1 ? 0 : -1;
}

int
tls_attach_client(struct stream *st, struct tls_ctx *x, const char *servername,
    const unsigned char *alpn, unsigned alpn_len, double timeout)
{
	SSL *ssl = session_new(st, x);

	if (ssl == NULL)
		return -1;
	/* SSL_set_alpn_protos is the one OpenSSL call that gives 0 for ok */
	if ((servername != NULL && set_server(ssl, servername) < 0) ||
	    (alpn != NULL && SSL_set_alpn_protos(ssl, alpn, alpn_len) != 0)) {
		SSL_free(ssl);
		ERR_clear_error();
		return -1;
	}
	SSL_set_connect_state(ssl);
	session_take(st, x, ssl, timeout);
	return 0;
}

/* A name as RFC 2253 writes it ("CN=c,O=o"), or "". */
static void
name_text(X509_NAME *name, char *out, size_t len)
{
	BIO *b = BIO_new(BIO_s_mem());
	int n = 0;

	out[0] = '\0';
	if (b == NULL)
		return;
	if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253) >= 0 &&
	    (n = BIO_read(b, out, (int)len - 1)) > 0)
		out[n] = '\0';
	BIO_free(b);
}

int
tls_info(const struct stream *st, struct tls_info *out)
{
	const unsigned char *alpn;
	unsigned alpn_len;
	X509 *peer;

	if (st->ssl == NULL || !SSL_is_init_finished(st->ssl))
		return -1;
	memset(out, 0, sizeof(*out));
	out->version = SSL_get_version(st->ssl);
	out->cipher = SSL_get_cipher_name(st->ssl);
	out->sni = SSL_get_servername(st->ssl, TLSEXT_NAMETYPE_host_name);
	SSL_get0_alpn_selected(st->ssl, &alpn, &alpn_len);
	if (alpn != NULL && alpn_len < sizeof(out->alpn)) {
		memcpy(out->alpn, alpn, alpn_len);
		out->alpn[alpn_len] = '\0';
	}
	out->resumed = SSL_session_reused(st->ssl);
	if ((peer = SSL_get0_peer_certificate(st->ssl)) != NULL) {
		out->peer = 1;
		name_text(X509_get_subject_name(peer), out->subject,
		    sizeof(out->subject));
		name_text(X509_get_issuer_name(peer), out->issuer,
		    sizeof(out->issuer));
		out->verified = SSL_get_verify_result(st->ssl) == X509_V_OK;
	}
	ERR_clear_error();
	return 0;
}

/* " tls TLSv1.3 sni NAME" for the log line of a stream whose handshake
 * is done, else "". */
void
tls_note(const struct stream *st, char *out, size_t len)
{
	struct tls_info ti;

	out[0] = '\0';
	if (tls_info(st, &ti) == 0)
		snprintf(out, len, " tls %s%s%s", ti.version,
		    ti.sni ? " sni " : "", ti.sni ? ti.sni : "");
}

const char *
tls_failure(void)
{
	return failure;
}

/* A handshake's end (STREAM_SECURE_*) in its service's counters. */
int
tls_handshake_end(const struct stream *st, int how, struct service_stats *stats,
    const char *service, const char *peer)
{
	if (how == STREAM_SECURE_OK) {
		stats->tls_handshakes++;
		stats->tls_versions[tls_is_13(st)]++;
		return 1;
	}
	stats->tls_failures++;
	stats->tls_failed_by[how == STREAM_SECURE_LATE ? TLS_FAIL_TIMEOUT
						       : tls_failure_kind()]++;
	log_msg(LOG_INFO, "%s: %s: TLS handshake failed: %s", service, peer,
	    how == STREAM_SECURE_LATE ? "handshake_timeout" : tls_failure());
	return 0;
}

int
tls_failure_kind(void)
{
	return failure_kind;
}

int
tls_is_13(const struct stream *st)
{
	return st->ssl != NULL && SSL_version(st->ssl) == TLS1_3_VERSION;
}
