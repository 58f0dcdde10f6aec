/*
 * item.c - what pki-dnsup reads from the records: the items, and the
 * errors that befall them.
 *
 * Each RR to publish or withdraw for a record is an item.  Every string
 * of a record is checked here, before it can reach a packet, a file or
 * a command: owners are host names whose labels may start with "_",
 * TXT values printable ASCII without blanks, quotes or backslashes.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dnsup.h"

#define CHALLENGE_PREFIX "_acme-challenge."
#define TLSA_HEX_MAX	4096	/* a 3 0 0 certificate in hex fits */

void
batch_free(struct batch *b)
{
	struct zone *z;
	size_t i;

	for (i = 0; i < b->nitems; i++)
		free(b->items[i].data);
	free(b->items);
	for (i = 0; i < b->nzones; i++) {
		z = b->zones[i];
		ldns_rdf_deep_free(z->primary.addr);
		servers_free(&z->ns);
		free(z->file);
		free(z->error);
		free(z);
	}
	free(b->zones);
	json_decref(b->recs);
	memset(b, 0, sizeof(*b));
}

/* ------------------------------------------------------------ errors */

void
record_error(struct batch *b, size_t i, const char *field,
    const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pki_rec_error(json_array_get(b->recs, i), field, "%s", msg);
	b->failed = 1;
}

void
item_fail(struct batch *b, struct item *it, const char *fmt, ...)
{
	char msg[sizeof(b->last_msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	it->state = ITEM_FAILED;
	if (b->last_rec == it->rec + 1 && strcmp(b->last_msg, msg) == 0)
		return;
	b->last_rec = it->rec + 1;
	memcpy(b->last_msg, msg, sizeof(msg));
	record_error(b, it->rec, it->field, "%s", msg);
}

void
zone_fail(struct batch *b, struct zone *z, const char *fmt, ...)
{
	char msg[sizeof(b->last_msg)];
	va_list ap;
	size_t i;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	free(z->error);
	if ((z->error = strdup(msg)) == NULL)
		pki_err("out of memory");
	for (i = 0; i < b->nitems; i++)
		if (b->items[i].zone == z && b->items[i].state == ITEM_NEW)
			item_fail(b, &b->items[i], "%s", msg);
}

/* ------------------------------------------------------------ checks */

const char *
owner_check(const char *owner)
{
	char name[NAME_LEN], *p;
	size_t len = strlen(owner);

	if (len < 2 || owner[len - 1] != '.')
		return "not an absolute name (with a trailing dot)";
	if (len >= sizeof(name))
		return "longer than 253 characters";
	memcpy(name, owner, len - 1);
	name[len - 1] = '\0';
	/* Service labels (RFC 8552) start with an underscore. */
	for (p = name; *p != '\0'; p++)
		if (*p == '_' && (p == name || p[-1] == '.'))
			*p = 'x';
	return pki_dns_name_check(name, 0);
}

/* OWNER, given with or without its trailing dot, into OUT (NAME_LEN). */
static const char *
absolute(const char *owner, char out[NAME_LEN])
{
	size_t len = owner != NULL ? strlen(owner) : 0;

	if (len == 0 || len >= NAME_LEN - 1)
		return "not a name";
	snprintf(out, NAME_LEN, "%s%s", owner, owner[len - 1] == '.' ?
	    "" : ".");
	return owner_check(out);
}

/* NULL if OWNER is "_acme-challenge.NAME." with NAME a host name
 * (RFC 8555 8.4); else what is wrong. */
static const char *
challenge_owner_check(const char *owner)
{
	const size_t plen = sizeof(CHALLENGE_PREFIX) - 1;
	size_t len = strlen(owner);
	char name[NAME_LEN];

	if (strncasecmp(owner, CHALLENGE_PREFIX, plen) != 0 ||
	    len < plen + 2 || len >= sizeof(name))
		return "not _acme-challenge.NAME.";
	memcpy(name, owner + plen, len - plen - 1);	/* without the dot */
	name[len - plen - 1] = '\0';
	return pki_dns_name_check(name, 0);
}

/* NULL if V can be a TXT value here, else what is wrong. */
static const char *
txt_check(const char *v)
{
	const char *p;

	if (v == NULL || *v == '\0' || strlen(v) > 255)
		return "not a string of 1 to 255 characters";
	for (p = v; *p != '\0'; p++)
		if (*p < 0x21 || *p > 0x7e || *p == '"' || *p == '\\')
			return "a character other than printable ASCII "
			    "without blank, quote or backslash";
	return NULL;
}

/* NULL if V is TLSA data "USAGE SELECTOR MTYPE HEX" as pki writes it
 * (one digit each, one blank between), else what is wrong. */
static const char *
tlsa_check(const char *v)
{
	size_t len;

	if (v == NULL || strlen(v) < 8 || v[0] < '0' || v[0] > '3' ||
	    v[1] != ' ' || v[2] < '0' || v[2] > '1' || v[3] != ' ' ||
	    v[4] < '0' || v[4] > '2' || v[5] != ' ')
		return "not \"USAGE SELECTOR MTYPE HEX\" (0-3, 0-1, 0-2)";
	len = strlen(v + 6);
	if (len % 2 != 0 || len > TLSA_HEX_MAX ||
	    strspn(v + 6, "0123456789abcdefABCDEF") != len)
		return "the data is not hexadecimal";
	return NULL;
}

/* An integer member KEY of O from 0 to MAX into *OUT; -1 if not one. */
static int
int_member(const json_t *o, const char *key, long max, long *out)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > max)
		return -1;
	*out = (long)json_integer_value(v);
	return 0;
}

