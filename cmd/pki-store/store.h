/*
 * store.h - the parts of pki-store: the batch loop (main.c) and what one
 * record does to the database (record.c).
 */
#ifndef STORE_H
#define STORE_H

#include "pki.h"

struct store {
	PGconn		*db;
	const char	*pass;		/* for keys at rest, or NULL */
	int		 encrypted;	/* Revision.keysEncrypted */
	int		 setup_error;	/* a record failed for want of setup */
	char		*chain;		/* cache: the last chain seen ... */
	long		 ca_instance;	/* ... and its CA's instance */
};

/*
 * Store what REC carries, inside the open transaction (the caller wraps it
 * in a savepoint): a failed record's errors go to the event log and its
 * claim is released; a record with certificates becomes an 'issued'
 * instance.  0 when the record is done with (stored, logged or not ours),
 * -1 when storing failed: an error is added to the record, and the caller
 * rolls back to the savepoint and calls store_failure().
 */
int	 store_record(struct store *st, json_t *rec);
/* Log the errors of REC (after a rollback) and release its claim;
 * 0 / -1 (reported: the transaction is lost). */
int	 store_failure(struct store *st, json_t *rec);

#endif
