/*
 * deploy-quote.c - pki-deploy's shell quoting, alone: tests/deploy.t
 * builds it with cmd/pki-deploy/quote.c and checks that a shell reads
 * every quoted value back exactly.
 *
 *   deploy-quote VALUE        VALUE quoted for sh
 *   deploy-quote -e TEMPLATE VALUE   TEMPLATE with {} replaced
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deploy.h"

int
main(int argc, char *argv[])
{
	char *out;

	if (argc == 2)
		out = sh_quote(argv[1]);
	else if (argc == 4 && strcmp(argv[1], "-e") == 0)
		out = sh_expand(argv[2], argv[3]);
	else {
		fprintf(stderr, "usage: deploy-quote VALUE | -e TEMPLATE VALUE\n");
		return 2;
	}
	if (out == NULL)
		return 1;
	fputs(out, stdout);
	free(out);
	return 0;
}
