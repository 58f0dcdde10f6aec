/*
 * ari.c - ACME Renewal Information (RFC 9773): pki-acme ari, a filter
 * that asks the CA when to renew each record's ACME certificates, and
 * the "replaces" of a renewal's new order.
 *
 * For a record of the ACME CA with certificates, each certificate's
 * certID (base64url of its AKI keyIdentifier "." base64url of its
 * serial's DER content bytes) is looked up at the directory's
 * renewalInfo with an unauthenticated GET.  The record gets "ari": the
 * window of the certificate whose window starts first, a time chosen at
 * random inside it (kept from the input when still inside), and when
 * to ask again: the CA's Retry-After clamped to [ARI_MIN, ARI_MAX],
 * ARI_DEFAULT when it gives none or after an error.  A directory
 * without renewalInfo: "ari" says so, and renewal follows the lifetime
 * rule.  A failed lookup is a fact in "ari" (status "error"), not a
 * record error: the record goes on to pki-store, which keeps the last
 * window and the time to ask again.  A stream.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "acme.h"

#define ARI_MIN		60		/* Retry-After clamped to ... */
#define ARI_MAX		86400		/* ... this */
#define ARI_DEFAULT	(6 * 3600)	/* none given, or an error */
#define ARI_UNSUPPORTED	86400		/* no renewalInfo: look again */
#define ALREADY_REPLACED ACME_PROBLEM "alreadyReplaced"
#define B64U		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" \
			"0123456789-_"

struct ari_run {
	const struct opts	*o;
	struct acme		 a;
	int			 open;		/* A is a session ... */
	char			*dir;		/* ... with this directory */
};

/* One certificate's answer. */
struct window {
	time_t	 start, end;
	long	 retry;		/* seconds until asking again */
};

/* The base64url of the content octets of DER (a TLV of LEN bytes);
 * NULL if it is not one. */
static char *
der_content_b64u(const unsigned char *der, long len)
{
	const unsigned char *p = der;
	long clen;
	int tag, xclass;

	if (ASN1_get_object(&p, &clen, &tag, &xclass, len) & 0x80)
		return NULL;
	return b64u_encode(p, (size_t)clen);
}

int
ari_cert_id(const char *pem, char **id)
{
	X509 *x = NULL;
	BIO *bio;
	const ASN1_OCTET_STRING *aki;
	unsigned char *der = NULL;
	char *a = NULL, *s = NULL;
	int len, rc = -1;

	*id = NULL;
	if ((bio = BIO_new_mem_buf(pem, -1)) != NULL)
		x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (x == NULL || (aki = X509_get0_authority_key_id(x)) == NULL)
		goto out;
	if ((len = i2d_ASN1_INTEGER(X509_get0_serialNumber(x), &der)) <= 0)
		goto out;
	if ((a = b64u_encode(ASN1_STRING_get0_data(aki),
	    (size_t)ASN1_STRING_length(aki))) == NULL ||
	    (s = der_content_b64u(der, len)) == NULL)
		goto out;
	if ((*id = malloc(strlen(a) + strlen(s) + 2)) != NULL) {
		sprintf(*id, "%s.%s", a, s);
		rc = 0;
	}
out:
	ERR_clear_error();
	OPENSSL_free(der);
	free(a);
	free(s);
	X509_free(x);
	return rc;
}

/* T as RFC 3339 UTC, a new JSON string. */
static json_t *
time_json(time_t t)
{
	char buf[32];

	pki_unix_rfc3339(t, buf);
	return json_string(buf);
}

/* Retry-After RA (0: none) clamped to [ARI_MIN, ARI_MAX]. */
static long
clamp_retry(long ra)
{
	if (ra <= 0)
		return ARI_DEFAULT;
	return ra < ARI_MIN ? ARI_MIN : ra > ARI_MAX ? ARI_MAX : ra;
}

/* The session with the CA of directory URL, opened when it is not the
 * one open.  0 / -1 (A's why says why). */
static int
session(struct ari_run *r, const char *url)
{
	if (r->open && strcmp(r->dir, url) == 0)
		return 0;
	if (r->open)
		acme_close(&r->a);
	free(r->dir);
	r->open = 0;
	if ((r->dir = xstrdup(url)) == NULL)
		return -1;
	if (acme_open(&r->a, url, r->o->ca_bundle, r->o->timeout) == -1)
		return -1;
	r->open = 1;
	return 0;
}

