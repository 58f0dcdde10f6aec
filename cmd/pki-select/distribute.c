/*
 * distribute.c - pki-select --distribute and --consolidate.
 *
 * For each selected certificate, the instance to put on its targets
 * (pki.instance_to_distribute: the newest valid issued or prepublished
 * instance newer than the deployed one, unless the DANE roll holds it
 * back (roll.c), else the deployed one while a target lacks it) or to
 * check on them (pki.instance_to_consolidate: the
 * deployed one), with its certificates, chain and (--with-keys) keys, and
 * the targets to act on, each with its state in pki.deployments as
 * "deployment".  --distribute leaves out the targets that hold the
 * instance already; -s and -l leave out hosts.  The targets written are
 * claimed for this run (deployments.claimed), in one transaction under
 * an advisory lock, so that two runs never work on the same target;
 * pki-store clears a claim with the result, and a claim older than
 * --stale is void.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "select.h"

/* $1..$4 the selection, $5 -s hosts, $6 -l hosts (NULL: all), $7 the
 * age of a void claim of no run, $8 'distribute' or 'consolidate', $9 with
 * keys, $10 the run (NULL: none), $11 --now, $12 --min-roll-mins, $13
 * --roll.  A claim of a run that is gone is void.
 * Columns: 0 record, 1 state, 2 algorithm, 3 certificate, 4 key,
 * 5 chain, 6 instance, 7 targets. */
/*
 * Certificate r may have something to distribute: an instance to roll
 * out (HAS_NEXT), or a deployed one that a target does not hold.  A
 * superset of those pki.instance_to_distribute() names, decided with the
 * indexes alone, so that an hourly run over 100,000 certificates with
 * nothing to do neither builds their records nor calls the function
 * for each.
 */
#define CANDIDATE \
	"(" HAS_NEXT " OR EXISTS (SELECT 1 FROM certinstances i " \
	"  JOIN targets t ON t.certificate = i.certificate " \
	"  WHERE i.certificate = r.id AND i.state = 'deployed' " \
	"  AND NOT EXISTS (SELECT 1 FROM deployments d " \
	"  WHERE d.certinstance = i.id AND d.target = t.id " \
	"  AND d.status = 'ok')))"

#define DEPLOY_QUERY \
	"WITH sel AS (SELECT r.id AS cert, r.name, r.record, " \
	"  CASE WHEN $8 = 'consolidate' THEN pki.instance_to_consolidate(r.id) " \
	"  ELSE pki.instance_to_distribute(r.id, " NOW_PARAM(11) ", " \
	"  make_interval(mins => $12::int), $13::bool) END AS inst " \
	"  FROM cert_records r WHERE " SELECTED " AND ($8 = 'consolidate' " \
	"  OR " CANDIDATE ")), " \
	"tg AS (SELECT sel.cert, sel.inst, t.value::jsonb AS target, t.ord, " \
	"  (t.value->>'id')::int4 AS tid, d.status, d.attempts, d.last_error, " \
	"  d.files, d.tried FROM sel CROSS JOIN LATERAL " \
	"  json_array_elements(sel.record->'targets') WITH ORDINALITY " \
	"  AS t(value, ord) LEFT JOIN deployments d " \
	"  ON d.certinstance = sel.inst AND d.target = (t.value->>'id')::int4 " \
	"  WHERE sel.inst IS NOT NULL " \
	"  AND ($6::json IS NULL OR (t.value->>'disthost')::citext IN " \
	"    (SELECT json_array_elements_text($6::json)::citext)) " \
	"  AND (t.value->>'disthost')::citext NOT IN " \
	"    (SELECT json_array_elements_text($5::json)::citext) " \
	"  AND ($8 = 'consolidate' OR d.status IS DISTINCT FROM 'ok') " \
	"  AND (d.claimed IS NULL OR CASE WHEN d.run IS NULL THEN " \
	"    d.claimed < LOCALTIMESTAMP - make_interval(secs => $7::int) " \
	"    ELSE d.run NOT IN (SELECT run FROM runs_alive()) END)), " \
	"claimed AS (INSERT INTO deployments (certinstance, target, status, " \
	"  claimed, run) SELECT inst, tid, 'pending', LOCALTIMESTAMP, " \
	"  $10::int4 FROM tg ON CONFLICT (certinstance, target) DO UPDATE " \
	"  SET claimed = EXCLUDED.claimed, run = EXCLUDED.run " \
	"  RETURNING certinstance, target, claimed), " \
	"g AS (SELECT tg.cert, tg.inst, json_agg(tg.target || " \
	"  jsonb_build_object('deployment', jsonb_build_object(" \
	"  'status', coalesce(tg.status, 'pending'), " \
	"  'attempts', coalesce(tg.attempts, 0), " \
	"  'last_error', tg.last_error, " \
	"  'files', coalesce(tg.files, '[]'::jsonb), " \
	"  'tried', to_char(tg.tried, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), " \
	"  'claimed', to_char(c.claimed, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'))) " \
	"  ORDER BY tg.ord) AS targets FROM tg JOIN claimed c " \
	"  ON c.certinstance = tg.inst AND c.target = tg.tid " \
	"  GROUP BY tg.cert, tg.inst) " \
	"SELECT sel.record, i.state, k.encryption_algo, " \
	"  convert_from(k.cert, 'UTF8'), " \
	"  CASE WHEN $9::bool THEN convert_from(k.key, 'UTF8') END, " \
	"  instance_chain(g.inst), g.inst, g.targets " \
	"FROM g JOIN sel ON sel.cert = g.cert " \
	"JOIN certinstances i ON i.id = g.inst " \
	"JOIN certkeydata k ON k.certinstance = g.inst " \
	"ORDER BY sel.name, g.inst, k.encryption_algo"

