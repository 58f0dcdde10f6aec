/*
 * make.c - pki-localca makes a new CA (--init: a single CA, a root or an
 * intermediate signed by the root) or takes in one made elsewhere
 * (--import).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/x509v3.h>

#include "localca.h"

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
