/*
 * deploy.c - what pki-store does with the records of pki-deploy: the
 * state of each target (pki.deployments), and the instance's state.
 *
 * Every entry of a record's "deployed" becomes the row of its instance
 * and target: status, files and their hashes (a Redis place: its keys),
 * the reload command's and the hook's exit status and stderr, the error, one more attempt, the time; the claim of
 * pki-select is cleared.  Each result is an event.  When every target of
 * the certificate holds the instance, an issued (or prepublished)
 * instance becomes 'deployed' and the one deployed before it 'expired'
 * (serverPKI's transition, but only once no target is missing), and so
 * does an older prepublished one (its TLSA records are withdrawn with
 * the deployed one's).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

/*
 * The targets' results: $1 instance, $2 the record's "deployed", $3 the
 * record's name.  Entries for targets that are not the certificate's
 * are left out.  Returns the number of rows stored.
 */
#define PUT_TARGETS \
	"WITH d AS (SELECT key::int4 AS target, value AS v " \
	"  FROM json_each($2::json) WHERE key ~ '^[0-9]{1,9}$'), " \
	"inst AS (SELECT id, certificate FROM certinstances " \
	"  WHERE id = $1::int4), " \
	"r AS (SELECT d.target, d.v, " \
	"  CASE WHEN d.v->>'status' = 'ok' THEN 'ok' ELSE 'failed' END AS status, " \
	"  coalesce((d.v->'files')::jsonb, '[]') || " \
	"  coalesce((SELECT jsonb_agg(jsonb_build_object('key', k)) " \
	"  FROM json_array_elements_text(d.v->'keys') k), '[]') AS files, " \
	"  d.v->>'written' = 'true' AS written " \
	"  FROM d JOIN inst ON true JOIN targets t ON t.id = d.target " \
	"  AND t.certificate = inst.certificate), " \
	"up AS (INSERT INTO deployments AS dp (certinstance, target, status, " \
	"  files, reload_command, reload_status, reload_stderr, " \
	"  hook_command, hook_status, hook_stderr, last_error, " \
	"  attempts, claimed, tried, deployed) " \
	"  SELECT inst.id, r.target, r.status, r.files, " \
	"  r.v->'reload'->>'command', (r.v->'reload'->>'status')::int4, " \
	"  r.v->'reload'->>'stderr', r.v->'hook'->>'command', " \
	"  (r.v->'hook'->>'status')::int4, r.v->'hook'->>'stderr', " \
	"  r.v->>'error', 1, NULL, LOCALTIMESTAMP, " \
	"  CASE WHEN r.status = 'ok' THEN LOCALTIMESTAMP END FROM r, inst " \
	"  ON CONFLICT (certinstance, target) DO UPDATE SET " \
	"  status = EXCLUDED.status, files = CASE WHEN " \
	"  jsonb_array_length(EXCLUDED.files) > 0 THEN EXCLUDED.files " \
	"  ELSE dp.files END, reload_command = EXCLUDED.reload_command, " \
	"  reload_status = EXCLUDED.reload_status, " \
	"  reload_stderr = EXCLUDED.reload_stderr, " \
	"  hook_command = EXCLUDED.hook_command, " \
	"  hook_status = EXCLUDED.hook_status, " \
	"  hook_stderr = EXCLUDED.hook_stderr, " \
	"  last_error = EXCLUDED.last_error, attempts = dp.attempts + 1, " \
	"  claimed = NULL, tried = EXCLUDED.tried, " \
	"  deployed = coalesce(EXCLUDED.deployed, dp.deployed) " \
	"  RETURNING dp.target), " \
	"ev AS (INSERT INTO events (certificate, instance, name, stage, " \
	"  level, message) SELECT inst.certificate, inst.id, $3, " \
	"  'pki-deploy', CASE WHEN r.status = 'ok' THEN 'info' ELSE 'error' " \
	"  END, format('target %s (%s%s, place %s): %s', r.target, h.fqdn, " \
	"  ', jail ' || j.name, coalesce(p.name, '-'), CASE " \
	"  WHEN r.status <> 'ok' THEN coalesce(r.v->>'error', 'failed') " \
	"  WHEN r.written THEN 'deployed, ' || jsonb_array_length(r.files) " \
	"  || CASE WHEN r.v->'keys' IS NOT NULL THEN ' Redis keys' ELSE ' files' END " \
	"  || coalesce(', reload exit ' || (r.v->'reload'->>'status'), '') " \
	"  || coalesce(', hook exit ' || (r.v->'hook'->>'status'), '') " \
	"  ELSE 'holds the instance' END) " \
	"  FROM r JOIN inst ON true JOIN targets t ON t.id = r.target " \
	"  JOIN disthosts h ON h.id = t.disthost " \
	"  LEFT JOIN jails j ON j.id = t.jail " \
	"  LEFT JOIN places p ON p.id = t.place) " \
	"SELECT count(*) FROM up"

