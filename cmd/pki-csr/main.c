/*
 * pki-csr - make the PKCS#10 certificate signing requests of cert records.
 *
 * For each key of a record ("key".ALGO) without a certificate or CSR yet,
 * a CSR goes to "csr".ALGO: CN = name, subjectAltName = name + altnames,
 * the TLS feature status_request (OCSP must-staple) when the record asks
 * for it, signed with SHA-256 (SHA-384 for P-384 keys).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "pki.h"

static const char usage[] =
"usage: pki-csr [-hqv] [--syslog FACILITY]\n";

static STACK_OF(X509_EXTENSION) *
extensions(json_t *names, int empty_subject, int must_staple)
{
	STACK_OF(X509_EXTENSION) *exts;
	X509_EXTENSION *ext;

	if ((exts = sk_X509_EXTENSION_new_null()) == NULL)
		return NULL;
	if (pki_san_ext(names, empty_subject, &ext) == -1)
		goto fail;
	if (ext != NULL && !sk_X509_EXTENSION_push(exts, ext)) {
		X509_EXTENSION_free(ext);
		goto fail;
	}
	if (must_staple) {
		ext = X509V3_EXT_nconf_nid(NULL, NULL, NID_tlsfeature,
		    "status_request");
		if (ext == NULL || !sk_X509_EXTENSION_push(exts, ext)) {
			X509_EXTENSION_free(ext);
			goto fail;
		}
	}
	return exts;
fail:
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	return NULL;
}

/*
 * Put the public key of KEY into REQ.  For EC keys the subjectPublicKeyInfo
 * is made from the curve and the encoded point; X509_REQ_set_pubkey() would
 * encode the key and decode it again, which in OpenSSL 3.0 costs more than
 * signing.
 */
static int
set_pubkey(X509_REQ *req, EVP_PKEY *key)
{
	unsigned char *point = NULL;
	char curve[32];
	size_t len;
	int nid;

	if (!EVP_PKEY_is_a(key, "EC"))
		return X509_REQ_set_pubkey(req, key) ? 0 : -1;
	if (!EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME,
	    curve, sizeof(curve), NULL) ||
	    (nid = OBJ_sn2nid(curve)) == NID_undef ||
	    (len = EVP_PKEY_get1_encoded_public_key(key, &point)) == 0)
		return -1;
	if (!X509_PUBKEY_set0_param(X509_REQ_get_X509_PUBKEY(req),
	    OBJ_nid2obj(NID_X9_62_id_ecPublicKey), V_ASN1_OBJECT,
	    OBJ_nid2obj(nid), point, (int)len)) {
		OPENSSL_free(point);
		return -1;
	}
	return 0;
}

/* The CSR for KEY as PEM (caller frees); NULL on failure (error queue). */
static char *
make_csr(EVP_PKEY *key, const char *name, json_t *names, int must_staple)
{
	STACK_OF(X509_EXTENSION) *exts = NULL;
	X509_NAME *subj = NULL;
	X509_REQ *req = NULL;
	BIO *bio = NULL;
	char *pem = NULL, *data;
	long len;

	if ((req = X509_REQ_new()) == NULL ||
	    !X509_REQ_set_version(req, X509_REQ_VERSION_1) ||
	    (subj = pki_subject_name(name)) == NULL ||
	    !X509_REQ_set_subject_name(req, subj) ||
	    set_pubkey(req, key) == -1 ||
	    (exts = extensions(names, X509_NAME_entry_count(subj) == 0,
	    must_staple)) == NULL ||
	    !X509_REQ_add_extensions(req, exts) ||
	    !X509_REQ_sign(req, key, pki_digest_for(key)) ||
	    (bio = BIO_new(BIO_s_mem())) == NULL ||
	    !PEM_write_bio_X509_REQ(bio, req))
		goto out;
	len = BIO_get_mem_data(bio, &data);
	pem = strndup(data, (size_t)len);
out:
	BIO_free(bio);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_NAME_free(subj);
	X509_REQ_free(req);
	return pem;
}

static int
csr_one(json_t *rec, json_t *csrs, const char *algo, const char *key_pem,
    json_t *names)
{
	const char *why;
	EVP_PKEY *key;
	char field[16], *pem;

	snprintf(field, sizeof(field), "key.%s", algo);
	if ((key = pki_key_from_pem(key_pem, NULL, &why)) == NULL)
		return pki_rec_error(rec, field, "%s", why);
	if (pki_key_algo(key) == NULL || strcmp(pki_key_algo(key), algo) != 0) {
		EVP_PKEY_free(key);
		return pki_rec_error(rec, field, "not an %s key", algo);
	}
	pem = make_csr(key, pki_str(rec, "name"), names,
	    json_is_true(json_object_get(rec, "ocsp_must_staple")));
	EVP_PKEY_free(key);
	if (pem == NULL)
		return pki_rec_error(rec, "csr", "cannot make %s CSR: %s",
		    algo, pki_ssl_reason());
	json_object_set_new(csrs, algo, json_string(pem));
	free(pem);
	pki_info("%s: new %s CSR", pki_rec_name(rec), algo);
	return 0;
}

