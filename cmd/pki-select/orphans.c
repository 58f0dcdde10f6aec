/*
 * orphans.c - pki-select --orphans: the challenge records that runs which
 * died left in DNS, to withdraw.
 *
 * An ACME order is stored with the challenges it asks to publish before
 * any is published (pki-store --checkpoint), and marked withdrawn once
 * they are withdrawn.  An order whose challenges are not known withdrawn
 * and whose run is gone (its lock is free; for an order of no run, one
 * not touched for --stale seconds) left them behind, unless a live run
 * has claimed its certificate and is at work on it.  One record per
 * certificate: its dns-01 challenges of those orders, and the orders
 * ("acme"."left": url, algo, run) for pki-store to mark withdrawn once
 * pki-dnsup --remove has withdrawn them:
 *
 *   pki-select --orphans | pki-dnsup --remove | pki-store
 */
#include <stdio.h>
#include <stdlib.h>

#include "select.h"

/* The orders whose challenges a dead run left ($1: --stale seconds),
 * one row per certificate: its record. */
#define ORPHANS \
	"WITH left_orders AS (SELECT o.* FROM acme_orders o " \
	"  WHERE o.withdrawn IS NULL " \
	"  AND o.challenges @> '[{\"type\": \"dns-01\"}]' " \
	"  AND CASE WHEN o.run IS NULL THEN coalesce(o.updated, o.created) < " \
	"  (now() AT TIME ZONE 'UTC') - make_interval(secs => $1::int) " \
	"  ELSE o.run NOT IN (SELECT run FROM runs_alive()) END " \
	"  AND NOT EXISTS (SELECT 1 FROM certinstances i " \
	"    WHERE i.certificate = o.certificate AND i.state = 'reserved' " \
	"    AND i.run IN (SELECT run FROM runs_alive()))) " \
	"SELECT json_build_object('id', l.certificate, 'name', s.name, " \
	"  'action', 'withdraw', 'challenges', (SELECT coalesce(" \
	"    jsonb_agg(c ORDER BY l2.id), '[]') FROM left_orders l2, " \
	"    jsonb_array_elements(l2.challenges) c " \
	"    WHERE l2.certificate = l.certificate " \
	"    AND c->>'type' = 'dns-01'), " \
	"  'acme', json_build_object('left', json_agg(json_build_object(" \
	"    'url', l.url, 'algo', l.algo, 'run', l.run, " \
	"    'account', l.account) ORDER BY l.id))) " \
	"FROM left_orders l JOIN subjects s ON s.certificate = l.certificate " \
	"  AND NOT s.isaltname GROUP BY l.certificate, s.name ORDER BY s.name"

int
select_orphans(PGconn *db, const struct selection *sel)
{
	char age[24];
	const char *p[1] = { age };
	json_error_t jerr;
	json_t *rec;
	PGresult *res;
	int i, rc = PKI_EXIT_OK;

	snprintf(age, sizeof(age), "%ld", sel->stale);
	if ((res = pki_db_exec(db, ORPHANS, 1, p)) == NULL)
		return PKI_EXIT_FATAL;
	if (PQntuples(res) > 0)
		pki_warn("%d certificate%s with challenge records left by a "
		    "run that is gone", PQntuples(res), PQntuples(res) == 1 ?
		    "" : "s");
	for (i = 0; i < PQntuples(res) && rc == PKI_EXIT_OK; i++) {
		if ((rec = json_loads(PQgetvalue(res, i, 0), 0, &jerr)) == NULL) {
			pki_err("acme_orders: %s", jerr.text);
			rc = PKI_EXIT_FATAL;
		} else if (pki_out(rec) == -1)
			rc = PKI_EXIT_FATAL;
		json_decref(rec);
	}
	PQclear(res);
	return rc;
}
