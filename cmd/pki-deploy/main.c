/*
 * pki-deploy - certificates and keys to their targets: hosts, jails and
 * places, over SSH/SFTP (or to this machine itself), then the places'
 * reload commands.
 *
 * pki-deploy gathers its batch (pki_batch(), DESIGN 3.4): it holds the
 * records it deploys, each checked and its targets planned as it is
 * read, and writes every other record the moment it is read.  At the
 * end of the input it works on the hosts --jobs at a time, one SSH
 * session per host for all its files, and writes the records held, each
 * with "deployed" (what every target got).  A target that fails is
 * recorded in "deployed"; only a record that cannot be tried at all (its
 * key or chain is wrong, its targets malformed) gets an error, and is
 * written at once.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "deploy.h"

static const char usage[] =
"usage: pki-deploy [-hqv] [--consolidate] [--jobs N] [--ssh-config FILE]\n"
"                  [--known-hosts FILE] [--identity FILE] [--user USER]\n"
"                  [--local HOST]... [--timeout SECONDS] [--syslog FACILITY]\n";

struct batch {
	json_t		*recs;		/* the records held: pki-deploy's */
	struct target	**targets;	/* every target of every record */
	size_t		 nt, capt;
	struct host	*hosts;
	size_t		 nh, caph;
	json_t		*locals;	/* --local names */
	struct sshopt	 opt;
	int		 consolidate;
	long		 jobs;		/* hosts worked on at a time */
	int		 ssh_ready;	/* ssh_setup() done */
	size_t		 next;		/* the next host for a worker */
	pthread_mutex_t	 lock;
};

/* 1 if the host NAME is this machine. */
static int
is_local(struct batch *b, const char *name)
{
	json_t *v;
	size_t i;

	if (strcmp(name, "localhost") == 0)
		return 1;
	json_array_foreach(b->locals, i, v)
		if (strcasecmp(json_string_value(v), name) == 0)
			return 1;
	return 0;
}

/*
 * Give T to its host (made on first use); -1 if out of memory.  Every
 * host that is this machine ("localhost", --local) is one host, worked
 * on by one worker: two names of this machine with the same place would
 * otherwise race on the files' temporary names.
 */
static int
host_add(struct batch *b, struct target *t)
{
	struct host *h = NULL, *hosts;
	struct target **ts;
	int local = t->kind == K_HOOK || (t->kind == K_FILES &&
	    is_local(b, t->host));
	char *name = t->kind == K_REDIS ? redis_server(t) :
	    strdup(t->kind == K_HOOK ? "localhost" : t->host);
	size_t i;

	if (name == NULL)
		return -1;
	for (i = 0; i < b->nh && h == NULL; i++)
		if ((strcmp(b->hosts[i].name, name) == 0 &&
		    b->hosts[i].redis == (t->kind == K_REDIS)) ||
		    (local && b->hosts[i].local))
			h = &b->hosts[i];
	if (h == NULL) {
		if (b->nh == b->caph) {
			if ((hosts = realloc(b->hosts, (b->caph * 2 + 8) *
			    sizeof(*hosts))) == NULL) {
				free(name);
				return -1;
			}
			b->hosts = hosts;
			b->caph = b->caph * 2 + 8;
		}
		h = &b->hosts[b->nh];
		memset(h, 0, sizeof(*h));
		h->name = name;
		name = NULL;
		h->local = local;
		h->redis = t->kind == K_REDIS;
		b->nh++;
	}
	free(name);
	if (h->n == h->cap) {
		if ((ts = realloc(h->targets, (h->cap * 2 + 8) *
		    sizeof(*ts))) == NULL)
			return -1;
		h->targets = ts;
		h->cap = h->cap * 2 + 8;
	}
	h->targets[h->n++] = t;
	return 0;
}

static int
target_keep(struct batch *b, struct target *t)
{
	struct target **ts;

	if (b->nt == b->capt) {
		if ((ts = realloc(b->targets, (b->capt * 2 + 64) *
		    sizeof(*ts))) == NULL)
			return -1;
		b->targets = ts;
		b->capt = b->capt * 2 + 64;
	}
	b->targets[b->nt++] = t;
	return 0;
}

/* 1 if REC is pki-deploy's: it has certificates and targets, and no
 * error. */
static int
deployable(json_t *rec)
{
	return !pki_rec_failed(rec) &&
	    json_object_size(json_object_get(rec, "cert")) > 0 &&
	    json_array_size(json_object_get(rec, "targets")) > 0;
}

