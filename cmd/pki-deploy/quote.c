/*
 * quote.c - values for a POSIX shell command line.
 *
 * A reload command is the administrator's text; only what pki puts into
 * it (the jail name for "{}") is quoted here.  A single-quoted word
 * stands for every character but the single quote itself, which becomes
 * '\'' (end the word, an escaped quote, start a new word).
 */
#include <stdlib.h>
#include <string.h>

#include "deploy.h"

char *
sh_quote(const char *s)
{
	size_t i, n = 2, len = strlen(s);
	char *q, *p;

	for (i = 0; i < len; i++)
		n += s[i] == '\'' ? 4 : 1;
	if ((q = malloc(n + 1)) == NULL)
		return NULL;
	p = q;
	*p++ = '\'';
	for (i = 0; i < len; i++) {
		if (s[i] == '\'') {
			memcpy(p, "'\\''", 4);
			p += 4;
		} else
			*p++ = s[i];
	}
	*p++ = '\'';
	*p = '\0';
	return q;
}

char *
sh_expand(const char *template, const char *value)
{
	const char *t, *hit;
	char *quoted, *out, *p;
	size_t n = 0, qlen;

	if ((quoted = sh_quote(value != NULL ? value : "")) == NULL)
		return NULL;
	qlen = strlen(quoted);
	for (t = template; (hit = strstr(t, "{}")) != NULL; t = hit + 2)
		n += (size_t)(hit - t) + qlen;
	n += strlen(t);
	if ((out = malloc(n + 1)) == NULL) {
		free(quoted);
		return NULL;
	}
	p = out;
	for (t = template; (hit = strstr(t, "{}")) != NULL; t = hit + 2) {
		memcpy(p, t, (size_t)(hit - t));
		p += hit - t;
		memcpy(p, quoted, qlen);
		p += qlen;
	}
	strcpy(p, t);
	free(quoted);
	return out;
}
