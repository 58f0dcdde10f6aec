/*
 * finish.c - pki-acme finish: the second half of an ACME order.
 *
 * It gathers the records with orders to finish first, so that every
 * challenge of every record is published and answered before any
 * authorization is polled: one wait serves all.  Every other record is
 * written the moment it is read (pki_batch()).  Then, per order, it
 * polls the authorizations, the order until it is ready, finalizes it
 * with the record's CSR, polls it until it is valid and downloads the
 * certificate (cert.c).  Polls follow the CA's Retry-After, else 0.5 s
 * doubling to 10 s, all within --timeout.  One order that fails never
 * stops the others.
 */
#include <stdlib.h>
#include <string.h>

#include "acme.h"

#define POLL_FIRST	0.5	/* seconds, without Retry-After */
#define POLL_MAX	10.0
#define NEVER		1e300	/* no time at all */

enum step { AUTHZ, READY, ISSUING, DONE, FAILED };

static const char *const step_names[] = {
	"waiting for the authorizations", "waiting for the order to be ready",
	"waiting for the certificate", "done", "failed"
};

/* One order of a record. */
struct job {
	json_t		*rec;		/* in the batch */
	const char	*algo;		/* its key in "acme"."orders" */
	json_t		*entry;		/* the order's entry there */
	struct session	*s;		/* its CA's */
	size_t		 authz;		/* the first not known valid */
	enum step	 step;
	double		 at;		/* when to look next */
	double		 interval;	/* poll interval without Retry-After */
};

struct finish_run {
	const struct opts	*o;
	struct sessions		 ss;		/* one per CA */
	double			 deadline;	/* the batch's end */
	json_t			*recs;		/* the batch: the records
						   with orders to finish */
	struct job		*jobs;
	size_t			 njobs;
	struct http01		 h01;
	int			 fatal;
	int			 failed;	/* errors added */
};

/* REC failed (its error is added): none of its orders goes on, for the
 * record would not be stored with the certificates of the others. */
static void
drop(struct finish_run *r, const json_t *rec)
{
	size_t i;

	for (i = 0; i < r->njobs; i++)
		if (r->jobs[i].rec == rec && r->jobs[i].step != DONE)
			r->jobs[i].step = FAILED;
	r->failed++;
}

/* The job failed (its error is added). */
static void
fail(struct finish_run *r, struct job *j)
{
	drop(r, j->rec);
}

/* Fail REC with an error of FIELD saying MSG. */
static void
fail_rec(struct finish_run *r, json_t *rec, const char *field,
    const char *msg)
{
	pki_rec_error(rec, field, "%s", msg);
	drop(r, rec);
}

/* Look at J again after the CA's Retry-After, else after its interval. */
static void
later(struct job *j, long retry_after)
{
	j->at = pki_now() + (retry_after > 0 ? (double)retry_after : j->interval);
	j->interval = j->interval * 2 < POLL_MAX ? j->interval * 2 : POLL_MAX;
}

/* The next step starts now. */
static void
advance(struct job *j, enum step step)
{
	j->step = step;
	j->at = pki_now();
	j->interval = POLL_FIRST;
}

/* POST-as-GET of URL: its JSON and Retry-After.  0 / -1 (A->why). */
static int
get_json(struct acme *a, const char *url, json_t **json, long *retry_after)
{
	struct resp resp;

	if (acme_post(a, url, NULL, NULL, &resp, json) == -1)
		return -1;
	*retry_after = resp.retry_after;
	resp_free(&resp);
	if (*json == NULL) {
		snprintf(a->why, sizeof(a->why), "%s: the answer is not JSON",
		    url);
		json_decref(a->problem);
		a->problem = NULL;
		return -1;
	}
	return 0;
}

/* S, or "(none)" when the CA left it out. */
static const char *
or_none(const char *s)
{
	return s != NULL ? s : "(none)";
}

/* Set the status of the record's challenges of authorization URL. */
static void
mark(json_t *rec, const char *url, const char *status)
{
	json_t *c;
	size_t i;

	json_array_foreach(json_object_get(rec, "challenges"), i, c)
		if (pki_str(c, "authorization") != NULL &&
		    strcmp(pki_str(c, "authorization"), url) == 0)
			json_object_set_new(c, "status", json_string(status));
}

/* The error of an authorization that is not valid: its challenge's
 * problem document when the CA gives one. */
