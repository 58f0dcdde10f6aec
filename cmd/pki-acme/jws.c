/*
 * jws.c - JSON Web Signatures for ACME (RFC 7515, 7518, 7638): account
 * keys, their JWK and thumbprint, ES256/ES384/RS256 signatures, and the
 * HS256 MAC of External Account Binding.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include "acme.h"

EVP_PKEY *
jws_keygen(const char *type)
{
	EVP_PKEY *key;

	if (strcmp(type, "rsa") == 0)
		key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	else
		key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (key == NULL)
		pki_ssl_err("cannot make an account key");
	return key;
}

/* The coordinate size of an EC key's curve, 0 if not P-256 or P-384. */
static int
ec_size(EVP_PKEY *key)
{
	char curve[32];

	if (!EVP_PKEY_is_a(key, "EC") ||
	    !EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME,
	    curve, sizeof(curve), NULL))
		return 0;
	if (strcmp(curve, "prime256v1") == 0 || strcmp(curve, "P-256") == 0)
		return 32;
	if (strcmp(curve, "secp384r1") == 0 || strcmp(curve, "P-384") == 0)
		return 48;
	return 0;
}

const char *
jws_alg(EVP_PKEY *key)
{
	if (EVP_PKEY_is_a(key, "RSA"))
		return "RS256";
	switch (ec_size(key)) {
	case 32:
		return "ES256";
	case 48:
		return "ES384";
	default:
		return NULL;
	}
}

/* The base64url of big number parameter NAME of KEY, padded to SIZE bytes
 * (0: its own length); caller frees.  NULL on failure. */
static char *
bn_param(EVP_PKEY *key, const char *name, int size)
{
	unsigned char buf[1024];
	BIGNUM *bn = NULL;
	char *s = NULL;
	int n;

	if (!EVP_PKEY_get_bn_param(key, name, &bn))
		return NULL;
	n = size > 0 ? size : BN_num_bytes(bn);
	if (n <= (int)sizeof(buf) && BN_bn2binpad(bn, buf, n) == n)
		s = b64u_encode(buf, (size_t)n);
	BN_free(bn);
	return s;
}

json_t *
jws_jwk(EVP_PKEY *key)
{
	char *a = NULL, *b = NULL;
	json_t *jwk = NULL;
	int size;

	if (EVP_PKEY_is_a(key, "RSA")) {
		a = bn_param(key, OSSL_PKEY_PARAM_RSA_E, 0);
		b = bn_param(key, OSSL_PKEY_PARAM_RSA_N, 0);
		if (a != NULL && b != NULL)
			jwk = json_pack("{s:s, s:s, s:s}", "e", a, "kty", "RSA",
			    "n", b);
	} else if ((size = ec_size(key)) != 0) {
		a = bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, size);
		b = bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, size);
		if (a != NULL && b != NULL)
			jwk = json_pack("{s:s, s:s, s:s, s:s}", "crv",
			    size == 32 ? "P-256" : "P-384", "kty", "EC",
			    "x", a, "y", b);
	}
	free(a);
	free(b);
	if (jwk == NULL)
		pki_err("the account key is not RSA, nor EC on P-256 or P-384");
	return jwk;
}

int
jws_thumbprint(EVP_PKEY *key, char out[64])
{
	unsigned char md[32];
	json_t *jwk;
	char *text, *b;

	if ((jwk = jws_jwk(key)) == NULL)
		return -1;
	/* RFC 7638: the required members, sorted, no blanks. */
	text = pki_json_text(jwk, JSON_SORT_KEYS | JSON_COMPACT);
	json_decref(jwk);
	if (text == NULL || !EVP_Digest(text, strlen(text), md, NULL,
	    EVP_sha256(), NULL)) {
		free(text);
		pki_err("cannot compute the JWK thumbprint");
		return -1;
	}
	free(text);
	if ((b = b64u_encode(md, sizeof(md))) == NULL)
		return -1;
	snprintf(out, 64, "%s", b);
	free(b);
	return 0;
}

/* "PROT.PAYLOAD" of base64url parts, with *PROT64 and *PAY64 kept for the
 * JWS; caller frees all three.  NULL on failure. */
static char *
signing_input(json_t *prot, const char *payload, char **prot64,
    char **pay64)
{
	char *text, *input = NULL;

	*prot64 = *pay64 = NULL;
	if ((text = pki_json_text(prot, JSON_COMPACT)) == NULL)
		return NULL;
	*prot64 = b64u_encode((unsigned char *)text, strlen(text));
	free(text);
	*pay64 = b64u_encode((const unsigned char *)payload, strlen(payload));
	if (*prot64 != NULL && *pay64 != NULL &&
	    (input = malloc(strlen(*prot64) + strlen(*pay64) + 2)) != NULL)
		sprintf(input, "%s.%s", *prot64, *pay64);
	return input;
}

