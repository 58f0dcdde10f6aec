/*
 * import.c - what pki-store does with a record of pki-import (action
 * "import"): its certificate is stored like any other (record.c), and a
 * new instance then takes the state the record's "import"."state" says
 * (certbot's current version deployed, older ones expired or archived);
 * an instance deployed makes the certificate's deployed one before it
 * expired.  An instance stored before is left as it is, so importing
 * twice changes nothing.
 */
#include <stdio.h>
#include <string.h>

#include "store.h"

/* $1 the new instance, $2 its state, $3 the record's name, $4 where it
 * came from.  Returns the state. */
#define SET_STATE \
	"WITH new AS (UPDATE certinstances SET state = $2::dd.cert_state " \
	"  WHERE id = $1::int4 AND state = 'issued' " \
	"  RETURNING id, certificate), " \
	"old AS (UPDATE certinstances o SET state = 'expired' FROM new " \
	"  WHERE $2 = 'deployed' AND o.certificate = new.certificate " \
	"  AND o.id <> new.id AND o.state = 'deployed' RETURNING o.id), " \
	"ev AS (INSERT INTO events (certificate, instance, name, stage, " \
	"  level, message) SELECT new.certificate, new.id, $3, 'pki-store', " \
	"  'info', 'imported instance ' || new.id || ' (' || $2 || ') from ' " \
	"  || $4 FROM new) " \
	"SELECT COALESCE((SELECT $2::text FROM new), (SELECT state::text " \
	"  FROM certinstances WHERE id = $1::int4))"

int
store_import_state(struct store *st, json_t *rec, const char *inst,
    char state[16])
{
	const json_t *imp = json_object_get(rec, "import");
	const char *p[4], *want = pki_str(imp, "state");
	PGresult *res;

	if (want == NULL || strcmp(want, "issued") == 0)
		return 0;
	p[0] = inst;
	p[1] = want;
	p[2] = pki_str(rec, "name");
	p[3] = pki_str(imp, "source") != NULL ? pki_str(imp, "source") : "?";
	if ((res = store_sql(st, rec, SET_STATE, 4, p)) == NULL)
		return -1;
	if (PQntuples(res) == 1)
		snprintf(state, 16, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}
