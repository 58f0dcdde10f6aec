/*
 * format.c - a certificate and its key in the formats a place may ask
 * for besides PEM (Places.format): DER and PKCS#12.  The files each
 * format makes are files.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include "deploy.h"

static const char *const formats[] = { "pem", "der", "fullchain", "bundle",
    "p12", NULL };

int
format_parse(const char *s)
{
	int i;

	if (s == NULL)
		return FMT_PEM;
	for (i = 0; formats[i] != NULL; i++)
		if (strcmp(s, formats[i]) == 0)
			return i;
	return -1;
}

/* The DER that I2D makes of OBJ in a new buffer (caller frees), its
 * length in *LEN; NULL if it cannot be encoded. */
#define TO_DER(i2d, obj, len, out) do {					\
	int n_ = (i2d)((obj), NULL);					\
	unsigned char *p_;						\
	(out) = NULL;							\
	if (n_ > 0 && ((out) = malloc((size_t)n_)) != NULL) {		\
		p_ = (unsigned char *)(out);				\
		if ((i2d)((obj), &p_) != n_) {				\
			pki_wipe((out), (size_t)n_);			\
			free(out);					\
			(out) = NULL;					\
		} else							\
			*(len) = (size_t)n_;				\
	}								\
} while (0)

char *
format_cert_der(const char *pem, size_t *len)
{
	X509 *cert;
	char *out = NULL;

	if ((cert = pki_cert_from_pem(pem)) != NULL)
		TO_DER(i2d_X509, cert, len, out);
	X509_free(cert);
	ERR_clear_error();
	return out;
}

char *
format_key_der(const char *pem, size_t *len)
{
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	EVP_PKEY *key;
	const char *why;
	char *out = NULL;

	if ((key = pki_key_from_pem(pem, NULL, &why)) != NULL &&
	    (p8 = EVP_PKEY2PKCS8(key)) != NULL)
		TO_DER(i2d_PKCS8_PRIV_KEY_INFO, p8, len, out);
	PKCS8_PRIV_KEY_INFO_free(p8);
	EVP_PKEY_free(key);
	ERR_clear_error();
	return out;
}

/*
 * The 32 bytes that make a PKCS#12 file of the key P8 and the certificate
 * CERT under PASS the same file every time (so that a target that holds
 * it is not rewritten by each run): a SHA-256 over the passphrase, the
 * key and the certificate; its first half salts the key's encryption,
 * its second half is the IV, and its SHA-256 salts the MAC.  Salts need
 * to be unique, not secret; the key alone makes the digest unguessable.
 * 0 / -1.
 */
static int
p12_seed(const char *pass, PKCS8_PRIV_KEY_INFO *p8, X509 *cert,
    unsigned char seed[32])
{
	static const char label[] = "pki-deploy p12 salts";
	unsigned char *der = NULL;
	EVP_MD_CTX *md;
	int n, rc = -1;

	if ((md = EVP_MD_CTX_new()) == NULL || (n = i2d_PKCS8_PRIV_KEY_INFO(p8,
	    &der)) <= 0)
		goto out;
	if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) &&
	    EVP_DigestUpdate(md, label, sizeof(label)) &&
	    EVP_DigestUpdate(md, pass, strlen(pass) + 1) &&
	    EVP_DigestUpdate(md, der, (size_t)n) &&
	    X509_digest(cert, EVP_sha256(), seed, NULL) &&
	    EVP_DigestUpdate(md, seed, 32) &&
	    EVP_DigestFinal_ex(md, seed, NULL))
		rc = 0;
	OPENSSL_clear_free(der, n > 0 ? (size_t)n : 0);
out:
	EVP_MD_CTX_free(md);
	return rc;
}

/* A bag of the certificate X named NAME (when not NULL) with the local
 * key id ID of IDLEN bytes (when not NULL), pushed on BAGS; 0 / -1. */
static int
p12_cert_bag(STACK_OF(PKCS12_SAFEBAG) *bags, X509 *x, const char *name,
    unsigned char *id, unsigned int idlen)
{
	PKCS12_SAFEBAG *bag;

	if ((bag = PKCS12_SAFEBAG_create_cert(x)) == NULL)
		return -1;
	if ((name != NULL && !PKCS12_add_friendlyname(bag, name, -1)) ||
	    (id != NULL && !PKCS12_add_localkeyid(bag, id, (int)idlen)) ||
	    !sk_PKCS12_SAFEBAG_push(bags, bag)) {
		PKCS12_SAFEBAG_free(bag);
		return -1;
	}
	return 0;
}

/* The key P8's bag, shrouded under PASS (PBES2: PBKDF2 with
 * HMAC-SHA256, AES-256-CBC) with SEED's salt and IV, named and with the
 * local key id as its certificate; pushed on BAGS.  0 / -1. */
