/*
 * pem.c - a certificate made elsewhere, with its key and chain, as a
 * record of action "import": what it is called, its algorithm, names,
 * dates, serial and hash are read from the certificate itself, and the
 * key must belong to it.  pki-store then checks it all again and stores
 * it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>

#include "import.h"

#define CERT_MAX	(1024 * 1024)	/* largest certificate or chain file */
#define KEY_MAX		(64 * 1024)	/* largest key file */

/* What was read of the files. */
struct pem {
	X509		*cert;		/* the first certificate of --cert */
	char		*chain;		/* the others and --chain's, PEM */
	char		*key;		/* the key, PKCS#8 PEM (secret) */
	const char	*algo;		/* "rsa" or "ec" */
	json_t		*names;		/* the names it covers, no repeats */
};

static void
pem_free(struct pem *p)
{
	X509_free(p->cert);
	free(p->chain);
	pki_free_secret(p->key);
	json_decref(p->names);
}

/* Append the PEM of each certificate of CERTS from index FROM to *CHAIN
 * (a growing string the caller frees); 0 / -1. */
static int
append_chain(char **chain, STACK_OF(X509) *certs, int from)
{
	char *pem, *more;
	size_t len;
	int i;

	for (i = from; i < sk_X509_num(certs); i++) {
		if ((pem = pki_cert_to_pem(sk_X509_value(certs, i))) == NULL)
			return -1;
		len = *chain != NULL ? strlen(*chain) : 0;
		if ((more = realloc(*chain, len + strlen(pem) + 1)) == NULL) {
			free(pem);
			return -1;
		}
		memcpy(more + len, pem, strlen(pem) + 1);
		*chain = more;
		free(pem);
	}
	return 0;
}

/* The certificates of FILE; the first into P->cert when FIRST, the
 * others (all, if not FIRST) appended to P->chain. */
static int
read_certs(json_t *rec, struct pem *p, const char *what, const char *file,
    int first)
{
	STACK_OF(X509) *certs = NULL;
	char *text;
	int rc = -1;

	if ((text = pki_read_file(file, CERT_MAX)) == NULL)
		return pki_rec_error(rec, what, "%s: cannot be read", file);
	if ((certs = pki_certs_from_pem(text)) == NULL ||
	    sk_X509_num(certs) == 0)
		pki_rec_error(rec, what, "%s: no PEM certificate", file);
	else if (append_chain(&p->chain, certs, first ? 1 : 0) == -1)
		pki_rec_error(rec, what, "%s: out of memory", file);
	else {
		if (first) {
			p->cert = sk_X509_value(certs, 0);
			X509_up_ref(p->cert);
		}
		rc = 0;
	}
	sk_X509_pop_free(certs, X509_free);
	free(text);
	return rc;
}

/* The key of FILE into P->key, checked against P->cert. */
static int
read_key(json_t *rec, struct pem *p, const char *file)
{
	char why[512], *text;
	const char *reason;
	EVP_PKEY *key;
	int rc = -1;

	if ((text = pki_read_shared_secret("key file", file, KEY_MAX, NULL,
	    why, sizeof(why))) == NULL)
		return pki_rec_error(rec, "key", "%s", why);
	if ((key = pki_key_from_pem(text, NULL, &reason)) == NULL)
		pki_rec_error(rec, "key", "%s: %s", file, reason);
	else if (X509_check_private_key(p->cert, key) != 1)
		pki_rec_error(rec, "key", "%s does not belong to the "
		    "certificate", file);
	else if ((p->key = pki_key_to_pem(key, NULL)) == NULL)
		pki_rec_error(rec, "key", "%s: cannot encode", file);
	else
		rc = 0;
	ERR_clear_error();
	EVP_PKEY_free(key);
	pki_free_secret(text);
	return rc;
}

/* The names of P->cert without repeats; NAME (if not NULL) must be one. */
static int
read_names(json_t *rec, struct pem *p, const char *name)
{
	json_t *all, *v, *u;
	size_t i, j;
	int found = name == NULL;

	if ((all = pki_cert_names(p->cert)) == NULL ||
	    json_array_size(all) == 0) {
		json_decref(all);
		return pki_rec_error(rec, "cert", "covers no name pki can "
		    "read");
	}
	p->names = json_array();
	json_array_foreach(all, i, v) {
		json_array_foreach(p->names, j, u)
			if (json_equal(u, v))
				break;
		if (j == json_array_size(p->names))
			json_array_append(p->names, v);
		if (name != NULL && strcasecmp(name, json_string_value(v)) == 0)
			found = 1;
	}
	json_decref(all);
	if (!found)
		return pki_rec_error(rec, "name", "%s is not a name the "
		    "certificate covers", name);
	if (name == NULL)
		json_object_set(rec, "name", json_array_get(p->names, 0));
	return 0;
}

/* Fill REC with what P holds: name, names, algorithm, cert and key. */
static int
fill(json_t *rec, const struct pem *p)
{
	const char *name = pki_str(rec, "name");	/* read_names() */
	json_t *alt = json_array(), *v, *cert;
	size_t i;

	json_array_foreach(p->names, i, v)
		if (strcasecmp(json_string_value(v), name) != 0)
			json_array_append(alt, v);
	if ((cert = pki_cert_json(p->cert, p->chain ? p->chain : "")) ==
	    NULL) {
		json_decref(alt);
		return pki_rec_error(rec, "cert", "cannot be described");
	}
	json_object_set_new(rec, "altnames", alt);
	json_object_set_new(rec, "algos", json_pack("[s]", p->algo));
	json_object_set_new(rec, "cert", json_pack("{s:o}", p->algo, cert));
	json_object_set_new(rec, "key", json_pack("{s:s}", p->algo, p->key));
	return 0;
}

/* The record's start: its identity, what to do and where it came from. */
static json_t *
new_record(const struct import_opts *o)
{
	json_t *rec, *imp;

	imp = json_pack("{s:s, s:s}", "state", o->state, "source",
	    o->source != NULL ? o->source : o->cert);
	rec = json_pack("{s:s, s:s, s:s, s:s, s:o}", "name", o->name != NULL ?
	    o->name : o->source != NULL ? o->source : o->cert,
	    "subject_type", "server", "ca", o->ca, "action", "import",
	    "import", imp);
	return rec;
}

int
import_pem(const struct import_opts *o)
{
	struct pem p = { 0 };
	json_t *rec;
	int status = PKI_EXIT_OK;

	if ((rec = new_record(o)) == NULL) {
		pki_err("out of memory");
		return PKI_EXIT_FATAL;
	}
	/* The certificate first, so that the errors of the others name
	 * the record by the certificate's name. */
	if (read_certs(rec, &p, "cert", o->cert, 1) == 0 &&
	    read_names(rec, &p, o->name) == 0 &&
	    (o->chain == NULL || read_certs(rec, &p, "chain", o->chain,
	    0) == 0) && read_key(rec, &p, o->key) == 0) {
		if ((p.algo = pki_key_algo(X509_get0_pubkey(p.cert))) == NULL)
			pki_rec_error(rec, "cert", "its key is neither RSA nor "
			    "EC");
		else
			fill(rec, &p);
	}
	if (pki_rec_failed(rec))
		status = PKI_EXIT_RECORD;
	pem_free(&p);
	if (pki_out(rec) == -1)
		status = PKI_EXIT_FATAL;
	json_decref(rec);
	pki_out_close();
	return status;
}
