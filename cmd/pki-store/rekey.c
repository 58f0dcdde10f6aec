/*
 * rekey.c - pki-store --encrypt-keys / --decrypt-keys (serverPKI's -X and
 * -Y): every key at rest encrypted with the database passphrase, or
 * decrypted, and Revision.keysEncrypted set to match, in one transaction.
 * The local CA's keys keep their own passphrase and are left alone.
 */
#include <stdio.h>
#include <string.h>

#include "store.h"

/* The keys pki keeps: instances' (not a CA's), ACME accounts' and the
 * keys of ACME orders not finished. */
static const struct {
	const char	*what;
	const char	*select;
	const char	*update;
} tables[] = {
	{ "certificate key",
	  "SELECT d.id, convert_from(d.key, 'UTF8') FROM certkeydata d "
	  "JOIN certinstances i ON i.id = d.certinstance "
	  "JOIN subjects s ON s.certificate = i.certificate AND NOT s.isaltname "
	  "WHERE s.type <> 'CA' AND length(d.key) > 0 ORDER BY d.id",
	  "UPDATE certkeydata SET key = convert_to($2, 'UTF8') "
	  "WHERE id = $1::int4" },
	{ "ACME account key",
	  "SELECT id, convert_from(key, 'UTF8') FROM acme_accounts "
	  "WHERE length(key) > 0 ORDER BY id",
	  "UPDATE acme_accounts SET key = convert_to($2, 'UTF8') "
	  "WHERE id = $1::int4" },
	{ "ACME order key",
	  "SELECT id, convert_from(key, 'UTF8') FROM acme_orders "
	  "WHERE length(key) > 0 ORDER BY id",
	  "UPDATE acme_orders SET key = convert_to($2, 'UTF8') "
	  "WHERE id = $1::int4" },
};

/* PEM turned the way ENCRYPT says with PASS, in *OUT (caller frees with
 * pki_free_secret()), or NULL in *OUT when it is that way already.
 * 0 / -1 (reported, naming the row only). */
static int
turn(const char *pem, int encrypt, const char *pass, const char *what,
    const char *id, char **out)
{
	const char *why;
	EVP_PKEY *key;

	*out = NULL;
	if (pki_pem_is_encrypted(pem) == encrypt)
		return 0;
	if ((key = pki_key_from_pem(pem, encrypt ? NULL : pass, &why)) == NULL) {
		pki_err("%s %s: %s", what, id, why);
		return -1;
	}
	*out = pki_key_to_pem(key, encrypt ? pass : NULL);
	EVP_PKEY_free(key);
	return *out != NULL ? 0 : -1;
}

/* Turn every key of table T; the number turned, or -1. */
static long
turn_table(PGconn *db, size_t t, int encrypt, const char *pass)
{
	const char *p[2];
	PGresult *res, *upd;
	char *pem;
	long n = 0;
	int i;

	if ((res = pki_db_exec(db, tables[t].select, 0, NULL)) == NULL)
		return -1;
	for (i = 0; i < PQntuples(res) && n >= 0; i++) {
		p[0] = PQgetvalue(res, i, 0);
		if (turn(PQgetvalue(res, i, 1), encrypt, pass, tables[t].what,
		    p[0], &pem) == -1) {
			n = -1;
			break;
		}
		if (pem == NULL)
			continue;
		p[1] = pem;
		upd = pki_db_exec(db, tables[t].update, 2, p);
		pki_free_secret(pem);
		if (upd == NULL)
			n = -1;
		else
			n++;
		PQclear(upd);
	}
	pki_db_wipe(res);
	PQclear(res);
	return n;
}

int
store_rekey(struct store *st, int encrypt)
{
	const char *p[1] = { encrypt ? "t" : "f" };
	PGresult *res;
	long n, total = 0;
	size_t t;

	if (st->pass == NULL) {
		pki_err("--%s-keys needs the passphrase: --passphrase-file FILE "
		    "or PKI_DB_PASSPHRASE_FILE", encrypt ? "encrypt" : "decrypt");
		return PKI_EXIT_FATAL;
	}
	if (pki_db_cmd(st->db, "BEGIN") == -1 ||
	    pki_db_cmd(st->db, "LOCK TABLE revision IN EXCLUSIVE MODE") == -1)
		return PKI_EXIT_FATAL;
	for (t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
		if ((n = turn_table(st->db, t, encrypt, st->pass)) == -1) {
			pki_db_cmd(st->db, "ROLLBACK");
			pki_err("no key changed");
			return PKI_EXIT_FATAL;
		}
		total += n;
	}
	res = pki_db_exec(st->db, "UPDATE revision SET keysencrypted = "
	    "$1::bool", 1, p);
	PQclear(res);
	if (res == NULL || pki_db_cmd(st->db, "COMMIT") == -1)
		return PKI_EXIT_FATAL;
	pki_info("%ld keys %s; the database keeps keys %s", total,
	    encrypt ? "encrypted" : "decrypted", encrypt ? "encrypted" :
	    "in clear");
	return PKI_EXIT_OK;
}
