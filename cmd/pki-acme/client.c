/*
 * client.c - ACME requests (RFC 8555 6): the directory, nonces, signed
 * POSTs and their retries, problem documents.
 *
 * Retries: a badNonce is retried with the nonce of the error response
 * (ACME_NONCE_TRIES times), a 429 or 503 after its Retry-After
 * (ACME_BUSY_TRIES times, only within the operation's time), a transport
 * error after 1, 2, 4 ... seconds (ACME_NET_TRIES times).  Every wait
 * ends at the operation's deadline (--timeout).
 *
 * A newOrder refused by a rate limit (429, 503, a rateLimited problem) is
 * not retried: new orders to the CA pause until its Retry-After for the
 * whole batch (acme_paused()).
 *
 * A request the CA may act on (a POST with a payload: newOrder, finalize,
 * keyChange, a challenge's answer ...) is sent again only when it
 * certainly did not act: after a badNonce or a 429 or 503 with
 * Retry-After (it refused), or a transport error before the request went
 * out.  After a transport error that leaves it open (a timeout, the
 * connection lost after sending), acme_post() fails with A->unknown set,
 * and the caller finds out what the CA did.  GETs, HEADs, POST-as-GETs
 * and the POSTs of acme_post_repeatable() are sent again freely.
 */
#include <stdlib.h>
#include <string.h>

#include "acme.h"

void
acme_begin(struct acme *a)
{
	a->deadline = pki_now() + (double)a->timeout;
}

/* The time one exchange may take now, in ms; 0 if the operation's time
 * is over. */
static long
budget_ms(struct acme *a)
{
	double left = a->deadline - pki_now();

	if (left <= 0)
		return 0;
	if (left > ACME_REQUEST_SECS)
		left = ACME_REQUEST_SECS;
	return (long)(left * 1000) + 1;
}

/* The last failure was TEXT, with PROBLEM (owned by A now) or none. */
static void
set_why(struct acme *a, json_t *problem, const char *text)
{
	json_decref(a->problem);
	a->problem = problem;
	snprintf(a->why, sizeof(a->why), "%s", text);
}

/*
 * One exchange, retried after transport errors with backoff while the
 * operation has time; ONCE: only while it certainly did not reach the
 * CA.  0 with R filled; -1 with A->why set, and A->unknown if the
 * request of ONCE may have reached the CA.
 */
static int
exchange(struct acme *a, const char *method, const char *url,
    const char *body, const char *accept, int once, struct resp *r)
{
	char why[sizeof(a->why) - 64];
	double wait = 1;
	long ms;
	int tries;

	for (tries = 0;; tries++) {
		if ((ms = budget_ms(a)) == 0) {
			snprintf(a->why, sizeof(a->why), "%s %s: timed out "
			    "after %ld s", method, url, a->timeout);
			return -1;
		}
		if (http_do(&a->http, method, url, body, accept, once, ms, r,
		    why, sizeof(why)) == 0)
			return 0;
		pki_debug("%s", why);
		if (once && a->http.sent) {
			a->unknown = 1;
			set_why(a, NULL, why);
			strncat(a->why, " (the CA may have acted on it)",
			    sizeof(a->why) - strlen(a->why) - 1);
			return -1;
		}
		if (tries + 1 >= ACME_NET_TRIES || pki_now() + wait >= a->deadline)
			break;
		pki_sleep_until(pki_now() + wait);
		wait *= 2;
	}
	set_why(a, NULL, why);
	return -1;
}

int
acme_open(struct acme *a, const char *dir_url, const char *ca_bundle,
    long timeout)
{
	struct resp r;
	json_error_t jerr;

	memset(a, 0, sizeof(*a));
	a->timeout = timeout;
	if ((a->dir_url = xstrdup(dir_url)) == NULL ||
	    http_open(&a->http, ca_bundle) == -1) {
		snprintf(a->why, sizeof(a->why), "cannot set up HTTPS");
		return -1;
	}
	acme_begin(a);
	if (exchange(a, "GET", dir_url, NULL, NULL, 0, &r) == -1) {
		pki_err("cannot reach the ACME CA: %s", a->why);
		return -1;
	}
	if (r.status != 200 || r.body == NULL ||
	    (a->dir = json_loads(r.body, 0, &jerr)) == NULL ||
	    !json_is_object(a->dir)) {
		snprintf(a->why, sizeof(a->why), "%s: not an ACME directory "
		    "(HTTP %ld)", dir_url, r.status);
		pki_err("%s", a->why);
		resp_free(&r);
		return -1;
	}
	resp_free(&r);
	return 0;
}

void
acme_close(struct acme *a)
{
	http_close(&a->http);
	json_decref(a->dir);
	json_decref(a->problem);
	free(a->dir_url);
	free(a->nonce);
	memset(a, 0, sizeof(*a));
}

