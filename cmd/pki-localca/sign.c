/*
 * sign.c - pki-localca signs the CSRs of a record.
 *
 * The certificate's names come from the record (checked), its public key
 * from the CSR (whose signature is checked); must-staple is carried over
 * from the CSR or the record.  Nothing else of the CSR is trusted.
 */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/x509v3.h>

#include "localca.h"

ASN1_INTEGER *
random_serial(void)
{
	ASN1_INTEGER *serial = NULL;
	BIGNUM *bn;

	if ((bn = BN_new()) == NULL)
		return NULL;
	/* 159 random bits: positive, 20 octets at most (RFC 5280 4.1.2.2). */
	do {
		if (!BN_rand(bn, 159, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY))
			goto out;
	} while (BN_is_zero(bn));
	serial = BN_to_ASN1_INTEGER(bn, NULL);
out:
	BN_free(bn);
	return serial;
}

int
add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	if ((ext = X509V3_EXT_nconf_nid(NULL, &ctx, nid, value)) == NULL)
		return -1;
	ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -1;
}

static int
csr_must_staple(X509_REQ *req)
{
	STACK_OF(X509_EXTENSION) *exts;
	int found;

	if ((exts = X509_REQ_get_extensions(req)) == NULL)
		return 0;
	found = X509v3_get_ext_by_NID(exts, NID_tlsfeature, -1) >= 0;
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	return found;
}

/*
 * Give CERT the public key of REQ: the subjectPublicKeyInfo is copied as it
 * is.  (X509_set_pubkey() would encode the key and decode it again, which
 * in OpenSSL 3.0 costs more than signing.)
 */
static int
copy_pubkey(X509 *cert, X509_REQ *req)
{
	ASN1_OBJECT *alg;
	const unsigned char *bits;
	const void *pval;
	void *param = NULL;
	unsigned char *copy;
	X509_ALGOR *algor;
	int len, ptype;

	if (!X509_PUBKEY_get0_param(&alg, &bits, &len, &algor,
	    X509_REQ_get_X509_PUBKEY(req)))
		return -1;
	X509_ALGOR_get0(NULL, &ptype, &pval, algor);
	if (ptype == V_ASN1_OBJECT)
		param = OBJ_dup(pval);
	else if (ptype == V_ASN1_SEQUENCE)
		param = ASN1_STRING_dup(pval);
	else if (ptype != V_ASN1_NULL && ptype != V_ASN1_UNDEF)
		return -1;
	if ((ptype == V_ASN1_OBJECT || ptype == V_ASN1_SEQUENCE) &&
	    param == NULL)
		return -1;
	if ((copy = OPENSSL_memdup(bits, (size_t)len)) == NULL ||
	    !X509_PUBKEY_set0_param(X509_get_X509_PUBKEY(cert), OBJ_dup(alg),
	    ptype, param, copy, len)) {
		OPENSSL_free(copy);
		if (ptype == V_ASN1_OBJECT)
			ASN1_OBJECT_free(param);
		else
			ASN1_STRING_free(param);
		return -1;
	}
	return 0;
}

static int
set_names(X509 *cert, const char *name, json_t *names, X509 *issuer)
{
	X509_EXTENSION *san;
	X509_NAME *subj;
	int ok;

	if ((subj = pki_subject_name(name)) == NULL)
		return -1;
	ok = X509_set_subject_name(cert, subj) &&
	    X509_set_issuer_name(cert, X509_get_subject_name(issuer));
	if (!ok || pki_san_ext(names, X509_NAME_entry_count(subj) == 0,
	    &san) == -1) {
		X509_NAME_free(subj);
		return -1;
	}
	X509_NAME_free(subj);
	ok = san == NULL || X509_add_ext(cert, san, -1);
	X509_EXTENSION_free(san);
	return ok ? 0 : -1;
}

/* Validity: BACKDATE seconds ago until DAYS from now, within the CA's. */
static int
set_validity(X509 *cert, X509 *issuer, const struct settings *st,
    long days)
{
	if (X509_gmtime_adj(X509_getm_notBefore(cert), -st->backdate) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(cert), (int)days, 0,
	    NULL) == NULL)
		return -1;
	if (ASN1_TIME_compare(X509_get0_notAfter(cert),
	    X509_get0_notAfter(issuer)) > 0) {
		pki_warn("certificate cut to the CA's not_after");
		if (!X509_set1_notAfter(cert, X509_get0_notAfter(issuer)))
			return -1;
	}
	return 0;
}

