/*
 * secret.c - wiping, and reading secrets (keys, passphrases) from files.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "pki.h"

/* Mode bits a secret file must not have; a shared one may be read by
 * its group. */
#define SECRET_OPEN_BITS (S_IRGRP | S_IWGRP | S_IROTH | S_IWOTH)
#define SHARED_OPEN_BITS (S_IWGRP | S_IROTH | S_IWOTH)

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

/* What a file of MODE is, for "not a regular file". */
static const char *
file_kind(mode_t mode)
{
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISSOCK(mode))
		return "a socket";
	if (S_ISCHR(mode) || S_ISBLK(mode))
		return "a device";
	return "not a regular file";
}

/*
 * Open FILE as a secret file of at most MAX bytes (see pki_read_secret());
 * its size into *SIZE.  The descriptor, or -1 with the reason in WHY.
 * O_NONBLOCK: opening a FIFO must not wait for a writer.
 */
static int
secret_open(const char *what, const char *file, mode_t refused, size_t max,
    size_t *size, char *why, size_t whylen)
{
	struct stat st;
	int fd;

	fd = open(file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1) {
		snprintf(why, whylen, "%s %s: %s", what, file, errno == ELOOP ?
		    "a symbolic link; give the file itself" : strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1)
		snprintf(why, whylen, "%s %s: %s", what, file, strerror(errno));
	else if (!S_ISREG(st.st_mode))
		snprintf(why, whylen, "%s %s: %s, not a regular file", what,
		    file, file_kind(st.st_mode));
	else if (st.st_mode & refused)
		snprintf(why, whylen, "%s %s: %s (mode %04o); chmod %s it",
		    what, file, refused & S_IRGRP ?
		    "group or others may read or write it" :
		    "others may read or write it, or group write it",
		    (unsigned)(st.st_mode & 07777),
		    refused & S_IRGRP ? "0600" : "0640");
	else if ((unsigned long long)st.st_size > max)
		snprintf(why, whylen, "%s %s: larger than %zu bytes", what,
		    file, max);
	else {
		*size = (size_t)st.st_size;
		return fd;
	}
	close(fd);
	return -1;
}

/*
 * Read SIZE bytes of FD into a new NUL-terminated buffer, its length into
 * *LEN; a file that grew meanwhile is refused.  NULL with the reason in
 * WHY; what was read is wiped.
 */
static char *
secret_slurp(int fd, const char *what, const char *file, size_t size,
    size_t *len, char *why, size_t whylen)
{
	char *buf, extra;
	ssize_t n = 1;

	*len = 0;
	if ((buf = malloc(size + 1)) == NULL) {
		snprintf(why, whylen, "%s %s: out of memory", what, file);
		return NULL;
	}
	while (n != 0) {
		if (*len < size)
			n = read(fd, buf + *len, size - *len);
		else if ((n = read(fd, &extra, 1)) > 0)
			break;
		if (n == -1 && errno != EINTR)
			break;
		if (n > 0)
			*len += (size_t)n;
	}
	buf[*len] = '\0';
	if (n == -1)
		snprintf(why, whylen, "%s %s: %s", what, file, strerror(errno));
	else if (n > 0)
		snprintf(why, whylen, "%s %s: changed while read", what, file);
	else if (*len == 0)
		snprintf(why, whylen, "%s %s: empty", what, file);
	else if (strlen(buf) != *len)
		snprintf(why, whylen, "%s %s: not text (a NUL byte)", what,
		    file);
	else
		return buf;
	pki_wipe(&extra, sizeof(extra));
	pki_wipe(buf, size + 1);
	free(buf);
	return NULL;
}

/* pki_read_secret() with the mode bits REFUSED. */
static char *
read_secret(const char *what, const char *file, mode_t refused, size_t max,
    size_t *len, char *why, size_t whylen)
{
	char msg[PATH_MAX + 256], *buf = NULL;
	size_t size = 0, got = 0;
	int fd;

	if (why == NULL) {
		why = msg;
		whylen = sizeof(msg);
	}
	if ((fd = secret_open(what, file, refused, max, &size, why,
	    whylen)) != -1) {
		buf = secret_slurp(fd, what, file, size, &got, why, whylen);
		close(fd);
	}
	if (buf == NULL && why == msg)
		pki_err("%s", msg);
	if (len != NULL)
		*len = got;
	return buf;
}

char *
pki_read_secret(const char *what, const char *file, size_t max, size_t *len,
    char *why, size_t whylen)
{
	return read_secret(what, file, SECRET_OPEN_BITS, max, len, why,
	    whylen);
}

char *
pki_read_shared_secret(const char *what, const char *file, size_t max,
    size_t *len, char *why, size_t whylen)
{
	return read_secret(what, file, SHARED_OPEN_BITS, max, len, why,
	    whylen);
}

int
pki_passphrase_from(const char *what, const char *file, char *buf,
    size_t size, char *why, size_t whylen)
{
	char msg[PATH_MAX + 256], *text;
	size_t len, line;
	int rc = -1;

	if (why == NULL) {
		why = msg;
		whylen = sizeof(msg);
	}
	pki_wipe(buf, size);
	/* One line: the passphrase and its newline ("\r\n" too). */
	if ((text = pki_read_secret(what, file, size + 1, &len, why,
	    whylen)) == NULL)
		goto out;
	line = strcspn(text, "\r\n");
	if (line >= size)
		snprintf(why, whylen, "%s %s: passphrase longer than %zu "
		    "bytes", what, file, size - 1);
	else if (line == 0)
		snprintf(why, whylen, "%s %s: empty passphrase", what, file);
	else {
		memcpy(buf, text, line);
		rc = 0;
	}
	pki_wipe(text, len);
	free(text);
out:
	if (rc == -1 && why == msg)
		pki_err("%s", msg);
	return rc;
}

int
pki_read_passphrase(const char *file, char *buf, size_t size)
{
	return pki_passphrase_from("passphrase file", file, buf, size, NULL,
	    0);
}
