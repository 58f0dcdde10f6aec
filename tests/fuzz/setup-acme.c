/*
 * setup-acme.c - pki-acme FUZZ_ACME (order or finish) with an account of
 * its own: a new key and a JSON account file in a temporary directory,
 * the webroot of http-01 there too; what the CA answers comes after the
 * records (acme-net.c).
 */
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pki.h"
#include "fuzz.h"
#include "acme.h"

#define DIRECTORY	"https://ca.test/dir"

static char dir[] = "/tmp/pki-fuzz-acme.XXXXXX", account[64], root[64];

static int
rm(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st, (void)ftw;
	return type == FTW_DP ? rmdir(path) : unlink(path);
}

/* The directory and what the webroot holds by now. */
static void
cleanup(void)
{
	nftw(dir, rm, 8, FTW_DEPTH | FTW_PHYS);
}

/* The account file: a new EC key, an account URL, the directory. */
static int
write_account(void)
{
	EVP_PKEY *key;
	json_t *j;
	char *pem, *text = NULL;
	int fd, rc = -1;

	if ((key = jws_keygen("ec")) == NULL ||
	    (pem = pki_key_to_pem(key, NULL)) == NULL) {
		EVP_PKEY_free(key);
		return -1;
	}
	j = json_pack("{s:s, s:s, s:s, s:s}", "key", pem, "url",
	    "https://ca.test/acct/1", "directory", DIRECTORY, "status",
	    "valid");
	pki_free_secret(pem);
	EVP_PKEY_free(key);
	if (j != NULL && (text = pki_json_text(j, JSON_COMPACT)) != NULL &&
	    (fd = open(account, O_WRONLY | O_CREAT | O_EXCL, 0600)) != -1) {
		if (write(fd, text, strlen(text)) == (ssize_t)strlen(text))
			rc = 0;
		if (close(fd) == -1)
			rc = -1;
	}
	pki_free_secret(text);
	json_decref(j);
	return rc;
}

int
fuzz_stage_setup(char ***args)
{
	static char *order[] = { "pki-acme", "order", "--account", account,
	    "--directory", DIRECTORY, "--timeout", "30", NULL };
	static char *finish[] = { "pki-acme", "finish", "--account", account,
	    "--directory", DIRECTORY, "--http-root", root, "--timeout", "30",
	    NULL };

	if (mkdtemp(dir) == NULL)
		return -1;
	atexit(cleanup);
	snprintf(account, sizeof(account), "%s/account.json", dir);
	snprintf(root, sizeof(root), "%s/www", dir);
	pki_init("fuzz-acme");
	if (write_account() == -1)
		return -1;
	if (strcmp(FUZZ_ACME, "order") == 0) {
		*args = order;
		return 8;
	}
	*args = finish;
	return 10;
}

size_t
fuzz_stage_input(const uint8_t *data, size_t size)
{
	return fuzz_split(data, size, fuzz_acme_responses);
}
