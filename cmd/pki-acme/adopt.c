/*
 * adopt.c - pki-acme order --resume: the orders the CA has and the
 * database does not.  A run that dies between placing an order and its
 * checkpoint (pki-store --checkpoint) leaves a pending order that nobody
 * knows of.  It was never finalized, so any key will do: the next run
 * takes it up with its own key instead of ordering again.  Such orders
 * are found in the account's list of orders (RFC 8555 7.1.2.1), when
 * the CA keeps one; a CA that keeps none (Let's Encrypt's) hands out the
 * pending order of the same names again by itself.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "acme.h"

#define LIST_PAGES	20	/* pages of the list read at most */

/* Append the order URLs of the list page PAGE to URLS. */
static void
page_urls(const json_t *page, json_t *urls)
{
	json_t *v;
	size_t i;

	json_array_foreach(json_object_get(page, "orders"), i, v)
		if (json_is_string(v))
			json_array_append(urls, v);
}

/* The URLs of the account's list of orders, NULL if the CA keeps none
 * or it cannot be read (said). */
static json_t *
listed(struct acme *a, const struct account *acct)
{
	json_t *account = NULL, *page, *urls = NULL;
	struct resp resp;
	char *url = NULL;
	int n;

	if (acme_post_json(a, acct->url, NULL, &account) == 0 &&
	    pki_str(account, "orders") != NULL)
		url = xstrdup(pki_str(account, "orders"));
	json_decref(account);
	if (url != NULL)
		urls = json_array();
	for (n = 0; url != NULL && n < LIST_PAGES; n++) {
		if (acme_post(a, url, NULL, NULL, &resp, &page) == -1) {
			pki_warn("the account's orders: %s", a->why);
			break;
		}
		page_urls(page, urls);
		json_decref(page);
		free(url);
		url = resp.next;
		resp.next = NULL;
		resp_free(&resp);
	}
	free(url);
	return urls;
}

/* Drop from URLS the orders the database knows; 0 / -1 (said). */
static int
unknown_only(struct stored_db *sdb, json_t *urls)
{
	const char *p[1];
	char *text;
	PGresult *res;
	int i;

	if ((text = pki_json_text(urls, JSON_COMPACT)) == NULL)
		return -1;
	p[0] = text;
	res = pki_db_exec(sdb->db, "SELECT u FROM json_array_elements_text("
	    "$1::json) u WHERE u NOT IN (SELECT url FROM acme_orders)", 1, p);
	free(text);
	if (res == NULL)
		return -1;
	json_array_clear(urls);
	for (i = 0; i < PQntuples(res); i++)
		json_array_append_new(urls, json_string(PQgetvalue(res, i, 0)));
	PQclear(res);
	return 0;
}

/* 1 if ID is the dns identifier NAME, compared without case. */
static int
has_dns_id_one(const json_t *id, const char *name)
{
	const char *type = pki_str(id, "type"), *value = pki_str(id, "value");

	return type != NULL && strcmp(type, "dns") == 0 && value != NULL &&
	    name != NULL && strcasecmp(value, name) == 0;
}

/* 1 if IDS, an array of ACME identifiers, has the dns identifier NAME. */
static int
has_dns_id(const json_t *ids, const char *name)
{
	json_t *id;
	size_t i;

	json_array_foreach(ids, i, id)
		if (has_dns_id_one(id, name))
			return 1;
	return 0;
}

/* 1 if ORDER is for exactly NAMES, each way round (compared without
 * case): an order for [a, a] is not one for [a, b], nor [a, b] for
 * [a, a]. */
static int
same_names(const json_t *order, const json_t *names)
{
	json_t *ids = json_object_get(order, "identifiers"), *id, *n;
	size_t i, k;
	int found;

	if (json_array_size(ids) != json_array_size(names))
		return 0;
	json_array_foreach(names, i, n)
		if (!has_dns_id(ids, json_string_value(n)))
			return 0;
	json_array_foreach(ids, i, id) {
		found = 0;
		json_array_foreach(names, k, n)
			found |= has_dns_id_one(id, json_string_value(n));
		if (!found)
			return 0;
	}
	return 1;
}

/* 1 if ORDER was never finalized and can be: pending or ready, and not
 * expired (an RFC 3339 UTC time). */
static int
unfinalized(const json_t *order)
{
	const char *status = pki_str(order, "status"), *exp;
	char now[32];

	if (status == NULL || (strcmp(status, "pending") != 0 &&
	    strcmp(status, "ready") != 0))
		return 0;
	pki_unix_rfc3339(time(NULL), now);
	exp = pki_str(order, "expires");
	return exp == NULL || strlen(exp) < 20 || exp[strlen(exp) - 1] != 'Z' ||
	    strncmp(exp, now, 19) > 0;
}

int
adopt_find(struct acme *a, struct stored_db *sdb, const struct account *acct,
    json_t **cache, const json_t *names, json_t **order, char **url)
{
	const char *u;
	json_t *o;

	*order = NULL;
	*url = NULL;
	if (*cache == NULL && ((*cache = listed(a, acct)) == NULL ||
	    unknown_only(sdb, *cache) == -1)) {
		json_decref(*cache);
		*cache = json_array();	/* looked at once a run */
	}
	while (json_array_size(*cache) > 0) {
		u = json_string_value(json_array_get(*cache, 0));
		o = NULL;
		if (acme_post_json(a, u, NULL, &o) == 0 && unfinalized(o) &&
		    same_names(o, names) && (*url = xstrdup(u)) != NULL) {
			*order = o;
			json_array_remove(*cache, 0);
			return 1;
		}
		json_decref(o);
		json_array_remove(*cache, 0);
	}
	return 0;
}
