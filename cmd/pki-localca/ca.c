/*
 * ca.c - pki-localca's CA: its settings, loading it from files or the
 * database, and making a new one (--init).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
}

int
settings_read(PGconn *db, struct settings *st)
{
	PGresult *res;

	res = pki_db_exec(db, "SELECT subject_name, ca_dn, ca_algo, "
	    "ca_rsa_bits, ca_ec_curve, ca_days, leaf_days, backdate_seconds "
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
	}
	PQclear(res);
	return 0;
}

void
ca_free(struct ca *ca)
{
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

/* Take CERT_PEM and KEY_PEM as the CA; 0 / -1 with ca->why set. */
static int
ca_take(struct ca *ca, const char *cert_pem, const char *key_pem,
    const char *pass, const char *where)
{
	const char *why;

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
		snprintf(ca->why, sizeof(ca->why), "%s: not a CA certificate",
		    where);
		return -1;
	}
	if ((ca->cert_pem = pki_cert_to_pem(ca->cert)) == NULL) {
		snprintf(ca->why, sizeof(ca->why), "%s: cannot encode", where);
		return -1;
	}
	return 0;
}

/* The CA of --ca-cert (public, read as any file) and --ca-key (a secret
 * file); 0 / -1 with ca->why set. */
static int
ca_from_files(struct ca *ca, const struct opts *o, const char *pass)
{
	char *cert_pem, *key_pem = NULL;
	int rc = -1;

	if ((cert_pem = pki_read_file(o->ca_cert_file, CA_FILE_MAX)) == NULL)
		snprintf(ca->why, sizeof(ca->why), "cannot read the CA "
		    "certificate %s", o->ca_cert_file);
	else if ((key_pem = pki_read_secret("CA key file", o->ca_key_file,
	    CA_FILE_MAX, NULL, ca->why, sizeof(ca->why))) != NULL)
		rc = ca_take(ca, cert_pem, key_pem, pass, o->ca_key_file);
	if (rc == 0 && !pki_pem_is_encrypted(key_pem))
		pki_warn("%s: the CA key is not encrypted", o->ca_key_file);
	free(cert_pem);
	pki_free_secret(key_pem);
	return rc;
}

/* The newest valid local CA instance that has a key. */
static int
ca_from_db(struct ca *ca, struct settings *st, const char *pass)
{
	const char *param[1];
	PGresult *res = NULL;
	PGconn *db;
	char where[64];
	int rc = -1;

	if ((db = pki_db_connect()) == NULL) {
		snprintf(ca->why, sizeof(ca->why), "no database for the CA "
		    "(or give --ca-cert and --ca-key)");
		return -1;
	}
	if (settings_read(db, st) == -1) {
		snprintf(ca->why, sizeof(ca->why), "cannot read localca_settings");
		goto out;
	}
	param[0] = st->subject_name;
	res = pki_db_exec(db, "SELECT i.id, convert_from(d.cert, 'UTF8'), "
	    "convert_from(d.key, 'UTF8') "
	    "FROM certinstances i "
	    "JOIN certkeydata d ON d.certinstance = i.id "
	    "JOIN subjects s ON s.certificate = i.certificate "
	    "AND NOT s.isaltname "
	    "WHERE s.name = $1 AND s.type = 'CA' "
	    "AND i.state IN ('issued', 'prepublished', 'deployed') "
	    "AND i.not_before <= now() AT TIME ZONE 'UTC' "
	    "AND i.not_after > now() AT TIME ZONE 'UTC' "
	    "AND length(d.key) > 0 "
	    "ORDER BY i.not_before DESC, i.id DESC LIMIT 1", 1, param);
	if (res == NULL) {
		snprintf(ca->why, sizeof(ca->why), "cannot read the CA");
		goto out;
	}
	if (PQntuples(res) == 0) {
		snprintf(ca->why, sizeof(ca->why), "no valid local CA \"%s\" "
		    "in the database (pki ca init makes one)", st->subject_name);
		goto out;
	}
	snprintf(where, sizeof(where), "CA instance %s", PQgetvalue(res, 0, 0));
	rc = ca_take(ca, PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2), pass,
	    where);
	if (rc == 0)
		pki_info("signing with %s", where);
out:
	if (res != NULL)
		pki_db_wipe(res);
	PQclear(res);
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
		rc = ca_from_files(ca, o, pass);
	else
		rc = ca_from_db(ca, st, pass);
	if (rc == -1) {
		pki_err("%s", ca->why);
		X509_free(ca->cert);
		EVP_PKEY_free(ca->key);
		ca->cert = NULL;
		ca->key = NULL;
	}
	return rc;
}

/* "CN=Local CA,O=Example" as an X509_NAME; NULL if it is not one. */
static X509_NAME *
parse_dn(const char *dn)
{
	X509_NAME *name;
	char buf[256], *part, *eq, *save = NULL;

	if (snprintf(buf, sizeof(buf), "%s", dn) >= (int)sizeof(buf) ||
	    (name = X509_NAME_new()) == NULL)
		return NULL;
	for (part = strtok_r(buf, ",", &save); part != NULL;
	    part = strtok_r(NULL, ",", &save)) {
		part += strspn(part, " ");
		if ((eq = strchr(part, '=')) == NULL || eq[1] == '\0' ||
		    !X509_NAME_add_entry_by_txt(name, (*eq = '\0', part),
		    MBSTRING_UTF8, (unsigned char *)eq + 1, -1, -1, 0)) {
			X509_NAME_free(name);
			return NULL;
		}
	}
	if (X509_NAME_entry_count(name) == 0) {
		X509_NAME_free(name);
		return NULL;
	}
	return name;
}

