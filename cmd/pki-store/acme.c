/*
 * acme.c - what pki-store does with the records of pki-acme: accounts and
 * revocations.  (Being written with pki-acme; until then no record is
 * one of these.)
 */
#include "store.h"

int
store_acme(struct store *st, json_t *rec, struct outcome *out)
{
	(void)st;
	(void)rec;
	(void)out;
	return 1;
}
