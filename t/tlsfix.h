/* tlsfix.h - TLS tests' certificates: a throwaway CA by the openssl CLI. */
#ifndef SUPERD_T_TLSFIX_H
#define SUPERD_T_TLSFIX_H

#include "sd.h"

/*
 * In d->dir: ca.pem/ca.key (CN=superd test CA), and signed by it
 * localhost, b.example, client (CN=client) and renewed (O=renewed,
 * CN=localhost), each NAME.pem and NAME.key; stranger (CN=stranger),
 * self-signed; bad.pem, not a certificate.
 * 0, or -1 (see d->dir/pki.log).
 */
int tlsfix_pki(struct superd *d);

#endif
