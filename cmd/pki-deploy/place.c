/*
 * place.c - a target's place as the record has it (serverPKI's Places,
 * with atomic and format): every value checked before it is used, the
 * p12 passphrase read from its file.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "deploy.h"

/* Mode as octal digits (640) into MODE; NULL or why not. */
static const char *
mode_problem(json_t *v, mode_t *mode)
{
	json_int_t m;

	*mode = 0400;
	if (v == NULL || json_is_null(v))
		return NULL;
	if (!json_is_integer(v) || (m = json_integer_value(v)) < 400 ||
	    m > 777 || m % 10 > 7 || m / 10 % 10 > 7)
		return "not three octal digits with the owner's read bit "
		    "(like 400 or 640)";
	if (m % 10 != 0)
		return "it gives others access to the key";
	*mode = (mode_t)((m / 100) * 64 + (m / 10 % 10) * 8);
	return NULL;
}

/* An owner id (uid, gid) of the place into OUT: -1 when null. */
static int
owner(json_t *v, long *out)
{
	*out = -1;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > 2147483647)
		return -1;
	*out = (long)json_integer_value(v);
	return 0;
}

/* The format of the place PJ into PL, and for p12 the passphrase; -1
 * (target failed) if the format is unknown or the passphrase cannot be
 * read. */
static int
place_format(struct target *t, json_t *pj, struct place *pl)
{
	json_t *v = json_object_get(pj, "format");
	char why[PATH_MAX + 256];

	if (v != NULL && !json_is_null(v) && (!json_is_string(v) ||
	    (pl->format = format_parse(json_string_value(v))) == -1))
		return target_fail(t, "place %s: format \"%.32s\": not pem, "
		    "der, fullchain, bundle or p12", t->place,
		    json_is_string(v) ? json_string_value(v) : "");
	if (pl->format != FMT_P12)
		return 0;
	pl->pass_file = pki_str(pj, "p12_passphrase_file");
	if (pl->pass_file == NULL || *pl->pass_file == '\0')
		return target_fail(t, "place %s: p12_passphrase_file: "
		    "missing (format p12 needs a passphrase)", t->place);
	if (pki_passphrase_from("p12_passphrase_file", pl->pass_file,
	    pl->pass, sizeof(pl->pass), why, sizeof(why)) == -1)
		return target_fail(t, "place %s: %s", t->place, why);
	return 0;
}

int
place_kind(json_t *pj)
{
	json_t *v = json_object_get(pj, "kind");
	const char *k = json_string_value(v);

	if (v == NULL || json_is_null(v) || (k && strcmp(k, "files") == 0))
		return K_FILES;
	if (k != NULL && strcmp(k, "hook") == 0)
		return K_HOOK;
	if (k != NULL && strcmp(k, "redis") == 0)
		return K_REDIS;
	return -1;
}

static const char *const file_types[] = { "cert only", "separate",
    "combine key", "combine cacert", "combine both", "certbot",
    "certbot live", NULL };

/* Read the place PJ into PL; -1 (target failed) if it is not usable. */
int
place_read(struct target *t, json_t *pj, struct place *pl)
{
	json_t *v;
	const char *why;
	int i;

	memset(pl, 0, sizeof(*pl));
	pl->type = pki_str(pj, "cert_file_type");
	pl->cert_path = pki_str(pj, "cert_path");
	pl->key_path = pki_str(pj, "key_path");
	for (i = 0; file_types[i] != NULL; i++)
		if (pl->type != NULL && strcmp(pl->type, file_types[i]) == 0)
			break;
	if (file_types[i] == NULL)
		return target_fail(t, "place %s: unknown cert_file_type",
		    t->place);
	if ((why = mode_problem(json_object_get(pj, "mode"),
	    &pl->key_mode)) != NULL)
		return target_fail(t, "place %s: mode: %s", t->place, why);
	if (owner(json_object_get(pj, "uid"), &pl->uid) == -1 ||
	    owner(json_object_get(pj, "gid"), &pl->gid) == -1)
		return target_fail(t, "place %s: uid or gid is not a number "
		    "from 0", t->place);
	pl->chown_both = json_is_true(json_object_get(pj, "chown_both"));
	pl->pg_link = json_is_true(json_object_get(pj, "pg_link"));
	v = json_object_get(pj, "atomic");
	if (v != NULL && !json_is_boolean(v) && !json_is_null(v))
		return target_fail(t, "place %s: atomic: not true or false",
		    t->place);
	pl->atomic = json_is_true(v);
	v = json_object_get(pj, "dhparam");
	if (v != NULL && !json_is_null(v) &&
	    !pki_dh_group_valid(json_string_value(v)))
		return target_fail(t, "place %s: dhparam: not ffdhe2048, "
		    "ffdhe3072 or ffdhe4096", t->place);
	pl->dhparam = json_string_value(v);
	return place_format(t, pj, pl);
}
