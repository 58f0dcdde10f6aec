/*
 * cert.c - the certificate of a valid order (RFC 8555 7.4.2): downloaded
 * with its chain and the alternate chains the CA links to
 * (Link: rel="alternate"), one chosen, and added to the record exactly as
 * pki-localca adds its certificates (pki_cert_json).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "acme.h"

#define PEM_CHAIN	"application/pem-certificate-chain"
#define ALTERNATES_MAX	8

char *
cert_csr_b64u(json_t *rec, const char *algo)
{
	const char *pem = pki_str(json_object_get(rec, "csr"), algo);
	unsigned char *der;
	char *b;
	long len;

	if ((der = pki_pem_der(pem, "CERTIFICATE REQUEST", 0, &len)) == NULL) {
		pki_rec_error(rec, "csr", "%s: not a PEM CSR", algo);
		return NULL;
	}
	b = b64u_encode(der, (size_t)len);
	OPENSSL_free(der);
	return b;
}

/* The public key of the record's CSR of ALGO, or NULL. */
static EVP_PKEY *
csr_key(json_t *rec, const char *algo)
{
	const char *pem = pki_str(json_object_get(rec, "csr"), algo);
	X509_REQ *req = pki_csr_from_pem(pem);
	EVP_PKEY *key = NULL;

	if (req != NULL && (key = X509_REQ_get0_pubkey(req)) != NULL)
		EVP_PKEY_up_ref(key);
	X509_REQ_free(req);
	return key;
}

/* The CN of the issuer of the last certificate of CERTS into CN. */
static void
top_issuer(STACK_OF(X509) *certs, char cn[256])
{
	X509 *top = sk_X509_value(certs, sk_X509_num(certs) - 1);

	cn[0] = '\0';
	if (top == NULL || X509_NAME_get_text_by_NID(X509_get_issuer_name(top),
	    NID_commonName, cn, 256) < 0)
		cn[0] = '\0';
}

/* One chain of the CA: the PEM of URL (and the URLs it links to as
 * alternates into *ALTS, if ALTS).  NULL with A->why set (and *ALTS
 * untouched). */
static char *
fetch(struct acme *a, const char *url, json_t **alts)
{
	struct resp r;
	json_t *j = NULL;
	char *pem = NULL;

	if (acme_post(a, url, NULL, PEM_CHAIN, &r, &j) == -1)
		return NULL;
	json_decref(j);
	if (r.body == NULL || strstr(r.body, "-----BEGIN CERTIFICATE-----") ==
	    NULL)
		snprintf(a->why, sizeof(a->why), "%s: no PEM certificate "
		    "chain", url);
	else {
		pem = r.body;
		r.body = NULL;
	}
	if (alts != NULL && pem != NULL) {
		*alts = r.alternates;
		r.alternates = NULL;
	}
	resp_free(&r);
	return pem;
}

/* Add chain PEM of URL to CHAINS as {"url", "top_issuer", "pem"}. */
static void
add_chain(json_t *chains, const char *url, const char *pem)
{
	STACK_OF(X509) *certs = pki_certs_from_pem(pem);
	char cn[256];

	if (certs != NULL && sk_X509_num(certs) > 0) {
		top_issuer(certs, cn);
		json_array_append_new(chains, json_pack("{s:s, s:s, s:s}",
		    "url", url, "top_issuer", cn, "pem", pem));
	}
	sk_X509_pop_free(certs, X509_free);
}

/* All chains of URL, the default first, then the alternates the CA links
 * to (at most ALTERNATES_MAX; one that cannot be fetched is left out).
 * NULL with A->why set. */
static json_t *
fetch_all(struct acme *a, const char *url)
{
	json_t *chains, *alts = NULL, *v;
	char *pem;
	size_t i;

	if ((pem = fetch(a, url, &alts)) == NULL)
		return NULL;
	chains = json_array();
	add_chain(chains, url, pem);
	free(pem);
	json_array_foreach(alts, i, v) {
		if (i >= ALTERNATES_MAX)
			break;
		if (!json_is_string(v))
			continue;
		if ((pem = fetch(a, json_string_value(v), NULL)) == NULL) {
			pki_warn("alternate chain: %s", a->why);
			continue;
		}
		add_chain(chains, json_string_value(v), pem);
		free(pem);
	}
	json_decref(alts);
	if (json_array_size(chains) == 0) {
		snprintf(a->why, sizeof(a->why), "%s: no certificate", url);
		json_decref(chains);
		return NULL;
	}
	return chains;
}

