/*
 * pki-acme - an ACME client (RFC 8555) in subcommands: register, rollover
 * and deactivate an account; order (a filter that adds the challenges to
 * publish), finish (answers them and fetches the certificates) and revoke.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acme.h"

static const char usage[] =
"usage: pki-acme register [-hqv] --directory URL --email ADDR --agree-tos\n"
"                [--key-type ec|rsa] [--eab-kid KID --eab-hmac-file FILE]\n"
"                [--ca-bundle FILE] [--timeout SECONDS] [--syslog FACILITY]\n"
"       pki-acme rollover [-qv] [--directory URL]\n"
"                [--account FILE | --account-key FILE --account-url URL]\n"
"                [--passphrase-file FILE] [--key-type ec|rsa]\n"
"                [--ca-bundle FILE] [--timeout SECONDS] [--syslog FACILITY]\n"
"       pki-acme deactivate [-qv] [--directory URL]\n"
"                [--account FILE | --account-key FILE --account-url URL]\n"
"                [--passphrase-file FILE] [--ca-bundle FILE]\n"
"                [--timeout SECONDS] [--syslog FACILITY]\n"
"       pki-acme order [-qv] [--directory URL]\n"
"                [--account FILE | --account-key FILE --account-url URL]\n"
"                [--passphrase-file FILE]\n"
"                [--challenge dns-01|http-01|dns-persist-01]\n"
"                [--persist-until TIME] [--resume]\n"
"                [--preferred-chain ISSUER_CN] [--profile NAME]\n"
"                [--ca-bundle FILE] [--timeout SECONDS] [--syslog FACILITY]\n"
"       pki-acme finish [-qv] [--directory URL]\n"
"                [--account FILE | --account-key FILE --account-url URL]\n"
"                [--passphrase-file FILE]\n"
"                [--http-root DIR | --http-listen ADDR:PORT]\n"
"                [--http-user USER]\n"
"                [--preferred-chain ISSUER_CN] [--ca-bundle FILE]\n"
"                [--timeout SECONDS] [--syslog FACILITY]\n"
"       pki-acme revoke [-qv] [--directory URL]\n"
"                [--account FILE | --account-key FILE --account-url URL]\n"
"                [--passphrase-file FILE] [--reason REASON]\n"
"                [--ca-bundle FILE] [--timeout SECONDS] [--syslog FACILITY]\n"
"       pki-acme ari [-qv] [--directory URL] [--ca-bundle FILE]\n"
"                [--timeout SECONDS] [--syslog FACILITY]\n";

/* The options: getopt values above the common ones' (PKI_OPT_SYSLOG),
 * each standing for a bit of the subcommands' masks (BIT()). */
#define OPT_BASE	0x1000
#define BIT(v)		(1 << ((v) - OPT_BASE))
enum {
	O_DIRECTORY = OPT_BASE, O_EMAIL, O_AGREE, O_KEYTYPE, O_EABKID,
	O_EABFILE, O_BUNDLE, O_ACCOUNT, O_ACCTKEY, O_ACCTURL, O_PASS,
	O_CHALLENGE, O_ROOT, O_LISTEN, O_CHAIN, O_REASON, O_TIMEOUT, O_RESUME,
	O_PROFILE, O_UNTIL, O_USER
};
#define O_COMMON	(BIT(O_BUNDLE) | BIT(O_TIMEOUT))
#define O_ACCT		(BIT(O_DIRECTORY) | BIT(O_ACCOUNT) | BIT(O_ACCTKEY) | \
			 BIT(O_ACCTURL) | BIT(O_PASS))

static const struct option longopts[] = {
	PKI_LONGOPTS_COMMON,
	{ "directory",		required_argument,	NULL, O_DIRECTORY },
	{ "email",		required_argument,	NULL, O_EMAIL },
	{ "agree-tos",		no_argument,		NULL, O_AGREE },
	{ "key-type",		required_argument,	NULL, O_KEYTYPE },
	{ "eab-kid",		required_argument,	NULL, O_EABKID },
	{ "eab-hmac-file",	required_argument,	NULL, O_EABFILE },
	{ "ca-bundle",		required_argument,	NULL, O_BUNDLE },
	{ "account",		required_argument,	NULL, O_ACCOUNT },
	{ "account-key",	required_argument,	NULL, O_ACCTKEY },
	{ "account-url",	required_argument,	NULL, O_ACCTURL },
	{ "passphrase-file",	required_argument,	NULL, O_PASS },
	{ "challenge",		required_argument,	NULL, O_CHALLENGE },
	{ "http-root",		required_argument,	NULL, O_ROOT },
	{ "http-listen",	required_argument,	NULL, O_LISTEN },
	{ "preferred-chain",	required_argument,	NULL, O_CHAIN },
	{ "reason",		required_argument,	NULL, O_REASON },
	{ "timeout",		required_argument,	NULL, O_TIMEOUT },
	{ "resume",		no_argument,		NULL, O_RESUME },
	{ "profile",		required_argument,	NULL, O_PROFILE },
	{ "persist-until",	required_argument,	NULL, O_UNTIL },
	{ "http-user",		required_argument,	NULL, O_USER },
	{ NULL,			0,			NULL, 0 }
};

