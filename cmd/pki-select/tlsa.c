/*
 * tlsa.c - pki-select --tlsa: the TLSA RRsets to publish, one record per
 * certificate, for pki-dnsup --tlsa and then pki-store.
 *
 * The RRset wanted at an owner is that of the certificate's deployed and
 * prepublished instances (pki.tlsa_rrset(), from the records pki-store
 * kept when each instance was issued: nothing is computed again).  A
 * record carries, for each owner of its certificate that is to change,
 * the wanted RRset in "tlsa" (each entry with its owner), or the owner
 * in "tlsa_empty" when none is wanted there; pki-dnsup replaces each
 * owner's RRset by exactly that.
 *
 *   changed  the owners whose wanted RRset is not what pki published
 *            last (pki.tlsa_published), but those pki tlsa remove
 *            withheld: what pki distribute publishes
 *   all      every owner: what pki tlsa consolidate publishes
 *   remove   every owner, to be emptied (and withheld)
 *   prepublish  a record per instance that needs prepublish
 *            (sql/014-roll.sql: issued, its certificate deployed, DNS
 *            serving at one of its owners an RRset without its records),
 *            "action" "prepublish" and its "instance": at each such
 *            owner the wanted RRset and the instance's records, for
 *            pki-dnsup --tlsa, and pki-store then makes it prepublished
 *   backfill a record per deployed or prepublished instance that has no
 *            TLSA records (stored before pki kept them) while its
 *            certificate has services: its configuration and "cert",
 *            "action" "tlsa-backfill", for pki-tlsa to compute them and
 *            pki-store to keep them (pki tlsa consolidate)
 */
#include <stdlib.h>
#include <string.h>

#include "select.h"

/* $1..$4 the selection, $5 the mode; one row per certificate. */
#define TLSA_RECORDS \
	"WITH o AS (SELECT r.id AS cert, r.name, ow AS owner, " \
	"  tlsa_rrset(ow) AS want, coalesce(p.rrset, '[]') AS have, " \
	"  coalesce(p.withheld, false) AS withheld " \
	"  FROM cert_records r CROSS JOIN LATERAL tlsa_owners(r.id) ow " \
	"  LEFT JOIN tlsa_published p ON p.owner = ow WHERE " SELECTED "), " \
	"pick AS (SELECT * FROM o WHERE $5 <> 'changed' " \
	"  OR (NOT withheld AND want <> have)), " \
	"ent AS (SELECT pick.cert, jsonb_agg(e || jsonb_build_object(" \
	"  'owner', pick.owner) ORDER BY pick.owner, n) AS tlsa " \
	"  FROM pick, jsonb_array_elements(pick.want) WITH ORDINALITY " \
	"  AS x(e, n) WHERE $5 <> 'remove' GROUP BY pick.cert), " \
	"emp AS (SELECT cert, jsonb_agg(owner ORDER BY owner) AS owners " \
	"  FROM pick WHERE $5 = 'remove' OR want = '[]' GROUP BY cert) " \
	"SELECT json_build_object('id', c.cert, 'name', c.name, 'action', " \
	"  CASE WHEN $5 = 'remove' THEN 'tlsa-remove' ELSE 'tlsa' END, " \
	"  'tlsa', coalesce(ent.tlsa, '[]'), " \
	"  'tlsa_empty', coalesce(emp.owners, '[]')) " \
	"FROM (SELECT DISTINCT cert, name FROM pick) c " \
	"LEFT JOIN ent USING (cert) LEFT JOIN emp USING (cert) ORDER BY c.name"

/* $1..$4 the selection, $5 --now; one row per instance. */
#define PREPUBLISH_RECORDS \
	"WITH c AS (SELECT r.id AS cert, r.name, pki.instance_next(r.id, " \
	NOW_PARAM(5) ") AS inst FROM cert_records r WHERE " SELECTED "), " \
	"n AS (SELECT * FROM c WHERE pki.instance_needs_prepublish(inst)), " \
	"ent AS (SELECT n.cert, jsonb_agg(x.e || jsonb_build_object(" \
	"  'owner', o) ORDER BY o, x.k) AS tlsa FROM n " \
	"  CROSS JOIN LATERAL pki.tlsa_prepublish_owners(n.inst) o " \
	"  CROSS JOIN LATERAL jsonb_array_elements(" \
	"  pki.tlsa_prepublish_rrset(o, n.inst)) WITH ORDINALITY AS x(e, k) " \
	"  GROUP BY n.cert) " \
	"SELECT json_build_object('id', n.cert, 'name', n.name, " \
	"  'action', 'prepublish', 'instance', json_build_object('id', " \
	"  n.inst, 'state', 'issued'), 'tlsa', coalesce(ent.tlsa, '[]'), " \
	"  'tlsa_empty', '[]'::json) " \
	"FROM n LEFT JOIN ent USING (cert) ORDER BY n.name"

