/*
 * crypto.c - the OpenSSL helpers more than one stage needs: keys and
 * certificates to and from PEM, their digests and dates.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "pki.h"

/*
 * scrypt cost of encrypted keys: 8 MiB and ~25 ms here, half of OpenSSL's
 * default for `openssl pkcs8 -scrypt` (N 16384, r 8): scrypt's memory is
 * its cost, and 16 MiB would double the peak memory of the stages that
 * open a key.  Readers take the parameters from the key itself.
 */
#define SCRYPT_N	32768
#define SCRYPT_R	2
#define SCRYPT_P	1

/* Never prompt: an encrypted key without a passphrase is an error. */
static int
pass_cb(char *buf, int size, int rwflag, void *u)
{
	size_t len;

	(void)rwflag;
	if (u == NULL)
		return -1;
	len = strlen(u);
	if (len > (size_t)size)
		return -1;
	memcpy(buf, u, len);
	return (int)len;
}

int
pki_pem_is_encrypted(const char *pem)
{
	return pem != NULL &&
	    strstr(pem, "-----BEGIN ENCRYPTED PRIVATE KEY-----") != NULL;
}

/*
 * Making an OpenSSL 3.0 decoder context costs ten times more than decoding
 * a key with it, so clear keys go through one context made once.
 */
static struct decoder {
	OSSL_DECODER_CTX	*ctx;
	EVP_PKEY		*key;
} pem_keys, der_spkis;

static void
decoders_free(void)
{
	OSSL_DECODER_CTX_free(pem_keys.ctx);
	OSSL_DECODER_CTX_free(der_spkis.ctx);
	pem_keys.ctx = der_spkis.ctx = NULL;
}

/* Decode LEN bytes at DATA with D, made on first use for INPUT (and
 * STRUCTURE) and SELECTION.  The key, or NULL. */
static EVP_PKEY *
decode(struct decoder *d, const char *input, const char *structure,
    int selection, const unsigned char *data, size_t len)
{
	static int registered;
	EVP_PKEY *key;

	if (d->ctx == NULL) {
		d->ctx = OSSL_DECODER_CTX_new_for_pkey(&d->key, input,
		    structure, NULL, selection, NULL, NULL);
		if (d->ctx == NULL)
			return NULL;
		if (!registered++)
			atexit(decoders_free);
	}
	d->key = NULL;
	if (!OSSL_DECODER_from_data(d->ctx, &data, &len)) {
		EVP_PKEY_free(d->key);
		d->key = NULL;
	}
	key = d->key;
	d->key = NULL;
	return key;
}

static EVP_PKEY *
decode_clear_key(const char *pem)
{
	return decode(&pem_keys, "PEM", NULL, EVP_PKEY_KEYPAIR,
	    (const unsigned char *)pem, strlen(pem));
}

EVP_PKEY *
pki_key_from_pem(const char *pem, const char *pass, const char **why)
{
	EVP_PKEY *key = NULL;
	BIO *bio;

	*why = NULL;
	if (pki_pem_is_encrypted(pem)) {
		if (pass == NULL) {
			*why = "key is encrypted and no passphrase was given";
			return NULL;
		}
		if ((bio = BIO_new_mem_buf(pem, -1)) != NULL)
			key = PEM_read_bio_PrivateKey(bio, NULL, pass_cb,
			    (void *)pass);
		BIO_free(bio);
	} else
		key = decode_clear_key(pem);
	if (key == NULL) {
		ERR_clear_error();
		*why = pki_pem_is_encrypted(pem) ?
		    "cannot decrypt key (wrong passphrase?)" :
		    "not a PEM private key";
	}
	return key;
}

char *
pki_bio_string(BIO *bio)
{
	char *data, *s;
	long len;

	len = BIO_get_mem_data(bio, &data);
	if (len < 0 || (s = malloc((size_t)len + 1)) == NULL) {
		BIO_free(bio);
		return NULL;
	}
	if (len > 0)
		memcpy(s, data, (size_t)len);
	s[len] = '\0';
	BIO_free(bio);
	return s;
}

static X509_SIG *
encrypt_pkcs8(EVP_PKEY *key, const char *pass)
{
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	X509_ALGOR *pbe = NULL;
	X509_SIG *sig = NULL;

	if ((p8 = EVP_PKEY2PKCS8(key)) == NULL)
		goto out;
	pbe = PKCS5_pbe2_set_scrypt(EVP_aes_256_cbc(), NULL, 16, NULL,
	    SCRYPT_N, SCRYPT_R, SCRYPT_P);
	if (pbe == NULL)
		goto out;
	if ((sig = PKCS8_set0_pbe(pass, (int)strlen(pass), p8, pbe)) != NULL)
		pbe = NULL;	/* now owned by sig */
out:
	X509_ALGOR_free(pbe);
	PKCS8_PRIV_KEY_INFO_free(p8);
	return sig;
}