/* ------------------------------------------------------------ gather */

/* Append an item for record I, unless it has one just like it; 0 / -1. */
static int
add_item(struct batch *b, const struct item *it)
{
	struct item *v;
	size_t i;

	for (i = b->nitems; i > 0 && b->items[i - 1].rec == it->rec; i--) {
		v = &b->items[i - 1];
		if (v->type == it->type && strcasecmp(v->owner, it->owner) ==
		    0 && strcmp(v->data, it->data) == 0 && it->entry == NULL)
			return 0;
	}
	if ((v = reallocarray(b->items, b->nitems + 1, sizeof(*v))) == NULL) {
		pki_err("out of memory");
		return -1;
	}
	b->items = v;
	v = &b->items[b->nitems];
	*v = *it;
	if ((v->data = strdup(it->data)) == NULL) {
		pki_err("out of memory");
		return -1;
	}
	b->nitems++;
	return 0;
}

/* NULL if OWNER is PKI_PERSIST_LABEL and one of REC's names (a
 * wildcard's without its "*."); else what is wrong. */
static const char *
persist_owner_check(json_t *rec, const char *owner)
{
	const size_t plen = sizeof(PKI_PERSIST_LABEL) - 1;
	size_t len = strlen(owner), i;
	const char *name, *why = "not " PKI_PERSIST_LABEL "NAME. for a "
	    "name of the record";
	json_t *names, *v;

	if (strncasecmp(owner, PKI_PERSIST_LABEL, plen) != 0 ||
	    len < plen + 2 || (names = pki_rec_names(rec)) == NULL)
		return why;
	json_array_foreach(names, i, v) {
		name = json_string_value(v);
		if (strncmp(name, "*.", 2) == 0)
			name += 2;
		if (strlen(name) == len - plen - 1 &&
		    strncasecmp(name, owner + plen, len - plen - 1) == 0)
			why = NULL;
	}
	json_decref(names);
	return why;
}

/*
 * The dns-persist-01 challenge C of record REC as item IT: its value must
 * be the standing record that pki_persist_value() writes for the CA's
 * issuer, the policy and persistUntil the entry names, and the record's
 * own account (acme.account): pki-dnsup publishes no standing
 * authorization for another account.  0 (*VALUE, IT's data, is the
 * caller's to free), or -1 with WHY (the field and what is wrong).
 */
static int
persist_item(json_t *rec, const json_t *c, struct item *it, char **value,
    char *why, size_t len)
{
	const char *policy = pki_str(c, "policy"), *txt = pki_str(c, "txt"),
	    *bad;
	json_t *until = json_object_get(c, "persist_until");
	long long u = 0;

	if ((bad = persist_owner_check(rec, it->owner)) != NULL)
		snprintf(why, len, "owner: %s", bad);
	else if (policy != NULL && strcmp(policy, "wildcard") != 0)
		snprintf(why, len, "policy: not \"wildcard\"");
	else if (until != NULL && (!json_is_integer(until) ||
	    (u = json_integer_value(until)) < 1))
		snprintf(why, len, "persist_until: not a number of seconds "
		    "since 1970");
	else if ((*value = pki_persist_value(pki_str(c, "issuer"),
	    pki_str(json_object_get(rec, "acme"), "account"), policy != NULL,
	    u, &bad)) == NULL)
		snprintf(why, len, "issuer or acme.account: %s", bad);
	else if (txt == NULL || strcmp(txt, *value) != 0)
		snprintf(why, len, "txt: not the standing record of the "
		    "record's account (acme.account) and the CA's issuer");
	else {
		it->data = *value;
		it->persist = 1;
		return 0;
	}
	return -1;
}

