/*
 * pki-store - the sink of the pipelines: records into the database.
 *
 * Records are stored in transactions of up to --batch records, each record
 * inside a savepoint: one bad record never undoes another, and a large
 * batch is not one commit per row.  A transaction is also committed when
 * the input pauses, so a slow pipeline's records are not held back.  A
 * record is written to stdout once its transaction is committed.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store.h"

static const char usage[] =
"usage: pki-store [-hqv] [--batch N] [--passphrase-file FILE]\n"
"                 [--syslog FACILITY]\n";

#define IDLE_MS	200	/* commit when no input came for this long */

struct batch {
	json_t	*done;		/* records of the open transaction */
	long	 max;
	int	 open;
};

/* Commit the open transaction and write its records; -1 if it failed. */
static int
flush(struct store *st, struct batch *b)
{
	json_t *rec;
	size_t i;
	int rc = 0;

	if (b->open && pki_db_cmd(st->db, "COMMIT") == -1) {
		rc = -1;
		json_array_foreach(b->done, i, rec)
			pki_rec_error(rec, NULL, "not stored: the commit failed");
	}
	b->open = 0;
	json_array_foreach(b->done, i, rec)
		if (pki_out(rec) == -1)
			rc = -1;
	json_array_clear(b->done);
	return rc;
}

/* Store one record inside a savepoint; 1 if it failed, -1 if the
 * transaction is lost. */
static int
one(struct store *st, struct batch *b, json_t *rec)
{
	int failed = 0;

	if (!b->open) {
		if (pki_db_cmd(st->db, "BEGIN") == -1)
			return -1;
		b->open = 1;
	}
	if (pki_db_cmd(st->db, "SAVEPOINT rec") == -1)
		return -1;
	if (store_record(st, rec) == -1) {
		failed = 1;
		if (pki_db_cmd(st->db, "ROLLBACK TO SAVEPOINT rec") == -1 ||
		    store_failure(st, rec) == -1)
			return -1;
	}
	if (pki_db_cmd(st->db, "RELEASE SAVEPOINT rec") == -1)
		return -1;
	json_array_append(b->done, rec);
	return failed;
}

static int
run(struct store *st, long max)
{
	struct batch b = { json_array(), max, 0 };
	struct pki_in *in;
	json_t *rec;
	int r, status = PKI_EXIT_OK;

	if ((in = pki_in_open(STDIN_FILENO)) == NULL)
		return PKI_EXIT_FATAL;
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
		r = one(st, &b, rec);
		json_decref(rec);
		if (r == -1)
			goto fatal;
		if (r == 1)
			status = PKI_EXIT_RECORD;
		if ((long)json_array_size(b.done) >= b.max &&
		    flush(st, &b) == -1)
			goto fatal;
	}
	if (flush(st, &b) == -1)
		goto fatal;
	json_decref(b.done);
	pki_in_close(in);
	return st->setup_error ? PKI_EXIT_FATAL : status;
fatal:
	flush(st, &b);
	json_decref(b.done);
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
		{ NULL,			0,			NULL, 0 }
	};
	static char pass[PKI_PASS_MAX];
	struct store st;
	const char *pass_file;
	long max = 1000;
	int ch, rc;

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
	    (st.encrypted = pki_db_keys_encrypted(st.db)) == -1) {
		PQfinish(st.db);
		return PKI_EXIT_FATAL;
	}
	rc = run(&st, max);
	free(st.chain);
	PQfinish(st.db);
	pki_out_close();
	pki_wipe(pass, sizeof(pass));
	return rc;
}
