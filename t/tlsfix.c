/* tlsfix.c - TLS tests' certificates: a throwaway CA by the openssl CLI. */
#include <stdio.h>
#include <stdlib.h>

#include "tlsfix.h"

/*
 * A CA, server certificates for localhost and b.example, a client's; a
 * stranger's, self-signed.
 */
static const char pki_sh[] =
    "set -e\n"
    "key() { openssl genpkey -algorithm EC"
    " -pkeyopt ec_paramgen_curve:P-256 -out \"$1\" 2>/dev/null; }\n"
    "cert() { # name subject [ca]\n"
    "  key $1.key\n"
    "  openssl req -new -key $1.key -subj \"$2\" -out $1.csr\n"
    "  printf 'subjectAltName=DNS:%s\\n' \"${2##*CN=}\" > $1.ext\n"
    "  openssl x509 -req -in $1.csr -CA ${3:-ca}.pem -CAkey ${3:-ca}.key"
    " -CAcreateserial -days 2 -extfile $1.ext -out $1.pem 2>/dev/null\n"
    "}\n"
    "key ca.key\n"
    "openssl req -x509 -new -key ca.key -subj '/CN=superd test CA'"
    " -days 2 -out ca.pem\n"
    "cert localhost /CN=localhost\n"
    "cert b.example /CN=b.example\n"
    "cert client /CN=client\n"
    "cert renewed '/O=renewed/CN=localhost'\n"
    "key stranger.key\n"
    "openssl req -x509 -new -key stranger.key -subj '/CN=stranger'"
    " -days 2 -out stranger.pem\n"
    "printf 'not a certificate\\n' > bad.pem\n";

int
tlsfix_pki(struct superd *d)
{
	char cmd[512];

	sd_write(d, "pki.sh", "%s", pki_sh);
	snprintf(
	    cmd, sizeof(cmd), "cd '%s' && sh pki.sh > pki.log 2>&1", d->dir);
	if (system(cmd) != 0) {
		fprintf(stderr,
		    "cannot make the certificates: see %s/pki.log\n", d->dir);
		return -1;
	}
	return 0;
}
