/*
 * dns.c - servers, queries and time for pki-dnsup.
 *
 * Every query gets a resolver of its own: ldns marks a server that did
 * not answer as unreachable for the rest of the resolver's life, and a
 * server that is down now may answer at the next poll.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dnsup.h"

#define QUERY_WAIT	3.0	/* longest wait for one answer, seconds */

/* ------------------------------------------------------------ servers */

/* Fill SRV->text from its address and port. */
static void
server_text(struct server *srv)
{
	char addr[INET6_ADDRSTRLEN];
	int af = ldns_rdf_get_type(srv->addr) == LDNS_RDF_TYPE_A ? AF_INET :
	    AF_INET6;

	if (inet_ntop(af, ldns_rdf_data(srv->addr), addr, sizeof(addr)) ==
	    NULL)
		snprintf(addr, sizeof(addr), "?");
	snprintf(srv->text, sizeof(srv->text), "%s#%u", addr,
	    (unsigned)srv->port);
}

int
servers_add(struct servers *list, const ldns_rdf *addr, uint16_t port)
{
	struct server *v;

	if ((v = reallocarray(list->v, list->n + 1, sizeof(*v))) == NULL) {
		pki_err("out of memory");
		return -1;
	}
	list->v = v;
	v = &list->v[list->n];
	if ((v->addr = ldns_rdf_clone(addr)) == NULL) {
		pki_err("out of memory");
		return -1;
	}
	v->port = port;
	server_text(v);
	if (servers_have(list, v->text)) {	/* each server once */
		ldns_rdf_deep_free(v->addr);
		return 0;
	}
	list->n++;
	return 0;
}

int
servers_copy(struct servers *list, const struct servers *from)
{
	size_t i;

	for (i = 0; i < from->n; i++)
		if (servers_add(list, from->v[i].addr, from->v[i].port) == -1)
			return -1;
	return 0;
}

void
servers_free(struct servers *list)
{
	size_t i;

	for (i = 0; i < list->n; i++)
		ldns_rdf_deep_free(list->v[i].addr);
	free(list->v);
	list->v = NULL;
	list->n = 0;
}

int
servers_have(const struct servers *list, const char *text)
{
	size_t i;

	for (i = 0; i < list->n; i++)
		if (strcmp(list->v[i].text, text) == 0)
			return 1;
	return 0;
}

/* The address rdf of the literal S, or NULL if S is not one. */
static ldns_rdf *
address(const char *s)
{
	unsigned char buf[16];

	if (inet_pton(AF_INET, s, buf) == 1)
		return ldns_rdf_new_frm_data(LDNS_RDF_TYPE_A, 4, buf);
	if (inet_pton(AF_INET6, s, buf) == 1)
		return ldns_rdf_new_frm_data(LDNS_RDF_TYPE_AAAA, 16, buf);
	return NULL;
}

/*
 * Split SPEC ("HOST", "HOST:PORT", "[IPV6]:PORT", "IPV6") into HOST (of
 * HOSTLEN bytes) and *PORT (53 when none).  -1 with WHY if it is not so.
 */
static int
split_host_port(const char *spec, char *host, size_t hostlen,
    uint16_t *port, char *why, size_t whylen)
{
	const char *end, *colon = strrchr(spec, ':');
	char *p;
	long v;

	*port = 53;
	if (spec[0] == '[') {
		end = strchr(spec, ']');
		colon = end != NULL && end[1] == ':' ? end + 1 : NULL;
		if (end == NULL || (end[1] != '\0' && colon == NULL))
			goto bad;
		spec++;
	} else if (colon != NULL && strchr(spec, ':') != colon) {
		end = spec + strlen(spec);	/* a bare IPv6 address */
		colon = NULL;
	} else
		end = colon != NULL ? colon : spec + strlen(spec);
	if (end == spec || (size_t)(end - spec) >= hostlen)
		goto bad;
	memcpy(host, spec, (size_t)(end - spec));
	host[end - spec] = '\0';
	if (colon != NULL) {
		errno = 0;
		v = strtol(colon + 1, &p, 10);
		if (colon[1] == '\0' || *p != '\0' || errno != 0 || v < 1 ||
		    v > 65535)
			goto bad;
		*port = (uint16_t)v;
	}
	return 0;
bad:
	snprintf(why, whylen, "\"%s\" is not HOST[:PORT] (PORT 1 to 65535)",
	    spec);
	return -1;
}

