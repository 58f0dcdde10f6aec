/*
 * files.c - the files a target gets.
 *
 * serverPKI's five cert file types, certbot's (and ssl-mgr's) file set,
 * and a certbot-like live/NAME layout, below a place's cert_path and
 * key_path ("{}" is the certificate's name), below <jailroot>/<jail> for
 * a jail; a place that asks for it ("atomic") gets any of these as one
 * version (atomic.c), and one of another format (Places.format) the
 * files of that format (format.c).  Every value from the database that
 * ends up in a path is checked here or in place.c; a target whose values
 * do not pass fails on its own and never reaches a host.
 */
#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "deploy.h"

/* What building one target's files needs. */
struct build {
	struct target	*t;
	json_t		*rec;
	const struct place *pl;
	char		 base[256];	/* the name as a file name */
	const char	*type;		/* subject_type */
	char		 certdir[MAX_PATH_LEN + 1];	/* inside the jail */
	char		 keydir[MAX_PATH_LEN + 1];
	int		 nalgos;
	const char	*algo;		/* of the files added now */
	int		 keyless;	/* CSR input: no key to write */
};

int
target_fail(struct target *t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(t->error, sizeof(t->error), fmt, ap);
	va_end(ap);
	t->state = T_FAILED;
	return -1;
}

/* A copy of S (NULL stays NULL), lower case when LOWER; -1 if out of
 * memory. */
