/*
 * record.c - what pki-store does to the database for one record.
 *
 * Every statement goes through PQexecParams; certificates and keys are
 * PEM text stored in serverPKI's BYTEA columns with convert_to().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

PGresult *
store_sql(struct store *st, json_t *rec, const char *sql, int n,
    const char *const *p)
{
	PGresult *res;
	char why[512];

	if ((res = pki_db_query(st->db, sql, n, p, why, sizeof(why))) == NULL)
		pki_rec_error(rec, NULL, "database: %s", why);
	return res;
}

/* The first value of SQL's result into BUF ("" if no row); 0 / -1. */
static int
run_value(struct store *st, json_t *rec, const char *sql, int n,
    const char *const *p, char *buf, size_t size)
{
	PGresult *res;

	if ((res = store_sql(st, rec, sql, n, p)) == NULL)
		return -1;
	snprintf(buf, size, "%s", PQntuples(res) > 0 ?
	    PQgetvalue(res, 0, 0) : "");
	PQclear(res);
	return 0;
}

static int
log_event(struct store *st, json_t *rec, const char *cert, const char *inst,
    const char *stage, const char *level, const char *msg)
{
	const char *p[6] = { cert, inst, pki_str(rec, "name"), stage, level,
	    msg };
	PGresult *res;

	res = store_sql(st, rec, "INSERT INTO events (certificate, instance, name, "
	    "stage, level, message) VALUES ($1::int4, $2::int4, $3, $4, $5, "
	    "$6)", 6, p);
	PQclear(res);
	return res != NULL ? 0 : -1;
}

void
store_row_id(const json_t *v, char id[24])
{
	json_int_t n = json_integer_value(v);

	*id = '\0';
	if (json_is_integer(v) && n > 0 && n <= 2147483647)
		snprintf(id, 24, "%lld", (long long)n);
}

/* The record's instance id and state, if it has one. */
static const char *
instance(const json_t *rec, char id[24])
{
	json_t *inst = json_object_get(rec, "instance");

	store_row_id(json_object_get(inst, "id"), id);
	return pki_str(inst, "state");
}

static void
record_id(const json_t *rec, char id[24])
{
	store_row_id(json_object_get(rec, "id"), id);
}

void
store_forget(struct store *st)
{
	free(st->chain);
	st->chain = NULL;
}

/* Release a claim that will not become an instance. */
static int
release(struct store *st, json_t *rec, struct outcome *out)
{
	const char *state, *p[1];
	char id[24];
	PGresult *res;

	state = instance(rec, id);
	if (*id == '\0' || state == NULL || strcmp(state, "reserved") != 0)
		return 0;
	p[0] = id;
	res = store_sql(st, rec, "DELETE FROM certinstances WHERE id = $1::int4 "
	    "AND state = 'reserved'", 1, p);
	PQclear(res);
	if (res == NULL)
		return -1;
	out->what = RELEASED;
	return 0;
}

int
store_has_key(const json_t *rec, const char *text)
{
	const json_t *keys = json_object_get(rec, "key"), *k;
	const char *algo, *pem, *nl;
	char line[80];
	size_t len;

	if (strstr(text, "-----BEGIN") != NULL || strstr(text, "PRIVATE KEY"))
		return 1;
	json_object_foreach((json_t *)keys, algo, k) {
		for (pem = json_string_value(k); pem != NULL && *pem != '\0';
		    pem = nl != NULL ? nl + 1 : "") {
			nl = strchr(pem, '\n');
			len = nl != NULL ? (size_t)(nl - pem) : strlen(pem);
			if (len < 16 || len >= sizeof(line) || *pem == '-')
				continue;
			memcpy(line, pem, len);
			line[len] = '\0';
			if (strstr(text, line) != NULL)
				return 1;
		}
	}
	return 0;
}