/* The subcommands: the options each allows; whether it is a filter,
 * which reads its records even after a setup error (and fails those
 * that need the account with it), so that none is lost. */
static const struct command {
	const char	*name;
	int		 (*run)(const struct opts *);
	int		 allowed;
	int		 filter;
} commands[] = {
	{ "register", cmd_register, O_COMMON | BIT(O_DIRECTORY) |
	    BIT(O_EMAIL) | BIT(O_AGREE) | BIT(O_KEYTYPE) | BIT(O_EABKID) |
	    BIT(O_EABFILE), 0 },
	{ "rollover", cmd_rollover, O_COMMON | O_ACCT | BIT(O_KEYTYPE), 0 },
	{ "deactivate", cmd_deactivate, O_COMMON | O_ACCT, 0 },
	{ "order", cmd_order, O_COMMON | O_ACCT | BIT(O_CHALLENGE) |
	    BIT(O_RESUME) | BIT(O_CHAIN) | BIT(O_PROFILE) | BIT(O_UNTIL), 1 },
	{ "finish", cmd_finish, O_COMMON | O_ACCT | BIT(O_ROOT) |
	    BIT(O_LISTEN) | BIT(O_USER) | BIT(O_CHAIN), 1 },
	{ "revoke", cmd_revoke, O_COMMON | O_ACCT | BIT(O_REASON), 1 },
	{ "ari", cmd_ari, O_COMMON | BIT(O_DIRECTORY), 1 },
};

/* --persist-until TIME (RFC 3339, after 1970) into O; 0 / -1 (said). */
static int
persist_until(struct opts *o, const char *arg)
{
	time_t t;

	if (pki_parse_time("--persist-until", arg) == -1)
		return -1;
	if (pki_parse_rfc3339(arg, &t) == -1 || t <= 0) {
		pki_err("--persist-until: \"%s\" is not a time after 1970",
		    arg);
		return -1;
	}
	o->persist_until = (long long)t;
	return 0;
}

/* Store the value of option CH. */
static int
set(struct opts *o, int ch, const char *arg)
{
	switch (ch) {
	case O_DIRECTORY: o->directory = arg; break;
	case O_EMAIL: o->email = arg; break;
	case O_AGREE: o->agree_tos = 1; break;
	case O_KEYTYPE: o->key_type = arg; break;
	case O_EABKID: o->eab_kid = arg; break;
	case O_EABFILE: o->eab_hmac_file = arg; break;
	case O_BUNDLE: o->ca_bundle = arg; break;
	case O_ACCOUNT: o->account_file = arg; break;
	case O_ACCTKEY: o->account_key = arg; break;
	case O_ACCTURL: o->account_url = arg; break;
	case O_PASS: o->pass_file = arg; break;
	case O_CHALLENGE: o->challenge = arg; break;
	case O_ROOT: o->http_root = arg; break;
	case O_LISTEN: o->http_listen = arg; break;
	case O_USER: o->http_user = arg; break;
	case O_CHAIN: o->preferred_chain = arg; break;
	case O_REASON: o->reason = arg; break;
	case O_RESUME: o->resume = 1; break;
	case O_PROFILE: o->profile = arg; break;
	case O_TIMEOUT:
		return pki_parse_long("--timeout", arg, 1, 86400, &o->timeout);
	case O_UNTIL:
		return persist_until(o, arg);
	default:
		pki_usage(usage);
	}
	return 0;
}

/* The name of the first option of the bits of MASK. */
static const char *
opt_name(int mask)
{
	const struct option *lo;

	for (lo = longopts; lo->name != NULL; lo++)
		if (lo->val >= OPT_BASE && (mask & BIT(lo->val)))
			return lo->name;
	return "?";
}