char *
pki_key_to_pem(EVP_PKEY *key, const char *pass)
{
	X509_SIG *sig = NULL;
	BIO *bio;
	int ok;

	if ((bio = BIO_new(BIO_s_mem())) == NULL) {
		pki_ssl_err("cannot write key");
		return NULL;
	}
	if (pass == NULL)
		ok = PEM_write_bio_PKCS8PrivateKey(bio, key, NULL, NULL, 0,
		    NULL, NULL);
	else
		ok = (sig = encrypt_pkcs8(key, pass)) != NULL &&
		    PEM_write_bio_PKCS8(bio, sig);
	X509_SIG_free(sig);
	if (!ok) {
		BIO_free(bio);
		pki_ssl_err("cannot write key");
		return NULL;
	}
	return pki_bio_string(bio);
}

const char *
pki_key_algo(const EVP_PKEY *key)
{
	if (EVP_PKEY_is_a(key, "RSA"))
		return "rsa";
	if (EVP_PKEY_is_a(key, "EC"))
		return "ec";
	return NULL;
}

X509 *
pki_cert_from_pem(const char *pem)
{
	X509 *cert = NULL;
	BIO *bio;

	if ((bio = BIO_new_mem_buf(pem, -1)) != NULL)
		cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	ERR_clear_error();
	return cert;
}

X509_REQ *
pki_csr_from_pem(const char *pem)
{
	X509_REQ *req = NULL;
	BIO *bio;

	if (pem != NULL && (bio = BIO_new_mem_buf(pem, -1)) != NULL) {
		req = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL);
		BIO_free(bio);
	}
	ERR_clear_error();
	return req;
}

STACK_OF(X509) *
pki_certs_from_pem(const char *pem)
{
	STACK_OF(X509) *certs;
	X509 *cert;
	BIO *bio;

	if ((certs = sk_X509_new_null()) == NULL)
		return NULL;
	if ((bio = BIO_new_mem_buf(pem, -1)) == NULL) {
		sk_X509_free(certs);
		return NULL;
	}
	while ((cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (!sk_X509_push(certs, cert)) {
			X509_free(cert);
			break;
		}
	}
	BIO_free(bio);
	ERR_clear_error();	/* the end of input is an "error" */
	return certs;
}

unsigned char *
pki_pem_der(const char *pem, const char *label, int last, long *len)
{
	unsigned char *data, *found = NULL;
	char *name, *header;
	BIO *bio;
	long n;

	if (pem == NULL || (bio = BIO_new_mem_buf(pem, -1)) == NULL)
		return NULL;
	while (PEM_read_bio(bio, &name, &header, &data, &n)) {
		if (strcmp(name, label) == 0) {
			OPENSSL_free(found);
			found = data;
			*len = n;
			data = NULL;
		}
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_free(data);
		if (found != NULL && !last)
			break;
	}
	BIO_free(bio);
	ERR_clear_error();	/* the end of input is an "error" */
	return found;
}

/* Step over the next DER element at *P (before END); its tag, class and
 * content length in the out parameters.  0 / -1. */
static int
der_next(const unsigned char **p, const unsigned char *end, int *tag,
    int *class, long *clen)
{
	int r;

	if (*p >= end)
		return -1;
	r = ASN1_get_object(p, clen, tag, class, end - *p);
	return (r & 0x80) || (r & 0x01) ? -1 : 0;	/* error, indefinite */
}

int
pki_der_spki(const unsigned char *der, long len, const unsigned char **spki,
    long *spkilen)
{
	const unsigned char *p = der, *end = der + len, *q, *start;
	int tag, class, i;
	long l;

	/* Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { ... */
	if (der_next(&p, end, &tag, &class, &l) == -1 || tag != V_ASN1_SEQUENCE ||
	    der_next(&p, end, &tag, &class, &l) == -1 || tag != V_ASN1_SEQUENCE)
		return -1;
	end = p + l;
	/* [0] version, optional */
	q = p;
	if (der_next(&q, end, &tag, &class, &l) == -1)
		return -1;
	if (class == V_ASN1_CONTEXT_SPECIFIC && tag == 0)
		p = q + l;
	/* serialNumber, signature, issuer, validity, subject */
	for (i = 0; i < 5; i++) {
		if (der_next(&p, end, &tag, &class, &l) == -1)
			return -1;
		p += l;
	}
	start = p;
	if (der_next(&p, end, &tag, &class, &l) == -1 || tag != V_ASN1_SEQUENCE ||
	    p + l > end)
		return -1;
	*spki = start;
	*spkilen = (long)(p - start) + l;
	return 0;
}

int
pki_key_matches_spki(EVP_PKEY *key, const unsigned char *spki, long spkilen)
{
	EVP_PKEY *pub;
	int rc;

	if ((pub = decode(&der_spkis, "DER", "SubjectPublicKeyInfo",
	    EVP_PKEY_PUBLIC_KEY, spki, (size_t)spkilen)) == NULL)
		return -1;
	rc = EVP_PKEY_eq(key, pub) == 1 ? 0 : -1;
	EVP_PKEY_free(pub);
	return rc;
}

char *
pki_cert_to_pem(X509 *cert)
{
	BIO *bio;

	if ((bio = BIO_new(BIO_s_mem())) == NULL ||
	    !PEM_write_bio_X509(bio, cert)) {
		BIO_free(bio);
		pki_ssl_err("cannot write certificate");
		return NULL;
	}
	return pki_bio_string(bio);
}

void
pki_hex(const unsigned char *buf, size_t len, char *out)
{
	static const char digits[] = "0123456789ABCDEF";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[buf[i] >> 4];
		out[2 * i + 1] = digits[buf[i] & 0xf];
	}
	out[2 * len] = '\0';
}