static void
authz_error(struct finish_run *r, struct job *j, const json_t *authz)
{
	const char *ident = pki_str(json_object_get(authz, "identifier"),
	    "value"), *status = pki_str(authz, "status");
	const json_t *ch, *err = NULL;
	size_t i;

	if (ident == NULL)
		ident = "?";

	json_array_foreach(json_object_get(authz, "challenges"), i, ch)
		if ((err = json_object_get(ch, "error")) != NULL)
			break;
	if (err != NULL) {
		pki_rec_error(j->rec, "acme", "%s: %s challenge failed: %s: %s",
		    ident, or_none(pki_str(ch, "type")),
		    or_none(pki_str(err, "type")),
		    or_none(pki_str(err, "detail")));
		rec_error_problem(j->rec, err);
	} else
		pki_rec_error(j->rec, "acme", "%s: the authorization is %s",
		    ident, status ? status : "unknown");
	fail(r, j);
}

/* Poll the job's next authorization that is not known to be valid. */
static void
step_authz(struct finish_run *r, struct job *j)
{
	json_t *authzs = json_object_get(j->entry, "authorizations"), *az;
	const char *url = json_string_value(json_array_get(authzs, j->authz));
	const char *status;
	json_t *names;
	long ra;

	if (get_json(&j->s->a, url, &az, &ra) == -1) {
		acme_rec_error(j->rec, &j->s->a, "authorization");
		fail(r, j);
		return;
	}
	/* The record's order is for its names, and nothing else. */
	if ((names = pki_rec_names(j->rec)) == NULL ||
	    !authz_ordered(az, names)) {
		if (names != NULL)
			authz_foreign(j->rec, az, url);
		json_decref(names);
		json_decref(az);
		fail(r, j);
		return;
	}
	json_decref(names);
	status = pki_str(az, "status");
	if (status != NULL && strcmp(status, "valid") == 0) {
		mark(j->rec, url, "valid");
		note_authorized(json_object_get(j->rec, "acme"),
		    pki_str(az, "expires"));
		if (++j->authz == json_array_size(authzs))
			advance(j, READY);
		else
			j->at = pki_now();
	} else if (status != NULL && strcmp(status, "pending") == 0)
		later(j, ra);
	else {
		mark(j->rec, url, status ? status : "invalid");
		authz_error(r, j, az);
	}
	json_decref(az);
}

/* The error of an order gone invalid: its problem document, if any. */
static void
order_error(struct finish_run *r, struct job *j, const json_t *order)
{
	const json_t *err = json_object_get(order, "error");

	pki_rec_error(j->rec, "acme", "%s: the order is %s%s%s%s%s", j->algo,
	    or_none(pki_str(order, "status")), err ? ": " : "",
	    err ? or_none(pki_str(err, "type")) : "", err ? ": " : "",
	    err ? or_none(pki_str(err, "detail")) : "");
	if (err != NULL)
		rec_error_problem(j->rec, err);
	fail(r, j);
}

/*
 * Finalize the ready order of J with the record's CSR (RFC 8555 7.4).
 * A finalization whose answer was lost is not sent again blindly: the
 * order is polled, and finalized again only if it is still ready.
 */
static void
finalize(struct finish_run *r, struct job *j)
{
	json_t *payload, *order = NULL;
	struct resp resp;
	const char *status;
	char *csr;

	if ((csr = cert_csr_b64u(j->rec, j->algo)) == NULL) {
		fail(r, j);
		return;
	}
	payload = json_pack("{s:s}", "csr", csr);
	free(csr);
	if (acme_post(&j->s->a, pki_str(j->entry, "finalize"), payload, NULL,
	    &resp, &order) == -1) {
		if (j->s->a.unknown || acme_problem_is(j->s->a.problem,
		    "orderNotReady")) {
			/* Whether the CA took it, the order tells: processing
			 * or valid, it did; still ready, it did not. */
			pki_warn("%s: %s: finalize: %s; polling the order",
			    pki_rec_name(j->rec), j->algo, j->s->a.why);
			later(j, 0);
		} else {
			acme_rec_error(j->rec, &j->s->a, "finalize");
			fail(r, j);
		}
	} else {
		advance(j, ISSUING);
		status = pki_str(order, "status");
		if (status == NULL || strcmp(status, "valid") != 0)
			later(j, resp.retry_after);
		resp_free(&resp);
	}
	json_decref(payload);
	json_decref(order);
}

