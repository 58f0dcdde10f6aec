/*
 * pki-select - the source of the pipelines: certificates of the database
 * as cert records.
 *
 * Without a mode it writes the configuration of the selected certificates.
 * --create writes those without a valid instance and claims each with a
 * 'reserved' instance, so that two runs never issue the same certificate.
 * --serial writes one instance with its certificates (and keys on request).
 * --distribute and --consolidate write the instances to put on (or check
 * on) their targets (distribute.c), holding back what the DANE roll
 * keeps waiting (roll.c); --tlsa the TLSA RRsets to publish (tlsa.c).
 */
#include <stdlib.h>
#include <string.h>

#include "select.h"

static const char usage[] =
"usage: pki-select [-ahqv] [-o NAME]... [-i NAME]... [-e NAME]... [--create]\n"
"                  [--due | --force | --within DAYS] [--remind] [--reuse]\n"
"                  [--passphrase-file FILE] [--now TIME] [--limit N]\n"
"                  [--run ID] [--stale SECONDS] [--syslog FACILITY]\n"
"       pki-select --schedule [-ahqv] [-o NAME]... [-i NAME]... [-e NAME]...\n"
"                  [--now TIME] [--limit N] [--keep N] [--remind]\n"
"                  [--stale SECONDS] [--syslog FACILITY]\n"
"       pki-select --distribute | --consolidate [-ahqv] [-o NAME]...\n"
"                  [-i NAME]... [-e NAME]... [-s HOST]... [-l HOST]...\n"
"                  [--run ID] [--stale SECONDS] [--with-keys]\n"
"                  [--passphrase-file FILE] [--roll] [--min-roll-mins N]\n"
"                  [--now TIME] [--syslog FACILITY]\n"
"       pki-select --serial ID [-qv] [--with-keys] [--passphrase-file FILE]\n"
"                  [--syslog FACILITY]\n"
"       pki-select --orphans [-qv] [--stale SECONDS] [--syslog FACILITY]\n"
"       pki-select --tlsa changed | all | remove | prepublish | backfill\n"
"                  [-ahqv] [-o NAME]... [-i NAME]... [-e NAME]...\n"
"                  [--now TIME] [--syslog FACILITY]\n";

/* The valid instances of certificate r.id at t.now plus DAYS. */
#define VALID(DAYS) \
	"EXISTS (SELECT 1 FROM certinstances i WHERE i.certificate = r.id " \
	"  AND i.state IN ('issued', 'prepublished', 'deployed') " \
	"  AND i.not_after > t.now + " DAYS ")"

/*
 * What --create selects, for the claims: $1..$4 the selection, $5 now
 * (NULL: the clock), $6 what is claimed: "missing" (no valid instance),
 * "due" (pki.schedule.due_at passed: renewal time, not backed off),
 * "force" (all), "within" (no instance valid $7 days from now); $8 local
 * certificates are left alone.  Those with a claim are not.
 */
#define CLAIM_NOW \
	"WITH t AS (SELECT coalesce($5::timestamptz AT TIME ZONE 'UTC', " \
	"  now() AT TIME ZONE 'UTC') AS now) "
#define CANDIDATES \
	"FROM t, (SELECT c.id, n.name, n.type AS subject_type, c.disabled, " \
	"  c.type FROM certificates c JOIN subjects n ON n.certificate = c.id " \
	"  AND NOT n.isaltname) r JOIN schedule s ON s.certificate = r.id " \
	"WHERE " SELECTED "AND NOT EXISTS (SELECT 1 FROM certinstances i " \
	"  WHERE i.certificate = r.id AND i.state = 'reserved') " \
	"AND NOT ($8::bool AND r.type = 'local') AND CASE $6::text " \
	"  WHEN 'missing' THEN NOT " VALID("'0 s'") \
	"  WHEN 'due' THEN s.due_at <= t.now WHEN 'force' THEN true " \
	"  ELSE NOT " VALID("make_interval(days => $7::int)") " END "