/*
 * SPEC split into HOST (NAME_LEN bytes, absolute when a name) and *PORT,
 * with *ADDR its address rdf when HOST is an address (caller frees), else
 * NULL: then HOST must be a host name, and may be one only when NAMES.
 * 0, or -1 with WHY.
 */
static int
spec_host(const char *spec, int names, char host[NAME_LEN], uint16_t *port,
    ldns_rdf **addr, char *why, size_t whylen)
{
	const char *bad;
	size_t len;

	*addr = NULL;
	if (split_host_port(spec, host, NAME_LEN - 1, port, why, whylen) == -1)
		return -1;
	if ((*addr = address(host)) != NULL)
		return 0;
	if (!names) {
		snprintf(why, whylen, "%s: not an IP address", host);
		return -1;
	}
	if ((len = strlen(host)) > 0 && host[len - 1] == '.')
		host[--len] = '\0';
	if ((bad = pki_dns_name_check(host, 0)) != NULL) {
		snprintf(why, whylen, "%s: %s", spec, bad);
		return -1;
	}
	host[len++] = '.';
	host[len] = '\0';
	return 0;
}

int
servers_check(const char *spec, int names, char *why, size_t whylen)
{
	char host[NAME_LEN];
	ldns_rdf *addr;
	uint16_t port;

	if (spec_host(spec, names, host, &port, &addr, why, whylen) == -1)
		return -1;
	ldns_rdf_deep_free(addr);
	return 0;
}

int
servers_parse(struct servers *list, const char *spec,
    const struct servers *resolver, double deadline, char *why,
    size_t whylen)
{
	char host[NAME_LEN];
	ldns_rdf *addr;
	uint16_t port;
	int rc;

	if (spec_host(spec, resolver != NULL, host, &port, &addr, why,
	    whylen) == -1)
		return -1;
	if (addr != NULL) {
		rc = servers_add(list, addr, port);
		ldns_rdf_deep_free(addr);
		if (rc == -1)
			snprintf(why, whylen, "out of memory");
		return rc;
	}
	return dns_addresses(list, host, port, resolver, deadline, why,
	    whylen);
}

int
server_from_text(struct server *srv, const char *text)
{
	char addr[INET6_ADDRSTRLEN];
	const char *hash = strrchr(text, '#');
	char *end;
	long port;

	memset(srv, 0, sizeof(*srv));
	if (hash == NULL || (size_t)(hash - text) >= sizeof(addr))
		return -1;
	memcpy(addr, text, (size_t)(hash - text));
	addr[hash - text] = '\0';
	errno = 0;
	port = strtol(hash + 1, &end, 10);
	if (hash[1] == '\0' || *end != '\0' || errno != 0 || port < 1 ||
	    port > 65535 || (srv->addr = address(addr)) == NULL)
		return -1;
	srv->port = (uint16_t)port;
	server_text(srv);
	return strcmp(srv->text, text) == 0 ? 0 : -1;
}

/* ------------------------------------------------------------ queries */

const char *
dns_rcode(int rcode)
{
	static char buf[16];
	ldns_lookup_table *lt = ldns_lookup_by_id(ldns_rcodes, rcode);

	if (lt != NULL)
		return lt->name;
	snprintf(buf, sizeof(buf), "RCODE%d", rcode);
	return buf;
}

char *
dname_text(const ldns_rdf *name)
{
	return ldns_rdf2str(name);
}

int
rr_same(const ldns_rr *a, const ldns_rr *b)
{
	size_t i;

	if (ldns_rr_get_type(a) != ldns_rr_get_type(b) ||
	    ldns_dname_compare(ldns_rr_owner(a), ldns_rr_owner(b)) != 0 ||
	    ldns_rr_rd_count(a) != ldns_rr_rd_count(b))
		return 0;
	for (i = 0; i < ldns_rr_rd_count(a); i++)
		if (ldns_rdf_compare(ldns_rr_rdf(a, i), ldns_rr_rdf(b, i)) != 0)
			return 0;
	return 1;
}

