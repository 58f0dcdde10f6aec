/*
 * pki-localca - the local CA: signs the CSRs of records whose CA is
 * "local", and makes a new CA (--init).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "localca.h"

static const char usage[] =
"usage: pki-localca [-hqv] [--ca-cert FILE --ca-key FILE]\n"
"                   [--passphrase-file FILE] [--days DAYS] [--syslog FACILITY]\n"
"       pki-localca --init [-qv] [--ca-cert FILE --ca-key FILE]\n"
"                   [--passphrase-file FILE] [--algo ALGO] [--days DAYS]\n"
"                   [--subject DN] [--syslog FACILITY]\n";

struct run {
	struct ca	 ca;
	struct settings	 st;
	struct opts	 o;
	const char	*pass;
	int		 no_ca;		/* the CA could not be loaded */
};

/* Records for the local CA: "ca" is "local" (or absent, for records typed
 * by hand) and there is a CSR. */
static int
is_local(const json_t *rec)
{
	const char *ca = pki_str(rec, "ca");
	const char *type = pki_str(rec, "subject_type");

	return (ca == NULL || strcmp(ca, "local") == 0) &&
	    (type == NULL || strcmp(type, "CA") != 0) &&
	    json_object_size(json_object_get(rec, "csr")) > 0;
}

static int
localca(json_t *rec, void *ctx)
{
	struct run *r = ctx;
	long days;

	if (!is_local(rec))
		return 0;
	if (ca_load(&r->ca, &r->st, &r->o, r->pass) == -1) {
		r->no_ca = 1;
		return pki_rec_error(rec, "ca", "no CA: %s", r->ca.why);
	}
	days = r->o.days > 0 ? r->o.days : r->st.leaf_days;
	return sign_record(rec, &r->ca, &r->st, days);
}

static int
run(struct run *r, int init)
{
	PGconn *db;
	int rc;

	if (init) {
		/* Without files the settings (and the CA) live in the DB. */
		if (r->o.ca_cert_file == NULL) {
			if ((db = pki_db_connect()) == NULL)
				return PKI_EXIT_FATAL;
			rc = settings_read(db, &r->st);
			PQfinish(db);
			if (rc == -1)
				return PKI_EXIT_FATAL;
		}
		if (r->o.days > 0)
			r->st.ca_days = r->o.days;
		return ca_init(&r->st, &r->o, r->pass);
	}
	rc = pki_filter(localca, r);
	ca_free(&r->ca);
	return r->no_ca ? PKI_EXIT_FATAL : rc;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		PKI_LONGOPTS_COMMON,
		{ "init",		no_argument,		NULL, 'I' },
		{ "ca-cert",		required_argument,	NULL, 'c' },
		{ "ca-key",		required_argument,	NULL, 'k' },
		{ "passphrase-file",	required_argument,	NULL, 'p' },
		{ "days",		required_argument,	NULL, 'd' },
		{ "algo",		required_argument,	NULL, 'a' },
		{ "subject",		required_argument,	NULL, 's' },
		{ NULL,			0,			NULL, 0 }
	};
	static char pass[PKI_PASS_MAX];
	struct run r;
	int ch, init = 0, rc;

	memset(&r, 0, sizeof(r));
	settings_default(&r.st);
	r.o.days = -1;
	r.o.pass_file = getenv("PKI_CA_PASSPHRASE_FILE");
	pki_init(argv[0]);
	while ((ch = pki_getopt(argc, argv, PKI_OPTSTRING_COMMON, longopts,
	    usage)) != -1) {
		switch (ch) {
		case 'I': init = 1; break;
		case 'c': r.o.ca_cert_file = optarg; break;
		case 'k': r.o.ca_key_file = optarg; break;
		case 'p': r.o.pass_file = optarg; break;
		case 's': r.o.subject = optarg; break;
		case 'd':
			if (pki_parse_long("--days", optarg, 1, 36500,
			    &r.o.days) == -1)
				return PKI_EXIT_FATAL;
			break;
		case 'a':
			if (!pki_algo_valid(optarg)) {
				pki_err("--algo: use rsa or ec");
				return PKI_EXIT_FATAL;
			}
			r.o.algo = optarg;
			break;
		default:
			pki_usage(usage);
		}
	}
	if (optind != argc)
		pki_usage(usage);
	if ((r.o.ca_cert_file == NULL) != (r.o.ca_key_file == NULL)) {
		pki_err("--ca-cert and --ca-key go together");
		return PKI_EXIT_FATAL;
	}
	if (!init && (r.o.algo != NULL || r.o.subject != NULL)) {
		pki_err("--algo and --subject need --init");
		return PKI_EXIT_FATAL;
	}
	if (r.o.pass_file != NULL && *r.o.pass_file != '\0') {
		if (pki_read_passphrase(r.o.pass_file, pass, sizeof(pass)) == 0)
			r.pass = pass;
		else if (init)
			return PKI_EXIT_FATAL;
		else {
			/* No CA: the records still go through, with the
			 * error, so that nothing is lost downstream. */
			r.ca.tried = 1;
			snprintf(r.ca.why, sizeof(r.ca.why), "cannot read the "
			    "CA passphrase file %s", r.o.pass_file);
		}
	}
	rc = run(&r, init);
	pki_wipe(pass, sizeof(pass));
	return rc;
}
