/*
 * conn.c - what pki-deploy does on a host, whatever reaches it (SSH or
 * the local file system): directories, files put by temporary name and
 * rename, and the comparison of what a host holds with what it should.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "deploy.h"

int
conn_error(struct conn *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	return -1;
}

static int
dir_known(struct conn *c, const char *dir)
{
	size_t i;

	for (i = 0; i < c->ndirs; i++)
		if (strcmp(c->dirs[i], dir) == 0)
			return 1;
	return 0;
}

static int
dir_remember(struct conn *c, const char *dir)
{
	char **dirs;

	if (c->ndirs == c->capdirs) {
		if ((dirs = realloc(c->dirs, (c->capdirs * 2 + 16) *
		    sizeof(*dirs))) == NULL)
			return conn_error(c, "out of memory");
		c->dirs = dirs;
		c->capdirs = c->capdirs * 2 + 16;
	}
	if ((c->dirs[c->ndirs] = strdup(dir)) == NULL)
		return conn_error(c, "out of memory");
	c->ndirs++;
	return 0;
}

/* The directory PATH (a prefix of the target directory) exists, or is
 * made; in a jail (JAIL set) it must not be a link. */
static int
one_dir(struct conn *c, const char *path, int jail)
{
	struct dstat st;

	if (dir_known(c, path))
		return 0;
	if (c->ops->lstat(c, path, &st) == -1)
		return -1;
	if (st.type == 0 && c->ops->mkdir(c, path, 0755) == -1)
		return -1;
	if (st.type == 'l' && jail)
		return conn_error(c, "%s: a symbolic link inside the jail "
		    "(refused: it could send the files anywhere)", path);
	if (st.type != 0 && st.type != 'd' && st.type != 'l')
		return conn_error(c, "%s: not a directory", path);
	return dir_remember(c, path);
}

int
conn_mkdirs(struct conn *c, const char *root, const char *dir)
{
	struct dstat st;
	char path[4096];
	size_t i, start;

	if (dir_known(c, dir))
		return 0;
	if (strlen(dir) >= sizeof(path))
		return conn_error(c, "%s: path too long", dir);
	if (root == NULL && c->ops->lstat(c, dir, &st) == 0 && st.type == 'd')
		return dir_remember(c, dir);	/* the usual case */
	if (root != NULL && !dir_known(c, root)) {
		if (c->ops->lstat(c, root, &st) == -1)
			return -1;
		if (st.type != 'd')
			return conn_error(c, "%s: the jail's root is %s", root,
			    st.type == 0 ? "missing" : "not a directory");
		if (dir_remember(c, root) == -1)
			return -1;
	}
	if (root != NULL && strcmp(dir, root) == 0)
		return 0;
	start = root != NULL ? strlen(root) : 0;
	strcpy(path, dir);
	for (i = start + 1; ; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		path[i] = '\0';
		if (one_dir(c, path, root != NULL) == -1)
			return -1;
		if (dir[i] == '\0')
			return 0;
		path[i] = '/';
	}
}

/* PATH's name in its directory with a dot before and SUFFIX after:
 * ".NAME.pki-new" is its temporary name (the same every run, so a run
 * that died leaves nothing the next one does not replace),
 * ".NAME.pki-reload" the marker of a reload that is due and
 * ".NAME.pki-hook" that of a hook. */
