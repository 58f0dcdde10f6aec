/*
 * atomic.c - the layout of an atomic place (Places.atomic): the files of
 * a certificate as one version, in a directory of their own, each file's
 * usual path a link into it through one link, "current", that a single
 * rename swaps.  A reader never finds a certificate beside a key that is
 * not its own, whenever the run is killed.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deploy.h"

/* One file of an atomic place: the path it had, and its link there. */
struct swap {
	char	*path;
	char	 link[PATH_MAX];
};

/* The path from the directory FROM to TO (both absolute, without "."
 * or ".." parts) as the contents of a relative link, into OUT; -1 if
 * it is too long. */
static int
relative(const char *from, const char *to, char *out, size_t size)
{
	size_t i, c = 0, ups = 0, n = 0;

	if (strcmp(from, "/") == 0)
		from = "";
	for (i = 0; from[i] != '\0' && from[i] == to[i]; i++)
		if (from[i] == '/')
			c = i;
	if (from[i] == '\0' && to[i] == '/')
		c = i;
	for (i = c; from[i] != '\0'; i++)
		if (from[i] == '/')
			ups++;
	for (i = 0; i < ups; i++, n += 3) {
		if (n + 3 >= size)
			return -1;
		memcpy(out + n, "../", 3);
	}
	return snprintf(out + n, size - n, "%s", to + c + 1) >=
	    (int)(size - n) ? -1 : 0;
}

/* PATH below the directory DIR (inside T's jail), or NULL. */
static const char *
below(const struct target *t, const char *dir, const char *path)
{
	char prefix[PATH_MAX];

	if (path_join(prefix, sizeof(prefix), t->root, dir, "") == -1 ||
	    strncmp(path, prefix, strlen(prefix)) != 0)
		return NULL;
	return path + strlen(prefix);
}

/* Move the file F of T into the version directory VDIR, with the same
 * name below it as below its own directory (CERTDIR or KEYDIR); its old
 * path and the contents of the link to it through CURRENT into SW.
 * 0 / -1. */
static int
into_version(struct target *t, const char *certdir, const char *keydir,
    struct dfile *f, const char *vdir, const char *current, struct swap *sw)
{
	const char *rel = below(t, certdir, f->path);
	char path[PATH_MAX], via[PATH_MAX], dir[PATH_MAX];

	if (rel == NULL)
		rel = below(t, keydir, f->path);
	snprintf(dir, sizeof(dir), "%.*s", (int)(strrchr(f->path, '/') -
	    f->path), f->path);
	if (rel == NULL || snprintf(path, sizeof(path), "%s/%s", vdir, rel) >=
	    (int)sizeof(path) || snprintf(via, sizeof(via), "%s/%s", current,
	    rel) >= (int)sizeof(via) || relative(dir, via, sw->link,
	    sizeof(sw->link)) == -1 || path_problem(path) != NULL)
		return target_fail(t, "%s: path too long or not acceptable",
		    f->path);
	sw->path = f->path;
	if ((f->path = strdup(path)) == NULL)
		return target_fail(t, "out of memory");
	return 0;
}

/* T's files, taken out: the regular ones back into T, the links into
 * LINKS (*NLINKS); -1 if out of memory. */
static int
take_files(struct target *t, struct dfile links[MAX_FILES], size_t *nlinks)
{
	struct dfile *old = t->files;
	size_t i, n = t->nfiles;

	if ((t->files = calloc(MAX_FILES, sizeof(*t->files))) == NULL) {
		t->files = old;
		return target_fail(t, "out of memory");
	}
	t->nfiles = *nlinks = 0;
	for (i = 0; i < n; i++)
		if (old[i].link == NULL)
			t->files[t->nfiles++] = old[i];
		else
			links[(*nlinks)++] = old[i];
	free(old);
	return 0;
}