/* The flattened JWS object of the parts; the parts are freed. */
static json_t *
jws_object(char *prot64, char *pay64, unsigned char *sig, size_t siglen)
{
	json_t *jws = NULL;
	char *sig64;

	if ((sig64 = b64u_encode(sig, siglen)) != NULL)
		jws = json_pack("{s:s, s:s, s:s}", "protected", prot64,
		    "payload", pay64, "signature", sig64);
	free(sig64);
	free(prot64);
	free(pay64);
	if (jws == NULL)
		pki_err("cannot make a JWS");
	return jws;
}

/* An ECDSA signature in DER as the raw r||s of JWS (RFC 7518 3.4), SIZE
 * bytes each, into OUT.  0 / -1. */
static int
ecdsa_raw(const unsigned char *der, size_t len, int size, unsigned char *out)
{
	const BIGNUM *r, *s;
	ECDSA_SIG *sig;
	int rc = -1;

	if ((sig = d2i_ECDSA_SIG(NULL, &der, (long)len)) == NULL)
		return -1;
	ECDSA_SIG_get0(sig, &r, &s);
	if (BN_bn2binpad(r, out, size) == size &&
	    BN_bn2binpad(s, out + size, size) == size)
		rc = 0;
	ECDSA_SIG_free(sig);
	return rc;
}

/* Sign INPUT with KEY (SHA-256, SHA-384 for P-384) into *SIG; caller
 * frees.  0 / -1. */
static int
sign_input(EVP_PKEY *key, const char *input, unsigned char **sig,
    size_t *siglen)
{
	EVP_MD_CTX *ctx;
	unsigned char *der = NULL;
	size_t len = 0;
	int size = ec_size(key), rc = -1;

	*sig = NULL;
	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    !EVP_DigestSignInit(ctx, NULL, size == 48 ? EVP_sha384() :
	    EVP_sha256(), NULL, key) ||
	    !EVP_DigestSign(ctx, NULL, &len, (const unsigned char *)input,
	    strlen(input)) || (der = malloc(len)) == NULL ||
	    !EVP_DigestSign(ctx, der, &len, (const unsigned char *)input,
	    strlen(input)))
		goto out;
	if (size == 0) {		/* RSA: the signature as it is */
		*sig = der;
		*siglen = len;
		der = NULL;
		rc = 0;
	} else if ((*sig = malloc(2 * (size_t)size)) != NULL &&
	    ecdsa_raw(der, len, size, *sig) == 0) {
		*siglen = 2 * (size_t)size;
		rc = 0;
	}
out:
	if (rc == -1) {
		free(*sig);
		*sig = NULL;
	}
	free(der);
	EVP_MD_CTX_free(ctx);
	return rc;
}

json_t *
jws_sign(EVP_PKEY *key, json_t *prot, const char *payload)
{
	char *prot64, *pay64, *input;
	unsigned char *sig = NULL;
	size_t siglen = 0;
	const char *alg;
	json_t *jws;

	if ((alg = jws_alg(key)) == NULL) {
		pki_err("the account key cannot sign a JWS");
		return NULL;
	}
	json_object_set_new(prot, "alg", json_string(alg));
	input = signing_input(prot, payload, &prot64, &pay64);
	if (input == NULL || sign_input(key, input, &sig, &siglen) == -1) {
		pki_ssl_err("cannot sign a JWS");
		free(input);
		free(prot64);
		free(pay64);
		return NULL;
	}
	free(input);
	jws = jws_object(prot64, pay64, sig, siglen);
	free(sig);
	return jws;
}

json_t *
jws_hmac(const unsigned char *key, size_t keylen, json_t *prot,
    const char *payload)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	char *prot64, *pay64, *input;
	size_t maclen = 0;
	json_t *jws;

	json_object_set_new(prot, "alg", json_string("HS256"));
	input = signing_input(prot, payload, &prot64, &pay64);
	if (input == NULL || EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL,
	    key, keylen, (unsigned char *)input, strlen(input), mac,
	    sizeof(mac), &maclen) == NULL) {
		pki_ssl_err("cannot MAC the external account binding");
		free(input);
		free(prot64);
		free(pay64);
		return NULL;
	}
	free(input);
	jws = jws_object(prot64, pay64, mac, maclen);
	pki_wipe(mac, sizeof(mac));
	return jws;
}