/* The record of the instance of rows FIRST to FIRST+N-1; NULL if the
 * database gave something that is not a record. */
static json_t *
instance_record(PGresult *res, int first, int n, const struct selection *sel)
{
	json_t *rec, *targets;

	if ((rec = json_loads(PQgetvalue(res, first, 0), 0, NULL)) == NULL ||
	    (targets = json_loads(PQgetvalue(res, first, 7), 0, NULL)) == NULL) {
		json_decref(rec);
		pki_err("cert_records: not a record");
		return NULL;
	}
	json_object_set_new(rec, "targets", targets);
	json_object_set_new(rec, "action", json_string(sel->mode == 'K' ?
	    "consolidate" : "distribute"));
	json_object_set_new(rec, "instance", json_pack("{s:I, s:s}", "id",
	    (json_int_t)atoll(PQgetvalue(res, first, 6)), "state",
	    PQgetvalue(res, first, 1)));
	instance_material(rec, res, first, n, sel->with_keys, sel->pass);
	pki_info("%s: instance %s to %zu target%s", pki_rec_name(rec),
	    PQgetvalue(res, first, 6), json_array_size(targets),
	    json_array_size(targets) == 1 ? "" : "s");
	return rec;
}

/* Write one record per instance (its rows are consecutive); the exit
 * status. */
static int
write_instances(PGresult *res, const struct selection *sel)
{
	int i, n, rows = PQntuples(res), rc = PKI_EXIT_OK;
	json_t *rec;

	for (i = 0; i < rows; i += n) {
		for (n = 1; i + n < rows && strcmp(PQgetvalue(res, i, 6),
		    PQgetvalue(res, i + n, 6)) == 0; n++)
			continue;
		if ((rec = instance_record(res, i, n, sel)) == NULL)
			return PKI_EXIT_FATAL;
		if (pki_rec_failed(rec))
			rc = PKI_EXIT_RECORD;
		if (pki_out(rec) == -1)
			rc = PKI_EXIT_FATAL;
		json_decref(rec);
		if (rc == PKI_EXIT_FATAL)
			break;
	}
	return rc;
}

/* Run the query and claim, in one transaction under the lock. */
static PGresult *
claim(PGconn *db, const char *const param[13])
{
	PGresult *res;

	if (pki_db_cmd(db, "BEGIN") == -1 ||
	    pki_db_cmd(db, "SELECT pg_advisory_xact_lock("
	    "hashtext('pki-select --distribute'))") == -1)
		return NULL;
	if ((res = pki_db_exec(db, DEPLOY_QUERY, 13, param)) == NULL)
		return NULL;
	if (pki_db_cmd(db, "COMMIT") == -1) {
		pki_db_wipe(res);
		PQclear(res);
		return NULL;
	}
	return res;
}

int
select_deploy(PGconn *db, struct selection *sel)
{
	const char *param[13];
	char *bufs[5], all[2], stale[24], keys[2], mins[24], roll[2];
	PGresult *res;
	int rc = PKI_EXIT_OK, i;

	if (check_names(db, sel->only, "-o") == -1 ||
	    check_names(db, sel->include, "-i") == -1)
		rc = PKI_EXIT_RECORD;
	if (sel->skip == NULL)
		sel->skip = json_array();
	param[0] = json_param(sel->only, &bufs[0]);
	param[1] = json_param(sel->include, &bufs[1]);
	param[2] = json_param(sel->exclude, &bufs[2]);
	param[3] = strcpy(all, sel->all ? "t" : "f");
	param[4] = json_param(sel->skip, &bufs[3]);
	param[5] = json_param(sel->limit, &bufs[4]);
	snprintf(stale, sizeof(stale), "%ld", sel->stale);
	param[6] = stale;
	param[7] = sel->mode == 'K' ? "consolidate" : "distribute";
	param[8] = strcpy(keys, sel->with_keys ? "t" : "f");
	param[9] = sel->run;
	param[10] = sel->now;
	snprintf(mins, sizeof(mins), "%ld", sel->min_roll);
	param[11] = mins;
	param[12] = strcpy(roll, sel->roll ? "t" : "f");
	res = claim(db, param);
	for (i = 0; i < 5; i++)
		free(bufs[i]);
	if (res == NULL)
		return PKI_EXIT_FATAL;
	i = write_instances(res, sel);
	pki_db_wipe(res);
	PQclear(res);
	if (i != PKI_EXIT_FATAL && sel->mode == 'D' &&
	    select_waits(db, sel) == PKI_EXIT_FATAL)
		i = PKI_EXIT_FATAL;
	return i != PKI_EXIT_OK ? i : rc;
}
