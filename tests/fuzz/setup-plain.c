/*
 * setup-plain.c - a stage target whose program needs nothing set up:
 * it runs as FUZZ_PROG with no argument.
 */
#include "fuzz.h"

int
fuzz_stage_setup(char ***args)
{
	static char *a[] = { FUZZ_PROG, NULL };

	*args = a;
	return 1;
}

size_t
fuzz_stage_input(const uint8_t *data, size_t size)
{
	(void)data;
	return size;
}
