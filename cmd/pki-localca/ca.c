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

/* Why CERT, to be imported, is not a CA's: basicConstraints CA:TRUE and
 * keyUsage keyCertSign (RFC 5280 4.2.1.3, 4.2.1.9); NULL if it is. */
static const char *
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

/* The CA of CERT_FILE (public, read as any file) and KEY_FILE (a secret
 * file); 0 / -1 with ca->why set. */
static int
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

/* The root that signs a new intermediate: of --root-cert and --root-key,
 * else the database's; 0 / -1 (reported). */
static int
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

/* The extensions of a CA of ROLE: a root may sign intermediates only, an
 * intermediate (or a single CA) certificates only (RFC 5280 4.2.1.9). */
static int
ca_exts(X509 *cert, X509 *issuer, enum ca_role role)
{
	return add_ext(cert, issuer, NID_basic_constraints, role == CA_ROOT ?
	    "critical,CA:TRUE,pathlen:1" : role == CA_INTERMEDIATE ?
	    "critical,CA:TRUE,pathlen:0" : "critical,CA:TRUE") == -1 ||
	    add_ext(cert, issuer, NID_key_usage, role == CA_ROOT ?
	    "critical,keyCertSign,cRLSign" :
	    "critical,keyCertSign,cRLSign,digitalSignature") == -1 ||
	    add_ext(cert, issuer, NID_subject_key_identifier, "hash") == -1 ||
	    add_ext(cert, issuer, NID_authority_key_identifier,
	    "keyid:always") == -1 ? -1 : 0;
}

/* A CA certificate for KEY named NAME, valid DAYS days: self-signed, or
 * signed by ISSUER (then cut to the issuer's not_after). */
static X509 *
make_ca_cert(EVP_PKEY *key, X509_NAME *name, const struct settings *st,
    long days, enum ca_role role, const struct ca *issuer)
{
	ASN1_INTEGER *serial;
	X509 *cert;
	X509 *signer_cert;
	EVP_PKEY *signer;

	if ((cert = X509_new()) == NULL)
		return NULL;
	signer_cert = issuer != NULL ? issuer->cert : cert;
	signer = issuer != NULL ? issuer->key : key;
	if ((serial = random_serial()) == NULL ||
	    !X509_set_version(cert, X509_VERSION_3) ||
	    !X509_set_serialNumber(cert, serial) ||
	    !X509_set_subject_name(cert, name) ||
	    !X509_set_issuer_name(cert, X509_get_subject_name(signer_cert)) ||
	    X509_gmtime_adj(X509_getm_notBefore(cert), -st->backdate) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(cert), (int)days, 0,
	    NULL) == NULL ||
	    (issuer != NULL && ASN1_TIME_compare(X509_get0_notAfter(cert),
	    X509_get0_notAfter(issuer->cert)) > 0 &&
	    !X509_set1_notAfter(cert, X509_get0_notAfter(issuer->cert))) ||
	    !X509_set_pubkey(cert, key) ||
	    ca_exts(cert, signer_cert, role) == -1 ||
	    !X509_sign(cert, signer, pki_digest_for(signer))) {
		X509_free(cert);
		cert = NULL;
	}
	ASN1_INTEGER_free(serial);
	return cert;
}

/* CERT and CHAIN_PEM into FILE. */
static int
write_cert_file(const char *file, X509 *cert, const char *chain_pem)
{
	char *cert_pem, *all;
	int rc = -1;

	if ((cert_pem = pki_cert_to_pem(cert)) == NULL)
		return -1;
	if ((all = malloc(strlen(cert_pem) + strlen(chain_pem) + 1)) != NULL) {
		strcpy(all, cert_pem);
		strcat(all, chain_pem);
		rc = pki_write_file(file, all, strlen(all), 0644);
		free(all);
	}
	free(cert_pem);
	return rc;
}

static int
write_files(const struct opts *o, X509 *cert, const char *chain_pem,
    const char *key_pem)
{
	int rc;

	rc = pki_write_file(o->ca_key_file, key_pem, strlen(key_pem), 0600);
	if (rc == 0)
		rc = write_cert_file(o->ca_cert_file, cert, chain_pem);
	return rc;
}

/* The CA NAME (certificate CERT under CHAIN_PEM) as a record of ACTION for
 * pki-store. */
