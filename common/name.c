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
