/*
 * update.c - one RFC 2136 UPDATE per zone, signed with TSIG (RFC 8945),
 * sent over TCP to the zone's primary.
 *
 * Adding an RR to an RRset leaves the set's other RRs (another run's
 * challenge values) where they are; withdrawing deletes exactly the RRs
 * that were published (class NONE), so the others stay too.  A TLSA item
 * replaces its RRset: the update deletes the set (class ANY) and adds the
 * new RRs in the same message, so no server serves the owner half-way.
 * The reply must carry a valid signature of the key; one that does not,
 * or an rcode other than NOERROR, fails the zone's items, and nothing of
 * them counts as published.
 */
#include <stdio.h>
#include <string.h>

#include "dnsup.h"

#define UPDATE_WAIT	10.0	/* the longest wait for the primary, s */

/* The TSIG error E (RFC 8945 5.3, RFC 2845 4.3) and what it tells. */
static const char *
tsig_error(int e, const char **hint)
{
	switch (e) {
	case 16:
		*hint = "the server has another secret for the key";
		return "BADSIG";
	case 17:
		*hint = "the server has no key of this name and algorithm";
		return "BADKEY";
	case 18:
		*hint = "the clocks of this host and the server differ";
		return "BADTIME";
	case 21:
		*hint = "the server does not know the algorithm";
		return "BADALG";
	case 22:
		*hint = "the server refused a truncated MAC";
		return "BADTRUNC";
	default:
		*hint = "see RFC 8945";
		return "an unknown one";
	}
}

/* What an rcode RC without a TSIG error tells of an update. */
static const char *
rcode_hint(int rc)
{
	switch (rc) {
	case LDNS_RCODE_REFUSED:
		return " (the server does not let this key update the zone)";
	case LDNS_RCODE_NOTAUTH:
		return " (the server is not authoritative for the zone)";
	case LDNS_RCODE_NOTZONE:
		return " (a name is not in the zone)";
	default:
		return "";
	}
}

/*
 * What is wrong with REPLY (status ST of ldns_send) from SRV to an update
 * signed with KEY: -1 with WHY, or 0 if nothing is.
 */
static int
reply_error(ldns_status st, const ldns_pkt *reply, const struct server *srv,
    const struct tsig_key *key, char *why, size_t len)
{
	const char *hint, *name;
	ldns_rr *tsig;
	int rc, terr = 0;

	if (reply == NULL) {
		snprintf(why, len, "no answer from %s (%s)", srv->text,
		    st == LDNS_STATUS_ERR || st == LDNS_STATUS_NETWORK_ERR ?
		    "connection refused or timed out" :
		    ldns_get_errorstr_by_id(st));
		return -1;
	}
	rc = ldns_pkt_get_rcode(reply);
	if ((tsig = ldns_pkt_tsig(reply)) != NULL && ldns_rr_rd_count(tsig) > 5)
		terr = ldns_rdf2native_int16(ldns_rr_rdf(tsig, 5));
	if (terr != 0) {
		name = tsig_error(terr, &hint);
		snprintf(why, len, "update refused by %s: %s, TSIG error %s: "
		    "%s (key %.*s, %.*s)", srv->text, dns_rcode(rc), name, hint,
		    (int)strlen(key->name) - 1, key->name,
		    (int)strcspn(key->algorithm, "."), key->algorithm);
	} else if (rc != LDNS_RCODE_NOERROR)
		snprintf(why, len, "update refused by %s: %s%s", srv->text,
		    dns_rcode(rc), rcode_hint(rc));
	else if (st != LDNS_STATUS_OK)
		snprintf(why, len, "the answer of %s is not signed with key %s: "
		    "%s", srv->text, key->name, ldns_get_errorstr_by_id(st));
	return terr != 0 || rc != LDNS_RCODE_NOERROR || st != LDNS_STATUS_OK ?
	    -1 : 0;
}

/* 1 if LIST holds an RR like RR of the same class. */
static int
listed(const ldns_rr_list *list, const ldns_rr *rr)
{
	const ldns_rr *o;
	size_t i;

	for (i = 0; i < ldns_rr_list_rr_count(list); i++) {
		o = ldns_rr_list_rr(list, i);
		if (ldns_rr_get_class(o) == ldns_rr_get_class(rr) &&
		    rr_same(o, rr))
			return 1;
	}
	return 0;
}

/* Push RR onto LIST unless listed already (then free it); 0 / -1. */
static int
push_once(ldns_rr_list *list, ldns_rr *rr)
{
	if (rr == NULL)
		return -1;
	if (listed(list, rr)) {
		ldns_rr_free(rr);
		return 0;
	}
	if (!ldns_rr_list_push_rr(list, rr)) {
		ldns_rr_free(rr);
		return -1;
	}
	return 0;
}

/* The delete of the RRset of IT's owner and type (class ANY). */
static ldns_rr *
rrset_delete(const struct item *it)
{
	ldns_rr *rr = item_rr(it, 1);
	size_t n;

	if (rr == NULL)
		return NULL;
	for (n = ldns_rr_rd_count(rr); n > 0; n--)
		ldns_rdf_deep_free(ldns_rr_pop_rdf(rr));
	ldns_rr_set_class(rr, LDNS_RR_CLASS_ANY);
	return rr;
}