static int
write_record(const char *name, X509 *cert, const char *chain_pem,
    const char *key_pem, const char *algo, const char *action)
{
	json_t *rec, *entry;
	int rc;

	if ((entry = pki_cert_json(cert, chain_pem)) == NULL)
		return -1;
	rec = json_pack("{s:s, s:s, s:s, s:[s], s:s, s:{s:s}, s:{s:o}}",
	    "name", name, "subject_type", "CA", "ca", "local",
	    "algos", algo, "action", action, "key", algo, key_pem,
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

/* The name of the CA's Subjects row for ROLE. */
static const char *
role_name(const struct settings *st, enum ca_role role)
{
	return role == CA_ROOT ? st->root_name : st->subject_name;
}

/* A new key of ALGO for a CA; NULL (error queue). */
static EVP_PKEY *
ca_keygen(const struct settings *st, const char *algo)
{
	if (strcmp(algo, "ec") == 0)
		return EVP_PKEY_Q_keygen(NULL, NULL, "EC", st->ca_ec_curve);
	return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)st->ca_rsa_bits);
}

/* The new CA's certificate and its chain out, with KEY encrypted. */
static int
ca_init_out(const struct settings *st, const struct opts *o, X509 *cert,
    EVP_PKEY *key, const char *chain_pem, const char *pass, const char *algo)
{
	char *key_pem;
	int rc;

	if ((key_pem = pki_key_to_pem(key, pass)) == NULL)
		return -1;
	if (o->ca_cert_file != NULL)
		rc = write_files(o, cert, chain_pem, key_pem);
	else
		rc = write_record(role_name(st, o->role), cert, chain_pem,
		    key_pem, algo, "ca-init");
	pki_free_secret(key_pem);
	return rc;
}

/* No passphrase for the key WHAT, which is stored encrypted: said; the
 * exit status. */
static int
no_pass(const char *what)
{
	pki_err("%s is encrypted: give its passphrase with --passphrase-file "
	    "FILE or PKI_CA_PASSPHRASE_FILE", what);
	return PKI_EXIT_FATAL;
}

int
ca_init(const struct settings *st, const struct opts *o, const char *pass)
{
	const char *algo = o->algo != NULL ? o->algo : st->ca_algo;
	const char *dn = o->subject != NULL ? o->subject :
	    o->role == CA_ROOT ? st->root_dn : st->ca_dn;
	long days = o->role == CA_ROOT ? st->root_days : st->ca_days;
	X509_NAME *name = NULL;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	struct ca root;
	int rc = -1;

	memset(&root, 0, sizeof(root));
	if (pass == NULL)
		return no_pass("--init: the new CA key");
	if (o->days > 0)
		days = o->days;
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
	if (o->role == CA_INTERMEDIATE && root_load(&root, st, o, pass) == -1)
		goto out;
	if ((key = ca_keygen(st, algo)) == NULL || (cert = make_ca_cert(key,
	    name, st, days, o->role, o->role == CA_INTERMEDIATE ? &root :
	    NULL)) == NULL) {
		pki_ssl_err("--init: cannot make the CA");
		goto out;
	}
	rc = ca_init_out(st, o, cert, key, root.cert_pem != NULL ?
	    root.cert_pem : "", pass, algo);
	if (rc == 0)
		pki_info("new %sCA \"%s\" (%s), valid %ld days",
		    o->role == CA_ROOT ? "root " : o->role == CA_INTERMEDIATE ?
		    "intermediate " : "", dn, algo, days);
out:
	ca_free(&root);
	X509_free(cert);
	EVP_PKEY_free(key);
	X509_NAME_free(name);
	return rc == 0 ? PKI_EXIT_OK : PKI_EXIT_FATAL;
}

/* The length of CERT's PEM, which starts the CA's cert_pem. */
static size_t
own_len(X509 *cert)
{
	char *pem = pki_cert_to_pem(cert);
	size_t n = pem != NULL ? strlen(pem) : 0;

	free(pem);
	return n;
}

int
ca_import(const struct settings *st, const struct opts *o, const char *pass)
{
	struct ca ca;
	const char *why, *algo;
	char *key_pem = NULL;
	int rc = -1;

	memset(&ca, 0, sizeof(ca));
	if (pass == NULL)
		return no_pass("--import: the CA key");
	if (ca_from_files(&ca, o->ca_cert_file, o->ca_key_file, pass) == -1)
		pki_err("--import: %s", ca.why);
	else if ((why = not_a_ca(ca.cert)) != NULL)
		pki_err("--import: %s: %s", o->ca_cert_file, why);
	else if ((algo = pki_key_algo(ca.key)) == NULL)
		pki_err("--import: %s: not an RSA or EC key", o->ca_key_file);
	else if ((key_pem = pki_key_to_pem(ca.key, pass)) != NULL)
		rc = write_record(role_name(st, o->role), ca.cert,
		    ca.cert_pem + own_len(ca.cert), key_pem, algo,
		    "ca-import");
	pki_free_secret(key_pem);
	ca_free(&ca);
	return rc == 0 ? PKI_EXIT_OK : PKI_EXIT_FATAL;
}
