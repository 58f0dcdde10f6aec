/*
 * order.c - what pki-store keeps of ACME orders (sql/010-orders.sql), so
 * that a run that dies half-way leaves the next one an order to resume
 * and challenge records to withdraw, never a reason to order again.
 *
 *  - With --checkpoint (right after "pki-acme order" in a pipeline) each
 *    order of a record ("acme"."orders") is stored or brought up to date
 *    in acme_orders: its URL, account, names, status, the challenges it
 *    asks to publish, and the key and CSR it is to be finalized with (the
 *    key encrypted like every key at rest).  Nothing else is stored, no
 *    claim is touched, and every record goes on unchanged: store_order()
 *    is the whole of storing then.
 *  - At the end of a pipeline each order of a record is settled: its
 *    status as last seen, 'failed' when the CA made it invalid, and its
 *    challenges withdrawn when no TXT record of the record is published
 *    any more.  ('done' is the database's: storing its certificate
 *    ends an order.)  The record is then stored as ever.
 *  - A record of "pki-select --orphans" ("action": "withdraw"), once
 *    "pki-dnsup --remove" withdrew its challenges without an error, marks
 *    the orders it names withdrawn.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

/* The ACME statuses of an order (RFC 8555 7.1.6). */
static const char *const statuses[] = {
	"pending", "ready", "processing", "valid", "invalid", NULL
};

/* S if it is a status of an order, else NULL. */
static const char *
order_status(const char *s)
{
	size_t i;

	for (i = 0; s != NULL && statuses[i] != NULL; i++)
		if (strcmp(s, statuses[i]) == 0)
			return s;
	return NULL;
}

/* V as the text of a row id (a positive int4) into ID, "" if none. */
static void
id_text(const json_t *v, char id[24])
{
	json_int_t n = json_integer_value(v);

	*id = '\0';
	if (json_is_integer(v) && n > 0 && n <= 2147483647)
		snprintf(id, 24, "%lld", (long long)n);
}