/*
 * Check record REC, of index INDEX in B->recs, and plan its targets.
 * 0 when planned, -1 when refused (an error added), -2 when out of
 * memory (the targets planned so far stay, never worked on).
 */
static int
plan_record(struct batch *b, json_t *rec, size_t index)
{
	json_t *targets = json_object_get(rec, "targets"), *tj;
	struct target *t;
	const char *type;
	size_t i;
	int need_key = 0, fmt;

	json_array_foreach(targets, i, tj) {
		if (!json_is_integer(json_object_get(tj, "id")))
			return pki_rec_error(rec, "targets", "target %zu: not "
			    "an object with an integer \"id\"", i);
		type = pki_str(json_object_get(tj, "place"), "cert_file_type");
		fmt = format_parse(pki_str(json_object_get(tj, "place"),
		    "format"));
		if ((type != NULL && strcmp(type, "cert only") != 0) ||
		    fmt == FMT_BUNDLE || fmt == FMT_P12 ||
		    place_kind(json_object_get(tj, "place")) == K_REDIS)
			need_key = 1;
	}
	if (pki_rec_keyless(rec))
		need_key = 0;	/* CSR input: certificate and chain only */
	if (check_record(rec, need_key) == -1)
		return -1;
	json_array_foreach(targets, i, tj) {
		if ((t = target_plan(rec, tj, index)) == NULL ||
		    target_keep(b, t) == -1) {
			target_free(t);
			return -2;
		}
		if (t->state != T_FAILED && host_add(b, t) == -1)
			return -2;
	}
	return 0;
}

/* pki_batch()'s MINE: hold REC (the last of B->recs) when it is
 * pki-deploy's, checked and its targets planned. */
static int
mine(json_t *rec, void *ctx)
{
	struct batch *b = ctx;

	if (!deployable(rec))
		return PKI_PASS;
	switch (plan_record(b, rec, json_array_size(b->recs) - 1)) {
	case -1:
		return PKI_FAILED;
	case -2:
		pki_err("%s: out of memory", pki_rec_name(rec));
		return -1;
	}
	return PKI_HOLD;
}

/* pki_batch()'s SETUP: libssh, once. */
static int
setup(void *ctx, char *why, size_t len)
{
	struct batch *b = ctx;

	if (ssh_setup() == 0) {
		b->ssh_ready = 1;
		return 0;
	}
	snprintf(why, len, "nothing deployed: libssh cannot be initialised");
	return -1;
}

/* Every target of host H fails with ERR. */
static void
host_failed(struct host *h, const char *err)
{
	size_t i;

	for (i = 0; i < h->n; i++) {
		h->targets[i]->state = T_FAILED;
		snprintf(h->targets[i]->error, sizeof(h->targets[i]->error),
		    "%.100s: %.400s", h->name, err);
	}
}

/*
 * Target T on connection C.  What the host holds is compared first: a
 * target that has its files already is left as it is (and reloaded
 * only if the reload of the run that wrote them did not end well).
 * --consolidate finds every difference and must be able to read the
 * host; otherwise a target that cannot be read is simply written.
 */
static void
do_target(struct batch *b, struct host *h, struct conn *c,
    struct target *t)
{
	if (c->dead) {
		t->state = T_FAILED;
		snprintf(t->error, sizeof(t->error), "%s", c->err);
		return;
	}
	if (conn_check(c, t, b->consolidate) == -1) {
		if (b->consolidate || c->dead) {
			t->state = T_FAILED;
			return;
		}
		t->error[0] = '\0';
	} else if (t->drift == NULL) {
		t->state = T_OK;
		return;
	}
	if (conn_deploy(c, t) == -1) {
		t->state = T_FAILED;
		return;
	}
	t->state = T_OK;
	h->files += t->nfiles;
}

/* Everything for host H, in a worker thread: one connection, the files
 * of all its targets, then the reload commands. */
static void
do_host(struct batch *b, struct host *h)
{
	char err[DEPLOY_ERR_MAX];
	double t0 = pki_now();
	struct conn *c;
	size_t i;

	if (h->redis) {
		redis_host(h, b->opt.timeout);
		h->seconds = pki_now() - t0;
		return;
	}
	if (h->local)
		c = local_open();
	else
		c = ssh_open(h->name, &b->opt, err, sizeof(err));
	if (c == NULL) {
		host_failed(h, h->local ? "out of memory" : err);
		return;
	}
	h->sessions = !h->local;
	for (i = 0; i < h->n; i++)
		do_target(b, h, c, h->targets[i]);
	reload_host(c, h, b->opt.timeout);
	hook_host(c, h, b->opt.timeout);
	c->ops->close(c);
	conn_free(c);
	h->seconds = pki_now() - t0;
}

