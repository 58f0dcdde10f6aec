/*
 * acme.c - what pki-store does with the records of pki-acme:
 *
 *  - account records ({"action": "register", "rollover" or "deactivate",
 *    "account": {...}}) are inserted into acme_accounts or update the row
 *    of their "url" ("import": inserted only if the URL is new); the key is stored encrypted when the database keeps
 *    keys encrypted (Revision.keysEncrypted);
 *  - revoked records (pki-acme revoke, pki-localca --revoke: "revoked"
 *    and an "instance") set
 *    their instance's state to 'revoked';
 *  - an ACME record with "acme"."authorized_until" updates serverPKI's
 *    Certificates.authorized_until on its way, and is then stored like
 *    any other record (1 is returned for it).
 *
 * Like record.c: one statement per change, no savepoints, the record
 * itself unchanged but for errors; what changes in it is said in *OUT.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

/*
 * The account key PEM as it is to be stored: encrypted with the database
 * passphrase when the database keeps keys encrypted, else in clear.  A key
 * that arrives encrypted must open with that passphrase.  Caller frees
 * with pki_free_secret(); NULL after adding an error.
 */
static char *
key_at_rest(struct store *st, json_t *rec, const char *pem)
{
	const char *why;
	EVP_PKEY *key;
	char *out;
	int sealed = pki_pem_is_encrypted(pem);

	if ((st->encrypted || sealed) && st->pass == NULL) {
		if (st->encrypted)
			st->setup_error = 1;
		pki_rec_error(rec, "account.key", "%s: give --passphrase-file "
		    "FILE or PKI_DB_PASSPHRASE_FILE", sealed ? "the key is "
		    "encrypted" : "the database keeps keys encrypted");
		return NULL;
	}
	if ((key = pki_key_from_pem(pem, sealed ? st->pass : NULL,
	    &why)) == NULL) {
		pki_rec_error(rec, "account.key", "%s", why);
		return NULL;
	}
	if (pki_key_algo(key) == NULL)
		out = NULL;
	else if (st->encrypted == sealed)
		out = strdup(pem);
	else
		out = pki_key_to_pem(key, st->encrypted ? st->pass : NULL);
	EVP_PKEY_free(key);
	if (out == NULL)
		pki_rec_error(rec, "account.key", "not an RSA or EC key");
	return out;
}

/* Insert the account, or update the row of its URL. */
#define PUT_ACCOUNT \
	"INSERT INTO acme_accounts (directory, url, contact, key, key_type, " \
	"  status, eab_kid) VALUES ($1, $2, " \
	"  ARRAY(SELECT json_array_elements_text($3::json)), " \
	"  convert_to($4, 'UTF8'), COALESCE($5, 'ec'), COALESCE($6, 'valid'), " \
	"  $7) " \
	"ON CONFLICT (url) DO UPDATE SET directory = EXCLUDED.directory, " \
	"  contact = CASE WHEN $3::json IS NULL THEN acme_accounts.contact " \
	"    ELSE EXCLUDED.contact END, key = EXCLUDED.key, " \
	"  key_type = EXCLUDED.key_type, status = EXCLUDED.status, " \
	"  eab_kid = COALESCE(EXCLUDED.eab_kid, acme_accounts.eab_kid) " \
	"RETURNING id"

/* An imported account (pki-import account): inserted when its URL is
 * new, else left as it is, so that importing twice changes nothing (not
 * even the sequence of ids: no row is tried when the URL is known). */
#define IMPORT_ACCOUNT \
	"INSERT INTO acme_accounts (directory, url, contact, key, key_type, " \
	"  status, eab_kid) SELECT $1, $2, " \
	"  ARRAY(SELECT json_array_elements_text($3::json)), " \
	"  convert_to($4, 'UTF8'), COALESCE($5, 'ec'), COALESCE($6, 'valid'), " \
	"  $7 WHERE NOT EXISTS (SELECT 1 FROM acme_accounts WHERE url = $2) " \
	"ON CONFLICT (url) DO NOTHING RETURNING id"

/* Without a key (deactivate): only the state of a known account. */
#define SET_ACCOUNT \
	"UPDATE acme_accounts SET status = COALESCE($6, status), " \
	"  contact = CASE WHEN $3::json IS NULL THEN contact ELSE " \
	"    ARRAY(SELECT json_array_elements_text($3::json)) END, " \
	"  eab_kid = COALESCE($7, eab_kid) " \
	"WHERE url = $2 AND directory = $1 AND $4::text IS NULL " \
	"  AND ($5::text IS NULL OR key_type = $5) " \
	"RETURNING id"

/* The account an account record "replaces" (pki-acme registered its
 * key again: the CA did not know it), of the same directory. */
#define REPLACE_ACCOUNT \
	"UPDATE acme_accounts SET status = 'replaced', remarks = " \
	"  'replaced by ' || $3 || ': the CA did not know it any more' " \
	"WHERE url = $2 AND directory = $1 AND status = 'valid' AND url <> $3"

#define ACCOUNT_EVENT \
	"INSERT INTO events (name, stage, level, message) VALUES " \
	"('ACME account', 'pki-store', 'info', $1)"

/* The event of ACTION on account ID. */
static int
account_event(struct store *st, json_t *rec, const char *action,
    const char *id, const char *url)
{
	const char *p[1];
	char msg[600];
	PGresult *res;

	snprintf(msg, sizeof(msg), "%s ACME account %s: %s", action, id, url);
	p[0] = msg;
	res = store_sql(st, rec, ACCOUNT_EVENT, 1, p);
	PQclear(res);
	return res != NULL ? 0 : -1;
}

