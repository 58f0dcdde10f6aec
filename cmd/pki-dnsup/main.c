/*
 * pki-dnsup - publish the DNS records that cert records ask for (their
 * ACME dns-01 challenges, with --tlsa their TLSA records) by RFC 2136
 * dynamic UPDATE signed with TSIG, or in zone include files; wait until
 * every authoritative server of each zone serves them; withdraw them
 * later (--remove), and the challenges a dead run left (records of
 * pki-select --orphans).  The standing records of dns-persist-01
 * challenges are published only when an authoritative server lacks
 * them, and never withdrawn.  --check publishes nothing: before an order is
 * placed, it finds the zone of each name's challenge and has its primary
 * take an update that changes nothing, so that a record whose challenges
 * could not be published fails before the CA is asked for anything.
 *
 * It gathers the records with DNS work before it acts: one UPDATE per
 * zone for all of them, one wait for all; then it writes them, in input
 * order.  Every other record is written the moment it is read
 * (pki_batch()).  Bad usage (an unknown option, a bad number or
 * HOST[:PORT], options that conflict) exits 2 at once; a setup error (a
 * key file that cannot be used, a server name that cannot be looked up)
 * exits 2 too, but only after every record was read and written, those
 * with DNS work to do with an error that says why it was not done.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnsup.h"

static const char usage[] =
"usage: pki-dnsup [-hqv] [--remove | --check] [--tlsa] [--key-file FILE]\n"
"                 [--server HOST[:PORT]] [--resolver HOST[:PORT]]\n"
"                 [--ns HOST[:PORT]] [--ttl SECONDS] [--interval SECONDS]\n"
"                 [--timeout SECONDS] [--include-file PATTERN]\n"
"                 [--reload-cmd CMD] [--syslog FACILITY]\n";

/* What the options and the environment name, before it is looked up. */
struct args {
	const char	*key_file;
	const char	*server;
	int		 server_option;	/* --server, not $PKI_DNS_SERVER */
	const char	*resolver;
	int		 resolver_option;	/* --resolver, not
						   $PKI_DNS_RESOLVER */
	char		**ns;
	size_t		 nns;
};

/* A number of seconds from MIN to MAX (a decimal fraction allowed). */
static int
seconds(const char *what, const char *s, double min, double max, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (*s == '\0' || *end != '\0' || errno != 0 || !(v >= min &&
	    v <= max)) {
		pki_err("%s: \"%s\" is not a number of seconds from %g to %g",
		    what, s, min, max);
		return -1;
	}
	*out = v;
	return 0;
}

/* The value of environment variable NAME, NULL if unset or empty. */
static const char *
env(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? v : NULL;
}

/* Options that conflict, or lack what they need, and server options
 * that are not HOST[:PORT] (their names are looked up later, by setup());
 * -1 (reported).  All of these are usage errors. */
static int
check_options(const struct config *cfg, const struct args *a)
{
	const char *why = NULL;
	char buf[512];
	size_t i;

	if (cfg->reload != NULL && cfg->include == NULL)
		why = "--reload-cmd needs --include-file";
	else if (cfg->include != NULL && strstr(cfg->include, "{}") == NULL)
		why = "--include-file: the pattern has no {} for the zone";
	else if (a->server_option && cfg->include != NULL)
		why = "--server and --include-file exclude each other";
	else if (cfg->check && (cfg->remove || cfg->tlsa))
		why = "--check excludes --remove and --tlsa (it publishes "
		    "nothing)";
	else if (cfg->tlsa && cfg->remove)
		why = "--tlsa and --remove exclude each other (--remove "
		    "withdraws what dns.published lists)";
	if (why != NULL) {
		pki_err("%s", why);
		return -1;
	}
	why = a->server_option ? "--server" : "PKI_DNS_SERVER";
	if (a->server != NULL && cfg->include == NULL &&
	    servers_check(a->server, 1, buf, sizeof(buf)) == -1)
		goto bad;
	why = "--ns";
	for (i = 0; i < a->nns; i++)
		if (servers_check(a->ns[i], 1, buf, sizeof(buf)) == -1)
			goto bad;
	why = a->resolver_option ? "--resolver" : "PKI_DNS_RESOLVER";
	if (a->resolver != NULL &&
	    servers_check(a->resolver, 0, buf, sizeof(buf)) == -1)
		goto bad;
	return 0;
bad:
	pki_err("%s: %s", why, buf);
	return -1;
}

/* Append the --ns ARG to A; 0 / -1 (reported). */
static int
add_ns(struct args *a, char *arg)
{
	char **v;

	if ((v = reallocarray(a->ns, a->nns + 1, sizeof(*v))) == NULL) {
		pki_err("out of memory");
		return -1;
	}
	a->ns = v;
	a->ns[a->nns++] = arg;
	return 0;
}

