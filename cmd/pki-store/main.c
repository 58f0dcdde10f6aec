/*
 * pki-store - the sink of the pipelines: records into the database.
 *
 * Records are stored in transactions of up to --batch records, one
 * statement each, so a large batch is not one commit per row.  One bad
 * record never undoes another: a record the database refuses (which loses
 * the transaction) is marked failed, the transaction rolled back and the
 * batch stored again without it.  Records are changed and written to
 * stdout only once their transaction is committed.  A transaction is also
 * committed when the input pauses, so a slow pipeline's records are not
 * held back.
 *
 * No record is lost: when the connection drops, pki-store connects again
 * once and stores the open batch again (storing is idempotent); when the
 * database cannot be reached, every record not stored comes out with an
 * error and is kept in the spool (--spool, spool.c), whose records the
 * next run stores first.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store.h"

static const char usage[] =
"usage: pki-store [-hqv] [--batch N] [--passphrase-file FILE] [--spool DIR]\n"
"                 [--with-keys] [--checkpoint] [--now TIME]\n"
"                 [--syslog FACILITY]\n"
"       pki-store --encrypt-keys | --decrypt-keys [-qv]\n"
"                 [--passphrase-file FILE] [--syslog FACILITY]\n";

#define IDLE_MS	200	/* commit when no input came for this long */
#define RECONNECT_S 15	/* how long a lost database is waited for */

struct batch {
	json_t		*recs;		/* records of the open transaction */
	json_t		*orig;		/* each as it came: stored again after
					 * a reconnection, or kept */
	struct outcome	*out;		/* what storing did to each */
	size_t		 max;
	size_t		 failed;	/* records this stage failed, so far */
	int		 open;
	int		 status;	/* exit status of the input so far */
};

/* The states of outcome.failed. */
#define STORED		0
#define FAILED		1	/* its failure is to be logged */
#define UNLOGGABLE	2	/* not even that: the database is left alone */

static int
lost(struct store *st)
{
	return PQtransactionStatus(st->db) == PQTRANS_INERROR;
}

/*
 * Begin a transaction, reading whether keys are kept encrypted under a
 * lock that `pki db encrypt|decrypt` waits for; 0 / -1.
 */
static int
begin(struct store *st)
{
	PGresult *res;

	if (pki_db_cmd(st->db, "BEGIN") == -1 ||
	    (res = pki_db_exec(st->db, "SELECT keysencrypted FROM revision "
	    "ORDER BY id DESC LIMIT 1 FOR SHARE", 0, NULL)) == NULL)
		return -1;
	st->encrypted = PQntuples(res) == 1 &&
	    strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return 0;
}

/* Commit; 0 only when the server says it committed (an aborted
 * transaction "commits" as a ROLLBACK). */
static int
commit(struct store *st)
{
	PGresult *res;
	int rc;

	if ((res = pki_db_exec(st->db, "COMMIT", 0, NULL)) == NULL)
		return -1;
	rc = strcmp(PQcmdStatus(res), "COMMIT") == 0 ? 0 : -1;
	PQclear(res);
	return rc;
}

/* Store record I of the batch; 0 stored, 1 failed (logged), -1 the
 * transaction is lost. */
static int
one(struct store *st, struct batch *b, size_t i)
{
	json_t *rec = json_array_get(b->recs, i);
	struct outcome *out = &b->out[i];
	int upstream;

	if (!b->open) {
		if (begin(st) == -1)
			return -1;
		b->open = 1;
	}
	out->what = KEPT;
	if (out->failed == UNLOGGABLE)
		return 1;
	if (out->failed == STORED) {
		upstream = pki_rec_failed(rec);
		if (store_record(st, rec, out) == 0 &&
		    store_schedule(st, rec, out) == 0)
			return 0;
		/* A record that came failed lost the transaction logging
		 * its errors: logging again would only fail again. */
		out->failed = upstream && lost(st) ? UNLOGGABLE : FAILED;
		if (lost(st))
			return -1;
	}
	out->what = KEPT;
	if (store_failure(st, rec, out) == 0 &&
	    store_schedule(st, rec, out) == 0)
		return 1;
	out->failed = UNLOGGABLE;	/* its error says why */
	return -1;
}

/*
 * The transaction was lost on the record that failed last: roll back and
 * store the batch again, that record (and any other that fails) failed.
 * Each try settles one more record, so it ends.  -1 if even that cannot
 * be done (the database is gone).
 */