/* $1..$4 the selection; rows as instance_material() reads them, column
 * 6 the instance, those of an instance together. */
#define BACKFILL_RECORDS \
	"SELECT r.record, i.state, k.encryption_algo, " \
	"  convert_from(k.cert, 'UTF8'), NULL, instance_chain(i.id), i.id " \
	"FROM cert_records r JOIN certinstances i ON i.certificate = r.id " \
	"  AND i.state IN ('deployed', 'prepublished') " \
	"JOIN certkeydata k ON k.certinstance = i.id WHERE " SELECTED \
	"AND json_array_length(r.record->'services') > 0 " \
	"AND NOT EXISTS (SELECT 1 FROM tlsa_records t " \
	"  WHERE t.certinstance = i.id) " \
	"ORDER BY r.name, i.id, k.encryption_algo"

int
tlsa_mode_check(const char *mode)
{
	if (strcmp(mode, "changed") == 0 || strcmp(mode, "all") == 0 ||
	    strcmp(mode, "remove") == 0 || strcmp(mode, "prepublish") == 0 ||
	    strcmp(mode, "backfill") == 0)
		return 0;
	pki_err("--tlsa: \"%s\" is not changed, all, remove, prepublish or "
	    "backfill", mode);
	return -1;
}

/* Write the record of each instance of RES (BACKFILL_RECORDS); 0 / -1
 * (said). */
static int
write_backfill(PGresult *res)
{
	int i, n, rows = PQntuples(res), rc = 0;
	json_t *rec;

	for (i = 0; i < rows && rc == 0; i += n) {
		for (n = 1; i + n < rows && strcmp(PQgetvalue(res, i, 6),
		    PQgetvalue(res, i + n, 6)) == 0; n++)
			continue;
		if ((rec = json_loads(PQgetvalue(res, i, 0), 0, NULL)) == NULL) {
			pki_err("cert_records: not a record");
			return -1;
		}
		json_object_set_new(rec, "action", json_string("tlsa-backfill"));
		json_object_set_new(rec, "instance", json_pack("{s:I, s:s}",
		    "id", (json_int_t)atoll(PQgetvalue(res, i, 6)), "state",
		    PQgetvalue(res, i, 1)));
		instance_material(rec, res, i, n, 0, NULL);
		pki_info("%s: instance %s has no TLSA records", pki_rec_name(rec),
		    PQgetvalue(res, i, 6));
		rc = pki_out(rec);
		json_decref(rec);
	}
	return rc;
}

/* Write the record of each row of RES; 0 / -1 (said). */
static int
write_rows(PGresult *res)
{
	json_error_t jerr;
	json_t *rec;
	int i, rc = 0;

	for (i = 0; i < PQntuples(res) && rc == 0; i++) {
		if ((rec = json_loads(PQgetvalue(res, i, 0), 0, &jerr)) == NULL) {
			pki_err("tlsa_records: %s", jerr.text);
			return -1;
		}
		pki_info("%s: %zu TLSA records, %zu owners to empty",
		    pki_rec_name(rec), json_array_size(json_object_get(rec,
		    "tlsa")), json_array_size(json_object_get(rec,
		    "tlsa_empty")));
		rc = pki_out(rec);
		json_decref(rec);
	}
	return rc;
}

int
select_tlsa(PGconn *db, struct selection *sel)
{
	const char *param[5];
	char *bufs[3], all[2];
	PGresult *res;
	int rc = PKI_EXIT_OK, r = -1;

	if (check_names(db, sel->only, "-o") == -1 ||
	    check_names(db, sel->include, "-i") == -1)
		rc = PKI_EXIT_RECORD;
	param[0] = json_param(sel->only, &bufs[0]);
	param[1] = json_param(sel->include, &bufs[1]);
	param[2] = json_param(sel->exclude, &bufs[2]);
	param[3] = strcpy(all, sel->all ? "t" : "f");
	if (strcmp(sel->tlsa, "backfill") == 0)
		res = pki_db_exec(db, BACKFILL_RECORDS, 4, param);
	else if (strcmp(sel->tlsa, "prepublish") == 0) {
		param[4] = sel->now;
		res = pki_db_exec(db, PREPUBLISH_RECORDS, 5, param);
	} else {
		param[4] = sel->tlsa;
		res = pki_db_exec(db, TLSA_RECORDS, 5, param);
	}
	if (res != NULL) {
		r = strcmp(sel->tlsa, "backfill") == 0 ? write_backfill(res) :
		    write_rows(res);
		PQclear(res);
	}
	free(bufs[0]);
	free(bufs[1]);
	free(bufs[2]);
	return r == -1 ? PKI_EXIT_FATAL : rc;
}
