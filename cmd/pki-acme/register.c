/*
 * register.c - the subcommands that make or change the account:
 * register (RFC 8555 7.3, External Account Binding 7.3.4), rollover
 * (7.3.5) and deactivate (7.3.6).  Each writes one account record (see
 * account.c) on success; the CA's refusal exits 1, anything else that
 * fails exits 2.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "acme.h"

#define EAB_FILE_MAX	1024	/* longest --eab-hmac-file */

/* The HMAC key of an external account binding; wiped by eab_free(). */
struct eab {
	unsigned char	*key;
	size_t		 len;
};

/* Exit status for a failed request: the CA said no (1), or it could not
 * be asked (2). */
static int
status_of(const struct acme *a)
{
	return a->problem != NULL ? PKI_EXIT_RECORD : PKI_EXIT_FATAL;
}

/* Write the account record of ACTION, with its key if KEY, with the
 * error ERROR if not NULL; exit status. */
static int
write_account(const char *action, const struct account *acct, int key,
    const char *error)
{
	json_t *rec, *j;
	int rc;

	if ((j = account_json(acct, key)) == NULL)
		return PKI_EXIT_FATAL;
	if ((rec = json_pack("{s:s, s:o}", "action", action, "account",
	    j)) == NULL) {
		pki_err("out of memory");
		return PKI_EXIT_FATAL;
	}
	if (error != NULL)
		pki_rec_error(rec, "account", "%s", error);
	rc = pki_out(rec);
	json_decref(rec);
	pki_out_close();
	if (rc == -1)
		return PKI_EXIT_FATAL;
	return error != NULL ? PKI_EXIT_RECORD : PKI_EXIT_OK;
}

/* NULL if ADDR is a plain e-mail address (local@host.name), else why.
 * It becomes "mailto:ADDR" as it is: no character that a mailto: URI
 * would read otherwise ("?" starts header fields, RFC 6068), and a local
 * part of at most 64 octets (RFC 5321 4.5.3.1.1). */
static const char *
email_problem(const char *addr)
{
	const char *at = strrchr(addr, '@'), *p;

	if (at == NULL || at == addr)
		return "not of the form name@host";
	if (at - addr > 64)
		return "a name before the @ longer than 64 characters";
	for (p = addr; p < at; p++)
		if (!isgraph((unsigned char)*p) ||
		    strchr("<>,;:\"()[]\\@?%#/", *p) != NULL)
			return "a character the address cannot hold";
	return pki_dns_name_check(at + 1, 0);
}

/* Wipe and free the key of E. */
static void
eab_free(struct eab *e)
{
	pki_wipe(e->key, e->len);
	free(e->key);
	memset(e, 0, sizeof(*e));
}

/*
 * The HMAC key of External Account Binding (RFC 8555 7.3.4): the base64url
 * text of --eab-hmac-file, a secret file (pki_read_secret()), decoded into
 * E.  Read before the CA is asked anything.  0 / -1 (reported).
 */
static int
eab_read(const struct opts *o, struct eab *e)
{
	char *text;
	int rc;

	memset(e, 0, sizeof(*e));
	if ((text = pki_read_secret("EAB HMAC file", o->eab_hmac_file,
	    EAB_FILE_MAX, NULL, NULL, 0)) == NULL)
		return -1;
	rc = pki_b64u_decode(text, &e->key, &e->len);
	pki_free_secret(text);
	if (rc == -1 || e->len == 0) {
		pki_err("EAB HMAC file %s: not a base64url HMAC key",
		    o->eab_hmac_file);
		eab_free(e);
		return -1;
	}
	return 0;
}

/*
 * The externalAccountBinding: the account's JWK, MAC'ed with the HMAC key
 * of E under KID for URL.  NULL after reporting.
 */
static json_t *
eab_binding(const struct opts *o, const struct eab *e, EVP_PKEY *key,
    const char *url)
{
	char *payload = NULL;
	json_t *jwk, *prot, *jws = NULL;

	if ((jwk = jws_jwk(key)) != NULL &&
	    (payload = pki_json_text(jwk, JSON_COMPACT)) != NULL &&
	    (prot = json_pack("{s:s, s:s}", "kid", o->eab_kid, "url",
	    url)) != NULL) {
		jws = jws_hmac(e->key, e->len, prot, payload);
		json_decref(prot);
	}
	free(payload);
	json_decref(jwk);
	return jws;
}

/* Refuse to register without what the CA asks for: the terms agreed,
 * the binding when it requires one.  0 / -1 (reported). */