const char *
acme_url(struct acme *a, const char *name)
{
	const char *url = pki_str(a->dir, name);

	if (url == NULL)
		snprintf(a->why, sizeof(a->why), "the CA's directory has no "
		    "%s", name);
	return url;
}

/* A fresh nonce into A->nonce (newNonce, HEAD); 0 / -1. */
static int
new_nonce(struct acme *a)
{
	const char *url;
	struct resp r;

	if ((url = acme_url(a, "newNonce")) == NULL)
		return -1;
	if (exchange(a, "HEAD", url, NULL, NULL, 0, &r) == -1)
		return -1;
	free(a->nonce);
	a->nonce = r.nonce;
	r.nonce = NULL;
	if (a->nonce == NULL) {
		snprintf(a->why, sizeof(a->why), "HEAD %s: HTTP %ld without "
		    "a Replay-Nonce", url, r.status);
		resp_free(&r);
		return -1;
	}
	resp_free(&r);
	return 0;
}

/* The JWS of PAYLOAD for URL with the current nonce, as text (caller
 * frees); the nonce is used up.  NULL on failure. */
static char *
make_jws(struct acme *a, const char *url, const json_t *payload)
{
	json_t *prot, *jws;
	char *text = NULL, *pay = NULL;

	prot = json_pack("{s:s, s:s}", "nonce", a->nonce, "url", url);
	free(a->nonce);
	a->nonce = NULL;
	if (prot == NULL)
		return NULL;
	if (a->kid != NULL)
		json_object_set_new(prot, "kid", json_string(a->kid));
	else
		json_object_set_new(prot, "jwk", jws_jwk(a->key));
	if (payload != NULL && (pay = pki_json_text(payload, JSON_COMPACT)) ==
	    NULL) {
		json_decref(prot);
		return NULL;
	}
	jws = jws_sign(a->key, prot, pay != NULL ? pay : "");
	json_decref(prot);
	free(pay);
	if (jws != NULL)
		text = pki_json_text(jws, JSON_COMPACT);
	json_decref(jws);
	return text;
}

/* The problem document of R, or NULL if R holds none. */
static json_t *
problem_of(const struct resp *r)
{
	json_t *p;

	if (r->body == NULL || (p = json_loads(r->body, 0, NULL)) == NULL)
		return NULL;
	if (!json_is_object(p) || pki_str(p, "type") == NULL) {
		json_decref(p);
		return NULL;
	}
	return p;
}

/* 1 if R, an error answer with problem P, refused a new order for a
 * rate limit: then new orders pause (acme_paused()). */
static int
order_limited(struct acme *a, const struct resp *r, const json_t *p)
{
	const char *url = pki_str(a->dir, "newOrder"), *type = pki_str(p,
	    "type");

	if (url == NULL || r->url == NULL || strcmp(r->url, url) != 0 ||
	    (r->status != 429 && r->status != 503 && (type == NULL ||
	    strcmp(type, ACME_PROBLEM "rateLimited") != 0)))
		return 0;
	a->paused = r->retry_after > 0 ? time(NULL) + r->retry_after : -1;
	a->paused_why[0] = '\0';	/* post() says why */
	return 1;
}

int
acme_paused(const struct acme *a, char until[32])
{
	until[0] = '\0';
	if (a->paused == 0 || (a->paused > 0 && time(NULL) >= a->paused))
		return 0;
	if (a->paused > 0)
		pki_unix_rfc3339(a->paused, until);
	return 1;
}

/* Whether to send again after the error answer R (problem P): badNonce,
 * or 429/503 while there is time for its Retry-After (ONCE: only with
 * one, which says the CA refused it).  Waits if needed. */
static int
again(struct acme *a, const struct resp *r, const json_t *p, int once,
    int *nonces, int *busy)
{
	const char *type = pki_str(p, "type");
	double wait;

	if (type != NULL && strcmp(type, ACME_PROBLEM "badNonce") == 0)
		return ++*nonces <= ACME_NONCE_TRIES;
	if (order_limited(a, r, p))
		return 0;
	if (r->status != 429 && r->status != 503)
		return 0;
	if (once && r->retry_after <= 0)
		return 0;
	wait = r->retry_after > 0 ? (double)r->retry_after : 1 << *busy;
	if (++*busy > ACME_BUSY_TRIES || pki_now() + wait >= a->deadline)
		return 0;
	pki_info("%s: HTTP %ld, again in %.0f s", r->url, r->status, wait);
	pki_sleep_until(pki_now() + wait);
	return 1;
}

/* Say why R (problem P, owned by A now) failed. */
static void
failed(struct acme *a, const struct resp *r, json_t *p)
{
	char text[sizeof(a->why)];

	if (p != NULL)
		snprintf(text, sizeof(text), "%s: %s (HTTP %ld)",
		    pki_str(p, "type"), pki_str(p, "detail") ?
		    pki_str(p, "detail") : "no detail", r->status);
	else
		snprintf(text, sizeof(text), "POST %s: HTTP %ld", r->url,
		    r->status);
	set_why(a, p, text);
}

