/*
 * resp.c - what pki-acme reads of a CA's response besides its body: the
 * headers (Replay-Nonce, Content-Type, Location resolved against the URL
 * asked, the alternates and the next page of Link).  Apart from the
 * transport (http.c), so that a fuzz target can feed them from its input.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "acme.h"

void
resp_free(struct resp *r)
{
	free(r->body);
	free(r->location);
	free(r->nonce);
	free(r->ctype);
	free(r->url);
	json_decref(r->alternates);
	free(r->next);
	memset(r, 0, sizeof(*r));
}

/* REF resolved against the URL asked (an absolute REF stays as it is);
 * caller frees.  NULL if it is not a URL. */
static char *
resolve(const struct resp *r, const char *ref)
{
	char *out = NULL, *s;
	CURLU *u;

	if ((u = curl_url()) == NULL)
		return NULL;
	if ((r->url == NULL || curl_url_set(u, CURLUPART_URL, r->url, 0) ==
	    CURLUE_OK) && curl_url_set(u, CURLUPART_URL, ref, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_URL, &s, 0) == CURLUE_OK) {
		out = xstrdup(s);
		curl_free(s);
	}
	curl_url_cleanup(u);
	return out;
}

/* 1 if the parameters of a Link value (after its <URL>) say rel=REL
 * (the rel value may be quoted and a list). */
static int
rel_is(const char *params, size_t len, const char *rel)
{
	const char *p = params, *end = params + len, *v;
	size_t n;

	while (p < end && (p = memchr(p, ';', (size_t)(end - p))) != NULL) {
		p++;
		p += strspn(p, " \t");
		if ((size_t)(end - p) < 4 || strncasecmp(p, "rel=", 4) != 0)
			continue;
		v = p + 4 + (p[4] == '"');
		for (;;) {
			n = strcspn(v, " \t\";,");
			if (v + n > end)
				n = (size_t)(end - v);
			if (n == strlen(rel) && strncasecmp(v, rel, n) == 0)
				return 1;
			if (v + n >= end || v[n] != ' ')
				break;
			v += n + 1;
		}
	}
	return 0;
}

/* Take the URL of REF (LEN bytes) of a Link value: an alternate, or
 * the next page of a list (RFC 8555 7.1.2.1). */
static void
link_url(struct resp *r, const char *ref, size_t len, int alternate)
{
	char *rel, *url = NULL;

	if ((rel = strndup(ref, len)) != NULL)
		url = resolve(r, rel);
	free(rel);
	if (url == NULL)
		return;
	if (!alternate) {
		free(r->next);
		r->next = url;
		return;
	}
	if (r->alternates == NULL)
		r->alternates = json_array();
	json_array_append_new(r->alternates, json_string(url));
	free(url);
}

/* Collect the rel="alternate" URLs and the rel="next" URL of the value
 * of one Link header. */
static void
on_link(struct resp *r, const char *v, size_t len)
{
	const char *end = v + len, *lt, *gt, *next;
	size_t plen;

	while (v < end && (lt = memchr(v, '<', (size_t)(end - v))) != NULL &&
	    (gt = memchr(lt, '>', (size_t)(end - lt))) != NULL) {
		next = memchr(gt, ',', (size_t)(end - gt));
		if (next == NULL)
			next = end;
		plen = (size_t)(next - gt - 1);
		if (rel_is(gt + 1, plen, "alternate"))
			link_url(r, lt + 1, (size_t)(gt - lt - 1), 1);
		else if (rel_is(gt + 1, plen, "next"))
			link_url(r, lt + 1, (size_t)(gt - lt - 1), 0);
		v = next;
	}
}

/* Set *FIELD to the header value V (LEN bytes), freeing an older one. */
static void
set_field(char **field, const char *v, size_t len)
{
	free(*field);
	*field = strndup(v, len);
}

/* Take the header line LINE (NUL-terminated, without the newline). */
static void
header(struct resp *r, const char *line)
{
	const char *colon, *v;
	size_t nlen, len;
	char *ref;

	if ((colon = strchr(line, ':')) == NULL)
		return;
	nlen = (size_t)(colon - line);
	v = colon + 1 + strspn(colon + 1, " \t");
	len = strlen(v);
	if (nlen == 12 && strncasecmp(line, "Replay-Nonce", 12) == 0)
		set_field(&r->nonce, v, len);
	else if (nlen == 12 && strncasecmp(line, "Content-Type", 12) == 0)
		set_field(&r->ctype, v, strcspn(v, "; \t"));
	else if (nlen == 8 && strncasecmp(line, "Location", 8) == 0 &&
	    (ref = strndup(v, len)) != NULL) {
		free(r->location);
		r->location = resolve(r, ref);
		free(ref);
	} else if (nlen == 4 && strncasecmp(line, "Link", 4) == 0)
		on_link(r, v, len);
}

int
resp_header(struct resp *r, const char *data, size_t len)
{
	char *line;

	if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		/* A new response (after 100 Continue): forget the last. */
		free(r->location);
		free(r->nonce);
		free(r->ctype);
		r->location = r->nonce = r->ctype = NULL;
		json_decref(r->alternates);
		r->alternates = NULL;
		free(r->next);
		r->next = NULL;
		return 0;
	}
	/* curl's header data is not NUL-terminated. */
	while (len > 0 && isspace((unsigned char)data[len - 1]))
		len--;
	if ((line = strndup(data, len)) == NULL)
		return -1;
	header(r, line);
	free(line);
	return 0;
}

