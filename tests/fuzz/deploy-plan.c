/*
 * deploy-plan.c - fuzz what pki-deploy makes of a record before it
 * touches a host (cmd/pki-deploy/check.c, files.c, place.c, path.c,
 * format.c): the certificates and keys checked, and each target planned
 * from its place, jail and host - paths, names, modes, owners, formats,
 * hook and Redis places.  Nothing is written and no host is reached.
 */
#include <stdlib.h>

#include "pki.h"
#include "fuzz.h"
#include "deploy.h"

static int
plan(json_t *rec, void *ctx)
{
	json_t *tj;
	size_t i;

	(void)ctx;
	if (check_record(rec, !pki_rec_keyless(rec)) == -1)
		return -1;
	json_array_foreach(json_object_get(rec, "targets"), i, tj)
		target_free(target_plan(rec, tj, 0));
	return 0;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_records_init("fuzz-deploy-plan");
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (fuzz_stdin(data, size) == -1)
		return 0;
	pki_filter(plan, NULL);
	return 0;
}