int
store_failure(struct store *st, json_t *rec, struct outcome *out)
{
	json_t *errors = json_object_get(rec, "errors"), *e;
	const char *stage, *field, *msg;
	char cert[24], inst[24], text[1200];
	size_t i;

	/* A checkpoint stores orders only and touches no claim: the pki-store
	 * at the end of the pipeline logs the record's errors, this one's
	 * too, and releases its claim. */
	if (st->checkpoint)
		return 0;
	record_id(rec, cert);
	instance(rec, inst);
	json_array_foreach(errors, i, e) {
		stage = pki_str(e, "stage");
		field = pki_str(e, "field");
		msg = pki_str(e, "message");
		snprintf(text, sizeof(text), "%s%s%s", field ? field : "",
		    field ? ": " : "", msg ? msg : "(no message)");
		if (store_has_key(rec, text))
			snprintf(text, sizeof(text), "%s%s(a message that "
			    "held key material, withheld)", field ? field : "",
			    field ? ": " : "");
		if (log_event(st, rec, *cert ? cert : NULL, *inst ? inst : NULL,
		    stage ? stage : "?", "error", text) == -1)
			return -1;
	}
	return release(st, rec, out);
}

/* The certificates.id of the CA certificate row NAME, made if missing. */
static int
ca_certificate_id(struct store *st, json_t *rec, const char *name,
    const char *type, const char *algo, char id[24])
{
	const char *p[3] = { name, type, algo };

	if (run_value(st, rec, "SELECT certificate FROM subjects "
	    "WHERE name = $1 AND NOT isaltname AND type = 'CA'", 1, p,
	    id, 24) == -1)
		return -1;
	if (*id != '\0')
		return 0;
	if (run_value(st, rec, "WITH c AS (INSERT INTO certificates "
	    "(type, encryption_algo) VALUES ($2::dd.cert_type, "
	    "$3::dd.cert_encryption_algo) RETURNING id), "
	    "s AS (INSERT INTO subjects (type, name, isaltname, certificate) "
	    "SELECT 'CA', $1, false, id FROM c) SELECT id FROM c",
	    3, p, id, 24) == -1)
		return -1;
	pki_info("new CA certificate \"%s\"", name);
	return 0;
}

/* Insert an 'issued' instance; CACERT NULL: the instance is its own CA. */
static int
new_instance(struct store *st, json_t *rec, const char *cert,
    const char *cacert, const char *staple, const char *nb, const char *na,
    char id[24])
{
	const char *p[5] = { cert, cacert, staple, nb, na };

	return run_value(st, rec, "INSERT INTO certinstances (id, certificate, "
	    "state, ocsp_must_staple, cacert, not_before, not_after) "
	    "SELECT n, $1::int4, 'issued', $3::bool, COALESCE($2::int4, n), "
	    "$4::timestamp, $5::timestamp FROM nextval(pg_get_serial_sequence("
	    "'pki.certinstances', 'id')) AS n RETURNING id", 5, p, id, 24);
}

static int
add_keydata(struct store *st, json_t *rec, const char *inst,
    const char *algo, const char *cert_pem, const char *key_pem,
    const char *hash)
{
	const char *p[5] = { inst, algo, cert_pem, key_pem, hash };
	PGresult *res;

	res = store_sql(st, rec, "INSERT INTO certkeydata (certinstance, "
	    "encryption_algo, cert, key, hash) VALUES ($1::int4, "
	    "$2::dd.cert_encryption_algo, convert_to($3, 'UTF8'), "
	    "convert_to($4, 'UTF8'), $5)", 5, p);
	PQclear(res);
	return res != NULL ? 0 : -1;
}

/*
 * The instance of CA certificate CERT, stored (without key) as an instance
 * of the CA certificate row for KIND ("local": the local CA's name, else
 * "ACME CA") if pki does not know it yet.  ISSUER: the instance of its own
 * issuer, "" if unknown (the instance then ends the chain).
 */