/* Poll the order of J: finalize it when ready, download its certificate
 * when valid. */
static void
step_order(struct finish_run *r, struct job *j)
{
	const char *status;
	json_t *order;
	long ra;

	if (get_json(&j->s->a, pki_str(j->entry, "url"), &order, &ra) == -1) {
		acme_rec_error(j->rec, &j->s->a, "order");
		fail(r, j);
		return;
	}
	status = pki_str(order, "status") ? pki_str(order, "status") : "";
	json_object_set_new(j->entry, "status", json_string(status));
	if (strcmp(status, "ready") == 0 && j->step == READY)
		finalize(r, j);
	else if (strcmp(status, "valid") == 0) {
		if (cert_download(&j->s->a, j->rec, j->algo, order, j->entry,
		    r->o->preferred_chain) == 0)
			j->step = DONE;
		else
			fail(r, j);
	} else if (strcmp(status, "pending") == 0 ||
	    strcmp(status, "processing") == 0 ||
	    strcmp(status, "ready") == 0)
		later(j, ra);
	else
		order_error(r, j, order);
	json_decref(order);
}

/* Poll until every job is done or failed, or the time is over. */
static void
poll_all(struct finish_run *r)
{
	struct job *j;
	double next;
	size_t i;

	for (;;) {
		next = NEVER;
		for (i = 0; i < r->njobs; i++) {
			j = &r->jobs[i];
			if (j->step != DONE && j->step != FAILED && j->at <= pki_now())
				(j->step == AUTHZ ? step_authz : step_order)(r, j);
			if (j->step != DONE && j->step != FAILED && j->at < next)
				next = j->at;
		}
		if (next == NEVER)
			return;
		if (next >= r->deadline)
			break;
		pki_sleep_until(next);
	}
	for (i = 0; i < r->njobs; i++) {
		j = &r->jobs[i];
		if (j->step == DONE || j->step == FAILED)
			continue;
		pki_rec_error(j->rec, "acme", "%s: timed out after %ld s %s",
		    j->algo, r->o->timeout, step_names[j->step]);
		fail(r, j);
	}
}

/* ------------------------------------------------------------ setup */

/* 1 if ENTRY of "acme"."orders" is an order finish can follow. */
static int
usable_order(const json_t *entry)
{
	json_t *authzs = json_object_get(entry, "authorizations"), *v;
	size_t i;

	if (pki_str(entry, "url") == NULL || pki_str(entry, "finalize") == NULL ||
	    !json_is_array(authzs) || json_array_size(authzs) == 0)
		return 0;
	json_array_foreach(authzs, i, v)
		if (!json_is_string(v))
			return 0;
	return 1;
}

/*
 * Make a job of each order of REC whose algorithm has no certificate.
 * Every entry is checked first: one that is not an order fails the
 * record, and none of its orders runs (the record would not be stored
 * with the certificates of the others).  -1 on memory exhaustion.
 */
static int
add_jobs(struct finish_run *r, json_t *rec)
{
	json_t *orders = json_object_get(json_object_get(rec, "acme"),
	    "orders"), *entry, *certs = json_object_get(rec, "cert");
	const char *algo;
	struct job *nj;
	int bad = 0;

	json_object_foreach(orders, algo, entry)
		if (json_object_get(certs, algo) == NULL &&
		    !usable_order(entry)) {
			pki_rec_error(rec, "acme.orders", "%s: not an order",
			    algo);
			bad = 1;
		}
	if (bad) {
		r->failed++;
		return 0;
	}
	json_object_foreach(orders, algo, entry) {
		if (json_object_get(certs, algo) != NULL)
			continue;
		if ((nj = reallocarray(r->jobs, r->njobs + 1,
		    sizeof(*nj))) == NULL) {
			pki_err("out of memory");
			return -1;
		}
		r->jobs = nj;
		r->jobs[r->njobs++] = (struct job){ rec, algo, entry, NULL, 0,
		    AUTHZ, 0, POLL_FIRST };
	}
	return 0;
}

/* pki_batch()'s MINE: hold REC when it has orders to finish (they
 * become jobs). */