static X509 *
make_ca_cert(EVP_PKEY *key, X509_NAME *name, const struct settings *st)
{
	ASN1_INTEGER *serial;
	X509 *cert;

	if ((cert = X509_new()) == NULL)
		return NULL;
	if ((serial = random_serial()) == NULL ||
	    !X509_set_version(cert, X509_VERSION_3) ||
	    !X509_set_serialNumber(cert, serial) ||
	    !X509_set_subject_name(cert, name) ||
	    !X509_set_issuer_name(cert, name) ||
	    X509_gmtime_adj(X509_getm_notBefore(cert), -st->backdate) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(cert), (int)st->ca_days, 0,
	    NULL) == NULL ||
	    !X509_set_pubkey(cert, key) ||
	    add_ext(cert, cert, NID_basic_constraints,
	    "critical,CA:TRUE") == -1 ||
	    add_ext(cert, cert, NID_key_usage,
	    "critical,keyCertSign,cRLSign,digitalSignature") == -1 ||
	    add_ext(cert, cert, NID_subject_key_identifier, "hash") == -1 ||
	    add_ext(cert, cert, NID_authority_key_identifier,
	    "keyid:always") == -1 ||
	    !X509_sign(cert, key, pki_digest_for(key))) {
		X509_free(cert);
		cert = NULL;
	}
	ASN1_INTEGER_free(serial);
	return cert;
}

static int
write_files(const struct opts *o, X509 *cert, const char *key_pem)
{
	char *cert_pem;
	int rc;

	if ((cert_pem = pki_cert_to_pem(cert)) == NULL)
		return -1;
	rc = pki_write_file(o->ca_key_file, key_pem, strlen(key_pem), 0600);
	if (rc == 0)
		rc = pki_write_file(o->ca_cert_file, cert_pem,
		    strlen(cert_pem), 0644);
	free(cert_pem);
	return rc;
}

/* The CA as a record for pki-store. */
static int
write_record(const struct settings *st, X509 *cert, const char *key_pem,
    const char *algo)
{
	json_t *rec, *entry;
	int rc;

	if ((entry = pki_cert_json(cert, "")) == NULL)
		return -1;
	rec = json_pack("{s:s, s:s, s:s, s:[s], s:s, s:{s:s}, s:{s:o}}",
	    "name", st->subject_name, "subject_type", "CA", "ca", "local",
	    "algos", algo, "action", "ca-init", "key", algo, key_pem,
	    "cert", algo, entry);
	if (rec == NULL) {
		pki_err("out of memory");
		return -1;
	}
	rc = pki_out(rec);
	json_decref(rec);
	pki_out_close();
	return rc;
}

int
ca_init(const struct settings *st, const struct opts *o, const char *pass)
{
	const char *algo = o->algo != NULL ? o->algo : st->ca_algo;
	const char *dn = o->subject != NULL ? o->subject : st->ca_dn;
	X509_NAME *name = NULL;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	char *key_pem = NULL;
	int rc = -1;

	if (pass == NULL) {
		pki_err("--init: the new CA key is encrypted: give its "
		    "passphrase with --passphrase-file FILE or "
		    "PKI_CA_PASSPHRASE_FILE");
		return PKI_EXIT_FATAL;
	}
	if (o->ca_cert_file != NULL && (access(o->ca_cert_file, F_OK) == 0 ||
	    access(o->ca_key_file, F_OK) == 0)) {
		pki_err("--init: %s or %s exists; a CA is never overwritten",
		    o->ca_cert_file, o->ca_key_file);
		return PKI_EXIT_FATAL;
	}
	if ((name = parse_dn(dn)) == NULL) {
		pki_err("--init: subject \"%s\" is not of the form "
		    "CN=name,O=org", dn);
		return PKI_EXIT_FATAL;
	}
	if (strcmp(algo, "ec") == 0)
		key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", st->ca_ec_curve);
	else
		key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA",
		    (size_t)st->ca_rsa_bits);
	if (key == NULL || (cert = make_ca_cert(key, name, st)) == NULL) {
		pki_ssl_err("--init: cannot make the CA");
		goto out;
	}
	if ((key_pem = pki_key_to_pem(key, pass)) == NULL)
		goto out;
	if (o->ca_cert_file != NULL)
		rc = write_files(o, cert, key_pem);
	else
		rc = write_record(st, cert, key_pem, algo);
	if (rc == 0)
		pki_info("new CA \"%s\" (%s), valid %ld days", dn, algo,
		    st->ca_days);
out:
	pki_free_secret(key_pem);
	X509_free(cert);
	EVP_PKEY_free(key);
	X509_NAME_free(name);
	return rc == 0 ? PKI_EXIT_OK : PKI_EXIT_FATAL;
}
