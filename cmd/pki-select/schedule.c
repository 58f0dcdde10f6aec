/*
 * schedule.c - --schedule: the selected certificates with something due
 * at --now, one record per certificate and action (pki schedule).
 *
 * One statement, each part of it a range scan of an index of
 * sql/015-schedule.sql, read a row at a time (libpq's single-row mode),
 * so the answer starts at once and memory does not grow with the
 * database.  Actions:
 *   issue    the certificate has no valid instance
 *   renew    the renewal time of its newest valid instance has passed
 *   remind   issue or renew of a local certificate that this run cannot
 *            sign (--remind: the CA key's passphrase is not here)
 *   (which of the three: pki.due_action() of sql/019-alerts.sql, which
 *   pki status --json asks too)
 *   expire   instances issued, prepublished or deployed past not_after
 *   archive  instances expired (superseded) past not_after
 *   ari      instances of ACME certificates whose renewal window is to
 *            be asked for (pki-acme ari)
 *   clean    claims of runs that are gone (or of no run, older than
 *            --stale), and archived instances beyond the newest --keep
 * A certificate backed off after failures (pki.schedule.next_attempt),
 * or claimed by a live run, is not due for issue or renew.
 */
#include <stdlib.h>
#include <string.h>

#include "select.h"

/*
 * $1..$4 the selection, $5 now (NULL: the clock), $6 the limit, $7 the
 * stale seconds, $8 archived instances kept, $9 local certificates are
 * reminded of, not issued.
 */
#define NOW "coalesce($5::timestamptz AT TIME ZONE 'UTC', " \
	"now() AT TIME ZONE 'UTC')"

/* (t.now is NOW for LIVE_CLAIM; the range conditions name NOW itself,
 * a value the planner knows, so that it scans the indexes.) */
#define SCHEDULE \
	"WITH t AS (SELECT coalesce($5::timestamptz AT TIME ZONE 'UTC', " \
	"  now() AT TIME ZONE 'UTC') AS now), " \
	"due AS (SELECT s.certificate AS cert, s.due_at AS due, " \
	"  due_action(s.certificate, t.now, $9::bool) AS action, " \
	"  NULL::int4[] AS insts FROM t, schedule s " \
	"  WHERE s.due_at <= " NOW " AND NOT EXISTS (SELECT 1 FROM " \
	"  certinstances i WHERE i.certificate = s.certificate " \
	"  AND i.state = 'reserved' AND " LIVE_CLAIM ")), " \
	"exp AS (SELECT i.certificate AS cert, min(i.not_after) AS due, " \
	"  'expire' AS action, array_agg(i.id ORDER BY i.id) AS insts " \
	"  FROM t, certinstances i WHERE i.state IN ('issued', " \
	"  'prepublished', 'deployed') AND i.not_after <= " NOW \
	"  GROUP BY i.certificate), " \
	"arch AS (SELECT i.certificate AS cert, min(i.not_after) AS due, " \
	"  'archive' AS action, array_agg(i.id ORDER BY i.id) AS insts " \
	"  FROM t, certinstances i WHERE i.state = 'expired' " \
	"  AND i.not_after <= " NOW " GROUP BY i.certificate), " \
	"ari AS (SELECT i.certificate AS cert, min(i.ari_check) AS due, " \
	"  'ari' AS action, array_agg(i.id ORDER BY i.id) AS insts " \
	"  FROM t, certinstances i WHERE i.state IN ('issued', " \
	"  'prepublished', 'deployed') AND i.ari_check <= " NOW \
	"  AND i.not_after > " NOW " GROUP BY i.certificate), " \
	"stale AS (SELECT i.certificate AS cert, i.id, i.created AS due " \
	"  FROM t, certinstances i WHERE i.state = 'reserved' " \
	"  AND NOT " LIVE_CLAIM "), " \
	"old AS (SELECT cert, id, NULL::timestamp AS due FROM (SELECT " \
	"  i.certificate AS cert, i.id, row_number() OVER (PARTITION BY " \
	"  i.certificate ORDER BY i.id DESC) AS n FROM certinstances i " \
	"  WHERE i.state = 'archived') a WHERE n > $8::int), " \
	"clean AS (SELECT cert, min(due) AS due, 'clean' AS action, " \
	"  array_agg(id ORDER BY id) AS insts FROM (SELECT * FROM stale " \
	"  UNION ALL SELECT * FROM old) x GROUP BY cert), " \
	"acts AS (SELECT * FROM due UNION ALL SELECT * FROM exp UNION ALL " \
	"  SELECT * FROM arch UNION ALL SELECT * FROM ari UNION ALL " \
	"  SELECT * FROM clean) " \
	"SELECT json_build_object('id', r.id, 'name', r.name, 'ca', " \
	"  CASE c.type WHEN 'LE' THEN 'acme' ELSE 'local' END, " \
	"  'action', a.action, 'due', CASE WHEN a.due IS NULL " \
	"  OR a.due = '-infinity' THEN NULL ELSE to_char(a.due, " \
	"  'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') END, 'instances', a.insts, " \
	"  'failures', s.failures, 'reminded', to_char(CASE WHEN " \
	"  a.action = 'remind' THEN c.authorized_until END, " \
	"  'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')) " \
	"FROM acts a JOIN cert_records r ON r.id = a.cert " \
	"JOIN certificates c ON c.id = a.cert " \
	"JOIN schedule s ON s.certificate = a.cert WHERE " SELECTED \
	"ORDER BY r.name, array_position(ARRAY['clean', 'archive', " \
	"  'expire', 'ari', 'issue', 'renew', 'remind'], a.action) " \
	"LIMIT $6::int8"