static int
p12_key_bag(STACK_OF(PKCS12_SAFEBAG) *bags, PKCS8_PRIV_KEY_INFO *p8,
    const char *pass, unsigned char seed[32], const char *name,
    unsigned char *id, unsigned int idlen)
{
	PKCS12_SAFEBAG *bag = NULL;
	X509_ALGOR *pbe;
	X509_SIG *sig = NULL;

	if ((pbe = PKCS5_pbe2_set_iv(EVP_aes_256_cbc(), PKCS12_DEFAULT_ITER,
	    seed, 16, seed + 16, NID_hmacWithSHA256)) == NULL)
		return -1;
	if ((sig = PKCS8_set0_pbe(pass, -1, p8, pbe)) == NULL) {
		X509_ALGOR_free(pbe);
		return -1;
	}
	if ((bag = PKCS12_SAFEBAG_create0_pkcs8(sig)) == NULL) {
		X509_SIG_free(sig);
		return -1;
	}
	if (!PKCS12_add_friendlyname(bag, name, -1) ||
	    !PKCS12_add_localkeyid(bag, id, (int)idlen) ||
	    !sk_PKCS12_SAFEBAG_push(bags, bag)) {
		PKCS12_SAFEBAG_free(bag);
		return -1;
	}
	return 0;
}

/* The PKCS#12 structure of KEY, CERT and CHAIN (see format_p12()), or
 * NULL. */
static PKCS12 *
p12_make(EVP_PKEY *key, X509 *cert, STACK_OF(X509) *chain,
    const char *name, const char *pass)
{
	STACK_OF(PKCS12_SAFEBAG) *certs = NULL, *keys = NULL;
	STACK_OF(PKCS7) *safes = NULL;
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	PKCS7 *p7;
	PKCS12 *p12 = NULL;
	unsigned char seed[32], id[EVP_MAX_MD_SIZE], macsalt[32];
	unsigned int idlen = 0;
	int i;

	if ((p8 = EVP_PKEY2PKCS8(key)) == NULL ||
	    p12_seed(pass, p8, cert, seed) == -1 ||
	    !X509_digest(cert, EVP_sha1(), id, &idlen) ||
	    (certs = sk_PKCS12_SAFEBAG_new_null()) == NULL ||
	    (keys = sk_PKCS12_SAFEBAG_new_null()) == NULL ||
	    (safes = sk_PKCS7_new_null()) == NULL ||
	    p12_cert_bag(certs, cert, name, id, idlen) == -1)
		goto out;
	for (i = 0; i < sk_X509_num(chain); i++)
		if (p12_cert_bag(certs, sk_X509_value(chain, i), NULL, NULL,
		    0) == -1)
			goto out;
	if (p12_key_bag(keys, p8, pass, seed, name, id, idlen) == -1)
		goto out;
	/* Certificates in a plain safe, as openssl pkcs12 -certpbe NONE
	 * writes them: they are public. */
	for (i = 0; i < 2; i++) {
		if ((p7 = PKCS12_pack_p7data(i == 0 ? certs : keys)) == NULL)
			goto out;
		if (!sk_PKCS7_push(safes, p7)) {
			PKCS7_free(p7);
			goto out;
		}
	}
	EVP_Digest(seed, sizeof(seed), macsalt, NULL, EVP_sha256(), NULL);
	if ((p12 = PKCS12_add_safes(safes, 0)) != NULL &&
	    !PKCS12_set_mac(p12, pass, -1, macsalt, 16, PKCS12_DEFAULT_ITER,
	    EVP_sha256())) {
		PKCS12_free(p12);
		p12 = NULL;
	}
out:
	pki_wipe(seed, sizeof(seed));
	sk_PKCS7_pop_free(safes, PKCS7_free);
	sk_PKCS12_SAFEBAG_pop_free(keys, PKCS12_SAFEBAG_free);
	sk_PKCS12_SAFEBAG_pop_free(certs, PKCS12_SAFEBAG_free);
	PKCS8_PRIV_KEY_INFO_free(p8);
	return p12;
}

char *
format_p12(const char *key_pem, const char *cert_pem, const char *chain_pem,
    const char *name, const char *pass, size_t *len)
{
	STACK_OF(X509) *chain = NULL;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	PKCS12 *p12 = NULL;
	const char *why;
	char *out = NULL;

	if ((key = pki_key_from_pem(key_pem, NULL, &why)) != NULL &&
	    (cert = pki_cert_from_pem(cert_pem)) != NULL &&
	    (chain = pki_certs_from_pem(chain_pem ? chain_pem : "")) != NULL &&
	    (p12 = p12_make(key, cert, chain, name, pass)) != NULL)
		TO_DER(i2d_PKCS12, p12, len, out);
	PKCS12_free(p12);
	sk_X509_pop_free(chain, X509_free);
	X509_free(cert);
	EVP_PKEY_free(key);
	ERR_clear_error();
	return out;
}