/* The certificate of REC in the database into ID ("" if it has none). */
static int
certificate_id(struct store *st, json_t *rec, char id[24])
{
	const char *p[2];
	char rid[24];
	PGresult *res;

	id_text(json_object_get(rec, "id"), rid);
	p[0] = pki_str(rec, "name");
	p[1] = *rid ? rid : NULL;
	*id = '\0';
	if (p[0] == NULL)
		return 0;
	if ((res = store_sql(st, rec, "SELECT certificate FROM subjects "
	    "WHERE NOT isaltname AND name = $1 AND ($2::int4 IS NULL OR "
	    "certificate = $2::int4)", 2, p)) == NULL)
		return -1;
	if (PQntuples(res) == 1)
		snprintf(id, 24, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

/* The entries of REC's "challenges" for the authorizations of ENTRY, as
 * JSON text (caller frees); NULL on memory exhaustion (reported). */
static char *
order_challenges(const json_t *rec, const json_t *entry)
{
	json_t *mine = json_array(), *c, *a;
	const char *url;
	size_t i, k;
	char *text;

	json_array_foreach(json_object_get(rec, "challenges"), i, c) {
		url = pki_str(c, "authorization");
		json_array_foreach(json_object_get(entry, "authorizations"),
		    k, a)
			if (url != NULL && json_is_string(a) &&
			    strcmp(url, json_string_value(a)) == 0) {
				json_array_append(mine, c);
				break;
			}
	}
	text = pki_json_text(mine, JSON_COMPACT);
	json_decref(mine);
	if (text == NULL)
		pki_err("%s: out of memory", pki_rec_name(rec));
	return text;
}

/*
 * The key of ALGO as it is to be kept with its order, after checking
 * that it belongs to the CSR: encrypted with the database passphrase
 * when the database keeps keys encrypted, else in clear.  Caller frees
 * with pki_free_secret(); NULL after adding an error.
 */
static char *
order_key(struct store *st, json_t *rec, const char *algo)
{
	const char *pem = pki_str(json_object_get(rec, "key"), algo), *why;
	X509_REQ *req = pki_csr_from_pem(pki_str(json_object_get(rec, "csr"),
	    algo));
	EVP_PKEY *key = NULL;
	char field[16], *out = NULL;

	snprintf(field, sizeof(field), "key.%s", algo);
	if (pem == NULL || pki_pem_is_encrypted(pem))
		pki_rec_error(rec, field, "missing, or not in clear");
	else if (st->encrypted && st->pass == NULL) {
		st->setup_error = 1;
		pki_rec_error(rec, field, "the database keeps keys encrypted: "
		    "give --passphrase-file FILE or PKI_DB_PASSPHRASE_FILE");
	} else if ((key = pki_key_from_pem(pem, NULL, &why)) == NULL)
		pki_rec_error(rec, field, "%s", why);
	else if (req == NULL || EVP_PKEY_eq(key, X509_REQ_get0_pubkey(req)) != 1)
		pki_rec_error(rec, field, "does not belong to csr.%s", algo);
	else if ((out = pki_key_to_pem(key, st->encrypted ? st->pass :
	    NULL)) == NULL)
		pki_rec_error(rec, field, "cannot encode");
	EVP_PKEY_free(key);
	X509_REQ_free(req);
	return out;
}

/* Open orders of the certificate and algorithm other than URL: a new
 * order replaces them. */
#define REPLACE_ORDERS \
	"UPDATE acme_orders SET state = 'replaced', key = NULL " \
	"WHERE certificate = $1::int4 AND algo = $2::dd.cert_encryption_algo " \
	"AND state = 'open' AND url <> $3"

/*
 * Store an order, or bring the row of its URL up to date (a resumed
 * order: its key and CSR stay), with an event.  $1 certificate, $2 algo,
 * $3 claim, $4 run, $5 directory, $6 account, $7 URL, $8 names (JSON),
 * $9 status, $10 finalize URL, $11 certificate URL, $12 authorizations,
 * $13 challenges, $14 expires, $15 key, $16 CSR, $17 the record's name.
 * No row: the URL is another certificate's order.
 */
#define PUT_ORDER \
	"WITH o AS (INSERT INTO acme_orders (certificate, algo, instance, run, " \
	"  directory, account, url, names, status, finalize, certificate_url, " \
	"  authorizations, challenges, expires, key, csr) " \
	"  VALUES ($1::int4, $2::dd.cert_encryption_algo, $3::int4, $4::int4, " \
	"  $5, $6, $7, acme_names($8::json), $9, $10, $11, $12::jsonb, " \
	"  $13::jsonb, $14::timestamptz AT TIME ZONE 'UTC', " \
	"  convert_to($15, 'UTF8'), $16) " \
	"  ON CONFLICT (url) DO UPDATE SET instance = EXCLUDED.instance, " \
	"  run = EXCLUDED.run, status = EXCLUDED.status, " \
	"  finalize = EXCLUDED.finalize, certificate_url = COALESCE(" \
	"  EXCLUDED.certificate_url, acme_orders.certificate_url), " \
	"  authorizations = EXCLUDED.authorizations, " \
	"  challenges = EXCLUDED.challenges, expires = COALESCE(" \
	"  EXCLUDED.expires, acme_orders.expires), withdrawn = NULL, " \
	"  key = COALESCE(acme_orders.key, EXCLUDED.key), " \
	"  csr = COALESCE(acme_orders.csr, EXCLUDED.csr) " \
	"  WHERE acme_orders.certificate = EXCLUDED.certificate " \
	"  AND acme_orders.algo = EXCLUDED.algo " \
	"  RETURNING id, certificate, xmax = 0 AS fresh), " \
	"ev AS (INSERT INTO events (certificate, instance, name, stage, level, " \
	"  message) SELECT certificate, $3::int4, $17, 'pki-store', 'info', " \
	"  CASE WHEN fresh THEN 'placed' ELSE 'resumed' END || ' ACME order ' " \
	"  || id || ' (' || $2 || '): ' || $7 FROM o) " \
	"SELECT id, fresh FROM o"

/* The parameters of PUT_ORDER that the record's order ENTRY gives. */
static void
entry_params(const json_t *entry, const char *p[17])
{
	const json_t *exp = json_object_get(entry, "expires");

	p[6] = pki_str(entry, "url");
	p[8] = order_status(pki_str(entry, "status")) ?
	    pki_str(entry, "status") : "pending";
	p[9] = pki_str(entry, "finalize");
	p[10] = pki_str(entry, "certificate");
	/* A time the database cannot read is not kept, not refused. */
	p[13] = json_is_string(exp) && strlen(json_string_value(exp)) >= 20 &&
	    strspn(json_string_value(exp), "0123456789-:TZ.+") ==
	    strlen(json_string_value(exp)) ? json_string_value(exp) : NULL;
}

/* Store the order ENTRY of ALGO of REC, of certificate CERT; NAMES is the
 * JSON text of the names ordered. */
static int
put_order(struct store *st, json_t *rec, const char *cert, const char *algo,
    const json_t *entry, const char *names)
{
	json_t *inst = json_object_get(rec, "instance");
	const char *p[17];
	char claim[24], run[24], *authz = NULL, *chal = NULL, *key = NULL;
	PGresult *res = NULL;
	int rc = -1, keyless;

	memset(p, 0, sizeof(p));
	entry_params(entry, p);
	id_text(json_object_get(inst, "id"), claim);
	id_text(json_object_get(inst, "run"), run);
	p[0] = cert;
	p[1] = algo;
	p[2] = *claim ? claim : NULL;
	p[3] = *run ? run : NULL;
	p[4] = pki_str(json_object_get(rec, "acme"), "directory");
	p[5] = pki_str(json_object_get(rec, "acme"), "account");
	p[7] = names;
	p[16] = pki_str(rec, "name");
	if (p[4] == NULL || p[5] == NULL || p[6] == NULL)
		return pki_rec_error(rec, "acme", "an order without its URL, "
		    "directory or account");
	if ((authz = pki_json_text(json_object_get(entry, "authorizations"),
	    JSON_COMPACT)) == NULL || (chal = order_challenges(rec,
	    entry)) == NULL)
		goto out;
	/* A resumed order keeps the key and CSR stored with it; an order
	 * for a given CSR (CSR input) keeps the CSR, and there is no key. */
	keyless = pki_rec_keyless(rec);
	if (!json_is_true(json_object_get(entry, "resumed")) && !keyless &&
	    (key = order_key(st, rec, algo)) == NULL)
		goto out;
	p[11] = authz;
	p[12] = chal;
	p[14] = key;
	p[15] = key != NULL || keyless ? pki_str(json_object_get(rec, "csr"),
	    algo) : NULL;
	res = store_sql(st, rec, REPLACE_ORDERS, 3, (const char *[]){ cert,
	    algo, p[6] });
	if (res != NULL) {
		PQclear(res);
		res = store_sql(st, rec, PUT_ORDER, 17, p);
	}
	if (res != NULL && PQntuples(res) != 1)
		pki_rec_error(rec, "acme", "the CA's order %s is another "
		    "certificate's", p[6]);
	else if (res != NULL) {
		pki_info("%s: %s ACME order %s (%s)", pki_rec_name(rec),
		    strcmp(PQgetvalue(res, 0, 1), "t") == 0 ? "placed" :
		    "resumed", PQgetvalue(res, 0, 0), algo);
		rc = 0;
	}
out:
	PQclear(res);
	pki_free_secret(key);
	free(authz);
	free(chal);
	return rc;
}

/* --checkpoint: store every order of REC that has no certificate yet. */
static int
checkpoint(struct store *st, json_t *rec)
{
	json_t *orders = json_object_get(json_object_get(rec, "acme"),
	    "orders"), *certs = json_object_get(rec, "cert"), *entry, *names;
	const char *algo;
	char cert[24], *text;
	int rc = 0;

	if (json_object_size(orders) == 0)
		return 0;
	if (certificate_id(st, rec, cert) == -1)
		return -1;
	if (*cert == '\0') {
		pki_debug("%s: not in the database: its orders are not kept",
		    pki_rec_name(rec));
		return 0;
	}
	if ((names = pki_rec_names(rec)) == NULL)
		return -1;
	text = pki_json_text(names, JSON_COMPACT);
	json_decref(names);
	json_object_foreach(orders, algo, entry) {
		if (json_object_get(certs, algo) != NULL)
			continue;
		if (text == NULL || !pki_algo_valid(algo))
			rc = pki_rec_error(rec, "acme.orders", "%s: not an "
			    "algorithm, or out of memory", algo);
		else
			rc = put_order(st, rec, cert, algo, entry, text);
		if (rc == -1)
			break;
	}
	free(text);
	return rc;
}

/* 1 if REC's dns.published lists no TXT record: its challenges were
 * withdrawn (or never published). */
static int
txt_gone(const json_t *rec)
{
	json_t *e;
	size_t i;

	json_array_foreach(json_object_get(json_object_get(rec, "dns"),
	    "published"), i, e)
		if (pki_str(e, "type") != NULL &&
		    strcmp(pki_str(e, "type"), "TXT") == 0)
			return 0;
	return 1;
}

/* The end of a pipeline: what became of REC's orders of this run. */
#define SETTLE_ORDER \
	"UPDATE acme_orders SET status = COALESCE($2, status), " \
	"  certificate_url = COALESCE($3, certificate_url), " \
	"  state = CASE WHEN $2 = 'invalid' AND state = 'open' THEN 'failed' " \
	"    ELSE state END, " \
	"  key = CASE WHEN $2 = 'invalid' THEN NULL ELSE key END, " \
	"  withdrawn = CASE WHEN $4::bool THEN now() AT TIME ZONE 'UTC' " \
	"    ELSE withdrawn END " \
	"WHERE url = $1 AND run IS NOT DISTINCT FROM $5::int4"

static int
settle(struct store *st, json_t *rec)
{
	json_t *orders = json_object_get(json_object_get(rec, "acme"),
	    "orders"), *entry;
	const char *algo, *p[5];
	char run[24];
	PGresult *res;

	id_text(json_object_get(json_object_get(rec, "instance"), "run"), run);
	p[3] = txt_gone(rec) ? "t" : "f";
	p[4] = *run ? run : NULL;
	json_object_foreach(orders, algo, entry) {
		if ((p[0] = pki_str(entry, "url")) == NULL)
			continue;
		p[1] = order_status(pki_str(entry, "status"));
		p[2] = pki_str(entry, "certificate");
		if ((res = store_sql(st, rec, SETTLE_ORDER, 5, p)) == NULL)
			return -1;
		PQclear(res);
	}
	return 0;
}

/* A record of pki-select --orphans whose challenges are withdrawn: the
 * orders it names ("acme"."left") are, unless a run took them up since. */
#define WITHDRAWN \
	"WITH o AS (UPDATE acme_orders SET withdrawn = now() AT TIME ZONE 'UTC' " \
	"  WHERE url = $1 AND withdrawn IS NULL " \
	"  AND run IS NOT DISTINCT FROM $2::int4 RETURNING id, certificate) " \
	"INSERT INTO events (certificate, name, stage, level, message) " \
	"SELECT certificate, $3, 'pki-store', 'info', 'withdrew the challenge " \
	"records of ACME order ' || id || ', left by ' || run_text($2::int4) " \
	"FROM o"

static int
withdrawn(struct store *st, json_t *rec)
{
	json_t *left = json_object_get(json_object_get(rec, "acme"), "left"), *e;
	const char *p[3];
	char run[24];
	PGresult *res;
	size_t i;

	json_array_foreach(left, i, e) {
		id_text(json_object_get(e, "run"), run);
		p[0] = pki_str(e, "url");
		p[1] = *run ? run : NULL;
		p[2] = pki_str(rec, "name");
		if (p[0] == NULL)
			continue;
		if ((res = store_sql(st, rec, WITHDRAWN, 3, p)) == NULL)
			return -1;
		PQclear(res);
	}
	pki_info("%s: the challenge records left by a dead run are withdrawn",
	    pki_rec_name(rec));
	return 0;
}

int
store_order(struct store *st, json_t *rec, struct outcome *out)
{
	const char *action = pki_str(rec, "action");

	out->what = KEPT;
	/* An account that pki-acme order registered again (the CA had
	 * forgotten it) is stored at once: pki-acme finish, further down
	 * the pipeline, reads it from the database. */
	if (st->checkpoint && json_is_object(json_object_get(rec, "account")))
		return store_acme(st, rec, out) == -1 ? -1 : 0;
	if (st->checkpoint)
		return checkpoint(st, rec) == -1 ? -1 : 0;
	if (action != NULL && strcmp(action, "withdraw") == 0 &&
	    !pki_rec_failed(rec))
		return withdrawn(st, rec);
	if (json_object_size(json_object_get(json_object_get(rec, "acme"),
	    "orders")) == 0)
		return 1;
	return settle(st, rec) == -1 ? -1 : 1;
}
