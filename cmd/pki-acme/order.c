/*
 * order.c - pki-acme order: one ACME order per algorithm of each record
 * of the ACME CA (RFC 8555 7.4), its authorizations fetched (7.5), and
 * what must be published for the pending ones added to the record's
 * "challenges".  A stream: each record is written before the next is
 * read.  Valid authorizations are reused: they need no challenge.  A
 * dns-persist-01 challenge gets the standing record that names the CA
 * and the account at every order: whether DNS has it is pki-dnsup's to
 * find out.
 *
 * With --resume an order stored for the certificate and algorithm
 * (stored.c) is taken up again when the CA still has it to finish
 * (pending, ready, processing or valid, not expired): the record gets
 * its key and CSR back, the challenges still to answer, and when the
 * order is valid already its certificate.  An order the CA lists for
 * the account and the database does not know (its run died before the
 * checkpoint: it was never finalized) is taken up with the record's own
 * key (adopt.c).  Only when there is neither is a new order placed.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "acme.h"

struct order_run {
	const struct opts	*o;
	struct sessions		 ss;		/* one per CA */
	struct session		*s;		/* the record's */
	struct stored_db	 sdb;		/* --resume */
	const char		*profile;	/* the record's, or NULL */
};

/* Records of the ACME CA with a CSR of an algorithm that has neither a
 * certificate nor an order. */
static int
needs_order(const json_t *rec)
{
	const char *ca = pki_str(rec, "ca"), *algo;
	json_t *certs = json_object_get(rec, "cert"), *csr;
	json_t *orders = json_object_get(json_object_get(rec, "acme"),
	    "orders");

	if (ca == NULL || strcmp(ca, "acme") != 0)
		return 0;
	json_object_foreach(json_object_get(rec, "csr"), algo, csr)
		if (json_object_get(certs, algo) == NULL &&
		    json_object_get(orders, algo) == NULL)
			return 1;
	return 0;
}

/* The challenge type for REC: --challenge, its "challenge", dns-01. */
static const char *
challenge_type(json_t *rec, const struct opts *o)
{
	const char *type = o->challenge;

	if (type == NULL)
		type = pki_str(rec, "challenge");
	if (type == NULL)
		return "dns-01";
	if (!challenge_valid(type)) {
		pki_rec_error(rec, "challenge", "\"%s\" is not dns-01, "
		    "http-01 or dns-persist-01", type);
		return NULL;
	}
	return type;
}

/* 1 if the names ordered, NAMES, hold "*." IDENT: its standing record
 * must say policy=wildcard, for the wildcard's authorization and the
 * apex's alike (one record serves both). */
static int
wildcard_ordered(const json_t *names, const char *ident)
{
	json_t *v;
	size_t i;

	json_array_foreach(names, i, v)
		if (strncmp(json_string_value(v), "*.", 2) == 0 &&
		    strcasecmp(json_string_value(v) + 2, ident) == 0)
			return 1;
	return 0;
}

/*
 * What pki-dnsup needs for the dns-persist-01 challenge CH into entry E:
 * the owner, the value of the standing record (the CA's first issuer
 * domain name and this account) and what it was made of.  0 / -1 (error
 * added to REC).
 */
static int
persist_entry(struct order_run *r, json_t *rec, json_t *e, const json_t *ch,
    const char *ident, const json_t *names)
{
	const char *issuer = json_string_value(json_array_get(
	    json_object_get(ch, "issuer-domain-names"), 0)), *why;
	int wildcard = wildcard_ordered(names, ident);
	char owner[300], *txt;

	if ((txt = pki_persist_value(issuer, r->s->acct.url, wildcard,
	    r->o->persist_until, &why)) == NULL)
		return pki_rec_error(rec, "acme", "%s: no dns-persist-01 "
		    "record for the CA's issuer \"%.80s\" and the account: "
		    "%s", ident, issuer, why);
	snprintf(owner, sizeof(owner), "%s%s.", PKI_PERSIST_LABEL, ident);
	json_object_set_new(e, "owner", json_string(owner));
	json_object_set_new(e, "txt", json_string(txt));
	json_object_set_new(e, "issuer", json_string(issuer));
	if (wildcard)
		json_object_set_new(e, "policy", json_string("wildcard"));
	if (r->o->persist_until > 0)
		json_object_set_new(e, "persist_until",
		    json_integer(r->o->persist_until));
	free(txt);
	return 0;
}