static int
replay(struct store *st, struct batch *b)
{
	size_t i, n = json_array_size(b->recs), tries;
	int r = 0;

	for (tries = 0; tries <= 2 * n; tries++) {
		/* Nothing more is sent to a server that is gone: it would
		 * fail again, say so again, and replace libpq's reason for
		 * the loss, which recover() reports. */
		if (PQstatus(st->db) != CONNECTION_OK)
			break;
		pki_db_cmd(st->db, "ROLLBACK");
		b->open = 0;
		store_forget(st);
		for (i = 0; i < n; i++)
			if ((r = one(st, b, i)) == -1)
				break;
		if (r != -1)
			return 0;
	}
	return -1;
}

/* 1 if the connection to the database is gone; its why in st->lost. */
static int
gone(struct store *st)
{
	if (PQstatus(st->db) == CONNECTION_OK)
		return 0;
	snprintf(st->lost, sizeof(st->lost), "%s", PQerrorMessage(st->db));
	st->lost[strcspn(st->lost, "\n")] = '\0';
	if (*st->lost == '\0')
		snprintf(st->lost, sizeof(st->lost), "the connection is lost");
	return 1;
}

/*
 * Connect again, once a run: a server that restarts is given
 * RECONNECT_S seconds to come back.  0 / -1 (why in st->lost).
 */
static int
reconnect(struct store *st)
{
	double deadline = pki_now() + RECONNECT_S;

	st->reconnected = 1;
	pki_warn("database: %s; connecting again", st->lost);
	while (pki_db_reconnect(st->db, st->lost, sizeof(st->lost)) == -1) {
		if (pki_now() >= deadline) {
			pki_err("database: %s", st->lost);
			return -1;
		}
		pki_sleep_until(pki_now() + 0.5);
	}
	*st->lost = '\0';
	pki_info("database: connected again");
	return 0;
}

/* The records of the batch as they came, their outcomes forgotten. */
static void
restore(struct batch *b)
{
	json_t *rec;
	size_t i;

	json_array_foreach(b->orig, i, rec) {
		json_array_set_new(b->recs, i, json_deep_copy(rec));
		b->out[i] = (struct outcome){ KEPT, 0, "", STORED };
	}
}

/*
 * The connection was lost: connect again, once a run, and store the
 * batch again from the records as they came.  0 / -1 (the database is
 * gone for good).
 */
static int
recover(struct store *st, struct batch *b)
{
	size_t i;

	if (!gone(st)) {
		snprintf(st->lost, sizeof(st->lost), "the batch could not be "
		    "stored");
		return -1;
	}
	if (st->reconnected || reconnect(st) == -1)
		return -1;
	b->open = 0;
	store_forget(st);
	restore(b);
	for (i = 0; i < json_array_size(b->recs); i++)
		if (one(st, b, i) == -1)
			return replay(st, b) == 0 || !gone(st) ? 0 : -1;
	return 0;
}

/* Store the newest record of the batch; 0 / -1 (the database is gone). */
static int
settle(struct store *st, struct batch *b)
{
	size_t i = json_array_size(b->recs) - 1;

	if (one(st, b, i) != -1 || replay(st, b) == 0)
		return 0;
	return recover(st, b);
}

/* Commit the open transaction: 0 done, 1 the database refused the commit
 * (the batch is rolled back), -1 the database is gone. */
static int
commit_batch(struct store *st, struct batch *b)
{
	if (!b->open)
		return 0;
	b->open = 0;
	if (!lost(st) && commit(st) == 0)
		return 0;
	if (gone(st))
		return recover(st, b) == -1 ? -1 : commit_batch(st, b);
	pki_db_cmd(st->db, "ROLLBACK");
	return 1;
}

/* Write REC, without its keys unless --with-keys; -1 (said) if stdout
 * cannot be written. */
static int
put(struct store *st, json_t *rec)
{
	if (!st->with_keys) {
		json_object_del(rec, "key");
		json_object_del(json_object_get(rec, "account"), "key");
	}
	return pki_out(rec);
}

/* Commit the open transaction, apply each outcome to its record and write
 * it.  -1 if the database is gone (the batch is left as it is). */
