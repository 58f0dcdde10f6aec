/*
 * acme-headers.c - fuzz what pki-acme reads of a CA's response headers
 * (cmd/pki-acme/http.c): Replay-Nonce, Content-Type, Location resolved
 * against the URL asked, Link rel="alternate" and rel="next" lists.  Each
 * line of the input is one header as libcurl hands it over.
 */
#include <stdlib.h>
#include <string.h>

#include "pki.h"
#include "fuzz.h"
#include "acme.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	pki_init("fuzz-acme-headers");
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size, *nl;
	struct resp r;

	memset(&r, 0, sizeof(r));
	if ((r.url = strdup("https://ca.test/acme/order/1?x=y")) == NULL)
		return 0;
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		/* the line with its newline, as libcurl passes it */
		if (resp_header(&r, p, nl != NULL ? (size_t)(nl - p) + 1 :
		    (size_t)(end - p)) == -1)
			break;
		p = nl != NULL ? nl + 1 : end;
	}
	resp_free(&r);
	return 0;
}
