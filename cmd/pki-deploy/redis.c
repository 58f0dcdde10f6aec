/*
 * redis.c - Redis places: peter_sslers's "prime" layouts of a
 * certificate, for OpenResty's dynamic certificates, written with
 * hiredis.  prime_style 1:
 *
 *	d:NAME	hash {c: CID, p: PID, i: IID}, for every name
 *	cCID	the certificate (PEM)
 *	pPID	the private key (PEM)
 *	iIID	the chain (PEM)
 *
 * where the ids are the first 16 hex digits of the SHA-256 of the
 * certificate's DER, of its public key's DER (a key kept across renewals
 * keeps its id, and is shared) and of the chain, so that a key or a
 * chain two certificates share is stored once; prime_style 2:
 *
 *	NAME	hash {f: certificate + chain, p: the private key}
 *
 * Every key expires when the certificate does (EXPIREAT of its
 * notAfter); a key that two certificates share, at the later of their
 * ends.  A target's keys are written in one MULTI/EXEC, so a reader sees
 * all of them or none.  Nothing of a value is ever put into a message:
 * Redis's own errors are cut before any argument they might quote.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <hiredis/hiredis.h>
#include <openssl/evp.h>

#include "deploy.h"

#define RKEY_FIELDS	3

/* One Redis key: a string (nf 0, value[0]) or a hash of NF fields. */
struct rkey {
	char	*key;
	const char *field[RKEY_FIELDS];
	char	*value[RKEY_FIELDS];
	int	 secret[RKEY_FIELDS];	/* holds the key: wiped when freed */
	int	 nf;
	int	 shared;	/* stored once for all certificates that
				 * have it: its expiry only ever raised */
};

struct rplan {
	char	 host[256];
	int	 port, db;
	char	 user[128];	/* for AUTH, or "" */
	char	*auth_file;	/* the password's file, or NULL */
	long long expire;	/* the certificate's notAfter, Unix time */
	struct rkey *keys;
	size_t	 n, cap;
};

/* The number at S (after its first character, ':' or '/') in [MIN, MAX]
 * into *OUT and the end into *END; -1 if there is none. */
static int
number(const char *s, long min, long max, int *out, const char **end)
{
	char *e;
	long v = strtol(s + 1, &e, 10);

	if (e == s + 1 || v < min || v > max || !isdigit((unsigned char)s[1]))
		return -1;
	*out = (int)v;
	*end = e;
	return 0;
}

/* Parse URL (redis://[USER@]HOST[:PORT][/DB], "redis://" optional) into
 * R; NULL or why not. */
static const char *
parse_url(const char *url, struct rplan *r)
{
	const char *s = url, *at, *end;

	if (strncmp(s, "redis://", 8) == 0)
		s += 8;
	if ((at = strchr(s, '@')) != NULL) {
		if (memchr(s, ':', (size_t)(at - s)) != NULL)
			return "a password belongs in redis_auth_file";
		if (at == s || (size_t)(at - s) >= sizeof(r->user))
			return "a user name of 1 to 127 characters";
		snprintf(r->user, sizeof(r->user), "%.*s", (int)(at - s), s);
		s = at + 1;
	}
	if (*s == '[') {
		if ((end = strchr(s, ']')) == NULL)
			return "no \"]\" after the address";
		s++;
	} else
		end = s + strcspn(s, ":/");
	if (end == s || (size_t)(end - s) >= sizeof(r->host))
		return "no host";
	snprintf(r->host, sizeof(r->host), "%.*s", (int)(end - s), s);
	s = end + (*end == ']');
	if (*s == ':' && number(s, 1, 65535, &r->port, &s) == -1)
		return "the port is not 1 to 65535";
	if (*s == '/' && number(s, 0, 65535, &r->db, &s) == -1)
		return "the database is not a number from 0";
	return *s == '\0' ? NULL : "not redis://[USER@]HOST[:PORT][/DB]";
}

/* The first 16 hex digits (lower case) of the SHA-256 of LEN bytes of
 * BUF into OUT. */
