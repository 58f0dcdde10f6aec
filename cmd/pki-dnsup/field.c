/*
 * field.c - the dns field of the records: what pki-dnsup writes into
 * them once the items are done.
 *
 * Publishing adds an entry to dns.published for each RR published for
 * the record (an entry equal to one already there is not added twice);
 * withdrawing moves the entries of the RRs withdrawn from dns.published
 * to dns.removed.  A dns-persist-01 standing record, never withdrawn,
 * goes to dns.persist instead.  dns.seen is wait.c's.
 */
#include <stdlib.h>

#include "dnsup.h"

/* The entry of dns.published for the done item IT. */
static json_t *
item_entry(const struct item *it)
{
	json_t *e;

	e = json_pack("{s:s, s:s, s:I, s:s, s:s}", "owner", it->owner,
	    "type", it->type == LDNS_RR_TYPE_TXT ? "TXT" : "TLSA",
	    "ttl", (json_int_t)it->ttl, "data", it->data,
	    "zone", it->zone->name);
	if (e == NULL)
		return NULL;
	if (it->zone->file != NULL)
		json_object_set_new(e, "file", json_string(it->zone->file));
	else
		json_object_set_new(e, "server",
		    json_string(it->zone->primary.text));
	if (it->asked[0] != '\0')
		json_object_set_new(e, "for", json_string(it->asked));
	return e;
}

/* The array KEY of object DNS, created empty (or in place of what is not
 * an array). */
static json_t *
array_member(json_t *dns, const char *key)
{
	json_t *a = json_object_get(dns, key);

	if (!json_is_array(a)) {
		a = json_array();
		json_object_set_new(dns, key, a);
	}
	return a;
}

/* Add the done items N of record I at IT to its dns.published. */
static int
record_published(json_t *dns, const struct item *it, size_t n)
{
	json_t *pub = array_member(dns, "published"), *e, *old;
	size_t i, j;
	int dup;

	for (i = 0; i < n; i++) {
		if (it[i].state != ITEM_DONE || it[i].empty || it[i].persist)
			continue;	/* an emptied RRset publishes nothing */
		if ((e = item_entry(&it[i])) == NULL)
			return -1;
		dup = 0;
		json_array_foreach(pub, j, old)
			dup |= json_equal(old, e);
		if (dup)
			json_decref(e);
		else
			json_array_append_new(pub, e);
	}
	return 0;
}

/* Add the done dns-persist-01 items N of a record at IT to its
 * dns.persist, marked "standing" (served already) or "published" (now):
 * not to dns.published, which --remove withdraws. */
static int
record_persist(json_t *dns, const struct item *it, size_t n)
{
	json_t *list = NULL, *e;
	size_t i;

	for (i = 0; i < n; i++) {
		if (it[i].state != ITEM_DONE || !it[i].persist)
			continue;
		if (list == NULL)
			list = array_member(dns, "persist");
		if ((e = item_entry(&it[i])) == NULL)
			return -1;
		json_object_set_new(e, "state", json_string(it[i].standing ?
		    "standing" : "published"));
		if (json_array_append_new(list, e) == -1)
			return -1;
	}
	return 0;
}

/* Move the entries of the done items N at IT from dns.published to
 * dns.removed; an item of no entry (a dead run's challenge) gets one
 * there. */
static int
record_removed(json_t *dns, const struct item *it, size_t n)
{
	json_t *pub = json_object_get(dns, "published"), *keep, *e;
	json_t *removed = array_member(dns, "removed");
	size_t i, j;
	int gone;

	for (i = 0; i < n; i++)
		if (it[i].entry == NULL && it[i].state == ITEM_DONE &&
		    ((e = item_entry(&it[i])) == NULL ||
		    json_array_append_new(removed, e) == -1))
			return -1;
	if ((keep = json_array()) == NULL)
		return -1;
	json_array_foreach(pub, j, e) {
		gone = 0;
		for (i = 0; i < n; i++)
			gone |= it[i].entry == e && it[i].state == ITEM_DONE;
		json_array_append(gone ? removed : keep, e);
	}
	json_object_set_new(dns, "published", keep);
	return 0;
}

int
items_record(struct batch *b, const struct config *cfg)
{
	size_t i, n, done;
	json_t *rec, *dns;

	for (i = 0; i < b->nitems; i += n) {
		done = 0;
		for (n = 0; i + n < b->nitems && b->items[i + n].rec ==
		    b->items[i].rec; n++)
			done += b->items[i + n].state == ITEM_DONE;
		if (done == 0)
			continue;
		rec = json_array_get(b->recs, b->items[i].rec);
		if ((dns = pki_rec_object(rec, "dns")) == NULL) {
			b->failed = 1;
			continue;
		}
		if ((cfg->remove ? record_removed(dns, &b->items[i], n) :
		    record_published(dns, &b->items[i], n) == -1 ? -1 :
		    record_persist(dns, &b->items[i], n)) == -1) {
			pki_err("out of memory");
			return -1;
		}
	}
	return 0;
}