int
pki_cert_sha256(X509 *cert, char out[65])
{
	unsigned char md[32];
	unsigned int len = sizeof(md);

	if (!X509_digest(cert, EVP_sha256(), md, &len))
		return -1;
	pki_hex(md, len, out);
	return 0;
}

int
pki_time_rfc3339(const ASN1_TIME *t, char out[32])
{
	struct tm tm;

	if (!ASN1_TIME_to_tm(t, &tm))
		return -1;
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return 0;
}

void
pki_unix_rfc3339(time_t t, char out[32])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* NAME as an RFC 2253 string (caller frees); NULL on failure. */
static char *
name_string(const X509_NAME *name)
{
	BIO *bio;

	if ((bio = BIO_new(BIO_s_mem())) == NULL)
		return NULL;
	if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) < 0) {
		BIO_free(bio);
		return NULL;
	}
	return pki_bio_string(bio);
}

static char *
serial_string(X509 *cert)
{
	BIGNUM *bn;
	char *hex, *s;

	bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
	if (bn == NULL || (hex = BN_bn2hex(bn)) == NULL) {
		BN_free(bn);
		return NULL;
	}
	s = strdup(hex);
	OPENSSL_free(hex);
	BN_free(bn);
	return s;
}

json_t *
pki_cert_json(X509 *cert, const char *chain_pem)
{
	char nb[32], na[32], sha[65];
	char *pem = NULL, *serial = NULL, *subject = NULL, *issuer = NULL;
	json_t *j = NULL;

	pem = pki_cert_to_pem(cert);
	serial = serial_string(cert);
	subject = name_string(X509_get_subject_name(cert));
	issuer = name_string(X509_get_issuer_name(cert));
	if (pem == NULL || serial == NULL || subject == NULL ||
	    issuer == NULL ||
	    pki_time_rfc3339(X509_get0_notBefore(cert), nb) == -1 ||
	    pki_time_rfc3339(X509_get0_notAfter(cert), na) == -1 ||
	    pki_cert_sha256(cert, sha) == -1) {
		pki_ssl_err("cannot describe certificate");
		goto out;
	}
	j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
	    "pem", pem, "chain", chain_pem != NULL ? chain_pem : "",
	    "serial", serial, "not_before", nb, "not_after", na,
	    "sha256", sha, "subject", subject, "issuer", issuer);
	if (j == NULL)
		pki_err("out of memory");
out:
	free(pem);
	free(serial);
	free(subject);
	free(issuer);
	return j;
}

X509_NAME *
pki_subject_name(const char *name)
{
	X509_NAME *subj;

	if ((subj = X509_NAME_new()) == NULL)
		return NULL;
	/* An address is only in subjectAltName (as Let's Encrypt does). */
	if (strlen(name) <= 64 && !pki_ip_name(name, NULL) &&
	    !X509_NAME_add_entry_by_txt(subj, "CN",
	    MBSTRING_UTF8, (const unsigned char *)name, -1, -1, 0)) {
		X509_NAME_free(subj);
		return NULL;
	}
	return subj;
}