/*
 * Lock the schedule rows of the first $9 candidates (by name) that no
 * other transaction has locked: runs that claim at the same time take
 * different slices instead of waiting for each other.  A row per
 * certificate: its id.
 */
#define CLAIM_LOCK \
	CLAIM_NOW "SELECT r.id " CANDIDATES \
	"ORDER BY r.name LIMIT $9::int FOR UPDATE OF s SKIP LOCKED"

/*
 * Claim for run $10 the certificates of $9 (a JSON array of ids, locked
 * by CLAIM_LOCK) that are still candidates: asked again, in a statement
 * that sees what a run whose lock went before ours committed (it may
 * have claimed one, or even stored its instance already).  A row per
 * claim: the record, the claim, whether it renews a valid instance, the
 * newest valid instance and its certIDs (pki.ari.cert_ids, or NULL).
 */
#define CLAIM \
	CLAIM_NOW ", cand AS (SELECT r.id, r.name, " VALID("'0 s'") \
	"  AS renew " CANDIDATES "AND r.id IN (SELECT " \
	"  json_array_elements_text($9::json)::int4)), " \
	"new AS (SELECT nextval(pg_get_serial_sequence(" \
	"    'pki.certinstances', 'id')) AS id, cand.id AS cert FROM cand), " \
	"claimed AS (INSERT INTO certinstances " \
	"  (id, certificate, state, ocsp_must_staple, cacert, run) " \
	"  SELECT new.id, new.cert, 'reserved', c.ocsp_must_staple, new.id, " \
	"  $10::int4 FROM new JOIN certificates c ON c.id = new.cert " \
	"  RETURNING id, certificate) " \
	"SELECT r.record, cl.id, cand.renew, cur.id, cur.cert_ids " \
	"FROM claimed cl LEFT JOIN LATERAL (SELECT i.id, a.cert_ids " \
	"  FROM certinstances i LEFT JOIN ari a ON a.certinstance = i.id " \
	"  WHERE i.certificate = cl.certificate AND i.state IN ('issued', " \
	"  'prepublished', 'deployed') ORDER BY i.not_after DESC, i.id DESC " \
	"  LIMIT 1) cur ON true " \
	"JOIN cert_records r ON r.id = cl.certificate " \
	"JOIN cand ON cand.id = cl.certificate ORDER BY r.name"

/*
 * Take over the claims of runs that are gone: those of a run whose lock
 * no session holds, and those of no run (a pipeline typed by hand) older
 * than $1 seconds.  An event each; one row per run taken over from:
 * the run as text, how many claims, the first three names.
 */
#define TAKE_OVER \
	"WITH dead AS (DELETE FROM certinstances i WHERE state = 'reserved' " \
	"  AND CASE WHEN i.run IS NULL THEN i.created < (now() AT TIME ZONE " \
	"  'UTC') - make_interval(secs => $1::int) ELSE i.run NOT IN " \
	"  (SELECT run FROM runs_alive()) END " \
	"  RETURNING i.id, i.certificate, i.run, i.created), " \
	"named AS (SELECT d.*, s.name, CASE WHEN d.run IS NULL THEN " \
	"  'a claim made by hand at ' || to_char(d.created, " \
	"  'YYYY-MM-DD HH24:MI:SS') || ' that lapsed' ELSE " \
	"  run_text(d.run) || ', which is gone' END AS who " \
	"  FROM dead d JOIN subjects s ON s.certificate = d.certificate " \
	"  AND NOT s.isaltname), " \
	"ev AS (INSERT INTO events (certificate, instance, name, stage, level, " \
	"  message) SELECT certificate, id, name, 'pki-select', 'warning', " \
	"  'claim ' || id || ' taken over from ' || who FROM named) " \
	"SELECT who, count(*), string_agg(name, ', ' ORDER BY name) " \
	"  FILTER (WHERE rn <= 3) FROM (SELECT named.*, row_number() OVER " \
	"  (PARTITION BY who ORDER BY name) AS rn FROM named) n GROUP BY who"

