/*
 * check.c - what must hold before anything is written for a record:
 * each certificate parses, its chain verifies it, and the key that goes
 * with it is its key.  A record that fails is refused as a whole.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "deploy.h"

/*
 * NULL if CHAIN (the issuing CA certificates, issuer first) verifies
 * CERT, else why not.  The last certificate of the chain is the trust
 * anchor (pki trusts its own database for that); a self-signed
 * certificate without a chain anchors itself.  Times are checked too.
 */
static const char *
chain_problem(X509 *cert, STACK_OF(X509) *chain)
{
	X509_STORE *store = NULL;
	X509_STORE_CTX *ctx = NULL;
	X509 *anchor;
	const char *why = NULL;
	int n = sk_X509_num(chain);

	anchor = n > 0 ? sk_X509_value(chain, n - 1) : cert;
	if (n == 0 && X509_check_issued(cert, cert) != X509_V_OK)
		return "no chain, and the certificate is not self-signed";
	if ((store = X509_STORE_new()) == NULL ||
	    (ctx = X509_STORE_CTX_new()) == NULL ||
	    X509_STORE_add_cert(store, anchor) != 1 ||
	    X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN) != 1 ||
	    X509_STORE_CTX_init(ctx, store, cert, chain) != 1)
		why = "out of memory";
	else if (X509_verify_cert(ctx) != 1)
		why = X509_verify_cert_error_string(
		    X509_STORE_CTX_get_error(ctx));
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return why;
}

/* NULL if KEY_PEM is the private key of the certificate PEM, else why
 * not. */
static const char *
key_problem(const char *pem, const char *key_pem)
{
	const unsigned char *spki;
	unsigned char *der;
	const char *why = NULL;
	EVP_PKEY *key;
	long len, spkilen;

	if (pki_pem_is_encrypted(key_pem))
		return "encrypted: pki-deploy needs keys in clear "
		    "(pki-select --with-keys decrypts them)";
	if ((key = pki_key_from_pem(key_pem, NULL, &why)) == NULL)
		return why;
	if ((der = pki_pem_der(pem, "CERTIFICATE", 0, &len)) == NULL ||
	    pki_der_spki(der, len, &spki, &spkilen) == -1)
		why = "the certificate is unreadable";
	else if (pki_key_matches_spki(key, spki, spkilen) == -1)
		why = "does not belong to the certificate";
	OPENSSL_free(der);
	EVP_PKEY_free(key);
	return why;
}

/* Check the certificate of ALGO and its key; 0 / -1 (error added). */
static int
check_algo(json_t *rec, const char *algo, json_t *entry, int need_key)
{
	const char *pem = pki_str(entry, "pem"), *chain_pem;
	const char *key_pem, *why;
	STACK_OF(X509) *chain = NULL;
	X509 *cert = NULL;
	char field[32];

	snprintf(field, sizeof(field), "cert.%.16s", algo);
	if (!pki_algo_valid(algo))
		return pki_rec_error(rec, "cert", "unknown algorithm \"%.16s\"",
		    algo);
	if (pem == NULL || (cert = pki_cert_from_pem(pem)) == NULL)
		return pki_rec_error(rec, field, "no PEM certificate");
	chain_pem = pki_str(entry, "chain");
	if ((chain = pki_certs_from_pem(chain_pem ? chain_pem : "")) == NULL)
		why = "out of memory";
	else
		why = chain_problem(cert, chain);
	sk_X509_pop_free(chain, X509_free);
	X509_free(cert);
	if (why != NULL)
		return pki_rec_error(rec, field, "the chain does not verify "
		    "the certificate: %s", why);
	snprintf(field, sizeof(field), "key.%.16s", algo);
	key_pem = pki_str(json_object_get(rec, "key"), algo);
	if (key_pem == NULL)
		return need_key ? pki_rec_error(rec, field, "missing (a target "
		    "needs the key: pki-select --with-keys gives it)") : 0;
	if ((why = key_problem(pem, key_pem)) != NULL)
		return pki_rec_error(rec, field, "%s", why);
	return 0;
}

int
check_record(json_t *rec, int need_key)
{
	json_t *certs = json_object_get(rec, "cert"), *entry;
	const char *algo;
	int rc = 0;

	json_object_foreach(certs, algo, entry) {
		if (check_algo(rec, algo, entry, need_key) == -1)
			rc = -1;
	}
	return rc;
}