/* One option CH of the program's own, with its argument ARG. */
static int
option(int ch, char *arg, struct config *cfg, struct args *a)
{
	long ttl;

	switch (ch) {
	case 'r':
		cfg->remove = 1;
		break;
	case 'a':
		cfg->tlsa = 1;
		break;
	case 'c':
		cfg->check = 1;
		break;
	case 'k':
		a->key_file = arg;
		break;
	case 's':
		a->server = arg;
		a->server_option = 1;
		break;
	case 'R':
		a->resolver = arg;
		a->resolver_option = 1;
		break;
	case 'n':
		return add_ns(a, arg);
	case 'T':
		if (pki_parse_long("--ttl", arg, 0, 2147483647, &ttl) == -1)
			return -1;
		cfg->ttl = (uint32_t)ttl;
		break;
	case 'i':
		return seconds("--interval", arg, 0.01, 3600, &cfg->interval);
	case 'o':
		return seconds("--timeout", arg, 0.1, 86400, &cfg->timeout);
	case 'I':
		cfg->include = arg;
		break;
	case 'C':
		cfg->reload = arg;
		break;
	default:
		pki_usage(usage);
	}
	return 0;
}

static int
options(int argc, char *argv[], struct config *cfg, struct args *a)
{
	static const struct option longopts[] = {
		PKI_LONGOPTS_COMMON,
		{ "remove",		no_argument,		NULL, 'r' },
		{ "tlsa",		no_argument,		NULL, 'a' },
		{ "check",		no_argument,		NULL, 'c' },
		{ "key-file",		required_argument,	NULL, 'k' },
		{ "server",		required_argument,	NULL, 's' },
		{ "resolver",		required_argument,	NULL, 'R' },
		{ "ns",			required_argument,	NULL, 'n' },
		{ "ttl",		required_argument,	NULL, 'T' },
		{ "interval",		required_argument,	NULL, 'i' },
		{ "timeout",		required_argument,	NULL, 'o' },
		{ "include-file",	required_argument,	NULL, 'I' },
		{ "reload-cmd",		required_argument,	NULL, 'C' },
		{ NULL,			0,			NULL, 0 }
	};
	int ch;

	a->key_file = env("PKI_TSIG_KEY_FILE");
	a->server = env("PKI_DNS_SERVER");
	a->resolver = env("PKI_DNS_RESOLVER");
	while ((ch = pki_getopt(argc, argv, PKI_OPTSTRING_COMMON, longopts,
	    usage)) != -1)
		if (option(ch, optarg, cfg, a) == -1)
			return -1;
	if (optind != argc)
		pki_usage(usage);
	return check_options(cfg, a);
}

/* The name servers of /etc/resolv.conf into LIST (none if it has none). */
static int
system_resolver(struct servers *list)
{
	ldns_resolver *res = NULL;
	ldns_rdf **ns;
	size_t i;
	int rc = 0;

	if (ldns_resolver_new_frm_file(&res, NULL) != LDNS_STATUS_OK)
		return 0;	/* said when a lookup needs it */
	ns = ldns_resolver_nameservers(res);
	for (i = 0; rc == 0 && i < ldns_resolver_nameserver_count(res); i++)
		rc = servers_add(list, ns[i], ldns_resolver_port(res));
	ldns_resolver_deep_free(res);
	return rc;
}

/*
 * The key, the resolver, --server and --ns: what the options name, read
 * and looked up.  -1 (reported) if one fails, the reason in
 * CFG->setup_error.  A failure here is not a usage error: the records
 * are read all the same, and those that need DNS work get the reason.
 */
static int
setup(struct config *cfg, const struct args *a, struct tsig_key *key)
{
	double deadline = pki_now() + cfg->timeout;
	char *why = cfg->setup_error, buf[sizeof(cfg->setup_error) - 16];
	size_t i, len = sizeof(cfg->setup_error);

	if (a->key_file != NULL) {
		if (tsig_load(key, a->key_file, why, len) == -1)
			goto fail;
		cfg->key = key;
	}
	if (a->resolver != NULL ? servers_parse(&cfg->resolver, a->resolver,
	    NULL, deadline, buf, sizeof(buf)) == -1 :
	    system_resolver(&cfg->resolver) == -1) {
		snprintf(why, len, "--resolver: %s", a->resolver != NULL ?
		    buf : "out of memory");
		goto fail;
	}
	if (a->server != NULL && cfg->include == NULL &&
	    servers_parse(&cfg->primary, a->server, &cfg->resolver, deadline,
	    buf, sizeof(buf)) == -1) {
		snprintf(why, len, "--server: %s", buf);
		goto fail;
	}
	for (i = 0; i < a->nns; i++) {
		if (servers_parse(&cfg->ns, a->ns[i], &cfg->resolver, deadline,
		    buf, sizeof(buf)) == -1) {
			snprintf(why, len, "--ns: %s", buf);
			goto fail;
		}
	}
	return 0;
fail:
	pki_err("%s", why);
	return -1;
}

