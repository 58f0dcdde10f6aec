/*
 * instance.c - an instance's certificates, chains and keys into its
 * record (--serial, --distribute, --consolidate).
 */
#include <stdlib.h>
#include <string.h>

#include "select.h"

/* The key of a row for the pipe: in clear, decrypted if stored encrypted
 * (CA keys stay encrypted with the CA's own passphrase). */
static int
add_key(json_t *rec, json_t *keys, const char *algo, const char *pem,
    const char *pass)
{
	const char *why, *type = pki_str(rec, "subject_type");
	EVP_PKEY *key;
	char *clear;

	if (*pem == '\0')
		return 0;	/* a CA certificate pki has no key of */
	if (!pki_pem_is_encrypted(pem) || (type && strcmp(type, "CA") == 0)) {
		json_object_set_new(keys, algo, json_string(pem));
		return 0;
	}
	if (pass == NULL)
		return pki_rec_error(rec, "key", "stored encrypted: give "
		    "--passphrase-file FILE or PKI_DB_PASSPHRASE_FILE");
	if ((key = pki_key_from_pem(pem, pass, &why)) == NULL)
		return pki_rec_error(rec, "key", "%s", why);
	clear = pki_key_to_pem(key, NULL);
	EVP_PKEY_free(key);
	if (clear == NULL)
		return pki_rec_error(rec, "key", "cannot encode key");
	json_object_set_new(keys, algo, json_string(clear));
	pki_free_secret(clear);
	return 0;
}

int
instance_material(json_t *rec, PGresult *res, int first, int n,
    int with_keys, const char *pass)
{
	json_t *certs = json_object(), *keys = json_object(), *entry;
	const char *algo;
	X509 *cert;
	int i, rc = 0;

	for (i = first; i < first + n; i++) {
		algo = PQgetvalue(res, i, 2);
		if ((cert = pki_cert_from_pem(PQgetvalue(res, i, 3))) == NULL ||
		    (entry = pki_cert_json(cert, PQgetvalue(res, i, 5))) == NULL)
			rc = pki_rec_error(rec, "cert", "%s: unreadable", algo);
		else
			json_object_set_new(certs, algo, entry);
		X509_free(cert);
		if (with_keys && add_key(rec, keys, algo, PQgetvalue(res, i, 4),
		    pass) == -1)
			rc = -1;
	}
	json_object_set_new(rec, "cert", certs);
	if (json_object_size(keys) > 0)
		json_object_set(rec, "key", keys);
	json_decref(keys);
	return rc;
}

int
instance_keys(PGconn *db, json_t *rec, const char *inst, const char *pass)
{
	const char *p[1] = { inst };
	json_t *keys;
	PGresult *res;
	int i, rc = 0;

	if ((res = pki_db_exec(db, "SELECT encryption_algo, "
	    "convert_from(key, 'UTF8') FROM certkeydata WHERE certinstance = "
	    "$1::int4 AND key IS NOT NULL ORDER BY encryption_algo", 1,
	    p)) == NULL)
		return pki_rec_error(rec, "key", "the key of instance %s "
		    "cannot be read", inst);
	keys = json_object();
	for (i = 0; i < PQntuples(res); i++)
		if (add_key(rec, keys, PQgetvalue(res, i, 0),
		    PQgetvalue(res, i, 1), pass) == -1)
			rc = -1;
	if (json_object_size(keys) > 0)
		json_object_set(rec, "key", keys);
	json_decref(keys);
	pki_db_wipe(res);
	PQclear(res);
	return rc;
}
