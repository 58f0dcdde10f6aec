/*
 * pki-localca - the local CA: signs the CSRs of records whose CA is
 * "local", makes a new CA (--init: a single one, a root or an
 * intermediate), takes in one made elsewhere (--import), marks its
 * certificates revoked (--revoke) and writes its CRL (--crl).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "localca.h"

static const char usage[] =
"usage: pki-localca [-hqv] [--ca-cert FILE --ca-key FILE]\n"
"                   [--passphrase-file FILE] [--days DAYS] [--syslog FACILITY]\n"
"       pki-localca --init [-qv] [--root | --intermediate]\n"
"                   [--ca-cert FILE --ca-key FILE]\n"
"                   [--root-cert FILE --root-key FILE]\n"
"                   [--passphrase-file FILE] [--algo ALGO] [--days DAYS]\n"
"                   [--subject DN] [--syslog FACILITY]\n"
"       pki-localca --import [-qv] [--root] --ca-cert FILE --ca-key FILE\n"
"                   [--passphrase-file FILE] [--syslog FACILITY]\n"
"       pki-localca --revoke [-qv] [--reason REASON] [--syslog FACILITY]\n"
"       pki-localca --crl FILE [-qv] [--ca-cert FILE --ca-key FILE]\n"
"                   [--passphrase-file FILE] [--days DAYS] [--syslog FACILITY]\n";

struct run {
	struct ca	 ca;
	struct settings	 st;
	struct opts	 o;
	const char	*pass;
	const char	*reason;	/* --revoke */
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

	if (r->reason != NULL)
		return revoke_record(rec, r->reason);
	if (!is_local(rec))
		return 0;
	if (ca_load(&r->ca, &r->st, &r->o, r->pass) == -1) {
		r->no_ca = 1;
		return pki_rec_error(rec, "ca", "no CA: %s", r->ca.why);
	}
	days = r->o.days > 0 ? r->o.days : r->st.leaf_days;
	return sign_record(rec, &r->ca, &r->st, days);
}

/* The settings of the database (without files, the CA lives there). */
static int
settings_from_db(struct run *r)
{
	PGconn *db;
	int rc;

	if ((db = pki_db_connect()) == NULL)
		return -1;
	rc = settings_read(db, &r->st);
	PQfinish(db);
	return rc;
}

static int
run(struct run *r, int init, int import, const char *crl)
{
	int rc;

	if (crl != NULL) {
		if (ca_load(&r->ca, &r->st, &r->o, r->pass) == -1 ||
		    ca_load_older(&r->ca, &r->st, r->pass) == -1) {
			ca_free(&r->ca);
			return PKI_EXIT_FATAL;
		}
		rc = crl_write(&r->ca, crl, r->o.days > 0 ? r->o.days : 7);
		ca_free(&r->ca);
		return rc;
	}

	if (import)
		return settings_from_db(r) == -1 ? PKI_EXIT_FATAL :
		    ca_import(&r->st, &r->o, r->pass);
	if (init) {
		/* Without files the settings (and the CA) live in the DB;
		 * so does the root of an intermediate without --root-cert. */
		if ((r->o.ca_cert_file == NULL || (r->o.role ==
		    CA_INTERMEDIATE && r->o.root_cert_file == NULL)) &&
		    settings_from_db(r) == -1)
			return PKI_EXIT_FATAL;
		return ca_init(&r->st, &r->o, r->pass);
	}
	rc = pki_filter(localca, r);
	ca_free(&r->ca);
	return r->no_ca ? PKI_EXIT_FATAL : rc;
}

/* --root, --intermediate and the files of the root against the mode;
 * the role into O.  0 / -1 (said why). */
