/*
 * wait.c - until every authoritative server serves the change.
 *
 * Each owner published in a zone is asked of each authoritative server of
 * the zone, straight and without recursion, every --interval, until the
 * server answers authoritatively with every RR published there (for a
 * replaced RRset: with those and no other), or until the deadline.  A
 * server that does not answer is asked nothing more in that round.  There
 * is no fixed sleep: an owner is done as soon as every server has it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "dnsup.h"

#define POLL_WAIT	1.0	/* the longest wait for one answer, s */

/* An owner of a zone and the RRs every server of the zone must serve. */
struct watch {
	const struct zone *zone;
	const char	*owner;		/* an item's */
	uint16_t	 type;
	int		 exact;		/* the RRset is to be WANT alone */
	ldns_rr_list	*want;
	time_t		*seen;		/* per server of the zone; 0: not yet */
	char		*mute;		/* per server: 1 if it did not answer
					   when last asked (for any owner) */
	size_t		 missing;	/* servers that do not serve it yet */
};

struct watches {
	struct watch	*v;
	size_t		 n;
};

static void
watches_free(struct watches *ws)
{
	size_t i;

	for (i = 0; i < ws->n; i++) {
		ldns_rr_list_deep_free(ws->v[i].want);
		free(ws->v[i].seen);
		free(ws->v[i].mute);
	}
	free(ws->v);
}

/* The watch of IT's zone, owner and type; NULL if there is none. */
static struct watch *
find_watch(const struct watches *ws, const struct item *it)
{
	size_t i;

	for (i = 0; i < ws->n; i++)
		if (ws->v[i].zone == it->zone && ws->v[i].type == it->type &&
		    strcasecmp(ws->v[i].owner, it->owner) == 0)
			return &ws->v[i];
	return NULL;
}

/* The watch of IT, created when new; NULL on memory exhaustion. */
static struct watch *
watch_for(struct watches *ws, const struct item *it)
{
	struct watch *w;

	if ((w = find_watch(ws, it)) != NULL)
		return w;
	if ((w = reallocarray(ws->v, ws->n + 1, sizeof(*w))) == NULL)
		return NULL;
	ws->v = w;
	w = &ws->v[ws->n];
	*w = (struct watch){ it->zone, it->owner, it->type, it->replace,
	    ldns_rr_list_new(), calloc(it->zone->ns.n, sizeof(time_t)),
	    calloc(it->zone->ns.n, 1), it->zone->ns.n };
	if (w->want == NULL || w->seen == NULL || w->mute == NULL) {
		ldns_rr_list_deep_free(w->want);
		free(w->seen);
		free(w->mute);
		return NULL;
	}
	ws->n++;
	return w;
}

/* 1 if LIST holds an RR like RR. */
static int
listed(const ldns_rr_list *list, const ldns_rr *rr)
{
	size_t i;

	for (i = 0; i < ldns_rr_list_rr_count(list); i++)
		if (rr_same(ldns_rr_list_rr(list, i), rr))
			return 1;
	return 0;
}

/* The watches of the done items: what each server must serve. */
static int
watches_build(struct watches *ws, const struct batch *b)
{
	struct watch *w;
	ldns_rr *rr;
	size_t i;

	for (i = 0; i < b->nitems; i++) {
		if (b->items[i].state != ITEM_DONE || b->items[i].standing ||
		    b->items[i].zone->error != NULL)
			continue;	/* a reload failed: no use waiting */
		if ((w = watch_for(ws, &b->items[i])) == NULL)
			return -1;
		if (b->items[i].empty)
			continue;	/* the RRset is to be empty */
		if ((rr = item_rr(&b->items[i], 0)) == NULL)
			return -1;
		if (listed(w->want, rr))	/* two records, one value */
			ldns_rr_free(rr);
		else if (!ldns_rr_list_push_rr(w->want, rr)) {
			ldns_rr_free(rr);
			return -1;
		}
	}
	return 0;
}

/* 1 if ANSWER holds every RR W wants (and, when W is exact, no other of
 * its owner and type). */