static int
check_meta(const struct opts *o, struct acme *a)
{
	json_t *meta = json_object_get(a->dir, "meta");
	const char *tos = pki_str(meta, "termsOfService");

	if (!o->agree_tos) {
		pki_err("register: read the CA's terms of service%s%s and "
		    "give --agree-tos", tos ? " at " : "", tos ? tos : "");
		return -1;
	}
	if (json_is_true(json_object_get(meta, "externalAccountRequired")) &&
	    o->eab_kid == NULL) {
		pki_err("register: the CA requires an external account "
		    "binding: give --eab-kid KID --eab-hmac-file FILE");
		return -1;
	}
	return 0;
}

/* newAccount for ACCT (key set), bound to the external account of E if
 * it has a key; fills its URL, status and contact. */
static int
new_account(const struct opts *o, const struct eab *e, struct acme *a,
    struct account *acct)
{
	const char *url;
	json_t *payload, *eab, *got = NULL;
	struct resp r;
	int rc = -1;

	if ((url = acme_url(a, "newAccount")) == NULL)
		return -1;
	payload = json_pack("{s:b, s:O*}", "termsOfServiceAgreed", 1,
	    "contact", acct->contact);
	if (payload == NULL)
		return -1;
	if (e->key != NULL) {
		if ((eab = eab_binding(o, e, acct->key, url)) == NULL) {
			json_decref(payload);
			return -1;
		}
		json_object_set_new(payload, "externalAccountBinding", eab);
	}
	a->key = acct->key;
	a->kid = NULL;
	/* Sent again after a lost answer, it finds the account it made. */
	if (acme_post_repeatable(a, url, payload, NULL, &r, &got) == 0) {
		if ((acct->url = xstrdup(r.location)) == NULL)
			snprintf(a->why, sizeof(a->why), "the CA gave the new "
			    "account no URL");
		else
			rc = 0;
		acct->status = xstrdup(pki_str(got, "status"));
		resp_free(&r);
	}
	json_decref(got);
	json_decref(payload);
	return rc;
}

int
account_relogin(struct acme *a, void *ctx)
{
	struct account *acct = ctx;
	struct eab e;
	char *old = acct->url;
	char lost[sizeof(a->why)];

	memset(&e, 0, sizeof(e));
	acct->url = NULL;
	free(acct->status);
	acct->status = NULL;
	pki_warn("ACME account %s: the CA does not know it (any more); "
	    "registering its key again", old);
	if (new_account(NULL, &e, a, acct) == -1 || acct->status == NULL ||
	    strcmp(acct->status, "valid") != 0) {
		snprintf(lost, sizeof(lost), "%s", acct->status != NULL &&
		    acct->url != NULL ? acct->status : a->why);
		free(acct->url);
		acct->url = old;
		a->kid = old;
		snprintf(a->why, sizeof(a->why), "ACME account %.200s: the "
		    "CA does not know it, and registering its key again "
		    "failed: %.400s; run pki register", old, lost);
		return -1;
	}
	a->kid = acct->url;
	if (acct->replaces == NULL)
		acct->replaces = old;	/* the one the database has */
	else
		free(old);
	pki_warn("ACME account %s registered again as %s", acct->replaces,
	    acct->url);
	return 0;
}

int
cmd_register(const struct opts *o)
{
	struct account acct;
	struct acme a;
	struct eab e;
	const char *why;
	char contact[512];
	int rc = PKI_EXIT_FATAL;

	memset(&acct, 0, sizeof(acct));
	memset(&a, 0, sizeof(a));
	memset(&e, 0, sizeof(e));
	if ((why = email_problem(o->email)) != NULL) {
		pki_err("--email %.300s%s: %s", o->email,
		    strlen(o->email) > 300 ? "..." : "", why);
		return PKI_EXIT_FATAL;
	}
	if (o->eab_hmac_file != NULL && eab_read(o, &e) == -1)
		return PKI_EXIT_FATAL;
	if (acme_open(&a, o->directory, o->ca_bundle, o->timeout) == -1)
		goto out;
	if (check_meta(o, &a) == -1)
		goto out;
	snprintf(contact, sizeof(contact), "mailto:%s", o->email);
	acct.contact = json_pack("[s]", contact);
	acct.directory = xstrdup(o->directory);
	acct.eab_kid = xstrdup(o->eab_kid);
	if ((acct.key = jws_keygen(o->key_type)) == NULL)
		goto out;
	if (new_account(o, &e, &a, &acct) == -1) {
		pki_err("register: %s", a.why);
		rc = status_of(&a);
		goto out;
	}
	pki_info("registered account %s", acct.url);
	rc = write_account("register", &acct, 1, NULL);
out:
	eab_free(&e);
	acme_close(&a);
	account_free(&acct);
	return rc;
}

