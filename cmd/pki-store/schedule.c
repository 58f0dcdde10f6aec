/*
 * schedule.c - the failures of a certificate in a row (pki.schedule,
 * sql/015-schedule.sql), for pki schedule's backoff: a record that was
 * to issue or renew a certificate and failed makes its next attempt
 * wait (1 h, 2 h, 4 h ... at most 1 day); one whose instance was stored
 * forgets them.
 */
#include <stdio.h>
#include <string.h>

#include "store.h"

/* $1 the certificate's name, $2 the time of the failure (NULL: now),
 * $3 why, $4 the time until which the CA takes no new order (NULL: it
 * named none). */
#define FAILED_SQL \
	"SELECT pki.schedule_failed(s.certificate, coalesce($2::timestamptz " \
	"  AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC'), $3, " \
	"  $4::timestamptz AT TIME ZONE 'UTC') " \
	"  FROM subjects s WHERE s.name = $1 AND NOT s.isaltname"

#define SUCCEEDED_SQL \
	"SELECT pki.schedule_succeeded(s.certificate) " \
	"  FROM subjects s WHERE s.name = $1 AND NOT s.isaltname"

/* The last error of REC. */
static const json_t *
last(const json_t *rec)
{
	json_t *errors = json_object_get(rec, "errors");

	return json_array_get(errors, json_array_size(errors) - 1);
}

/* The time of "until" in REC's last error (pki-acme's: the CA limits
 * new orders until then) as RFC 3339 into BUF; NULL if it has none, or
 * none that is a time. */
static const char *
retry_after(const json_t *rec, char buf[32])
{
	time_t t;

	if (pki_parse_rfc3339(pki_str(last(rec), "until"), &t) == -1)
		return NULL;
	pki_unix_rfc3339(t, buf);
	return buf;
}

/* The last error of REC as "stage: field: message" into BUF, withheld
 * when it holds key material. */
static void
last_error(const json_t *rec, char *buf, size_t size)
{
	const json_t *e = last(rec);
	const char *stage = pki_str(e, "stage"), *field = pki_str(e, "field"),
	    *msg = pki_str(e, "message");

	snprintf(buf, size, "%s: %s%s%s", stage ? stage : "?",
	    field ? field : "", field ? ": " : "", msg ? msg : "(no message)");
	if (store_has_key(rec, buf))
		snprintf(buf, size, "%s: (a message that held key material, "
		    "withheld)", stage ? stage : "?");
}

int
store_schedule(struct store *st, json_t *rec, const struct outcome *out)
{
	const char *action = pki_str(rec, "action"), *p[4];
	char why[1024], until[32];
	PGresult *res;

	if (st->checkpoint || action == NULL || (strcmp(action, "issue") != 0 &&
	    strcmp(action, "renew") != 0) || pki_str(rec, "name") == NULL)
		return 0;
	p[0] = pki_str(rec, "name");
	if (pki_rec_failed(rec)) {
		last_error(rec, why, sizeof(why));
		p[1] = st->now;
		p[2] = why;
		p[3] = retry_after(rec, until);
		res = store_sql(st, rec, FAILED_SQL, 4, p);
	} else if (out->what == INSTANCE)
		res = store_sql(st, rec, SUCCEEDED_SQL, 1, p);
	else
		return 0;
	PQclear(res);
	return res != NULL ? 0 : -1;
}
