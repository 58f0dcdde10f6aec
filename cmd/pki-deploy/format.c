/*
 * format.c - a certificate and its key in the formats a place may ask
 * for besides PEM (Places.format): DER and PKCS#12.  The files each
 * format makes are files.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
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

	if ((key = pki_key_from_pem(key_pem, NULL, &why)) == NULL ||
	    (cert = pki_cert_from_pem(cert_pem)) == NULL ||
	    (chain = pki_certs_from_pem(chain_pem ? chain_pem : "")) == NULL)
		goto out;
	/* OpenSSL 3's defaults: AES-256-CBC, PBKDF2, an HMAC-SHA256 MAC. */
	if ((p12 = PKCS12_create(pass, name, key, cert,
	    sk_X509_num(chain) > 0 ? chain : NULL, 0, 0, 0, 0, 0)) != NULL)
		TO_DER(i2d_PKCS12, p12, len, out);
out:
	PKCS12_free(p12);
	sk_X509_pop_free(chain, X509_free);
	X509_free(cert);
	EVP_PKEY_free(key);
	ERR_clear_error();
	return out;
}