/* The entry of "challenges" for challenge CH of authorization AUTHZ of
 * REC's NAMES; NULL (error added to REC when it is not memory). */
static json_t *
challenge_entry(struct order_run *r, json_t *rec, const json_t *authz,
    const json_t *ch, const char *url, const json_t *names)
{
	const char *ident = pki_str(json_object_get(authz, "identifier"),
	    "value"), *token = pki_str(ch, "token"), *type = pki_str(ch, "type");
	unsigned char md[32];
	char keyauth[512], owner[300], *txt;
	json_t *e;

	/* No token for dns-persist-01: the record names the account. */
	if (token != NULL)
		snprintf(keyauth, sizeof(keyauth), "%s.%s", token,
		    r->s->acct.thumb);
	/* One answered by a run that died is not answered again. */
	e = json_pack("{s:s, s:s, s:s*, s:s*, s:s, s:s, s:b, s:s}",
	    "identifier", ident, "type", type, "token", token,
	    "key_authorization", token != NULL ? keyauth : NULL,
	    "url", pki_str(ch, "url"), "authorization", url, "wildcard",
	    json_is_true(json_object_get(authz, "wildcard")), "status",
	    pki_str(ch, "status") != NULL && strcmp(pki_str(ch, "status"),
	    "processing") == 0 ? "processing" : "pending");
	if (e != NULL && strcmp(type, "dns-persist-01") == 0 &&
	    persist_entry(r, rec, e, ch, ident, names) == -1) {
		json_decref(e);
		return NULL;
	}
	if (e == NULL || strcmp(type, "dns-01") != 0)
		return e;
	/* RFC 8555 8.4: the TXT record holds the digest. */
	if (!EVP_Digest(keyauth, strlen(keyauth), md, NULL, EVP_sha256(),
	    NULL) || (txt = b64u_encode(md, sizeof(md))) == NULL) {
		json_decref(e);
		return NULL;
	}
	snprintf(owner, sizeof(owner), "_acme-challenge.%s.", ident);
	json_object_set_new(e, "txt", json_string(txt));
	json_object_set_new(e, "owner", json_string(owner));
	free(txt);
	return e;
}

/* 1 if the dns-persist-01 challenge CH lists 1 to 10 issuer domain
 * names (the draft's limit), each a host name. */
static int
issuers_valid(const json_t *ch)
{
	json_t *list = json_object_get(ch, "issuer-domain-names"), *v;
	size_t i;

	if (!json_is_array(list) || json_array_size(list) == 0 ||
	    json_array_size(list) > 10)
		return 0;
	json_array_foreach(list, i, v)
		if (pki_dns_name_check(json_string_value(v), 0) != NULL)
			return 0;
	return 1;
}

/* The types of AUTHZ's challenges, "a, b", into OUT. */
static void
offered(const json_t *authz, char *out, size_t len)
{
	json_t *ch;
	size_t i, n = 0;

	out[0] = '\0';
	json_array_foreach(json_object_get(authz, "challenges"), i, ch)
		if (pki_str(ch, "type") != NULL && n < len)
			n += (size_t)snprintf(out + n, len - n, "%s%.40s",
			    n > 0 ? ", " : "", pki_str(ch, "type"));
}

/* The challenge of TYPE among AUTHZ's, or NULL (error added to REC). */
static const json_t *
find_challenge(json_t *rec, const json_t *authz, const char *type,
    const char *ident)
{
	char list[256];
	json_t *ch;
	size_t i;
	int ok;

	json_array_foreach(json_object_get(authz, "challenges"), i, ch) {
		if (pki_str(ch, "type") == NULL ||
		    strcmp(pki_str(ch, "type"), type) != 0)
			continue;
		if (strcmp(type, "dns-persist-01") == 0)
			ok = issuers_valid(ch);
		else
			ok = b64u_valid(pki_str(ch, "token")) &&
			    strlen(pki_str(ch, "token")) <= 256;
		if (!ok || pki_str(ch, "url") == NULL) {
			pki_rec_error(rec, "acme", "%s: the CA's %s challenge "
			    "has no usable %s or URL", ident, type,
			    strcmp(type, "dns-persist-01") == 0 ?
			    "issuer-domain-names" : "token");
			return NULL;
		}
		return ch;
	}
	offered(authz, list, sizeof(list));
	if (strncmp(type, "dns-", 4) == 0 && pki_ip_name(ident, NULL))
		pki_rec_error(rec, "challenge", "%s: an IP address is "
		    "validated by http-01 or tls-alpn-01, not %s "
		    "(RFC 8738 7)", ident, type);
	else
		pki_rec_error(rec, "challenge", "%s: the CA offers no %s "
		    "challenge (it offers %s)", ident, type,
		    *list != '\0' ? list : "none");
	return NULL;
}

