/*
 * account.c - the ACME account: where it comes from (a file, flags or
 * the database), and its record.  The subcommands that make or change it
 * (register, rollover, deactivate) are in register.c; each writes the
 * account record for pki-store:
 *
 *   {"action": "register"|"rollover"|"deactivate",
 *    "account": {"directory", "url", "key", "key_type", "contact",
 *                "status", "eab_kid", "terms_of_service"}}
 *
 * The key travels only in that record, in clear like every key on the
 * pipe; it is never logged.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "acme.h"

void
account_free(struct account *acct)
{
	free(acct->directory);
	free(acct->url);
	EVP_PKEY_free(acct->key);
	json_decref(acct->contact);
	free(acct->status);
	free(acct->eab_kid);
	free(acct->replaces);
	memset(acct, 0, sizeof(*acct));
}

/* Report the formatted text and keep it in ACCT->why; -1. */
static int __attribute__((format(printf, 2, 3)))
acct_fail(struct account *acct, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(acct->why, sizeof(acct->why), fmt, ap);
	va_end(ap);
	pki_err("%s", acct->why);
	return -1;
}

/* The secret file FILE (WHAT names it in messages; see pki_read_secret())
 * as a string the caller frees with pki_free_secret().  NULL (ACCT->why
 * set, reported). */
static char *
read_key_file(struct account *acct, const char *what, const char *file,
    size_t max)
{
	char *text;

	if ((text = pki_read_secret(what, file, max, NULL, acct->why,
	    sizeof(acct->why))) == NULL)
		pki_err("%s", acct->why);
	return text;
}

/* Take the key PEM (encrypted with PASS, if it is) into ACCT; WHERE names
 * it in messages.  0 / -1 (reported). */
static int
take_key(struct account *acct, const char *pem, const char *pass,
    const char *where)
{
	const char *why;

	if (pki_pem_is_encrypted(pem) && pass == NULL)
		return acct_fail(acct, "%s: the account key is encrypted: give "
		    "--passphrase-file FILE or PKI_DB_PASSPHRASE_FILE", where);
	if ((acct->key = pki_key_from_pem(pem, pass, &why)) == NULL)
		return acct_fail(acct, "%s: %s", where, why);
	if (jws_alg(acct->key) == NULL ||
	    jws_thumbprint(acct->key, acct->thumb) == -1)
		return acct_fail(acct, "%s: the account key is not RSA, nor EC "
		    "on P-256 or P-384", where);
	return 0;
}

/* The account of the JSON file FILE: an account record or its
 * "account" object. */
static int
from_file(const struct opts *o, struct account *acct)
{
	json_t *j, *a;
	const char *pem;
	char *text;
	int rc = -1;

	if ((text = read_key_file(acct, "account file", o->account_file,
	    256 * 1024)) == NULL)
		return -1;
	j = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
	pki_free_secret(text);
	if (!json_is_object(j)) {
		json_decref(j);
		return acct_fail(acct, "account file %s: not a JSON account",
		    o->account_file);
	}
	a = json_is_object(json_object_get(j, "account")) ?
	    json_object_get(j, "account") : j;
	pem = pki_str(a, "key");
	acct->url = xstrdup(pki_str(a, "url"));
	acct->directory = xstrdup(pki_str(a, "directory"));
	acct->status = xstrdup(pki_str(a, "status"));
	acct->eab_kid = xstrdup(pki_str(a, "eab_kid"));
	acct->contact = json_incref(json_object_get(a, "contact"));
	if (pem == NULL || acct->url == NULL || acct->directory == NULL)
		acct_fail(acct, "account file %s: an account needs \"key\", "
		    "\"url\" and \"directory\"", o->account_file);
	else
		rc = take_key(acct, pem, o->pass, o->account_file);
	json_decref(j);	/* jansson wipes what it frees (pki_init) */
	return rc;
}

static int
from_flags(const struct opts *o, const char *directory, struct account *acct)
{
	char *pem;
	int rc;

	if (directory == NULL)
		return acct_fail(acct, "--account-key and --account-url need "
		    "--directory");
	if ((pem = read_key_file(acct, "account key file", o->account_key,
	    64 * 1024)) == NULL)
		return -1;
	acct->url = xstrdup(o->account_url);
	acct->directory = xstrdup(directory);
	rc = take_key(acct, pem, o->pass, o->account_key);
	pki_free_secret(pem);
	return rc;
}

