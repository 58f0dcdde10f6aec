/*
 * ari.c - what pki-store keeps of ACME Renewal Information (RFC 9773):
 * the "ari" that pki-acme ari added to a record of an instance, as the
 * instance's row of pki.ari (sql/013-ari.sql), for the scheduler.
 *
 * One row per instance, replaced by each lookup; a lookup that failed
 * keeps the window and the time chosen of the last one that worked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

/* $1 the instance, $2 the record's "ari", $3 the record's name: the
 * instance must be one of that certificate's.  A row back when stored. */
#define PUT_ARI \
	"INSERT INTO ari AS o (certinstance, status, cert_ids, window_start, " \
	"  window_end, renew_at, checked, next_check, error) " \
	"SELECT $1::int4, a->>'status', coalesce((SELECT " \
	"  jsonb_object_agg(k, v->'cert_id') FROM jsonb_each(a->'certs') " \
	"  AS e(k, v)), '{}'), (a->'window'->>'start')::timestamptz, " \
	"  (a->'window'->>'end')::timestamptz, (a->>'renew_at')::timestamptz, " \
	"  (a->>'checked')::timestamptz, (a->>'next_check')::timestamptz, " \
	"  left(a->>'error', 1024) FROM (SELECT $2::jsonb AS a) x " \
	"  WHERE EXISTS (SELECT 1 FROM certinstances i JOIN subjects s " \
	"  ON s.certificate = i.certificate AND NOT s.isaltname " \
	"  WHERE i.id = $1::int4 AND s.name = $3) " \
	"ON CONFLICT (certinstance) DO UPDATE SET status = EXCLUDED.status, " \
	"  cert_ids = CASE WHEN EXCLUDED.cert_ids = '{}' THEN o.cert_ids " \
	"  ELSE EXCLUDED.cert_ids END, " \
	"  window_start = CASE WHEN EXCLUDED.status = 'error' " \
	"  THEN o.window_start ELSE EXCLUDED.window_start END, " \
	"  window_end = CASE WHEN EXCLUDED.status = 'error' " \
	"  THEN o.window_end ELSE EXCLUDED.window_end END, " \
	"  renew_at = CASE WHEN EXCLUDED.status = 'error' " \
	"  THEN o.renew_at ELSE EXCLUDED.renew_at END, " \
	"  checked = EXCLUDED.checked, next_check = EXCLUDED.next_check, " \
	"  error = EXCLUDED.error RETURNING certinstance"

int
store_ari(struct store *st, json_t *rec, struct outcome *out)
{
	json_t *ari = json_object_get(rec, "ari");
	json_t *inst = json_object_get(rec, "instance");
	json_int_t n = json_integer_value(json_object_get(inst, "id"));
	const char *state = pki_str(inst, "state"), *p[3];
	char id[24], *text;
	PGresult *res;

	(void)out;
	if (!json_is_object(ari) || state == NULL ||
	    strcmp(state, "reserved") == 0)
		return 1;
	if (n <= 0 || n > 2147483647)
		return pki_rec_error(rec, "instance", "no instance id for "
		    "its renewal information");
	snprintf(id, sizeof(id), "%lld", (long long)n);
	if ((text = pki_json_text(ari, JSON_COMPACT)) == NULL)
		return pki_rec_error(rec, "ari", "out of memory");
	p[0] = id;
	p[1] = text;
	p[2] = pki_str(rec, "name");
	res = store_sql(st, rec, PUT_ARI, 3, p);
	free(text);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return pki_rec_error(rec, "instance", "instance %s is not one "
		    "of %s's: its renewal information is not stored", id,
		    pki_rec_name(rec));
	}
	PQclear(res);
	pki_info("%s: instance %s: renewal information %s, ask again at %s",
	    pki_rec_name(rec), id, pki_str(ari, "status"),
	    pki_str(ari, "next_check"));
	return 0;
}