static int
flush(struct store *st, struct batch *b)
{
	json_t *rec;
	size_t i;
	int r;

	if ((r = commit_batch(st, b)) == -1)
		return -1;
	json_array_foreach(b->recs, i, rec) {
		if (r == 1)
			pki_rec_error(rec, NULL, "not stored: the database "
			    "refused to commit the transaction");
		if (r == 1 || b->out[i].failed != STORED)
			b->failed++;
		if (r == 0 && b->out[i].what == INSTANCE)
			json_object_set_new(rec, "instance", json_pack(
			    "{s:I, s:s}", "id", (json_int_t)b->out[i].instance,
			    "state", b->out[i].state));
		else if (r == 0 && b->out[i].what == RELEASED)
			json_object_set_new(rec, "instance", json_null());
		if (put(st, rec) == -1)
			b->status = PKI_EXIT_FATAL;
	}
	json_array_clear(b->recs);
	json_array_clear(b->orig);
	return 0;
}

/* REC was not stored because the database is gone: kept in the spool,
 * as it came, and written with an error saying so. */
static void
keep(struct store *st, struct batch *b, json_t *rec)
{
	char why[600];

	if (st->replaying)
		pki_rec_error(rec, NULL, "not stored: database: %s; it stays "
		    "in the spool", st->lost);
	else if (spool_add(&st->spool, rec, why, sizeof(why)) == 0)
		pki_rec_error(rec, NULL, "not stored: database: %s; kept for "
		    "the next run", st->lost);
	else
		pki_rec_error(rec, NULL, "not stored: database: %s; not kept "
		    "either: %s", st->lost, why);
	if (put(st, rec) == -1)
		b->status = PKI_EXIT_FATAL;
}

/* The database is gone for good: every record of the batch, then of the
 * rest of IN (NULL: none), is kept. */
static void
drain(struct store *st, struct batch *b, struct pki_in *in)
{
	json_t *rec;
	size_t i;
	int r;

	json_array_foreach(b->orig, i, rec)
		keep(st, b, rec);
	json_array_clear(b->recs);
	json_array_clear(b->orig);
	b->open = 0;
	while (in != NULL && (r = pki_in_next(in, &rec)) != 0 && r != -2) {
		if (r == 1) {
			keep(st, b, rec);
			json_decref(rec);
		}
	}
	b->status = PKI_EXIT_FATAL;
}

/* Add REC to the batch (which takes it). */
static void
add(struct batch *b, json_t *rec)
{
	size_t i = json_array_size(b->recs);

	json_array_append(b->orig, rec);
	json_array_append_new(b->recs, json_deep_copy(rec));
	json_decref(rec);
	b->out[i] = (struct outcome){ KEPT, 0, "", STORED };
}

/* Store the records of IN: 0 at its end, -1 if the database is gone for
 * good (the batch and the rest of IN are then kept), -2 if IN cannot be
 * read (said). */
static int
consume(struct store *st, struct batch *b, struct pki_in *in)
{
	json_t *rec;
	int r;

	for (;;) {
		if (b->open && !pki_in_ready(in, IDLE_MS) && flush(st, b) == -1)
			break;
		if ((r = pki_in_next(in, &rec)) == 0)
			return flush(st, b) == 0 ? 0 : (drain(st, b, in), -1);
		if (r == -2)
			return flush(st, b) == 0 ? -2 : (drain(st, b, in), -1);
		if (r == -1) {
			b->status = PKI_EXIT_RECORD;
			continue;
		}
		add(b, rec);
		if (settle(st, b) == -1 || (json_array_size(b->recs) >= b->max &&
		    flush(st, b) == -1))
			break;
	}
	drain(st, b, in);
	return -1;
}

/* The records of the spool file FD: spool_replay()'s STORE. */
static int
store_file(int fd, void *ctx)
{
	struct store *st = ((void **)ctx)[0];
	struct batch *b = ((void **)ctx)[1];
	struct pki_in *in;
	int r;

	if ((in = pki_in_open(fd)) == NULL)
		return -1;
	st->replaying = 1;
	r = consume(st, b, in);
	st->replaying = 0;
	pki_in_close(in);
	return r == 0 ? 0 : -1;
}