static void
short_id(const void *buf, size_t len, char out[17])
{
	unsigned char md[32];
	char hex[65];
	int i;

	EVP_Digest(buf, len, md, NULL, EVP_sha256(), NULL);
	pki_hex(md, sizeof(md), hex);
	for (i = 0; i < 16; i++)
		out[i] = (char)(hex[i] >= 'A' ? hex[i] - 'A' + 'a' : hex[i]);
	out[16] = '\0';
}

/* A new key of R named PREFIX + NAME (shared or not); NULL if out of
 * memory. */
static struct rkey *
add_key(struct rplan *r, const char *prefix, const char *name, int shared)
{
	struct rkey *k, *keys;

	if (r->n == r->cap) {
		if ((keys = realloc(r->keys, (r->cap * 2 + 8) *
		    sizeof(*keys))) == NULL)
			return NULL;
		r->keys = keys;
		r->cap = r->cap * 2 + 8;
	}
	k = &r->keys[r->n];
	memset(k, 0, sizeof(*k));
	if (asprintf(&k->key, "%s%s", prefix, name) == -1)
		return NULL;
	r->n++;
	k->shared = shared;
	return k;
}

/* Set field (FIELD NULL: the string) of K to a copy of VALUE; -1 if out
 * of memory. */
static int
set(struct rkey *k, const char *field, const char *value, int secret)
{
	if (k == NULL || (k->value[k->nf] = strdup(value)) == NULL)
		return -1;
	k->field[k->nf] = field;
	k->secret[k->nf] = secret;
	if (field != NULL)
		k->nf++;
	return 0;
}

/* CERT with a newline at its end, then CHAIN (caller frees). */
static char *
fullchain(const char *cert, const char *chain)
{
	size_t n = strlen(cert);
	char *out;

	if (asprintf(&out, "%s%s%s", cert, n && cert[n - 1] != '\n' ? "\n" :
	    "", chain) == -1)
		return NULL;
	return out;
}

/* The keys of style 1 for NAMES; -1 if out of memory or the certificate
 * cannot be read. */
static int
style1(struct rplan *r, json_t *names, const char *cert, const char *chain,
    const char *key)
{
	const unsigned char *spki;
	unsigned char *der;
	char c[17], p[17], i[17];
	struct rkey *k;
	json_t *v;
	long len, spkilen;
	size_t n;
	int rc = 0;

	if ((der = pki_pem_der(cert, "CERTIFICATE", 0, &len)) == NULL ||
	    pki_der_spki(der, len, &spki, &spkilen) == -1) {
		OPENSSL_free(der);
		return -1;
	}
	short_id(der, (size_t)len, c);
	short_id(spki, (size_t)spkilen, p);
	short_id(chain, strlen(chain), i);
	OPENSSL_free(der);
	json_array_foreach(names, n, v) {
		k = add_key(r, "d:", json_string_value(v), 0);
		rc |= set(k, "c", c, 0) | set(k, "p", p, 0) | set(k, "i", i, 0);
	}
	rc |= set(add_key(r, "c", c, 1), NULL, cert, 0);
	rc |= set(add_key(r, "p", p, 1), NULL, key, 1);
	rc |= set(add_key(r, "i", i, 1), NULL, chain, 0);
	return rc != 0 ? -1 : 0;
}

/* The keys of style 2 for NAMES; -1 if out of memory. */
static int
style2(struct rplan *r, json_t *names, const char *cert, const char *chain,
    const char *key)
{
	char *full = fullchain(cert, chain);
	struct rkey *k;
	json_t *v;
	size_t n;
	int rc = full == NULL;

	json_array_foreach(names, n, v) {
		if (rc != 0)
			break;
		k = add_key(r, "", json_string_value(v), 0);
		rc |= set(k, "f", full, 0) | set(k, "p", key, 1);
	}
	free(full);
	return rc != 0 ? -1 : 0;
}

/* The certificate's notAfter as Unix time into *T; -1 if unreadable. */
static int
not_after(const char *pem, long long *t)
{
	X509 *x = pki_cert_from_pem(pem);
	struct tm tm;
	int rc = -1;

	if (x != NULL && ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) == 1) {
		*t = (long long)timegm(&tm);
		rc = 0;
	}
	X509_free(x);
	return rc;
}

