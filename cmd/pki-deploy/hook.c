/*
 * hook.c - hook places: the files of the place are written on this
 * machine, then the place's hook_command runs once for the certificate
 * and target, by /bin/sh -c exactly as the admin wrote it.  Nothing of
 * the record is ever put into the command: the names and paths reach it
 * in its environment (PKI_CERT_NAME, PKI_CERT_FILE, ...; pki-deploy(1),
 * "Hook places"), the record without its key on its stdin.  Its exit
 * status and stderr are recorded as a reload command's are; like a
 * reload, a hook that did not end well is run again by the next run,
 * which finds its marker beside the files.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deploy.h"

extern char **environ;

/* Set NAME (with SUFFIX in upper case, if not NULL) to VALUE in ENV,
 * unless it is set already; -1 if out of memory. */
static int
env_set(json_t *env, const char *name, const char *suffix,
    const char *value)
{
	char n[64], *p;

	snprintf(n, sizeof(n), "%s%s%s", name, suffix ? "_" : "",
	    suffix ? suffix : "");
	for (p = n; *p != '\0'; p++)
		*p = (char)toupper((unsigned char)*p);
	if (json_object_get(env, n) != NULL)
		return 0;
	return json_object_set_new(env, n, json_string(value));
}

/* The variables of T's hook into ENV (the files first of the first
 * algorithm in alphabetical order, FIRST, then of each by its name). */
static int
env_vars(struct target *t, json_t *rec, json_t *env)
{
	json_t *id = json_object_get(json_object_get(rec, "instance"), "id");
	const struct dfile *f;
	const char *first = NULL, *algo;
	char n[64], num[24], algos[32] = "";
	json_t *v;
	size_t i;
	int rc = 0;

	json_object_foreach(json_object_get(rec, "cert"), algo, v) {
		if (first == NULL || strcmp(algo, first) < 0)
			first = algo;
	}
	/* At most two: "ec rsa", alphabetical. */
	json_object_foreach(json_object_get(rec, "cert"), algo, v)
		if (strcmp(algo, first) != 0)
			snprintf(algos, sizeof(algos), "%.8s", algo);
	if (first != NULL)
		snprintf(n, sizeof(n), "%.8s%s%.8s", first, *algos ? " " : "",
		    algos);
	snprintf(algos, sizeof(algos), "%.20s", first != NULL ? n : "");
	snprintf(num, sizeof(num), "%ld", t->id);
	rc |= env_set(env, "PKI_CERT_NAME", NULL, pki_str(rec, "name"));
	rc |= env_set(env, "PKI_TARGET", NULL, num);
	rc |= env_set(env, "PKI_TARGET_HOST", NULL, t->host);
	rc |= env_set(env, "PKI_PLACE", NULL, t->place);
	rc |= env_set(env, "PKI_ALGOS", NULL, algos);
	if (json_is_integer(id)) {
		snprintf(num, sizeof(num), "%lld",
		    (long long)json_integer_value(id));
		rc |= env_set(env, "PKI_INSTANCE", NULL, num);
	}
	for (i = 0; i < t->nfiles; i++) {
		f = &t->files[i];
		if (f->role == NULL)
			continue;
		snprintf(n, sizeof(n), "PKI_%s_FILE", f->role);
		/* A file of no algorithm (dhparam.pem) has one name. */
		if (*f->algo == '\0' || (first != NULL &&
		    strcmp(f->algo, first) == 0))
			rc |= env_set(env, n, NULL, f->path);
		if (*f->algo != '\0')
			rc |= env_set(env, n, f->algo, f->path);
	}
	return rc != 0 ? -1 : 0;
}

/* 1 if the variable VAR ("NAME=VALUE") is pki's own, or libpq's (which
 * may hold the database's password): PKI_*, PG[A-Z]*. */
static int
ours(const char *var)
{
	return strncmp(var, "PKI_", 4) == 0 || (strncmp(var, "PG", 2) == 0 &&
	    isupper((unsigned char)var[2]));
}

/* ENV and this process's environment without the variables ours()
 * names, as an array of "NAME=VALUE" (NULL-ended); NULL if out of
 * memory. */
static char **
env_array(json_t *env)
{
	const char *name;
	char **out;
	size_t n = 0, i;
	json_t *v;

	for (i = 0; environ[i] != NULL; i++)
		continue;
	if ((out = calloc(i + json_object_size(env) + 1, sizeof(*out))) ==
	    NULL)
		return NULL;
	for (i = 0; environ[i] != NULL; i++)
		if (!ours(environ[i]) &&
		    (out[n++] = strdup(environ[i])) == NULL)
			goto fail;
	json_object_foreach(env, name, v)
		if (asprintf(&out[n++], "%s=%s", name, json_string_value(v)) ==
		    -1) {
			out[--n] = NULL;
			goto fail;
		}
	return out;
fail:
	for (i = 0; i < n; i++)
		free(out[i]);
	free(out);
	return NULL;
}

int
hook_plan(struct target *t, json_t *rec)
{
	json_t *env = json_object(), *copy = json_copy(rec);
	char *text = NULL;
	int rc = -1;

	if (copy != NULL)
		json_object_del(copy, "key");
	if (env == NULL || copy == NULL || env_vars(t, rec, env) == -1 ||
	    (t->hook_env = env_array(env)) == NULL ||
	    (text = pki_json_text(copy, JSON_COMPACT)) == NULL ||
	    asprintf(&t->hook_input, "%s\n", text) == -1)
		target_fail(t, "out of memory");
	else
		rc = 0;
	free(text);
	json_decref(env);
	json_decref(copy);	/* shallow: the key itself stays in REC */
	return rc;
}

void
hook_host(struct conn *c, struct host *h, long timeout)
{
	struct target *t;
	char *err = NULL;
	size_t i;
	int rc, status;

	for (i = 0; i < h->n; i++) {
		t = h->targets[i];
		if (t->hook == NULL || t->state != T_OK ||
		    (!t->written && !t->hook_due))
			continue;
		c->err[0] = '\0';
		rc = local_run(c, t->hook, t->hook_env, t->hook_input,
		    strlen(t->hook_input), timeout, &status, &err);
		t->hook_run = 1;
		run_result(t, "hook", rc, status, err, c->err, &t->hook_status,
		    &t->hook_stderr);
		if (rc == 0 && status == 0)
			hook_done(c, t);
		free(err);
		err = NULL;
	}
}

void
hook_free(struct target *t)
{
	size_t i;

	for (i = 0; t->hook_env != NULL && t->hook_env[i] != NULL; i++)
		free(t->hook_env[i]);
	free(t->hook_env);
	free(t->hook);
	free(t->hook_input);
	free(t->hook_stderr);
}
