/*
 * pki-select - the source of the pipelines: certificates of the database
 * as cert records.
 *
 * Without a mode it writes the configuration of the selected certificates.
 * --create writes those without a valid instance and claims each with a
 * 'reserved' instance, so that two runs never issue the same certificate.
 * --serial writes one instance with its certificates (and keys on request).
 */
#include <stdlib.h>
#include <string.h>

#include "pki.h"

static const char usage[] =
"usage: pki-select [-ahqv] [-o NAME]... [-i NAME]... [-e NAME]... [--create]\n"
"                  [--stale SECONDS] [--syslog FACILITY]\n"
"       pki-select --serial ID [-qv] [--with-keys] [--passphrase-file FILE]\n"
"                  [--syslog FACILITY]\n";

struct selection {
	json_t	*only;		/* -o names, or NULL for all */
	json_t	*include;	/* -i names: even when disabled */
	json_t	*exclude;	/* -e names */
	int	 all;		/* -a: disabled ones too */
	int	 create;
	long	 stale;		/* seconds after which a claim is void */
};

/* The filter every query of the configuration shares; $1..$4 are the
 * selection's parameters. */
#define SELECTED \
	"r.subject_type <> 'CA' " \
	"AND ($1::json IS NULL OR r.name IN " \
	"    (SELECT json_array_elements_text($1::json)::citext)) " \
	"AND r.name NOT IN (SELECT json_array_elements_text($3::json)::citext) " \
	"AND (NOT r.disabled OR $4::bool OR r.name IN " \
	"    (SELECT json_array_elements_text($2::json)::citext)) "

/* Claim up to $5 of what --create selects, in one statement under a lock
 * that serializes claims: a second run sees the first one's claims. */
#define CLAIM \
	"WITH cand AS (SELECT r.id, r.name FROM cert_records r WHERE " SELECTED \
	"  AND NOT EXISTS (SELECT 1 FROM certinstances i " \
	"    WHERE i.certificate = r.id AND i.state IN " \
	"    ('issued', 'prepublished', 'deployed') " \
	"    AND i.not_after > now() AT TIME ZONE 'UTC') " \
	"  AND NOT EXISTS (SELECT 1 FROM certinstances i " \
	"    WHERE i.certificate = r.id AND i.state = 'reserved') " \
	"  ORDER BY r.name LIMIT $5::int), " \
	"new AS (SELECT nextval(pg_get_serial_sequence(" \
	"    'pki.certinstances', 'id')) AS id, cand.id AS cert FROM cand), " \
	"claimed AS (INSERT INTO certinstances " \
	"  (id, certificate, state, ocsp_must_staple, cacert) " \
	"  SELECT new.id, new.cert, 'reserved', c.ocsp_must_staple, new.id " \
	"  FROM new JOIN certificates c ON c.id = new.cert " \
	"  RETURNING id, certificate) " \
	"SELECT r.record, cl.id FROM claimed cl " \
	"JOIN cert_records r ON r.id = cl.certificate ORDER BY r.name"

static const char *
json_param(json_t *list, char **buf)
{
	*buf = list != NULL ? pki_json_text(list) : NULL;
	return *buf;
}

/* Report names of -o and -i that name no certificate; 0 / -1. */
static int
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

/* Write each row's record (column 0), with the claim (column 1) if any. */
static int
write_records(PGresult *res, int claimed)
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
			json_object_set_new(rec, "action", json_string("issue"));
			json_object_set_new(rec, "instance", json_pack(
			    "{s:I, s:s}", "id", (json_int_t)atoll(
			    PQgetvalue(res, i, 1)), "state", "reserved"));
			pki_info("%s: claimed as instance %s",
			    pki_rec_name(rec), PQgetvalue(res, i, 1));
		}
		rc = pki_out(rec);
		json_decref(rec);
	}
	return rc;
}

/* Claims are made and written in chunks, so the pipeline starts on the
 * first certificates while the next are claimed. */
#define CHUNK	500