/* Drop the fields that say nothing ("instances" of an issue, no
 * failures, a certificate never reminded of). */
static void
tidy(json_t *rec)
{
	const char *k[] = { "due", "instances", "reminded" };
	size_t i;

	for (i = 0; i < sizeof(k) / sizeof(k[0]); i++)
		if (json_is_null(json_object_get(rec, k[i])))
			json_object_del(rec, k[i]);
	if (json_integer_value(json_object_get(rec, "failures")) == 0)
		json_object_del(rec, "failures");
}

/* Write the rows of the query sent on DB as they come; 0 / -1 (said). */
static int
stream(PGconn *db)
{
	json_error_t jerr;
	PGresult *res;
	json_t *rec;
	int rc = 0;

	while ((res = PQgetResult(db)) != NULL) {
		if (PQresultStatus(res) == PGRES_SINGLE_TUPLE && rc == 0) {
			if ((rec = json_loads(PQgetvalue(res, 0, 0), 0,
			    &jerr)) == NULL) {
				pki_err("schedule: %s", jerr.text);
				rc = -1;
			} else {
				tidy(rec);
				rc = pki_out(rec);
				json_decref(rec);
			}
		} else if (PQresultStatus(res) != PGRES_TUPLES_OK &&
		    PQresultStatus(res) != PGRES_SINGLE_TUPLE) {
			pki_err("database: %s", pki_db_message(res));
			rc = -1;
		}
		PQclear(res);
	}
	return rc;
}

int
select_schedule(PGconn *db, const struct selection *sel)
{
	const char *param[9];
	char *bufs[3], limit[24], stale[24], keep[24];
	int rc = PKI_EXIT_OK, r;

	if (check_names(db, sel->only, "-o") == -1 ||
	    check_names(db, sel->include, "-i") == -1)
		rc = PKI_EXIT_RECORD;
	snprintf(limit, sizeof(limit), "%ld", sel->limit_n);
	snprintf(stale, sizeof(stale), "%ld", sel->stale);
	snprintf(keep, sizeof(keep), "%ld", sel->keep);
	param[0] = json_param(sel->only, &bufs[0]);
	param[1] = json_param(sel->include, &bufs[1]);
	param[2] = json_param(sel->exclude, &bufs[2]);
	param[3] = sel->all ? "t" : "f";
	param[4] = sel->now;
	param[5] = limit;
	param[6] = stale;
	param[7] = keep;
	param[8] = sel->remind ? "t" : "f";
	r = -1;
	if (!PQsendQueryParams(db, SCHEDULE, 9, NULL, param, NULL, NULL, 0) ||
	    !PQsetSingleRowMode(db))
		pki_err("database: %s", PQerrorMessage(db));
	else
		r = stream(db);
	free(bufs[0]);
	free(bufs[1]);
	free(bufs[2]);
	return r == -1 ? PKI_EXIT_FATAL : rc;
}