static int
has_all(const struct watch *w, const ldns_rr_list *answer)
{
	size_t i, found = 0, others = 0;
	const ldns_rr *a;

	for (i = 0; i < ldns_rr_list_rr_count(answer); i++) {
		a = ldns_rr_list_rr(answer, i);
		if (ldns_rr_get_type(a) != w->type)
			continue;
		if (listed(w->want, a))
			found++;
		else
			others++;
	}
	/* The answer holds each RR once, and only of the owner asked. */
	return found == ldns_rr_list_rr_count(w->want) &&
	    (!w->exact || others == 0);
}

/* Ask SRV for W's owner: 1 if it serves W, 0 if not yet, -1 if it did
 * not answer. */
static int
served(const struct watch *w, const struct server *srv, double deadline)
{
	struct servers one = { (struct server *)srv, 1 };
	ldns_pkt *reply;
	char why[256];
	int r, rc;

	if (dns_query(&one, 0, w->owner, w->type, POLL_WAIT, deadline, &reply,
	    why, sizeof(why)) == -1) {
		pki_debug("%s: %s", w->owner, why);
		return -1;
	}
	rc = ldns_pkt_get_rcode(reply);
	r = ldns_pkt_aa(reply) && (rc == LDNS_RCODE_NOERROR ||
	    rc == LDNS_RCODE_NXDOMAIN) && has_all(w, ldns_pkt_answer(reply));
	pki_debug("%s at %s: %s", w->owner, srv->text, r ? "served" :
	    !ldns_pkt_aa(reply) ? "not authoritative" : "not yet");
	ldns_pkt_free(reply);
	return r;
}

static size_t
missing(const struct watches *ws)
{
	size_t i, n = 0;

	for (i = 0; i < ws->n; i++)
		n += ws->v[i].missing;
	return n;
}

/* Whether the server of TEXT answered when last asked (MUTE 0) or not
 * (1), for every watch of a zone it serves. */
static void
note_answer(struct watches *ws, const char *text, char mute)
{
	size_t i, j;

	for (i = 0; i < ws->n; i++)
		for (j = 0; j < ws->v[i].zone->ns.n; j++)
			if (strcmp(ws->v[i].zone->ns.v[j].text, text) == 0)
				ws->v[i].mute[j] = mute;
}

/* Ask every server that does not serve its owner yet once. */
static void
poll_round(struct watches *ws, const struct config *cfg)
{
	struct servers down = { NULL, 0 };
	const struct server *srv;
	struct watch *w;
	size_t i, j;

	for (i = 0; i < ws->n && pki_now() < cfg->deadline; i++) {
		w = &ws->v[i];
		for (j = 0; j < w->zone->ns.n && pki_now() < cfg->deadline; j++) {
			srv = &w->zone->ns.v[j];
			if (w->seen[j] != 0 || servers_have(&down, srv->text))
				continue;
			switch (served(w, srv, cfg->deadline)) {
			case 1:
				w->seen[j] = time(NULL);
				w->missing--;
				/* FALLTHROUGH */
			case 0:
				note_answer(ws, srv->text, 0);
				break;
			case -1:
				note_answer(ws, srv->text, 1);
				servers_add(&down, srv->addr, srv->port);
				break;
			}
		}
	}
	servers_free(&down);
}

/* Poll every --interval until every server serves every owner, or the
 * deadline. */
static void
poll_all(struct watches *ws, const struct config *cfg)
{
	double start, next;

	while (missing(ws) > 0 && pki_now() < cfg->deadline) {
		start = pki_now();
		poll_round(ws, cfg);
		if (missing(ws) == 0)
			break;
		next = start + cfg->interval;
		pki_sleep_until(next < cfg->deadline ? next : cfg->deadline);
	}
}

/* The servers of W that do not serve its owner, as text into OUT; those
 * that did not answer when last asked say so. */
static void
lacking(const struct watch *w, char *out, size_t len)
{
	size_t j, used = 0;

	out[0] = '\0';
	for (j = 0; j < w->zone->ns.n; j++) {
		if (w->seen[j] != 0 || used >= len)
			continue;
		used += (size_t)snprintf(out + used, len - used, "%s%s%s",
		    used > 0 ? ", " : "", w->zone->ns.v[j].text,
		    w->mute[j] ? " (no answer)" : "");
	}
}

