/*
 * name.c - the checks every name passes before it reaches a certificate, a
 * DNS packet, a path, a shell command or SQL.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pki.h"

static int
ldh(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-';
}

const char *
pki_dns_name_check(const char *name, int allow_wildcard)
{
	const char *p, *label;
	size_t len;

	if (name == NULL || *name == '\0')
		return "empty name";
	if (strlen(name) > 253)
		return "longer than 253 characters";
	if (strncmp(name, "*.", 2) == 0) {
		if (!allow_wildcard)
			return "wildcard not allowed here";
		name += 2;
	}
	for (label = p = name;; p++) {
		if (*p != '.' && *p != '\0') {
			if (*p == '*')
				return "wildcard only as the whole first label";
			if (!ldh((unsigned char)*p))
				return "character other than letter, digit, "
				    "hyphen or dot";
			continue;
		}
		len = (size_t)(p - label);
		if (len == 0)
			return *p == '\0' && p != name ?
			    "trailing dot" : "empty label";
		if (len > 63)
			return "label longer than 63 characters";
		if (label[0] == '-' || p[-1] == '-')
			return "label starts or ends with a hyphen";
		if (*p == '\0')
			return NULL;
		label = p + 1;
	}
}

int
pki_ip_name(const char *name, unsigned char addr[16])
{
	unsigned char buf[16];

	if (name == NULL)
		return 0;
	if (addr == NULL)
		addr = buf;
	if (inet_pton(AF_INET, name, addr) == 1)
		return 4;
	if (strchr(name, ':') != NULL && inet_pton(AF_INET6, name, addr) == 1)
		return 16;
	return 0;
}

const char *
pki_host_check(const char *name, int allow_wildcard)
{
	unsigned char addr[16];
	char text[INET6_ADDRSTRLEN];
	const char *why, *last;
	int len;

	if ((len = pki_ip_name(name, addr)) == 0) {
		if ((why = pki_dns_name_check(name, allow_wildcard)) != NULL)
			return why;
		/* RFC 3696 2: no top-level name is all digits, so that
		 * 192.0.2.01 is taken for neither an address nor a name. */
		if ((last = strrchr(name, '.')) == NULL)
			last = name;
		else
			last++;
		if (last[strspn(last, "0123456789")] == '\0')
			return "the last label is all digits (not a host "
			    "name, nor an IP address as 192.0.2.1 or "
			    "2001:db8::1)";
		return NULL;
	}
	if (inet_ntop(len == 4 ? AF_INET : AF_INET6, addr, text,
	    sizeof(text)) == NULL || strcmp(text, name) != 0)
		return "IP address not in its canonical form (RFC 5952: "
		    "lower case, no leading zeros, :: for the longest run "
		    "of zeros)";
	return NULL;
}

const char *
pki_subject_check(const char *subject_type, const char *name)
{
	const char *p;

	if (subject_type == NULL || strcmp(subject_type, "server") == 0)
		return pki_host_check(name, 1);
	if (strcmp(subject_type, "client") != 0 &&
	    strcmp(subject_type, "CA") != 0)
		return "subject_type is not server, client or CA";
	if (name == NULL || *name == '\0')
		return "empty name";
	if (strlen(name) > 64)
		return "longer than 64 characters";
	if (!isalnum((unsigned char)name[0]))
		return "does not start with a letter or digit";
	for (p = name; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && strchr(" ._@-", *p) == NULL)
			return "character other than letter, digit, "
			    "space, dot, underscore, at or hyphen";
	return NULL;
}

int
pki_algo_valid(const char *s)
{
	return s != NULL && (strcmp(s, "rsa") == 0 || strcmp(s, "ec") == 0);
}

static int
contains(const json_t *arr, const char *s)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v)
		if (strcasecmp(json_string_value(v), s) == 0)
			return 1;
	return 0;
}

json_t *
pki_rec_names(json_t *rec)
{
	const char *name, *why, *type;
	json_t *names, *alt, *v;
	char field[32];
	size_t i;

	type = pki_str(rec, "subject_type");
	name = pki_str(rec, "name");
	if (json_object_get(rec, "subject_type") != NULL && (type == NULL ||
	    (strcmp(type, "server") != 0 && strcmp(type, "client") != 0 &&
	    strcmp(type, "CA") != 0))) {
		pki_rec_error(rec, "subject_type", "not server, client or CA");
		return NULL;
	}
	if ((why = pki_subject_check(type, name)) != NULL) {
		pki_rec_error(rec, "name", "%s", why);
		return NULL;
	}
	names = json_array();
	json_array_append_new(names, json_string(name));
	alt = json_object_get(rec, "altnames");
	if (alt != NULL && !json_is_null(alt) && !json_is_array(alt)) {
		json_decref(names);
		pki_rec_error(rec, "altnames", "must be an array of names");
		return NULL;
	}
	json_array_foreach(alt, i, v) {
		snprintf(field, sizeof(field), "altnames[%zu]", i);
		if (!json_is_string(v))
			why = "not a string";
		else
			why = pki_host_check(json_string_value(v), 1);
		if (why != NULL) {
			json_decref(names);
			pki_rec_error(rec, field, "%s", why);
			return NULL;
		}
		if (!contains(names, json_string_value(v)))
			json_array_append(names, v);
	}
	return names;
}

/* The CRLReason codes of RFC 5280 5.3.1 a subscriber may give (7 is
 * unused, 8 removeFromCRL only for delta CRLs). */
