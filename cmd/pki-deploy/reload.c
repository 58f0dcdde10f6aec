/*
 * reload.c - the reload commands of a host: once per (host, jail) and
 * command, after every file of the host is in place, for every target
 * that has a command (serverPKI ran them for jails only, once per file).
 * A target written gets a marker until its reload ends well, so that a
 * run that died between the files and the reload is made good by the
 * next one, which finds the files in place but the marker too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deploy.h"

/* T and U reload the same way: same jail, same command. */
static int
same_reload(const struct target *t, const struct target *u)
{
	if ((t->jail == NULL) != (u->jail == NULL))
		return 0;
	if (t->jail != NULL && strcmp(t->jail, u->jail) != 0)
		return 0;
	return strcmp(t->reload, u->reload) == 0;
}

/* 1 if T's reload command is to run: its files were written now, or
 * were in place but the reload of the run that wrote them did not end
 * well (its marker is left); and it has not run yet. */
static int
due(const struct target *t)
{
	return t->reload != NULL && (t->written || t->reload_due) &&
	    t->state == T_OK && !t->reload_run;
}

void
run_result(struct target *u, const char *what, int rc, int status,
    const char *err, const char *why, int *st, char **saved)
{
	char line[200];
	size_t n;

	*st = status;
	free(*saved);
	*saved = strdup(err != NULL ? err : "");
	if (rc == -1) {
		u->state = T_FAILED;
		snprintf(u->error, sizeof(u->error), "%s: %.480s", what, why);
	} else if (status != 0) {
		n = err != NULL ? strcspn(err, "\n") : 0;
		snprintf(line, sizeof(line), "%.*s", (int)n, err ? err : "");
		u->state = T_FAILED;
		snprintf(u->error, sizeof(u->error), "%s: exit %d%s%s", what,
		    status, *line ? ": " : "", line);
	}
}

/* The result of the command run for T on U. */
static void
apply(struct target *u, int rc, int status, const char *err,
    const char *why)
{
	u->reload_run = 1;
	run_result(u, "reload", rc, status, err, why, &u->reload_status,
	    &u->reload_stderr);
}

void
reload_host(struct conn *c, struct host *h, long timeout)
{
	struct target *t, *u;
	char *err = NULL;
	size_t i, j;
	int rc, status;

	for (i = 0; i < h->n; i++) {
		t = h->targets[i];
		if (!due(t))
			continue;
		c->err[0] = '\0';
		rc = c->ops->run(c, t->reload, timeout, &status, &err);
		h->reloads++;
		for (j = i; j < h->n; j++) {
			u = h->targets[j];
			if (due(u) && same_reload(t, u)) {
				apply(u, rc, status, err, c->err);
				if (rc == 0 && status == 0)
					reload_done(c, u);
			}
		}
		free(err);
		err = NULL;
	}
}