/* Claim what --create selects, a chunk per transaction, and write it. */
static int
claim(PGconn *db, const char *param[5], long stale)
{
	char limit[16], age[24];
	const char *p[1] = { age };
	PGresult *res;
	int n, first;

	snprintf(limit, sizeof(limit), "%d", CHUNK);
	snprintf(age, sizeof(age), "%ld", stale);
	param[4] = limit;
	for (first = 1;; first = 0) {
		if (pki_db_cmd(db, "BEGIN") == -1 ||
		    pki_db_cmd(db, "SELECT pg_advisory_xact_lock("
		    "hashtext('pki-select --create'))") == -1)
			return -1;
		/* A claim older than --stale belongs to a run that died. */
		if (first && (res = pki_db_exec(db, "DELETE FROM certinstances "
		    "WHERE state = 'reserved' AND created < now() - "
		    "make_interval(secs => $1::int)", 1, p)) == NULL)
			return -1;
		if (first)
			PQclear(res);
		if ((res = pki_db_exec(db, CLAIM, 5, param)) == NULL ||
		    pki_db_cmd(db, "COMMIT") == -1) {
			PQclear(res);
			return -1;
		}
		n = PQntuples(res);
		if (write_records(res, 1) == -1) {
			PQclear(res);
			return -1;
		}
		PQclear(res);
		if (n < CHUNK)
			return 0;
	}
}

static int
select_certs(PGconn *db, struct selection *sel)
{
	const char *param[5];
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
		r = claim(db, param, sel->stale);
	else if ((res = pki_db_exec(db, "SELECT r.record FROM cert_records r "
	    "WHERE " SELECTED "ORDER BY r.name", 4, param)) == NULL)
		r = -1;
	else {
		r = write_records(res, 0);
		PQclear(res);
	}
	free(bufs[0]);
	free(bufs[1]);
	free(bufs[2]);
	return r == -1 ? PKI_EXIT_FATAL : rc;
}

/* The key of a row for the pipe: in clear, decrypted if stored encrypted
 * (CA keys stay encrypted with the CA's own passphrase). */
static int
add_key(json_t *rec, json_t *keys, const char *algo, const char *pem,
    const char *pass)
{
	const char *why, *type = pki_str(rec, "subject_type");
	EVP_PKEY *key;
	char *clear;

	if (*pem == '\0')
		return 0;	/* a CA certificate pki has no key of */
	if (!pki_pem_is_encrypted(pem) || (type && strcmp(type, "CA") == 0)) {
		json_object_set_new(keys, algo, json_string(pem));
		return 0;
	}
	if (pass == NULL)
		return pki_rec_error(rec, "key", "stored encrypted: give "
		    "--passphrase-file FILE or PKI_DB_PASSPHRASE_FILE");
	if ((key = pki_key_from_pem(pem, pass, &why)) == NULL)
		return pki_rec_error(rec, "key", "%s", why);
	clear = pki_key_to_pem(key, NULL);
	EVP_PKEY_free(key);
	if (clear == NULL)
		return pki_rec_error(rec, "key", "cannot encode key");
	json_object_set_new(keys, algo, json_string(clear));
	pki_free_secret(clear);
	return 0;
}

static int
select_serial(PGconn *db, const char *serial, int with_keys,
    const char *pass)
{
	const char *param[1] = { serial }, *algo;
	json_t *rec = NULL, *certs, *keys, *entry;
	PGresult *res;
	X509 *cert;
	int i, rc = PKI_EXIT_OK;

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
	certs = json_object();
	keys = json_object();
	json_object_set_new(rec, "action", json_string("export"));
	json_object_set_new(rec, "instance", json_pack("{s:I, s:s}", "id",
	    (json_int_t)atoll(serial), "state", PQgetvalue(res, 0, 1)));
	for (i = 0; i < PQntuples(res); i++) {
		algo = PQgetvalue(res, i, 2);
		if ((cert = pki_cert_from_pem(PQgetvalue(res, i, 3))) == NULL ||
		    (entry = pki_cert_json(cert, PQgetvalue(res, i, 5))) == NULL)
			rc = pki_rec_error(rec, "cert", "%s: unreadable", algo);
		else
			json_object_set_new(certs, algo, entry);
		X509_free(cert);
		if (with_keys && add_key(rec, keys, algo, PQgetvalue(res, i, 4),
		    pass) == -1)
			rc = PKI_EXIT_RECORD;
	}
	json_object_set_new(rec, "cert", certs);
	if (json_object_size(keys) > 0)
		json_object_set(rec, "key", keys);
	json_decref(keys);
	pki_db_wipe(res);
	PQclear(res);
	if (pki_out(rec) == -1)
		rc = PKI_EXIT_FATAL;
	json_decref(rec);
	return rc != 0 ? PKI_EXIT_RECORD : PKI_EXIT_OK;
}

