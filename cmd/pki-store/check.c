/*
 * check.c - pki-store believes no record: what it stores of a certificate
 * is read from the certificate itself, and the certificate must be what
 * the record says it is.
 *
 * For each certificate of a record ("cert": {algo: {...}}): it parses, its
 * key is of the algorithm it is filed under, the dates, serial and hash
 * the record states (if any) are the certificate's own, its chain verifies
 * signature by signature up to the last certificate given, and every
 * certificate of the record covers the same names.  Whether those names
 * are the certificate's configured names, whether the key belongs to it,
 * whether the issuer is a CA pki knows and whether the claim is this
 * run's is checked against the database where the record is stored
 * (record.c).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/x509v3.h>

#include "store.h"

/* 0 if the record states FIELD of ENTRY as ACTUAL or not at all; else an
 * error naming both. */
static int
same(json_t *rec, const char *algo, const json_t *entry, const char *field,
    const char *actual, int nocase)
{
	const char *said = pki_str(entry, field);

	if (said == NULL || (nocase ? strcasecmp(said, actual) :
	    strcmp(said, actual)) == 0)
		return 0;
	return pki_rec_error(rec, "cert", "%s: the record says %s %s, the "
	    "certificate %s", algo, field, said, actual);
}

/* The dates, serial and hash of CERT against what ENTRY says; its dates
 * into NB and NA. */
static int
check_facts(json_t *rec, const char *algo, const json_t *entry, X509 *cert,
    char nb[32], char na[32])
{
	char hash[65], *serial = NULL;
	BIGNUM *bn = NULL;
	int rc;

	if (pki_time_rfc3339(X509_get0_notBefore(cert), nb) == -1 ||
	    pki_time_rfc3339(X509_get0_notAfter(cert), na) == -1 ||
	    pki_cert_sha256(cert, hash) == -1 ||
	    (bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert),
	    NULL)) == NULL || (serial = BN_bn2hex(bn)) == NULL) {
		BN_free(bn);
		return pki_rec_error(rec, "cert", "%s: unreadable dates or "
		    "serial", algo);
	}
	BN_free(bn);
	rc = same(rec, algo, entry, "not_before", nb, 0) | same(rec, algo,
	    entry, "not_after", na, 0) | same(rec, algo, entry, "sha256",
	    hash, 1) | same(rec, algo, entry, "serial", serial, 1);
	OPENSSL_free(serial);
	return rc;
}

/* 0 if ISSUER issued and signed CERT. */
static int
signed_by(X509 *cert, X509 *issuer)
{
	EVP_PKEY *key = X509_get0_pubkey(issuer);

	return key != NULL && X509_check_issued(issuer, cert) == X509_V_OK &&
	    X509_verify(cert, key) == 1 ? 0 : -1;
}

/*
 * The chain of the record before: a batch's certificates share their CA,
 * and parsing and verifying its certificates again for each would cost
 * more than the rest of storing the record.
 */
static struct {
	char		*pem;		/* the chain's PEM text ... */
	STACK_OF(X509)	*certs;		/* ... parsed */
	int		 ok;		/* each signed by the next ... */
	int		 bad;		/* ... else the first that is not
					 * (0: the self-signed top) */
} last;

void
check_forget(void)
{
	free(last.pem);
	sk_X509_pop_free(last.certs, X509_free);
	memset(&last, 0, sizeof(last));
}

/* 0 if the certificates of CHAIN are each signed by the next, and the
 * last by itself when it is self-issued; else which one is not. */
static int
chain_links(STACK_OF(X509) *chain, int *bad)
{
	X509 *top;
	int i, n = sk_X509_num(chain);

	for (i = 0; i + 1 < n; i++)
		if (signed_by(sk_X509_value(chain, i),
		    sk_X509_value(chain, i + 1)) == -1) {
			*bad = i + 2;
			return -1;
		}
	*bad = 0;
	top = n > 0 ? sk_X509_value(chain, n - 1) : NULL;
	if (top != NULL && X509_check_issued(top, top) == X509_V_OK &&
	    X509_verify(top, X509_get0_pubkey(top)) != 1)
		return -1;
	return 0;
}

/* The chain of CHAIN_PEM, parsed and its links checked (cached: the
 * caller does not free it); NULL on memory exhaustion. */