static int
aside(const char *path, const char *suffix, char *out, size_t size)
{
	const char *slash = strrchr(path, '/');
	int n;

	n = snprintf(out, size, "%.*s/.%s%s", (int)(slash - path), path,
	    slash + 1, suffix);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* Remove the temporary files of T's files 0 to N-1, keeping the error. */
static void
drop_temps(struct conn *c, struct target *t, size_t n)
{
	char tmp[4200], keep[DEPLOY_ERR_MAX];
	size_t i;

	if (c->dead)
		return;
	memcpy(keep, c->err, sizeof(keep));
	for (i = 0; i < n; i++)
		if (aside(t->files[i].path, ".pki-new", tmp, sizeof(tmp)) == 0)
			c->ops->unlink(c, tmp);
	memcpy(c->err, keep, sizeof(keep));
}

/* 1 if something is in the way at TMP (a run that died left it), else
 * 0; the error of the create that failed is kept either way. */
static int
in_the_way(struct conn *c, const char *tmp)
{
	char keep[DEPLOY_ERR_MAX];
	struct dstat st;
	int r;

	if (c->dead)
		return 0;
	memcpy(keep, c->err, sizeof(keep));
	r = c->ops->lstat(c, tmp, &st) == 0 && st.type != 0;
	memcpy(c->err, keep, sizeof(keep));
	return r;
}

/* Put file F of T by its temporary name; 0 / -1 (reason in c->err). */
static int
put_temp(struct conn *c, struct target *t, const struct dfile *f)
{
	char dir[4200], tmp[4200];
	const char *slash = strrchr(f->path, '/');
	int i;

	if (aside(f->path, ".pki-new", tmp, sizeof(tmp)) == -1)
		return conn_error(c, "%s: path too long", f->path);
	snprintf(dir, sizeof(dir), "%.*s", slash == f->path ? 1 :
	    (int)(slash - f->path), f->path);
	if (conn_mkdirs(c, t->root, dir) == -1)
		return -1;
	/* A second try only when a run that died left the temporary
	 * file: any other failure is reported as it is. */
	for (i = 0; i < 2; i++) {
		if ((f->link != NULL ? c->ops->symlink(c, f->link, tmp) :
		    c->ops->put(c, tmp, f)) == 0)
			return 0;
		if (i == 1 || !in_the_way(c, tmp) ||
		    c->ops->unlink(c, tmp) == -1)
			return -1;
	}
	return -1;
}

/* The marker SUFFIX of T's due reload or hook into OUT (beside its
 * first file). */
static int
marker(const struct target *t, const char *suffix, char *out, size_t size)
{
	if (t->nfiles == 0)
		return -1;
	return aside(t->files[0].path, suffix, out, size);
}

/* Leave the marker SUFFIX of T (one a run left is fine). */
static int
mark(struct conn *c, struct target *t, const char *suffix)
{
	struct dfile m = { .data = "", .mode = 0600, .uid = -1, .gid = -1 };
	struct dstat st;
	char path[4200];

	if (marker(t, suffix, path, sizeof(path)) == -1)
		return conn_error(c, "%s: path too long", t->files[0].path);
	if (c->ops->put(c, path, &m) == 0 || (!c->dead &&
	    c->ops->lstat(c, path, &st) == 0 && st.type == 'f'))
		return 0;
	return -1;
}

/* Remove T's marker SUFFIX. */
static int
unmark(struct conn *c, struct target *t, const char *suffix)
{
	char path[4200];

	if (t->nfiles == 0 || marker(t, suffix, path, sizeof(path)) == -1)
		return 0;
	return c->ops->unlink(c, path);
}

int
reload_done(struct conn *c, struct target *t)
{
	return unmark(c, t, ".pki-reload");
}

int
hook_done(struct conn *c, struct target *t)
{
	return unmark(c, t, ".pki-hook");
}

/* 1 in *DUE if T's marker SUFFIX is there; 0 / -1. */
static int
marked(struct conn *c, struct target *t, const char *suffix, int *due)
{
	struct dstat st;
	char path[4200];

	if (marker(t, suffix, path, sizeof(path)) == -1)
		return 0;
	if (c->ops->lstat(c, path, &st) == -1)
		return -1;
	*due = st.type != 0;
	return 0;
}

/* T's temporary names, one for each file, into *OUT (caller frees each
 * and the array); -1 if out of memory. */
static int
temp_names(struct target *t, char ***out)
{
	char tmp[4200], **names;
	size_t i;

	if ((names = calloc(t->nfiles + 1, sizeof(*names))) == NULL)
		return -1;
	for (i = 0; i < t->nfiles; i++)
		if (aside(t->files[i].path, ".pki-new", tmp, sizeof(tmp)) ==
		    -1 || (names[i] = strdup(tmp)) == NULL)
			break;
	*out = names;
	return i == t->nfiles ? 0 : -1;
}

static void
names_free(char **names)
{
	size_t i;

	for (i = 0; names != NULL && names[i] != NULL; i++)
		free(names[i]);
	free(names);
}

/* Every file of T by its temporary name, then the reload marker. */
static int
put_all(struct conn *c, struct target *t)
{
	size_t i;

	for (i = 0; i < t->nfiles; i++) {
		if (put_temp(c, t, &t->files[i]) == -1) {
			drop_temps(c, t, i + 1);
			return -1;
		}
	}
	if ((t->reload != NULL && mark(c, t, ".pki-reload") == -1) ||
	    (t->hook != NULL && mark(c, t, ".pki-hook") == -1)) {
		drop_temps(c, t, t->nfiles);
		return -1;
	}
	return 0;
}

int
conn_deploy(struct conn *c, struct target *t)
{
	char **tmps = NULL, **paths = NULL;
	size_t i;
	int rc = -1;

	if (atomic_retire(c, t) == -1 || temp_names(t, &tmps) == -1 ||
	    (paths = calloc(t->nfiles + 1, sizeof(*paths))) == NULL) {
		conn_error(c, "out of memory");
		goto out;
	}
	for (i = 0; i < t->nfiles; i++)
		paths[i] = t->files[i].path;
	/* Every file is on the host, synced: only now does any replace
	 * its old file, all of them back to back. */
	if (put_all(c, t) == -1)
		goto out;
	if (c->ops->renames(c, t->nfiles, tmps, paths) == -1) {
		drop_temps(c, t, t->nfiles);
		goto out;
	}
	t->written = 1;
	rc = 0;
out:
	if (rc == -1)
		snprintf(t->error, sizeof(t->error), "%s", c->err);
	names_free(tmps);
	free(paths);
	return rc;
}

/* Append "PATH: WHAT" to T's drift. */
static int
drift(struct target *t, const char *path, const char *what)
{
	size_t old = t->drift != NULL ? strlen(t->drift) : 0;
	size_t n = old + strlen(path) + strlen(what) + 5;
	char *d;

	if ((d = realloc(t->drift, n)) == NULL)
		return -1;
	snprintf(d + old, n - old, "%s%s: %s", old ? "; " : "", path, what);
	t->drift = d;
	return 0;
}

/* Compare the regular file F with what the host holds at its path. */
static int
check_file(struct conn *c, struct target *t, const struct dfile *f,
    const struct dstat *st)
{
	unsigned char md[32];
	char hex[65], *buf = NULL;
	size_t len = 0;

	if (c->ops->read(c, f->path, f->len + 1, &buf, &len) == -1)
		return -1;
	EVP_Digest(buf, len, md, NULL, EVP_sha256(), NULL);
	pki_hex(md, sizeof(md), hex);
	pki_wipe(buf, len);
	free(buf);
	if (strcmp(hex, f->sha256) != 0)
		return drift(t, f->path, "other contents");
	if (st->mode != f->mode)
		return drift(t, f->path, "other mode");
	if ((f->uid != -1 && st->uid != f->uid) ||
	    (f->gid != -1 && st->gid != f->gid))
		return drift(t, f->path, "other owner");
	return 0;
}

/* Compare F with what the host holds at its path (ST). */
static int
check_one(struct conn *c, struct target *t, const struct dfile *f,
    const struct dstat *st)
{
	char *link;
	int r;

	if (st->type == 0)
		return drift(t, f->path, "missing");
	if (f->link != NULL && st->type != 'l')
		return drift(t, f->path, "not a link");
	if (f->link != NULL) {
		if ((r = c->ops->readlink(c, f->path, &link)) == 0) {
			if (strcmp(link, f->link) != 0)
				r = drift(t, f->path, "links elsewhere");
			free(link);
		}
		return r;
	}
	if (st->type != 'f')
		return drift(t, f->path, "not a regular file");
	return check_file(c, t, f, st);
}

/* Remove the temporary files that a run which died left beside T's
 * files (when T has its files, no later run would replace them). */
static int
leftovers(struct conn *c, struct target *t)
{
	struct dstat st;
	char tmp[4200];
	size_t i;

	for (i = 0; i < t->nfiles; i++) {
		if (aside(t->files[i].path, ".pki-new", tmp, sizeof(tmp)) == -1)
			continue;
		if (c->ops->lstat(c, tmp, &st) == -1 ||
		    (st.type != 0 && c->ops->unlink(c, tmp) == -1))
			return -1;
	}
	return 0;
}

int
conn_check(struct conn *c, struct target *t, int all)
{
	struct dstat st;
	size_t i;
	int r = 0;

	for (i = 0; i < t->nfiles && r == 0; i++) {
		if (c->ops->lstat(c, t->files[i].path, &st) == -1)
			r = -1;
		else
			r = check_one(c, t, &t->files[i], &st);
		if (t->drift != NULL && !all)
			break;
	}
	if (r == 0 && t->drift == NULL)
		r = leftovers(c, t);
	if (r == 0 && t->drift == NULL && t->reload != NULL)
		r = marked(c, t, ".pki-reload", &t->reload_due);
	if (r == 0 && t->drift == NULL && t->hook != NULL)
		r = marked(c, t, ".pki-hook", &t->hook_due);
	if (r == -1)
		snprintf(t->error, sizeof(t->error), "%s", c->err[0] ? c->err :
		    "out of memory");
	return r;
}

void
conn_free(struct conn *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->ndirs; i++)
		free(c->dirs[i]);
	free(c->dirs);
	free(c);
}