/* The algorithm of REC whose certificate the place gets: the first of
 * "algos" that has one, else the first in alphabetical order. */
static const char *
pick_algo(json_t *rec)
{
	json_t *certs = json_object_get(rec, "cert"), *v;
	const char *algo, *first = NULL;
	size_t i;

	json_array_foreach(json_object_get(rec, "algos"), i, v)
		if (json_is_string(v) && json_object_get(certs,
		    json_string_value(v)) != NULL)
			return json_string_value(v);
	json_object_foreach(certs, algo, v)
		if (first == NULL || strcmp(algo, first) < 0)
			first = algo;
	return first;
}

/* The server of place PJ (its redis_url, else the disthost) and its AUTH
 * file into R; -1 (T failed) if not usable. */
static int
plan_server(struct target *t, json_t *pj, struct rplan *r)
{
	const char *url = pki_str(pj, "redis_url");
	const char *auth = pki_str(pj, "redis_auth_file"), *why;

	r->port = 6379;
	if (url == NULL)
		snprintf(r->host, sizeof(r->host), "%s", t->host);
	else if ((why = parse_url(url, r)) != NULL)
		return target_fail(t, "place %s: redis_url: %s", t->place, why);
	if (auth != NULL && (*auth != '/' || path_problem(auth) != NULL))
		return target_fail(t, "place %s: redis_auth_file: not an "
		    "absolute path", t->place);
	if (auth != NULL && (r->auth_file = strdup(auth)) == NULL)
		return target_fail(t, "out of memory");
	return 0;
}

int
redis_plan(struct target *t, json_t *rec, json_t *pj)
{
	json_t *style = json_object_get(pj, "redis_prime_style"), *names;
	const char *algo = pick_algo(rec), *cert, *chain, *key;
	json_t *entry = json_object_get(json_object_get(rec, "cert"), algo);
	int rc;

	if (!json_is_integer(style) || (json_integer_value(style) != 1 &&
	    json_integer_value(style) != 2))
		return target_fail(t, "place %s: redis_prime_style: not 1 or 2",
		    t->place);
	cert = pki_str(entry, "pem");
	chain = pki_str(entry, "chain");
	key = pki_str(json_object_get(rec, "key"), algo);
	if (cert == NULL || key == NULL)
		return target_fail(t, "%s: no %s", algo ? algo : "cert",
		    cert ? "key" : "certificate");
	if ((t->redis = calloc(1, sizeof(*t->redis))) == NULL)
		return target_fail(t, "out of memory");
	if (plan_server(t, pj, t->redis) == -1)
		return -1;
	if (not_after(cert, &t->redis->expire) == -1)
		return target_fail(t, "%s: the certificate's notAfter cannot "
		    "be read", algo);
	if ((names = pki_rec_names(rec)) == NULL)
		return target_fail(t, "names: not valid");
	rc = json_integer_value(style) == 1 ?
	    style1(t->redis, names, cert, chain ? chain : "", key) :
	    style2(t->redis, names, cert, chain ? chain : "", key);
	json_decref(names);
	return rc == -1 ? target_fail(t, "out of memory") : 0;
}

char *
redis_server(const struct target *t)
{
	const struct rplan *r = t->redis;
	char *s;

	if (asprintf(&s, "redis://%s%s%s%s%s:%d/%d%s%s", r->user, *r->user ?
	    "@" : "", strchr(r->host, ':') ? "[" : "", r->host,
	    strchr(r->host, ':') ? "]" : "", r->port, r->db, r->auth_file ?
	    " auth " : "", r->auth_file ? r->auth_file : "") == -1)
		return NULL;
	return s;
}

/* ------------------------------------------------------------ writing */

/* The text of Redis's error REPLY (or of C's) into WHY, cut before any
 * argument it might quote. */
static void
reply_error(const redisContext *c, const redisReply *reply, char *why,
    size_t len)
{
	const char *s = reply != NULL ? reply->str : c->errstr;
	size_t n = strcspn(s, "\n");
	const char *args = strstr(s, ", with args");

	if (args != NULL && (size_t)(args - s) < n)
		n = (size_t)(args - s);
	snprintf(why, len, "%.*s", (int)(n < 200 ? n : 200), s);
}

