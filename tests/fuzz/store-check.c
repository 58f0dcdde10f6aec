/*
 * store-check.c - fuzz what pki-store believes of a record before it
 * asks the database anything (cmd/pki-store/check.c): certificates,
 * chains, dates, serials, hashes and names, as records on stdin.
 */
#include <stdlib.h>

#include "pki.h"
#include "fuzz.h"
#include "store.h"

static int
check(json_t *rec, void *ctx)
{
	struct seen seen;
	int rc;

	(void)ctx;
	rc = check_certs(rec, &seen);
	free(seen.names);
	return rc;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_records_init("fuzz-store-check");
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (fuzz_stdin(data, size) == -1)
		return 0;
	pki_filter(check, NULL);
	check_forget();
	return 0;
}