static int
run(struct store *st, size_t max)
{
	struct batch b = { json_array(), json_array(), NULL, max, 0, 0,
	    PKI_EXIT_OK };
	void *ctx[2] = { st, &b };
	struct pki_in *in = NULL;
	int r = -1;

	if ((b.out = calloc(max, sizeof(*b.out))) != NULL &&
	    (in = pki_in_open(STDIN_FILENO)) != NULL) {
		if (st->db != NULL)
			spool_replay(&st->spool, store_file, ctx);
		if (*st->lost != '\0')
			drain(st, &b, in);
		else if ((r = consume(st, &b, in)) == -2)
			b.status = PKI_EXIT_FATAL;
	}
	if (spool_close(&st->spool) == -1 || b.out == NULL || in == NULL)
		b.status = PKI_EXIT_FATAL;
	json_decref(b.recs);
	json_decref(b.orig);
	free(b.out);
	pki_in_close(in);
	if (st->setup_error || b.status == PKI_EXIT_FATAL)
		return PKI_EXIT_FATAL;
	return b.failed > 0 ? PKI_EXIT_RECORD : b.status;
}

/* What main() needs of the options besides the store's own. */
struct args {
	const char	*pass_file;
	const char	*spool;
	long		 max;
	int		 rekey;		/* 1 encrypt, 0 decrypt, -1 store */
};

/* The options into ST and A; -1 (said) if they conflict. */
static int
options(int argc, char *argv[], struct store *st, struct args *a)
{
	static const struct option longopts[] = {
		PKI_LONGOPTS_COMMON,
		{ "batch",		required_argument,	NULL, 'b' },
		{ "passphrase-file",	required_argument,	NULL, 'p' },
		{ "spool",		required_argument,	NULL, 's' },
		{ "with-keys",		no_argument,		NULL, 'k' },
		{ "checkpoint",		no_argument,		NULL, 'c' },
		{ "now",		required_argument,	NULL, 'n' },
		{ "encrypt-keys",	no_argument,		NULL, 'E' },
		{ "decrypt-keys",	no_argument,		NULL, 'D' },
		{ NULL,			0,			NULL, 0 }
	};
	int ch;

	while ((ch = pki_getopt(argc, argv, PKI_OPTSTRING_COMMON, longopts,
	    usage)) != -1) {
		switch (ch) {
		case 'b':
			if (pki_parse_long("--batch", optarg, 1, 100000,
			    &a->max) == -1)
				return -1;
			break;
		case 'p': a->pass_file = optarg; break;
		case 's': a->spool = optarg; break;
		case 'k': st->with_keys = 1; break;
		case 'c': st->checkpoint = st->with_keys = 1; break;
		case 'n':
			if (pki_parse_time("--now", optarg) == -1)
				return -1;
			st->now = optarg;
			break;
		case 'E':
		case 'D':
			if (a->rekey != -1 && a->rekey != (ch == 'E')) {
				pki_err("--encrypt-keys and --decrypt-keys "
				    "exclude each other");
				return -1;
			}
			a->rekey = ch == 'E';
			break;
		default:
			pki_usage(usage);
		}
	}
	if (optind != argc)
		pki_usage(usage);
	return 0;
}

/* Connect; a database that cannot be reached is said and noted in
 * st->lost (the records are then kept).  -1 for a setup error. */
static int
connect_db(struct store *st)
{
	if ((st->db = pki_db_open(st->lost, sizeof(st->lost))) == NULL ||
	    (st->encrypted = pki_db_keys_encrypted(st->db)) == -1) {
		if (st->db != NULL && !gone(st))
			return -1;
		pki_err("database: %s", st->lost);
		PQfinish(st->db);
		st->db = NULL;
	}
	return 0;
}

int
main(int argc, char *argv[])
{
	static char pass[PKI_PASS_MAX];
	struct store st;
	struct args a = { getenv("PKI_DB_PASSPHRASE_FILE"), NULL, 250, -1 };
	int rc = PKI_EXIT_FATAL;

	memset(&st, 0, sizeof(st));
	pki_init(argv[0]);
	if (options(argc, argv, &st, &a) == -1)
		return PKI_EXIT_FATAL;
	/* Without the passphrase only the records that need it fail. */
	if (a.pass_file != NULL && *a.pass_file != '\0') {
		if (pki_read_passphrase(a.pass_file, pass, sizeof(pass)) == 0)
			st.pass = pass;
		else
			st.setup_error = 1;
	}
	if (spool_open(&st.spool, a.rekey == -1 ? a.spool : NULL) == -1 ||
	    connect_db(&st) == -1)
		;
	else if (a.rekey != -1)
		rc = st.db != NULL ? store_rekey(&st, a.rekey) : PKI_EXIT_FATAL;
	else
		rc = run(&st, (size_t)a.max);
	free(st.chain);
	check_forget();
	PQfinish(st.db);
	pki_out_close();
	pki_wipe(pass, sizeof(pass));
	return rc;
}
