/*
 * reload.c - the reload commands of a host: once per (host, jail) and
 * command, after every file of the host is in place, for every target
 * that has a command (serverPKI ran them for jails only, once per file).
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

/* The result of the command run for T on U: a command that did not run,
 * or ended other than with 0, fails U. */
static void
apply(struct target *u, int rc, int status, const char *err,
    const char *why)
{
	char line[200];
	size_t n;

	u->reload_run = 1;
	u->reload_status = status;
	free(u->reload_stderr);
	u->reload_stderr = strdup(err != NULL ? err : "");
	if (rc == -1) {
		u->state = T_FAILED;
		snprintf(u->error, sizeof(u->error), "reload: %.480s", why);
	} else if (status != 0) {
		n = err != NULL ? strcspn(err, "\n") : 0;
		snprintf(line, sizeof(line), "%.*s", (int)n, err ? err : "");
		u->state = T_FAILED;
		snprintf(u->error, sizeof(u->error), "reload: exit %d%s%s",
		    status, *line ? ": " : "", line);
	}
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
		if (t->reload == NULL || !t->written || t->reload_run)
			continue;
		c->err[0] = '\0';
		rc = c->ops->run(c, t->reload, timeout, &status, &err);
		h->reloads++;
		for (j = i; j < h->n; j++) {
			u = h->targets[j];
			if (u->reload != NULL && u->written && !u->reload_run &&
			    same_reload(t, u))
				apply(u, rc, status, err, c->err);
		}
		free(err);
		err = NULL;
	}
}
