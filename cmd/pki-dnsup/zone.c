/*
 * zone.c - where each owner goes: the CNAMEs at it followed, the zone of
 * the name they lead to (the SOA that the resolver's answer names), the
 * zone's primary (the SOA MNAME, or --server) and its authoritative
 * servers (the addresses of its NS, port 53, or --ns).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dnsup.h"

#define CNAME_MAX	8	/* the longest chain of CNAMEs followed */
#define LOOKUP_WAIT	3.0	/* the longest wait for the resolver, s */

/* What the resolver said about an owner. */
struct lookup {
	char	 owner[NAME_LEN];	/* the owner asked for */
	char	 target[NAME_LEN];	/* the name its CNAMEs lead to */
	char	 zone[NAME_LEN];	/* the zone of TARGET */
	char	 mname[NAME_LEN];	/* the zone's primary, from its SOA */
	char	 why[512];		/* "" or why it failed */
};

/* Ask the resolver NAME's TYPE; the reply (NOERROR or NXDOMAIN) in
 * *REPLY (caller frees), else -1 with WHY. */
static int
ask(const struct config *cfg, const char *name, ldns_rr_type type,
    ldns_pkt **reply, char *why, size_t len)
{
	ldns_pkt_rcode rc;

	if (dns_query(&cfg->resolver, 1, name, type, LOOKUP_WAIT,
	    cfg->deadline, reply, why, len) == -1)
		return -1;
	rc = ldns_pkt_get_rcode(*reply);
	if (rc == LDNS_RCODE_NOERROR || rc == LDNS_RCODE_NXDOMAIN)
		return 0;
	snprintf(why, len, "%s", dns_rcode(rc));
	ldns_pkt_free(*reply);
	*reply = NULL;
	return -1;
}

/* The first RR of TYPE in LIST, owned by NAME when NAME is not NULL. */
static ldns_rr *
find_rr(const ldns_rr_list *list, ldns_rr_type type, const char *name)
{
	ldns_rdf *dname = NULL;
	ldns_rr *rr, *found = NULL;
	size_t i;

	if (name != NULL && (dname = ldns_dname_new_frm_str(name)) == NULL)
		return NULL;
	for (i = 0; found == NULL && i < ldns_rr_list_rr_count(list); i++) {
		rr = ldns_rr_list_rr(list, i);
		if (ldns_rr_get_type(rr) == type && ldns_rr_rd_count(rr) > 0 &&
		    (dname == NULL ||
		    ldns_dname_compare(ldns_rr_owner(rr), dname) == 0))
			found = rr;
	}
	ldns_rdf_deep_free(dname);
	return found;
}

/* RDF (a name) as checked text into OUT; -1 with WHY if it cannot be. */
static int
name_text(const ldns_rdf *rdf, char out[NAME_LEN], char *why, size_t len)
{
	const char *bad;
	char *s;

	if ((s = dname_text(rdf)) == NULL || strlen(s) >= NAME_LEN) {
		snprintf(why, len, "a name too long");
		free(s);
		return -1;
	}
	if ((bad = owner_check(s)) != NULL) {
		snprintf(why, len, "a name that is not a host name (%s)", bad);
		free(s);
		return -1;
	}
	snprintf(out, NAME_LEN, "%s", s);
	free(s);
	return 0;
}

/* Follow the CNAMEs at L->owner to L->target. */
static int
follow_cnames(const struct config *cfg, struct lookup *l)
{
	ldns_pkt *reply;
	ldns_rr *cname;
	int n, rc;

	snprintf(l->target, sizeof(l->target), "%s", l->owner);
	for (n = 0; n <= CNAME_MAX; n++) {
		if (ask(cfg, l->target, LDNS_RR_TYPE_CNAME, &reply, l->why,
		    sizeof(l->why)) == -1)
			return -1;
		cname = find_rr(ldns_pkt_answer(reply), LDNS_RR_TYPE_CNAME,
		    l->target);
		rc = cname == NULL ? 1 : name_text(ldns_rr_rdf(cname, 0),
		    l->target, l->why, sizeof(l->why));
		ldns_pkt_free(reply);
		if (rc != 0)
			return rc == 1 ? 0 : -1;
		pki_debug("%s: CNAME to %s", l->owner, l->target);
	}
	snprintf(l->why, sizeof(l->why), "more than %d CNAMEs", CNAME_MAX);
	return -1;
}

