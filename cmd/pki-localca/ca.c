/*
 * ca.c - pki-localca's CA: its settings, and loading it (or the root that
 * signs a new intermediate) from files or the database.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509v3.h>

#include "localca.h"

#define CA_FILE_MAX	(1024 * 1024)	/* longest CA certificate or key file */

void
settings_default(struct settings *st)
{
	memset(st, 0, sizeof(*st));
	strcpy(st->subject_name, "Local CA");
	strcpy(st->ca_dn, "CN=Local CA");
	strcpy(st->ca_algo, "rsa");
	st->ca_rsa_bits = 4096;
	strcpy(st->ca_ec_curve, "P-384");
	st->ca_days = 3680;
	st->leaf_days = 375;
	st->backdate = 3600;
	strcpy(st->root_name, "Local Root CA");
	strcpy(st->root_dn, "CN=Local Root CA");
	st->root_days = 7300;
}

int
settings_read(PGconn *db, struct settings *st)
{
	PGresult *res;

	res = pki_db_exec(db, "SELECT subject_name, ca_dn, ca_algo, "
	    "ca_rsa_bits, ca_ec_curve, ca_days, leaf_days, backdate_seconds, "
	    "root_name, root_dn, root_days "
	    "FROM localca_settings WHERE id = 1", 0, NULL);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 1) {
		snprintf(st->subject_name, sizeof(st->subject_name), "%s",
		    PQgetvalue(res, 0, 0));
		snprintf(st->ca_dn, sizeof(st->ca_dn), "%s", PQgetvalue(res, 0, 1));
		snprintf(st->ca_algo, sizeof(st->ca_algo), "%s",
		    PQgetvalue(res, 0, 2));
		st->ca_rsa_bits = atol(PQgetvalue(res, 0, 3));
		snprintf(st->ca_ec_curve, sizeof(st->ca_ec_curve), "%s",
		    PQgetvalue(res, 0, 4));
		st->ca_days = atol(PQgetvalue(res, 0, 5));
		st->leaf_days = atol(PQgetvalue(res, 0, 6));
		st->backdate = atol(PQgetvalue(res, 0, 7));
		snprintf(st->root_name, sizeof(st->root_name), "%s",
		    PQgetvalue(res, 0, 8));
		snprintf(st->root_dn, sizeof(st->root_dn), "%s",
		    PQgetvalue(res, 0, 9));
		st->root_days = atol(PQgetvalue(res, 0, 10));
	}
	PQclear(res);
	return 0;
}

void
ca_free(struct ca *ca)
{
	struct ca *older, *next;

	for (older = ca->older; older != NULL; older = next) {
		next = older->older;
		older->older = NULL;
		ca_free(older);
		free(older);
	}
	X509_free(ca->cert);
	EVP_PKEY_free(ca->key);
	free(ca->cert_pem);
	memset(ca, 0, sizeof(*ca));
}

static const char *
key_why(const char *why, const char *pem, const char *pass)
{
	if (pass == NULL && pki_pem_is_encrypted(pem))
		return "the CA key is encrypted: give its passphrase with "
		    "--passphrase-file FILE or PKI_CA_PASSPHRASE_FILE";
	return why;
}

const char *
not_a_ca(X509 *cert)
{
	uint32_t flags = X509_get_extension_flags(cert);

	if (!(flags & EXFLAG_CA))
		return "not a CA certificate (no basicConstraints CA:TRUE)";
	if (!(flags & EXFLAG_KUSAGE) ||
	    !(X509_get_key_usage(cert) & KU_KEY_CERT_SIGN))
		return "not a CA certificate (no keyUsage keyCertSign)";
	return NULL;
}

/* The certificates of PEM after the first, as PEM text; NULL when out of
 * memory.  Caller frees. */
static char *
chain_after_first(const char *pem)
{
	STACK_OF(X509) *certs;
	char *out, *one, *grown;
	size_t len = 0, n;
	int i;

	if ((certs = pki_certs_from_pem(pem)) == NULL ||
	    (out = strdup("")) == NULL) {
		sk_X509_pop_free(certs, X509_free);
		return NULL;
	}
	for (i = 1; i < sk_X509_num(certs) && out != NULL; i++) {
		if ((one = pki_cert_to_pem(sk_X509_value(certs, i))) == NULL ||
		    (grown = realloc(out, len + (n = strlen(one)) + 1)) == NULL) {
			free(one);
			free(out);
			out = NULL;
			break;
		}
		out = grown;
		memcpy(out + len, one, n + 1);
		len += n;
		free(one);
	}
	sk_X509_pop_free(certs, X509_free);
	return out;
}

