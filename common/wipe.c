/*
 * wipe.c - the allocator that wipes what it frees, for jansson and
 * OpenSSL.  jansson allocates every string of a record, OpenSSL every
 * buffer a key passes through while it is decoded, encoded or used
 * (OpenSSL 3.0 leaves a decoded EC key's private scalar in memory it
 * frees, two copies of it for a PEM key); with these wrappers neither
 * leaves a copy of a key, a passphrase or a TSIG or EAB secret behind
 * in freed memory (tests/wipe.t looks for them in a core dump).
 *
 * Each block carries its size in front, so that free can wipe it.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "pki.h"

#define HDR 16	/* keeps the block aligned as malloc's is */

static void *
wiping_malloc(size_t n)
{
	unsigned char *p;

	if (n > (size_t)-1 - HDR || (p = malloc(n + HDR)) == NULL)
		return NULL;
	memcpy(p, &n, sizeof(n));
	return p + HDR;
}

static void
wiping_free(void *q)
{
	unsigned char *p;
	size_t n;

	if (q == NULL)
		return;
	p = (unsigned char *)q - HDR;
	memcpy(&n, p, sizeof(n));
	pki_wipe(p, n + HDR);
	free(p);
}

/* realloc() as a new block, the old one wiped: realloc() itself could
 * leave the old contents behind when it moves them. */
static void *
wiping_realloc(void *q, size_t n)
{
	size_t old;
	void *r;

	if (q == NULL)
		return wiping_malloc(n);
	if (n == 0) {
		wiping_free(q);
		return NULL;
	}
	memcpy(&old, (unsigned char *)q - HDR, sizeof(old));
	if ((r = wiping_malloc(n)) == NULL)
		return NULL;
	memcpy(r, q, old < n ? old : n);
	wiping_free(q);
	return r;
}

/* OpenSSL's signatures: the file and line are for its debugging. */
static void *
ossl_malloc(size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	return wiping_malloc(n);
}

static void *
ossl_realloc(void *q, size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	return wiping_realloc(q, n);
}

static void
ossl_free(void *q, const char *file, int line)
{
	(void)file;
	(void)line;
	wiping_free(q);
}

void
pki_wiping_alloc(void)
{
	json_set_alloc_funcs(wiping_malloc, wiping_free);
	/* Refused once OpenSSL has allocated anything: pki_init() comes
	 * first in every program, and tests/wipe.t would see a failure. */
	(void)CRYPTO_set_mem_functions(ossl_malloc, ossl_realloc, ossl_free);
}
