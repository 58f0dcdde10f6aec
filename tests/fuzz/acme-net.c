/*
 * acme-net.c - the transport of pki-acme in a fuzz target, in place of
 * cmd/pki-acme/http.c: every response it would get from the CA is the
 * next one of the input, whatever it asked.  The headers go through
 * pki-acme's own resp_header() (resp.c); each exchange costs 100 ms of the
 * fuzz clock (clock.c).
 *
 * The responses come after the records and a line "%%", each as
 *
 *	STATUS
 *	Header: value
 *	...
 *	(an empty line)
 *	body
 *
 * and separated by a line "%%".  "Retry-After: N" is read as libcurl
 * would.  When they run out, the CA cannot be reached.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pki.h"
#include "fuzz.h"
#include "acme.h"

static const char *next, *end;

void
fuzz_acme_responses(const uint8_t *data, size_t size)
{
	next = (const char *)data;
	end = next != NULL ? next + size : NULL;
}

int
http_open(struct http *h, const char *ca_bundle)
{
	(void)ca_bundle;
	memset(h, 0, sizeof(*h));
	return 0;
}

void
http_close(struct http *h)
{
	(void)h;
}

/* The text of one response, [P, Q). */
static int
parse(struct resp *r, const char *p, const char *q)
{
	const char *nl, *v;
	char num[16];

	/* The input ends at Q, with no NUL: no strtol() past it. */
	for (v = p, r->status = 0; v < q && v - p < 3 && *v >= '0' &&
	    *v <= '9'; v++)
		r->status = r->status * 10 + (*v - '0');
	if (v - p != 3 || r->status < 100 || r->status > 599)
		return -1;
	p = (nl = memchr(p, '\n', (size_t)(q - p))) != NULL ? nl + 1 : q;
	while (p < q && *p != '\n') {
		nl = memchr(p, '\n', (size_t)(q - p));
		if (nl == NULL)
			nl = q;
		if ((size_t)(nl - p) > 12 && strncasecmp(p, "Retry-After:",
		    12) == 0) {
			v = p + 12;
			snprintf(num, sizeof(num), "%.*s",
			    (int)(nl - v < 15 ? nl - v : 15), v);
			r->retry_after = strtol(num, NULL, 10);
			if (r->retry_after < 0)
				r->retry_after = 0;
			if (r->retry_after > 86400)
				r->retry_after = 86400;
		}
		if (resp_header(r, p, (size_t)(nl - p)) == -1)
			return -1;
		p = nl < q ? nl + 1 : q;
	}
	if (p < q)
		p++;			/* the empty line */
	if ((r->body = fuzz_string((const uint8_t *)p, (size_t)(q - p))) ==
	    NULL)
		return -1;
	r->len = (size_t)(q - p);
	r->cap = r->len + 1;
	return 0;
}

int
http_do(struct http *h, const char *method, const char *url,
    const char *body, const char *accept, int once, long timeout_ms,
    struct resp *r, char *why, size_t whylen)
{
	const char *q;

	(void)body, (void)accept, (void)once, (void)timeout_ms;
	memset(r, 0, sizeof(*r));
	h->sent = 0;
	fuzz_clock_pass(0.1);
	if (next == NULL || next >= end) {
		snprintf(why, whylen, "%s %s: no answer", method, url);
		return -1;
	}
	q = memmem(next, (size_t)(end - next), "\n%%\n", 4);
	if ((r->url = xstrdup(url)) == NULL ||
	    parse(r, next, q != NULL ? q + 1 : end) == -1) {
		snprintf(why, whylen, "%s %s: not a response", method, url);
		next = q != NULL ? q + 4 : end;
		resp_free(r);
		return -1;
	}
	next = q != NULL ? q + 4 : end;
	return 0;
}