/* Take CERT_PEM (its first certificate; CHAIN_PEM, or else the further
 * certificates of CERT_PEM, are the CAs above it) and KEY_PEM as the CA;
 * 0 / -1 with ca->why set. */
static int
ca_take(struct ca *ca, const char *cert_pem, const char *chain_pem,
    const char *key_pem, const char *pass, const char *where)
{
	const char *why;
	char *own = NULL, *above = NULL;
	int rc = -1;

	if ((ca->cert = pki_cert_from_pem(cert_pem)) == NULL) {
		snprintf(ca->why, sizeof(ca->why), "%s: no PEM certificate",
		    where);
		return -1;
	}
	if ((ca->key = pki_key_from_pem(key_pem, pass, &why)) == NULL) {
		snprintf(ca->why, sizeof(ca->why), "%s: %s", where,
		    key_why(why, key_pem, pass));
		return -1;
	}
	if (X509_check_private_key(ca->cert, ca->key) != 1) {
		snprintf(ca->why, sizeof(ca->why), "%s: the key does not "
		    "belong to the certificate", where);
		return -1;
	}
	if (X509_check_ca(ca->cert) < 1) {
		why = not_a_ca(ca->cert);
		snprintf(ca->why, sizeof(ca->why), "%s: %s", where,
		    why != NULL ? why : "not a CA certificate");
		return -1;
	}
	if ((own = pki_cert_to_pem(ca->cert)) == NULL || (chain_pem == NULL &&
	    (above = chain_after_first(cert_pem)) == NULL) ||
	    (ca->cert_pem = malloc(strlen(own) + strlen(chain_pem ? chain_pem :
	    above) + 1)) == NULL)
		snprintf(ca->why, sizeof(ca->why), "%s: cannot encode", where);
	else {
		strcpy(ca->cert_pem, own);
		strcat(ca->cert_pem, chain_pem ? chain_pem : above);
		rc = 0;
	}
	free(own);
	free(above);
	return rc;
}

int
ca_from_files(struct ca *ca, const char *cert_file, const char *key_file,
    const char *pass)
{
	char *cert_pem, *key_pem = NULL;
	int rc = -1;

	if ((cert_pem = pki_read_file(cert_file, CA_FILE_MAX)) == NULL)
		snprintf(ca->why, sizeof(ca->why), "cannot read the CA "
		    "certificate %s", cert_file);
	else if ((key_pem = pki_read_secret("CA key file", key_file,
	    CA_FILE_MAX, NULL, ca->why, sizeof(ca->why))) != NULL)
		rc = ca_take(ca, cert_pem, NULL, key_pem, pass, key_file);
	if (rc == 0 && !pki_pem_is_encrypted(key_pem))
		pki_warn("%s: the CA key is not encrypted", key_file);
	free(cert_pem);
	pki_free_secret(key_pem);
	return rc;
}

/*
 * The newest valid instance of the local CA NAME (older than instance
 * BEFORE, unless 0), with the chain above it.  ROOT: it is the root, whose
 * key may be offline (said so); else the newest one that has its key.
 * 0; 1 when there is none; -1 (both with ca->why set).
 */