static const struct {
	const char	*name;
	int		 code;
} crl_reasons[] = {
	{ "unspecified", 0 }, { "keyCompromise", 1 },
	{ "cACompromise", 2 }, { "affiliationChanged", 3 },
	{ "superseded", 4 }, { "cessationOfOperation", 5 },
	{ "certificateHold", 6 }, { "privilegeWithdrawn", 9 },
	{ "aACompromise", 10 },
};

const char *
pki_crl_reason_name(const char *s)
{
	size_t i;

	if (s == NULL)
		return NULL;
	for (i = 0; i < sizeof(crl_reasons) / sizeof(crl_reasons[0]); i++)
		if (strcmp(s, crl_reasons[i].name) == 0 ||
		    (s[0] != '\0' && strspn(s, "0123456789") == strlen(s) &&
		    strlen(s) <= 2 && atoi(s) == crl_reasons[i].code))
			return crl_reasons[i].name;
	return NULL;
}

int
pki_crl_reason(const char *s)
{
	size_t i;

	if ((s = pki_crl_reason_name(s)) == NULL)
		return -1;
	for (i = 0; i < sizeof(crl_reasons) / sizeof(crl_reasons[0]); i++)
		if (strcmp(s, crl_reasons[i].name) == 0)
			return crl_reasons[i].code;
	return -1;
}

#define NAMES_MAX	256	/* names one certificate may cover */

static int
cmp_str(const void *a, const void *b)
{
	return strcasecmp(*(char *const *)a, *(char *const *)b);
}

/* NAME (LEN bytes) in lower case appended to NAMES; 0 / -1. */
static int
add_name(json_t *names, const unsigned char *name, int len)
{
	char buf[256];
	int i;

	if (len <= 0 || (size_t)len >= sizeof(buf) ||
	    memchr(name, '\0', (size_t)len) != NULL)
		return -1;
	for (i = 0; i < len; i++)
		buf[i] = (char)tolower(name[i]);
	buf[len] = '\0';
	return json_array_append_new(names, json_string(buf));
}

/* The common name of SUBJECT into NAMES, if it has one; 0 / -1. */
static int
add_cn(json_t *names, const X509_NAME *subject)
{
	unsigned char *utf8 = NULL;
	int i, len, rc;

	if (subject == NULL ||
	    (i = X509_NAME_get_index_by_NID(subject, NID_commonName, -1)) < 0)
		return 0;
	len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(
	    X509_NAME_get_entry(subject, i)));
	rc = len < 0 ? -1 : add_name(names, utf8, len);
	OPENSSL_free(utf8);
	return rc;
}

/* An iPAddress name in the text form RFC 5952 gives it (the form the
 * database keeps); -1 if it is no address. */
static int
add_address(json_t *names, const ASN1_OCTET_STRING *ip)
{
	char text[INET6_ADDRSTRLEN];
	int len = ASN1_STRING_length(ip);

	if ((len != 4 && len != 16) || inet_ntop(len == 4 ? AF_INET : AF_INET6,
	    ASN1_STRING_get0_data(ip), text, sizeof(text)) == NULL)
		return -1;
	return add_name(names, (const unsigned char *)text,
	    (int)strlen(text));
}

char *
pki_names_text(const json_t *names)
{
	const char *v[NAMES_MAX];
	size_t i, n = json_array_size(names), len = 0, k = 0, j;
	char *text;

	if (n == 0 || n > NAMES_MAX)
		return NULL;
	for (i = 0; i < n; i++) {
		if ((v[i] = json_string_value(json_array_get(names, i))) ==
		    NULL)
			return NULL;
		len += strlen(v[i]) + 1;
	}
	qsort(v, n, sizeof(v[0]), cmp_str);
	if ((text = malloc(len)) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		if (i > 0 && strcasecmp(v[i], v[i - 1]) == 0)
			continue;
		if (k > 0)
			text[k++] = ' ';
		for (j = 0; v[i][j] != '\0'; j++)
			text[k++] = (char)tolower((unsigned char)v[i][j]);
	}
	text[k] = '\0';
	return text;
}

/* The CN of SUBJECT, then the names of GENS, appended to NAMES; 0 / -1. */
static int
add_names(json_t *names, const X509_NAME *subject, const GENERAL_NAMES *gens)
{
	const GENERAL_NAME *g;
	int i, rc;

	rc = names == NULL ? -1 : add_cn(names, subject);
	for (i = 0; i < sk_GENERAL_NAME_num(gens) && rc == 0; i++) {
		g = sk_GENERAL_NAME_value(gens, i);
		if (g->type == GEN_DNS || g->type == GEN_EMAIL)
			rc = add_name(names, ASN1_STRING_get0_data(g->d.ia5),
			    ASN1_STRING_length(g->d.ia5));
		else if (g->type == GEN_IPADD)
			rc = add_address(names, g->d.iPAddress);
	}
	return rc;
}

char *
pki_names_covered(const X509_NAME *subject, const GENERAL_NAMES *gens)
{
	json_t *names = json_array();
	char *text = NULL;

	if (add_names(names, subject, gens) == 0)
		text = pki_names_text(names);
	json_decref(names);
	return text;
}

json_t *
pki_cert_names(X509 *cert)
{
	GENERAL_NAMES *gens;
	json_t *names = json_array();

	gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	if (add_names(names, X509_get_subject_name(cert), gens) == -1) {
		json_decref(names);
		names = NULL;
	}
	GENERAL_NAMES_free(gens);
	return names;
}