/* The row of the URL ACCT "replaces", if it says, marked so. */
static int
replace_account(struct store *st, json_t *rec, const json_t *acct)
{
	const char *p[3];
	PGresult *res;

	p[0] = pki_str(acct, "directory");
	p[1] = pki_str(acct, "replaces");
	p[2] = pki_str(acct, "url");
	if (p[1] == NULL)
		return 0;
	if ((res = store_sql(st, rec, REPLACE_ACCOUNT, 3, p)) == NULL)
		return -1;
	if (strcmp(PQcmdTuples(res), "0") != 0)
		pki_info("ACME account %s: replaced by %s", p[1], p[2]);
	PQclear(res);
	return 0;
}

static int
store_account(struct store *st, json_t *rec, const json_t *acct)
{
	const char *p[7], *action = pki_str(rec, "action"), *sql;
	json_t *contact = json_object_get(acct, "contact");
	char *key = NULL, *text = NULL, id[24];
	PGresult *res;
	int import;

	p[0] = pki_str(acct, "directory");
	p[1] = pki_str(acct, "url");
	if (p[0] == NULL || p[1] == NULL)
		return pki_rec_error(rec, "account", "needs \"directory\" and "
		    "\"url\"");
	if (pki_str(acct, "key") != NULL &&
	    (key = key_at_rest(st, rec, pki_str(acct, "key"))) == NULL)
		return -1;
	p[2] = json_is_array(contact) ? (text = pki_json_text(contact, JSON_COMPACT)) : NULL;
	p[3] = key;
	p[4] = pki_str(acct, "key_type");
	p[5] = pki_str(acct, "status");
	p[6] = pki_str(acct, "eab_kid");
	import = key != NULL && strcmp(action, "import") == 0;
	sql = key == NULL ? SET_ACCOUNT : import ? IMPORT_ACCOUNT : PUT_ACCOUNT;
	res = store_sql(st, rec, sql, 7, p);
	pki_free_secret(key);
	free(text);
	if (res == NULL)
		return -1;
	if (import && PQntuples(res) == 0) {
		PQclear(res);
		pki_info("ACME account %s: imported before", p[1]);
		return 0;
	}
	if (PQntuples(res) != 1) {
		PQclear(res);
		return pki_rec_error(rec, "account", "no such account in the "
		    "database: %s", p[1]);
	}
	snprintf(id, sizeof(id), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	pki_info("%s ACME account %s: %s", action, id, p[1]);
	if (replace_account(st, rec, acct) == -1)
		return -1;
	return account_event(st, rec, action, id, p[1]);
}

/* The instance of a revoked record becomes 'revoked', with an event. */
#define REVOKE \
	"WITH r AS (UPDATE certinstances SET state = 'revoked', " \
	"  revoked_at = now() AT TIME ZONE 'UTC', revoke_reason = $3 " \
	"  WHERE id = $1::int4 AND state <> 'revoked' " \
	"  RETURNING id, certificate) " \
	"INSERT INTO events (certificate, instance, name, stage, level, " \
	"  message) SELECT certificate, id, $2, 'pki-store', 'info', " \
	"  'revoked instance ' || id || ' (' || $3 || ')' FROM r " \
	"RETURNING instance"

static int
store_revoked(struct store *st, json_t *rec, struct outcome *out)
{
	json_t *id = json_object_get(json_object_get(rec, "instance"), "id");
	const char *p[3], *reason;
	char inst[24];
	PGresult *res;

	if (!json_is_integer(id))
		return pki_rec_error(rec, "revoked", "the record names no "
		    "instance");
	reason = pki_str(json_object_get(rec, "revoked"), "reason");
	snprintf(inst, sizeof(inst), "%lld", (long long)json_integer_value(id));
	p[0] = inst;
	p[1] = pki_str(rec, "name");
	p[2] = reason != NULL ? reason : "unspecified";
	if ((res = store_sql(st, rec, REVOKE, 3, p)) == NULL)
		return -1;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return pki_rec_error(rec, "instance", "no instance %s that "
		    "is not revoked already", inst);
	}
	PQclear(res);
	out->what = INSTANCE;
	out->instance = atol(inst);
	snprintf(out->state, sizeof(out->state), "revoked");
	pki_info("%s: revoked instance %s (%s)", pki_rec_name(rec), inst, p[2]);
	return 0;
}

/* Certificates.authorized_until of an ACME record, if it says. */
static int
note_authorized(struct store *st, json_t *rec)
{
	json_t *id = json_object_get(rec, "id");
	const char *p[2];
	char cert[24];
	PGresult *res;

	p[1] = pki_str(json_object_get(rec, "acme"), "authorized_until");
	if (!json_is_integer(id) || p[1] == NULL)
		return 0;
	snprintf(cert, sizeof(cert), "%lld", (long long)json_integer_value(id));
	p[0] = cert;
	res = store_sql(st, rec, "UPDATE certificates SET authorized_until = "
	    "$2::timestamp WHERE id = $1::int4 AND type = 'LE'", 2, p);
	PQclear(res);
	return res != NULL ? 0 : -1;
}

int
store_acme(struct store *st, json_t *rec, struct outcome *out)
{
	const char *action = pki_str(rec, "action");
	const json_t *acct = json_object_get(rec, "account");
	const char *ca = pki_str(rec, "ca");

	if (json_is_object(acct) && action != NULL &&
	    (strcmp(action, "register") == 0 ||
	    strcmp(action, "rollover") == 0 ||
	    strcmp(action, "import") == 0 ||
	    strcmp(action, "deactivate") == 0))
		return store_account(st, rec, acct);
	/* Revoked by pki-acme revoke or pki-localca --revoke. */
	if (json_is_object(json_object_get(rec, "revoked")))
		return store_revoked(st, rec, out);
	if (ca == NULL || strcmp(ca, "acme") != 0)
		return 1;
	return note_authorized(st, rec) == 0 ? 1 : -1;
}