int
pki_san_ext(const json_t *names, int critical, X509_EXTENSION **out)
{
	GENERAL_NAMES *gens;
	GENERAL_NAME *gen;
	ASN1_STRING *value;
	unsigned char addr[16];
	const char *name;
	json_t *v;
	size_t i;
	int type, len, rc = -1;

	*out = NULL;
	if ((gens = sk_GENERAL_NAME_new_null()) == NULL)
		return -1;
	json_array_foreach(names, i, v) {
		name = json_string_value(v);
		if (name == NULL)
			continue;
		if ((len = pki_ip_name(name, addr)) != 0)
			type = GEN_IPADD;
		else if (pki_dns_name_check(name, 1) == NULL)
			type = GEN_DNS;
		else if (strchr(name, '@') != NULL)
			type = GEN_EMAIL;
		else
			continue;
		if ((gen = GENERAL_NAME_new()) == NULL || (value = type ==
		    GEN_IPADD ? ASN1_OCTET_STRING_new() :
		    ASN1_IA5STRING_new()) == NULL) {
			GENERAL_NAME_free(gen);
			goto out;
		}
		GENERAL_NAME_set0_value(gen, type, value);
		if (!(type == GEN_IPADD ? ASN1_STRING_set(value, addr, len) :
		    ASN1_STRING_set(value, name, -1)) ||
		    !sk_GENERAL_NAME_push(gens, gen)) {
			GENERAL_NAME_free(gen);
			goto out;
		}
	}
	if (sk_GENERAL_NAME_num(gens) > 0 &&
	    (*out = X509V3_EXT_i2d(NID_subject_alt_name, critical,
	    gens)) == NULL)
		goto out;
	rc = 0;
out:
	GENERAL_NAMES_free(gens);
	return rc;
}

const EVP_MD *
pki_digest_for(const EVP_PKEY *key)
{
	if (EVP_PKEY_is_a(key, "EC") && EVP_PKEY_get_bits(key) >= 384)
		return EVP_sha384();
	return EVP_sha256();
}

int
pki_dh_group_valid(const char *group)
{
	return group != NULL && (strcmp(group, "ffdhe2048") == 0 ||
	    strcmp(group, "ffdhe3072") == 0 || strcmp(group, "ffdhe4096") == 0);
}

char *
pki_dh_params_pem(const char *group, int bits)
{
	OSSL_PARAM params[3];
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *dh = NULL;
	BIO *bio = NULL;
	char *pem = NULL;

	if (group != NULL) {
		params[0] = OSSL_PARAM_construct_utf8_string(
		    OSSL_PKEY_PARAM_GROUP_NAME, (char *)group, 0);
		params[1] = OSSL_PARAM_construct_end();
	} else {
		params[0] = OSSL_PARAM_construct_utf8_string(
		    OSSL_PKEY_PARAM_FFC_TYPE, (char *)"generator", 0);
		params[1] = OSSL_PARAM_construct_int(OSSL_PKEY_PARAM_FFC_PBITS,
		    &bits);
		params[2] = OSSL_PARAM_construct_end();
	}
	if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, "DH", NULL)) == NULL ||
	    EVP_PKEY_paramgen_init(ctx) <= 0 ||
	    !EVP_PKEY_CTX_set_params(ctx, params) ||
	    EVP_PKEY_paramgen(ctx, &dh) <= 0 ||
	    (bio = BIO_new(BIO_s_mem())) == NULL ||
	    !PEM_write_bio_Parameters(bio, dh)) {
		pki_ssl_err("DH parameters %s", group != NULL ? group :
		    "(generated)");
		goto out;
	}
	if ((pem = pki_bio_string(bio)) == NULL)
		pki_err("DH parameters: out of memory");
	bio = NULL;		/* freed by pki_bio_string() */
out:
	BIO_free(bio);
	EVP_PKEY_free(dh);
	EVP_PKEY_CTX_free(ctx);
	return pem;
}

static int
isalnum_ascii(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9');
}

int
pki_b64u_decode(const char *s, unsigned char **out, size_t *len)
{
	char *std = NULL;
	size_t n, i, pad;
	int got;

	*out = NULL;
	*len = 0;
	s += strspn(s, " \t\r\n");
	n = strcspn(s, "= \t\r\n");
	if (n == 0 || n % 4 == 1 || n > (size_t)INT32_MAX / 2)
		return -1;
	pad = (4 - n % 4) % 4;
	if ((std = malloc(n + pad + 1)) == NULL ||
	    (*out = malloc((n + pad) / 4 * 3 + 1)) == NULL)
		goto fail;
	for (i = 0; i < n; i++) {
		if (s[i] == '-')
			std[i] = '+';
		else if (s[i] == '_')
			std[i] = '/';
		else if (!isalnum_ascii(s[i]))
			goto fail;
		else
			std[i] = s[i];
	}
	memset(std + n, '=', pad);
	std[n + pad] = '\0';
	got = EVP_DecodeBlock(*out, (unsigned char *)std, (int)(n + pad));
	if (got < 0)
		goto fail;
	*len = (size_t)got - pad;
	pki_wipe(std, n + pad);
	free(std);
	return 0;
fail:
	if (std != NULL)
		pki_wipe(std, n + pad);
	free(std);
	if (*out != NULL)
		pki_wipe(*out, (n + pad) / 4 * 3 + 1);
	free(*out);
	*out = NULL;
	return -1;
}