/*
 * The dns-01 challenges of record I, and when publishing its
 * dns-persist-01 challenges (never withdrawn).  0; 1 after an error in
 * the record; -1 on memory exhaustion.
 */
int
challenges_gather(struct batch *b, size_t i, const struct config *cfg)
{
	json_t *rec = json_array_get(b->recs, i), *list, *c;
	char buf[300], *value = NULL;
	struct item it;
	const char *why, *type;
	size_t j;
	int rc;

	list = json_object_get(rec, "challenges");
	if (list == NULL || json_is_null(list))
		return 0;
	if (!json_is_array(list)) {
		record_error(b, i, "challenges", "must be an array");
		return 1;
	}
	json_array_foreach(list, j, c) {
		type = pki_str(c, "type");
		if (type != NULL && strcmp(type, "dns-persist-01") == 0 &&
		    !cfg->remove) {
			it = (struct item){ .rec = i, .field = "challenges",
			    .type = LDNS_RR_TYPE_TXT, .ttl = cfg->ttl };
			if ((why = absolute(pki_str(c, "owner"), it.owner)) !=
			    NULL)
				snprintf(buf, sizeof(buf), "owner: %s", why);
			if (why == NULL && persist_item(rec, c, &it, &value,
			    buf, sizeof(buf)) == 0)
				rc = add_item(b, &it);
			else {
				record_error(b, i, "challenges",
				    "challenges[%zu]: %s", j, buf);
				rc = 1;
			}
			free(value);
			value = NULL;
			if (rc != 0)
				return rc;
			continue;
		}
		if (type == NULL || strcmp(type, "dns-01") != 0)
			continue;	/* http-01 and others are not ours */
		it = (struct item){ .rec = i, .field = "challenges",
		    .type = LDNS_RR_TYPE_TXT, .ttl = cfg->ttl };
		if ((why = absolute(pki_str(c, "owner"), it.owner)) != NULL ||
		    (why = challenge_owner_check(it.owner)) != NULL) {
			record_error(b, i, "challenges", "challenges[%zu]: "
			    "owner: %s", j, why);
			return 1;
		}
		it.data = (char *)pki_str(c, "txt");
		if ((why = txt_check(it.data)) != NULL) {
			record_error(b, i, "challenges", "challenges[%zu]: "
			    "txt: %s", j, why);
			return 1;
		}
		if (add_item(b, &it) == -1)
			return -1;
	}
	return 0;
}

/* The item of TLSA record T into IT; NULL or what is wrong. */
static const char *
tlsa_item(const json_t *t, struct item *it, char *data, size_t len)
{
	const char *why, *hex = pki_str(t, "data");
	long ttl, u, s, m;

	if ((why = absolute(pki_str(t, "owner"), it->owner)) != NULL)
		return why;
	if (int_member(t, "ttl", 2147483647, &ttl) == -1 ||
	    int_member(t, "usage", 3, &u) == -1 ||
	    int_member(t, "selector", 1, &s) == -1 ||
	    int_member(t, "mtype", 2, &m) == -1)
		return "ttl, usage, selector or mtype missing or out of range";
	if (hex == NULL || strlen(hex) > TLSA_HEX_MAX)
		return "no data, or longer than 4096 hexadecimal digits";
	snprintf(data, len, "%ld %ld %ld %s", u, s, m, hex);
	it->ttl = (uint32_t)ttl;
	return tlsa_check(data);
}

/* 1 if record I has an item of type TLSA at OWNER already. */
static int
has_tlsa(const struct batch *b, size_t i, const char *owner)
{
	size_t j;

	for (j = b->nitems; j > 0 && b->items[j - 1].rec == i; j--)
		if (b->items[j - 1].type == LDNS_RR_TYPE_TLSA &&
		    strcasecmp(b->items[j - 1].owner, owner) == 0)
			return 1;
	return 0;
}

/* The owners of record I's "tlsa_empty" that have no TLSA entry: items
 * that empty their RRset; as challenges_gather(). */