/* The newest valid account of the database (of DIRECTORY if given). */
static int
from_db(const struct opts *o, const char *directory, struct account *acct)
{
	const char *p[1] = { directory };
	PGresult *res;
	PGconn *db;
	char where[64];
	int rc = -1;

	if ((db = pki_db_connect()) == NULL)
		return acct_fail(acct, "no account: give --account FILE, "
		    "--account-key and --account-url, or a database (PKI_DB)");
	res = pki_db_exec(db, "SELECT id, directory, url, "
	    "convert_from(key, 'UTF8'), array_to_json(contact), status, "
	    "eab_kid FROM acme_accounts WHERE status = 'valid' "
	    "AND ($1::text IS NULL OR directory = $1) "
	    "ORDER BY created DESC, id DESC LIMIT 1", 1, p);
	if (res == NULL)
		acct_fail(acct, "cannot read the ACME accounts of the database");
	else if (PQntuples(res) == 0)
		acct_fail(acct, "no valid ACME account%s%s in the database "
		    "(pki register makes one)", directory ? " of " : "",
		    directory ? directory : "");
	else {
		snprintf(where, sizeof(where), "ACME account %s",
		    PQgetvalue(res, 0, 0));
		acct->directory = xstrdup(PQgetvalue(res, 0, 1));
		acct->url = xstrdup(PQgetvalue(res, 0, 2));
		acct->contact = json_loads(PQgetvalue(res, 0, 4), 0, NULL);
		acct->status = xstrdup(PQgetvalue(res, 0, 5));
		if (!PQgetisnull(res, 0, 6))
			acct->eab_kid = xstrdup(PQgetvalue(res, 0, 6));
		rc = take_key(acct, PQgetvalue(res, 0, 3), o->pass, where);
		pki_db_wipe(res);
	}
	PQclear(res);
	PQfinish(db);
	return rc;
}

int
account_load(const struct opts *o, const char *directory,
    struct account *acct)
{
	char why[sizeof(acct->why)];
	int rc;

	memset(acct, 0, sizeof(*acct));
	if (o->pass_failed)
		rc = acct_fail(acct, "cannot read the passphrase file %s",
		    o->pass_file);
	else if (o->account_file != NULL)
		rc = from_file(o, acct);
	else if (o->account_key != NULL)
		rc = from_flags(o, directory, acct);
	else
		rc = from_db(o, directory, acct);
	if (rc == 0 && directory != NULL &&
	    strcmp(directory, acct->directory) != 0)
		rc = acct_fail(acct, "the account %s is one of %s, not of %s",
		    acct->url, acct->directory, directory);
	if (rc == -1) {
		memcpy(why, acct->why, sizeof(why));
		account_free(acct);
		memcpy(acct->why, why, sizeof(why));
	}
	return rc;
}

json_t *
account_json(const struct account *acct, int key)
{
	json_t *j;
	char *pem;

	j = json_pack("{s:s, s:s, s:s, s:s}", "directory", acct->directory,
	    "url", acct->url, "status", acct->status ? acct->status : "valid",
	    "key_type", pki_key_algo(acct->key));
	if (j == NULL) {
		pki_err("out of memory");
		return NULL;
	}
	if (acct->contact != NULL)
		json_object_set(j, "contact", acct->contact);
	if (acct->eab_kid != NULL)
		json_object_set_new(j, "eab_kid", json_string(acct->eab_kid));
	if (acct->replaces != NULL)
		json_object_set_new(j, "replaces",
		    json_string(acct->replaces));
	if (key) {
		if ((pem = pki_key_to_pem(acct->key, NULL)) == NULL) {
			json_decref(j);
			return NULL;
		}
		json_object_set_new(j, "key", json_string(pem));
		pki_free_secret(pem);
	}
	return j;
}

int
account_session(const struct opts *o, struct account *acct, struct acme *a)
{
	if (acme_open(a, acct->directory, o->ca_bundle, o->timeout) == -1)
		return -1;
	a->key = acct->key;
	a->kid = acct->url;
	return 0;
}