/* The keyChange request of RFC 8555 7.3.5 for ACCT to NEWKEY. */
static int
key_change(struct acme *a, struct account *acct, EVP_PKEY *newkey)
{
	const char *url;
	json_t *prot = NULL, *inner = NULL, *got = NULL, *payload;
	struct resp r;
	char *text = NULL;
	int rc = -1;

	if ((url = acme_url(a, "keyChange")) == NULL)
		return -1;
	payload = json_pack("{s:s, s:o}", "account", acct->url, "oldKey",
	    jws_jwk(acct->key));
	if (payload != NULL && (text = pki_json_text(payload, JSON_COMPACT)) !=
	    NULL && (prot = json_pack("{s:o, s:s}", "jwk", jws_jwk(newkey),
	    "url", url)) != NULL && (inner = jws_sign(newkey, prot,
	    text)) != NULL) {
		/* The answer's body says nothing we need (Pebble's is empty). */
		if ((rc = acme_post(a, url, inner, NULL, &r, &got)) == 0)
			resp_free(&r);
	} else
		snprintf(a->why, sizeof(a->why), "cannot sign the key change");
	json_decref(payload);
	json_decref(prot);
	json_decref(inner);
	json_decref(got);
	free(text);
	return rc;
}

/*
 * After a key change whose answer was lost: whether the CA knows NEWKEY
 * as the key of ACCT (newAccount with onlyReturnExisting, signed by
 * NEWKEY; RFC 8555 7.3.1).  1 it does, 0 it knows no account of it, -1
 * it cannot be told (A->why).
 */
static int
probe_key(struct acme *a, const struct account *acct, EVP_PKEY *newkey)
{
	EVP_PKEY *key = a->key;
	const char *url, *kid = a->kid, *type;
	json_t *payload, *got = NULL;
	struct resp r;
	int rc = -1;

	if ((url = acme_url(a, "newAccount")) == NULL)
		return -1;
	if ((payload = json_pack("{s:b}", "onlyReturnExisting", 1)) == NULL) {
		snprintf(a->why, sizeof(a->why), "out of memory");
		return -1;
	}
	a->key = newkey;
	a->kid = NULL;
	acme_begin(a);
	if (acme_post_repeatable(a, url, payload, NULL, &r, &got) == 0) {
		if (r.location != NULL && strcmp(r.location, acct->url) == 0)
			rc = 1;
		else
			snprintf(a->why, sizeof(a->why), "the CA knows the new "
			    "key as the key of %s", r.location ? r.location :
			    "an account without a URL");
		resp_free(&r);
	} else if ((type = pki_str(a->problem, "type")) != NULL &&
	    strcmp(type, ACME_PROBLEM "accountDoesNotExist") == 0)
		rc = 0;
	a->key = key;
	a->kid = kid;
	json_decref(got);
	json_decref(payload);
	return rc;
}

/*
 * Change the key of ACCT to NEWKEY.  A key change whose answer was lost
 * is not sent again blindly (signed by the old key, it would fail if the
 * CA made it): the CA is asked whether NEWKEY is the account's now, and
 * the change sent again only if it is not.  0 done; -1 not done (A->why,
 * A->problem when the CA refused); 1 it cannot be told (WHY says why).
 */
static int
roll(struct acme *a, struct account *acct, EVP_PKEY *newkey, char *why,
    size_t len)
{
	char lost[sizeof(a->why)];
	int tries;

	for (tries = 0; tries < ACME_NET_TRIES; tries++) {
		acme_begin(a);
		if (key_change(a, acct, newkey) == 0)
			return 0;
		if (!a->unknown)
			return -1;
		snprintf(lost, sizeof(lost), "%s", a->why);
		pki_warn("rollover: %s; asking the CA which key is the "
		    "account's", lost);
		switch (probe_key(a, acct, newkey)) {
		case 1:
			return 0;
		case 0:
			snprintf(a->why, sizeof(a->why), "%s", lost);
			continue;	/* the CA did not make it */
		default:
			snprintf(why, len, "the outcome of the key change is "
			    "unknown: %s; the CA cannot tell which key is the "
			    "account's: %s", lost, a->why);
			return 1;
		}
	}
	return -1;
}

