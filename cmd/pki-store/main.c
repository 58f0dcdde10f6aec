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
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store.h"

static const char usage[] =
"usage: pki-store [-hqv] [--batch N] [--passphrase-file FILE]\n"
"                 [--syslog FACILITY]\n"
"       pki-store --encrypt-keys | --decrypt-keys [-qv]\n"
"                 [--passphrase-file FILE] [--syslog FACILITY]\n";

#define IDLE_MS	200	/* commit when no input came for this long */

struct batch {
	json_t		*recs;		/* records of the open transaction */
	struct outcome	*out;		/* what storing did to each */
	size_t		 max;
	size_t		 failed;	/* records this stage failed, so far */
	int		 open;
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
		if (store_record(st, rec, out) == 0)
			return 0;
		/* A record that came failed lost the transaction logging
		 * its errors: logging again would only fail again. */
		out->failed = upstream && lost(st) ? UNLOGGABLE : FAILED;
		if (lost(st))
			return -1;
	}
	out->what = KEPT;
	if (store_failure(st, rec, out) == 0)
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
		pki_db_cmd(st->db, "ROLLBACK");
		b->open = 0;
		store_forget(st);
		for (i = 0; i < n; i++)
			if ((r = one(st, b, i)) == -1)
				break;
		if (r != -1)
			return 0;
		if (PQstatus(st->db) != CONNECTION_OK)
			break;
	}
	return -1;
}

/* Commit the open transaction, apply each outcome to its record and write
 * it; -1 if the transaction could not be committed (then no outcome is
 * applied and every record says it was not stored). */
static int
flush(struct store *st, struct batch *b)
{
	json_t *rec;
	size_t i;
	int rc = 0;

	if (b->open && (lost(st) || commit(st) == -1)) {
		pki_db_cmd(st->db, "ROLLBACK");
		rc = -1;
		json_array_foreach(b->recs, i, rec)
			pki_rec_error(rec, NULL, "not stored: the transaction "
			    "failed");
	}
	b->open = 0;
	json_array_foreach(b->recs, i, rec) {
		if (rc == 0 && b->out[i].failed != STORED)
			b->failed++;
		if (rc == 0 && b->out[i].what == INSTANCE)
			json_object_set_new(rec, "instance", json_pack(
			    "{s:I, s:s}", "id", (json_int_t)b->out[i].instance,
			    "state", b->out[i].state));
		else if (rc == 0 && b->out[i].what == RELEASED)
			json_object_set_new(rec, "instance", json_null());
		if (pki_out(rec) == -1)
			rc = -1;
	}
	json_array_clear(b->recs);
	return rc;
}

static int
run(struct store *st, size_t max)
{
	struct batch b = { json_array(), NULL, max, 0, 0 };
	struct pki_in *in;
	json_t *rec;
	size_t i;
	int r, status = PKI_EXIT_OK;

	if ((in = pki_in_open(STDIN_FILENO)) == NULL ||
	    (b.out = calloc(max, sizeof(*b.out))) == NULL) {
		pki_in_close(in);
		json_decref(b.recs);
		return PKI_EXIT_FATAL;
	}
	for (;;) {
		if (b.open && !pki_in_ready(in, IDLE_MS) && flush(st, &b) == -1)
			goto fatal;
		if ((r = pki_in_next(in, &rec)) == 0)
			break;
		if (r == -2)
			goto fatal;
		if (r == -1) {
			status = PKI_EXIT_RECORD;
			continue;
		}
		i = json_array_size(b.recs);
		json_array_append_new(b.recs, rec);
		b.out[i] = (struct outcome){ KEPT, 0, "", STORED };
		if (one(st, &b, i) == -1 && replay(st, &b) == -1)
			goto fatal;
		if (json_array_size(b.recs) >= b.max && flush(st, &b) == -1)
			goto fatal;
	}
	if (flush(st, &b) == -1)
		goto fatal;
	json_decref(b.recs);
	free(b.out);
	pki_in_close(in);
	if (st->setup_error)
		return PKI_EXIT_FATAL;
	return b.failed > 0 ? PKI_EXIT_RECORD : status;
fatal:
	flush(st, &b);
	json_decref(b.recs);
	free(b.out);
	pki_in_close(in);
	return PKI_EXIT_FATAL;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		PKI_LONGOPTS_COMMON,
		{ "batch",		required_argument,	NULL, 'b' },
		{ "passphrase-file",	required_argument,	NULL, 'p' },
		{ "encrypt-keys",	no_argument,		NULL, 'E' },
		{ "decrypt-keys",	no_argument,		NULL, 'D' },
		{ NULL,			0,			NULL, 0 }
	};
	static char pass[PKI_PASS_MAX];
	struct store st;
	const char *pass_file;
	long max = 250;
	int ch, rc, rekey = -1;	/* 1 encrypt, 0 decrypt, -1 store */

	memset(&st, 0, sizeof(st));
	pki_init(argv[0]);
	pass_file = getenv("PKI_DB_PASSPHRASE_FILE");
	while ((ch = pki_getopt(argc, argv, PKI_OPTSTRING_COMMON, longopts,
	    usage)) != -1) {
		switch (ch) {
		case 'b':
			if (pki_parse_long("--batch", optarg, 1, 100000,
			    &max) == -1)
				return PKI_EXIT_FATAL;
			break;
		case 'p':
			pass_file = optarg;
			break;
		case 'E':
		case 'D':
			if (rekey != -1 && rekey != (ch == 'E')) {
				pki_err("--encrypt-keys and --decrypt-keys "
				    "exclude each other");
				return PKI_EXIT_FATAL;
			}
			rekey = ch == 'E';
			break;
		default:
			pki_usage(usage);
		}
	}
	if (optind != argc)
		pki_usage(usage);
	/* Without the passphrase only the records that need it fail. */
	if (pass_file != NULL && *pass_file != '\0') {
		if (pki_read_passphrase(pass_file, pass, sizeof(pass)) == 0)
			st.pass = pass;
		else
			st.setup_error = 1;
	}
	if ((st.db = pki_db_connect()) == NULL ||
	    (st.encrypted = pki_db_keys_encrypted(st.db)) == -1)
		rc = PKI_EXIT_FATAL;
	else if (rekey != -1)
		rc = store_rekey(&st, rekey);
	else
		rc = run(&st, (size_t)max);
	free(st.chain);
	PQfinish(st.db);
	pki_out_close();
	pki_wipe(pass, sizeof(pass));
	return rc;
}
