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
 *
 * A record of pki-select --tlsa backfill ("action" "tlsa-backfill") has
 * its instance's records stored, as computed by pki-tlsa, if the
 * instance is its certificate's.
 *
 * A record of pki-select --tlsa prepublish ("action" "prepublish") that
 * comes through without an error makes its instance 'prepublished' as
 * well, if it is still issued: stamped with the time and the TTL whose
 * double the roll waits (sql/014-roll.sql), one event.
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

/*
 * An instance prepublished: $1 the instance, $2 the record's "tlsa", $3
 * its certificate, $4 its name.  The TTL kept is the largest of the
 * RRsets replaced (as tlsa_published has them, read before PUT_PUBLISHED
 * changes it) and published.  Returns the instances changed and the
 * TTL.
 */
#define PUT_PREPUBLISHED \
	"WITH t AS (SELECT e FROM jsonb_array_elements($2::jsonb) e), " \
	"ttl AS (SELECT greatest((SELECT max((e->>'ttl')::int4) FROM t), " \
	"  (SELECT max((x->>'ttl')::int4) FROM tlsa_published p, " \
	"  jsonb_array_elements(p.rrset) x WHERE p.owner IN " \
	"  (SELECT (e->>'owner')::citext FROM t))) AS ttl), " \
	"up AS (UPDATE certinstances i SET state = 'prepublished', " \
	"  prepublished = now() AT TIME ZONE 'UTC', " \
	"  prepublish_ttl = coalesce(ttl.ttl, 0) FROM ttl " \
	"  WHERE i.id = $1::int4 AND i.certificate = $3::int4 " \
	"  AND i.state = 'issued' RETURNING i.id, i.prepublish_ttl), " \
	"ev AS (INSERT INTO events (certificate, instance, name, stage, " \
	"  level, message) SELECT $3::int4, up.id, $4, 'pki-store', 'info', " \
	"  'instance ' || up.id || ' prepublished: its TLSA records are " \
	"served beside the current ones; deployed after twice the TTL of ' " \
	"  || up.prepublish_ttl || ' s at least' FROM up) " \
	"SELECT count(*), max(prepublish_ttl) FROM up"

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

/* REC's instance prepublished, if still issued (into OUT); its "tlsa"
 * is TLSA, of certificate CERT.  0 / -1. */
static int
prepublished(struct store *st, json_t *rec, const char *tlsa,
    const char *cert, struct outcome *out)
{
	const char *p[4];
	PGresult *res;
	char inst[24];

	store_row_id(json_object_get(json_object_get(rec, "instance"), "id"),
	    inst);
	if (*inst == '\0')
		return pki_rec_error(rec, "instance", "a record of pki-select "
		    "--tlsa prepublish needs its instance's id");
	p[0] = inst;
	p[1] = tlsa;
	p[2] = cert;
	p[3] = pki_str(rec, "name");
	if ((res = query(st, rec, "instance", "tlsa_prepublished",
	    PUT_PREPUBLISHED, 4, p)) == NULL)
		return -1;
	if (strcmp(PQgetvalue(res, 0, 0), "1") == 0) {
		out->what = INSTANCE;
		out->instance = atol(inst);
		snprintf(out->state, sizeof(out->state), "prepublished");
		pki_info("%s: instance %s prepublished (TTL %s s)",
		    pki_rec_name(rec), inst, PQgetvalue(res, 0, 1));
	} else
		pki_info("%s: instance %s is not issued (any more): its "
		    "state is left as it is", pki_rec_name(rec), inst);
	PQclear(res);
	return 0;
}

int
store_tlsa_dns(struct store *st, json_t *rec, struct outcome *out)
{
	const char *action = pki_str(rec, "action"), *p[5];
	char cert[24], *bufs[2] = { NULL, NULL };
	PGresult *res = NULL;
	int pre;

	if (action == NULL || (strcmp(action, "tlsa") != 0 &&
	    strcmp(action, "tlsa-remove") != 0 &&
	    strcmp(action, "prepublish") != 0))
		return 1;
	pre = strcmp(action, "prepublish") == 0;
	store_row_id(json_object_get(rec, "id"), cert);
	if (*cert == '\0')
		return pki_rec_error(rec, "id", "a record of pki-select --tlsa "
		    "needs its certificate's id");
	p[0] = cert;
	p[3] = strcmp(action, "tlsa-remove") == 0 ? "t" : "f";
	p[4] = pki_str(rec, "name");
	if ((p[1] = array_param(rec, "tlsa", &bufs[0])) != NULL &&
	    (p[2] = array_param(rec, "tlsa_empty", &bufs[1])) != NULL &&
	    (!pre || prepublished(st, rec, p[1], cert, out) == 0))
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

int
store_tlsa_backfill(struct store *st, json_t *rec, struct outcome *out)
{
	const char *action = pki_str(rec, "action"), *p[2];
	char cert[24], inst[24];
	PGresult *res;
	int mine;

	(void)out;	/* the instance's state stays */
	if (action == NULL || strcmp(action, "tlsa-backfill") != 0)
		return 1;
	store_row_id(json_object_get(rec, "id"), cert);
	store_row_id(json_object_get(json_object_get(rec, "instance"), "id"),
	    inst);
	if (*cert == '\0' || *inst == '\0')
		return pki_rec_error(rec, "instance", "a record of pki-select "
		    "--tlsa backfill needs its certificate's and instance's id");
	p[0] = inst;
	p[1] = cert;
	if ((res = query(st, rec, "instance", "tlsa_backfill", "SELECT 1 FROM "
	    "certinstances WHERE id = $1::int4 AND certificate = $2::int4",
	    2, p)) == NULL)
		return -1;
	mine = PQntuples(res) == 1;
	PQclear(res);
	if (!mine)
		return pki_rec_error(rec, "instance", "instance %s is not "
		    "certificate %s's", inst, cert);
	return store_tlsa(st, rec, inst);
}