/* The selected certificates that another live run has claimed: one row
 * per run, its text, how many, the first three names. */
#define CLAIMED_ELSEWHERE \
	"SELECT who, count(*), string_agg(name, ', ' ORDER BY name) " \
	"  FILTER (WHERE rn <= 3) FROM (SELECT c.*, row_number() OVER " \
	"  (PARTITION BY c.who ORDER BY c.name) AS rn " \
	"  FROM (SELECT r.name, i.run, CASE WHEN i.run IS NULL THEN " \
	"  'a pipeline run by hand (its claims lapse after --stale)' " \
	"  ELSE run_text(i.run) || ', which is alive' END AS who " \
	"  FROM cert_records r JOIN certinstances i ON i.certificate = r.id " \
	"  AND i.state = 'reserved' WHERE " SELECTED \
	"  AND i.run IS DISTINCT FROM $5::int4) c) n GROUP BY who"

const char *
json_param(json_t *list, char **buf)
{
	*buf = list != NULL ? pki_json_text(list, JSON_COMPACT) : NULL;
	return *buf;
}

int
check_names(PGconn *db, json_t *names, const char *opt)
{
	const char *param[1];
	PGresult *res;
	char *list;
	int i, rc = 0;

	if (json_array_size(names) == 0)
		return 0;
	param[0] = json_param(names, &list);
	res = pki_db_exec(db, "SELECT n FROM json_array_elements_text($1) n "
	    "WHERE n::citext NOT IN (SELECT name FROM cert_records)", 1, param);
	free(list);
	if (res == NULL)
		return -1;
	for (i = 0; i < PQntuples(res); i++) {
		pki_err("%s: no certificate \"%s\"", opt, PQgetvalue(res, i, 0));
		rc = -1;
	}
	PQclear(res);
	return rc;
}

/* REC renews the instance of row I of RES (columns 3 and 4): "renews"
 * for pki-acme order's replaces, and its keys with --reuse. */
static void
renews(PGconn *db, json_t *rec, PGresult *res, int i,
    const struct selection *sel)
{
	json_t *r, *ids;

	if (PQgetisnull(res, i, 3))
		return;
	r = json_pack("{s:I}", "instance", (json_int_t)atoll(PQgetvalue(res,
	    i, 3)));
	if (!PQgetisnull(res, i, 4) && (ids = json_loads(PQgetvalue(res, i,
	    4), 0, NULL)) != NULL) {
		if (json_object_size(ids) > 0)
			json_object_set(r, "cert_id", ids);
		json_decref(ids);
	}
	json_object_set_new(rec, "renews", r);
	/* A certificate with a given CSR keeps it: pki has no key of it. */
	if (sel->reuse && json_object_get(rec, "csr") == NULL)
		instance_keys(db, rec, PQgetvalue(res, i, 3), sel->pass);
}

/* Write each row's record (column 0), with the claim (column 1) if
 * CLAIMED (for run RUN, when not NULL) and its action (column 2 true:
 * renew, else issue); a renewal names the instance it renews (column 3)
 * and its certIDs (column 4) in "renews", and has its keys if SEL says
 * --reuse.  -1 if stdout cannot be written; a
 * key that cannot be read is the record's error. */