/* The index of the chain to use: the first whose top issuer is
 * PREFERRED, else the default one (0). */
static size_t
choose(const json_t *chains, const char *preferred, const char *name)
{
	json_t *c;
	size_t i;

	if (preferred == NULL)
		return 0;
	json_array_foreach(chains, i, c)
		if (strcmp(pki_str(c, "top_issuer"), preferred) == 0)
			return i;
	pki_warn("%s: no chain ends at \"%s\"; the default chain ends at "
	    "\"%s\"", name, preferred,
	    pki_str(json_array_get(chains, 0), "top_issuer"));
	return 0;
}

/* The PEM of the certificates of CERTS after the first (the issuers),
 * re-encoded as pki-localca writes its chain; caller frees.  NULL on
 * failure. */
static char *
issuers_pem(STACK_OF(X509) *certs)
{
	BIO *bio;
	int i;

	if ((bio = BIO_new(BIO_s_mem())) == NULL)
		return NULL;
	for (i = 1; i < sk_X509_num(certs); i++)
		if (!PEM_write_bio_X509(bio, sk_X509_value(certs, i))) {
			BIO_free(bio);
			return NULL;
		}
	return pki_bio_string(bio);
}

/* The "cert" entry of chain PEM for the record's CSR of ALGO; NULL
 * (error added). */
static json_t *
entry_of(json_t *rec, const char *algo, const char *pem)
{
	STACK_OF(X509) *certs = pki_certs_from_pem(pem);
	EVP_PKEY *want = csr_key(rec, algo);
	json_t *entry = NULL;
	char *chain = NULL;

	if (certs == NULL || sk_X509_num(certs) == 0 || want == NULL ||
	    EVP_PKEY_eq(X509_get0_pubkey(sk_X509_value(certs, 0)), want) != 1)
		pki_rec_error(rec, "cert", "%s: the CA's certificate is not "
		    "one for the CSR's key", algo);
	else if ((chain = issuers_pem(certs)) == NULL ||
	    (entry = pki_cert_json(sk_X509_value(certs, 0), chain)) == NULL)
		pki_rec_error(rec, "cert", "%s: cannot encode", algo);
	free(chain);
	EVP_PKEY_free(want);
	sk_X509_pop_free(certs, X509_free);
	return entry;
}

int
cert_download(struct acme *a, json_t *rec, const char *algo,
    const json_t *order, json_t *order_entry, const char *preferred)
{
	const char *url = pki_str(order, "certificate");
	json_t *chains, *c, *alts, *entry;
	size_t pick, i;

	if (url == NULL)
		return pki_rec_error(rec, "acme", "%s: the valid order has no "
		    "certificate", algo);
	if ((chains = fetch_all(a, url)) == NULL)
		return acme_rec_error(rec, a, "certificate");
	pick = choose(chains, preferred, pki_rec_name(rec));
	c = json_array_get(chains, pick);
	if ((entry = entry_of(rec, algo, pki_str(c, "pem"))) == NULL) {
		json_decref(chains);
		return -1;
	}
	json_object_set_new(pki_rec_object(rec, "cert"), algo, entry);
	json_object_set_new(order_entry, "certificate", json_string(url));
	json_object_set_new(order_entry, "chain", json_pack("{s:O, s:O}",
	    "url", json_object_get(c, "url"), "top_issuer",
	    json_object_get(c, "top_issuer")));
	alts = json_array();
	json_array_foreach(chains, i, c)
		if (i != pick)
			json_array_append(alts, c);
	if (json_array_size(alts) > 0)
		json_object_set(order_entry, "alternates", alts);
	json_decref(alts);
	json_decref(chains);
	pki_info("%s: %s certificate %s until %s", pki_rec_name(rec), algo,
	    pki_str(entry, "serial"), pki_str(entry, "not_after"));
	return 0;
}
