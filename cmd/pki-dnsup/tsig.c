/*
 * tsig.c - the TSIG key (RFC 8945): BIND's key file, and the resolver
 * that signs with it.
 *
 * The file is read as every secret file is (pki_read_secret()) and wiped
 * after parsing; messages name the file, the line and what was expected,
 * never a token of the file (it may be the secret).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "dnsup.h"

#define KEYFILE_MAX	16384

struct lexer {
	const char	*file;
	char		*why;		/* where a message goes */
	size_t		 whylen;
	const char	*p;		/* the next character */
	unsigned	 line;
	char		 tok[SECRET_LEN];	/* the last token; wiped */
};

enum token { T_ERROR, T_END, T_WORD, T_STRING, T_PUNCT };

/* Skip blanks and the comments BIND allows: #, // and C comments. */
static int
skip_space(struct lexer *lx)
{
	for (;;) {
		if (*lx->p == '\n')
			lx->line++;
		if (*lx->p == ' ' || *lx->p == '\t' || *lx->p == '\r' ||
		    *lx->p == '\n')
			lx->p++;
		else if (*lx->p == '#' || (lx->p[0] == '/' && lx->p[1] == '/'))
			lx->p += strcspn(lx->p, "\n");
		else if (lx->p[0] == '/' && lx->p[1] == '*') {
			for (lx->p += 2; *lx->p != '\0' && (lx->p[0] != '*' ||
			    lx->p[1] != '/'); lx->p++)
				lx->line += *lx->p == '\n';
			if (*lx->p == '\0')
				return -1;
			lx->p += 2;
		} else
			return 0;
	}
}

static int
word_char(int c)
{
	/* (strchr() finds the NUL too: the end of the text is no word) */
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (c != '\0' && strchr("._-+/=", c) !=
	    NULL);
}

/* The next token into LX->tok. */
static enum token
next(struct lexer *lx)
{
	enum token t;
	size_t n = 0;

	if (skip_space(lx) == -1)
		return T_ERROR;
	if (*lx->p == '\0')
		return T_END;
	if (strchr("{};", *lx->p) != NULL) {
		lx->tok[0] = *lx->p++;
		lx->tok[1] = '\0';
		return T_PUNCT;
	}
	t = *lx->p == '"' ? T_STRING : T_WORD;
	if (t == T_STRING)
		lx->p++;
	while (t == T_STRING ? *lx->p != '"' && *lx->p != '\0' &&
	    *lx->p != '\n' && *lx->p != '\\' : word_char(*lx->p)) {
		if (n + 1 >= sizeof(lx->tok))
			return T_ERROR;
		lx->tok[n++] = *lx->p++;
	}
	lx->tok[n] = '\0';
	if (t == T_STRING && *lx->p++ != '"')
		return T_ERROR;
	return n > 0 || t == T_STRING ? t : T_ERROR;
}

/* Report that WHAT was expected at LX's line; -1. */
static int
expected(const struct lexer *lx, const char *what)
{
	snprintf(lx->why, lx->whylen, "key file %s line %u: %s expected",
	    lx->file, lx->line, what);
	return -1;
}

/* The next token must be the punctuation C. */
static int
punct(struct lexer *lx, char c)
{
	char what[8];

	if (next(lx) == T_PUNCT && lx->tok[0] == c)
		return 0;
	snprintf(what, sizeof(what), "\"%c\"", c);
	return expected(lx, what);
}

/* The ldns name of the BIND algorithm NAME into KEY; -1 if unknown (or
 * one ldns 1.8 cannot sign with: hmac-sha224 and hmac-sha384). */
static int
algorithm(struct tsig_key *key, const char *name)
{
	static const char *const algs[][2] = {
		{ "hmac-md5", "hmac-md5.sig-alg.reg.int." },
		{ "hmac-sha1", "hmac-sha1." },
		{ "hmac-sha256", "hmac-sha256." },
		{ "hmac-sha512", "hmac-sha512." },
	};
	size_t i, len = strlen(name);

	if (len > 0 && name[len - 1] == '.')
		len--;
	for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		if (strlen(algs[i][0]) == len &&
		    strncasecmp(algs[i][0], name, len) == 0) {
			snprintf(key->algorithm, sizeof(key->algorithm), "%s",
			    algs[i][1]);
			return 0;
		}
	}
	return -1;
}

