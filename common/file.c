/*
 * file.c - atomic file replacement and bounded file reading.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


#include "pki.h"

int
pki_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
pki_sync_dir(const char *path)
{
	char copy[PATH_MAX];
	int fd, rc;

	if (strlen(path) >= sizeof(copy))
		return -1;
	strcpy(copy, path);
	if ((fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* The temporary name of PATH: ".NAME.pki-tmp" in its directory.  A fixed
 * name, so that what a killed run left is replaced by the next run rather
 * than piling up. */
static int
temp_name(const char *path, char *tmp, size_t size)
{
	const char *base = strrchr(path, '/');
	int n;

	base = base != NULL ? base + 1 : path;
	n = snprintf(tmp, size, "%.*s.%s.pki-tmp", (int)(base - path), path,
	    base);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* Create TMP exclusively with MODE, replacing a leftover of a killed run
 * once; the descriptor or -1 (errno set). */
static int
create_temp(const char *tmp, mode_t mode)
{
	int fd, flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;

	fd = open(tmp, flags, mode);
	if (fd == -1 && errno == EEXIST && unlink(tmp) == 0)
		fd = open(tmp, flags, mode);
	return fd;
}

int
pki_write_file(const char *path, const void *buf, size_t len, mode_t mode)
{
	char tmp[PATH_MAX];
	int fd;

	if (temp_name(path, tmp, sizeof(tmp)) == -1) {
		pki_err("%s: path too long", path);
		return -1;
	}
	if ((fd = create_temp(tmp, mode)) == -1) {
		pki_err("%s: %s", tmp, strerror(errno));
		return -1;
	}
	/* O_CREAT narrowed MODE by the umask: set exactly what was asked. */
	if (fchmod(fd, mode) == -1 || pki_write_all(fd, buf, len) == -1 ||
	    fsync(fd) == -1) {
		pki_err("%s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		return -1;
	}
	if (close(fd) == -1 || rename(tmp, path) == -1) {
		pki_err("%s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	if (pki_sync_dir(path) == -1)
		pki_warn("%s: cannot sync its directory: %s", path,
		    strerror(errno));
	return 0;
}

char *
pki_read_file(const char *path, size_t max)
{
	struct stat st;
	char *buf = NULL;
	ssize_t n;
	size_t len = 0;
	int fd;

	/* O_NONBLOCK: a FIFO is refused below, not waited on. */
	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) == -1) {
		pki_err("%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		pki_err("%s: not a regular file", path);
		goto fail;
	}
	if ((size_t)st.st_size > max) {
		pki_err("%s: larger than %zu bytes", path, max);
		goto fail;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		pki_err("out of memory");
		goto fail;
	}
	while (len < (size_t)st.st_size) {
		n = read(fd, buf + len, (size_t)st.st_size - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			pki_err("%s: %s", path, n == 0 ? "file shrank" :
			    strerror(errno));
			goto fail;
		}
		len += (size_t)n;
	}
	buf[len] = '\0';
	close(fd);
	return buf;
fail:
	if (buf != NULL)
		pki_wipe(buf, len);
	free(buf);
	close(fd);
	return NULL;
}