/* 1 if CHALLENGES has one for authorization URL. */
static int
has_challenge(const json_t *challenges, const char *url)
{
	json_t *c;
	size_t i;

	json_array_foreach(challenges, i, c)
		if (pki_str(c, "authorization") != NULL &&
		    strcmp(pki_str(c, "authorization"), url) == 0)
			return 1;
	return 0;
}

/* Fetch authorization URL, which must be for one of NAMES (the names
 * ordered); add its challenge of TYPE when pending. */
static int
authorization(struct order_run *r, json_t *rec, const char *url,
    const json_t *names, const char *type, json_t *challenges)
{
	const char *ident, *status, *why;
	const json_t *ch;
	json_t *authz, *e;
	int rc = -1;

	if (acme_post_json(&r->s->a, url, NULL, &authz) == -1)
		return acme_rec_error(rec, &r->s->a, "authorization");
	ident = pki_str(json_object_get(authz, "identifier"), "value");
	status = pki_str(authz, "status");
	if (ident == NULL || status == NULL)
		pki_rec_error(rec, "acme", "%s: not an authorization", url);
	else if (!authz_ordered(authz, names))
		/* Nothing of it is published: a CA's mistake (or lie) must
		 * not make pki-dnsup write a name that was not ordered. */
		authz_foreign(rec, authz, url);
	else if ((why = pki_host_check(ident, 0)) != NULL)
		pki_rec_error(rec, "acme", "the CA's identifier \"%.80s\": %s",
		    ident, why);
	else if (strcmp(status, "valid") == 0) {
		pki_info("%s: %s is authorized until %s", pki_rec_name(rec),
		    ident, pki_str(authz, "expires"));
		note_authorized(pki_rec_object(rec, "acme"),
		    pki_str(authz, "expires"));
		rc = 0;
	} else if (strcmp(status, "pending") != 0)
		pki_rec_error(rec, "acme", "%s: the authorization is %s",
		    ident, status);
	else if (has_challenge(challenges, url))
		rc = 0;
	else if ((ch = find_challenge(rec, authz, type, ident)) != NULL &&
	    (e = challenge_entry(r, rec, authz, ch, url, names)) != NULL)
		rc = json_array_append_new(challenges, e) == 0 ? 0 : -1;
	json_decref(authz);
	return rc;
}

/* The identifiers of NAMES for newOrder. */
static json_t *
identifiers(const json_t *names)
{
	json_t *ids = json_array(), *v;
	size_t i;

	/* RFC 8738: an address is an identifier of type "ip". */
	json_array_foreach(names, i, v)
		json_array_append_new(ids, json_pack("{s:s, s:O}", "type",
		    pki_ip_name(json_string_value(v), NULL) ?
		    "ip" : "dns", "value", v));
	return json_pack("{s:o}", "identifiers", ids);
}

/* The record's entry of an order: what finish needs. */
static json_t *
order_entry(const char *url, const json_t *order)
{
	const char *fin = pki_str(order, "finalize");
	json_t *authzs = json_object_get(order, "authorizations"), *v;
	size_t i;

	if (url == NULL || fin == NULL || !json_is_array(authzs) ||
	    json_array_size(authzs) == 0)
		return NULL;
	json_array_foreach(authzs, i, v)
		if (!json_is_string(v))
			return NULL;
	return json_pack("{s:s, s:s, s:s, s:O, s:s*}", "url", url, "finalize",
	    fin, "status", pki_str(order, "status") ? pki_str(order, "status") :
	    "pending", "authorizations", authzs, "expires",
	    pki_str(order, "expires"));
}