/* 1 if zone Z has items still to do. */
static int
zone_has_new(const struct batch *b, const struct zone *z)
{
	size_t i;

	for (i = 0; i < b->nitems; i++)
		if (b->items[i].zone == z && b->items[i].state == ITEM_NEW)
			return 1;
	return 0;
}

/* A run: the batch and what the options say. */
struct run {
	struct batch	 b;
	struct config	*cfg;
};

/* pki_batch()'s MINE: hold the record (the last of the batch) when it
 * has DNS work to do. */
static int
mine(json_t *rec, void *ctx)
{
	struct run *r = ctx;
	size_t before = r->b.nitems;
	int rc;

	(void)rec;
	rc = items_gather(&r->b, json_array_size(r->b.recs) - 1, r->cfg);
	if (rc == -1)
		return -1;
	if (r->b.nitems > before)
		return PKI_HOLD;
	return rc == 1 ? PKI_FAILED : PKI_PASS;
}

/* pki_batch()'s SETUP: done before the records were read (setup());
 * what went wrong then is every held record's error. */
static int
ready(void *ctx, char *why, size_t len)
{
	const struct run *r = ctx;

	if (r->cfg->setup_error[0] == '\0')
		return 0;
	snprintf(why, len, "nothing %s: %s", r->cfg->check ? "checked" :
	    r->cfg->remove ? "withdrawn" : "published", r->cfg->setup_error);
	return -1;
}

/* pki_batch()'s ACT: publish or withdraw the items of the batch; with
 * --check, probe the primary of each zone (in zone-file mode, that the
 * zone was found is all). */
static int
act(json_t *held, void *ctx)
{
	struct run *r = ctx;
	struct batch *b = &r->b;
	struct config *cfg = r->cfg;
	size_t i;

	(void)held;
	cfg->deadline = pki_now() + cfg->timeout;
	zones_locate(b, cfg);	/* what dns.published does not place */
	if (!cfg->check && !cfg->remove)
		persist_standing(b, cfg);	/* no update for those */
	for (i = 0; i < b->nzones; i++) {
		if (!zone_has_new(b, b->zones[i]))
			continue;
		if (cfg->check) {
			if (b->zones[i]->file == NULL)
				zone_probe(b, b->zones[i], cfg);
		} else if (b->zones[i]->file != NULL)
			zonefile_change(b, b->zones[i], cfg);
		else
			zone_update(b, b->zones[i], cfg);
	}
	if (cfg->check)
		return b->failed ? PKI_EXIT_RECORD : PKI_EXIT_OK;
	if (items_record(b, cfg) == -1 ||
	    (!cfg->remove && wait_seen(b, cfg) == -1))
		return PKI_EXIT_FATAL;
	return b->failed ? PKI_EXIT_RECORD : PKI_EXIT_OK;
}

/* Gather the records with DNS work (the others pass at once), act, write
 * them; the exit status.  After a setup error no record is acted on, but
 * every record is written (DESIGN 3.2): those with DNS work to do say
 * why it was not done. */
static int
run(struct config *cfg)
{
	struct pki_batch ops = { mine, ready, act, "dns", cfg->check ?
	    "nothing checked" : cfg->remove ? "nothing withdrawn" :
	    "nothing published" };
	struct run r;
	int status;

	memset(&r, 0, sizeof(r));
	r.cfg = cfg;
	if ((r.b.recs = json_array()) == NULL)
		return PKI_EXIT_FATAL;
	status = pki_batch(&ops, r.b.recs, &r);
	if (cfg->setup_error[0] != '\0')
		status = PKI_EXIT_FATAL;
	batch_free(&r.b);
	return status;
}

int
main(int argc, char *argv[])
{
	static struct tsig_key key;
	struct config cfg = { .ttl = 60, .interval = 0.5, .timeout = 120 };
	struct args a;
	int rc = PKI_EXIT_FATAL;

	memset(&a, 0, sizeof(a));
	pki_init(argv[0]);
	/* Bad usage ends here; a setup error is said, and then the
	 * records are read and written all the same. */
	if (options(argc, argv, &cfg, &a) == 0) {
		setup(&cfg, &a, &key);
		rc = run(&cfg);
	}
	servers_free(&cfg.resolver);
	servers_free(&cfg.primary);
	servers_free(&cfg.ns);
	tsig_wipe(&key);
	free(a.ns);
	pki_out_close();
	return rc;
}