/* The certificate for the CSR's key, or NULL (error queue). */
static X509 *
issue(X509_REQ *req, json_t *rec, json_t *names, struct ca *ca,
    const struct settings *st, long days)
{
	EVP_PKEY *pub = X509_REQ_get0_pubkey(req);
	ASN1_INTEGER *serial;
	const char *type = pki_str(rec, "subject_type");
	int client = type != NULL && strcmp(type, "client") == 0;
	int rsa = EVP_PKEY_is_a(pub, "RSA");
	int staple = json_is_true(json_object_get(rec, "ocsp_must_staple")) ||
	    csr_must_staple(req);
	X509 *cert;

	if ((cert = X509_new()) == NULL)
		return NULL;
	if ((serial = random_serial()) == NULL ||
	    !X509_set_version(cert, X509_VERSION_3) ||
	    !X509_set_serialNumber(cert, serial) ||
	    copy_pubkey(cert, req) == -1 ||
	    set_names(cert, pki_str(rec, "name"), names, ca->cert) == -1 ||
	    set_validity(cert, ca->cert, st, days) == -1 ||
	    add_ext(cert, ca->cert, NID_basic_constraints,
	    "critical,CA:FALSE") == -1 ||
	    add_ext(cert, ca->cert, NID_key_usage, rsa ?
	    "critical,digitalSignature,keyEncipherment" :
	    "critical,digitalSignature") == -1 ||
	    add_ext(cert, ca->cert, NID_ext_key_usage,
	    client ? "clientAuth" : "serverAuth") == -1 ||
	    add_ext(cert, ca->cert, NID_subject_key_identifier, "hash") == -1 ||
	    add_ext(cert, ca->cert, NID_authority_key_identifier,
	    "keyid") == -1 ||
	    (staple && add_ext(cert, ca->cert, NID_tlsfeature,
	    "status_request") == -1) ||
	    !X509_sign(cert, ca->key, pki_digest_for(ca->key))) {
		X509_free(cert);
		cert = NULL;
	}
	ASN1_INTEGER_free(serial);
	return cert;
}

static int
sign_one(json_t *rec, json_t *certs, const char *algo, const char *csr_pem,
    json_t *names, struct ca *ca, const struct settings *st, long days)
{
	const char *got;
	X509_REQ *req;
	X509 *cert = NULL;
	json_t *entry;
	char field[16];

	snprintf(field, sizeof(field), "csr.%s", algo);
	if ((req = pki_csr_from_pem(csr_pem)) == NULL)
		return pki_rec_error(rec, field, "not a PEM CSR");
	if (X509_REQ_verify(req, X509_REQ_get0_pubkey(req)) != 1) {
		X509_REQ_free(req);
		return pki_rec_error(rec, field, "bad CSR signature");
	}
	got = pki_key_algo(X509_REQ_get0_pubkey(req));
	if (got == NULL || strcmp(got, algo) != 0) {
		X509_REQ_free(req);
		return pki_rec_error(rec, field, "not an %s key", algo);
	}
	cert = issue(req, rec, names, ca, st, days);
	X509_REQ_free(req);
	if (cert == NULL)
		return pki_rec_error(rec, "cert", "cannot sign: %s",
		    pki_ssl_reason());
	entry = pki_cert_json(cert, ca->cert_pem);
	X509_free(cert);
	if (entry == NULL)
		return pki_rec_error(rec, "cert", "cannot encode certificate");
	pki_info("%s: %s certificate %s until %s", pki_rec_name(rec), algo,
	    pki_str(entry, "serial"), pki_str(entry, "not_after"));
	json_object_set_new(certs, algo, entry);
	return 0;
}

int
sign_record(json_t *rec, struct ca *ca, const struct settings *st, long days)
{
	json_t *csrs, *certs, *names, *v;
	const char *algo;
	int rc = 0;

	csrs = json_object_get(rec, "csr");
	if ((names = pki_rec_names(rec)) == NULL ||
	    (certs = pki_rec_object(rec, "cert")) == NULL) {
		json_decref(names);
		return -1;
	}
	json_object_foreach(csrs, algo, v) {
		if (json_object_get(certs, algo) != NULL)
			continue;
		if (!pki_algo_valid(algo) || !json_is_string(v)) {
			rc = pki_rec_error(rec, "csr", "\"%s\" is not an "
			    "algorithm with a PEM CSR", algo);
			break;
		}
		if ((rc = sign_one(rec, certs, algo, json_string_value(v),
		    names, ca, st, days)) == -1)
			break;
	}
	if (json_object_size(certs) == 0)
		json_object_del(rec, "cert");
	json_decref(names);
	return rc;
}