/*
 * The zone of L->target: the owner of the SOA in the answer (TARGET is
 * the zone's apex) or in the authority section (a NODATA or NXDOMAIN
 * answer names the zone there), and its MNAME.
 */
static int
find_zone(const struct config *cfg, struct lookup *l)
{
	ldns_rdf *name = NULL, *zone = NULL;
	ldns_pkt *reply;
	ldns_rr *soa;
	int rc = -1;

	if (ask(cfg, l->target, LDNS_RR_TYPE_SOA, &reply, l->why,
	    sizeof(l->why)) == -1)
		return -1;
	if ((soa = find_rr(ldns_pkt_answer(reply), LDNS_RR_TYPE_SOA,
	    l->target)) == NULL)
		soa = find_rr(ldns_pkt_authority(reply), LDNS_RR_TYPE_SOA, NULL);
	if (soa == NULL)
		snprintf(l->why, sizeof(l->why), "no SOA in the answer of %s",
		    ldns_pkt_get_rcode(reply) == LDNS_RCODE_NXDOMAIN ?
		    "NXDOMAIN" : "NOERROR");
	else if (name_text(ldns_rr_owner(soa), l->zone, l->why,
	    sizeof(l->why)) == 0 && name_text(ldns_rr_rdf(soa, 0), l->mname,
	    l->why, sizeof(l->why)) == 0) {
		name = ldns_dname_new_frm_str(l->target);
		zone = ldns_dname_new_frm_str(l->zone);
		if (name != NULL && zone != NULL && (ldns_dname_compare(name,
		    zone) == 0 || ldns_dname_is_subdomain(name, zone)))
			rc = 0;
		else
			snprintf(l->why, sizeof(l->why), "the SOA of %s is "
			    "not above it", l->zone);
	}
	ldns_rdf_deep_free(name);
	ldns_rdf_deep_free(zone);
	ldns_pkt_free(reply);
	return rc;
}

/* The lookup of OWNER, from CACHE or made now and added to it; NULL on
 * memory exhaustion. */
static struct lookup *
lookup(struct lookup **cache, size_t *n, const char *owner,
    const struct config *cfg)
{
	struct lookup *l;
	size_t i;

	for (i = 0; i < *n; i++)
		if (strcasecmp((*cache)[i].owner, owner) == 0)
			return &(*cache)[i];
	if ((l = reallocarray(*cache, *n + 1, sizeof(*l))) == NULL)
		return NULL;
	*cache = l;
	l = &l[(*n)++];
	memset(l, 0, sizeof(*l));
	snprintf(l->owner, sizeof(l->owner), "%s", owner);
	if (follow_cnames(cfg, l) == 0 && find_zone(cfg, l) == 0)
		pki_debug("%s: in zone %s", l->target, l->zone);
	return l;
}

/* Z's primary: --server, else the first address of MNAME. */
static int
zone_primary(struct zone *z, const char *mname, const struct config *cfg,
    char *why, size_t len)
{
	struct servers list = { NULL, 0 };
	int rc;

	if (cfg->primary.n > 0)
		rc = servers_copy(&list, &cfg->primary);
	else
		rc = dns_addresses(&list, mname, 53, &cfg->resolver,
		    cfg->deadline, why, len);
	if (rc == 0 && (z->primary.addr = ldns_rdf_clone(list.v[0].addr)) ==
	    NULL)
		rc = -1;
	if (rc == 0) {
		z->primary.port = list.v[0].port;
		memcpy(z->primary.text, list.v[0].text, sizeof(z->primary.text));
	} else if (cfg->primary.n > 0)
		snprintf(why, len, "out of memory");
	servers_free(&list);
	return rc;
}