/* Send the command ARGV (ARGC words, LENS their lengths) and read its
 * reply: 0 if it is not an error, else -1 with the reason in WHY.  The
 * formatted command is wiped (it may hold a key). */
static int
command(redisContext *c, int argc, const char **argv, const size_t *lens,
    char *why, size_t len)
{
	redisReply *reply = NULL;
	char *cmd = NULL;
	int n, rc = -1;
	size_t i;

	if ((n = redisFormatCommandArgv(&cmd, argc, argv, lens)) < 0) {
		snprintf(why, len, "out of memory");
		return -1;
	}
	if (redisAppendFormattedCommand(c, cmd, (size_t)n) != REDIS_OK ||
	    redisGetReply(c, (void **)&reply) != REDIS_OK || reply == NULL)
		reply_error(c, NULL, why, len);
	else if (reply->type == REDIS_REPLY_ERROR)
		reply_error(c, reply, why, len);
	else if (reply->type == REDIS_REPLY_ARRAY) {
		rc = 0;		/* EXEC: every command's reply */
		for (i = 0; i < reply->elements && rc == 0; i++)
			if (reply->element[i]->type == REDIS_REPLY_ERROR) {
				reply_error(c, reply->element[i], why, len);
				rc = -1;
			}
	} else
		rc = 0;
	pki_wipe(cmd, (size_t)n);
	free(cmd);
	freeReplyObject(reply);
	return rc;
}

/* Run the command of the words of FMT (blank-separated; "%" takes the
 * next of ARGS, with its length from LENS, in order). */
static int
cmdv(redisContext *c, char *why, size_t len, const char *fmt,
    const char *const *args, const size_t *lens)
{
	const char *argv[8];
	size_t l[8];
	char words[64], *w, *save = NULL;
	int argc = 0, a = 0;

	snprintf(words, sizeof(words), "%s", fmt);
	for (w = strtok_r(words, " ", &save); w != NULL && argc < 8;
	    w = strtok_r(NULL, " ", &save), argc++) {
		if (strcmp(w, "%") == 0) {
			argv[argc] = args[a];
			l[argc] = lens[a++];
		} else {
			argv[argc] = fmt + (w - words);
			l[argc] = strlen(w);
		}
	}
	return command(c, argc, argv, l, why, len);
}

/* Queue the commands of key K (within MULTI), expiring at TS. */
static int
put_key(redisContext *c, const struct rkey *k, const char *ts, char *why,
    size_t len)
{
	const char *a[8] = { k->key };
	size_t l[8] = { strlen(k->key) };
	int i;

	if (k->nf == 0) {
		a[1] = k->value[0];
		l[1] = strlen(k->value[0]);
		a[2] = ts;
		l[2] = strlen(ts);
		if (!k->shared)
			return cmdv(c, why, len, "SET % % EXAT %", a, l);
		/* A new key gets the expiry, an old one keeps the later. */
		if (cmdv(c, why, len, "SET % % KEEPTTL", a, l) == -1)
			return -1;
		a[1] = ts;
		l[1] = strlen(ts);
		if (cmdv(c, why, len, "EXPIREAT % % NX", a, l) == -1)
			return -1;
		return cmdv(c, why, len, "EXPIREAT % % GT", a, l);
	}
	for (i = 0; i < k->nf; i++) {
		a[1 + 2 * i] = k->field[i];
		l[1 + 2 * i] = strlen(k->field[i]);
		a[2 + 2 * i] = k->value[i];
		l[2 + 2 * i] = strlen(k->value[i]);
	}
	if (cmdv(c, why, len, "DEL %", a, l) == -1 ||
	    cmdv(c, why, len, k->nf == 2 ? "HSET % % % % %" :
	    "HSET % % % % % % %", a, l) == -1)
		return -1;
	a[1] = ts;
	l[1] = strlen(ts);
	return cmdv(c, why, len, "EXPIREAT % %", a, l);
}

