/*
 * session.c - the sessions of the filters (order, finish, revoke), one
 * per ACME directory: each record goes to its own CA with that CA's
 * account.  A certificate names its CA in "acme_directory" (pki cert
 * add --acme-server, pki import certbot); one that names none goes to
 * --directory (PKI_ACME_DIRECTORY).  So one process serves a batch of
 * certificates of several CAs, one session each, set up when the first
 * record of that CA needs it; a CA whose account or directory cannot be
 * had fails its own records, and the others go on.
 *
 * A session re-registers its account when the CA has forgotten it
 * (account_relogin()); the filter then writes the account record
 * ({"action": "register", "account": {..., "replaces": OLD}}) before
 * the records that follow, and pki-store stores the new URL as pki
 * register's.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acme.h"

const char *
rec_directory(const struct opts *o, const json_t *rec)
{
	const char *dir = pki_str(rec, "acme_directory");

	return dir != NULL && *dir != '\0' ? dir : o->directory;
}

/* 1 if S is the session of DIRECTORY (NULL: any). */
static int
is_of(const struct session *s, const char *directory)
{
	if (s->directory == NULL || directory == NULL)
		return s->directory == directory;
	return strcmp(s->directory, directory) == 0;
}

/* A new session of DIRECTORY with its account and CA, or NULL (memory:
 * reported).  One that cannot be set up is kept, failed, with why. */
static struct session *
session_new(struct sessions *ss, const char *directory)
{
	struct session *s, **v;

	if ((v = reallocarray(ss->v, ss->n + 1, sizeof(*v))) == NULL ||
	    (s = calloc(1, sizeof(*s))) == NULL) {
		if (v != NULL)
			ss->v = v;
		pki_err("out of memory");
		return NULL;
	}
	ss->v = v;
	ss->v[ss->n++] = s;
	if (directory != NULL && (s->directory = xstrdup(directory)) == NULL) {
		s->failed = 1;
		snprintf(s->why, sizeof(s->why), "out of memory");
		return s;
	}
	if (account_load(ss->o, directory, &s->acct) == -1) {
		s->failed = 1;
		snprintf(s->why, sizeof(s->why), "%s", s->acct.why);
	} else if (account_session(ss->o, &s->acct, &s->a) == -1) {
		s->failed = 1;
		snprintf(s->why, sizeof(s->why), "cannot reach the ACME CA: "
		    "%.600s", s->a.why);
	} else {
		s->a.relogin = account_relogin;
		s->a.relogin_ctx = &s->acct;
	}
	return s;
}

struct session *
session_for(struct sessions *ss, const char *directory, json_t *rec)
{
	struct session *s = NULL;
	size_t i;

	for (i = 0; i < ss->n && s == NULL; i++)
		if (is_of(ss->v[i], directory))
			s = ss->v[i];
	if (s == NULL && (s = session_new(ss, directory)) == NULL) {
		pki_rec_error(rec, "acme", "out of memory");
		return NULL;
	}
	if (!s->failed)
		return s;
	ss->failed = 1;
	/* Its why names the directory when there is no account of it or
	 * its CA cannot be reached. */
	pki_rec_error(rec, "acme", "no ACME account or CA: %s", s->why);
	return NULL;
}

void
sessions_tell(struct sessions *ss)
{
	struct session *s;
	json_t *rec, *j;
	size_t i;

	for (i = 0; i < ss->n; i++) {
		s = ss->v[i];
		if (s->failed || s->told || s->acct.replaces == NULL)
			continue;
		s->told = 1;
		/* The key only down a pipe or into a file, never on a
		 * terminal (as register's and rollover's records). */
		if ((j = account_json(&s->acct, !isatty(STDOUT_FILENO))) ==
		    NULL ||
		    (rec = json_pack("{s:s, s:o}", "action", "register",
		    "account", j)) == NULL) {
			pki_err("ACME account %s: its record cannot be made",
			    s->acct.url);
			continue;
		}
		(void)pki_out(rec);
		json_decref(rec);	/* jansson wipes what it frees */
	}
}

void
sessions_free(struct sessions *ss)
{
	size_t i;

	for (i = 0; i < ss->n; i++) {
		acme_close(&ss->v[i]->a);
		account_free(&ss->v[i]->acct);
		free(ss->v[i]->directory);
		json_decref(ss->v[i]->listed);
		free(ss->v[i]);
	}
	free(ss->v);
	ss->v = NULL;
	ss->n = 0;
}