/* Z's authoritative servers: --ns, else the addresses of its NS. */
static int
zone_ns(struct zone *z, const struct config *cfg, char *why, size_t len)
{
	char host[NAME_LEN], hwhy[512];
	ldns_rr_list *rrs;
	ldns_pkt *reply;
	ldns_rr *rr;
	size_t i;

	if (cfg->ns.n > 0)
		return servers_copy(&z->ns, &cfg->ns);
	if (ask(cfg, z->name, LDNS_RR_TYPE_NS, &reply, why, len) == -1)
		return -1;
	rrs = ldns_pkt_answer(reply);
	ldns_rr_list_sort(rrs);		/* servers in the same order each run */
	for (i = 0; i < ldns_rr_list_rr_count(rrs); i++) {
		rr = ldns_rr_list_rr(rrs, i);
		if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_NS ||
		    ldns_rr_rd_count(rr) != 1)
			continue;
		if (name_text(ldns_rr_rdf(rr, 0), host, hwhy,
		    sizeof(hwhy)) == -1)
			pki_warn("zone %s: an NS record not used: %s", z->name,
			    hwhy);
		else if (dns_addresses(&z->ns, host, 53, &cfg->resolver,
		    cfg->deadline, hwhy, sizeof(hwhy)) == -1)
			pki_warn("zone %s: NS %s not asked: %s", z->name, host,
			    hwhy);
	}
	ldns_pkt_free(reply);
	if (z->ns.n > 0)
		return 0;
	snprintf(why, len, "no NS record with an address");
	return -1;
}

/* Set up the zone Z first met now: its include file, or its primary; its
 * authoritative servers.  Z fails if they cannot be found. */
static void
zone_setup(struct batch *b, struct zone *z, const char *mname,
    const struct config *cfg)
{
	char why[512];

	z->ready = 1;
	if (cfg->include != NULL &&
	    (z->file = zonefile_path(cfg->include, z->name)) == NULL)
		zone_fail(b, z, "out of memory");
	else if (cfg->include == NULL &&
	    zone_primary(z, mname, cfg, why, sizeof(why)) == -1)
		zone_fail(b, z, "zone %s: primary %s: %s", z->name, mname, why);
	else if (zone_ns(z, cfg, why, sizeof(why)) == -1)
		zone_fail(b, z, "zone %s: authoritative servers: %s", z->name,
		    why);
	else
		pki_info("zone %s: %s %s, %zu authoritative servers", z->name,
		    z->file != NULL ? "file" : "primary", z->file != NULL ?
		    z->file : z->primary.text, z->ns.n);
}

/* Where item IT goes, found with the lookups of CACHE. */
static void
locate(struct batch *b, struct item *it, struct lookup **cache, size_t *n,
    const struct config *cfg)
{
	struct lookup *l;
	struct zone *z = NULL;

	if ((l = lookup(cache, n, it->owner, cfg)) != NULL &&
	    l->why[0] != '\0') {
		item_fail(b, it, "zone of %s not found: %s", it->owner, l->why);
		return;
	}
	if (l == NULL || (z = batch_zone(b, l->zone, NULL, NULL)) == NULL) {
		item_fail(b, it, "out of memory");
		return;
	}
	if (strcasecmp(l->target, it->owner) != 0) {
		memcpy(it->asked, it->owner, sizeof(it->asked));
		memcpy(it->owner, l->target, sizeof(it->owner));
	}
	it->zone = z;
	if (!z->ready)
		zone_setup(b, z, l->mname, cfg);
	else if (z->error != NULL)
		item_fail(b, it, "%s", z->error);
}

void
zones_locate(struct batch *b, const struct config *cfg)
{
	struct lookup *cache = NULL;
	size_t i, n = 0;

	for (i = 0; i < b->nitems; i++)
		if (b->items[i].state == ITEM_NEW && b->items[i].zone == NULL)
			locate(b, &b->items[i], &cache, &n, cfg);
	free(cache);
}