static int
ca_instance(struct store *st, json_t *rec, X509 *cert, const char *kind,
    const char *issuer, char id[24])
{
	const char *p[2], *algo;
	char hash[65], nb[32], na[32], name[65], row[24], *pem;
	int rc;

	if (pki_cert_sha256(cert, hash) == -1)
		return pki_rec_error(rec, "cert", "cannot hash CA certificate");
	p[0] = hash;
	p[1] = strcmp(kind, "local") == 0 ? "local" : "LE";
	if (run_value(st, rec, "SELECT k.certinstance FROM certkeydata k "
	    "JOIN certinstances i ON i.id = k.certinstance "
	    "JOIN certificates c ON c.id = i.certificate "
	    "JOIN subjects s ON s.certificate = c.id AND NOT s.isaltname "
	    "WHERE k.hash = $1 AND s.type = 'CA' AND c.type = "
	    "$2::dd.cert_type", 2, p, id, 24) == -1)
		return -1;
	if (*id != '\0')
		return 0;
	/* The local CA is made by pki ca init; a CA pki does not know is
	 * never taken for it. */
	if (strcmp(kind, "local") == 0)
		return pki_rec_error(rec, "cert", "issued by a CA that is not "
		    "pki's local CA (%s)", hash);
	snprintf(name, sizeof(name), "ACME CA");
	if ((algo = pki_key_algo(X509_get0_pubkey(cert))) == NULL)
		algo = "rsa";
	if (ca_certificate_id(st, rec, name, "LE", algo, row) == -1)
		return -1;
	if (pki_time_rfc3339(X509_get0_notBefore(cert), nb) == -1 ||
	    pki_time_rfc3339(X509_get0_notAfter(cert), na) == -1 ||
	    (pem = pki_cert_to_pem(cert)) == NULL)
		return pki_rec_error(rec, "cert", "unreadable CA certificate");
	rc = new_instance(st, rec, row, *issuer ? issuer : NULL, "f", nb, na,
	    id);
	if (rc == 0)
		rc = add_keydata(st, rec, id, algo, pem, "", hash);
	free(pem);
	return rc;
}

/* The instance of the CA that issued a certificate with CHAIN, storing
 * the chain's certificates pki does not know yet. */
static int
issuer_instance(struct store *st, json_t *rec, const char *chain,
    char id[24])
{
	STACK_OF(X509) *certs;
	const char *ca = pki_str(rec, "ca");
	char up[24] = "";
	int i, rc = 0;

	if (st->chain != NULL && strcmp(chain, st->chain) == 0) {
		snprintf(id, 24, "%ld", st->ca_instance);
		return 0;	/* the same CA as the record before */
	}
	if ((certs = pki_certs_from_pem(chain)) == NULL ||
	    sk_X509_num(certs) == 0) {
		sk_X509_free(certs);
		return pki_rec_error(rec, "cert", "no chain: the issuing CA "
		    "is unknown");
	}
	for (i = sk_X509_num(certs) - 1; i >= 0 && rc == 0; i--) {
		rc = ca_instance(st, rec, sk_X509_value(certs, i),
		    ca != NULL ? ca : "local", up, id);
		snprintf(up, sizeof(up), "%s", id);
	}
	if (rc == 0) {
		free(st->chain);
		st->chain = strdup(chain);
		st->ca_instance = atol(id);
	}
	sk_X509_pop_free(certs, X509_free);
	return rc;
}

/*
 * The key of ALGO as it is to be stored, after checking it belongs to the
 * certificate's public key SPKI (DER):
 * encrypted with the database passphrase when the database keeps keys
 * encrypted, else in clear.  A key that arrives encrypted must open with
 * that passphrase.  A CA's key is stored as it came, encrypted with the
 * CA's own passphrase.  Caller frees with pki_free_secret().
 */