static int
write_records(PGconn *db, PGresult *res, int claimed, const char *run,
    const struct selection *sel)
{
	json_error_t jerr;
	json_t *rec;
	int i, rc = 0;

	for (i = 0; i < PQntuples(res) && rc == 0; i++) {
		if ((rec = json_loads(PQgetvalue(res, i, 0), 0, &jerr)) == NULL) {
			pki_err("cert_records: %s", jerr.text);
			return -1;
		}
		if (claimed) {
			json_object_set_new(rec, "action", json_string(
			    *PQgetvalue(res, i, 2) == 't' ? "renew" : "issue"));
			json_object_set_new(rec, "instance", json_pack(
			    "{s:I, s:s}", "id", (json_int_t)atoll(
			    PQgetvalue(res, i, 1)), "state", "reserved"));
			if (run != NULL)
				json_object_set_new(json_object_get(rec,
				    "instance"), "run", json_integer(atoll(run)));
			pki_info("%s: claimed as instance %s",
			    pki_rec_name(rec), PQgetvalue(res, i, 1));
			if (*PQgetvalue(res, i, 2) == 't')
				renews(db, rec, res, i, sel);
		}
		rc = pki_out(rec);
		json_decref(rec);
	}
	return rc;
}

/* Claims are made and written a chunk at a time, so the pipeline starts
 * on the first certificates while the next are claimed.  The first
 * chunks are small, so that runs that claim at the same time share the
 * batch in slices (a run gets ahead of its pipeline by no more than the
 * pipes hold: pki-select blocks on writing), and grow, so that a large
 * batch costs few statements. */
#define CHUNK_FIRST	50
#define CHUNK_MAX	500

/*
 * Say what the rows of RES (who, count, first names) are: "took over"
 * claims from a dead run, or certificates "left to" a live one.
 */
static void
say_runs(PGresult *res, int taken)
{
	long n;
	int i;
	char more[48];

	for (i = 0; i < PQntuples(res); i++) {
		n = atol(PQgetvalue(res, i, 1));
		*more = '\0';
		if (n > 3)
			snprintf(more, sizeof(more), " and %ld more", n - 3);
		if (taken)
			pki_warn("took over %ld claim%s (%s%s) from %s", n,
			    n == 1 ? "" : "s", PQgetvalue(res, i, 2), more,
			    PQgetvalue(res, i, 0));
		else
			pki_warn("%ld certificate%s (%s%s) left to %s", n,
			    n == 1 ? "" : "s", PQgetvalue(res, i, 2), more,
			    PQgetvalue(res, i, 0));
	}
}

/* Run SQL with N parameters P and say its rows with say_runs(); 0 / -1. */
static int
report(PGconn *db, const char *sql, int n, const char *const *p, int taken)
{
	PGresult *res;

	if ((res = pki_db_exec(db, sql, n, p)) == NULL)
		return -1;
	say_runs(res, taken);
	PQclear(res);
	return 0;
}

/* RUN (NULL: none) must be a live run: its holder took the lock. */
static int
run_alive(PGconn *db, const char *run)
{
	const char *p[1] = { run };
	PGresult *res;
	int alive;

	if (run == NULL)
		return 0;
	if ((res = pki_db_exec(db, "SELECT pki.run_alive($1::int4)", 1,
	    p)) == NULL)
		return -1;
	alive = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	if (!alive)
		pki_err("--run %s: no such run alive (its holder is gone)", run);
	return alive ? 0 : -1;
}

static const char *const claim_mode[] = {
	[CLAIM_MISSING] = "missing", [CLAIM_DUE] = "due",
	[CLAIM_FORCE] = "force", [CLAIM_WITHIN] = "within"
};

/*
 * Lock a chunk of what --create selects with the parameters P (P[8] the
 * chunk's size) and claim those still to be claimed (P[8] their ids, P[9]
 * the run) in one transaction; the claims of runs that are gone are
 * taken over first, so that a run that dies is relieved by those still
 * claiming.  Returns the rows of CLAIM (caller PQclear()s), or NULL
 * (said); *LOCKED how many were locked.
 */
