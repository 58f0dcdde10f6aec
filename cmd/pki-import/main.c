/*
 * pki-import - the source of records made elsewhere: a certificate with
 * its key and chain in PEM files (pem), or an ACME account key that
 * another client keeps as a JWK (account, certbot's private_key.json).
 * It writes one record on stdout, for pki-store to store; it touches no
 * database.  See pki-import(1).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import.h"

static const char usage[] =
"usage: pki-import pem [-hqv] --cert FILE --key FILE [--chain FILE]\n"
"                [--name NAME] [--ca local|acme] [--state STATE]\n"
"                [--source TEXT] [--syslog FACILITY]\n"
"       pki-import account [-qv] --jwk FILE --url URL --directory URL\n"
"                [--syslog FACILITY]\n";

enum { O_CERT = 0x1000, O_KEY, O_CHAIN, O_NAME, O_CA, O_STATE, O_SOURCE,
	O_JWK, O_URL, O_DIRECTORY };

static const struct option longopts[] = {
	PKI_LONGOPTS_COMMON,
	{ "cert",	required_argument,	NULL, O_CERT },
	{ "key",	required_argument,	NULL, O_KEY },
	{ "chain",	required_argument,	NULL, O_CHAIN },
	{ "name",	required_argument,	NULL, O_NAME },
	{ "ca",		required_argument,	NULL, O_CA },
	{ "state",	required_argument,	NULL, O_STATE },
	{ "source",	required_argument,	NULL, O_SOURCE },
	{ "jwk",	required_argument,	NULL, O_JWK },
	{ "url",	required_argument,	NULL, O_URL },
	{ "directory",	required_argument,	NULL, O_DIRECTORY },
	{ NULL,		0,			NULL, 0 }
};

/* The states an imported instance may be given. */
static int
state_valid(const char *s)
{
	static const char *const states[] = { "issued", "deployed",
	    "expired", "archived", NULL };
	size_t i;

	for (i = 0; states[i] != NULL; i++)
		if (strcmp(s, states[i]) == 0)
			return 1;
	return 0;
}

static void
parse(int argc, char *argv[], struct import_opts *o)
{
	int ch;

	while ((ch = pki_getopt(argc, argv, PKI_OPTSTRING_COMMON, longopts,
	    usage)) != -1) {
		switch (ch) {
		case O_CERT: o->cert = optarg; break;
		case O_KEY: o->key = optarg; break;
		case O_CHAIN: o->chain = optarg; break;
		case O_NAME: o->name = optarg; break;
		case O_CA: o->ca = optarg; break;
		case O_STATE: o->state = optarg; break;
		case O_SOURCE: o->source = optarg; break;
		case O_JWK: o->jwk = optarg; break;
		case O_URL: o->url = optarg; break;
		case O_DIRECTORY: o->directory = optarg; break;
		default: pki_usage(usage);
		}
	}
	if (optind != argc)
		pki_usage(usage);
}

int
main(int argc, char *argv[])
{
	struct import_opts o = { .ca = "acme", .state = "deployed" };
	const char *mode;

	pki_init("pki-import");
	if (argc < 2)
		pki_usage(usage);
	mode = argv[1];
	if (strcmp(mode, "-h") == 0 || strcmp(mode, "--help") == 0) {
		fputs(usage, stdout);
		return PKI_EXIT_OK;
	}
	argv[1] = argv[0];
	parse(argc - 1, argv + 1, &o);
	if (strcmp(mode, "pem") == 0) {
		if (o.cert == NULL || o.key == NULL || o.jwk || o.url ||
		    o.directory)
			pki_usage(usage);
		if (strcmp(o.ca, "local") != 0 && strcmp(o.ca, "acme") != 0) {
			pki_err("--ca %s: use local or acme", o.ca);
			return PKI_EXIT_FATAL;
		}
		if (!state_valid(o.state)) {
			pki_err("--state %s: use issued, deployed, expired or "
			    "archived", o.state);
			return PKI_EXIT_FATAL;
		}
		return import_pem(&o);
	}
	if (strcmp(mode, "account") == 0) {
		if (o.jwk == NULL || o.url == NULL || o.directory == NULL ||
		    o.cert || o.key || o.chain || o.name || o.source)
			pki_usage(usage);
		return import_account(&o);
	}
	pki_usage(usage);
}