static int
copy(char **out, const char *s, int lower)
{
	char *p;

	*out = NULL;
	if (s == NULL)
		return 0;
	if ((*out = strdup(s)) == NULL)
		return -1;
	for (p = *out; lower && *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	return 0;
}

/* PARTS (NULL or "" left out), each ended by a newline, as one buffer. */
static char *
concat(const char *const parts[3], size_t *len)
{
	size_t i, n = 0, l;
	char *buf;

	for (i = 0; i < 3; i++)
		if (parts[i] != NULL)
			n += strlen(parts[i]) + 1;
	if ((buf = malloc(n + 1)) == NULL)
		return NULL;
	for (i = 0, n = 0; i < 3; i++) {
		if (parts[i] == NULL || (l = strlen(parts[i])) == 0)
			continue;
		memcpy(buf + n, parts[i], l);
		n += l;
		if (parts[i][l - 1] != '\n')
			buf[n++] = '\n';
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

/*
 * Add the file DIR/NAME (DIR inside the jail) holding the LEN bytes of
 * DATA, which it owns from now on, whatever happens (NULL: out of
 * memory), the ROLE of b->algo (struct dfile); a SECRET file (it holds a
 * key) gets the place's key mode and owner, the others 0644 and the
 * owner only with chown_both.
 */
static struct dfile *
add_data(struct build *b, const char *dir, const char *name, char *data,
    size_t len, int secret, const char *role)
{
	struct target *t = b->t;
	struct dfile *f = &t->files[t->nfiles];
	char path[PATH_MAX];
	unsigned char md[32];

	if (data == NULL) {
		target_fail(t, "out of memory");
		return NULL;
	}
	if (t->nfiles >= MAX_FILES ||
	    path_join(path, sizeof(path), t->root, dir, name) == -1 ||
	    path_problem(path) != NULL) {
		if (secret)
			pki_wipe(data, len);
		free(data);
		target_fail(t, "%s/%s: path too long or not acceptable", dir,
		    name);
		return NULL;
	}
	t->nfiles++;
	f->data = data;
	f->len = len;
	f->secret = secret;
	f->role = role;
	snprintf(f->algo, sizeof(f->algo), "%s", b->algo ? b->algo : "");
	if ((f->path = strdup(path)) == NULL) {
		target_fail(t, "out of memory");
		return NULL;
	}
	f->mode = f->secret ? b->pl->key_mode : 0644;
	f->uid = f->secret || b->pl->chown_both ? b->pl->uid : -1;
	f->gid = f->secret || b->pl->chown_both ? b->pl->gid : -1;
	EVP_Digest(f->data, f->len, md, NULL, EVP_sha256(), NULL);
	pki_hex(md, sizeof(md), f->sha256);
	return f;
}

/* Add the file DIR/NAME holding KEY, CERT and CHAIN (each may be NULL)
 * in PEM, as add_data() does; a secret file if it holds a key. */
static struct dfile *
add_file(struct build *b, const char *dir, const char *name,
    const char *key, const char *cert, const char *chain)
{
	static const char *const roles[8] = { NULL, "CHAIN", "CERT",
	    "FULLCHAIN", "KEY", NULL, "KEY_CERT", "BUNDLE" };
	const char *parts[3] = { key, cert, chain };
	size_t len = 0;
	char *data = concat(parts, &len);

	return add_data(b, dir, name, data, len, key != NULL,
	    roles[(key != NULL) * 4 + (cert != NULL) * 2 + (chain != NULL)]);
}

/*
 * The files of ALGO in a format other than PEM (pki-deploy(1),
 * "Formats"): in DIR, or KEYDIR for a key of its own, each named PREFIX
 * and the format's name; KEYNAME is "key" (serverPKI) or "privkey"
 * (certbot).  A cert only place gets no key file where the format has
 * one of its own.
 */
static int
formatted(struct build *b, const char *algo, const char *dir,
    const char *keydir, const char *prefix, const char *keyname)
{
	json_t *entry = json_object_get(json_object_get(b->rec, "cert"), algo);
	const char *cert = pki_str(entry, "pem"), *chain = pki_str(entry, "chain");
	const char *key = pki_str(json_object_get(b->rec, "key"), algo);
	int fmt = b->pl->format, with_key = !b->keyless && (fmt == FMT_BUNDLE ||
	    fmt == FMT_P12 || strcmp(b->pl->type, "cert only") != 0);
	char n[400], k[400], *data = NULL;
	size_t len = 0;

	if (cert == NULL || (with_key && key == NULL))
		return target_fail(b->t, "%s: no %s", algo, cert ? "key" :
		    "certificate");
	snprintf(k, sizeof(k), "%s%s.%s", prefix, keyname,
	    fmt == FMT_DER ? "der" : "pem");
#define NAME(s) (snprintf(n, sizeof(n), "%s%s", prefix, s), n)
	switch (fmt) {
	case FMT_DER:
		if ((data = format_cert_der(cert, &len)) == NULL)
			return target_fail(b->t, "%s: the certificate cannot "
			    "be written in DER", algo);
		if (add_data(b, dir, NAME("cert.der"), data, len, 0,
		    "CERT") == NULL)
			return -1;
		if (with_key && (data = format_key_der(key, &len)) == NULL)
			return target_fail(b->t, "%s: the key cannot be "
			    "written in DER", algo);
		if (with_key && add_data(b, keydir, k, data, len, 1,
		    "KEY") == NULL)
			return -1;
		return 0;
	case FMT_FULLCHAIN:
		if (add_file(b, dir, NAME("fullchain.pem"), NULL, cert,
		    chain) == NULL || (with_key &&
		    add_file(b, keydir, k, key, NULL, NULL) == NULL))
			return -1;
		return 0;
	case FMT_BUNDLE:
		return add_file(b, dir, NAME("bundle.pem"), key, cert,
		    chain) == NULL ? -1 : 0;
	default:
		if ((data = format_p12(key, cert, chain, b->base,
		    b->pl->pass, &len)) == NULL)
			return target_fail(b->t, "%s: no PKCS#12 file could "
			    "be made of key, certificate and chain", algo);
		return add_data(b, dir, NAME("cert.p12"), data, len, 1,
		    "P12") == NULL ? -1 : 0;
	}
#undef NAME
}

int
target_link(struct target *t, char *path, const char *contents)
{
	struct dfile *f = &t->files[t->nfiles];

	if (t->nfiles >= MAX_FILES) {
		free(path);
		return target_fail(t, "too many files");
	}
	t->nfiles++;
	f->path = path;
	if ((f->link = strdup(contents)) == NULL)
		return target_fail(t, "out of memory");
	f->mode = 0777;
	f->uid = f->gid = -1;
	return 0;
}

/* Add the link DIR/NAME to the file TO (inside the jail: relative when
 * in the same directory) or with the contents CONTENTS. */
static int
add_link(struct build *b, const char *dir, const char *name,
    const struct dfile *to, const char *contents)
{
	struct target *t = b->t;
	size_t rootlen = t->root != NULL ? strlen(t->root) : 0;
	const char *slash;
	char path[PATH_MAX], *p;

	if (to != NULL) {
		slash = strrchr(to->path, '/');
		if (path_join(path, sizeof(path), t->root, dir, "") == 0 &&
		    strncmp(path, to->path, (size_t)(slash + 1 - to->path)) ==
		    0 && strlen(path) == (size_t)(slash + 1 - to->path))
			contents = slash + 1;
		else
			contents = to->path + rootlen;
	}
	if (path_join(path, sizeof(path), t->root, dir, name) == -1)
		return target_fail(t, "%s/%s: path too long", dir, name);
	if ((p = strdup(path)) == NULL)
		return target_fail(t, "out of memory");
	return target_link(t, p, contents);
}

/* serverPKI's file types for the certificate of ALGO:
 * NAME_TYPE[_ALGO]_cert.pem and friends, postgresql.crt/.key links. */
static int
serverpki(struct build *b, const char *algo, int first)
{
	json_t *entry = json_object_get(json_object_get(b->rec, "cert"), algo);
	const char *type = b->pl->type, *cert = pki_str(entry, "pem");
	const char *chain = pki_str(entry, "chain"), *ca = pki_str(b->rec, "ca");
	const char *key = pki_str(json_object_get(b->rec, "key"), algo);
	struct dfile *cf = NULL, *kf = NULL;
	int acme = ca != NULL && strcmp(ca, "acme") == 0 && chain && *chain;
	char p[300], n[340];

	b->algo = algo;
	snprintf(p, sizeof(p), "%s_%s%s%s", b->base, b->type,
	    b->nalgos > 1 ? "_" : "", b->nalgos > 1 ? algo : "");
	if (b->pl->format != FMT_PEM) {
		snprintf(n, sizeof(n), "%s_", p);
		return formatted(b, algo, b->certdir, b->keydir, n, "key");
	}
#define NAME(suffix) (snprintf(n, sizeof(n), "%s" suffix, p), n)
	if (strcmp(type, "cert only") == 0)
		cf = add_file(b, b->certdir, NAME("_cert.pem"), NULL, cert, NULL);
	else if (strcmp(type, "separate") == 0) {
		cf = add_file(b, b->certdir, NAME("_cert.pem"), NULL, cert, NULL);
		if (!b->keyless)
			kf = add_file(b, b->keydir, NAME("_key.pem"), key,
			    NULL, NULL);
		if (acme)
			add_file(b, b->certdir, NAME("_cert_cacert_chain.pem"),
			    NULL, cert, chain);
	} else if (strcmp(type, "combine key") == 0) {
		cf = kf = add_file(b, b->certdir, NAME("_key_cert.pem"), key,
		    cert, NULL);
		if (acme)
			add_file(b, b->certdir, NAME("_key_cert_cacert_chain.pem"),
			    key, cert, chain);
	} else if (strcmp(type, "combine cacert") == 0) {
		cf = add_file(b, b->certdir, NAME("_cert_cacert.pem"), NULL,
		    cert, chain);
		if (!b->keyless)
			kf = add_file(b, b->keydir, NAME("_key.pem"), key,
			    NULL, NULL);
	} else
		cf = kf = add_file(b, b->certdir, NAME("_key_cert_cacert.pem"),
		    key, cert, chain);
#undef NAME
	if (b->t->state == T_FAILED)
		return -1;
	if (!b->pl->pg_link || !first)
		return 0;
	if (add_link(b, b->certdir, "postgresql.crt", cf, NULL) == -1 ||
	    (kf != NULL && add_link(b, b->certdir, "postgresql.key", kf,
	    NULL) == -1))
		return -1;
	return 0;
}

/* certbot's and ssl-mgr's file set for ALGO in DIR. */
static int
certbot_set(struct build *b, const char *dir, const char *algo)
{
	json_t *entry = json_object_get(json_object_get(b->rec, "cert"), algo);
	const char *cert = pki_str(entry, "pem"), *chain = pki_str(entry, "chain");
	const char *key = pki_str(json_object_get(b->rec, "key"), algo);

	b->algo = algo;
	if (b->pl->format != FMT_PEM)
		return formatted(b, algo, dir, dir, "", "privkey");
	if (add_file(b, dir, "cert.pem", NULL, cert, NULL) == NULL ||
	    add_file(b, dir, "chain.pem", NULL, NULL, chain) == NULL ||
	    add_file(b, dir, "fullchain.pem", NULL, cert, chain) == NULL)
		return -1;
	if (b->keyless)
		return 0;	/* no privkey.pem, no bundle.pem */
	if (add_file(b, dir, "privkey.pem", key, NULL, NULL) == NULL ||
	    add_file(b, dir, "bundle.pem", key, cert, chain) == NULL)
		return -1;
	return 0;
}

/* The name of this version (certbot live's archive, an atomic place's
 * store): the instance id, else the first certificate's serial, else
 * the start of its SHA-256. */
static void
version_name(struct build *b, const char *algo, char out[64])
{
	json_t *id = json_object_get(json_object_get(b->rec, "instance"), "id");
	json_t *entry = json_object_get(json_object_get(b->rec, "cert"), algo);
	const char *serial = pki_str(entry, "serial");
	const char *pem = pki_str(entry, "pem");
	unsigned char md[32];
	char hex[65];

	if (json_is_integer(id))
		snprintf(out, 64, "%lld", (long long)json_integer_value(id));
	else if (serial != NULL && *serial != '\0' &&
	    strspn(serial, "0123456789ABCDEFabcdef") == strlen(serial))
		snprintf(out, 64, "%.40s", serial);
	else {
		EVP_Digest(pem ? pem : "", pem ? strlen(pem) : 0, md, NULL,
		    EVP_sha256(), NULL);
		pki_hex(md, sizeof(md), hex);
		snprintf(out, 64, "%.16s", hex);
	}
}

/* certbot's file set for every algorithm (ALGOS, sorted): in cert_path,
 * or (certbot live) in cert_path/archive/NAME/VERSION with the link
 * cert_path/live/NAME to it. */
static int
certbot(struct build *b, const char *algos[2], int live)
{
	const char *top = strcmp(b->certdir, "/") ? b->certdir : "";
	char dir[PATH_MAX], version[64], rel[400];
	int i, n;

	version_name(b, algos[0], version);
	for (i = 0; i < b->nalgos; i++) {
		if (live)
			n = snprintf(dir, sizeof(dir), "%s/archive/%s/%s%s%s",
			    top, b->base, version, b->nalgos > 1 ? "/" : "",
			    b->nalgos > 1 ? algos[i] : "");
		else
			n = snprintf(dir, sizeof(dir), "%s%s%s", b->certdir,
			    b->nalgos > 1 ? "/" : "",
			    b->nalgos > 1 ? algos[i] : "");
		if (n < 0 || (size_t)n >= sizeof(dir))
			return target_fail(b->t, "cert_path: too long");
		if (certbot_set(b, dir, algos[i]) == -1)
			return -1;
	}
	if (!live)
		return 0;
	n = snprintf(dir, sizeof(dir), "%s/live", top);
	if (n < 0 || (size_t)n >= sizeof(dir) || snprintf(rel, sizeof(rel),
	    "../archive/%s/%s", b->base, version) >= (int)sizeof(rel))
		return target_fail(b->t, "cert_path: too long");
	return add_link(b, dir, b->base, NULL, rel);
}

/* The files of every algorithm (ALGOS, sorted) in the place's layout;
 * certbot live is versioned already, any other an atomic place asks
 * to be. */
static int
layout(struct build *b, const char *algos[2])
{
	const char *type = b->pl->type;
	char version[64];
	int i, rc = 0;

	b->nalgos = algos[1] != NULL ? 2 : 1;
	if (strcmp(type, "certbot live") == 0)
		return certbot(b, algos, 1);
	if (strcmp(type, "certbot") == 0)
		rc = certbot(b, algos, 0);
	for (i = 0; rc == 0 && strcmp(type, "certbot") != 0 &&
	    i < b->nalgos; i++)
		rc = serverpki(b, algos[i], i == 0);
	if (rc == -1 || !b->pl->atomic)
		return rc;
	version_name(b, algos[0], version);
	return atomic_version(b->t, b->certdir, b->keydir, b->base, version);
}

/* The jail's root below its disthost's jailroot; -1 (target failed) if
 * the values are not acceptable. */
static int
set_root(struct target *t, const char *jailroot)
{
	char dir[MAX_PATH_LEN + 1];
	const char *why;
	size_t n;

	if (t->jail == NULL)
		return 0;
	if ((why = jail_problem(t->jail)) != NULL)
		return target_fail(t, "jail \"%.64s\": %s", t->jail, why);
	if (jailroot == NULL || *jailroot == '\0')
		return target_fail(t, "jail %s: disthost %s has no jailroot",
		    t->jail, t->host);
	if (strlen(jailroot) > MAX_PATH_LEN - 66)
		return target_fail(t, "jailroot: longer than 958 characters");
	strcpy(dir, jailroot);
	n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		dir[--n] = '\0';
	if ((why = path_problem(dir)) != NULL)
		return target_fail(t, "jailroot \"%.64s\": %s", jailroot, why);
	if ((t->root = malloc(n + strlen(t->jail) + 2)) == NULL)
		return target_fail(t, "out of memory");
	sprintf(t->root, "%s/%s", strcmp(dir, "/") ? dir : "", t->jail);
	return 0;
}

/* The record's algorithms, sorted (at most two: rsa and ec). */
static void
sorted_algos(json_t *rec, const char *algos[2])
{
	const char *algo, *tmp;
	json_t *v;

	algos[0] = algos[1] = NULL;
	json_object_foreach(json_object_get(rec, "cert"), algo, v) {
		if (algos[0] == NULL)
			algos[0] = algo;
		else if (algos[1] == NULL)
			algos[1] = algo;
	}
	if (algos[1] != NULL && strcmp(algos[0], algos[1]) > 0) {
		tmp = algos[0];
		algos[0] = algos[1];
		algos[1] = tmp;
	}
}

/* The DH parameters of the place's group as dhparam.pem beside the
 * certificate (cert_path), mode 0644. */
static int
dhparam(struct build *b)
{
	char *pem = pki_dh_params_pem(b->pl->dhparam, 0);

	if (pem == NULL)
		return target_fail(b->t, "place %s: dhparam %s: cannot be "
		    "made", b->t->place, b->pl->dhparam);
	return add_data(b, b->certdir, "dhparam.pem", pem, strlen(pem), 0,
	    "DHPARAM") == NULL ? -1 : 0;
}

/* What of place PL needs the key in the file with the certificate
 * ("format bundle", "cert_file_type combine key"), NULL if nothing. */
static const char *
keyed(const struct place *pl)
{
	if (pl->format == FMT_BUNDLE)
		return "format bundle";
	if (pl->format == FMT_P12)
		return "format p12";
	if (pl->format == FMT_PEM && strcmp(pl->type, "combine key") == 0)
		return "cert_file_type \"combine key\"";
	if (pl->format == FMT_PEM && strcmp(pl->type, "combine both") == 0)
		return "cert_file_type \"combine both\"";
	return NULL;
}

/* The files of the target by its place PL. */
static int
build(struct target *t, json_t *rec, const struct place *pl)
{
	struct build b;
	const char *algos[2], *name = pki_str(rec, "name"), *why = NULL;
	char *p;

	memset(&b, 0, sizeof(b));
	b.t = t;
	b.rec = rec;
	b.pl = pl;
	b.type = pki_str(rec, "subject_type") ? pki_str(rec, "subject_type") :
	    "server";
	if (name == NULL || pki_subject_check(b.type, name) != NULL ||
	    strlen(name) >= sizeof(b.base))
		return target_fail(t, "name: not a valid %s name", b.type);
	snprintf(b.base, sizeof(b.base), "%s", name);
	for (p = b.base; *p != '\0'; p++)
		if (*p == '*')
			*p = '_';	/* as pki export does */
	if (pl->cert_path == NULL ||
	    (why = expand_path(pl->cert_path, b.base, b.certdir)) != NULL)
		return target_fail(t, "place %s: cert_path \"%.64s\": %s",
		    t->place, pl->cert_path ? pl->cert_path : "",
		    pl->cert_path ? why : "missing");
	if (pl->key_path == NULL || *pl->key_path == '\0')
		strcpy(b.keydir, b.certdir);
	else if ((why = expand_path(pl->key_path, b.base, b.keydir)) != NULL)
		return target_fail(t, "place %s: key_path \"%.64s\": %s",
		    t->place, pl->key_path, why);
	sorted_algos(rec, algos);
	if (algos[0] == NULL)
		return target_fail(t, "no certificate");
	if ((b.keyless = pki_rec_keyless(rec)) && (why = keyed(pl)) != NULL)
		return target_fail(t, "place %s: %s needs the key, and the "
		    "key of %s is not pki's (its CSR was given)", t->place,
		    why, name);
	if (pl->dhparam != NULL && dhparam(&b) == -1)
		return -1;
	return layout(&b, algos);
}

/* The files and reload command of T by its place PJ; -1 if it failed. */
static int
plan_place(struct target *t, json_t *rec, json_t *pj)
{
	const char *cmd;
	struct place pl;
	int rc;

	if (!json_is_object(pj))
		return target_fail(t, "no place: nothing says where the files "
		    "go");
	if (t->place == NULL)
		return target_fail(t, "place without a name");
	if (t->kind == K_REDIS)
		return redis_plan(t, rec, pj);
	rc = place_read(t, pj, &pl) == -1 || build(t, rec, &pl) == -1;
	pki_wipe(pl.pass, sizeof(pl.pass));
	if (rc)
		return -1;
	cmd = pki_str(pj, "reload_command");
	if (cmd != NULL && *cmd != '\0' &&
	    (t->reload = sh_expand(cmd, t->jail)) == NULL)
		return target_fail(t, "out of memory");
	if (t->kind != K_HOOK)
		return 0;
	cmd = pki_str(pj, "hook_command");
	if (cmd == NULL || *cmd == '\0')
		return target_fail(t, "place %s: hook_command: missing (a hook "
		    "place runs a command)", t->place);
	if ((t->hook = strdup(cmd)) == NULL)
		return target_fail(t, "out of memory");
	return hook_plan(t, rec);
}

struct target *
target_plan(json_t *rec, json_t *tj, size_t index)
{
	json_t *pj = json_object_get(tj, "place");
	struct target *t;
	const char *why = NULL;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->rec = index;
	t->id = (long)json_integer_value(json_object_get(tj, "id"));
	t->reload_status = -1;
	t->hook_status = -1;
	if ((t->files = calloc(MAX_FILES, sizeof(*t->files))) == NULL ||
	    copy(&t->host, pki_str(tj, "disthost"), 1) == -1 ||
	    copy(&t->jail, pki_str(tj, "jail"), 0) == -1 ||
	    copy(&t->place, pki_str(pj, "name"), 0) == -1) {
		target_free(t);
		return NULL;
	}
	if (t->host == NULL || (why = pki_dns_name_check(t->host, 0)) != NULL)
		target_fail(t, "disthost \"%.64s\": %s", t->host ? t->host : "",
		    t->host ? why : "missing");
	else if ((int)(t->kind = place_kind(pj)) == -1)
		target_fail(t, "place %s: kind: not files, hook or redis",
		    t->place ? t->place : "-");
	else if (t->kind != K_FILES && t->jail != NULL)
		target_fail(t, "place %s: a %s place takes no jail", t->place,
		    t->kind == K_HOOK ? "hook" : "Redis");
	else if (set_root(t, pki_str(tj, "jailroot")) == 0)
		plan_place(t, rec, pj);
	return t;
}

void
dfile_clear(struct dfile *f)
{
	if (f->data != NULL && f->secret)
		pki_wipe(f->data, f->len);
	free(f->data);
	free(f->path);
	free(f->link);
	memset(f, 0, sizeof(*f));
}

void
target_free(struct target *t)
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; t->files != NULL && i < t->nfiles; i++)
		dfile_clear(&t->files[i]);
	free(t->files);
	free(t->host);
	free(t->jail);
	free(t->place);
	free(t->root);
	free(t->reload);
	free(t->vstore);
	free(t->version);
	free(t->drift);
	free(t->reload_stderr);
	hook_free(t);
	redis_free(t->redis);
	for (i = 0; t->keys != NULL && t->keys[i] != NULL; i++)
		free(t->keys[i]);
	free(t->keys);
	free(t);
}