static PGresult *
claim_chunk(PGconn *db, const char *p[10], const struct selection *sel,
    int *locked)
{
	char age[24], *ids = NULL;
	const char *pa[1] = { age };
	PGresult *res = NULL, *lk = NULL;
	json_t *list = json_array();
	int i;

	snprintf(age, sizeof(age), "%ld", sel->stale);
	if (pki_db_cmd(db, "BEGIN") == -1 ||
	    report(db, TAKE_OVER, 1, pa, 1) == -1 ||
	    (lk = pki_db_exec(db, CLAIM_LOCK, 9, p)) == NULL)
		goto out;
	*locked = PQntuples(lk);
	for (i = 0; i < *locked; i++)
		json_array_append_new(list, json_integer(atoll(PQgetvalue(lk,
		    i, 0))));
	p[8] = json_param(list, &ids);
	if ((res = pki_db_exec(db, CLAIM, 10, p)) != NULL &&
	    pki_db_cmd(db, "COMMIT") == -1) {
		PQclear(res);
		res = NULL;
	}
out:
	PQclear(lk);
	free(ids);
	json_decref(list);
	return res;
}

/*
 * Claim what --create selects (sel->claim) for the run sel->run (may be
 * NULL), at most sel->limit_n, a chunk per transaction, and write it
 * (P[0..3] the selection).  At the end the certificates that a live run
 * has claimed are named, so that none is skipped silently.
 */
static int
claim(PGconn *db, const char *sel_param[4], const struct selection *sel)
{
	char limit[24];
	const char *p[10];
	PGresult *res;
	long left = sel->limit_n, chunk;
	int n, locked = 0;

	memcpy(p, sel_param, 4 * sizeof(p[0]));
	p[4] = sel->now;
	p[5] = claim_mode[sel->claim];
	p[6] = sel->within;
	p[7] = sel->remind ? "t" : "f";
	p[9] = sel->run;
	if (run_alive(db, sel->run) == -1)
		return -1;
	for (chunk = CHUNK_FIRST; left > 0; chunk = chunk * 2 > CHUNK_MAX ?
	    CHUNK_MAX : chunk * 2) {
		if (chunk > left)
			chunk = left;
		snprintf(limit, sizeof(limit), "%ld", chunk);
		p[8] = limit;
		if ((res = claim_chunk(db, p, sel, &locked)) == NULL)
			return -1;
		n = PQntuples(res);
		left -= n;
		if (write_records(db, res, 1, sel->run, sel) == -1) {
			PQclear(res);
			return -1;
		}
		PQclear(res);
		if (locked < chunk)
			break;
	}
	p[4] = sel->run;
	return report(db, CLAIMED_ELSEWHERE, 5, p, 0);
}

static int
select_certs(PGconn *db, struct selection *sel)
{
	const char *param[4];
	char *bufs[3], all[2];
	PGresult *res;
	int rc = PKI_EXIT_OK, r;

	if (check_names(db, sel->only, "-o") == -1 ||
	    check_names(db, sel->include, "-i") == -1)
		rc = PKI_EXIT_RECORD;
	param[0] = json_param(sel->only, &bufs[0]);
	param[1] = json_param(sel->include, &bufs[1]);
	param[2] = json_param(sel->exclude, &bufs[2]);
	param[3] = strcpy(all, sel->all ? "t" : "f");
	if (sel->create)
		r = claim(db, param, sel);
	else if ((res = pki_db_exec(db, "SELECT r.record FROM cert_records r "
	    "WHERE " SELECTED "ORDER BY r.name", 4, param)) == NULL)
		r = -1;
	else {
		r = write_records(db, res, 0, NULL, sel);
		PQclear(res);
	}
	free(bufs[0]);
	free(bufs[1]);
	free(bufs[2]);
	return r == -1 ? PKI_EXIT_FATAL : rc;
}

