/*
 * tlsa.c - what pki-store keeps of DANE TLSA records: those of each
 * instance (pki.tlsa_records), from the "tlsa" that pki-tlsa computed,
 * and what pki-dnsup --tlsa published at each owner (pki.tlsa_published),
 * from the records of pki-select --tlsa.
 *
 * An instance's records are stored with the instance, in its
 * transaction; storing them again changes nothing.  A record of
 * pki-select --tlsa that comes through without an error was served by
 * every authoritative server: each of its owners is stored with the
 * RRset it has now, one event each.  One with an error is logged by
 * store_failure() and changes nothing here, so the next run publishes
 * its owners again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

/* $1 instance, $2 the record's "tlsa". */
#define PUT_RECORDS \
	"INSERT INTO tlsa_records (certinstance, owner, ttl, usage, " \
	"  selector, mtype, data, algo, service) " \
	"SELECT $1::int4, t.owner, t.ttl, t.usage, t.selector, t.mtype, " \
	"  upper(t.data), t.algo, t.service FROM json_to_recordset($2::json) " \
	"  AS t(owner text, ttl int4, usage int2, selector int2, mtype int2, " \
	"  data text, algo text, service text) " \
	"ON CONFLICT DO NOTHING"

/*
 * The owners of a record of pki-select --tlsa, published: $1 its
 * certificate, $2 its "tlsa", $3 its "tlsa_empty", $4 withheld (pki tlsa
 * remove), $5 its name.  Returns how many owners were stored.
 */
#define PUT_PUBLISHED \
	"WITH o AS (SELECT DISTINCT x.owner::citext AS owner FROM (" \
	"  SELECT t->>'owner' AS owner FROM jsonb_array_elements($2::jsonb) t " \
	"  UNION SELECT e FROM jsonb_array_elements_text($3::jsonb) e) x), " \
	"rs AS (SELECT o.owner, tlsa_norm(coalesce((SELECT jsonb_agg(t) " \
	"  FROM jsonb_array_elements($2::jsonb) t " \
	"  WHERE (t->>'owner')::citext = o.owner), '[]')) AS rrset FROM o), " \
	"up AS (INSERT INTO tlsa_published AS p (owner, certificate, rrset, " \
	"  withheld, published) SELECT owner, $1::int4, rrset, $4::bool, " \
	"  LOCALTIMESTAMP FROM rs ON CONFLICT (owner) DO UPDATE SET " \
	"  certificate = EXCLUDED.certificate, rrset = EXCLUDED.rrset, " \
	"  withheld = EXCLUDED.withheld, published = EXCLUDED.published " \
	"  RETURNING p.owner, p.rrset), " \
	"ev AS (INSERT INTO events (certificate, name, stage, level, message) " \
	"  SELECT $1::int4, $5, 'pki-dnsup', 'info', 'TLSA ' || up.owner || " \
	"  CASE WHEN jsonb_array_length(up.rrset) = 0 THEN ': RRset emptied' " \
	"  ELSE ': ' || (SELECT string_agg(concat_ws(' ', r->>'usage', " \
	"  r->>'selector', r->>'mtype', r->>'data'), ', ') " \
	"  FROM jsonb_array_elements(up.rrset) r) END || " \
	"  CASE WHEN $4::bool THEN ' (withheld until pki tlsa consolidate)' " \
	"  ELSE '' END || ', served by every authoritative server' FROM up) " \
	"SELECT count(*) FROM up"

/* Run the prepared statement NAME; on failure an error in REC's FIELD,
 * NULL. */
static PGresult *
query(struct store *st, json_t *rec, const char *field, const char *name,
    const char *sql, int n, const char *const *p)
{
	PGresult *res;
	char why[512];

	res = pki_db_query_prepared(st->db, name, sql, n, p, why, sizeof(why));
	if (res == NULL)
		pki_rec_error(rec, field, "database: %s", why);
	return res;
}

int
store_tlsa(struct store *st, json_t *rec, const char *inst)
{
	json_t *tlsa = json_object_get(rec, "tlsa");
	const char *p[2];
	PGresult *res;
	char *text;

	if (tlsa == NULL || json_is_null(tlsa))
		return 0;
	if (!json_is_array(tlsa))
		return pki_rec_error(rec, "tlsa", "must be an array");
	if (json_array_size(tlsa) == 0)
		return 0;
	if ((text = pki_json_text(tlsa, JSON_COMPACT)) == NULL)
		return pki_rec_error(rec, "tlsa", "out of memory");
	p[0] = inst;
	p[1] = text;
	res = query(st, rec, "tlsa", "tlsa_records", PUT_RECORDS, 2, p);
	free(text);
	if (res == NULL)
		return -1;
	pki_debug("%s: instance %s: %s TLSA records stored", pki_rec_name(rec),
	    inst, PQcmdTuples(res));
	PQclear(res);
	return 0;
}

/* Member KEY of REC as JSON text for a parameter ("[]" when missing);
 * *BUF is to be freed.  NULL after an error in REC. */
static const char *
array_param(json_t *rec, const char *key, char **buf)
{
	json_t *v = json_object_get(rec, key);

	*buf = NULL;
	if (v == NULL || json_is_null(v))
		return "[]";
	if (!json_is_array(v)) {
		pki_rec_error(rec, key, "must be an array");
		return NULL;
	}
	if ((*buf = pki_json_text(v, JSON_COMPACT)) == NULL)
		pki_rec_error(rec, key, "out of memory");
	return *buf;
}

int
store_tlsa_dns(struct store *st, json_t *rec, struct outcome *out)
{
	const char *action = pki_str(rec, "action"), *p[5];
	json_t *id = json_object_get(rec, "id");
	char cert[24], *bufs[2] = { NULL, NULL };
	PGresult *res = NULL;

	(void)out;	/* no instance changes */
	if (action == NULL || (strcmp(action, "tlsa") != 0 &&
	    strcmp(action, "tlsa-remove") != 0))
		return 1;
	if (!json_is_integer(id) || json_integer_value(id) <= 0 ||
	    json_integer_value(id) > 2147483647)
		return pki_rec_error(rec, "id", "a record of pki-select --tlsa "
		    "needs its certificate's id");
	snprintf(cert, sizeof(cert), "%lld", (long long)json_integer_value(id));
	p[0] = cert;
	p[3] = strcmp(action, "tlsa-remove") == 0 ? "t" : "f";
	p[4] = pki_str(rec, "name");
	if ((p[1] = array_param(rec, "tlsa", &bufs[0])) != NULL &&
	    (p[2] = array_param(rec, "tlsa_empty", &bufs[1])) != NULL)
		res = query(st, rec, "tlsa", "tlsa_published", PUT_PUBLISHED,
		    5, p);
	free(bufs[0]);
	free(bufs[1]);
	if (res == NULL)
		return -1;
	pki_info("%s: TLSA of %s owners stored as published",
	    pki_rec_name(rec), PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}
