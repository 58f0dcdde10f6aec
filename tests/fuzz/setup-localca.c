/*
 * setup-localca.c - pki-localca signs with a CA of its own making:
 * "pki-localca --init" writes one to files in a temporary directory once
 * (its key encrypted with a passphrase from a file there), and every
 * input is then signed with it.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"

static char dir[] = "/tmp/pki-fuzz-ca.XXXXXX", cert[64], key[64], pass[64];

static void
cleanup(void)
{
	unlink(cert);
	unlink(key);
	unlink(pass);
	rmdir(dir);
}

int
fuzz_stage_setup(char ***args)
{
	static char *a[] = { "pki-localca", "--ca-cert", cert, "--ca-key",
	    key, "--passphrase-file", pass, NULL };
	char *init[] = { "pki-localca", "--init", "--algo", "ec",
	    "--ca-cert", cert, "--ca-key", key, "--passphrase-file", pass,
	    NULL };
	int fd;

	if (mkdtemp(dir) == NULL)
		return -1;
	atexit(cleanup);
	snprintf(cert, sizeof(cert), "%s/ca.pem", dir);
	snprintf(key, sizeof(key), "%s/ca.key", dir);
	snprintf(pass, sizeof(pass), "%s/pass", dir);
	if ((fd = open(pass, O_WRONLY | O_CREAT | O_EXCL, 0600)) == -1 ||
	    write(fd, "fuzz\n", 5) != 5 || close(fd) == -1)
		return -1;
	optind = 0;
	if (fuzz_main(10, init) != 0)
		return -1;
	*args = a;
	return 7;
}

size_t
fuzz_stage_input(const uint8_t *data, size_t size)
{
	(void)data;
	return size;
}
