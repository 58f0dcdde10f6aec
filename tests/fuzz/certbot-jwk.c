/*
 * certbot-jwk.c - fuzz what pki-import reads of certbot's account key
 * (accounts/.../private_key.json, a JWK: cmd/pki-import/jwk.c): any JSON
 * as the JWK; a key it accepts must be a private key whose public half is
 * the JWK's own.
 */
#include <stdlib.h>

#include <openssl/err.h>

#include "pki.h"
#include "fuzz.h"
#include "import.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	pki_init("fuzz-certbot-jwk");
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *why = NULL;
	EVP_PKEY *key;
	json_t *jwk;

	if ((jwk = json_loadb((const char *)data, size, 0, NULL)) == NULL)
		return 0;
	if ((key = jwk_private_key(jwk, &why)) != NULL) {
		if (pki_key_algo(key) == NULL)
			abort();	/* neither rsa nor ec */
		EVP_PKEY_free(key);
	} else if (why == NULL)
		abort();		/* refused without a reason */
	json_decref(jwk);
	ERR_clear_error();
	return 0;
}