/* The authorizations of the order ENTRY of REC's NAMES: the challenges
 * of TYPE of the pending ones into CHALLENGES. */
static int
authorizations(struct order_run *r, json_t *rec, const json_t *entry,
    const json_t *names, const char *type, json_t *challenges)
{
	json_t *v;
	size_t i;

	json_array_foreach(json_object_get(entry, "authorizations"), i, v)
		if (authorization(r, rec, json_string_value(v), names, type,
		    challenges) == -1)
			return -1;
	return 0;
}

/* REC's error while new orders to A's CA are paused (UNTIL, "": for the
 * rest of the run), PREFIXED; "until" in the error for the scheduler.
 * -1. */
static int
paused_error(json_t *rec, const struct acme *a, const char *until,
    const char *prefix)
{
	json_t *errors;

	pki_rec_error(rec, "acme", "new order: %sthe CA limits new orders "
	    "(%s): none until %s", prefix, a->paused_why, *until != '\0' ?
	    until : "the next run");
	errors = json_object_get(rec, "errors");
	if (*until != '\0')
		json_object_set_new(json_array_get(errors,
		    json_array_size(errors) - 1), "until", json_string(until));
	return -1;
}

/* One order for ALGO of REC's NAMES; its authorizations' challenges of
 * TYPE into CHALLENGES, the order into ORDERS. */
static int
new_order(struct order_run *r, json_t *rec, const json_t *names,
    const char *algo, const char *type, json_t *orders, json_t *challenges)
{
	json_t *payload, *order = NULL, *entry;
	struct resp resp;
	const char *url;
	char until[32];
	int rc = -1;

	if ((url = acme_url(&r->s->a, "newOrder")) == NULL)
		return acme_rec_error(rec, &r->s->a, "new order");
	if (acme_paused(&r->s->a, until))
		return paused_error(rec, &r->s->a, until, "not sent: ");
	if ((payload = identifiers(names)) == NULL || (r->profile != NULL &&
	    json_object_set_new(payload, "profile", json_string(r->profile)) ==
	    -1)) {
		json_decref(payload);
		return pki_rec_error(rec, "acme", "out of memory");
	}
	if (ari_replaces(&r->s->a, rec, algo, payload) == -1 ||
	    acme_post(&r->s->a, url, payload, NULL, &resp, &order) == -1) {
		json_decref(payload);
		if (acme_paused(&r->s->a, until))
			return paused_error(rec, &r->s->a, until, "");
		return pki_rec_failed(rec) ? -1 :
		    ari_order_error(rec, &r->s->a);
	}
	json_decref(payload);
	if ((entry = order_entry(resp.location, order)) == NULL)
		pki_rec_error(rec, "acme", "the CA's answer to a new order "
		    "is not an order");
	else {
		pki_info("%s: %s order %s", pki_rec_name(rec), algo,
		    resp.location);
		json_object_set_new(orders, algo, entry);
		rc = authorizations(r, rec, entry, names, type, challenges);
	}
	resp_free(&resp);
	json_decref(order);
	return rc;
}

/* 1 if the CA's ORDER can still be finished: pending, ready,
 * processing or valid, and not expired (an RFC 3339 UTC time). */
static int
resumable(const json_t *order)
{
	const char *status = pki_str(order, "status"), *exp;
	char now[32];

	if (status == NULL || (strcmp(status, "pending") != 0 &&
	    strcmp(status, "ready") != 0 && strcmp(status, "processing") != 0 &&
	    strcmp(status, "valid") != 0))
		return 0;
	pki_unix_rfc3339(time(NULL), now);
	exp = pki_str(order, "expires");
	return exp == NULL || strlen(exp) < 20 || exp[strlen(exp) - 1] != 'Z' ||
	    strncmp(exp, now, 19) > 0;
}

/* Take up the stored order SO of REC for ALGO, whose state the CA gave
 * (ORDER): its key and CSR into the record, its entry into ORDERS, its
 * certificate when valid, else the challenges still to answer.  1 / -1
 * (error added). */