/* Write what W saw into dns.seen of record REC; an error for REC if a
 * server lacks it. */
static void
record_watch(struct batch *b, size_t rec, const struct watch *w,
    const struct config *cfg)
{
	json_t *dns, *seen, *o;
	char when[32], servers[512];
	size_t j;

	if ((dns = pki_rec_object(json_array_get(b->recs, rec), "dns")) ==
	    NULL) {
		b->failed = 1;
		return;
	}
	if (!json_is_object(seen = json_object_get(dns, "seen")))
		json_object_set_new(dns, "seen", seen = json_object());
	json_object_set_new(seen, w->owner, o = json_object());
	for (j = 0; j < w->zone->ns.n; j++) {
		if (w->seen[j] == 0)
			continue;
		pki_unix_rfc3339(w->seen[j], when);
		json_object_set_new(o, w->zone->ns.v[j].text,
		    json_string(when));
	}
	if (w->missing == 0)
		return;
	lacking(w, servers, sizeof(servers));
	record_error(b, rec, "dns", "%s: not served by %s within %g s",
	    w->owner, servers, cfg->timeout);
}

/* 1 if an earlier item of IT's record had the same watch as IT. */
static int
watched_before(const struct batch *b, size_t i, const struct watches *ws)
{
	const struct watch *w = find_watch(ws, &b->items[i]);

	while (i > 0 && b->items[i - 1].rec == b->items[i].rec) {
		i--;
		if (b->items[i].state == ITEM_DONE &&
		    find_watch(ws, &b->items[i]) == w)
			return 1;
	}
	return 0;
}

int
wait_seen(struct batch *b, const struct config *cfg)
{
	struct watches ws = { NULL, 0 };
	struct watch *w;
	size_t i;

	if (watches_build(&ws, b) == -1) {
		pki_err("out of memory");
		watches_free(&ws);
		return -1;
	}
	poll_all(&ws, cfg);
	for (i = 0; i < b->nitems; i++) {
		if (b->items[i].state != ITEM_DONE || b->items[i].standing ||
		    b->items[i].zone->error != NULL || watched_before(b, i, &ws))
			continue;
		if ((w = find_watch(&ws, &b->items[i])) != NULL)
			record_watch(b, b->items[i].rec, w, cfg);
	}
	watches_free(&ws);
	return 0;
}

/* 1 if every authoritative server of IT's zone serves IT's RR now; a
 * server that does not answer joins DOWN, and is not asked again. */
static int
served_everywhere(const struct item *it, struct servers *down,
    const struct config *cfg)
{
	struct watch w = { it->zone, it->owner, it->type, 0,
	    ldns_rr_list_new(), NULL, NULL, 0 };
	const struct server *srv;
	ldns_rr *rr = NULL;
	size_t j;
	int all = 0, r;

	if (w.want == NULL || (rr = item_rr(it, 0)) == NULL ||
	    !ldns_rr_list_push_rr(w.want, rr)) {
		ldns_rr_free(rr);
		goto out;
	}
	all = it->zone->ns.n > 0;
	for (j = 0; all && j < it->zone->ns.n; j++) {
		srv = &it->zone->ns.v[j];
		if (servers_have(down, srv->text) ||
		    (r = served(&w, srv, cfg->deadline)) == 0)
			all = 0;
		else if (r == -1) {
			servers_add(down, srv->addr, srv->port);
			all = 0;
		}
	}
out:
	ldns_rr_list_deep_free(w.want);
	return all;
}

void
persist_standing(struct batch *b, const struct config *cfg)
{
	struct servers down = { NULL, 0 };
	struct item *it;
	size_t i;

	for (i = 0; i < b->nitems; i++) {
		it = &b->items[i];
		if (!it->persist || it->state != ITEM_NEW || it->zone == NULL ||
		    !it->zone->ready || it->zone->error != NULL)
			continue;
		if (served_everywhere(it, &down, cfg)) {
			pki_info("%s: %s: the standing record is served by "
			    "every authoritative server: nothing to publish",
			    pki_rec_name(json_array_get(b->recs, it->rec)),
			    it->owner);
			it->state = ITEM_DONE;
			it->standing = 1;
		}
	}
	servers_free(&down);
}