static void *
worker(void *arg)
{
	struct batch *b = arg;
	size_t i;

	for (;;) {
		pthread_mutex_lock(&b->lock);
		i = b->next++;
		pthread_mutex_unlock(&b->lock);
		if (i >= b->nh)
			return NULL;
		do_host(b, &b->hosts[i]);
	}
}

/* Work on every host, JOBS at a time; -1 if no thread could start. */
static int
run_hosts(struct batch *b, long jobs)
{
	pthread_t *th;
	long i, n = (long)b->nh < jobs ? (long)b->nh : jobs, started = 0;

	if (n == 0)
		return 0;
	if ((th = calloc((size_t)n, sizeof(*th))) == NULL)
		return -1;
	for (i = 0; i < n; i++)
		if (pthread_create(&th[i], NULL, worker, b) == 0)
			started++;
		else
			break;
	if (started == 0)
		worker(b);	/* no thread: work in this one */
	for (i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	free(th);
	return 0;
}

/* The "deployed" entry of target T. */
static json_t *
target_json(const struct batch *b, const struct target *t)
{
	json_t *o, *files = json_array(), *f;
	const struct dfile *d;
	char mode[8];
	size_t i;

	o = json_pack("{s:s, s:s?, s:s?, s:s, s:b}", "host", t->host, "jail",
	    t->jail, "place", t->place, "status", t->state == T_OK ? "ok" :
	    "failed", "written", t->written);
	for (i = 0; (t->written || t->state == T_OK) && i < t->nfiles; i++) {
		d = &t->files[i];
		snprintf(mode, sizeof(mode), "%04o", (unsigned)d->mode);
		f = d->link != NULL ? json_pack("{s:s, s:s}", "path", d->path,
		    "link", d->link) : json_pack("{s:s, s:s, s:s}", "path",
		    d->path, "sha256", d->sha256, "mode", mode);
		json_array_append_new(files, f);
	}
	json_object_set_new(o, "files", files);
	if (t->reload_run)
		json_object_set_new(o, "reload", json_pack("{s:o, s:o, s:o}",
		    "command", pki_json_string(t->reload), "status",
		    t->reload_status >= 0 ? json_integer(t->reload_status) :
		    json_null(), "stderr", pki_json_string(t->reload_stderr)));
	if (t->hook_run)
		json_object_set_new(o, "hook", json_pack("{s:o, s:o, s:o}",
		    "command", pki_json_string(t->hook), "status",
		    t->hook_status >= 0 ? json_integer(t->hook_status) :
		    json_null(), "stderr", pki_json_string(t->hook_stderr)));
	if (t->kind == K_REDIS) {
		files = json_array();
		for (i = 0; t->keys != NULL && t->keys[i] != NULL; i++)
			json_array_append_new(files, json_string(t->keys[i]));
		json_object_set_new(o, "keys", files);
	}
	if (b->consolidate)
		json_object_set_new(o, "drift", t->drift ? json_string(t->drift)
		    : json_null());
	if (t->state != T_OK)
		json_object_set_new(o, "error", pki_json_string(t->error));
	return o;
}

/* Put every target's result into its record's "deployed"; the number of
 * targets that failed. */
static size_t
results(struct batch *b)
{
	json_t *rec, *dep;
	struct target *t;
	char id[24];
	size_t i, failed = 0;

	for (i = 0; i < b->nt; i++) {
		t = b->targets[i];
		rec = json_array_get(b->recs, t->rec);
		/* A record's targets are together in B->targets; this run's
		 * results replace whatever the record said before. */
		if (i == 0 || b->targets[i - 1]->rec != t->rec)
			json_object_set_new(rec, "deployed", json_object());
		dep = json_object_get(rec, "deployed");
		snprintf(id, sizeof(id), "%ld", t->id);
		json_object_set_new(dep, id, target_json(b, t));
		if (t->state != T_OK) {
			failed++;
			pki_err("%s: target %ld (%s%s%s, place %s): %s",
			    pki_rec_name(rec), t->id, t->host, t->jail ?
			    ", jail " : "", t->jail ? t->jail : "",
			    t->place ? t->place : "none", t->error);
		}
	}
	return failed;
}

/* pki_batch()'s ACT: work on every host, then put every target's
 * result into its record. */
static int
act(json_t *held, void *ctx)
{
	struct batch *b = ctx;
	size_t i;

	if (run_hosts(b, b->jobs) == -1) {
		pki_held_error(held, "deployed", "nothing deployed: out of "
		    "memory");
		return PKI_EXIT_FATAL;
	}
	for (i = 0; i < b->nh; i++)
		pki_info("%s: %d SSH session%s, %zu targets, %zu files "
		    "written, %zu reload command%s, %.2f s", b->hosts[i].name,
		    b->hosts[i].sessions, b->hosts[i].sessions == 1 ? "" : "s",
		    b->hosts[i].n, b->hosts[i].files, b->hosts[i].reloads,
		    b->hosts[i].reloads == 1 ? "" : "s", b->hosts[i].seconds);
	return results(b) > 0 ? PKI_EXIT_RECORD : PKI_EXIT_OK;
}

/* Deploy the records of stdin, and write every one of them (DESIGN
 * 3.2); the exit status. */
static int
run(struct batch *b)
{
	static const struct pki_batch ops = { mine, setup, act, "deployed",
	    "nothing deployed" };

	return pki_batch(&ops, b->recs, b);
}

static void
batch_free(struct batch *b)
{
	size_t i;

	for (i = 0; i < b->nt; i++)
		target_free(b->targets[i]);
	free(b->targets);
	for (i = 0; i < b->nh; i++) {
		free(b->hosts[i].name);
		free(b->hosts[i].targets);
	}
	free(b->hosts);
	json_decref(b->recs);
	json_decref(b->locals);
	pthread_mutex_destroy(&b->lock);
}

/* FILE (of option OPT) can be read; else said, and -1. */
static int
readable(const char *opt, const char *file)
{
	if (access(file, R_OK) == 0)
		return 0;
	pki_err("%s %s: cannot be read", opt, file);
	return -1;
}

/* The options into B; -1 (said) on a bad value. */
static int
options(int argc, char *argv[], struct batch *b)
{
	static const struct option longopts[] = {
		PKI_LONGOPTS_COMMON,
		{ "consolidate",	no_argument,		NULL, 'c' },
		{ "jobs",		required_argument,	NULL, 'j' },
		{ "ssh-config",		required_argument,	NULL, 'F' },
		{ "known-hosts",	required_argument,	NULL, 'K' },
		{ "identity",		required_argument,	NULL, 'i' },
		{ "user",		required_argument,	NULL, 'u' },
		{ "local",		required_argument,	NULL, 'L' },
		{ "timeout",		required_argument,	NULL, 't' },
		{ NULL,			0,			NULL, 0 }
	};
	int ch, rc = 0;

	while ((ch = pki_getopt(argc, argv, PKI_OPTSTRING_COMMON, longopts,
	    usage)) != -1) {
		switch (ch) {
		case 'c': b->consolidate = 1; break;
		case 'F': b->opt.config = optarg; break;
		case 'K': b->opt.known_hosts = optarg; break;
		case 'i': b->opt.identity = optarg; break;
		case 'u': b->opt.user = optarg; break;
		case 'L':
			json_array_append_new(b->locals, json_string(optarg));
			break;
		case 'j':
			rc |= pki_parse_long("--jobs", optarg, 1, 256,
			    &b->jobs);
			break;
		case 't':
			rc |= pki_parse_long("--timeout", optarg, 1, 3600,
			    &b->opt.timeout);
			break;
		default:
			pki_usage(usage);
		}
	}
	if (optind != argc)
		pki_usage(usage);
	if ((b->opt.config && readable("--ssh-config", b->opt.config)) ||
	    (b->opt.known_hosts && readable("--known-hosts",
	    b->opt.known_hosts)) ||
	    (b->opt.identity && readable("--identity", b->opt.identity)))
		rc = -1;
	return rc != 0 ? -1 : 0;
}

int
main(int argc, char *argv[])
{
	struct batch b;
	int rc = PKI_EXIT_FATAL;

	memset(&b, 0, sizeof(b));
	pki_init(argv[0]);
	b.recs = json_array();
	b.locals = json_array();
	b.jobs = 8;
	b.opt.timeout = 30;
	pthread_mutex_init(&b.lock, NULL);
	if (b.recs == NULL || b.locals == NULL)
		pki_err("out of memory");
	else if (options(argc, argv, &b) == 0)
		rc = run(&b);
	if (b.ssh_ready)
		ssh_teardown();
	batch_free(&b);
	pki_out_close();
	return rc;
}