int
cmd_rollover(const struct opts *o)
{
	struct account acct;
	struct acme a;
	EVP_PKEY *newkey = NULL;
	char why[2 * sizeof(a.why) + 128];
	int rc = PKI_EXIT_FATAL, done;

	memset(&a, 0, sizeof(a));
	if (account_load(o, o->directory, &acct) == -1)
		return PKI_EXIT_FATAL;
	if (account_session(o, &acct, &a) == -1)
		goto out;
	if ((newkey = jws_keygen(o->key_type != NULL ? o->key_type :
	    pki_key_algo(acct.key))) == NULL)
		goto out;
	if ((done = roll(&a, &acct, newkey, why, sizeof(why))) == -1) {
		pki_err("rollover: %s", a.why);
		rc = status_of(&a);
		goto out;
	}
	/* Made, or maybe made: the new key is never thrown away. */
	EVP_PKEY_free(acct.key);
	acct.key = newkey;
	newkey = NULL;
	if (done == 1) {
		strncat(why, "; this record carries the new key: keep the old "
		    "one too until the CA tells which one is the account's",
		    sizeof(why) - strlen(why) - 1);
		pki_err("rollover: %s", why);
		rc = write_account("rollover", &acct, 1, why);
		goto out;
	}
	pki_info("account %s has a new key", acct.url);
	rc = write_account("rollover", &acct, 1, NULL);
out:
	EVP_PKEY_free(newkey);
	acme_close(&a);
	account_free(&acct);
	return rc;
}

/*
 * Deactivate ACCT; the status the CA gives it into *STATUS (caller
 * frees).  A deactivation whose answer was lost is not sent again
 * blindly: the CA is asked for the account (POST-as-GET), and refuses
 * that if the account is deactivated.  0 / -1 (A->why).
 */
static int
deactivate(struct acme *a, const struct account *acct, char **status)
{
	json_t *payload, *got = NULL;
	const char *type;
	char lost[sizeof(a->why)];
	int tries, rc = -1;

	if ((payload = json_pack("{s:s}", "status", "deactivated")) == NULL) {
		snprintf(a->why, sizeof(a->why), "out of memory");
		return -1;
	}
	for (tries = 0; tries < ACME_NET_TRIES && rc == -1; tries++) {
		acme_begin(a);
		if (acme_post_json(a, acct->url, payload, &got) == 0) {
			rc = 0;
			break;
		}
		if (!a->unknown)
			break;
		snprintf(lost, sizeof(lost), "%s", a->why);
		pki_warn("deactivate: %s; asking the CA for the account", lost);
		acme_begin(a);
		if (acme_post_json(a, acct->url, NULL, &got) == 0) {
			/* Still valid: the CA did not make it; again. */
			if (strcmp(pki_str(got, "status") ? pki_str(got,
			    "status") : "", "deactivated") == 0)
				rc = 0;
			else {
				json_decref(got);
				got = NULL;
				snprintf(a->why, sizeof(a->why), "%s", lost);
			}
		} else if ((type = pki_str(a->problem, "type")) != NULL &&
		    strcmp(type, ACME_PROBLEM "unauthorized") == 0) {
			pki_info("deactivate: the CA refuses the account now: "
			    "%s", a->why);
			rc = 0;
		} else {
			snprintf(a->why + strlen(a->why), sizeof(a->why) -
			    strlen(a->why), " (after: %.200s)", lost);
			json_decref(a->problem);	/* exit 2: unknown */
			a->problem = NULL;
			break;
		}
	}
	if (rc == 0)
		*status = xstrdup(pki_str(got, "status") ? pki_str(got,
		    "status") : "deactivated");
	json_decref(got);
	json_decref(payload);
	return rc;
}

int
cmd_deactivate(const struct opts *o)
{
	struct account acct;
	struct acme a;
	char *status = NULL;
	int rc = PKI_EXIT_FATAL;

	memset(&a, 0, sizeof(a));
	if (account_load(o, o->directory, &acct) == -1)
		return PKI_EXIT_FATAL;
	if (account_session(o, &acct, &a) == -1)
		goto out;
	if (deactivate(&a, &acct, &status) == -1) {
		pki_err("deactivate: %s", a.why);
		rc = status_of(&a);
		goto out;
	}
	free(acct.status);
	acct.status = status;
	pki_info("account %s is %s", acct.url, acct.status);
	rc = write_account("deactivate", &acct, 0, NULL);
out:
	acme_close(&a);
	account_free(&acct);
	return rc;
}