static char *
key_at_rest(struct store *st, json_t *rec, const char *algo,
    const unsigned char *spki, long spkilen, int is_ca)
{
	const char *pem = pki_str(json_object_get(rec, "key"), algo), *why;
	char field[16], *out;
	EVP_PKEY *key;
	int sealed;

	snprintf(field, sizeof(field), "key.%s", algo);
	if (pem == NULL) {
		pki_rec_error(rec, field, "missing");
		return NULL;
	}
	sealed = pki_pem_is_encrypted(pem);
	if (is_ca) {
		if (sealed)
			return strdup(pem);
		pki_rec_error(rec, field, "a CA key must be encrypted with the "
		    "CA passphrase");
		return NULL;
	}
	if ((st->encrypted || sealed) && st->pass == NULL) {
		/* Only a database that wants its keys encrypted makes this
		 * a setup error; a key that came encrypted is the record's. */
		if (st->encrypted)
			st->setup_error = 1;
		pki_rec_error(rec, field, "%s: give --passphrase-file FILE or "
		    "PKI_DB_PASSPHRASE_FILE", sealed ? "the key is encrypted" :
		    "the database keeps keys encrypted");
		return NULL;
	}
	if ((key = pki_key_from_pem(pem, sealed ? st->pass : NULL,
	    &why)) == NULL) {
		pki_rec_error(rec, field, "%s", why);
		return NULL;
	}
	if (pki_key_matches_spki(key, spki, spkilen) == -1) {
		EVP_PKEY_free(key);
		pki_rec_error(rec, field, "does not belong to the certificate");
		return NULL;
	}
	if (st->encrypted == sealed)
		out = strdup(pem);
	else
		out = pki_key_to_pem(key, st->encrypted ? st->pass : NULL);
	EVP_PKEY_free(key);
	if (out == NULL)
		pki_rec_error(rec, field, "cannot encode");
	return out;
}

/*
 * A certificate whose key pki never had (CSR input, no key in REC): 0 if
 * the public key SPKI (DER) of its certificate of ALGO is the key of
 * csr.ALGO, else -1 (error added).
 */
static int
csr_is_certs(json_t *rec, const char *algo, const unsigned char *spki,
    long spkilen)
{
	X509_REQ *req = pki_csr_from_pem(pki_str(json_object_get(rec, "csr"),
	    algo));
	EVP_PKEY *pub = d2i_PUBKEY(NULL, &spki, spkilen);
	char field[16];
	int ok, has = req != NULL;

	ok = has && pub != NULL &&
	    EVP_PKEY_eq(pub, X509_REQ_get0_pubkey(req)) == 1;
	EVP_PKEY_free(pub);
	X509_REQ_free(req);
	if (ok)
		return 0;
	snprintf(field, sizeof(field), "%s.%s", has ? "csr" : "key", algo);
	return pki_rec_error(rec, field, has ? "its key is not the "
	    "certificate's" : "missing");
}

/*
 * The one statement that stores an instance: the record's claim turned
 * into an 'issued' instance (or a new one when the record has no claim),
 * its certificates and keys, and the event.  The certificate is found by
 * name (and id, when the record has one) and must be configured for
 * exactly the names its certificates cover; the claim must still be this
 * run's.  A certificate stored before (a record stored again after a lost
 * connection or from the spool) is not stored twice.
 * $1 name, $2 id, $3 claim, $4 must-staple, $5 CA instance (NULL: the
 * instance is its own CA), $6 not_before, $7 not_after,
 * $8 [{algo, cert, key, hash}], $9 the names covered (sorted, lower case,
 * space-separated; NULL: not checked), $10 the claim's run.
 * Columns: 0 the new instance, 1 the instance that has the certificate
 * already, 2 its state, 3 whether the certificate exists, 4 its names,
 * 5 the claim's state and run now.
 */
