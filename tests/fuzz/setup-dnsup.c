/*
 * setup-dnsup.c - pki-dnsup with one server for everything (the resolver,
 * the primary, the authoritative one), polling as the suite does, and a
 * TSIG key of its own in a temporary directory; what the servers answer
 * comes after the records (dns-net.c).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"

static char dir[] = "/tmp/pki-fuzz-dnsup.XXXXXX", key[64];

static void
cleanup(void)
{
	unlink(key);
	rmdir(dir);
}

int
fuzz_stage_setup(char ***args)
{
	static const char text[] = "key \"update-key\" {\n"
	    "\talgorithm hmac-sha256;\n"
	    "\tsecret \"ZnV6ei1vbmx5LW5vdC1hLXNlY3JldC1mdXp6LW9ubHk=\";\n};\n";
	static char *a[] = { "pki-dnsup", "--key-file", key, "--resolver",
	    "127.0.0.1", "--server", "127.0.0.1", "--ns", "127.0.0.1",
	    "--interval", "0.1", "--timeout", "5", NULL };
	int fd;

	if (mkdtemp(dir) == NULL)
		return -1;
	atexit(cleanup);
	snprintf(key, sizeof(key), "%s/update.key", dir);
	if ((fd = open(key, O_WRONLY | O_CREAT | O_EXCL, 0600)) == -1 ||
	    write(fd, text, sizeof(text) - 1) != (ssize_t)sizeof(text) - 1 ||
	    close(fd) == -1)
		return -1;
	*args = a;
	return 13;
}

size_t
fuzz_stage_input(const uint8_t *data, size_t size)
{
	return fuzz_split(data, size, fuzz_dns_messages);
}
