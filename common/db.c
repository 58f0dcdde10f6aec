/*
 * db.c - the PostgreSQL connection (libpq).  SQL goes through
 * PQexecParams only: values are never spliced into statements.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pki.h"

/* A server's message on one line: its newlines and tabs become spaces. */
static void
report(const char *what, const char *msg)
{
	char line[1024], *p;
	size_t len;

	snprintf(line, sizeof(line), "%s", msg);
	for (p = line; *p != '\0'; p++)
		if (*p == '\n' || *p == '\t')
			*p = ' ';
	len = strlen(line);
	while (len > 0 && line[len - 1] == ' ')
		line[--len] = '\0';
	pki_err("%s: %s", what, line);
}

/* Names of the statements prepared on this process's connection. */
static char prepared[16][32];

/* The settings of every pki session; 0 / -1 (reported). */
static int
session(PGconn *db)
{
	/* Every timestamp pki writes or compares is UTC.  JIT compiling
	 * costs more than pki's queries save by it. */
	if (pki_db_cmd(db, "SET search_path TO pki, dd, public") == -1 ||
	    pki_db_cmd(db, "SET timezone TO 'UTC'") == -1 ||
	    pki_db_cmd(db, "SET jit TO off") == -1)
		return -1;
	if (PQsetClientEncoding(db, "UTF8") != 0) {
		report("database", PQerrorMessage(db));
		return -1;
	}
	return 0;
}

PGconn *
pki_db_open(char *why, size_t whylen)
{
	const char *conninfo = getenv("PKI_DB");
	PGconn *db;

	db = PQconnectdb(conninfo != NULL ? conninfo : "");
	if (db == NULL) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	if (PQstatus(db) != CONNECTION_OK) {
		snprintf(why, whylen, "%s", PQerrorMessage(db));
		why[strcspn(why, "\n")] = '\0';
		PQfinish(db);
		return NULL;
	}
	if (session(db) == -1) {
		snprintf(why, whylen, "cannot set up the session");
		PQfinish(db);
		return NULL;
	}
	return db;
}

PGconn *
pki_db_connect(void)
{
	PGconn *db;
	char why[512];

	if ((db = pki_db_open(why, sizeof(why))) == NULL)
		pki_err("database: %s", why);
	return db;
}

int
pki_db_reconnect(PGconn *db, char *why, size_t whylen)
{
	memset(prepared, 0, sizeof(prepared));
	PQreset(db);
	if (PQstatus(db) != CONNECTION_OK) {
		snprintf(why, whylen, "%s", PQerrorMessage(db));
		why[strcspn(why, "\n")] = '\0';
		return -1;
	}
	if (session(db) == -1) {
		snprintf(why, whylen, "cannot set up the session");
		return -1;
	}
	return 0;
}

const char *
pki_db_message(const PGresult *res)
{
	const char *msg;

	msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	return msg != NULL ? msg : PQresultErrorMessage(res);
}

/* RES if it succeeded; else NULL with its one-line message in WHY. */
static PGresult *
checked(PGconn *db, PGresult *res, char *why, size_t whylen)
{
	const char *msg;

	switch (PQresultStatus(res)) {
	case PGRES_COMMAND_OK:
	case PGRES_TUPLES_OK:
		return res;
	default:
		msg = res != NULL ? pki_db_message(res) : PQerrorMessage(db);
		snprintf(why, whylen, "%.*s", (int)strcspn(msg, "\n"), msg);
		PQclear(res);
		return NULL;
	}
}

PGresult *
pki_db_query(PGconn *db, const char *sql, int nparams,
    const char *const *params, char *why, size_t whylen)
{
	return checked(db, PQexecParams(db, sql, nparams, NULL, params, NULL,
	    NULL, 0), why, whylen);
}

PGresult *
pki_db_query_prepared(PGconn *db, const char *name, const char *sql,
    int nparams, const char *const *params, char *why, size_t whylen)
{
	PGresult *res;
	size_t i;

	for (i = 0; i < 16 && prepared[i][0] != '\0'; i++)
		if (strcmp(prepared[i], name) == 0)
			break;
	if (i == 16)	/* no room to remember it: plain statement */
		return pki_db_query(db, sql, nparams, params, why, whylen);
	if (prepared[i][0] == '\0') {
		res = checked(db, PQprepare(db, name, sql, nparams, NULL), why,
		    whylen);
		if (res == NULL)
			return NULL;
		PQclear(res);
		snprintf(prepared[i], sizeof(prepared[i]), "%s", name);
	}
	return checked(db, PQexecPrepared(db, name, nparams, params, NULL,
	    NULL, 0), why, whylen);
}

PGresult *
pki_db_exec(PGconn *db, const char *sql, int nparams,
    const char *const *params)
{
	PGresult *res;
	char why[512];

	res = pki_db_query(db, sql, nparams, params, why, sizeof(why));
	if (res == NULL)
		pki_err("database: %s", why);
	return res;
}

int
pki_db_cmd(PGconn *db, const char *sql)
{
	PGresult *res;

	if ((res = pki_db_exec(db, sql, 0, NULL)) == NULL)
		return -1;
	PQclear(res);
	return 0;
}

void
pki_db_wipe(PGresult *res)
{
	int r, c;

	for (r = 0; r < PQntuples(res); r++)
		for (c = 0; c < PQnfields(res); c++)
			pki_wipe(PQgetvalue(res, r, c), (size_t)PQgetlength(res, r, c));
}

int
pki_db_keys_encrypted(PGconn *db)
{
	PGresult *res;
	int enc;

	res = pki_db_exec(db, "SELECT keysencrypted FROM revision "
	    "ORDER BY id DESC LIMIT 1", 0, NULL);
	if (res == NULL)
		return -1;
	enc = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return enc;
}