#define PUT_INSTANCE \
	"WITH cert AS (SELECT certificate AS id FROM subjects " \
	"  WHERE NOT isaltname AND name = $1 " \
	"  AND ($2::int4 IS NULL OR certificate = $2::int4)), " \
	"want AS (SELECT string_agg(lower(s.name::text), ' ' ORDER BY " \
	"  lower(s.name::text) COLLATE \"C\") AS names FROM subjects s, cert " \
	"  WHERE s.certificate = cert.id), " \
	"ok AS (SELECT cert.id FROM cert, want " \
	"  WHERE $9::text IS NULL OR want.names = $9::text), " \
	"known AS (SELECT i.id, i.state FROM certkeydata k JOIN certinstances " \
	"  i ON i.id = k.certinstance JOIN ok ON ok.id = i.certificate " \
	"  WHERE k.hash IN (SELECT r->>'hash' FROM json_array_elements(" \
	"  $8::json) r) LIMIT 1), " \
	"claim AS (UPDATE certinstances i SET state = 'issued', " \
	"  ocsp_must_staple = $4::bool, cacert = $5::int4, " \
	"  not_before = $6::timestamp, not_after = $7::timestamp " \
	"  FROM ok WHERE i.id = $3::int4 AND i.certificate = ok.id " \
	"  AND i.state = 'reserved' AND i.run IS NOT DISTINCT FROM $10::int4 " \
	"  AND NOT EXISTS (SELECT 1 FROM known) RETURNING i.id, i.certificate), " \
	"fresh AS (INSERT INTO certinstances (id, certificate, state, " \
	"  ocsp_must_staple, cacert, not_before, not_after) " \
	"  SELECT n, ok.id, 'issued', $4::bool, COALESCE($5::int4, n), " \
	"  $6::timestamp, $7::timestamp FROM ok, nextval(" \
	"  pg_get_serial_sequence('pki.certinstances', 'id')) AS n " \
	"  WHERE $3::int4 IS NULL AND NOT EXISTS (SELECT 1 FROM known) " \
	"  RETURNING id, certificate), " \
	"inst AS (SELECT * FROM claim UNION ALL SELECT * FROM fresh), " \
	"kd AS (INSERT INTO certkeydata (certinstance, encryption_algo, " \
	"  cert, key, hash) SELECT inst.id, k.algo::dd.cert_encryption_algo, " \
	"  convert_to(k.cert, 'UTF8'), convert_to(k.key, 'UTF8'), k.hash " \
	"  FROM inst, json_to_recordset($8::json) " \
	"  AS k(algo text, cert text, key text, hash text)), " \
	"ev AS (INSERT INTO events (certificate, instance, name, stage, " \
	"  level, message) SELECT inst.certificate, inst.id, $1, " \
	"  'pki-store', 'info', 'issued instance ' || inst.id || ', valid ' " \
	"  || $6 || ' to ' || $7 FROM inst) " \
	"SELECT (SELECT id FROM inst), (SELECT id FROM known), " \
	"  (SELECT state FROM known), EXISTS (SELECT 1 FROM cert), " \
	"  (SELECT names FROM want), (SELECT state || coalesce(' of ' || " \
	"  run_text(run), '') FROM certinstances WHERE id = $3::int4)"

/*
 * [{algo, cert, key, hash}] of REC's certificates, as JSON text holding
 * keys (caller frees with pki_free_secret()); NULL after adding an error.
 */
static char *
keydata_json(struct store *st, json_t *rec, int is_ca)
{
	json_t *certs = json_object_get(rec, "cert"), *entry, *rows;
	const unsigned char *spki;
	const char *algo, *pem;
	unsigned char *der, md[32];
	char hash[65], *key, *text;
	long len, spkilen;
	int ok;

	rows = json_array();
	json_object_foreach(certs, algo, entry) {
		der = NULL;	/* each turn's own: freed below */
		pem = pki_str(entry, "pem");
		if (!pki_algo_valid(algo) || (der = pki_pem_der(pem,
		    "CERTIFICATE", 0, &len)) == NULL ||
		    pki_der_spki(der, len, &spki, &spkilen) == -1 ||
		    !EVP_Digest(der, (size_t)len, md, NULL, EVP_sha256(), NULL)) {
			OPENSSL_free(der);
			json_decref(rows);
			pki_rec_error(rec, "cert", "%s: no PEM certificate",
			    algo);
			return NULL;
		}
		pki_hex(md, sizeof(md), hash);
		key = NULL;
		if (!is_ca && pki_rec_keyless(rec))
			ok = csr_is_certs(rec, algo, spki, spkilen);
		else
			ok = (key = key_at_rest(st, rec, algo, spki, spkilen,
			    is_ca)) != NULL ? 0 : -1;
		OPENSSL_free(der);
		if (ok == -1) {
			json_decref(rows);
			return NULL;
		}
		json_array_append_new(rows, json_pack("{s:s, s:s, s:s?, s:s}",
		    "algo", algo, "cert", pem, "key", key, "hash", hash));
		pki_free_secret(key);
	}
	text = pki_json_text(rows, JSON_COMPACT);
	json_decref(rows);
	if (text == NULL)
		pki_rec_error(rec, "cert", "out of memory");
	return text;
}

/* Why PUT_INSTANCE's row RES stored nothing for REC (claim CLAIM, the
 * names NAMES covered); -1. */