static int
mine(json_t *rec, void *ctx)
{
	struct finish_run *r = ctx;
	size_t before = r->njobs;
	int failed = r->failed;

	if (pki_rec_failed(rec))
		return PKI_PASS;
	if (add_jobs(r, rec) == -1) {
		r->njobs = before;	/* REC passes: no job keeps it */
		return -1;
	}
	if (r->njobs > before)
		return PKI_HOLD;
	return r->failed > failed ? PKI_FAILED : PKI_PASS;
}

/* pki_batch()'s SETUP: the session of each record's CA (the CA its
 * orders were placed at, else the record's own), once the batch is
 * gathered; a record whose CA's account or session cannot be had fails
 * (setup error: exit 2), and the others go on. */
static int
setup(void *ctx, char *why, size_t len)
{
	struct finish_run *r = ctx;
	struct session *s = NULL;
	const json_t *last = NULL;
	const char *dir;
	struct job *j;
	size_t i;

	(void)why, (void)len;
	for (i = 0; i < r->njobs; i++) {
		j = &r->jobs[i];
		if (j->rec != last) {
			last = j->rec;
			dir = pki_str(json_object_get(j->rec, "acme"),
			    "directory");
			if (dir == NULL)
				dir = rec_directory(r->o, j->rec);
			if ((s = session_for(&r->ss, dir, j->rec)) == NULL)
				drop(r, j->rec);
		}
		j->s = s;
	}
	return 0;
}

/* Each record's orders must be the account's of its session. */
static void
check_account(struct finish_run *r)
{
	const char *acct;
	size_t i;

	for (i = 0; i < r->njobs; i++) {
		acct = pki_str(json_object_get(r->jobs[i].rec, "acme"),
		    "account");
		if (r->jobs[i].step != FAILED && (acct == NULL ||
		    strcmp(acct, r->jobs[i].s->acct.url) != 0))
			fail_rec(r, r->jobs[i].rec, "acme", "ordered with "
			    "another account than this one");
	}
}

/* The session of REC's jobs. */
static struct session *
rec_session(const struct finish_run *r, const json_t *rec)
{
	size_t i;

	for (i = 0; i < r->njobs; i++)
		if (r->jobs[i].rec == rec)
			return r->jobs[i].s;
	return NULL;
}

/* 1 if some job of REC is still on. */
static int
live(const struct finish_run *r, const json_t *rec)
{
	size_t i;

	for (i = 0; i < r->njobs; i++)
		if (r->jobs[i].rec == rec && r->jobs[i].step != FAILED &&
		    r->jobs[i].step != DONE)
			return 1;
	return 0;
}

/* Every challenge of the live records that is pending, or processing
 * (answered by an earlier run), in the batch's order: [[rec, challenge]]. */
static json_t *
pending(const struct finish_run *r)
{
	json_t *list = json_array(), *rec, *c;
	const char *status;
	size_t i, k;

	json_array_foreach(r->recs, i, rec) {
		if (!live(r, rec))
			continue;
		json_array_foreach(json_object_get(rec, "challenges"), k, c) {
			status = pki_str(c, "status");
			if (status == NULL || strcmp(status, "pending") == 0 ||
			    strcmp(status, "processing") == 0)
				json_array_append_new(list, json_pack("[O, O]",
				    rec, c));
		}
	}
	return list;
}

/* ------------------------------------------------------------ answer */

/* Serve the key authorizations of the pending http-01 challenges of LIST
 * as the options say; records that need it and cannot have it fail. */
static void
serve_http01(struct finish_run *r, const json_t *list)
{
	json_t *tokens = json_object(), *pair, *c;
	const char *token, *why = NULL;
	char keyauth[512];
	size_t i;
	int rc = 0;

	json_array_foreach(list, i, pair) {
		c = json_array_get(pair, 1);
		token = pki_str(c, "token");
		if (strcmp(pki_str(c, "type") ? pki_str(c, "type") : "",
		    "http-01") != 0 || !b64u_valid(token))
			continue;
		/* Its account's key authorization (RFC 8555 8.1). */
		snprintf(keyauth, sizeof(keyauth), "%s.%s", token,
		    rec_session(r, json_array_get(pair, 0))->acct.thumb);
		json_object_set_new(tokens, token, json_string(keyauth));
	}
	if (json_object_size(tokens) == 0) {
		json_decref(tokens);
		return;
	}
	if (r->o->http_listen != NULL)
		rc = http01_listen(&r->h01, r->o->http_listen,
		    r->o->http_user, tokens);
	else if (r->o->http_root != NULL)
		rc = http01_webroot(&r->h01, r->o->http_root, tokens);
	else
		why = "http-01 needs --http-root DIR or --http-listen ADDR:PORT";
	if (rc == -1) {
		r->fatal = 1;
		why = "cannot serve the http-01 challenges";
	}
	json_array_foreach(list, i, pair) {
		c = json_array_get(pair, 1);
		if (why != NULL && json_object_get(tokens, pki_str(c, "token")) &&
		    live(r, json_array_get(pair, 0)))
			fail_rec(r, json_array_get(pair, 0), "challenges", why);
	}
	json_decref(tokens);
}