ldns_resolver *
dns_resolver(const struct servers *to, int recurse, double wait)
{
	ldns_resolver *res;
	struct timeval tv;
	size_t i;

	if ((res = ldns_resolver_new()) == NULL)
		return NULL;
	for (i = 0; i < to->n; i++) {
		if (ldns_resolver_push_nameserver(res, to->v[i].addr) !=
		    LDNS_STATUS_OK) {
			ldns_resolver_deep_free(res);
			return NULL;
		}
	}
	/* ldns has one port per resolver: the first server's. */
	ldns_resolver_set_port(res, to->n > 0 ? to->v[0].port : 53);
	ldns_resolver_set_recursive(res, recurse);
	ldns_resolver_set_random(res, false);
	ldns_resolver_set_retry(res, 1);
	ldns_resolver_set_retrans(res, 0);
	tv.tv_sec = (time_t)wait;
	tv.tv_usec = (suseconds_t)((wait - (double)tv.tv_sec) * 1e6);
	ldns_resolver_set_timeout(res, tv);
	return res;
}

/* Ask the single server SRV. */
static int
query_one(const struct server *srv, int recurse, const ldns_rdf *name,
    ldns_rr_type type, double wait, ldns_pkt **reply, char *why,
    size_t whylen)
{
	struct servers one = { (struct server *)srv, 1 };
	ldns_resolver *res;
	ldns_status st;

	if ((res = dns_resolver(&one, recurse, wait)) == NULL) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	st = ldns_resolver_query_status(reply, res, name, type,
	    LDNS_RR_CLASS_IN, recurse ? LDNS_RD : 0);
	ldns_resolver_deep_free(res);
	if (st == LDNS_STATUS_OK && *reply != NULL)
		return 0;
	if (*reply != NULL)
		ldns_pkt_free(*reply);
	*reply = NULL;
	snprintf(why, whylen, "no answer from %s within %.1f s", srv->text,
	    wait);
	return -1;
}

int
dns_query(const struct servers *to, int recurse, const char *name,
    ldns_rr_type type, double wait, double deadline, ldns_pkt **reply,
    char *why, size_t whylen)
{
	ldns_rdf *dname;
	double left;
	size_t i;

	*reply = NULL;
	if (to->n == 0) {
		snprintf(why, whylen, "no resolver (none in /etc/resolv.conf; "
		    "give --resolver)");
		return -1;
	}
	if ((dname = ldns_dname_new_frm_str(name)) == NULL) {
		snprintf(why, whylen, "%s: not a name", name);
		return -1;
	}
	for (i = 0; i < to->n; i++) {
		if ((left = deadline - pki_now()) < 0.01) {
			snprintf(why, whylen, "timed out");
			break;
		}
		if (query_one(&to->v[i], recurse, dname, type,
		    left < wait ? left : wait, reply, why, whylen) == 0)
			break;
	}
	ldns_rdf_deep_free(dname);
	return *reply != NULL ? 0 : -1;
}

/* Append the addresses of type TYPE in REPLY's answer for NAME. */
static int
add_addresses(struct servers *list, const ldns_pkt *reply,
    ldns_rr_type type, uint16_t port)
{
	ldns_rr_list *rrs = ldns_pkt_answer(reply);
	ldns_rr *rr;
	size_t i;

	for (i = 0; i < ldns_rr_list_rr_count(rrs); i++) {
		rr = ldns_rr_list_rr(rrs, i);
		if (ldns_rr_get_type(rr) == type && ldns_rr_rd_count(rr) == 1 &&
		    servers_add(list, ldns_rr_rdf(rr, 0), port) == -1)
			return -1;
	}
	return 0;
}

int
dns_addresses(struct servers *list, const char *host, uint16_t port,
    const struct servers *resolver, double deadline, char *why,
    size_t whylen)
{
	static const ldns_rr_type types[] = { LDNS_RR_TYPE_A,
	    LDNS_RR_TYPE_AAAA };
	ldns_pkt *reply;
	size_t i, before = list->n;

	for (i = 0; i < 2; i++) {
		if (dns_query(resolver, 1, host, types[i], QUERY_WAIT,
		    deadline, &reply, why, whylen) == -1)
			return -1;
		if (add_addresses(list, reply, types[i], port) == -1) {
			ldns_pkt_free(reply);
			snprintf(why, whylen, "out of memory");
			return -1;
		}
		ldns_pkt_free(reply);
	}
	if (list->n > before)
		return 0;
	snprintf(why, whylen, "%s has no address", host);
	return -1;
}