static int
select_serial(PGconn *db, const char *serial, int with_keys,
    const char *pass)
{
	const char *param[1] = { serial };
	json_t *rec;
	PGresult *res;
	int rc;

	res = pki_db_exec(db, "SELECT r.record, i.state, d.encryption_algo, "
	    "convert_from(d.cert, 'UTF8'), convert_from(d.key, 'UTF8'), "
	    "instance_chain(i.id) FROM certinstances i "
	    "JOIN certkeydata d ON d.certinstance = i.id "
	    "JOIN cert_records r ON r.id = i.certificate "
	    "WHERE i.id = $1::int4 ORDER BY d.encryption_algo", 1, param);
	if (res == NULL)
		return PKI_EXIT_FATAL;
	if (PQntuples(res) == 0) {
		pki_err("--serial: no instance %s with a certificate", serial);
		PQclear(res);
		return PKI_EXIT_RECORD;
	}
	rec = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
	json_object_set_new(rec, "action", json_string("export"));
	json_object_set_new(rec, "instance", json_pack("{s:I, s:s}", "id",
	    (json_int_t)atoll(serial), "state", PQgetvalue(res, 0, 1)));
	rc = instance_material(rec, res, 0, PQntuples(res), with_keys, pass);
	pki_db_wipe(res);
	PQclear(res);
	if (pki_out(rec) == -1)
		rc = PKI_EXIT_FATAL;
	json_decref(rec);
	return rc == PKI_EXIT_FATAL ? rc : rc != 0 ? PKI_EXIT_RECORD :
	    PKI_EXIT_OK;
}

static void
add_name(json_t **list, const char *name)
{
	if (*list == NULL)
		*list = json_array();
	json_array_append_new(*list, json_string(name));
}

static const struct option longopts[] = {
	PKI_LONGOPTS_COMMON,
	{ "all",		no_argument,		NULL, 'a' },
	{ "only",		required_argument,	NULL, 'o' },
	{ "include",		required_argument,	NULL, 'i' },
	{ "exclude",		required_argument,	NULL, 'e' },
	{ "skip-disthost",	required_argument,	NULL, 's' },
	{ "limit-to-disthost",	required_argument,	NULL, 'l' },
	{ "create",		no_argument,		NULL, 'C' },
	{ "orphans",		no_argument,		NULL, 'O' },
	{ "distribute",		no_argument,		NULL, 'D' },
	{ "consolidate",	no_argument,		NULL, 'K' },
	{ "stale",		required_argument,	NULL, 'S' },
	{ "run",		required_argument,	NULL, 'r' },
	{ "serial",		required_argument,	NULL, 'n' },
	{ "with-keys",		no_argument,		NULL, 'k' },
	{ "passphrase-file",	required_argument,	NULL, 'p' },
	{ "tlsa",		required_argument,	NULL, 'T' },
	{ "schedule",		no_argument,		NULL, 'W' },
	{ "due",		no_argument,		NULL, 'U' },
	{ "force",		no_argument,		NULL, 'F' },
	{ "within",		required_argument,	NULL, 'I' },
	{ "now",		required_argument,	NULL, 'N' },
	{ "limit",		required_argument,	NULL, 'L' },
	{ "keep",		required_argument,	NULL, 'P' },
	{ "remind",		no_argument,		NULL, 'R' },
	{ "reuse",		no_argument,		NULL, 'E' },
	{ "roll",		no_argument,		NULL, 'G' },
	{ "min-roll-mins",	required_argument,	NULL, 'M' },
	{ NULL,			0,			NULL, 0 }
};

/* --due, --force or --within DAYS (CH, its ARG) into SEL; -1 (said)
 * if another of them came first or DAYS is bad. */
static int
claim_option(struct selection *sel, int ch, const char *arg)
{
	static const char *const name[] = { "", "--due", "--force",
	    "--within" };
	int mode = ch == 'U' ? CLAIM_DUE : ch == 'F' ? CLAIM_FORCE :
	    CLAIM_WITHIN;
	long days;

	if (sel->claim != CLAIM_MISSING && sel->claim != mode) {
		pki_err("%s and %s exclude each other", name[sel->claim],
		    name[mode]);
		return -1;
	}
	if (mode == CLAIM_WITHIN && pki_parse_long("--within", arg, 0, 36500,
	    &days) == -1)
		return -1;
	sel->claim = mode;
	sel->within = arg;
	return 0;
}