/* Parse the renewalInfo BODY into W; NULL, or what is wrong. */
static const char *
parse_window(const char *body, struct window *w, json_t **info)
{
	json_t *sw;

	if (body == NULL || (*info = json_loads(body, 0, NULL)) == NULL ||
	    !json_is_object(*info))
		return "the answer is not a JSON object";
	sw = json_object_get(*info, "suggestedWindow");
	if (pki_parse_rfc3339(pki_str(sw, "start"), &w->start) == -1 ||
	    pki_parse_rfc3339(pki_str(sw, "end"), &w->end) == -1)
		return "no suggestedWindow with RFC 3339 start and end";
	if (w->end <= w->start)
		return "the suggested window ends before it starts";
	return NULL;
}

/*
 * GET the renewalInfo of certID ID at BASE into W and ENTRY (the
 * record's "ari"."certs" entry of its certificate).  0 / -1 (WHY).
 */
static int
fetch(struct ari_run *r, const char *base, const char *id,
    struct window *w, json_t *entry, char *why, size_t len)
{
	struct resp resp;
	json_t *info = NULL;
	const char *bad;
	char *url;
	int rc = -1;

	if ((url = malloc(strlen(base) + strlen(id) + 2)) == NULL)
		return snprintf(why, len, "out of memory"), -1;
	sprintf(url, "%s%s%s", base, base[strlen(base) - 1] == '/' ? "" : "/",
	    id);
	if (http_do(&r->a.http, "GET", url, NULL, NULL, 0,
	    r->o->timeout * 1000, &resp, why, len) == -1) {
		free(url);
		return -1;
	}
	if (resp.status != 200)
		snprintf(why, len, "GET %s: HTTP %ld", url, resp.status);
	else if ((bad = parse_window(resp.body, w, &info)) != NULL)
		snprintf(why, len, "GET %s: %s", url, bad);
	else {
		w->retry = clamp_retry(resp.retry_after);
		json_object_set_new(entry, "window", json_pack("{s:o, s:o}",
		    "start", time_json(w->start), "end", time_json(w->end)));
		if (pki_str(info, "explanationURL") != NULL)
			json_object_set(entry, "explanation_url",
			    json_object_get(info, "explanationURL"));
		rc = 0;
	}
	json_decref(info);
	resp_free(&resp);
	free(url);
	return rc;
}

/* A time inside W at random: the input's RENEW_AT if it is inside. */
static time_t
choose(const struct window *w, const char *renew_at)
{
	uint64_t n;
	time_t t;

	if (pki_parse_rfc3339(renew_at, &t) == 0 && t >= w->start && t <= w->end)
		return t;
	if (RAND_bytes((unsigned char *)&n, sizeof(n)) != 1)
		n = (uint64_t)time(NULL);
	return w->start + (time_t)(n % (uint64_t)(w->end - w->start + 1));
}

/* The certificates of REC into CERTS with their windows; the window
 * that starts first into BEST, the shortest Retry-After into it too.
 * 0 / -1 (WHY). */
static int
fetch_all(struct ari_run *r, json_t *rec, const char *base, json_t *certs,
    struct window *best, char *why, size_t len)
{
	struct window w;
	const char *algo;
	json_t *cert, *entry;
	char *id;
	int n = 0;

	json_object_foreach(json_object_get(rec, "cert"), algo, cert) {
		if (ari_cert_id(pki_str(cert, "pem"), &id) == -1)
			return snprintf(why, len, "%s: no certificate with an "
			    "authority key identifier", algo), -1;
		entry = json_pack("{s:s}", "cert_id", id);
		json_object_set_new(certs, algo, entry);
		free(id);
		if (fetch(r, base, pki_str(entry, "cert_id"), &w, entry, why,
		    len) == -1)
			return -1;
		if (n == 0 || w.start < best->start) {
			best->start = w.start;
			best->end = w.end;
		}
		if (n++ == 0 || w.retry < best->retry)
			best->retry = w.retry;
	}
	return 0;
}

/* Records of the ACME CA with certificates, not revoked. */
static int
is_mine(const json_t *rec)
{
	const char *ca = pki_str(rec, "ca");

	return ca != NULL && strcmp(ca, "acme") == 0 &&
	    json_object_size(json_object_get(rec, "cert")) > 0 &&
	    json_object_get(rec, "revoked") == NULL;
}

/* The directory for REC: its certificate's CA ("acme_directory"), else
 * --directory, else the one of its order ("acme"."directory"). */
static const char *
directory(struct ari_run *r, const json_t *rec)
{
	const char *dir = rec_directory(r->o, rec);

	if (dir != NULL)
		return dir;
	return pki_str(json_object_get(rec, "acme"), "directory");
}

