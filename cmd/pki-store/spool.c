/*
 * spool.c - the records pki-store could not store, kept for the next run.
 *
 * When the database cannot be reached, or is lost and cannot be reached
 * again, every record that has not been stored is appended, as it came,
 * to a file of the spool directory (--spool DIR): DIR is private (0700),
 * each file is private (0600: records hold keys), named after the time
 * and process, and locked while it is written.  The next pki-store with
 * the same --spool stores the records of every file it can lock before
 * its input, and removes a file once each of its records has an answer
 * (stored, or refused for a reason of its own).  Storing is idempotent
 * (record.c), so a file stored in part before the database went away
 * again is simply stored again.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store.h"

#define SYNC_EVERY	100	/* records between two fsync()s */

/* DIR made private if missing; it must be a directory that only its
 * owner may enter.  0 / -1 (reported). */
static int
spool_dir(const char *dir)
{
	struct stat st;

	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		pki_err("spool %s: %s", dir, strerror(errno));
		return -1;
	}
	if (lstat(dir, &st) == -1) {
		pki_err("spool %s: %s", dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		pki_err("spool %s: not a directory", dir);
		return -1;
	}
	if (st.st_mode & 077) {
		pki_err("spool %s: group or others may use it (mode %04o); "
		    "chmod 0700 it", dir, (unsigned)(st.st_mode & 07777));
		return -1;
	}
	return 0;
}

int
spool_open(struct spool *sp, const char *dir)
{
	memset(sp, 0, sizeof(*sp));
	sp->fd = -1;
	sp->dir = dir;
	return dir == NULL ? 0 : spool_dir(dir);
}

/*
 * A new spool file, locked, into SP->fd; 0 / -1 (WHY says why).  It is
 * made under a name spool_replay() passes over and gets its own name only
 * once locked: a replay that took it between the open and the lock would
 * find it empty and remove it, and what is written to it would be lost.
 */
static int
spool_create(struct spool *sp, char *why, size_t whylen)
{
	char stamp[32], tmp[sizeof(sp->path)];
	time_t now = time(NULL);
	struct tm tm;

	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", gmtime_r(&now, &tm));
	if ((size_t)snprintf(sp->path, sizeof(sp->path), "%s/%s-%ld.jsonl",
	    sp->dir, stamp, (long)getpid()) >= sizeof(sp->path) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s/.%s-%ld.new", sp->dir,
	    stamp, (long)getpid()) >= sizeof(tmp)) {
		snprintf(why, whylen, "spool %s: name too long", sp->dir);
		return -1;
	}
	sp->fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC | O_APPEND, 0600);
	if (sp->fd == -1 || flock(sp->fd, LOCK_EX) == -1 ||
	    rename(tmp, sp->path) == -1) {
		snprintf(why, whylen, "%s: %s", sp->fd == -1 ? tmp : sp->path,
		    strerror(errno));
		if (sp->fd != -1) {
			unlink(tmp);
			close(sp->fd);
		}
		sp->fd = -1;
		return -1;
	}
	return 0;
}

int
spool_add(struct spool *sp, const json_t *rec, char *why, size_t whylen)
{
	char *text;
	off_t end = -1;
	int rc;

	if (sp->dir == NULL) {
		snprintf(why, whylen, "no --spool to keep it in");
		return -1;
	}
	if (sp->fd == -1 && spool_create(sp, why, whylen) == -1)
		return -1;
	if ((text = pki_json_text(rec, JSON_COMPACT | JSON_ENCODE_ANY)) ==
	    NULL) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	/* A record is kept whole or not at all: one that does not fit
	 * (a full disk) is cut off again, so that the next run does not
	 * read half a record, nor the next record glued to it. */
	rc = (end = lseek(sp->fd, 0, SEEK_END)) == -1 ||
	    pki_write_all(sp->fd, text, strlen(text)) == -1 ||
	    pki_write_all(sp->fd, "\n", 1) == -1 ||
	    ((sp->count + 1) % SYNC_EVERY == 0 && fsync(sp->fd) == -1) ? -1 : 0;
	if (rc == -1) {
		snprintf(why, whylen, "%s: %s", sp->path, strerror(errno));
		if (end != -1 && ftruncate(sp->fd, end) == -1)
			pki_err("spool %s: %s", sp->path, strerror(errno));
	} else
		sp->count++;
	pki_free_secret(text);
	return rc;
}

int
spool_close(struct spool *sp)
{
	int rc = 0;

	if (sp->fd == -1)
		return 0;
	if (fsync(sp->fd) == -1 || pki_sync_dir(sp->path) == -1) {
		pki_err("spool %s: %s", sp->path, strerror(errno));
		rc = -1;
	}
	close(sp->fd);
	sp->fd = -1;
	if (rc == 0 && sp->count > 0)
		pki_warn("%zu record%s kept in %s for the next run", sp->count,
		    sp->count == 1 ? "" : "s", sp->path);
	return rc;
}

static int
by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int
is_spool_file(const struct dirent *d)
{
	size_t len = strlen(d->d_name);

	return d->d_name[0] != '.' && len > 6 &&
	    strcmp(d->d_name + len - 6, ".jsonl") == 0;
}

/* Open and lock spool file NAME of DIR for reading; -1 if another
 * pki-store has it or it cannot be opened (said). */
static int
spool_take(const char *dir, const char *name, char *path, size_t len)
{
	struct stat st;
	int fd;

	if ((size_t)snprintf(path, len, "%s/%s", dir, name) >= len) {
		pki_err("spool %s/%s: name too long, left alone", dir, name);
		return -1;
	}
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC |
	    O_NONBLOCK)) == -1) {
		if (errno != ENOENT)	/* else stored by another pki-store */
			pki_err("spool %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    (st.st_mode & 077) != 0) {
		pki_err("spool %s: not a private regular file, left alone",
		    path);
		close(fd);
		return -1;
	}
	/* Another pki-store is at it; or it was, and has stored and
	 * removed it since it was opened here. */
	if (flock(fd, LOCK_EX | LOCK_NB) == -1 || fstat(fd, &st) == -1 ||
	    st.st_nlink == 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int
spool_replay(struct spool *sp, int (*store)(int fd, void *ctx), void *ctx)
{
	struct dirent **names = NULL;
	char path[PATH_MAX];
	int i, n, fd, rc = 0;

	if (sp->dir == NULL)
		return 0;
	if ((n = scandir(sp->dir, &names, is_spool_file, by_name)) == -1) {
		pki_err("spool %s: %s", sp->dir, strerror(errno));
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (rc == 0 && (fd = spool_take(sp->dir, names[i]->d_name,
		    path, sizeof(path))) != -1) {
			pki_info("storing the records kept in %s", path);
			if ((rc = store(fd, ctx)) == 0 && unlink(path) == -1)
				pki_err("spool %s: %s", path, strerror(errno));
			close(fd);
		}
		free(names[i]);
	}
	free(names);
	return rc;
}
