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

/* Exit status for a failed request: the CA said no (1), or it could not
 * be asked (2). */
static int
status_of(const struct acme *a)
{
	return a->problem != NULL ? PKI_EXIT_RECORD : PKI_EXIT_FATAL;
}

/* Write the account record of ACTION; exit status. */
static int
write_account(const char *action, const struct account *acct, int key)
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
	rc = pki_out(rec);
	json_decref(rec);
	pki_out_close();
	return rc == 0 ? PKI_EXIT_OK : PKI_EXIT_FATAL;
}

/* NULL if ADDR is a plain e-mail address (local@host.name), else why. */
static const char *
email_problem(const char *addr)
{
	const char *at = strrchr(addr, '@'), *p;

	if (at == NULL || at == addr)
		return "not of the form name@host";
	for (p = addr; p < at; p++)
		if (!isgraph((unsigned char)*p) || strchr("<>,;:\"()[]\\@",
		    *p) != NULL)
			return "a character the address cannot hold";
	return pki_dns_name_check(at + 1, 0);
}

/*
 * The externalAccountBinding of RFC 8555 7.3.4: the account's JWK, MAC'ed
 * with the HMAC key of FILE (its first line, base64url; a file others may
 * not read) under KID for URL.  The key is wiped.  NULL after reporting.
 */
static json_t *
eab_binding(const struct opts *o, EVP_PKEY *key, const char *url)
{
	char text[PKI_PASS_MAX], *payload = NULL;
	unsigned char *hkey = NULL;
	json_t *jwk, *prot, *jws = NULL;
	size_t hlen = 0;

	if (pki_read_passphrase(o->eab_hmac_file, text, sizeof(text)) == -1)
		return NULL;
	if (b64u_decode(text, &hkey, &hlen) == -1 || hlen == 0)
		pki_err("%s: not a base64url HMAC key", o->eab_hmac_file);
	pki_wipe(text, sizeof(text));
	if (hkey == NULL)
		return NULL;
	if ((jwk = jws_jwk(key)) != NULL &&
	    (payload = pki_json_text(jwk, JSON_COMPACT)) != NULL &&
	    (prot = json_pack("{s:s, s:s}", "kid", o->eab_kid, "url",
	    url)) != NULL) {
		jws = jws_hmac(hkey, hlen, prot, payload);
		json_decref(prot);
	}
	pki_wipe(hkey, hlen);
	free(hkey);
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

/* newAccount for ACCT (key set); fills its URL, status and contact. */
static int
new_account(const struct opts *o, struct acme *a, struct account *acct)
{
	const char *url;
	json_t *payload, *eab, *got = NULL;
	struct resp r;
	int rc = -1;

	if ((url = acme_url(a, "newAccount")) == NULL)
		return -1;
	payload = json_pack("{s:b, s:O}", "termsOfServiceAgreed", 1,
	    "contact", acct->contact);
	if (payload == NULL)
		return -1;
	if (o->eab_kid != NULL) {
		if ((eab = eab_binding(o, acct->key, url)) == NULL) {
			json_decref(payload);
			return -1;
		}
		json_object_set_new(payload, "externalAccountBinding", eab);
	}
	a->key = acct->key;
	a->kid = NULL;
	if (acme_post(a, url, payload, NULL, &r, &got) == 0) {
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
cmd_register(const struct opts *o)
{
	struct account acct;
	struct acme a;
	const char *why;
	char contact[512];
	int rc = PKI_EXIT_FATAL;

	memset(&acct, 0, sizeof(acct));
	memset(&a, 0, sizeof(a));
	if ((why = email_problem(o->email)) != NULL) {
		pki_err("--email %s: %s", o->email, why);
		return PKI_EXIT_FATAL;
	}
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
	if (new_account(o, &a, &acct) == -1) {
		pki_err("register: %s", a.why);
		rc = status_of(&a);
		goto out;
	}
	pki_info("registered account %s", acct.url);
	rc = write_account("register", &acct, 1);
out:
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

int
cmd_rollover(const struct opts *o)
{
	struct account acct;
	struct acme a;
	EVP_PKEY *newkey = NULL;
	int rc = PKI_EXIT_FATAL;

	memset(&a, 0, sizeof(a));
	if (account_load(o, &acct) == -1)
		return PKI_EXIT_FATAL;
	if (account_session(o, &acct, &a) == -1)
		goto out;
	if ((newkey = jws_keygen(o->key_type != NULL ? o->key_type :
	    pki_key_algo(acct.key))) == NULL)
		goto out;
	if (key_change(&a, &acct, newkey) == -1) {
		pki_err("rollover: %s", a.why);
		rc = status_of(&a);
		goto out;
	}
	EVP_PKEY_free(acct.key);
	acct.key = newkey;
	newkey = NULL;
	pki_info("account %s has a new key", acct.url);
	rc = write_account("rollover", &acct, 1);
out:
	EVP_PKEY_free(newkey);
	acme_close(&a);
	account_free(&acct);
	return rc;
}

int
cmd_deactivate(const struct opts *o)
{
	struct account acct;
	struct acme a;
	json_t *payload, *got = NULL;
	int rc = PKI_EXIT_FATAL;

	memset(&a, 0, sizeof(a));
	if (account_load(o, &acct) == -1)
		return PKI_EXIT_FATAL;
	if (account_session(o, &acct, &a) == -1)
		goto out;
	payload = json_pack("{s:s}", "status", "deactivated");
	if (acme_post_json(&a, acct.url, payload, &got) == -1) {
		json_decref(payload);
		pki_err("deactivate: %s", a.why);
		rc = status_of(&a);
		goto out;
	}
	json_decref(payload);
	free(acct.status);
	acct.status = xstrdup(pki_str(got, "status") ? pki_str(got, "status") :
	    "deactivated");
	json_decref(got);
	pki_info("account %s is %s", acct.url, acct.status);
	rc = write_account("deactivate", &acct, 0);
out:
	acme_close(&a);
	account_free(&acct);
	return rc;
}