int
atomic_version(struct target *t, const char *certdir, const char *keydir,
    const char *base, const char *version)
{
	struct dfile links[MAX_FILES];
	struct swap *sw = NULL;
	char store[PATH_MAX], vdir[PATH_MAX], cur[PATH_MAX], *p;
	char vstore[PATH_MAX];
	size_t i, nreg, nlinks = 0;
	int rc = 0;

	if (snprintf(store, sizeof(store), "%s/.pki-%s", strcmp(certdir,
	    "/") ? certdir : "", base) >= (int)sizeof(store) ||
	    path_join(vdir, sizeof(vdir), t->root, store, version) == -1 ||
	    path_join(cur, sizeof(cur), t->root, store, "current") == -1)
		return target_fail(t, "cert_path: too long");
	if (take_files(t, links, &nlinks) == -1 ||
	    (sw = calloc(MAX_FILES, sizeof(*sw))) == NULL) {
		for (i = 0; i < nlinks; i++)
			dfile_clear(&links[i]);
		return target_fail(t, "out of memory");
	}
	snprintf(vstore, sizeof(vstore), "%.*s", (int)(strrchr(cur, '/') -
	    cur), cur);	/* the directory of "current" */
	if ((t->vstore = strdup(vstore)) == NULL ||
	    (t->version = strdup(version)) == NULL)
		rc = target_fail(t, "out of memory");
	nreg = t->nfiles;
	for (i = 0; i < nreg && rc == 0; i++)
		rc = into_version(t, certdir, keydir, &t->files[i], vdir, cur,
		    &sw[i]);
	if (rc == 0)
		rc = (p = strdup(cur)) == NULL ?
		    target_fail(t, "out of memory") :
		    target_link(t, p, version);
	for (i = 0; i < nreg; i++) {	/* target_link() owns the path */
		if (rc == 0)
			rc = target_link(t, sw[i].path, sw[i].link);
		else
			free(sw[i].path);
		sw[i].path = NULL;
	}
	for (i = 0; i < nlinks; i++)
		if (rc == 0 && t->nfiles < MAX_FILES)
			t->files[t->nfiles++] = links[i];
		else {
			if (rc == 0)	/* never a link dropped unsaid */
				rc = target_fail(t, "more than %d files",
				    MAX_FILES);
			dfile_clear(&links[i]);
		}
	free(sw);
	return rc;
}

/* 1 if NAME, read from a link on the host, can be a version of ours:
 * one plain path component (never ".." or a path elsewhere). */
static int
version_name_ok(const char *name)
{
	size_t n = strspn(name, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-");

	return n > 0 && name[n] == '\0' && strcmp(name, ".") != 0 &&
	    strcmp(name, "..") != 0;
}

/* The version NAME's link in T's store read into *OUT (caller frees);
 * NULL when there is none, or it is not a version name. */
static void
read_version(struct conn *c, const struct target *t, const char *link,
    char **out)
{
	char path[PATH_MAX];

	*out = NULL;
	if (snprintf(path, sizeof(path), "%s/%s", t->vstore, link) >=
	    (int)sizeof(path) || c->ops->readlink(c, path, out) == -1) {
		if (!c->dead)
			c->err[0] = '\0';	/* none: the first version */
		return;
	}
	if (!version_name_ok(*out)) {
		free(*out);
		*out = NULL;
	}
}

/* Remove the version directory OLD of T: the files T writes in its own
 * version, as they would be named in OLD, then the directories they
 * are in; whatever else is there stays (so does the directory). */
static void
remove_version(struct conn *c, struct target *t, const char *old)
{
	char vdir[PATH_MAX], odir[PATH_MAX], path[PATH_MAX], *slash;
	struct dstat st;
	size_t i, vlen;

	if (snprintf(vdir, sizeof(vdir), "%s/%s/", t->vstore, t->version) >=
	    (int)sizeof(vdir) || snprintf(odir, sizeof(odir), "%s/%s",
	    t->vstore, old) >= (int)sizeof(odir) ||
	    c->ops->lstat(c, odir, &st) == -1 || st.type != 'd')
		goto out;	/* a link or a file is not a version */
	vlen = strlen(vdir);
	for (i = 0; i < t->nfiles; i++) {
		if (t->files[i].link != NULL ||
		    strncmp(t->files[i].path, vdir, vlen) != 0 ||
		    snprintf(path, sizeof(path), "%s/%s", odir,
		    t->files[i].path + vlen) >= (int)sizeof(path))
			continue;
		c->ops->unlink(c, path);
		while ((slash = strrchr(path, '/')) != NULL &&
		    slash > path + strlen(odir)) {
			*slash = '\0';
			if (c->ops->rmdir(c, path) == -1)
				break;
		}
	}
	c->ops->rmdir(c, odir);
out:
	if (!c->dead)
		c->err[0] = '\0';	/* what could not go stays, unsaid */
}

int
atomic_retire(struct conn *c, struct target *t)
{
	char *cur = NULL, *prev = NULL, *path = NULL;
	int rc = 0;

	if (t->vstore == NULL)
		return 0;
	read_version(c, t, "current", &cur);
	read_version(c, t, "previous", &prev);
	if (prev != NULL && strcmp(prev, t->version) != 0 &&
	    (cur == NULL || strcmp(prev, cur) != 0))
		remove_version(c, t, prev);
	if (cur != NULL && strcmp(cur, t->version) != 0) {
		if (asprintf(&path, "%s/previous", t->vstore) == -1)
			rc = conn_error(c, "out of memory");
		else if ((rc = target_link(t, path, cur)) == -1)
			conn_error(c, "%s", t->error);
	}
	free(cur);
	free(prev);
	return rc;
}
