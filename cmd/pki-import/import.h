/*
 * import.h - the parts of pki-import: the options (main.c), a
 * certificate from PEM files (pem.c), an account key from a JWK (jwk.c).
 */
#ifndef IMPORT_H
#define IMPORT_H

#include "pki.h"

struct import_opts {
	const char	*cert, *key, *chain;	/* pem: the files */
	const char	*name;			/* pem: the name to file it under */
	const char	*ca;			/* pem: "local" or "acme" */
	const char	*state;			/* pem: the instance's state */
	const char	*source;		/* pem: where it came from */
	const char	*jwk, *url, *directory;	/* account */
};

/*
 * Write the record of the certificate of O->cert with its key and chain:
 * read from the files, the key checked against the certificate.  One
 * that cannot be read or whose key does not belong to it is written as a
 * record with an error.  The exit status.
 */
int	 import_pem(const struct import_opts *o);
/*
 * Write the account record of the JWK in O->jwk (an RSA or EC private
 * key, RFC 7517/7518) with its URL and directory; the key as PKCS#8 PEM.
 * The exit status.
 */
int	 import_account(const struct import_opts *o);
/* The EVP_PKEY of JWK, an RSA or EC private key; NULL with the reason in
 * *WHY (static text, never key material). */
EVP_PKEY *jwk_private_key(const json_t *jwk, const char **why);

#endif /* IMPORT_H */