static int
gather_empty(struct batch *b, size_t i)
{
	json_t *list = json_object_get(json_array_get(b->recs, i),
	    "tlsa_empty"), *o;
	struct item it;
	const char *why;
	size_t j;

	if (list == NULL || json_is_null(list))
		return 0;
	if (!json_is_array(list)) {
		record_error(b, i, "tlsa_empty", "must be an array");
		return 1;
	}
	json_array_foreach(list, j, o) {
		it = (struct item){ .rec = i, .field = "tlsa",
		    .type = LDNS_RR_TYPE_TLSA, .replace = 1, .empty = 1,
		    .data = "" };
		if ((why = absolute(json_string_value(o), it.owner)) != NULL) {
			record_error(b, i, "tlsa_empty", "tlsa_empty[%zu]: %s",
			    j, why);
			return 1;
		}
		if (!has_tlsa(b, i, it.owner) && add_item(b, &it) == -1)
			return -1;
	}
	return 0;
}

/* The TLSA records of record I (--tlsa), then the owners it empties; as
 * challenges_gather(). */
static int
gather_tlsa(struct batch *b, size_t i)
{
	json_t *list = json_object_get(json_array_get(b->recs, i), "tlsa"), *t;
	char data[TLSA_HEX_MAX + 16];
	struct item it;
	const char *why;
	size_t j;

	if (list != NULL && !json_is_null(list) && !json_is_array(list)) {
		record_error(b, i, "tlsa", "must be an array");
		return 1;
	}
	json_array_foreach(list, j, t) {
		it = (struct item){ .rec = i, .field = "tlsa",
		    .type = LDNS_RR_TYPE_TLSA, .replace = 1, .data = data };
		if ((why = tlsa_item(t, &it, data, sizeof(data))) != NULL) {
			record_error(b, i, "tlsa", "tlsa[%zu]: %s", j, why);
			return 1;
		}
		if (add_item(b, &it) == -1)
			return -1;
	}
	return gather_empty(b, i);
}

/* Where entry E of dns.published was put: its zone, or NULL with WHY. */
static const char *
entry_zone(struct batch *b, const json_t *e, const struct config *cfg,
    const char *owner, struct zone **zp)
{
	const char *server = pki_str(e, "server"), *file = pki_str(e, "file");
	char zone[NAME_LEN], *want = NULL;
	struct server srv;
	const char *why;
	size_t zl, ol = strlen(owner);

	if ((why = absolute(pki_str(e, "zone"), zone)) != NULL)
		return why;
	zl = strlen(zone);
	if (zl > ol || strcasecmp(owner + ol - zl, zone) != 0 ||
	    (zl < ol && owner[ol - zl - 1] != '.'))
		return "the owner is not in the zone";
	if ((server == NULL) == (file == NULL))
		return "neither server nor file, or both";
	if (server != NULL) {
		if (server_from_text(&srv, server) == -1)
			why = "server is not ADDRESS#PORT";
		ldns_rdf_deep_free(srv.addr);
	}
	if (why == NULL && file != NULL && (cfg->include == NULL ||
	    (want = zonefile_path(cfg->include, zone)) == NULL ||
	    strcmp(want, file) != 0))
		why = "its file is not the one --include-file names for the zone";
	free(want);
	if (why == NULL && (*zp = batch_zone(b, zone, file, server)) == NULL)
		why = "out of memory";
	return why;
}

/* The item of entry E of record I's dns.published; NULL or what's wrong. */
static const char *
published_item(struct batch *b, size_t i, json_t *e,
    const struct config *cfg, struct item *it)
{
	const char *why, *type = pki_str(e, "type"), *asked;
	long ttl;

	*it = (struct item){ .rec = i, .field = "dns", .entry = e };
	if (!json_is_object(e))
		return "not an object";
	if ((why = absolute(pki_str(e, "owner"), it->owner)) != NULL)
		return why;
	if ((asked = pki_str(e, "for")) != NULL &&
	    (why = absolute(asked, it->asked)) != NULL)
		return why;
	if (type != NULL && strcmp(type, "TXT") == 0)
		it->type = LDNS_RR_TYPE_TXT;
	else if (type != NULL && strcmp(type, "TLSA") == 0)
		it->type = LDNS_RR_TYPE_TLSA;
	else
		return "type is not TXT or TLSA";
	if (int_member(e, "ttl", 2147483647, &ttl) == -1)
		return "ttl is not a number from 0 to 2147483647";
	it->ttl = (uint32_t)ttl;
	it->data = (char *)pki_str(e, "data");
	why = it->type == LDNS_RR_TYPE_TXT ? txt_check(it->data) :
	    tlsa_check(it->data);
	if (why != NULL)
		return why;
	return entry_zone(b, e, cfg, it->owner, &it->zone);
}