/* Options that go together or exclude each other; 0 / -1 (reported). */
static int
check(const struct opts *o, const struct command *c)
{
	const char *why = NULL;

	if (strcmp(c->name, "register") == 0 && (o->directory == NULL ||
	    o->email == NULL))
		why = "register needs --directory and --email";
	else if (o->directory != NULL && !directory_valid(o->directory))
		why = "--directory (or PKI_ACME_DIRECTORY): not an https:// "
		    "URL without blanks or control characters";
	else if ((o->eab_kid == NULL) != (o->eab_hmac_file == NULL))
		why = "--eab-kid and --eab-hmac-file go together";
	else if ((o->account_key == NULL) != (o->account_url == NULL))
		why = "--account-key and --account-url go together";
	else if (o->account_file != NULL && o->account_key != NULL)
		why = "--account and --account-key exclude each other";
	else if (o->http_root != NULL && o->http_listen != NULL)
		why = "--http-root and --http-listen exclude each other";
	else if (o->key_type != NULL && strcmp(o->key_type, "ec") != 0 &&
	    strcmp(o->key_type, "rsa") != 0)
		why = "--key-type: use ec or rsa";
	else if (o->challenge != NULL && !challenge_valid(o->challenge))
		why = "--challenge: use dns-01, http-01 or dns-persist-01";
	else if (o->profile != NULL && !profile_valid(o->profile))
		why = "--profile: not a profile name (letters, digits, "
		    "\".\", \"_\" and \"-\", at most 64)";
	else if (pki_crl_reason(o->reason) == -1)
		why = "--reason: unknown (see pki-acme(1))";
	if (why != NULL)
		pki_err("%s", why);
	return why != NULL ? -1 : 0;
}

/* Parse the options of subcommand C into O; exits on bad usage. */
static void
parse(int argc, char *argv[], const struct command *c, struct opts *o)
{
	int ch, used = 0;

	while ((ch = pki_getopt(argc, argv, PKI_OPTSTRING_COMMON, longopts,
	    usage)) != -1) {
		if (set(o, ch, optarg) == -1)
			exit(PKI_EXIT_FATAL);
		used |= BIT(ch);
	}
	if (optind != argc)
		pki_usage(usage);
	if (used & ~c->allowed) {
		pki_err("%s: --%s is not one of its options", c->name,
		    opt_name(used & ~c->allowed));
		exit(PKI_EXIT_FATAL);
	}
}

int
main(int argc, char *argv[])
{
	static char pass[PKI_PASS_MAX];
	struct opts o;
	const struct command *c = NULL;
	size_t i;
	int rc;

	pki_init(argv[0]);
	if (argc == 2 && strcmp(argv[1], "http01-serve") == 0)
		return http01_serve();
	for (i = 0; argc > 1 && i < sizeof(commands) / sizeof(*commands); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			c = &commands[i];
	if (c == NULL) {
		/* -h and the like, else a usage error. */
		pki_getopt(argc, argv, PKI_OPTSTRING_COMMON, longopts, usage);
		pki_usage(usage);
	}
	memset(&o, 0, sizeof(o));
	o.timeout = ACME_TIMEOUT_DEFAULT;
	o.key_type = strcmp(c->name, "register") == 0 ? "ec" : NULL;
	o.reason = "unspecified";
	o.http_user = "nobody";
	o.pass_file = getenv("PKI_DB_PASSPHRASE_FILE");
	o.ca_bundle = getenv("PKI_ACME_CA_BUNDLE");
	parse(argc - 1, argv + 1, c, &o);
	if (o.directory == NULL && (c->allowed & BIT(O_DIRECTORY)))
		o.directory = getenv("PKI_ACME_DIRECTORY");
	if (o.directory != NULL && *o.directory == '\0')
		o.directory = NULL;
	if (o.ca_bundle != NULL && *o.ca_bundle == '\0')
		o.ca_bundle = NULL;
	if (o.profile != NULL && *o.profile == '\0')
		o.profile = NULL;
	if (check(&o, c) == -1)
		return PKI_EXIT_FATAL;
	/* The account record of register and rollover carries the key. */
	if ((strcmp(c->name, "register") == 0 ||
	    strcmp(c->name, "rollover") == 0) && isatty(STDOUT_FILENO)) {
		pki_err("%s: the account record carries the account key: "
		    "pipe it into pki-store or redirect it to a file of mode "
		    "0600, not a terminal (pki account rollover does it)",
		    c->name);
		return PKI_EXIT_FATAL;
	}
	if ((c->allowed & BIT(O_PASS)) && o.pass_file != NULL &&
	    *o.pass_file != '\0') {
		if (pki_read_passphrase(o.pass_file, pass, sizeof(pass)) == 0)
			o.pass = pass;
		else if (c->filter)
			o.pass_failed = 1;	/* the records still go through */
		else
			return PKI_EXIT_FATAL;
	}
	rc = c->run(&o);
	pki_wipe(pass, sizeof(pass));
	curl_global_cleanup();
	return rc;
}
