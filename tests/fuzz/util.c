/*
 * util.c - what the fuzz targets share: input as stdin or as a string.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pki.h"
#include "fuzz.h"

int
fuzz_stdin(const uint8_t *data, size_t size)
{
	size_t off = 0;
	ssize_t n;
	int fd;

	if ((fd = memfd_create("fuzz-input", 0)) == -1)
		return -1;
	while (off < size) {
		if ((n = write(fd, data + off, size - off)) <= 0) {
			close(fd);
			return -1;
		}
		off += (size_t)n;
	}
	if (lseek(fd, 0, SEEK_SET) == -1 || dup2(fd, STDIN_FILENO) == -1) {
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

void
fuzz_quiet_stdout(void)
{
	int fd;

	if ((fd = open("/dev/null", O_WRONLY)) != -1) {
		dup2(fd, STDOUT_FILENO);
		close(fd);
	}
}

void
fuzz_records_init(const char *name)
{
	pki_init(name);
	pki_verbosity = 0;
	fuzz_quiet_stdout();
}

char *
fuzz_string(const uint8_t *data, size_t size)
{
	char *s;

	if ((s = malloc(size + 1)) == NULL)
		return NULL;
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

size_t
fuzz_split(const uint8_t *data, size_t size,
    void (*servers)(const uint8_t *, size_t))
{
	const uint8_t *sep;

	if ((sep = memmem(data, size, "\n%%\n", 4)) == NULL) {
		servers(NULL, 0);
		return size;
	}
	servers(sep + 4, size - (size_t)(sep + 4 - data));
	return (size_t)(sep - data) + 1;
}