/*
 * Answer challenge URL (RFC 8555 7.5.1: an empty object); *GOT is the
 * challenge the CA returns.  An answer whose response was lost is not
 * sent again blindly (the CA refuses a second one): the challenge is
 * fetched, and answered again only while it is still pending.  0 / -1
 * (A->why).
 */
static int
answer_one(struct acme *a, const char *url, json_t **got)
{
	json_t *empty = json_object();
	char lost[sizeof(a->why)];
	const char *status;
	int tries, rc = -1;
	long ra;

	for (tries = 0; tries < ACME_NET_TRIES; tries++) {
		if ((rc = acme_post_json(a, url, empty, got)) == 0 ||
		    !a->unknown)
			break;
		snprintf(lost, sizeof(lost), "%s", a->why);
		pki_warn("challenge: %s; asking the CA for it", lost);
		if ((rc = get_json(a, url, got, &ra)) == -1)
			break;
		status = pki_str(*got, "status");
		if (status == NULL || strcmp(status, "pending") != 0)
			break;		/* the CA took it */
		json_decref(*got);
		*got = NULL;
		snprintf(a->why, sizeof(a->why), "%s", lost);
		rc = -1;
	}
	json_decref(empty);
	return rc;
}

/* Tell the CA that each pending challenge of LIST is ready. */
static void
answer(struct finish_run *r, const json_t *list)
{
	json_t *pair, *rec, *c, *got;
	struct acme *a;
	const char *status;
	size_t i;

	json_array_foreach(list, i, pair) {
		rec = json_array_get(pair, 0);
		c = json_array_get(pair, 1);
		status = pki_str(c, "status");
		if (!live(r, rec) || (status != NULL &&
		    strcmp(status, "pending") != 0))
			continue;
		a = &rec_session(r, rec)->a;
		if (pki_str(c, "url") == NULL ||
		    answer_one(a, pki_str(c, "url"), &got) == -1) {
			acme_rec_error(rec, a, "challenge");
			drop(r, rec);
			continue;
		}
		status = pki_str(got, "status");
		json_object_set_new(c, "status", json_string(status ? status :
		    "processing"));
		json_decref(got);
	}
}

/* pki_batch()'s ACT: answer every challenge of the batch, then poll
 * every order. */
static int
act(json_t *held, void *ctx)
{
	struct finish_run *r = ctx;
	json_t *list;

	size_t i;

	(void)held;
	check_account(r);
	for (i = 0; i < r->ss.n; i++)
		acme_begin(&r->ss.v[i]->a);
	r->deadline = pki_now() + (double)r->o->timeout;
	list = pending(r);
	serve_http01(r, list);
	answer(r, list);
	json_decref(list);
	poll_all(r);
	http01_stop(&r->h01);
	sessions_tell(&r->ss);	/* before the records held */
	if (r->fatal)
		return PKI_EXIT_FATAL;
	return r->failed > 0 ? PKI_EXIT_RECORD : PKI_EXIT_OK;
}

int
cmd_finish(const struct opts *o)
{
	static const struct pki_batch ops = { mine, setup, act, "acme",
	    "not finished" };
	struct finish_run r;
	int status = PKI_EXIT_FATAL;

	memset(&r, 0, sizeof(r));
	r.o = o;
	r.ss.o = o;
	http01_init(&r.h01);
	if ((r.recs = json_array()) != NULL)
		status = pki_batch(&ops, r.recs, &r);
	pki_out_close();
	json_decref(r.recs);
	free(r.jobs);
	sessions_free(&r.ss);
	return r.ss.failed || o->pass_failed ? PKI_EXIT_FATAL : status;
}