static int
refused(json_t *rec, PGresult *res, const char *claim, const char *names)
{
	if (strcmp(PQgetvalue(res, 0, 3), "t") != 0)
		return pki_rec_error(rec, "name", "no such certificate in the "
		    "database (pki cert add makes one)");
	if (names != NULL && strcmp(PQgetvalue(res, 0, 4), names) != 0)
		return pki_rec_error(rec, "cert", "covers %s, but %s is "
		    "configured for %s", names, pki_rec_name(rec),
		    PQgetvalue(res, 0, 4));
	if (PQgetisnull(res, 0, 5))
		return pki_rec_error(rec, "instance", "claim %s is gone: "
		    "another run took it over (this run was held for dead); "
		    "not stored", claim);
	return pki_rec_error(rec, "instance", "claim %s is not this run's: "
	    "it is %s now; not stored", claim, PQgetvalue(res, 0, 5));
}

/* The record's claim: its id into CLAIM and its run into RUN ("" if
 * none). */
static void
record_claim(json_t *rec, char claim[24], char run[24])
{
	const char *state = instance(rec, claim);

	store_row_id(json_object_get(json_object_get(rec, "instance"), "run"), run);
	if (state == NULL || strcmp(state, "reserved") != 0)
		*claim = '\0';
}

/*
 * Store REC's certificates (checked: SEEN) as one instance: its id into
 * INST and its state into STATE.
 */
static int
put_instance(struct store *st, json_t *rec, const char *cert,
    const char *cacert, const struct seen *seen, int is_ca, char inst[24],
    char state[16], int *fresh)
{
	const char *p[10];
	char claim[24], run[24], why[512], *keys;
	PGresult *res;
	int rc = 0;

	record_claim(rec, claim, run);
	if ((keys = keydata_json(st, rec, is_ca)) == NULL)
		return -1;
	p[0] = pki_str(rec, "name");
	p[1] = *cert ? cert : NULL;
	p[2] = *claim ? claim : NULL;
	p[3] = json_is_true(json_object_get(rec, "ocsp_must_staple")) ?
	    "t" : "f";
	p[4] = *cacert ? cacert : NULL;
	p[5] = seen->nb;
	p[6] = seen->na;
	p[7] = keys;
	p[8] = is_ca ? NULL : seen->names;
	p[9] = *run ? run : NULL;
	res = pki_db_query_prepared(st->db, "put_instance", PUT_INSTANCE, 10,
	    p, why, sizeof(why));
	pki_free_secret(keys);
	if (res == NULL)
		return pki_rec_error(rec, NULL, "database: %s", why);
	if (!PQgetisnull(res, 0, 0)) {
		snprintf(inst, 24, "%s", PQgetvalue(res, 0, 0));
		snprintf(state, 16, "issued");
		*fresh = 1;
	} else if (!PQgetisnull(res, 0, 1)) {
		snprintf(inst, 24, "%s", PQgetvalue(res, 0, 1));
		snprintf(state, 16, "%s", PQgetvalue(res, 0, 2));
		pki_info("%s: stored before, as instance %s",
		    pki_rec_name(rec), inst);
	} else
		rc = refused(rec, res, claim, p[8]);
	PQclear(res);
	return rc;
}

/*
 * A CA certificate of REC that is stored with its key offline (an empty
 * key: pki ca root remove-key) gets REC's key back, which pki-localca
 * --import checked against it and encrypted with the CA passphrase.
 */
