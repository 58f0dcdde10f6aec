/*
 * secret.c - wiping, and reading passphrases from files.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "pki.h"

void
pki_wipe(void *p, size_t len)
{
	if (p != NULL && len > 0)
		OPENSSL_cleanse(p, len);
}

void
pki_free_secret(char *s)
{
	if (s == NULL)
		return;
	pki_wipe(s, strlen(s));
	free(s);
}

void
pki_json_wipe_string(json_t *s)
{
	if (json_is_string(s))
		pki_wipe((char *)json_string_value(s), json_string_length(s));
}

int
pki_read_passphrase(const char *file, char *buf, size_t size)
{
	struct stat st;
	ssize_t n;
	size_t len = 0;
	int fd, rc = -1;

	if ((fd = open(file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		pki_err("passphrase file %s: %s", file, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		pki_err("passphrase file %s: %s", file, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		pki_err("passphrase file %s: not a regular file", file);
		goto out;
	}
	if (st.st_mode & (S_IROTH | S_IWOTH)) {
		pki_err("passphrase file %s: others may read or write it "
		    "(mode %04o); chmod o-rw it", file,
		    (unsigned)(st.st_mode & 07777));
		goto out;
	}
	while (len < size) {
		n = read(fd, buf + len, size - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			pki_err("passphrase file %s: %s", file, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len < size ? len : size - 1] = '\0';
	len = strcspn(buf, "\r\n");
	if (len >= size - 1 && buf[len] == '\0') {
		pki_err("passphrase file %s: passphrase longer than %zu bytes",
		    file, size - 2);
		goto out;
	}
	pki_wipe(buf + len, size - len);	/* the rest of the file */
	if (len == 0) {
		pki_err("passphrase file %s: empty passphrase", file);
		goto out;
	}
	rc = 0;
out:
	if (rc == -1)
		pki_wipe(buf, size);
	close(fd);
	return rc;
}
