/*
 * tsig-key.c - fuzz pki-dnsup's reader of BIND key files (the TSIG key,
 * cmd/pki-dnsup/tsig.c: a lexer of its own).  The input is written to a
 * file of mode 0600, as a key file must be, and loaded.  Whatever it
 * says of a file it refuses must not hold the secret.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pki.h"
#include "fuzz.h"
#include "dnsup.h"

static char dir[] = "/tmp/pki-fuzz-tsig.XXXXXX", file[64];

static void
cleanup(void)
{
	unlink(file);
	rmdir(dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	pki_init("fuzz-tsig-key");
	if (mkdtemp(dir) == NULL)
		return -1;
	atexit(cleanup);
	snprintf(file, sizeof(file), "%s/key", dir);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tsig_key key;
	char why[512];
	int fd;

	unlink(file);
	if ((fd = open(file, O_WRONLY | O_CREAT | O_EXCL, 0600)) == -1)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	close(fd);
	memset(&key, 0, sizeof(key));
	if (tsig_load(&key, file, why, sizeof(why)) == 0)
		tsig_wipe(&key);
	else if (strstr(why, file) == NULL)
		abort();	/* a message that does not name the file */
	return 0;
}
