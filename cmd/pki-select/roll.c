/*
 * roll.c - the DANE roll in pki-select: --now, and the instances that
 * --distribute holds back (sql/014-roll.sql).
 *
 * An issued instance whose TLSA records DNS does not serve yet beside the
 * current ones is not deployed until it is prepublished (pki-select
 * --tlsa prepublish); a prepublished one not until prepublished +
 * max(2 × TTL, --min-roll-mins).  For each, --distribute writes a record
 * with "action" "wait" and "roll" saying so, after the instances it
 * deploys: no stage acts on it, and the summary says when it will roll.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "select.h"

#define TIME_FMT "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'"

/* $1..$4 the selection, $5 --now, $6 the minimum roll time in minutes. */
#define WAITS \
	"SELECT json_build_object('id', r.id, 'name', r.name, " \
	"  'action', 'wait', 'instance', json_build_object('id', i.id, " \
	"  'state', i.state), 'roll', json_build_object(" \
	"  'prepublished', to_char(i.prepublished, " TIME_FMT "), " \
	"  'ttl', i.prepublish_ttl, 'min_roll_mins', $6::int, " \
	"  'due', to_char(pki.roll_due(i.id, make_interval(mins => $6::int)), " \
	"  " TIME_FMT "))) " \
	"FROM cert_records r " \
	"JOIN certinstances i ON " HAS_NEXT " AND i.id = " \
	"  pki.instance_next(r.id, " NOW_PARAM(5) ") WHERE " SELECTED \
	"AND pki.instance_held(i.id, " NOW_PARAM(5) ", " \
	"  make_interval(mins => $6::int)) ORDER BY r.name"

/* Write the record of each row of RES; 0 / -1 (said). */
static int
write_waits(PGresult *res)
{
	json_error_t jerr;
	json_t *rec, *roll;
	int i, rc = 0;

	for (i = 0; i < PQntuples(res) && rc == 0; i++) {
		if ((rec = json_loads(PQgetvalue(res, i, 0), 0, &jerr)) == NULL) {
			pki_err("waits: %s", jerr.text);
			return -1;
		}
		roll = json_object_get(rec, "roll");
		if (json_is_string(json_object_get(roll, "due")))
			pki_info("%s: prepublished, rolls at %s",
			    pki_rec_name(rec), pki_str(roll, "due"));
		else
			pki_info("%s: its TLSA records are to be prepublished "
			    "first", pki_rec_name(rec));
		rc = pki_out(rec);
		json_decref(rec);
	}
	return rc;
}

int
select_waits(PGconn *db, const struct selection *sel)
{
	const char *param[6];
	char *bufs[3], all[2], mins[24];
	PGresult *res;
	int r = -1, i;

	param[0] = json_param(sel->only, &bufs[0]);
	param[1] = json_param(sel->include, &bufs[1]);
	param[2] = json_param(sel->exclude, &bufs[2]);
	param[3] = strcpy(all, sel->all ? "t" : "f");
	param[4] = sel->now;
	snprintf(mins, sizeof(mins), "%ld", sel->min_roll);
	param[5] = mins;
	if ((res = pki_db_exec(db, WAITS, 6, param)) != NULL) {
		r = write_waits(res);
		PQclear(res);
	}
	for (i = 0; i < 3; i++)
		free(bufs[i]);
	return r == -1 ? PKI_EXIT_FATAL : PKI_EXIT_OK;
}
