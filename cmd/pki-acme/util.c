/*
 * util.c - time, base64url and the problem documents in records.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <openssl/evp.h>

#include "acme.h"

char *
xstrdup(const char *s)
{
	char *d;

	if (s == NULL)
		return NULL;
	if ((d = strdup(s)) == NULL)
		pki_err("out of memory");
	return d;
}

char *
b64u_encode(const unsigned char *buf, size_t len)
{
	char *out, *p;

	if (len > 3 * ((size_t)INT32_MAX / 4 - 1)) {
		pki_err("base64url: input too long");
		return NULL;
	}
	if ((out = malloc(4 * ((len + 2) / 3) + 1)) == NULL) {
		pki_err("out of memory");
		return NULL;
	}
	EVP_EncodeBlock((unsigned char *)out, buf, (int)len);
	for (p = out; *p != '\0' && *p != '='; p++) {
		if (*p == '+')
			*p = '-';
		else if (*p == '/')
			*p = '_';
	}
	*p = '\0';
	return out;
}

int
b64u_valid(const char *s)
{
	return s != NULL && *s != '\0' && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789-_") == strlen(s);
}

void
rec_error_problem(json_t *rec, const json_t *problem)
{
	json_t *errors = json_object_get(rec, "errors"), *e;
	const char *type = pki_str(problem, "type");
	const char *detail = pki_str(problem, "detail");

	e = json_array_get(errors, json_array_size(errors) - 1);
	if (!json_is_object(e))
		return;
	if (type != NULL)
		json_object_set_new(e, "type", json_string(type));
	if (detail != NULL)
		json_object_set_new(e, "detail", json_string(detail));
}

/* An RFC 3339 time of the CA as "YYYY-MM-DDTHH:MM:SSZ" into OUT; 0 / -1. */
static int
utc_time(const char *s, char out[32])
{
	time_t t;

	if (pki_parse_rfc3339(s, &t) == -1)
		return -1;
	pki_unix_rfc3339(t, out);
	return 0;
}

/* Keep the earliest expiry of a valid authorization as the record's
 * "acme"."authorized_until" (serverPKI's Certificates.authorized_until). */
void
note_authorized(json_t *acme, const char *expires)
{
	const char *old = pki_str(acme, "authorized_until");
	char t[32];

	if (utc_time(expires, t) == 0 && (old == NULL || strcmp(t, old) < 0))
		json_object_set_new(acme, "authorized_until", json_string(t));
}

int
authz_ordered(const json_t *authz, const json_t *names)
{
	const json_t *id = json_object_get(authz, "identifier"), *v;
	const char *type = pki_str(id, "type"), *value = pki_str(id, "value");
	int wild = json_is_true(json_object_get(authz, "wildcard"));
	const char *name;
	size_t i;

	if (type == NULL || value == NULL)
		return 0;
	json_array_foreach(names, i, v) {
		if ((name = json_string_value(v)) == NULL)
			continue;
		/* RFC 8738: an address is ordered as "ip", a name as "dns" */
		if (strcmp(type, pki_ip_name(name, NULL) ? "ip" : "dns") != 0)
			continue;
		if (wild && strncmp(name, "*.", 2) == 0 &&
		    strcasecmp(name + 2, value) == 0)
			return 1;
		if (!wild && strcasecmp(name, value) == 0)
			return 1;
	}
	return 0;
}

int
authz_foreign(json_t *rec, const json_t *authz, const char *url)
{
	const json_t *id = json_object_get(authz, "identifier");
	const char *type = pki_str(id, "type"), *value = pki_str(id, "value");

	return pki_rec_error(rec, "acme", "the CA's authorization %s is for "
	    "%s \"%s%.80s\", not a name ordered", url, type ? type : "(none)",
	    json_is_true(json_object_get(authz, "wildcard")) ? "*." : "",
	    value ? value : "");
}

int
profile_valid(const char *s)
{
	size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-");

	return n > 0 && n <= 64 && s[n] == '\0';
}

int
directory_valid(const char *s)
{
	size_t i, n;

	if (strncmp(s, "https://", 8) != 0 || (n = strlen(s + 8)) == 0 ||
	    n > 2048)
		return 0;
	for (i = 8; s[i] != '\0'; i++)
		if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f)
			return 0;
	return 1;
}

int
challenge_valid(const char *s)
{
	return s != NULL && (strcmp(s, "dns-01") == 0 ||
	    strcmp(s, "http-01") == 0 || strcmp(s, "dns-persist-01") == 0);
}