static int
ca_key_back(struct store *st, json_t *rec)
{
	json_t *certs = json_object_get(rec, "cert"), *entry;
	const char *algo, *p[3];
	char hash[65], inst[24], msg[128];
	X509 *cert;

	json_object_foreach(certs, algo, entry) {
		p[1] = pki_str(json_object_get(rec, "key"), algo);
		if (p[1] == NULL || !pki_pem_is_encrypted(p[1]))
			continue;	/* key_at_rest() says why */
		if ((cert = pki_cert_from_pem(pki_str(entry, "pem"))) == NULL)
			continue;	/* check_certs() said why */
		if (pki_cert_sha256(cert, hash) == -1) {
			X509_free(cert);
			return pki_rec_error(rec, "cert", "cannot hash it");
		}
		X509_free(cert);
		p[0] = hash;
		p[2] = pki_str(rec, "name");
		if (run_value(st, rec, "UPDATE certkeydata k SET key = "
		    "convert_to($2, 'UTF8') FROM certinstances i, subjects s "
		    "WHERE k.certinstance = i.id AND s.certificate = "
		    "i.certificate AND NOT s.isaltname AND s.type = 'CA' "
		    "AND s.name = $3 AND k.hash = $1 AND length(k.key) = 0 "
		    "RETURNING k.certinstance", 3, p, inst, sizeof(inst)) == -1)
			return -1;
		if (*inst == '\0')
			continue;
		snprintf(msg, sizeof(msg), "the key of CA instance %s is back "
		    "in the database", inst);
		pki_info("%s: %s", pki_rec_name(rec), msg);
		if (log_event(st, rec, NULL, inst, "pki-store", "info",
		    msg) == -1)
			return -1;
	}
	return 0;
}

static int
store_certs(struct store *st, json_t *rec, struct outcome *out)
{
	const char *type = pki_str(rec, "subject_type"), *ca;
	int is_ca = type != NULL && strcmp(type, "CA") == 0, rc = -1;
	char cert[24], cacert[24] = "", inst[24], state[16];
	const char *action = pki_str(rec, "action");
	struct seen seen;
	int fresh = 0;

	if (check_certs(rec, &seen) == -1)
		goto out;
	if (is_ca) {
		ca = pki_str(rec, "ca");
		if (ca_certificate_id(st, rec, pki_str(rec, "name"),
		    ca != NULL && strcmp(ca, "acme") == 0 ? "LE" : "local",
		    json_string_value(json_array_get(json_object_get(rec,
		    "algos"), 0)), cert) == -1)
			goto out;
		/* An intermediate CA is linked to its root. */
		if (seen.chain != NULL && *seen.chain != '\0' &&
		    issuer_instance(st, rec, seen.chain, cacert) == -1)
			goto out;
		if (ca_key_back(st, rec) == -1)
			goto out;
	} else {
		record_id(rec, cert);
		if (issuer_instance(st, rec, seen.chain != NULL ? seen.chain :
		    "", cacert) == -1)
			goto out;
	}
	if (put_instance(st, rec, cert, cacert, &seen, is_ca, inst,
	    state, &fresh) == -1 || store_tlsa(st, rec, inst) == -1)
		goto out;
	if (fresh && action != NULL && strcmp(action, "import") == 0 &&
	    store_import_state(st, rec, inst, state) == -1)
		goto out;
	out->what = INSTANCE;
	out->instance = atol(inst);
	snprintf(out->state, sizeof(out->state), "%s", state);
	pki_info("%s: %s instance %s, valid %s to %s", pki_rec_name(rec),
	    state, inst, seen.nb, seen.na);
	rc = 0;
out:
	free(seen.names);
	return rc;
}

int
store_record(struct store *st, json_t *rec, struct outcome *out)
{
	const char *state;
	char id[24];

	int r;

	out->what = KEPT;
	if ((r = store_order(st, rec, out)) != 1)	/* --checkpoint too */
		return r;
	if (pki_rec_failed(rec)) {
		/* What reached the targets is stored even so: a target that
		 * has the instance is not deployed to again. */
		if (json_object_get(rec, "deployed") != NULL &&
		    store_deploy(st, rec, out) == -1)
			return -1;
		return store_failure(st, rec, out);
	}
	if ((r = store_acme(st, rec, out)) != 1 ||
	    (r = store_deploy(st, rec, out)) != 1 ||
	    (r = store_tlsa_dns(st, rec, out)) != 1 ||
	    (r = store_tlsa_backfill(st, rec, out)) != 1 ||
	    (r = store_ari(st, rec, out)) != 1)
		return r;
	state = instance(rec, id);
	if (json_object_size(json_object_get(rec, "cert")) > 0 &&
	    (state == NULL || strcmp(state, "reserved") == 0))
		return store_certs(st, rec, out);
	/* A claim that reached the end of the pipeline without a
	 * certificate: nothing was issued, so it is given back. */
	return release(st, rec, out);
}