static STACK_OF(X509) *
chain_of(const char *chain_pem, int *ok, int *bad)
{
	if (last.pem == NULL || strcmp(last.pem, chain_pem) != 0) {
		check_forget();
		if ((last.pem = strdup(chain_pem)) == NULL ||
		    (last.certs = pki_certs_from_pem(chain_pem)) == NULL) {
			check_forget();
			return NULL;
		}
		last.ok = chain_links(last.certs, &last.bad) == 0;
	}
	*ok = last.ok;
	*bad = last.bad;
	return last.certs;
}

/*
 * CERT and the certificates of CHAIN_PEM, each signed by the next; the
 * last by itself when it is self-issued.  A record without a chain must
 * be a self-signed certificate (a CA's).
 */
static int
check_chain(json_t *rec, const char *algo, X509 *cert, const char *chain_pem)
{
	STACK_OF(X509) *chain;
	int ok, bad;

	if ((chain = chain_of(chain_pem ? chain_pem : "", &ok, &bad)) == NULL)
		return pki_rec_error(rec, "cert", "%s: out of memory", algo);
	if (sk_X509_num(chain) == 0) {
		if (X509_check_issued(cert, cert) != X509_V_OK)
			return pki_rec_error(rec, "cert", "%s: no chain: the "
			    "issuing CA is unknown", algo);
		if (X509_verify(cert, X509_get0_pubkey(cert)) != 1)
			return pki_rec_error(rec, "cert", "%s: a self-signed "
			    "certificate with a bad signature", algo);
		return 0;
	}
	if (signed_by(cert, sk_X509_value(chain, 0)) == -1)
		return pki_rec_error(rec, "cert", "%s: the certificate is not "
		    "signed by the chain's certificate 1", algo);
	if (!ok && bad > 0)
		return pki_rec_error(rec, "cert", "%s: a chain certificate is "
		    "not signed by the chain's certificate %d", algo, bad);
	if (!ok)
		return pki_rec_error(rec, "cert", "%s: a self-signed "
		    "certificate with a bad signature", algo);
	return 0;
}

/* One certificate of the record: parsed, of its algorithm, its facts and
 * chain checked; its names into *NAMES (caller frees). */
static int
check_one(json_t *rec, const char *algo, const json_t *entry, char nb[32],
    char na[32], char **names)
{
	GENERAL_NAMES *gens = NULL;
	X509 *cert;
	const char *type;
	int rc = -1;

	if ((cert = pki_cert_from_pem(pki_str(entry, "pem"))) == NULL)
		return pki_rec_error(rec, "cert", "%s: no PEM certificate",
		    algo);
	type = pki_key_algo(X509_get0_pubkey(cert));
	if (type == NULL || strcmp(type, algo) != 0)
		pki_rec_error(rec, "cert", "%s: the certificate's key is %s",
		    algo, type ? type : "of another type");
	else if (check_facts(rec, algo, entry, cert, nb, na) == 0 &&
	    check_chain(rec, algo, cert, pki_str(entry, "chain")) == 0) {
		gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL,
		    NULL);
		if ((*names = pki_names_covered(X509_get_subject_name(cert),
		    gens)) == NULL)
			pki_rec_error(rec, "cert", "%s: covers no names, too "
			    "many, or unreadable ones", algo);
		else
			rc = 0;
	}
	GENERAL_NAMES_free(gens);
	X509_free(cert);
	return rc;
}

int
check_certs(json_t *rec, struct seen *seen)
{
	json_t *certs = json_object_get(rec, "cert"), *entry;
	const char *algo;
	char nb[32], na[32], *names = NULL;

	memset(seen, 0, sizeof(*seen));
	json_object_foreach(certs, algo, entry) {
		if (!pki_algo_valid(algo))
			return pki_rec_error(rec, "cert", "%s: not an "
			    "algorithm (rsa, ec)", algo);
		if (check_one(rec, algo, entry, nb, na, &names) == -1)
			return -1;
		if (seen->names != NULL && strcmp(seen->names, names) != 0) {
			free(names);
			return pki_rec_error(rec, "cert", "%s: covers other "
			    "names than the record's other certificate", algo);
		}
		free(seen->names);
		seen->names = names;
		if (strcmp(nb, seen->nb) > 0)
			memcpy(seen->nb, nb, sizeof(nb));
		if (*seen->na == '\0' || strcmp(na, seen->na) < 0)
			memcpy(seen->na, na, sizeof(na));
		if (seen->chain == NULL)
			seen->chain = pki_str(entry, "chain");
	}
	return 0;
}