/* The options into SEL; *SERIAL and *PASS_FILE as given.  -1 (said) if
 * a value is bad. */
static int
options(int argc, char *argv[], struct selection *sel, const char **serial,
    const char **pass_file)
{
	long id;
	int ch;

	while ((ch = pki_getopt(argc, argv, PKI_OPTSTRING_COMMON "ao:i:e:s:l:",
	    longopts, usage)) != -1) {
		switch (ch) {
		case 'a': sel->all = 1; break;
		case 'o': add_name(&sel->only, optarg); break;
		case 'i': add_name(&sel->include, optarg); break;
		case 'e': add_name(&sel->exclude, optarg); break;
		case 's': add_name(&sel->skip, optarg); break;
		case 'l': add_name(&sel->limit, optarg); break;
		case 'C': sel->create = 1; break;
		case 'W': sel->schedule = 1; break;
		case 'R': sel->remind = 1; break;
		case 'E': sel->reuse = 1; break;
		case 'U':
		case 'F':
		case 'I':
			if (claim_option(sel, ch, optarg) == -1)
				return -1;
			break;
		case 'N':
			if (pki_parse_time("--now", optarg) == -1)
				return -1;
			sel->now = optarg;
			break;
		case 'L':
			if (pki_parse_long("--limit", optarg, 1, 1000000000,
			    &sel->limit_n) == -1)
				return -1;
			sel->given_limit = 1;
			break;
		case 'P':
			if (pki_parse_long("--keep", optarg, 0, 1000,
			    &sel->keep) == -1)
				return -1;
			sel->given_keep = 1;
			break;
		case 'O': sel->orphans = 1; break;
		case 'k': sel->with_keys = 1; break;
		case 'p': *pass_file = optarg; break;
		case 'G': sel->roll = 1; break;
		case 'M':
			if (pki_parse_long("--min-roll-mins", optarg, 0,
			    525600, &sel->min_roll) == -1)
				return -1;
			sel->min_roll_set = 1;
			break;
		case 'T':
			if (tlsa_mode_check(optarg) == -1)
				return -1;
			sel->tlsa = optarg;
			break;
		case 'D':
		case 'K':
			if (sel->mode != 0 && sel->mode != ch) {
				pki_err("--distribute and --consolidate "
				    "exclude each other");
				return -1;
			}
			sel->mode = ch;
			break;
		case 'r':
			if (pki_parse_long("--run", optarg, 1, 2147483647,
			    &id) == -1)
				return -1;
			sel->run = optarg;
			break;
		case 'S':
			if (pki_parse_long("--stale", optarg, 60, 30 * 86400,
			    &sel->stale) == -1)
				return -1;
			break;
		case 'n':
			if (pki_parse_long("--serial", optarg, 1, 2147483647,
			    &id) == -1)
				return -1;
			*serial = optarg;
			break;
		default:
			pki_usage(usage);
		}
	}
	if (optind != argc)
		pki_usage(usage);
	return 0;
}

/* The options that exclude each other; -1 (said) if some are given
 * together. */
