/*
 * jwk.c - an ACME account key that another client keeps as a JSON Web
 * Key (RFC 7517, 7518 section 6: certbot's private_key.json) turned into
 * the PKCS#8 key pki-acme uses, by OpenSSL 3's EVP_PKEY_fromdata().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/params.h>

#include "import.h"

#define JWK_MAX	(64 * 1024)	/* largest JWK file read */

/* The big number of base64url member NAME of JWK pushed to BLD as PARAM;
 * the number is kept in *BN (the caller frees it with BN_clear_free()).
 * 0 / -1. */
static int
push_bn(OSSL_PARAM_BLD *bld, const json_t *jwk, const char *name,
    const char *param, BIGNUM **bn)
{
	unsigned char *buf;
	size_t len;

	if (pki_b64u_decode(pki_str(jwk, name) ? pki_str(jwk, name) : "",
	    &buf, &len) == -1)
		return -1;
	/* Secure numbers go to the parameters' secure part, which
	 * OSSL_PARAM_free() wipes. */
	if ((*bn = BN_secure_new()) != NULL &&
	    BN_bin2bn(buf, (int)len, *bn) == NULL) {
		BN_clear_free(*bn);
		*bn = NULL;
	}
	pki_wipe(buf, len);
	free(buf);
	if (*bn == NULL || !OSSL_PARAM_BLD_push_BN(bld, param, *bn))
		return -1;
	return 0;
}

/* An RSA key's parameters: n, e, d and the CRT values. */
static int
rsa_params(OSSL_PARAM_BLD *bld, const json_t *jwk, BIGNUM *bn[8])
{
	static const char *const names[8] = { "n", "e", "d", "p", "q", "dp",
	    "dq", "qi" };
	static const char *const params[8] = { OSSL_PKEY_PARAM_RSA_N,
	    OSSL_PKEY_PARAM_RSA_E, OSSL_PKEY_PARAM_RSA_D,
	    OSSL_PKEY_PARAM_RSA_FACTOR1, OSSL_PKEY_PARAM_RSA_FACTOR2,
	    OSSL_PKEY_PARAM_RSA_EXPONENT1, OSSL_PKEY_PARAM_RSA_EXPONENT2,
	    OSSL_PKEY_PARAM_RSA_COEFFICIENT1 };
	int i;

	for (i = 0; i < 8; i++)
		if (push_bn(bld, jwk, names[i], params[i], &bn[i]) == -1)
			return -1;
	return 0;
}

/* An EC key's parameters: the curve, the point 04 || x || y, and d. */
static int
ec_params(OSSL_PARAM_BLD *bld, const json_t *jwk, BIGNUM *bn[8],
    unsigned char *point, size_t size)
{
	const char *crv = pki_str(jwk, "crv"), *group;
	unsigned char *x = NULL, *y = NULL;
	size_t xlen = 0, ylen = 0, half;
	int rc = -1;

	if (crv != NULL && strcmp(crv, "P-256") == 0)
		group = "prime256v1", half = 32;
	else if (crv != NULL && strcmp(crv, "P-384") == 0)
		group = "secp384r1", half = 48;
	else
		return -1;
	if (pki_b64u_decode(pki_str(jwk, "x") ? pki_str(jwk, "x") : "", &x,
	    &xlen) == 0 && pki_b64u_decode(pki_str(jwk, "y") ?
	    pki_str(jwk, "y") : "", &y, &ylen) == 0 && xlen == half &&
	    ylen == half && 1 + 2 * half <= size) {
		point[0] = 0x04;
		memcpy(point + 1, x, half);
		memcpy(point + 1 + half, y, half);
		if (OSSL_PARAM_BLD_push_utf8_string(bld,
		    OSSL_PKEY_PARAM_GROUP_NAME, group, 0) &&
		    OSSL_PARAM_BLD_push_octet_string(bld,
		    OSSL_PKEY_PARAM_PUB_KEY, point, 1 + 2 * half) &&
		    push_bn(bld, jwk, "d", OSSL_PKEY_PARAM_PRIV_KEY,
		    &bn[0]) == 0)
			rc = 0;
	}
	free(x);
	free(y);
	return rc;
}

EVP_PKEY *
jwk_private_key(const json_t *jwk, const char **why)
{
	const char *kty = pki_str(jwk, "kty");
	BIGNUM *bn[8] = { NULL };
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL, *check = NULL;
	EVP_PKEY *key = NULL;
	unsigned char point[1 + 2 * 66];
	int i, rsa = kty != NULL && strcmp(kty, "RSA") == 0, rc = -1;

	*why = "not an RSA or EC (P-256, P-384) private key";
	if (!rsa && (kty == NULL || strcmp(kty, "EC") != 0))
		return NULL;
	if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
	    (rsa ? rsa_params(bld, jwk, bn) : ec_params(bld, jwk, bn, point,
	    sizeof(point))) == -1 ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, rsa ? "RSA" : "EC",
	    NULL)) == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_KEYPAIR, params) <= 0)
		goto out;
	/* The parts must make one key: a JWK whose d is not the private
	 * half of its public key is refused, not imported. */
	*why = "its private and public parts do not make one key";
	if ((check = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL)) == NULL ||
	    EVP_PKEY_pairwise_check(check) != 1)
		goto out;
	rc = 0;
out:
	ERR_clear_error();
	EVP_PKEY_CTX_free(check);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);	/* secure part wiped */
	OSSL_PARAM_BLD_free(bld);
	for (i = 0; i < 8; i++)
		BN_clear_free(bn[i]);
	pki_wipe(point, sizeof(point));
	if (rc == -1) {
		EVP_PKEY_free(key);
		return NULL;
	}
	return key;
}

int
import_account(const struct import_opts *o)
{
	char why[512], *text, *pem = NULL;
	const char *reason = NULL;
	json_t *jwk = NULL, *rec;
	EVP_PKEY *key = NULL;
	int status = PKI_EXIT_RECORD;

	rec = json_pack("{s:s, s:s}", "name", "ACME account", "action",
	    "import");
	if ((text = pki_read_secret("JWK file", o->jwk, JWK_MAX, NULL, why,
	    sizeof(why))) == NULL)
		pki_rec_error(rec, "account", "%s", why);
	else if ((jwk = json_loads(text, JSON_REJECT_DUPLICATES, NULL)) ==
	    NULL || (key = jwk_private_key(jwk, &reason)) == NULL)
		pki_rec_error(rec, "account", "JWK file %s: %s", o->jwk,
		    reason != NULL ? reason : "not JSON");
	else if ((pem = pki_key_to_pem(key, NULL)) == NULL)
		pki_rec_error(rec, "account", "JWK file %s: cannot encode the "
		    "key", o->jwk);
	else {
		json_object_set_new(rec, "account", json_pack("{s:s, s:s, "
		    "s:s, s:s, s:s}", "directory", o->directory, "url", o->url,
		    "key", pem, "key_type", pki_key_algo(key), "status",
		    "valid"));
		status = PKI_EXIT_OK;
	}
	pki_free_secret(text);
	pki_free_secret(pem);
	json_decref(jwk);	/* jansson wipes what it frees (pki_init) */
	EVP_PKEY_free(key);
	if (pki_out(rec) == -1)
		status = PKI_EXIT_FATAL;
	json_decref(rec);
	pki_out_close();
	return status;
}