static int
take_order(struct order_run *r, json_t *rec, const json_t *names,
    const char *algo, const char *type, const struct stored *so,
    const json_t *order, json_t *orders, json_t *challenges)
{
	json_t *entry, *key, *csr;

	if ((entry = order_entry(so->url, order)) == NULL)
		return pki_rec_error(rec, "acme", "%s: the stored order %s is "
		    "not an order any more", algo, so->url);
	if ((key = pki_rec_object(rec, "key")) == NULL ||
	    (csr = pki_rec_object(rec, "csr")) == NULL) {
		json_decref(entry);
		return -1;
	}
	json_object_set_new(entry, "resumed", json_true());
	if (so->key != NULL)
		json_object_set_new(key, algo, json_string(so->key));
	else if (json_object_size(key) == 0)
		json_object_del(rec, "key");	/* CSR input: no key */
	json_object_set_new(csr, algo, json_string(so->csr));
	json_object_set_new(orders, algo, entry);
	pki_info("%s: %s order %s resumed (%s)", pki_rec_name(rec), algo,
	    so->url, pki_str(order, "status"));
	if (strcmp(pki_str(order, "status"), "valid") == 0)
		return cert_download(&r->s->a, rec, algo, order, entry,
		    r->o->preferred_chain) == 0 ? 1 : -1;
	return authorizations(r, rec, entry, names, type, challenges) == 0 ?
	    1 : -1;
}

/*
 * --resume: the order stored for REC's certificate and ALGO, taken up
 * when the CA can still finish it.  1 resumed, 0 there is none (a new
 * order is to be placed), -1 (error added).
 */
static int
resume(struct order_run *r, json_t *rec, const json_t *names,
    const char *algo, const char *type, json_t *orders, json_t *challenges)
{
	struct stored so;
	json_t *order = NULL;
	int rc;

	if ((rc = stored_find(&r->sdb, r->o, &r->s->acct, rec, names, algo,
	    &so)) != 1)
		return rc;
	rc = 0;
	if (acme_post_json(&r->s->a, so.url, NULL, &order) == -1 || order == NULL)
		pki_warn("%s: %s: the stored order %s: %s; placing a new one",
		    pki_rec_name(rec), algo, so.url, r->s->a.why);
	else if (!resumable(order))
		pki_info("%s: %s: the stored order %s is %s; placing a new one",
		    pki_rec_name(rec), algo, so.url, pki_str(order, "status") ?
		    pki_str(order, "status") : "unknown");
	else
		rc = take_order(r, rec, names, algo, type, &so, order, orders,
		    challenges);
	json_decref(order);
	stored_free(&so);
	return rc;
}

/*
 * --resume: an order for REC's NAMES that a run placed and died before
 * storing (adopt.c), taken up with this record's key: it was never
 * finalized.  1 taken, 0 there is none, -1 (error added).
 */
static int
adopt(struct order_run *r, json_t *rec, const json_t *names,
    const char *algo, const char *type, json_t *orders, json_t *challenges)
{
	json_t *order, *entry;
	char *url;
	int rc;

	if (adopt_find(&r->s->a, &r->sdb, &r->s->acct, &r->s->listed, names,
	    &order, &url) == 0)
		return 0;
	if ((entry = order_entry(url, order)) == NULL)
		rc = pki_rec_error(rec, "acme", "%s: the CA's order %s is not "
		    "an order", algo, url);
	else {
		json_object_set_new(entry, "adopted", json_true());
		json_object_set_new(orders, algo, entry);
		pki_info("%s: %s order %s taken up: placed by a run that died "
		    "before storing it", pki_rec_name(rec), algo, url);
		rc = authorizations(r, rec, entry, names, type, challenges) == 0 ?
		    1 : -1;
	}
	json_decref(order);
	free(url);
	return rc;
}

/* The order of ALGO for REC: resumed, taken up, or placed anew. */
static int
order_algo(struct order_run *r, json_t *rec, const json_t *names,
    const char *algo, const char *type, json_t *orders, json_t *challenges)
{
	int rc = 0;

	if (r->o->resume && ((rc = resume(r, rec, names, algo, type, orders,
	    challenges)) != 0 || (rc = adopt(r, rec, names, algo, type, orders,
	    challenges)) != 0))
		return rc == 1 ? 0 : -1;
	return new_order(r, rec, names, algo, type, orders, challenges);
}

