/*
 * stored.c - pki-acme order --resume: the orders kept in the database
 * (acme_orders, written by pki-store --checkpoint), read back with the
 * key and CSR they are finalized with.  pki-acme writes nothing there.
 */
#include <stdlib.h>
#include <string.h>

#include "acme.h"

/*
 * The open order of the certificate ($1 id, may be NULL, $2 name) for
 * algorithm $3, at directory $4 with account $5, for exactly the names
 * $6 (JSON), that has a key and a CSR, or no key and the CSR $7 (the
 * record's, given: CSR input), and has not expired.
 */
#define FIND_ORDER \
	"SELECT url, convert_from(key, 'UTF8'), csr FROM acme_orders " \
	"WHERE certificate = (SELECT certificate FROM subjects " \
	"  WHERE NOT isaltname AND name = $2 " \
	"  AND ($1::int4 IS NULL OR certificate = $1::int4)) " \
	"AND algo = $3::dd.cert_encryption_algo AND state = 'open' " \
	"AND directory = $4 AND account = $5 AND names = acme_names($6::json) " \
	"AND csr IS NOT NULL AND (key IS NOT NULL OR csr = $7) " \
	"AND (expires IS NULL OR expires > now() AT TIME ZONE 'UTC') " \
	"ORDER BY created DESC LIMIT 1"

void
stored_free(struct stored *so)
{
	free(so->url);
	pki_free_secret(so->key);
	free(so->csr);
	memset(so, 0, sizeof(*so));
}

void
stored_close(struct stored_db *sdb)
{
	PQfinish(sdb->db);
	memset(sdb, 0, sizeof(*sdb));
}

/* The database, connected at the first use; NULL (error added to REC,
 * and to every record after it). */
static PGconn *
stored_db(struct stored_db *sdb, json_t *rec)
{
	if (!sdb->tried) {
		sdb->tried = 1;
		sdb->db = pki_db_open(sdb->why, sizeof(sdb->why));
	}
	if (sdb->db == NULL)
		pki_rec_error(rec, "acme", "--resume: no database: %s",
		    sdb->why);
	return sdb->db;
}

/* The stored key PEM (encrypted with the database passphrase PASS when
 * stored so) in clear into SO->key; 0 / -1 (error added to REC). */
static int
stored_key(json_t *rec, const char *pem, const char *pass, struct stored *so)
{
	const char *why;
	EVP_PKEY *key;
	int sealed = pki_pem_is_encrypted(pem);

	if (sealed && pass == NULL)
		return pki_rec_error(rec, "acme", "the key of the stored order "
		    "is encrypted: give --passphrase-file FILE or "
		    "PKI_DB_PASSPHRASE_FILE");
	if ((key = pki_key_from_pem(pem, sealed ? pass : NULL, &why)) == NULL)
		return pki_rec_error(rec, "acme", "the key of the stored "
		    "order: %s", why);
	so->key = pki_key_to_pem(key, NULL);
	EVP_PKEY_free(key);
	return so->key != NULL ? 0 : pki_rec_error(rec, "acme", "the key of "
	    "the stored order cannot be encoded");
}

int
stored_find(struct stored_db *sdb, const struct opts *o,
    const struct account *acct, json_t *rec, const json_t *names,
    const char *algo, struct stored *so)
{
	const char *p[7];
	char id[24] = "", *text;
	json_t *v = json_object_get(rec, "id");
	PGresult *res;
	int rc = -1;

	memset(so, 0, sizeof(*so));
	if (stored_db(sdb, rec) == NULL)
		return -1;
	if (json_is_integer(v) && json_integer_value(v) > 0 &&
	    json_integer_value(v) <= 2147483647)
		snprintf(id, sizeof(id), "%lld", (long long)json_integer_value(v));
	if ((text = pki_json_text(names, JSON_COMPACT)) == NULL)
		return pki_rec_error(rec, "acme", "out of memory");
	p[0] = *id ? id : NULL;
	p[1] = pki_str(rec, "name");
	p[2] = algo;
	p[3] = acct->directory;
	p[4] = acct->url;
	p[5] = text;
	p[6] = pki_rec_keyless(rec) ? pki_str(json_object_get(rec, "csr"),
	    algo) : NULL;
	if ((res = pki_db_query(sdb->db, FIND_ORDER, 7, p, sdb->why,
	    sizeof(sdb->why))) == NULL)
		pki_rec_error(rec, "acme", "--resume: database: %s", sdb->why);
	else if (PQntuples(res) == 0)
		rc = 0;
	else if ((so->url = xstrdup(PQgetvalue(res, 0, 0))) == NULL ||
	    (so->csr = xstrdup(PQgetvalue(res, 0, 2))) == NULL)
		pki_rec_error(rec, "acme", "out of memory");
	else if (PQgetisnull(res, 0, 1))
		rc = 1;		/* the given CSR's: no key */
	else if (stored_key(rec, PQgetvalue(res, 0, 1), o->pass, so) == 0)
		rc = 1;
	if (rc != 1)
		stored_free(so);
	pki_db_wipe(res);
	PQclear(res);
	free(text);
	return rc;
}
