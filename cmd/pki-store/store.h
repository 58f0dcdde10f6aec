/*
 * store.h - the parts of pki-store: the batch loop (main.c) and what one
 * record does to the database (record.c).
 */
#ifndef STORE_H
#define STORE_H

#include "pki.h"

/* The spool of records that could not be stored (spool.c). */
struct spool {
	const char	*dir;		/* --spool, or NULL */
	int		 fd;		/* the file being written, or -1 */
	char		 path[4096];
	size_t		 count;		/* records written to it */
};

struct store {
	PGconn		*db;
	struct spool	 spool;
	int		 reconnected;	/* the one reconnection was made */
	int		 with_keys;	/* keys stay in the output */
	int		 replaying;	/* the input is a spool file */
	int		 checkpoint;	/* --checkpoint: orders only (order.c) */
	char		 lost[512];	/* why the database is gone, or "" */
	const char	*pass;		/* for keys at rest, or NULL */
	int		 encrypted;	/* Revision.keysEncrypted */
	int		 setup_error;	/* a record failed for want of setup */
	char		*chain;		/* cache: the last chain seen ... */
	long		 ca_instance;	/* ... and its CA's instance */
	const char	*now;		/* --now: failures' time, or NULL */
};

/* What storing did to a record, applied to it once committed. */
struct outcome {
	enum { KEPT, INSTANCE, RELEASED } what;
	long	 instance;	/* INSTANCE: the record's instance ... */
	char	 state[16];	/* ... and its state now */
	int	 failed;	/* the record failed in this batch */
};

/*
 * Store what REC carries inside the open transaction: a failed record's
 * errors go to the event log and its claim is released; a record with
 * certificates becomes an 'issued' instance.  REC itself is not changed
 * but for errors appended; *OUT says what to change once the transaction
 * is committed.  0 when the record is done with (stored, logged or not
 * ours); -1 when it could not be stored: an error was added to it, and the
 * transaction may be lost (PQtransactionStatus() tells).
 */
int	 store_record(struct store *st, json_t *rec, struct outcome *out);
/* Log the errors of REC and release its claim; 0 / -1 (the transaction
 * is lost). */
int	 store_failure(struct store *st, json_t *rec, struct outcome *out);
/* Run SQL with N parameters P; on failure add the server's message to
 * REC and return NULL (the transaction is lost). */
PGresult *store_sql(struct store *st, json_t *rec, const char *sql, int n,
	    const char *const *p);
/* What a record's certificates are, read from themselves (check.c). */
struct seen {
	char		 nb[32];	/* the latest not_before ... */
	char		 na[32];	/* ... and earliest not_after */
	char		*names;		/* names covered: sorted, lower case,
					 * space-separated (caller frees) */
	const char	*chain;		/* the chain PEM of the first */
};

/*
 * Check every certificate of REC ("cert"): it parses, its key is of the
 * algorithm it is filed under, what the record says of its dates, serial
 * and hash is true, its chain's signatures verify, and all cover the same
 * names.  0 with SEEN filled, or -1 with an error in REC; SEEN->names is
 * the caller's to free either way.
 */
int	 check_certs(json_t *rec, struct seen *seen);
/* Free what check_certs() keeps of the chain it saw last. */
void	 check_forget(void);

/* 1 if TEXT holds key material: a PEM block, or a line of the base64 of
 * one of REC's keys. */
int	 store_has_key(const json_t *rec, const char *text);

/*
 * schedule.c: a record that was to issue or renew (action) its
 * certificate: a failure counted (the next attempt backed off), or,
 * when OUT says its instance was stored, the failures forgotten.  0
 * (nothing to do, or done) / -1 as store_record().
 */
int	 store_schedule(struct store *st, json_t *rec,
	    const struct outcome *out);

/* V as the text of a row id (a positive int4) into ID, "" if it is none:
 * a record's ids reach SQL only when the database can take them. */
void	 store_row_id(const json_t *v, char id[24]);

/* Forget what was cached of the database (after a rollback). */
void	 store_forget(struct store *st);

/*
 * The parts of other stages' records, each in a file of its own: 1 when
 * REC is not theirs, else as store_record().
 */
/* acme.c: ACME accounts (pki-acme register) and revocations. */
int	 store_acme(struct store *st, json_t *rec, struct outcome *out);
/* import.c: the new instance INST of a record of pki-import put in the
 * state its "import" says; its state now into STATE.  0 / -1 as
 * store_record(). */
int	 store_import_state(struct store *st, json_t *rec, const char *inst,
	    char state[16]);
/* deploy.c: deployments to targets (pki-deploy). */
int	 store_deploy(struct store *st, json_t *rec, struct outcome *out);
/*
 * order.c: ACME orders (acme_orders).  With st->checkpoint: REC's orders
 * stored, and 0 for every record (nothing else is stored for it).  Else
 * the orders of REC settled (status, withdrawn) and 1, or 0 for a record
 * of pki-select --orphans whose challenges are withdrawn.  -1 as
 * store_record().
 */
int	 store_order(struct store *st, json_t *rec, struct outcome *out);
/* ari.c: REC's "ari" (pki-acme ari) as its instance's row of pki.ari;
 * 1 when REC has none or no instance yet, else as store_record(). */
int	 store_ari(struct store *st, json_t *rec, struct outcome *out);
/* tlsa.c: REC's "tlsa" as the TLSA records of instance INST; 0 / -1
 * (an error in REC, the transaction may be lost). */
int	 store_tlsa(struct store *st, json_t *rec, const char *inst);
/* tlsa.c: a record of pki-select --tlsa ("action" "tlsa", "tlsa-remove"
 * or "prepublish"): its owners as published now, and a prepublish's
 * instance prepublished.  1 when REC is not one. */
int	 store_tlsa_dns(struct store *st, json_t *rec, struct outcome *out);

/* tlsa.c: a record of pki-select --tlsa backfill ("action"
 * "tlsa-backfill"): its "tlsa" as its instance's records.  1 when REC is
 * not one. */
int	 store_tlsa_backfill(struct store *st, json_t *rec,
	    struct outcome *out);

/* spool.c: SP for directory DIR (NULL: no spool), made private if
 * missing; 0 / -1 (said). */
int	 spool_open(struct spool *sp, const char *dir);
/* Append REC to SP's file (made at the first record); 0 / -1 (WHY). */
int	 spool_add(struct spool *sp, const json_t *rec, char *why,
	    size_t whylen);
/* Sync and close the file written, saying how many records it kept;
 * 0 / -1 (said). */
int	 spool_close(struct spool *sp);
/* For each spool file that no other process holds, oldest first:
 * STORE(fd, CTX) its records; the file is removed when STORE returns 0.
 * Stops at the first -1 and returns it. */
int	 spool_replay(struct spool *sp, int (*store)(int fd, void *ctx),
	    void *ctx);

/* rekey.c: encrypt (ENCRYPT) or decrypt every key at rest with st->pass
 * and set Revision.keysEncrypted to match, all or nothing.  Returns an
 * exit status. */
int	 store_rekey(struct store *st, int encrypt);

#endif