/* ARI of REC into the new object ARI, whose "checked" is NOW. */
static void
ari_lookup(struct ari_run *r, json_t *rec, json_t *ari, time_t now)
{
	struct window best = { 0, 0, 0 };
	const char *dir = directory(r, rec), *base, *renew_at;
	json_t *certs = json_object();
	char why[768];

	renew_at = pki_str(json_object_get(rec, "ari"), "renew_at");
	json_object_set_new(ari, "certs", certs);
	if (dir == NULL)
		snprintf(why, sizeof(why), "no ACME directory: give "
		    "--directory or PKI_ACME_DIRECTORY");
	else if (session(r, dir) == -1)
		snprintf(why, sizeof(why), "%s", r->a.why);
	else if ((base = pki_str(r->a.dir, "renewalInfo")) == NULL) {
		json_object_del(ari, "certs");
		json_object_set_new(ari, "status", json_string("unsupported"));
		json_object_set_new(ari, "note", json_string("the CA's "
		    "directory has no renewalInfo: renewal follows the "
		    "certificate's lifetime"));
		json_object_set_new(ari, "next_check",
		    time_json(now + ARI_UNSUPPORTED));
		pki_info("%s: %s has no renewalInfo", pki_rec_name(rec), dir);
		return;
	} else if (fetch_all(r, rec, base, certs, &best, why,
	    sizeof(why)) == 0) {
		json_object_set_new(ari, "status", json_string("ok"));
		json_object_set_new(ari, "window", json_pack("{s:o, s:o}",
		    "start", time_json(best.start), "end", time_json(best.end)));
		json_object_set_new(ari, "renew_at",
		    time_json(choose(&best, renew_at)));
		json_object_set_new(ari, "next_check", time_json(now + best.retry));
		pki_info("%s: renew at %s, ask again at %s", pki_rec_name(rec),
		    pki_str(ari, "renew_at"), pki_str(ari, "next_check"));
		return;
	}
	json_object_set_new(ari, "status", json_string("error"));
	json_object_set_new(ari, "error", json_string(why));
	json_object_set_new(ari, "next_check", time_json(now + ARI_DEFAULT));
	pki_warn("%s: renewal information: %s", pki_rec_name(rec), why);
}

static int
ari_record(json_t *rec, void *ctx)
{
	struct ari_run *r = ctx;
	json_t *ari;
	time_t now = time(NULL);

	if (!is_mine(rec))
		return 0;
	if ((ari = json_pack("{s:o}", "checked", time_json(now))) == NULL)
		return pki_rec_error(rec, "ari", "out of memory");
	if (r->open)
		acme_begin(&r->a);
	ari_lookup(r, rec, ari, now);
	json_object_set_new(rec, "ari", ari);
	return 0;
}

int
cmd_ari(const struct opts *o)
{
	struct ari_run r;
	int rc;

	memset(&r, 0, sizeof(r));
	r.o = o;
	rc = pki_filter(ari_record, &r);
	if (r.open)
		acme_close(&r.a);
	free(r.dir);
	return rc;
}

/* ------------------------------------------------------------ orders */

int
ari_replaces(struct acme *a, json_t *rec, const char *algo, json_t *payload)
{
	json_t *renews = json_object_get(rec, "renews");
	const char *id, *dot;

	if (renews == NULL || pki_str(a->dir, "renewalInfo") == NULL)
		return 0;
	id = pki_str(json_object_get(renews, "cert_id"), algo);
	if (id == NULL)
		return 0;
	dot = strchr(id, '.');
	if (strlen(id) > 512 || dot == NULL || dot == id ||
	    !b64u_valid(dot + 1) || strspn(id, B64U) != (size_t)(dot - id))
		return pki_rec_error(rec, "renews", "%s: \"%.80s\" is not a "
		    "certID", algo, id);
	json_object_set_new(payload, "replaces", json_string(id));
	return 0;
}

int
ari_order_error(json_t *rec, struct acme *a)
{
	json_t *errors, *e;
	const char *type = pki_str(a->problem, "type");

	acme_rec_error(rec, a, "new order");
	if (type == NULL || strcmp(type, ALREADY_REPLACED) != 0)
		return -1;
	errors = json_object_get(rec, "errors");
	e = json_array_get(errors, json_array_size(errors) - 1);
	json_object_set_new(e, "retry", json_false());
	pki_warn("%s: the certificate it renews was replaced already; not "
	    "ordered again with \"replaces\"", pki_rec_name(rec));
	return -1;
}