/* 0 if S is base64 of at least one byte. */
static int
base64_ok(const char *s)
{
	unsigned char buf[SECRET_LEN];
	size_t len = strlen(s);
	int n;

	if (len == 0 || len >= sizeof(buf) || len % 4 != 0)
		return -1;
	n = EVP_DecodeBlock(buf, (const unsigned char *)s, (int)len);
	pki_wipe(buf, sizeof(buf));
	return n > 0 ? 0 : -1;
}

/* The key's name: letters, digits, "-", "_" and dots between labels. */
static int
key_name(struct tsig_key *key, const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > 253 || name[0] == '.' || strstr(name, "..") ||
	    strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789-_.") != len)
		return -1;
	memcpy(key->name, name, len);
	if (name[len - 1] != '.')
		key->name[len++] = '.';	/* absolute */
	key->name[len] = '\0';
	return 0;
}

/* The clauses of the key statement, up to its "}". */
static int
clauses(struct lexer *lx, struct tsig_key *key)
{
	enum token t;
	int have_secret = 0;

	while ((t = next(lx)) == T_WORD) {
		if (strcmp(lx->tok, "algorithm") == 0) {
			t = next(lx);
			if ((t != T_WORD && t != T_STRING) ||
			    algorithm(key, lx->tok) == -1)
				return expected(lx, "algorithm hmac-md5, "
				    "hmac-sha1, hmac-sha256 or hmac-sha512");
		} else if (strcmp(lx->tok, "secret") == 0) {
			if (next(lx) != T_STRING || base64_ok(lx->tok) == -1)
				return expected(lx, "secret in base64, quoted,");
			memcpy(key->secret, lx->tok, sizeof(key->secret));
			have_secret = 1;
		} else
			return expected(lx, "\"algorithm\" or \"secret\"");
		if (punct(lx, ';') == -1)
			return -1;
	}
	if (t != T_PUNCT || lx->tok[0] != '}')
		return expected(lx, "\"}\"");
	if (!have_secret)
		return expected(lx, "a secret");
	return punct(lx, ';');
}

/* The one key statement of the file. */
static int
parse(struct lexer *lx, struct tsig_key *key)
{
	enum token t;

	if (next(lx) != T_WORD || strcmp(lx->tok, "key") != 0)
		return expected(lx, "key \"NAME\" { ... };");
	t = next(lx);
	if ((t != T_WORD && t != T_STRING) || key_name(key, lx->tok) == -1)
		return expected(lx, "a key name (letters, digits, \"-\", \"_\", "
		    "\".\")");
	if (punct(lx, '{') == -1 || clauses(lx, key) == -1)
		return -1;
	if ((t = next(lx)) == T_WORD && strcmp(lx->tok, "key") == 0) {
		snprintf(lx->why, lx->whylen, "key file %s line %u: a second "
		    "key; give a file with one", lx->file, lx->line);
		return -1;
	}
	return t == T_END ? 0 : expected(lx, "the end of the file");
}

int
tsig_load(struct tsig_key *key, const char *file, char *why, size_t whylen)
{
	struct lexer lx;
	char *text;
	int rc;

	memset(key, 0, sizeof(*key));
	memset(&lx, 0, sizeof(lx));
	snprintf(key->algorithm, sizeof(key->algorithm), "hmac-sha256.");
	if ((text = pki_read_secret("key file", file, KEYFILE_MAX, NULL, why,
	    whylen)) == NULL)
		return -1;
	lx.file = file;
	lx.why = why;
	lx.whylen = whylen;
	lx.p = text;
	lx.line = 1;
	rc = parse(&lx, key);
	pki_free_secret(text);
	pki_wipe(&lx, sizeof(lx));
	if (rc == -1)
		tsig_wipe(key);
	return rc;
}

void
tsig_wipe(struct tsig_key *key)
{
	pki_wipe(key, sizeof(*key));
}

void
tsig_apply(ldns_resolver *res, const struct tsig_key *key)
{
	ldns_resolver_set_tsig_keyname(res, key->name);
	ldns_resolver_set_tsig_algorithm(res, key->algorithm);
	ldns_resolver_set_tsig_keydata(res, key->secret);
}

void
tsig_resolver_free(ldns_resolver *res)
{
	const char *data;

	if (res == NULL)
		return;
	if ((data = ldns_resolver_tsig_keydata(res)) != NULL)
		pki_wipe((char *)data, strlen(data));
	ldns_resolver_deep_free(res);
}