static int
check_roles(struct opts *o, int init, int import, int root, int inter)
{
	if (root && inter) {
		pki_err("--root and --intermediate go alone");
		return -1;
	}
	if ((root || inter) && !init && !import) {
		pki_err("--root and --intermediate need --init or --import");
		return -1;
	}
	if (inter && import) {
		pki_err("--import --intermediate: an imported CA that signs "
		    "is imported without --root");
		return -1;
	}
	if ((o->root_cert_file == NULL) != (o->root_key_file == NULL)) {
		pki_err("--root-cert and --root-key go together");
		return -1;
	}
	if (o->root_cert_file != NULL && !inter) {
		pki_err("--root-cert and --root-key need --intermediate");
		return -1;
	}
	if (o->root_cert_file != NULL && o->ca_cert_file == NULL) {
		pki_err("--root-cert needs --ca-cert and --ca-key for the "
		    "intermediate");
		return -1;
	}
	if (import && o->ca_cert_file == NULL) {
		pki_err("--import needs --ca-cert and --ca-key");
		return -1;
	}
	o->role = root ? CA_ROOT : inter ? CA_INTERMEDIATE : CA_SINGLE;
	return 0;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		PKI_LONGOPTS_COMMON,
		{ "init",		no_argument,		NULL, 'I' },
		{ "import",		no_argument,		NULL, 'M' },
		{ "root",		no_argument,		NULL, 'O' },
		{ "intermediate",	no_argument,		NULL, 'N' },
		{ "root-cert",		required_argument,	NULL, 'e' },
		{ "root-key",		required_argument,	NULL, 'K' },
		{ "ca-cert",		required_argument,	NULL, 'c' },
		{ "ca-key",		required_argument,	NULL, 'k' },
		{ "passphrase-file",	required_argument,	NULL, 'p' },
		{ "days",		required_argument,	NULL, 'd' },
		{ "algo",		required_argument,	NULL, 'a' },
		{ "subject",		required_argument,	NULL, 's' },
		{ "revoke",		no_argument,		NULL, 'R' },
		{ "reason",		required_argument,	NULL, 'r' },
		{ "crl",		required_argument,	NULL, 'C' },
		{ NULL,			0,			NULL, 0 }
	};
	static char pass[PKI_PASS_MAX];
	struct run r;
	const char *crl = NULL, *reason = NULL;
	int ch, init = 0, import = 0, revoke = 0, root = 0, inter = 0, rc;

	memset(&r, 0, sizeof(r));
	settings_default(&r.st);
	r.o.days = -1;
	r.o.pass_file = getenv("PKI_CA_PASSPHRASE_FILE");
	pki_init(argv[0]);
	while ((ch = pki_getopt(argc, argv, PKI_OPTSTRING_COMMON, longopts,
	    usage)) != -1) {
		switch (ch) {
		case 'I': init = 1; break;
		case 'M': import = 1; break;
		case 'O': root = 1; break;
		case 'N': inter = 1; break;
		case 'e': r.o.root_cert_file = optarg; break;
		case 'K': r.o.root_key_file = optarg; break;
		case 'R': revoke = 1; break;
		case 'r': reason = optarg; break;
		case 'C': crl = optarg; break;
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
	if (init + import + revoke + (crl != NULL) > 1) {
		pki_err("--init, --import, --revoke and --crl go alone");
		return PKI_EXIT_FATAL;
	}
	if (check_roles(&r.o, init, import, root, inter) == -1)
		return PKI_EXIT_FATAL;
	if (reason != NULL && !revoke) {
		pki_err("--reason needs --revoke");
		return PKI_EXIT_FATAL;
	}
	if (revoke && (r.reason = pki_crl_reason_name(reason != NULL ?
	    reason : "unspecified")) == NULL) {
		pki_err("--reason: unknown reason \"%s\" (an RFC 5280 "
		    "CRLReason name like keyCompromise, or its number)", reason);
		return PKI_EXIT_FATAL;
	}
	if (!init && (r.o.algo != NULL || r.o.subject != NULL)) {
		pki_err("--algo and --subject need --init");
		return PKI_EXIT_FATAL;
	}
	if (r.o.pass_file != NULL && *r.o.pass_file != '\0') {
		if (pki_read_passphrase(r.o.pass_file, pass, sizeof(pass)) == 0)
			r.pass = pass;
		else if (init || import)
			return PKI_EXIT_FATAL;
		else {
			/* No CA: the records still go through, with the
			 * error, so that nothing is lost downstream. */
			r.ca.tried = 1;
			snprintf(r.ca.why, sizeof(r.ca.why), "cannot read the "
			    "CA passphrase file %s", r.o.pass_file);
		}
	}
	rc = run(&r, init, import, crl);
	pki_wipe(pass, sizeof(pass));
	return rc;
}