/* The update section for the new items of Z; NULL on memory exhaustion. */
static ldns_rr_list *
update_rrs(const struct batch *b, const struct zone *z, int remove)
{
	ldns_rr_list *list = ldns_rr_list_new();
	const struct item *it;
	size_t i;

	for (i = 0; list != NULL && i < b->nitems; i++) {
		it = &b->items[i];
		if (it->zone != z || it->state != ITEM_NEW)
			continue;
		if ((!remove && it->replace &&
		    push_once(list, rrset_delete(it)) == -1) ||
		    (!it->empty && push_once(list, item_rr(it, remove)) == -1)) {
			ldns_rr_list_deep_free(list);
			list = NULL;
		}
	}
	return list;
}

/* Send the update RRS (with the prerequisites PRS, may be NULL) of zone
 * Z to its primary; 0, or -1 with WHY. */
static int
send_update(const struct zone *z, const ldns_rr_list *prs,
    const ldns_rr_list *rrs, const struct config *cfg, char *why, size_t len)
{
	struct servers primary = { (struct server *)&z->primary, 1 };
	ldns_resolver *res = NULL;
	ldns_pkt *pkt = NULL, *reply = NULL;
	ldns_rdf *zname;
	ldns_status st;
	double wait = cfg->deadline - pki_now();
	int rc = -1;

	snprintf(why, len, "out of memory");
	if (wait < 0.01)
		snprintf(why, len, "timed out before the update");
	else if ((zname = ldns_dname_new_frm_str(z->name)) != NULL &&
	    (pkt = ldns_update_pkt_new(zname, LDNS_RR_CLASS_IN, prs, rrs,
	    NULL)) != NULL && (res = dns_resolver(&primary, 0,
	    wait < UPDATE_WAIT ? wait : UPDATE_WAIT)) != NULL) {
		ldns_pkt_set_rd(pkt, false);
		ldns_resolver_set_usevc(res, true);
		tsig_apply(res, cfg->key);
		if ((st = ldns_update_pkt_tsig_add(pkt, res)) != LDNS_STATUS_OK)
			snprintf(why, len, "cannot sign the update: %s",
			    ldns_get_errorstr_by_id(st));
		else {
			st = ldns_send(&reply, res, pkt);
			rc = reply_error(st, reply, &z->primary, cfg->key, why,
			    len);
		}
	}
	ldns_pkt_free(reply);
	ldns_pkt_free(pkt);
	tsig_resolver_free(res);
	return rc;
}

void
zone_update(struct batch *b, struct zone *z, const struct config *cfg)
{
	ldns_rr_list *rrs;
	char why[512];
	size_t i;

	if (cfg->key == NULL) {
		zone_fail(b, z, "zone %s: no TSIG key to sign the update with "
		    "(--key-file or PKI_TSIG_KEY_FILE)", z->name);
		return;
	}
	if ((rrs = update_rrs(b, z, cfg->remove)) == NULL) {
		zone_fail(b, z, "zone %s: out of memory", z->name);
		return;
	}
	if (ldns_rr_list_rr_count(rrs) == 0 ||
	    send_update(z, NULL, rrs, cfg, why, sizeof(why)) == -1) {
		if (ldns_rr_list_rr_count(rrs) > 0)
			zone_fail(b, z, "zone %s: %s", z->name, why);
		ldns_rr_list_deep_free(rrs);
		return;
	}
	for (i = 0; i < b->nitems; i++)
		if (b->items[i].zone == z && b->items[i].state == ITEM_NEW)
			b->items[i].state = ITEM_DONE;
	pki_info("zone %s: one update to %s: %zu %s", z->name,
	    z->primary.text, ldns_rr_list_rr_count(rrs), cfg->remove ?
	    "deletions" : "changes");
	ldns_rr_list_deep_free(rrs);
}

/* The prerequisite "the name of zone Z is in use" (RFC 2136 2.4.4);
 * NULL on memory exhaustion. */
static ldns_rr_list *
apex_in_use(const struct zone *z)
{
	ldns_rr_list *list = ldns_rr_list_new();
	ldns_rdf *owner = ldns_dname_new_frm_str(z->name);
	ldns_rr *rr = ldns_rr_new();

	if (list == NULL || owner == NULL || rr == NULL) {
		ldns_rr_list_free(list);
		ldns_rdf_deep_free(owner);
		ldns_rr_free(rr);
		return NULL;
	}
	ldns_rr_set_owner(rr, owner);
	ldns_rr_set_type(rr, LDNS_RR_TYPE_ANY);
	ldns_rr_set_class(rr, LDNS_RR_CLASS_ANY);
	ldns_rr_set_ttl(rr, 0);
	if (!ldns_rr_list_push_rr(list, rr)) {
		ldns_rr_free(rr);
		ldns_rr_list_free(list);
		return NULL;
	}
	return list;
}

void
zone_probe(struct batch *b, struct zone *z, const struct config *cfg)
{
	ldns_rr_list *prs, *none = NULL;
	char why[512];

	if (cfg->key == NULL) {
		zone_fail(b, z, "zone %s: no TSIG key to sign updates with "
		    "(--key-file or PKI_TSIG_KEY_FILE)", z->name);
		return;
	}
	prs = apex_in_use(z);
	if (prs == NULL || (none = ldns_rr_list_new()) == NULL)
		zone_fail(b, z, "zone %s: out of memory", z->name);
	else if (send_update(z, prs, none, cfg, why, sizeof(why)) == -1)
		zone_fail(b, z, "zone %s: %s", z->name, why);
	else
		pki_info("zone %s: %s takes updates signed with key %s",
		    z->name, z->primary.text, cfg->key->name);
	ldns_rr_list_free(none);
	ldns_rr_list_deep_free(prs);
}
