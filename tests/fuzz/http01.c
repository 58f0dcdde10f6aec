/*
 * http01.c - fuzz what the http-01 responder of pki-acme reads from the
 * network: any bytes as a request head.  Only a GET of a token it holds
 * is answered with that token's key authorization; the target aborts if
 * anything else is.
 */
#include <stdlib.h>
#include <string.h>

#include "pki.h"
#include "fuzz.h"
#include "acme.h"

static json_t *tokens;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	pki_init("fuzz-http01");
	tokens = json_pack("{s:s, s:s}", "tok-EN_0", "tok-EN_0.thumbprint",
	    "b", "b.thumbprint");
	return tokens == NULL ? -1 : 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *reason, *body, *token;
	char *head;
	int code;

	if ((head = fuzz_string(data, size)) == NULL)
		return 0;
	code = http01_reply(head, tokens, &reason, &body);
	if (code == 200) {
		/* The request line was cut at its first space: the token is
		 * what follows the last '/' of the path. */
		token = strrchr(head + 4, '/');
		if (strncmp(head, "GET", 4) != 0 || token == NULL ||
		    strcmp(body, pki_str(tokens, token + 1)) != 0)
			abort();
	} else if (reason == NULL || body == NULL || code == 0)
		abort();
	free(head);
	return 0;
}
