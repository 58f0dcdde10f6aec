/*
 * revoke.c - pki-acme revoke: revoke the certificates a record carries
 * (RFC 8555 7.6), signed with the account key, and mark the record with
 * "revoked" so that pki-store sets its instance's state to 'revoked'.
 * A stream, like order.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acme.h"

#define ALREADY	ACME_PROBLEM "alreadyRevoked"

struct revoke_run {
	const struct opts	*o;
	struct sessions		 ss;		/* one per CA */
	struct session		*s;		/* the record's */
};

/* Records of the ACME CA with certificates not yet revoked. */
static int
is_mine(const json_t *rec)
{
	const char *ca = pki_str(rec, "ca");

	return ca != NULL && strcmp(ca, "acme") == 0 &&
	    json_object_size(json_object_get(rec, "cert")) > 0 &&
	    json_object_get(rec, "revoked") == NULL;
}

/* Revoke the certificate PEM of ALGO.  0 / -1 (error added to REC). */
static int
revoke_one(struct revoke_run *r, json_t *rec, const char *algo,
    const char *pem, const char *url)
{
	unsigned char *der;
	json_t *payload, *got = NULL;
	struct resp resp;
	char *b;
	long len;
	int rc;

	if ((der = pki_pem_der(pem, "CERTIFICATE", 0, &len)) == NULL)
		return pki_rec_error(rec, "cert", "%s: no PEM certificate",
		    algo);
	b = b64u_encode(der, (size_t)len);
	OPENSSL_free(der);
	payload = json_pack("{s:s, s:i}", "certificate", b ? b : "",
	    "reason", pki_crl_reason(r->o->reason));
	free(b);
	/* Sent again after a lost answer, it is "alreadyRevoked". */
	rc = acme_post_repeatable(&r->s->a, url, payload, NULL, &resp, &got);
	json_decref(payload);
	json_decref(got);
	if (rc == 0) {
		resp_free(&resp);
		return 0;
	}
	if (r->s->a.problem != NULL &&
	    strcmp(pki_str(r->s->a.problem, "type"), ALREADY) == 0) {
		pki_info("%s: %s certificate was revoked already",
		    pki_rec_name(rec), algo);
		return 0;
	}
	return acme_rec_error(rec, &r->s->a, algo);
}

static int
revoke_record(json_t *rec, void *ctx)
{
	struct revoke_run *r = ctx;
	const char *algo, *url;
	json_t *entry;
	char at[32];

	if (!is_mine(rec))
		return 0;
	if ((r->s = session_for(&r->ss, rec_directory(r->o, rec), rec)) ==
	    NULL)
		return -1;
	acme_begin(&r->s->a);
	if ((url = acme_url(&r->s->a, "revokeCert")) == NULL)
		return acme_rec_error(rec, &r->s->a, "revoke");
	json_object_foreach(json_object_get(rec, "cert"), algo, entry)
		if (revoke_one(r, rec, algo, pki_str(entry, "pem"), url) == -1) {
			sessions_tell(&r->ss);
			return -1;
		}
	pki_unix_rfc3339(time(NULL), at);
	json_object_set_new(rec, "revoked", json_pack("{s:s, s:s}", "reason",
	    pki_crl_reason_name(r->o->reason), "at", at));
	pki_info("%s: revoked (%s)", pki_rec_name(rec), r->o->reason);
	sessions_tell(&r->ss);
	return 0;
}

int
cmd_revoke(const struct opts *o)
{
	struct revoke_run r;
	int rc;

	memset(&r, 0, sizeof(r));
	r.o = o;
	r.ss.o = o;
	rc = pki_filter(revoke_record, &r);
	sessions_free(&r.ss);
	return r.ss.failed || o->pass_failed ? PKI_EXIT_FATAL : rc;
}