/*
 * The instance's state once the targets are stored: $1 instance, $2 the
 * record's name.  Returns the state, whether every target holds it, and
 * how many instances expired.
 */
#define PUT_STATE \
	"WITH done AS (SELECT id, certificate, state, " \
	"  pki.instance_on_all_targets(id) AS complete " \
	"  FROM certinstances WHERE id = $1::int4), " \
	"new AS (UPDATE certinstances i SET state = 'deployed' FROM done " \
	"  WHERE i.id = done.id AND done.complete " \
	"  AND done.state IN ('issued', 'prepublished') " \
	"  RETURNING i.id, i.certificate), " \
	"old AS (UPDATE certinstances o SET state = 'expired' FROM new " \
	"  WHERE o.certificate = new.certificate AND o.id <> new.id " \
	"  AND (o.state = 'deployed' OR (o.state = 'prepublished' " \
	"  AND o.id < new.id)) RETURNING o.id), " \
	"ev AS (INSERT INTO events (certificate, instance, name, stage, " \
	"  level, message) " \
	"  SELECT new.certificate, new.id, $2, 'pki-store', 'info', " \
	"  'instance ' || new.id || ' deployed: every target holds it' " \
	"  FROM new UNION ALL " \
	"  SELECT new.certificate, old.id, $2, 'pki-store', 'info', " \
	"  'instance ' || old.id || ' expired: instance ' || new.id || " \
	"  ' is deployed' FROM new, old) " \
	"SELECT CASE WHEN EXISTS (SELECT 1 FROM new) THEN 'deployed' " \
	"  ELSE done.state::text END, done.complete, " \
	"  (SELECT count(*) FROM old) FROM done"

/* Run the prepared statement NAME; on failure an error in REC, NULL. */
static PGresult *
query(struct store *st, json_t *rec, const char *name, const char *sql,
    int n, const char *const *p)
{
	PGresult *res;
	char why[512];

	res = pki_db_query_prepared(st->db, name, sql, n, p, why, sizeof(why));
	if (res == NULL)
		pki_rec_error(rec, "deployed", "database: %s", why);
	return res;
}

/* Store the targets' results of instance INST; 0 / -1. */
static int
put_targets(struct store *st, json_t *rec, const char *inst, json_t *dep)
{
	const char *p[3];
	PGresult *res;
	char *text;
	long n;

	if ((text = pki_json_text(dep, JSON_COMPACT)) == NULL)
		return pki_rec_error(rec, "deployed", "out of memory");
	p[0] = inst;
	p[1] = text;
	p[2] = pki_str(rec, "name");
	res = query(st, rec, "deploy_targets", PUT_TARGETS, 3, p);
	free(text);
	if (res == NULL)
		return -1;
	n = atol(PQgetvalue(res, 0, 0));
	PQclear(res);
	if ((size_t)n < json_object_size(dep))
		pki_warn("%s: %zu of the targets in \"deployed\" are not the "
		    "certificate's: left out", pki_rec_name(rec),
		    json_object_size(dep) - (size_t)n);
	return 0;
}

/* The instance's state after its targets: into OUT. */
static int
put_state(struct store *st, json_t *rec, const char *inst,
    struct outcome *out)
{
	const char *p[2] = { inst, pki_str(rec, "name") };
	PGresult *res;

	if ((res = query(st, rec, "deploy_state", PUT_STATE, 2, p)) == NULL)
		return -1;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return pki_rec_error(rec, "instance", "no instance %s", inst);
	}
	out->what = INSTANCE;
	out->instance = atol(inst);
	snprintf(out->state, sizeof(out->state), "%s", PQgetvalue(res, 0, 0));
	if (strcmp(PQgetvalue(res, 0, 1), "t") != 0)
		pki_info("%s: instance %s: a target does not hold it yet",
		    pki_rec_name(rec), inst);
	else if (strcmp(PQgetvalue(res, 0, 2), "0") != 0)
		pki_info("%s: instance %s deployed, the one before expired",
		    pki_rec_name(rec), inst);
	PQclear(res);
	return 0;
}

int
store_deploy(struct store *st, json_t *rec, struct outcome *out)
{
	json_t *dep = json_object_get(rec, "deployed");
	json_t *id = json_object_get(json_object_get(rec, "instance"), "id");
	const char *state = pki_str(json_object_get(rec, "instance"), "state");
	char inst[24];

	/* A claim is stored as an instance first (record.c); pki-deploy
	 * deploys stored instances. */
	if (!json_is_object(dep) || (state != NULL &&
	    strcmp(state, "reserved") == 0))
		return 1;
	if (!json_is_integer(id))
		return pki_rec_error(rec, "instance", "a deployment needs the "
		    "instance it deployed (pki-select --distribute gives it)");
	snprintf(inst, sizeof(inst), "%lld", (long long)json_integer_value(id));
	if (put_targets(st, rec, inst, dep) == -1)
		return -1;
	return put_state(st, rec, inst, out);
}