/* The body of R as JSON, if it is a JSON object or array; else NULL. */
static json_t *
body_json(const struct resp *r)
{
	if (r->body == NULL || r->ctype == NULL ||
	    (strcmp(r->ctype, "application/json") != 0 &&
	    strcmp(r->ctype, "application/problem+json") != 0))
		return NULL;
	return json_loads(r->body, 0, NULL);
}

int
acme_problem_is(const json_t *p, const char *type)
{
	const char *t = pki_str(p, "type");

	return t != NULL && strncmp(t, ACME_PROBLEM, strlen(ACME_PROBLEM)) ==
	    0 && strcmp(t + strlen(ACME_PROBLEM), type) == 0;
}

/*
 * The account that signed the request the CA refused with problem P:
 * one the CA does not know (accountDoesNotExist) is registered again
 * with its key (A->relogin), once per request: 1, send it again; -1,
 * that failed (A->why).  One the CA refuses (unauthorized: deactivated
 * or revoked) is not replaced: A->why says so.  0: neither.
 */
static int
account_lost(struct acme *a, const json_t *p, int *relogged)
{
	char why[sizeof(a->why)];

	if (a->kid == NULL || a->relogin == NULL)
		return 0;
	if (acme_problem_is(p, "unauthorized")) {
		snprintf(why, sizeof(why), "ACME account %.200s: %.400s: if "
		    "it was deactivated or revoked, run pki register (pki "
		    "makes no new account in its place by itself)", a->kid,
		    a->why);
		snprintf(a->why, sizeof(a->why), "%s", why);
		return 0;
	}
	if (!acme_problem_is(p, "accountDoesNotExist") || (*relogged)++ > 0)
		return 0;
	return a->relogin(a, a->relogin_ctx) == 0 ? 1 : -1;
}

/* acme_post() and acme_post_repeatable(); ONCE: the CA may act on it. */
static int
post(struct acme *a, const char *url, const json_t *payload, int once,
    const char *accept, struct resp *r, json_t **json)
{
	int nonces = 0, busy = 0, relogged = 0, rc;
	json_t *p;
	char *jws;

	*json = NULL;
	memset(r, 0, sizeof(*r));
	set_why(a, NULL, "");	/* nothing of an earlier failure stays */
	a->unknown = 0;
	for (;;) {
		if (a->nonce == NULL && new_nonce(a) == -1)
			return -1;
		if ((jws = make_jws(a, url, payload)) == NULL) {
			snprintf(a->why, sizeof(a->why), "cannot sign");
			return -1;
		}
		rc = exchange(a, "POST", url, jws, accept, once, r);
		free(jws);
		if (rc == -1)
			return -1;
		free(a->nonce);
		a->nonce = r->nonce;	/* the next request's */
		r->nonce = NULL;
		if (r->status >= 200 && r->status < 300) {
			*json = body_json(r);
			return 0;
		}
		p = problem_of(r);
		if (!again(a, r, p, once, &nonces, &busy)) {
			failed(a, r, p);
			if (a->paused != 0 && a->paused_why[0] == '\0')
				snprintf(a->paused_why, sizeof(a->paused_why),
				    "%s", a->why);
			resp_free(r);
			if ((rc = account_lost(a, a->problem, &relogged)) != 1)
				return -1;
			continue;	/* signed with the new kid */
		}
		pki_debug("%s: HTTP %ld %s, again", url, r->status,
		    p != NULL ? pki_str(p, "type") : "");
		json_decref(p);
		resp_free(r);
	}
}

int
acme_post(struct acme *a, const char *url, const json_t *payload,
    const char *accept, struct resp *r, json_t **json)
{
	return post(a, url, payload, payload != NULL, accept, r, json);
}

int
acme_post_repeatable(struct acme *a, const char *url, const json_t *payload,
    const char *accept, struct resp *r, json_t **json)
{
	return post(a, url, payload, 0, accept, r, json);
}

int
acme_post_json(struct acme *a, const char *url, const json_t *payload,
    json_t **json)
{
	struct resp r;

	if (acme_post(a, url, payload, NULL, &r, json) == -1)
		return -1;
	resp_free(&r);
	if (*json == NULL) {
		snprintf(a->why, sizeof(a->why), "POST %s: the answer is not "
		    "JSON", url);
		json_decref(a->problem);
		a->problem = NULL;
		return -1;
	}
	return 0;
}

int
acme_rec_error(json_t *rec, struct acme *a, const char *what)
{
	pki_rec_error(rec, "acme", "%s: %s", what, a->why);
	if (a->problem != NULL)
		rec_error_problem(rec, a->problem);
	return -1;
}