static int
ca_from_db(struct ca *ca, PGconn *db, const char *name, int root,
    long before, const char *pass)
{
	const char *param[3];
	PGresult *res;
	char where[64], below[24];
	int rc = -1;

	snprintf(below, sizeof(below), "%ld", before);
	param[0] = name;
	param[1] = root ? "t" : "f";
	param[2] = before > 0 ? below : NULL;
	res = pki_db_exec(db, "SELECT i.id, convert_from(d.cert, 'UTF8'), "
	    "convert_from(d.key, 'UTF8'), instance_chain(i.id) "
	    "FROM certinstances i "
	    "JOIN certkeydata d ON d.certinstance = i.id "
	    "JOIN subjects s ON s.certificate = i.certificate "
	    "AND NOT s.isaltname "
	    "WHERE s.name = $1 AND s.type = 'CA' "
	    "AND i.state IN ('issued', 'prepublished', 'deployed') "
	    "AND i.not_before <= now() AT TIME ZONE 'UTC' "
	    "AND i.not_after > now() AT TIME ZONE 'UTC' "
	    "AND ($2::bool OR length(d.key) > 0) "
	    "AND ($3::int4 IS NULL OR i.id < $3::int4) "
	    "ORDER BY i.id DESC LIMIT 1", 3, param);
	if (res == NULL) {
		snprintf(ca->why, sizeof(ca->why), "cannot read the CA");
		return -1;
	}
	if (PQntuples(res) == 0) {
		snprintf(ca->why, sizeof(ca->why), "no valid local CA \"%s\" "
		    "in the database (pki ca init%s makes one)", name,
		    root ? " --intermediate" : "");
		rc = 1;
	} else if (*PQgetvalue(res, 0, 2) == '\0')
		snprintf(ca->why, sizeof(ca->why), "the key of the root CA "
		    "\"%s\" (instance %s) is offline: pki ca root import-key "
		    "FILE brings it back", name, PQgetvalue(res, 0, 0));
	else {
		ca->instance = atol(PQgetvalue(res, 0, 0));
		snprintf(where, sizeof(where), "CA instance %ld", ca->instance);
		rc = ca_take(ca, PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 3),
		    PQgetvalue(res, 0, 2), pass, where);
		if (rc == 0 && !root && before == 0)
			pki_info("signing with %s", where);
	}
	pki_db_wipe(res);
	PQclear(res);
	return rc;
}

int
ca_load_older(struct ca *ca, const struct settings *st, const char *pass)
{
	struct ca *last = ca, *next;
	PGconn *db;
	int rc = 0;

	if (ca->instance == 0)
		return 0;	/* a CA of files */
	if ((db = pki_db_connect()) == NULL)
		return -1;
	while (rc == 0) {
		if ((next = calloc(1, sizeof(*next))) == NULL) {
			rc = -1;
			break;
		}
		rc = ca_from_db(next, db, st->subject_name, 0, last->instance,
		    pass);
		if (rc != 0) {
			if (rc == -1)
				pki_err("%s", next->why);
			ca_free(next);
			free(next);
			break;
		}
		last->older = next;
		last = next;
	}
	PQfinish(db);
	return rc == -1 ? -1 : 0;
}

/* The CA that signs certificates, from the database. */
static int
ca_signing_from_db(struct ca *ca, struct settings *st, const char *pass)
{
	PGconn *db;
	int rc = -1;

	if ((db = pki_db_connect()) == NULL) {
		snprintf(ca->why, sizeof(ca->why), "no database for the CA "
		    "(or give --ca-cert and --ca-key)");
		return -1;
	}
	if (settings_read(db, st) == -1)
		snprintf(ca->why, sizeof(ca->why), "cannot read localca_settings");
	else
		rc = ca_from_db(ca, db, st->subject_name, 0, 0, pass) == 0 ?
		    0 : -1;
	PQfinish(db);
	return rc;
}

int
ca_load(struct ca *ca, struct settings *st, const struct opts *o,
    const char *pass)
{
	int rc;

	if (ca->tried)
		return ca->key != NULL ? 0 : -1;
	ca->tried = 1;
	if (o->ca_cert_file != NULL)
		rc = ca_from_files(ca, o->ca_cert_file, o->ca_key_file, pass);
	else
		rc = ca_signing_from_db(ca, st, pass);
	if (rc == -1) {
		pki_err("%s", ca->why);
		X509_free(ca->cert);
		EVP_PKEY_free(ca->key);
		ca->cert = NULL;
		ca->key = NULL;
	}
	return rc;
}

int
root_load(struct ca *root, const struct settings *st, const struct opts *o,
    const char *pass)
{
	PGconn *db;
	int rc = -1;

	if (o->root_cert_file != NULL)
		rc = ca_from_files(root, o->root_cert_file, o->root_key_file,
		    pass);
	else if ((db = pki_db_connect()) == NULL)
		snprintf(root->why, sizeof(root->why), "no database for the "
		    "root CA (or give --root-cert and --root-key)");
	else {
		rc = ca_from_db(root, db, st->root_name, 1, 0, pass) == 0 ?
		    0 : -1;
		PQfinish(db);
	}
	if (rc == -1)
		pki_err("--intermediate: %s", root->why);
	return rc;
}
