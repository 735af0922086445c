/*
 * tlspem.c - a TLS service's PEM files, read whole and parsed from
 * memory.  Read by superd, or, when superd has given root up and the file
 * is root's alone (a key, as certbot leaves it), opened by the process
 * that kept root (spawner.c) and read from the descriptor it hands over:
 * so a SIGHUP takes a renewed certificate whatever user superd serves as.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "tlspem.h"

#define PEM_MAX (1 << 20) /* a chain of many certificates fits */

static tlspem_open_fn *opener;

void
tlspem_set_opener(tlspem_open_fn *fn)
{
	opener = fn;
}

static int
sys_error(int e)
{
	ERR_raise(ERR_LIB_SYS, e);
	return -1;
}

/* The file's bytes, from a descriptor read to its end. */
static BIO *
read_all(int fd)
{
	BIO *b = BIO_new(BIO_s_mem());
	char chunk[8192];
	long total = 0;
	ssize_t n;

	while (b != NULL && (n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || (total += n) > PEM_MAX ||
		    BIO_write(b, chunk, (int)n) != n) {
			sys_error(n < 0 ? errno : EFBIG);
			BIO_free(b);
			return NULL;
		}
	}
	return b;
}

static BIO *
load(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	BIO *b;

	if (fd < 0 && (errno == EACCES || errno == EPERM) && opener != NULL)
		fd = opener(path);
	if (fd < 0) {
		sys_error(errno);
		return NULL;
	}
	b = read_all(fd);
	close(fd);
	return b;
}

/* The end of the file after at least one: not an error. */
static void
forgive_the_end(void)
{
	unsigned long e = ERR_peek_last_error();

	if (ERR_GET_LIB(e) == ERR_LIB_PEM &&
	    ERR_GET_REASON(e) == PEM_R_NO_START_LINE)
		ERR_clear_error();
}

/* The leaf first, then the chain that goes with it. */
int
tlspem_chain(SSL_CTX *ctx, const char *path)
{
	BIO *b = load(path);
	X509 *x = b ? PEM_read_bio_X509_AUX(b, NULL, NULL, NULL) : NULL;
	int rc = x != NULL && SSL_CTX_use_certificate(ctx, x) == 1 &&
			 SSL_CTX_clear_chain_certs(ctx) == 1
		     ? 0
		     : -1;

	X509_free(x);
	while (rc == 0 && (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
		if (SSL_CTX_add0_chain_cert(ctx, x) != 1) {
			X509_free(x);
			rc = -1;
		}
	if (rc == 0)
		forgive_the_end();
	BIO_free(b);
	return rc;
}

int
tlspem_key(SSL_CTX *ctx, const char *path)
{
	BIO *b = load(path);
	EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
	int rc = k != NULL && SSL_CTX_use_PrivateKey(ctx, k) == 1 ? 0 : -1;

	EVP_PKEY_free(k);
	BIO_free(b);
	return rc;
}

/* What a client's certificate is checked against, and named to it. */
int
tlspem_cas(SSL_CTX *ctx, const char *path)
{
	STACK_OF(X509_NAME) *names = sk_X509_NAME_new_null();
	X509_STORE *store = SSL_CTX_get_cert_store(ctx);
	BIO *b = names ? load(path) : NULL;
	X509_NAME *name;
	int n = 0, rc = b != NULL ? 0 : -1;
	X509 *x;

	while (
	    rc == 0 && (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
		name = X509_NAME_dup(X509_get_subject_name(x));
		if (X509_STORE_add_cert(store, x) != 1 || name == NULL ||
		    sk_X509_NAME_push(names, name) == 0) {
			X509_NAME_free(name);
			rc = -1;
		}
		X509_free(x);
		n++;
	}
	if (rc == 0 && n > 0)
		forgive_the_end();
	BIO_free(b);
	if (rc < 0 || n == 0) {
		sk_X509_NAME_pop_free(names, X509_NAME_free);
		return -1;
	}
	SSL_CTX_set_client_CA_list(ctx, names);
	return 0;
}
