/*
 * stage.c - fuzz one stage, fed one input as its standard input: the
 * program's own main() (built into the target as fuzz_main()) with the
 * arguments FUZZ_ARGS, so that every record goes the way it goes in a
 * pipeline: the reader, the stage's per-record work, the writer.  The
 * Makefile builds one target per stage that needs no server.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pki.h"
#include "fuzz.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (getenv("FUZZ_SHOW") == NULL)	/* FUZZ_SHOW=1: see the records */
		fuzz_quiet_stdout();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char **args;
	static int nargs = -1;
	char *argv[16];
	int i;

	if (nargs == -1 && (nargs = fuzz_stage_setup(&args)) == -1)
		abort();
	for (i = 0; i < nargs && i < 15; i++)
		argv[i] = args[i];
	argv[i] = NULL;
	if (fuzz_stdin(data, fuzz_stage_input(data, size)) == -1)
		return 0;
	optind = 0;		/* getopt_long() starts over */
	pki_verbosity = 0;
	fuzz_main(i, argv);
	return 0;
}
