/*
 * record.c - fuzz the record reader and writer (common/record.c): any
 * bytes as a stage's input, through the filter loop that passes every
 * record on, and through the gathering loop of the batch stages.
 */
#include <unistd.h>

#include "pki.h"
#include "fuzz.h"

static int
pass(json_t *rec, void *ctx)
{
	(void)rec;
	(void)ctx;
	return 0;
}

static int
hold_odd(json_t *rec, void *ctx)
{
	(void)ctx;
	return json_object_size(rec) % 2 ? PKI_HOLD : PKI_PASS;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_records_init("fuzz-record");
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *held;

	if (fuzz_stdin(data, size) == -1)
		return 0;
	pki_filter(pass, NULL);
	if (fuzz_stdin(data, size) == -1 || (held = json_array()) == NULL)
		return 0;
	pki_write_held(held, pki_gather(hold_odd, NULL, held));
	json_decref(held);
	pki_out_close();
	return 0;
}