static int
conflicts(const struct selection *sel, const char *serial)
{
	const char *why = NULL;

	if (sel->schedule && (serial != NULL || sel->create || sel->orphans ||
	    sel->mode || sel->tlsa || sel->run || sel->with_keys || sel->skip ||
	    sel->limit))
		why = "--schedule only lists: no other mode, --run, "
		    "--with-keys, -s or -l with it";
	else if (!sel->schedule && (sel->given_keep ||
	    (!sel->create && (sel->given_limit || sel->remind))))
		why = "--limit and --remind need --schedule or --create, "
		    "--keep needs --schedule";
	else if (sel->now && !sel->schedule && !sel->create &&
	    sel->mode != 'D' && (sel->tlsa == NULL ||
	    strcmp(sel->tlsa, "prepublish") != 0))
		why = "--now needs --schedule, --create, --distribute or "
		    "--tlsa prepublish";
	else if ((sel->claim != CLAIM_MISSING || sel->reuse) && !sel->create)
		why = "--due, --force, --within and --reuse need --create";
	else if (sel->tlsa != NULL && (serial != NULL || sel->create ||
	    sel->orphans || sel->mode || sel->run || sel->with_keys ||
	    sel->skip || sel->limit))
		why = "--tlsa selects certificates by name: no other mode, "
		    "--run, --with-keys, -s or -l with it";
	else if ((sel->roll || sel->min_roll_set) && sel->mode != 'D')
		why = "--roll and --min-roll-mins need --distribute";
	else if (sel->orphans && (serial != NULL || sel->create || sel->all ||
	    sel->only || sel->run || sel->include || sel->exclude ||
	    sel->mode || sel->skip || sel->limit || sel->with_keys))
		why = "--orphans selects by the runs that are gone: no other "
		    "mode, --run, -a, -o, -i, -e, -s, -l or --with-keys with it";
	else if (serial != NULL && (sel->create || sel->all || sel->only ||
	    sel->run || sel->include || sel->exclude || sel->mode || sel->skip ||
	    sel->limit))
		why = "--serial selects one instance: no --create, "
		    "--distribute, --consolidate, --run, -a, -o, -i, -e, -s "
		    "or -l with it";
	else if (sel->create && sel->mode)
		why = "--create and --distribute or --consolidate exclude "
		    "each other";
	else if ((sel->skip || sel->limit) && !sel->mode)
		why = "-s and -l need --distribute or --consolidate";
	else if (sel->run != NULL && !sel->create && !sel->mode)
		why = "--run needs --create, --distribute or --consolidate";
	else if (sel->with_keys && serial == NULL && !sel->mode)
		why = "--with-keys needs --serial, --distribute or "
		    "--consolidate";
	if (why != NULL)
		pki_err("%s", why);
	return why != NULL ? -1 : 0;
}

int
main(int argc, char *argv[])
{
	static char pass[PKI_PASS_MAX];
	struct selection sel;
	const char *serial = NULL, *pass_file;
	int rc;
	PGconn *db;

	memset(&sel, 0, sizeof(sel));
	sel.stale = 3600;
	sel.limit_n = 1000000000;
	sel.keep = 10;
	sel.min_roll = 90;	/* ssl-mgr's min_roll_mins */
	pki_init(argv[0]);
	pass_file = getenv("PKI_DB_PASSPHRASE_FILE");
	if (options(argc, argv, &sel, &serial, &pass_file) == -1 ||
	    conflicts(&sel, serial) == -1)
		rc = PKI_EXIT_FATAL;
	else if ((sel.with_keys || sel.reuse) && pass_file != NULL && *pass_file != '\0' &&
	    pki_read_passphrase(pass_file, pass, sizeof(pass)) == -1)
		rc = PKI_EXIT_FATAL;
	else if ((db = pki_db_connect()) == NULL)
		rc = PKI_EXIT_FATAL;
	else {
		sel.pass = *pass ? pass : NULL;
		if (sel.exclude == NULL)
			sel.exclude = json_array();
		if (sel.include == NULL)
			sel.include = json_array();
		if (serial != NULL)
			rc = select_serial(db, serial, sel.with_keys, sel.pass);
		else if (sel.orphans)
			rc = select_orphans(db, &sel);
		else if (sel.tlsa != NULL)
			rc = select_tlsa(db, &sel);
		else if (sel.mode)
			rc = select_deploy(db, &sel);
		else if (sel.schedule)
			rc = select_schedule(db, &sel);
		else
			rc = select_certs(db, &sel);
		PQfinish(db);
	}
	pki_out_close();
	pki_wipe(pass, sizeof(pass));
	json_decref(sel.only);
	json_decref(sel.include);
	json_decref(sel.exclude);
	json_decref(sel.skip);
	json_decref(sel.limit);
	return rc;
}
