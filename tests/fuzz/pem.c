/*
 * pem.c - fuzz what pki reads of PEM and DER (common/crypto.c): keys
 * (clear and encrypted), certificates, chains, CSRs, the PEM blocks it
 * takes apart by hand and the DER walk to a certificate's public key.
 * The input is one string of PEM; its bytes are also tried as DER.
 */
#include <stdlib.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "pki.h"
#include "fuzz.h"

static void
certs(const char *pem)
{
	STACK_OF(X509) *sk;
	json_t *j;
	int i;

	if ((sk = pki_certs_from_pem(pem)) == NULL)
		return;
	for (i = 0; i < sk_X509_num(sk); i++)
		if ((j = pki_cert_json(sk_X509_value(sk, i), pem)) != NULL)
			json_decref(j);
	sk_X509_pop_free(sk, X509_free);
}

static void
spki(const unsigned char *der, long len, EVP_PKEY *key)
{
	const unsigned char *s;
	long slen;

	if (pki_der_spki(der, len, &s, &slen) == 0 && key != NULL)
		(void)pki_key_matches_spki(key, s, slen);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	pki_init("fuzz-pem");
	pki_verbosity = 0;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *why;
	unsigned char *der;
	EVP_PKEY *key;
	X509_REQ *req;
	X509 *cert;
	char *pem;
	long len;

	if ((pem = fuzz_string(data, size)) == NULL)
		return 0;
	key = pki_key_from_pem(pem, pki_pem_is_encrypted(pem) ? "fuzz" : NULL,
	    &why);
	if ((cert = pki_cert_from_pem(pem)) != NULL)
		X509_free(cert);
	if ((req = pki_csr_from_pem(pem)) != NULL)
		X509_REQ_free(req);
	certs(pem);
	if ((der = pki_pem_der(pem, "CERTIFICATE", 1, &len)) != NULL) {
		spki(der, len, key);
		OPENSSL_free(der);
	}
	spki(data, (long)size, key);
	EVP_PKEY_free(key);
	free(pem);
	ERR_clear_error();
	return 0;
}