/* The given CSR of ALGO checked against the record's NAMES; 0 / -1
 * (error added naming csr.ALGO). */
static int
check_given(json_t *rec, const char *algo, const json_t *pem,
    const json_t *names)
{
	STACK_OF(X509_EXTENSION) *exts = NULL;
	GENERAL_NAMES *gens = NULL;
	X509_REQ *req = NULL;
	char field[16], *want = NULL, *got = NULL;
	const char *type;
	int rc = -1;

	snprintf(field, sizeof(field), "csr.%s", algo);
	if (!json_is_string(pem) ||
	    (req = pki_csr_from_pem(json_string_value(pem))) == NULL)
		pki_rec_error(rec, field, "not a PEM certificate request");
	else if (X509_REQ_verify(req, X509_REQ_get0_pubkey(req)) != 1)
		pki_rec_error(rec, field, "its signature does not verify");
	else if ((type = pki_key_algo(X509_REQ_get0_pubkey(req))) == NULL ||
	    strcmp(type, algo) != 0)
		pki_rec_error(rec, field, "its key is not an %s key", algo);
	else {
		exts = X509_REQ_get_extensions(req);
		gens = X509V3_get_d2i(exts, NID_subject_alt_name, NULL, NULL);
		want = pki_names_text(names);
		got = pki_names_covered(X509_REQ_get_subject_name(req), gens);
		if (want == NULL || got == NULL || strcmp(want, got) != 0)
			pki_rec_error(rec, field, "it asks for the names \"%s\", "
			    "the certificate has \"%s\"", got ? got : "",
			    want ? want : "");
		else
			rc = 0;
	}
	free(want);
	free(got);
	GENERAL_NAMES_free(gens);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_REQ_free(req);
	return rc;
}

/* A record with CSRs and no key: every CSR not signed yet checked, and
 * one for every algorithm the record asks for. */
static int
csr_given(json_t *rec)
{
	json_t *csrs = json_object_get(rec, "csr"), *certs, *names, *v;
	const char *algo;
	size_t i;
	int rc = 0;

	if ((names = pki_rec_names(rec)) == NULL)
		return -1;
	certs = json_object_get(rec, "cert");
	json_array_foreach(json_object_get(rec, "algos"), i, v)
		if (json_object_get(csrs, json_string_value(v)) == NULL &&
		    json_object_get(certs, json_string_value(v)) == NULL) {
			rc = pki_rec_error(rec, "csr", "none for %s, which "
			    "\"algos\" asks for (and no key to make one with)",
			    json_string_value(v) ? json_string_value(v) : "?");
			break;
		}
	json_object_foreach(csrs, algo, v) {
		if (rc == -1)
			break;
		if (json_object_get(certs, algo) != NULL)
			continue;
		if (!pki_algo_valid(algo))
			rc = pki_rec_error(rec, "csr", "\"%s\" is not an "
			    "algorithm", algo);
		else
			rc = check_given(rec, algo, v, names);
	}
	json_decref(names);
	return rc;
}

static int
csr(json_t *rec, void *ctx)
{
	json_t *keys, *certs, *csrs, *names, *v;
	const char *algo;
	int rc = 0;

	(void)ctx;
	if (pki_rec_keyless(rec))
		return csr_given(rec);
	keys = json_object_get(rec, "key");
	if (json_object_size(keys) == 0)
		return 0;	/* nothing to sign a request with */
	certs = json_object_get(rec, "cert");
	if ((names = pki_rec_names(rec)) == NULL ||
	    (csrs = pki_rec_object(rec, "csr")) == NULL) {
		json_decref(names);
		return -1;
	}
	json_object_foreach(keys, algo, v) {
		if (json_object_get(certs, algo) != NULL ||
		    json_object_get(csrs, algo) != NULL)
			continue;
		if (!pki_algo_valid(algo) || !json_is_string(v)) {
			rc = pki_rec_error(rec, "key", "\"%s\" is not an "
			    "algorithm with a PEM key", algo);
			break;
		}
		if ((rc = csr_one(rec, csrs, algo, json_string_value(v),
		    names)) == -1)
			break;
	}
	if (json_object_size(csrs) == 0)
		json_object_del(rec, "csr");
	json_decref(names);
	return rc;
}

int
main(int argc, char *argv[])
{
	return pki_stage_main(argc, argv, usage, csr, NULL);
}