/* The entries of record I's dns.published (--remove); as above. */
static int
gather_published(struct batch *b, size_t i, const struct config *cfg)
{
	json_t *dns = json_object_get(json_array_get(b->recs, i), "dns");
	json_t *list = json_object_get(dns, "published"), *e;
	const char *why;
	struct item it;
	size_t j;
	int rc = 0;

	if (dns != NULL && !json_is_null(dns) && !json_is_object(dns)) {
		record_error(b, i, "dns", "must be an object");
		return 1;
	}
	if (list == NULL || json_is_null(list))
		return 0;
	if (!json_is_array(list)) {
		record_error(b, i, "dns", "dns.published: must be an array");
		return 1;
	}
	json_array_foreach(list, j, e) {
		if ((why = published_item(b, i, e, cfg, &it)) != NULL) {
			record_error(b, i, "dns", "dns.published[%zu]: %s", j,
			    why);
			rc = 1;	/* the others are withdrawn */
		} else if (add_item(b, &it) == -1)
			return -1;
	}
	return rc;
}

int
withdraw_record(const json_t *rec)
{
	const char *action = pki_str(rec, "action");

	return action != NULL && strcmp(action, "withdraw") == 0;
}

/* 1 if REC is about to be ordered from an ACME CA with dns-01
 * challenges: of "ca" "acme", its "challenge" dns-01 (or none), with a
 * CSR of an algorithm that has neither a certificate nor an order. */
static int
needs_dns01(const json_t *rec)
{
	const char *ca = pki_str(rec, "ca"), *ch = pki_str(rec, "challenge");
	json_t *certs = json_object_get(rec, "cert"), *csr;
	json_t *orders = json_object_get(json_object_get(rec, "acme"),
	    "orders");
	const char *algo;

	if (ca == NULL || strcmp(ca, "acme") != 0 ||
	    (ch != NULL && strcmp(ch, "dns-01") != 0))
		return 0;
	json_object_foreach(json_object_get(rec, "csr"), algo, csr)
		if (json_object_get(certs, algo) == NULL &&
		    json_object_get(orders, algo) == NULL)
			return 1;
	return 0;
}

int
probe_gather(struct batch *b, size_t i)
{
	json_t *rec = json_array_get(b->recs, i), *names, *v;
	const char *name, *why;
	struct item it;
	size_t j;
	int rc = 0;

	if (!needs_dns01(rec))
		return 0;
	if ((names = pki_rec_names(rec)) == NULL) {
		b->failed = 1;
		return 1;
	}
	json_array_foreach(names, j, v) {
		name = json_string_value(v);
		if (pki_ip_name(name, NULL)) {
			/* RFC 8738 7: no dns-01 for an address */
			record_error(b, i, "challenge", "%s: an IP address "
			    "is validated by http-01 or tls-alpn-01, not "
			    "dns-01 (RFC 8738 7)", name);
			rc = 1;
			break;
		}
		if (strncmp(name, "*.", 2) == 0)
			name += 2;	/* RFC 8555 8.4: the same owner */
		it = (struct item){ .rec = i, .field = "dns",
		    .type = LDNS_RR_TYPE_TXT, .data = "-" };
		snprintf(it.owner, sizeof(it.owner), "%s%s.",
		    CHALLENGE_PREFIX, name);
		if ((why = owner_check(it.owner)) != NULL) {
			record_error(b, i, "dns", "%s: %s", it.owner, why);
			rc = 1;
			break;
		}
		if ((rc = add_item(b, &it)) == -1)
			break;
	}
	json_decref(names);
	return rc;
}

/* Forget the items from the BEFORE-th on. */
static void
items_drop(struct batch *b, size_t before)
{
	while (b->nitems > before)
		free(b->items[--b->nitems].data);
}

int
items_gather(struct batch *b, size_t i, const struct config *cfg)
{
	size_t before = b->nitems;
	int rc = 0, r;

	if (cfg->check) {
		if (!pki_rec_failed(json_array_get(b->recs, i)))
			rc = probe_gather(b, i);
	} else if (cfg->remove) {	/* records with errors too: undo */
		rc = gather_published(b, i, cfg);
		/* A dead run's challenges, wherever their zone is now. */
		if (rc != -1 && withdraw_record(json_array_get(b->recs, i)) &&
		    (r = challenges_gather(b, i, cfg)) != 0)
			rc = r;
	} else if (!pki_rec_failed(json_array_get(b->recs, i))) {
		rc = challenges_gather(b, i, cfg);
		if (rc == 0 && cfg->tlsa)
			rc = gather_tlsa(b, i);
		if (rc == 1)	/* a bad entry: nothing of the record */
			items_drop(b, before);
	}
	if (rc == -1)
		items_drop(b, before);
	return rc;
}

