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

int
tlsa_mode_check(const char *mode)
{
	if (strcmp(mode, "changed") == 0 || strcmp(mode, "all") == 0 ||
	    strcmp(mode, "remove") == 0 || strcmp(mode, "prepublish") == 0)
		return 0;
	pki_err("--tlsa: \"%s\" is not changed, all, remove or prepublish",
	    mode);
	return -1;
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
	if (strcmp(sel->tlsa, "prepublish") == 0) {
		param[4] = sel->now;
		res = pki_db_exec(db, PREPUBLISH_RECORDS, 5, param);
	} else {
		param[4] = sel->tlsa;
		res = pki_db_exec(db, TLSA_RECORDS, 5, param);
	}
	if (res != NULL) {
		r = write_rows(res);
		PQclear(res);
	}
	free(bufs[0]);
	free(bufs[1]);
	free(bufs[2]);
	return r == -1 ? PKI_EXIT_FATAL : rc;
}
