/*
 * crl.c - pki-localca's revocation: --revoke marks the records of the
 * local CA as revoked (pki-store sets their instances' state), and --crl
 * writes the CRL of the current CA, signed by it, listing every revoked
 * instance of the database that it issued.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "localca.h"

int
revoke_record(json_t *rec, const char *reason)
{
	const char *ca = pki_str(rec, "ca");
	const char *type = pki_str(rec, "subject_type");
	char at[32];

	if ((ca != NULL && strcmp(ca, "local") != 0) ||
	    (type != NULL && strcmp(type, "CA") == 0) ||
	    json_object_size(json_object_get(rec, "cert")) == 0 ||
	    json_object_get(rec, "revoked") != NULL)
		return 0;
	pki_unix_rfc3339(time(NULL), at);
	json_object_set_new(rec, "revoked", json_pack("{s:s, s:s}", "reason",
	    reason, "at", at));
	pki_info("%s: revoked (%s)", pki_rec_name(rec), reason);
	return 0;
}

/* Add the revoked certificate PEM, revoked at AT with REASON, to CRL if
 * the CA of CRL issued it.  0 / -1 (reported). */
static int
add_revoked(X509_CRL *crl, X509 *issuer, const char *pem, time_t at,
    const char *reason)
{
	X509_REVOKED *rv = NULL;
	ASN1_ENUMERATED *code = NULL;
	ASN1_TIME *t = NULL;
	BIO *bio;
	X509 *x;
	int rc = -1;

	if ((bio = BIO_new_mem_buf(pem, -1)) == NULL)
		return -1;
	x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (x == NULL)
		return 0;	/* not a certificate: nothing to list */
	if (X509_check_issued(issuer, x) != X509_V_OK) {
		X509_free(x);
		return 0;	/* an earlier CA's, or not ours */
	}
	if ((rv = X509_REVOKED_new()) == NULL ||
	    (t = ASN1_TIME_set(NULL, at)) == NULL ||
	    (code = ASN1_ENUMERATED_new()) == NULL ||
	    !X509_REVOKED_set_serialNumber(rv, X509_get_serialNumber(x)) ||
	    !X509_REVOKED_set_revocationDate(rv, t) ||
	    !ASN1_ENUMERATED_set(code, pki_crl_reason(reason) < 0 ? 0 :
	    pki_crl_reason(reason)) ||
	    /* RFC 5280 5.3.1: absent rather than unspecified */
	    (pki_crl_reason(reason) > 0 &&
	    !X509_REVOKED_add1_ext_i2d(rv, NID_crl_reason, code, 0, 0)) ||
	    !X509_CRL_add0_revoked(crl, rv))
		pki_err("CRL: cannot add a revoked certificate");
	else {
		rv = NULL;
		rc = 0;
	}
	X509_REVOKED_free(rv);
	ASN1_ENUMERATED_free(code);
	ASN1_TIME_free(t);
	X509_free(x);
	return rc;
}

/* The CRL's own fields and extensions, valid DAYS days from NOW. */
static int
crl_frame(X509_CRL *crl, X509 *issuer, time_t now, long days)
{
	ASN1_TIME *last, *next;
	ASN1_INTEGER *num;
	X509_EXTENSION *ext;
	X509V3_CTX ctx;
	int ok;

	last = ASN1_TIME_set(NULL, now);
	next = ASN1_TIME_set(NULL, now + days * 86400);
	num = ASN1_INTEGER_new();
	ok = last != NULL && next != NULL && num != NULL &&
	    X509_CRL_set_version(crl, X509_CRL_VERSION_2) &&
	    X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer)) &&
	    X509_CRL_set1_lastUpdate(crl, last) &&
	    X509_CRL_set1_nextUpdate(crl, next) &&
	    ASN1_INTEGER_set_int64(num, (int64_t)now) &&
	    X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0);
	ASN1_TIME_free(last);
	ASN1_TIME_free(next);
	ASN1_INTEGER_free(num);
	if (!ok)
		return -1;
	X509V3_set_ctx(&ctx, issuer, NULL, NULL, crl, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_authority_key_identifier,
	    "keyid:always")) == NULL)
		return -1;
	ok = X509_CRL_add_ext(crl, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -1;
}

/* The CRL of CA, listing the revoked certificates of REVOKED it issued,
 * valid DAYS days from NOW, as PEM to OUT; its entries into *N.  0 / -1
 * (reported). */
static int
crl_one(const struct ca *ca, PGresult *revoked, time_t now, long days,
    BIO *out, int *n)
{
	X509_CRL *crl;
	int i, rc = -1;

	if ((crl = X509_CRL_new()) == NULL ||
	    crl_frame(crl, ca->cert, now, days) == -1) {
		pki_err("CRL: cannot make it");
		goto out;
	}
	for (i = 0; i < PQntuples(revoked); i++)
		if (add_revoked(crl, ca->cert, PQgetvalue(revoked, i, 0),
		    (time_t)atoll(PQgetvalue(revoked, i, 1)),
		    PQgetvalue(revoked, i, 2)) == -1)
			goto out;
	*n = sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl));
	if (!X509_CRL_sort(crl) || !X509_CRL_sign(crl, ca->key, EVP_sha256()) ||
	    !PEM_write_bio_X509_CRL(out, crl)) {
		pki_err("CRL: cannot sign it");
		goto out;
	}
	rc = 0;
out:
	X509_CRL_free(crl);
	return rc;
}

int
crl_write(struct ca *ca, const char *file, long days)
{
	const struct ca *one;
	PGconn *db;
	PGresult *res;
	BIO *out = NULL;
	char *buf;
	long len;
	int n, all = 0, crls = 0, rc = PKI_EXIT_FATAL;
	time_t now = time(NULL);

	if ((db = pki_db_connect()) == NULL)
		return PKI_EXIT_FATAL;
	res = pki_db_exec(db, "SELECT convert_from(d.cert, 'UTF8'), "
	    "extract(epoch FROM coalesce(i.revoked_at, i.updated))::bigint, "
	    "coalesce(i.revoke_reason, 'unspecified') "
	    "FROM certinstances i "
	    "JOIN certkeydata d ON d.certinstance = i.id "
	    "JOIN certificates c ON c.id = i.certificate "
	    "WHERE i.state = 'revoked' AND c.type <> 'LE' "
	    "ORDER BY i.id, d.id", 0, NULL);
	PQfinish(db);
	if (res == NULL)
		return PKI_EXIT_FATAL;
	if ((out = BIO_new(BIO_s_mem())) == NULL)
		goto out;
	/* One CRL per CA that signs, the current one first: each
	 * certificate is checked against the CRL of its own issuer. */
	for (one = ca; one != NULL; one = one->older, crls++) {
		if (crl_one(one, res, now, days, out, &n) == -1)
			goto out;
		all += n;
	}
	len = BIO_get_mem_data(out, &buf);
	if (pki_write_file(file, buf, (size_t)len, 0644) == 0) {
		pki_info("CRL %s: %d revoked certificate%s, %d CA%s, next "
		    "update in %ld days", file, all, all == 1 ? "" : "s",
		    crls, crls == 1 ? "" : "s", days);
		rc = 0;
	}
out:
	BIO_free(out);
	PQclear(res);
	return rc;
}