/* Every key of T in one MULTI/EXEC; 0 / -1 (T failed). */
static int
prime(redisContext *c, struct target *t)
{
	const struct rplan *r = t->redis;
	char why[256], ignored[128], ts[24];
	size_t i;

	snprintf(ts, sizeof(ts), "%lld", r->expire);
	if (cmdv(c, why, sizeof(why), "MULTI", NULL, NULL) == -1)
		return target_fail(t, "redis %s:%d: %s", r->host, r->port, why);
	for (i = 0; i < r->n; i++)
		if (put_key(c, &r->keys[i], ts, why, sizeof(why)) == -1)
			break;
	if (i < r->n) {
		cmdv(c, ignored, sizeof(ignored), "DISCARD", NULL, NULL);
		return target_fail(t, "redis %s:%d: %s: %s", r->host, r->port,
		    r->keys[i].key, why);
	}
	if (cmdv(c, why, sizeof(why), "EXEC", NULL, NULL) == -1)
		return target_fail(t, "redis %s:%d: %s", r->host, r->port, why);
	if ((t->keys = calloc(r->n + 1, sizeof(*t->keys))) == NULL)
		return target_fail(t, "out of memory");
	for (i = 0; i < r->n; i++)
		if ((t->keys[i] = strdup(r->keys[i].key)) == NULL)
			return target_fail(t, "out of memory");
	t->written = 1;
	t->state = T_OK;
	return 0;
}

/* Connect to R's server, AUTH and SELECT; NULL with the reason in WHY. */
static redisContext *
connect_server(const struct rplan *r, long timeout, char *why, size_t len)
{
	struct timeval tv = { timeout, 0 };
	char pass[PKI_PASS_MAX + 1], db[16], err[PATH_MAX + 256];
	const char *a[2];
	size_t l[2];
	redisContext *c;

	if ((c = redisConnectWithTimeout(r->host, r->port, tv)) == NULL) {
		snprintf(why, len, "out of memory");
		return NULL;
	}
	if (c->err || redisSetTimeout(c, tv) != REDIS_OK) {
		reply_error(c, NULL, why, len);
		goto fail;
	}
	if (r->auth_file != NULL) {
		if (pki_passphrase_from("redis_auth_file", r->auth_file, pass,
		    sizeof(pass), err, sizeof(err)) == -1) {
			snprintf(why, len, "%s", err);
			goto fail;
		}
		a[0] = *r->user ? r->user : pass;
		l[0] = strlen(a[0]);
		a[1] = pass;
		l[1] = strlen(pass);
		if (cmdv(c, why, len, *r->user ? "AUTH % %" : "AUTH %", a, l) ==
		    -1) {
			pki_wipe(pass, sizeof(pass));
			goto fail;
		}
		pki_wipe(pass, sizeof(pass));
	}
	snprintf(db, sizeof(db), "%d", r->db);
	a[0] = db;
	l[0] = strlen(db);
	if (cmdv(c, why, len, "SELECT %", a, l) == 0)
		return c;
fail:
	redisFree(c);
	return NULL;
}

void
redis_host(struct host *h, long timeout)
{
	const struct rplan *r = h->targets[0]->redis;
	char why[PATH_MAX + 300];
	redisContext *c;
	size_t i;

	c = connect_server(r, timeout, why, sizeof(why));
	for (i = 0; i < h->n; i++) {
		if (c == NULL || c->err)
			target_fail(h->targets[i], "redis %s:%d: %s", r->host,
			    r->port, c == NULL ? why : c->errstr);
		else if (prime(c, h->targets[i]) == 0)
			h->files += h->targets[i]->redis->n;
	}
	if (c != NULL)
		redisFree(c);
}

void
redis_free(struct rplan *r)
{
	size_t i;
	int j;

	if (r == NULL)
		return;
	for (i = 0; i < r->n; i++) {
		for (j = 0; j < RKEY_FIELDS; j++) {
			if (r->keys[i].value[j] != NULL && r->keys[i].secret[j])
				pki_free_secret(r->keys[i].value[j]);
			else
				free(r->keys[i].value[j]);
		}
		free(r->keys[i].key);
	}
	free(r->keys);
	free(r->auth_file);
	free(r);
}