/* The "acme" object of REC for this account, with its "orders". */
static json_t *
acme_object(struct order_run *r, json_t *rec, json_t **orders)
{
	json_t *acme;

	if ((acme = pki_rec_object(rec, "acme")) == NULL)
		return NULL;
	json_object_set_new(acme, "directory",
	    json_string(r->s->acct.directory));
	json_object_set_new(acme, "account", json_string(r->s->acct.url));
	if ((*orders = pki_rec_object(acme, "orders")) == NULL)
		pki_rec_error(rec, "acme.orders", "must be an object");
	return *orders != NULL ? acme : NULL;
}

/* The profile REC's new orders ask for (draft-ietf-acme-profiles) into
 * R->profile: the record's "profile", else --profile, else none.  0, or
 * -1 (error added) when it is not a name or the CA's directory does not
 * offer it: the CA would refuse the order, after it counted against the
 * account's limits. */
static int
order_profile(struct order_run *r, json_t *rec)
{
	json_t *v = json_object_get(rec, "profile"), *offered;
	char list[256] = "";
	const char *name;
	size_t n = 0;

	r->profile = r->o->profile;
	if (v != NULL && !json_is_null(v)) {
		if (!json_is_string(v) || !profile_valid(json_string_value(v)))
			return pki_rec_error(rec, "profile", "not a profile "
			    "name (letters, digits, \".\", \"_\" and \"-\", at "
			    "most 64)");
		r->profile = json_string_value(v);
	}
	offered = json_object_get(json_object_get(r->s->a.dir, "meta"),
	    "profiles");
	if (r->profile == NULL || json_object_get(offered, r->profile) != NULL)
		return 0;
	json_object_foreach(offered, name, v)
		if (n < sizeof(list))
			n += (size_t)snprintf(list + n, sizeof(list) - n,
			    "%s%s", n > 0 ? ", " : "", name);
	if (n == 0)
		return pki_rec_error(rec, "profile", "\"%s\": the CA's "
		    "directory offers no profiles", r->profile);
	return pki_rec_error(rec, "profile", "the CA offers no profile "
	    "\"%s\" (it offers %s)", r->profile, list);
}

/* The orders of REC that it still needs. */
static int
order_record(json_t *rec, void *ctx)
{
	struct order_run *r = ctx;
	json_t *names, *orders = NULL, *challenges, *certs, *csr;
	const char *type, *algo;
	int rc = 0;

	if (!needs_order(rec))
		return 0;
	if ((r->s = session_for(&r->ss, rec_directory(r->o, rec), rec)) ==
	    NULL)
		return -1;
	acme_begin(&r->s->a);
	if (order_profile(r, rec) == -1 ||
	    (type = challenge_type(rec, r->o)) == NULL ||
	    (names = pki_rec_names(rec)) == NULL)
		return -1;
	challenges = json_object_get(rec, "challenges");
	if (challenges == NULL || json_is_null(challenges))
		json_object_set_new(rec, "challenges",
		    challenges = json_array());
	certs = json_object_get(rec, "cert");
	if (!json_is_array(challenges))
		rc = pki_rec_error(rec, "challenges", "must be an array");
	else if (acme_object(r, rec, &orders) == NULL)
		rc = -1;
	json_object_foreach(json_object_get(rec, "csr"), algo, csr) {
		if (rc == -1)
			break;
		if (json_object_get(certs, algo) != NULL ||
		    json_object_get(orders, algo) != NULL)
			continue;
		if (!pki_algo_valid(algo) || !json_is_string(csr))
			rc = pki_rec_error(rec, "csr", "\"%s\" is not an "
			    "algorithm with a PEM CSR", algo);
		else
			rc = order_algo(r, rec, names, algo, type, orders,
			    challenges);
	}
	json_decref(names);
	/* The account the orders were placed with: a new URL when the CA
	 * had forgotten the one it started with, and its record first. */
	if (orders != NULL)
		json_object_set_new(json_object_get(rec, "acme"), "account",
		    json_string(r->s->acct.url));
	sessions_tell(&r->ss);
	return rc;
}

int
cmd_order(const struct opts *o)
{
	struct order_run r;
	int rc;

	memset(&r, 0, sizeof(r));
	r.o = o;
	r.ss.o = o;
	rc = pki_filter(order_record, &r);
	sessions_free(&r.ss);
	stored_close(&r.sdb);
	return r.ss.failed || o->pass_failed ? PKI_EXIT_FATAL : rc;
}