static void
add_name(json_t **list, const char *name)
{
	if (*list == NULL)
		*list = json_array();
	json_array_append_new(*list, json_string(name));
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		PKI_LONGOPTS_COMMON,
		{ "all",		no_argument,		NULL, 'a' },
		{ "only",		required_argument,	NULL, 'o' },
		{ "include",		required_argument,	NULL, 'i' },
		{ "exclude",		required_argument,	NULL, 'e' },
		{ "create",		no_argument,		NULL, 'C' },
		{ "stale",		required_argument,	NULL, 'S' },
		{ "serial",		required_argument,	NULL, 'n' },
		{ "with-keys",		no_argument,		NULL, 'k' },
		{ "passphrase-file",	required_argument,	NULL, 'p' },
		{ NULL,			0,			NULL, 0 }
	};
	static char pass[PKI_PASS_MAX];
	struct selection sel = { NULL, NULL, NULL, 0, 0, 3600 };
	const char *serial = NULL, *pass_file;
	int ch, with_keys = 0, rc;
	long id;
	PGconn *db;

	pki_init(argv[0]);
	pass_file = getenv("PKI_DB_PASSPHRASE_FILE");
	while ((ch = pki_getopt(argc, argv, PKI_OPTSTRING_COMMON "ao:i:e:",
	    longopts, usage)) != -1) {
		switch (ch) {
		case 'a': sel.all = 1; break;
		case 'o': add_name(&sel.only, optarg); break;
		case 'i': add_name(&sel.include, optarg); break;
		case 'e': add_name(&sel.exclude, optarg); break;
		case 'C': sel.create = 1; break;
		case 'k': with_keys = 1; break;
		case 'p': pass_file = optarg; break;
		case 'S':
			if (pki_parse_long("--stale", optarg, 60, 30 * 86400,
			    &sel.stale) == -1)
				return PKI_EXIT_FATAL;
			break;
		case 'n':
			if (pki_parse_long("--serial", optarg, 1, 2147483647,
			    &id) == -1)
				return PKI_EXIT_FATAL;
			serial = optarg;
			break;
		default:
			pki_usage(usage);
		}
	}
	if (optind != argc)
		pki_usage(usage);
	if (serial != NULL && (sel.create || sel.all || sel.only ||
	    sel.include || sel.exclude)) {
		pki_err("--serial selects one instance: no --create, -a, -o, "
		    "-i or -e with it");
		return PKI_EXIT_FATAL;
	}
	if (with_keys && serial == NULL) {
		pki_err("--with-keys needs --serial");
		return PKI_EXIT_FATAL;
	}
	if (with_keys && pass_file != NULL && *pass_file != '\0' &&
	    pki_read_passphrase(pass_file, pass, sizeof(pass)) == -1)
		return PKI_EXIT_FATAL;
	if (sel.exclude == NULL)
		sel.exclude = json_array();
	if (sel.include == NULL)
		sel.include = json_array();
	if ((db = pki_db_connect()) == NULL)
		return PKI_EXIT_FATAL;
	if (serial != NULL)
		rc = select_serial(db, serial, with_keys, *pass ? pass : NULL);
	else
		rc = select_certs(db, &sel);
	PQfinish(db);
	pki_out_close();
	pki_wipe(pass, sizeof(pass));
	json_decref(sel.only);
	json_decref(sel.include);
	json_decref(sel.exclude);
	return rc;
}