struct zone *
batch_zone(struct batch *b, const char *name, const char *file,
    const char *primary)
{
	struct zone *z, **v;
	size_t i;

	for (i = 0; i < b->nzones; i++) {
		z = b->zones[i];
		if (strcasecmp(z->name, name) == 0 && (file == NULL ||
		    (z->file != NULL && strcmp(z->file, file) == 0)) &&
		    (primary == NULL || (z->primary.addr != NULL &&
		    strcmp(z->primary.text, primary) == 0)))
			return z;
	}
	if ((v = reallocarray(b->zones, b->nzones + 1, sizeof(*v))) == NULL ||
	    (z = calloc(1, sizeof(*z))) == NULL) {
		if (v != NULL)
			b->zones = v;
		pki_err("out of memory");
		return NULL;
	}
	b->zones = v;
	b->zones[b->nzones++] = z;
	snprintf(z->name, sizeof(z->name), "%s", name);
	if (file != NULL && (z->file = strdup(file)) == NULL)
		return NULL;
	if (primary != NULL && server_from_text(&z->primary, primary) == -1)
		return NULL;
	z->ready = file != NULL || primary != NULL;
	return z;
}

/* ------------------------------------------------------------ RRs */

/* Push RDF (NULL: memory exhausted) onto RR; 0 / -1. */
static int
push(ldns_rr *rr, ldns_rdf *rdf)
{
	if (rdf == NULL)
		return -1;
	if (!ldns_rr_push_rdf(rr, rdf)) {
		ldns_rdf_deep_free(rdf);
		return -1;
	}
	return 0;
}

/* The TXT value D pushed onto RR as character-strings of at most 255
 * octets (RFC 1035 3.3: a standing record may be longer); 0 / -1. */
static int
push_txt(ldns_rr *rr, const char *d)
{
	char part[256];
	size_t len = strlen(d), n;

	do {
		n = len > 255 ? 255 : len;
		memcpy(part, d, n);
		part[n] = '\0';
		if (push(rr, ldns_rdf_new_frm_str(LDNS_RDF_TYPE_STR, part)) ==
		    -1)
			return -1;
		d += n;
		len -= n;
	} while (len > 0);
	return 0;
}

/* The rdata of IT (checked by txt_check(), tlsa_check() or made by
 * pki_persist_value()) pushed onto RR; 0 / -1. */
static int
push_rdata(ldns_rr *rr, const struct item *it)
{
	const char *d = it->data;

	if (it->type == LDNS_RR_TYPE_TXT)
		return push_txt(rr, d);
	if (push(rr, ldns_native2rdf_int8(LDNS_RDF_TYPE_INT8,
	    (uint8_t)(d[0] - '0'))) == -1 ||
	    push(rr, ldns_native2rdf_int8(LDNS_RDF_TYPE_INT8,
	    (uint8_t)(d[2] - '0'))) == -1 ||
	    push(rr, ldns_native2rdf_int8(LDNS_RDF_TYPE_INT8,
	    (uint8_t)(d[4] - '0'))) == -1 ||
	    push(rr, ldns_rdf_new_frm_str(LDNS_RDF_TYPE_HEX, d + 6)) == -1)
		return -1;
	return 0;
}

ldns_rr *
item_rr(const struct item *it, int delete)
{
	ldns_rdf *owner;
	ldns_rr *rr;

	if ((rr = ldns_rr_new()) == NULL)
		return NULL;
	if ((owner = ldns_dname_new_frm_str(it->owner)) == NULL) {
		ldns_rr_free(rr);
		return NULL;
	}
	ldns_rr_set_owner(rr, owner);
	ldns_rr_set_type(rr, it->type);
	ldns_rr_set_class(rr, delete ? LDNS_RR_CLASS_NONE : LDNS_RR_CLASS_IN);
	ldns_rr_set_ttl(rr, delete ? 0 : it->ttl);
	if (!it->empty && push_rdata(rr, it) == -1) {
		ldns_rr_free(rr);
		return NULL;
	}
	return rr;
}
