/*
 * path.c - the checks of every value from the database that reaches a
 * path on a host: absolute, no "." or ".." parts, no empty parts, no
 * control characters, not too long; jail names plain; and the joining of
 * paths.  Anything else in a path (blanks, quotes, "$(", ";") is only a
 * character of a file name: SFTP and the file system calls run no shell.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "deploy.h"

const char *
path_problem(const char *path)
{
	const char *p, *part;
	size_t len;

	if (path == NULL || *path == '\0')
		return "empty";
	if (*path != '/')
		return "not absolute";
	if (strlen(path) > MAX_PATH_LEN)
		return "longer than 1024 characters";
	for (p = path; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return "a control character";
	for (part = path + 1;; part = p + 1) {
		p = strchr(part, '/');
		len = p != NULL ? (size_t)(p - part) : strlen(part);
		if (len == 0 && (p != NULL || part != path + 1))
			return "an empty part (\"//\")";
		if ((len == 1 && part[0] == '.') ||
		    (len == 2 && part[0] == '.' && part[1] == '.'))
			return "a \".\" or \"..\" part";
		if (p == NULL)
			return NULL;
	}
}

const char *
jail_problem(const char *name)
{
	size_t i, len = strlen(name);

	if (len == 0 || len > 64)
		return "not 1 to 64 characters";
	if (!isalnum((unsigned char)name[0]))
		return "does not start with a letter or digit";
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)name[i]) &&
		    strchr("._-", name[i]) == NULL)
			return "a character other than letter, digit, dot, "
			    "underscore or hyphen";
	if (strstr(name, "..") != NULL)
		return "contains \"..\"";
	return NULL;
}

const char *
expand_path(const char *template, const char *name, char *out)
{
	const char *t = template, *hit;
	size_t n = 0, len;

	while ((hit = strstr(t, "{}")) != NULL) {
		len = (size_t)(hit - t);
		if (n + len + strlen(name) > MAX_PATH_LEN)
			return "longer than 1024 characters";
		memcpy(out + n, t, len);
		memcpy(out + n + len, name, strlen(name));
		n += len + strlen(name);
		t = hit + 2;
	}
	if (n + strlen(t) > MAX_PATH_LEN)
		return "longer than 1024 characters";
	strcpy(out + n, t);
	n = strlen(out);
	while (n > 1 && out[n - 1] == '/')
		out[--n] = '\0';
	return path_problem(out);
}

int
path_join(char *out, size_t size, const char *root, const char *dir,
    const char *name)
{
	int n;

	n = snprintf(out, size, "%s%s/%s", root != NULL ? root : "",
	    strcmp(dir, "/") == 0 ? "" : dir, name);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}
