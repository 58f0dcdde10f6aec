/*
 * http.c - HTTPS exchanges with the CA through one libcurl easy handle,
 * reused for every request of the run (keep-alive).  TLS is always
 * verified; only HTTPS is spoken; redirects are not followed (ACME
 * answers with Location headers that are data, not redirects).
 */
#include <stdlib.h>
#include <string.h>

#include "acme.h"

int
http_open(struct http *h, const char *ca_bundle)
{
	static int global;
	CURL *c;

	memset(h, 0, sizeof(*h));
	if (!global++ && curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		pki_err("cannot initialize libcurl");
		return -1;
	}
	if ((c = h->curl = curl_easy_init()) == NULL) {
		pki_err("cannot initialize libcurl");
		return -1;
	}
	if (curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https") != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK ||
	    (ca_bundle != NULL && curl_easy_setopt(c, CURLOPT_CAINFO,
	    ca_bundle) != CURLE_OK) ||
	    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)ACME_CONNECT_SECS)
	    != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_USERAGENT, "pki-acme/1") != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->err) != CURLE_OK) {
		pki_err("cannot set up libcurl");
		http_close(h);
		return -1;
	}
	return 0;
}

void
http_close(struct http *h)
{
	if (h->curl != NULL)
		curl_easy_cleanup(h->curl);
	h->curl = NULL;
}

static size_t
on_body(char *data, size_t size, size_t n, void *arg)
{
	struct resp *r = arg;
	size_t len = size * n, cap;
	char *nbody;

	if (r->len + len + 1 > ACME_BODY_MAX)
		return 0;	/* too large: the transfer fails */
	if (r->len + len + 1 > r->cap) {
		for (cap = r->cap ? r->cap : 4096; cap < r->len + len + 1;)
			cap *= 2;
		if ((nbody = realloc(r->body, cap)) == NULL)
			return 0;
		r->body = nbody;
		r->cap = cap;
	}
	memcpy(r->body + r->len, data, len);
	r->len += len;
	r->body[r->len] = '\0';
	return len;
}

static size_t
on_header(char *data, size_t size, size_t n, void *arg)
{
	return resp_header(arg, data, size * n) == 0 ? size * n : 0;
}

/* Set the method and body of the next request.  (Setting POSTFIELDS
 * makes a POST: it comes first, so that GET and HEAD drop the last
 * request's body.) */
static int
set_method(CURL *c, const char *method, const char *body)
{
	if (curl_easy_setopt(c, CURLOPT_POSTFIELDS, body) != CURLE_OK)
		return -1;
	if (strcmp(method, "HEAD") == 0)
		return curl_easy_setopt(c, CURLOPT_NOBODY, 1L) == CURLE_OK ? 0 : -1;
	if (strcmp(method, "GET") == 0)
		return curl_easy_setopt(c, CURLOPT_HTTPGET, 1L) == CURLE_OK ? 0 : -1;
	if (body == NULL ||
	    curl_easy_setopt(c, CURLOPT_NOBODY, 0L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_POST, 1L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body)) !=
	    CURLE_OK)
		return -1;
	return 0;
}

/* 1 if the transfer that failed with RC may have sent its request: it
 * did not fail before a connection was made, and it sent something. */
static int
maybe_sent(CURL *c, CURLcode rc)
{
	long size = 0;

	switch (rc) {
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
		return 0;
	default:
		break;
	}
	/* Reset for each transfer; 0: not a byte of the request went out. */
	if (curl_easy_getinfo(c, CURLINFO_REQUEST_SIZE, &size) == CURLE_OK &&
	    size == 0)
		return 0;
	return 1;
}

int
http_do(struct http *h, const char *method, const char *url,
    const char *body, const char *accept, int once, long timeout_ms,
    struct resp *r, char *why, size_t whylen)
{
	struct curl_slist *hdrs = NULL, *tmp;
	char line[256];
	curl_off_t ra = 0;
	CURLcode rc = CURLE_OUT_OF_MEMORY;

	memset(r, 0, sizeof(*r));
	h->err[0] = '\0';
	h->sent = 0;
	if ((r->url = xstrdup(url)) == NULL)
		goto out;
	snprintf(line, sizeof(line), "Accept: %s", accept != NULL ? accept :
	    "application/json");
	if ((hdrs = curl_slist_append(NULL, line)) == NULL)
		goto out;
	if (body != NULL) {
		if ((tmp = curl_slist_append(hdrs,
		    "Content-Type: application/jose+json")) == NULL)
			goto out;
		hdrs = tmp;
	}
	/* A request sent once is never sent on a kept-alive connection:
	 * libcurl would send it again by itself on a fresh one if the old
	 * one turned out dead after it was sent. */
	if (set_method(h->curl, method, body) == -1 ||
	    curl_easy_setopt(h->curl, CURLOPT_FRESH_CONNECT, (long)once) !=
	    CURLE_OK ||
	    curl_easy_setopt(h->curl, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, hdrs) != CURLE_OK ||
	    curl_easy_setopt(h->curl, CURLOPT_TIMEOUT_MS, timeout_ms) !=
	    CURLE_OK ||
	    curl_easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, on_body) !=
	    CURLE_OK ||
	    curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, r) != CURLE_OK ||
	    curl_easy_setopt(h->curl, CURLOPT_HEADERFUNCTION, on_header) !=
	    CURLE_OK ||
	    curl_easy_setopt(h->curl, CURLOPT_HEADERDATA, r) != CURLE_OK)
		goto out;
	rc = curl_easy_perform(h->curl);
	h->sent = rc != CURLE_OK && maybe_sent(h->curl, rc);
	if (rc == CURLE_OK) {
		curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &r->status);
		if (curl_easy_getinfo(h->curl, CURLINFO_RETRY_AFTER, &ra) ==
		    CURLE_OK && ra > 0)
			r->retry_after = ra > 86400 ? 86400 : (long)ra;
	}
out:
	curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hdrs);
	if (rc == CURLE_OK)
		return 0;
	snprintf(why, whylen, "%s %s: %s", method, url, rc == CURLE_WRITE_ERROR ?
	    "response too large" : h->err[0] != '\0' ? h->err :
	    curl_easy_strerror(rc));
	resp_free(r);
	return -1;
}
