/*
 * pki.h - the small library every pki program links.
 *
 * A pki program is a filter: it reads cert records (one JSON object per
 * line) on stdin, acts on the ones that need it, and writes every record to
 * stdout.  This header lists everything the programs share; each prototype
 * carries its contract.  Functions return 0 / -1 or a pointer / NULL and
 * report a failure where it happens, on stderr, prefixed with the program's
 * name.  Only main-level code exits.
 */
#ifndef PKI_H
#define PKI_H

#include <getopt.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>
#include <libpq-fe.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/* Exit status of every program (see pki(7)). */
#define PKI_EXIT_OK	0	/* every record went through cleanly */
#define PKI_EXIT_RECORD	1	/* a record got an error or a line was skipped */
#define PKI_EXIT_FATAL	2	/* bad usage, no database, cannot write output */

#define PKI_LINE_MAX	(1024 * 1024)	/* longest record line passed on */
#define PKI_LINE_HARD	(16 * PKI_LINE_MAX) /* longest line read at all */
#define PKI_PASS_MAX	1024		/* longest passphrase accepted */

/* ------------------------------------------------------------ log.c */

extern int pki_verbosity;	/* 0 -q, 1 default, 2 -v, 3 -vv */

/*
 * Set the program name for messages, ignore SIGPIPE (a closed pipe becomes
 * a write error) and make jansson wipe every buffer it frees.  Call first.
 */
void	 pki_init(const char *progname);
const char *pki_progname(void);

/* Also send messages to syslog with FACILITY ("daemon", "local0".."local7",
 * "user"); -1 if the name is unknown. */
int	 pki_log_syslog(const char *facility);

void	 pki_err(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 pki_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 pki_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 pki_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
/* pki_err() followed by ": " and the newest OpenSSL error, queue cleared. */
void	 pki_ssl_err(const char *, ...) __attribute__((format(printf, 1, 2)));
/* The newest OpenSSL error as text (static buffer), queue cleared. */
const char *pki_ssl_reason(void);

/* ------------------------------------------------------------ opt.c */

/* Options every program has; list them first in its struct option table. */
#define PKI_OPT_SYSLOG	0x100
#define PKI_LONGOPTS_COMMON \
	{ "help",	no_argument,		NULL, 'h' }, \
	{ "quiet",	no_argument,		NULL, 'q' }, \
	{ "verbose",	no_argument,		NULL, 'v' }, \
	{ "syslog",	required_argument,	NULL, PKI_OPT_SYSLOG }
#define PKI_OPTSTRING_COMMON "hqv"

/*
 * getopt_long() that handles the common options itself: returns the next
 * option of the program's own, -1 at the end of options.  Prints USAGE and
 * exits for -h (0) and for an unknown option or bad argument (2).
 */
int	 pki_getopt(int argc, char *const argv[], const char *optstring,
	    const struct option *longopts, const char *usage);
/* Print USAGE on stderr and exit PKI_EXIT_FATAL. */
void	 pki_usage(const char *usage) __attribute__((noreturn));
/* Parse a decimal number in [MIN, MAX] into *OUT; -1 (reported, naming
 * WHAT) if it is not one. */
int	 pki_parse_long(const char *what, const char *s, long min, long max,
	    long *out);

/* ------------------------------------------------------------ record.c */

struct pki_in;

/* A reader of records from FD; NULL on memory exhaustion (reported). */
struct pki_in *pki_in_open(int fd);
/* Wipe and free the reader. */
void	 pki_in_close(struct pki_in *);
/*
 * Read the next record into *REC (owned by the caller).  Returns 1 for a
 * record, 0 at end of input, -1 for a line that is not a JSON object or is
 * longer than PKI_LINE_HARD (reported with its line number; the caller
 * goes on and exits 1), -2 for a read error (reported; fatal).  A record
 * longer than PKI_LINE_MAX comes reduced to its identity (id, name,
 * subject_type, ca, action, instance, errors) and a string holding a NUL
 * with the NUL spelled out, each with an error in the record.
 */
int	 pki_in_next(struct pki_in *, json_t **rec);
/* 1 when a read would not block (data, EOF or error), 0 after TIMEOUT_MS. */
int	 pki_in_ready(struct pki_in *, int timeout_ms);

/* Write REC as one compact line to stdout and flush it (a line longer
 * than PKI_LINE_MAX goes as the record's identity, with an error); -1
 * (reported) if stdout cannot be written, which is fatal. */
int	 pki_out(const json_t *rec);
/* Wipe the output buffer; call before exit. */
void	 pki_out_close(void);

/*
 * J as JSON text dumped with FLAGS (JSON_COMPACT, JSON_SORT_KEYS...);
 * caller frees with free().  NULL if it cannot.  (Not json_dumps(): with
 * the wiping allocator of pki_init() its text must not go to free().)
 */
char	*pki_json_text(const json_t *j, size_t flags);
/*
 * S (NULL: "") as a JSON string, whatever bytes it holds: a sequence that
 * is not UTF-8 (a message cut in the middle of a character, a command's
 * stderr in Latin-1) becomes "?", where json_string() would give NULL
 * and the member would be lost.  NULL only when out of memory.
 */
json_t	*pki_json_string(const char *s);
/* The record's "name" for messages, or "(unnamed)". */
const char *pki_rec_name(const json_t *rec);
/* The string member KEY of OBJ, or NULL if absent or not a string. */
const char *pki_str(const json_t *obj, const char *key);
/* 1 if the record carries at least one error. */
int	 pki_rec_failed(const json_t *rec);
/*
 * Append {"stage": program, "field": FIELD, "message": ...} to the record's
 * "errors" and report "program: NAME: FIELD: message" on stderr (the same
 * error on many records in a row: the first three, then a count).  FIELD
 * may be NULL.  Not for threads: call it from one thread only.  Always returns -1, so a stage can `return pki_rec_error(...)`.
 */
int	 pki_rec_error(json_t *rec, const char *field, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* How many errors pki_rec_error() added in this process. */
unsigned long pki_rec_error_count(void);
/* Say how many more records had the error last reported (the same error
 * is shown for the first three records only).  Runs at exit. */
void	 pki_rec_error_summary(void);
/*
 * The object member KEY of REC, created empty if absent.  NULL (and an
 * error in the record) if KEY holds something other than an object.
 */
json_t	*pki_rec_object(json_t *rec, const char *key);
/* 1 if REC is CSR input: "keyless" true, a CSR and no key.  Its key is
 * held elsewhere and pki never sees it: no stage makes a key or CSR for
 * it, its instances are stored and deployed without a key.  (A record
 * that merely lost its key is not: it fails where a key is needed.) */
int	 pki_rec_keyless(const json_t *rec);

/*
 * The filter loop of a streaming stage: for each input record that carries
 * no error, call ACT(rec, ctx), then write the record.  ACT returns 0 when
 * the record is fine (acted on or not its business) and -1 when it added an
 * error.  Returns the exit status.
 */
int	 pki_filter(int (*act)(json_t *rec, void *ctx), void *ctx);
/* The whole main() of a stage that has only the common options: init,
 * options, then pki_filter(ACT, CTX).  Returns the exit status. */
int	 pki_stage_main(int argc, char *argv[], const char *usage,
	    int (*act)(json_t *rec, void *ctx), void *ctx);

/* ------------------------------------------------------------ batch.c */

/*
 * The loop of a stage that must see its whole batch to act well (DESIGN
 * 3.4: pki-dnsup, pki-acme finish).  It holds only the records it acts
 * on and writes every other record the moment it is read.  What the
 * stage's MINE(REC, CTX) says of each record read (REC is then the last
 * record of HELD, so that the stage may know it by its index there;
 * records with errors are asked about too, for some stages undo for
 * them):
 */
#define PKI_PASS	0	/* not its business: written at once */
#define PKI_HOLD	1	/* kept in HELD for the batch */
#define PKI_FAILED	2	/* MINE gave it an error and it needs
				   nothing more: written at once, exit 1 */
/* and -1: the stage cannot go on (memory; reported): REC and every
 * record after it are written at once as they are, exit 2. */

/*
 * Read every record of stdin: append those MINE holds to HELD (a JSON
 * array the caller owns), write the others at once.  The exit status so
 * far: 0; 1 when a line was skipped (reported with its number), a record
 * was PKI_FAILED or was read only in part (too long; a NUL); 2 when the input could not be read to its end,
 * the output written, or MINE failed (the records held stay in HELD).
 */
int	 pki_gather(int (*mine)(json_t *rec, void *ctx), void *ctx,
	    json_t *held);
/* Give each record of HELD an error of FIELD (reported as pki_rec_error()
 * does: the first three, then a count). */
void	 pki_held_error(json_t *held, const char *field, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* Write every record of HELD, in order, and empty HELD; STATUS, at least
 * 1 if one was written only in part (too long), or 2 if the output cannot
 * be written. */
int	 pki_write_held(json_t *held, int status);

/* A gathering stage: what pki_batch() calls. */
struct pki_batch {
	int	(*mine)(json_t *rec, void *ctx);	/* as pki_gather() */
	/* Set up, once, what the records held need (a key, an account);
	 * 0, or -1 with the error each of them gets in WHY (LEN bytes).
	 * NULL: nothing to set up. */
	int	(*setup)(void *ctx, char *why, size_t len);
	/* Act on the records held (never none); the exit status. */
	int	(*act)(json_t *held, void *ctx);
	const char *field;	/* the field of the batch's errors: "dns" */
	const char *undone;	/* what they start with: "nothing published" */
};
/*
 * The whole run of a gathering stage: pki_gather(); then, when records
 * are held, B->setup and B->act.  A setup that fails gives each record
 * held its error, and exit 2; a batch that could not be gathered gives
 * each "UNDONE: the batch could not be gathered", unacted on.  Every
 * record held is written, in input order, and HELD left empty.  Returns
 * the exit status.
 */
int	 pki_batch(const struct pki_batch *b, json_t *held, void *ctx);

/* ------------------------------------------------------------ name.c */

/*
 * NULL if NAME is a valid host name (letters, digits and hyphens in labels
 * of 1-63 characters, no hyphen at a label's ends, 253 characters at most,
 * no trailing dot; with ALLOW_WILDCARD one leading "*." label), else a
 * static text saying what is wrong.
 */
const char *pki_dns_name_check(const char *name, int allow_wildcard);
/*
 * The address of NAME into ADDR (4 or 16 bytes) if NAME is an IPv4
 * address in dotted-quad form or an IPv6 address (RFC 8738); its length,
 * or 0 if NAME is no address.  ADDR may be NULL.
 */
int	 pki_ip_name(const char *name, unsigned char addr[16]);
/*
 * NULL if NAME may name a server: a host name (pki_dns_name_check) whose
 * last label is not all digits, or an IP address written as RFC 5952
 * writes it (the form in which ACME
 * identifiers are compared), else what is wrong.
 */
const char *pki_host_check(const char *name, int allow_wildcard);
/* The same for the subject of SUBJECT_TYPE ("server", "client", "CA"):
 * servers need host names; client and CA names are 1-64 characters of
 * letters, digits, " ._@-" that start with a letter or digit. */
const char *pki_subject_check(const char *subject_type, const char *name);
/*
 * The record's name followed by its altnames, each checked, without
 * duplicates (compared without case).  NULL after adding an error to the
 * record.  The caller owns the array.
 */
json_t	*pki_rec_names(json_t *rec);
/* 1 if S is "rsa" or "ec". */
int	 pki_algo_valid(const char *s);
/*
 * The names a certificate or request covers as one text: the DNS, e-mail
 * and IP address (RFC 5952 form) names of GENS (its subjectAltNames, may
 * be NULL) and the CN of SUBJECT (may be NULL), in lower case, sorted,
 * without repeats, joined by spaces.  Caller frees; NULL if it covers no
 * name, too many, or one that cannot be read.
 */
char	*pki_names_covered(const X509_NAME *subject,
	    const GENERAL_NAMES *gens);
/* The same text for NAMES, a JSON array of strings (a record's names).
 * Caller frees; NULL if there are none or too many. */
char	*pki_names_text(const json_t *names);
/*
 * The names CERT covers, in lower case: its subject's CN first (if it has
 * one), then its DNS, e-mail and IP address (RFC 5952 text)
 * subjectAltNames; repeats are kept.  The caller owns the array; NULL if
 * a name cannot be read.
 */
json_t	*pki_cert_names(X509 *cert);
/* The RFC 5280 CRLReason name of S (a name like "keyCompromise" or its
 * number), NULL if S is neither; and its code, -1 if none. */
const char *pki_crl_reason_name(const char *s);
int	 pki_crl_reason(const char *s);

/* ------------------------------------------------------------ persist.c */

/* dns-persist-01 (draft-ietf-acme-dns-persist): the standing record of
 * name N is a TXT record at _validation-persist.N. */
#define PKI_PERSIST_LABEL	"_validation-persist."
#define PKI_PERSIST_ACCOUNT_MAX	512	/* longest account URL written */

/*
 * The value of the standing record that names the CA by ISSUER (one of
 * the challenge's issuer-domain-names, written in lower case) and the
 * account of URL ACCOUNT, with "policy=wildcard" when WILDCARD and
 * "persistUntil" when UNTIL (seconds since 1970) is above 0:
 *	issuer.example; accounturi=https://ca.example/acct/1
 * The caller frees it; NULL with WHY (a static text) when ISSUER is not
 * a host name or ACCOUNT cannot stand in the record.
 */
char	*pki_persist_value(const char *issuer, const char *account,
	    int wildcard, long long until, const char **why);

/* ------------------------------------------------------------ wipe.c */

/* jansson and OpenSSL allocate through wrappers that wipe every block
 * they free (pki_init() calls it first). */
void	 pki_wiping_alloc(void);

/* ------------------------------------------------------------ secret.c */

/* Wipe LEN bytes at P (cannot be optimised away). */
void	 pki_wipe(void *p, size_t len);
/* Wipe the NUL-terminated S and free it; NULL is fine. */
void	 pki_free_secret(char *s);
/* Wipe the string value of json string S in place (it stays allocated). */
void	 pki_json_wipe_string(json_t *s);
/*
 * The secret file FILE (a key, a passphrase) as a NUL-terminated string,
 * its length into *LEN (if LEN is not NULL); the caller frees it with
 * pki_free_secret().  FILE must be a regular file (no symbolic link, FIFO
 * or device) that neither group nor others may read or write, of 1 to MAX
 * bytes of text.  NULL if it is not or cannot be read: the one-line reason,
 * naming WHAT ("CA key file") and FILE, never its contents, goes to WHY
 * (WHYLEN bytes) if WHY is not NULL, else is reported.  Nothing read is
 * left in memory on failure.
 */
char	*pki_read_secret(const char *what, const char *file, size_t max,
	    size_t *len, char *why, size_t whylen);
/*
 * The same, but FILE's group may read it: a key kept elsewhere for a
 * group of readers (certbot keeps a renewed key's group read, which its
 * admins give for ssl-cert).  Group write, and any access by others, are
 * still refused.
 */
char	*pki_read_shared_secret(const char *what, const char *file,
	    size_t max, size_t *len, char *why, size_t whylen);
/*
 * Read the passphrase of FILE (its first line, without the newline) into
 * BUF of SIZE bytes: a secret file as pki_read_secret() wants it, holding
 * a passphrase that is not empty and shorter than SIZE.  0 / -1 (reported,
 * naming the file only; BUF wiped).
 */
int	 pki_read_passphrase(const char *file, char *buf, size_t size);
/* The same for the file of WHAT (named in messages): -1 with the reason
 * in WHY (WHYLEN bytes) instead of reported, when WHY is not NULL. */
int	 pki_passphrase_from(const char *what, const char *file, char *buf,
	    size_t size, char *why, size_t whylen);

/* ------------------------------------------------------------ file.c */

/*
 * Replace PATH atomically with LEN bytes of BUF and mode MODE: a temporary
 * file ".NAME.pki-tmp" in the same directory, created O_EXCL|O_NOFOLLOW
 * with MODE (a leftover of a killed run is replaced), written, fsync'ed,
 * renamed over PATH; the directory is fsync'ed too.  A reader never sees a
 * partial file and the data never exists with a looser mode.
 * 0 / -1 (reported; the temporary file is removed).
 */
int	 pki_write_file(const char *path, const void *buf, size_t len,
	    mode_t mode);
/* fsync the directory that holds PATH, so that a rename or a new name
 * in it survives a crash; 0 / -1 (errno set). */
int	 pki_sync_dir(const char *path);
/* Write LEN bytes of BUF to FD, short writes and EINTR handled; 0 / -1
 * (errno set). */
int	 pki_write_all(int fd, const void *buf, size_t len);
/* The contents of PATH, a regular file (a FIFO or a device is refused, at
 * once), as a NUL-terminated string of at most MAX bytes (caller frees);
 * NULL if unreadable or too large (reported).  Not for secrets: see
 * pki_read_secret(). */
char	*pki_read_file(const char *path, size_t max);

/* ------------------------------------------------------------ crypto.c */

/* Parse a PEM private key (PKCS#8, encrypted when PASS is not NULL).
 * NULL if it cannot be read; *WHY (static text) says why. */
EVP_PKEY *pki_key_from_pem(const char *pem, const char *pass,
	    const char **why);
/*
 * The PEM text of KEY as PKCS#8: in clear when PASS is NULL, else encrypted
 * with PBES2 (AES-256-CBC, key from scrypt).  Caller frees with
 * pki_free_secret().  NULL after reporting.
 */
char	*pki_key_to_pem(EVP_PKEY *key, const char *pass);
/* The contents of memory BIO as a NUL-terminated string (caller frees);
 * the BIO is freed either way (OpenSSL wipes its buffer).  NULL when out
 * of memory. */
char	*pki_bio_string(BIO *bio);
/* "rsa" or "ec" for KEY's type, NULL for anything else. */
const char *pki_key_algo(const EVP_PKEY *key);
/* 1 if the PEM text is an encrypted PKCS#8 key. */
int	 pki_pem_is_encrypted(const char *pem);

/* The first certificate in PEM text, NULL if there is none. */
X509	*pki_cert_from_pem(const char *pem);
/* The first certificate request (PKCS#10) in PEM text, NULL if none. */
X509_REQ *pki_csr_from_pem(const char *pem);
/* All certificates in PEM text (maybe none); NULL on memory exhaustion. */
STACK_OF(X509) *pki_certs_from_pem(const char *pem);
/*
 * The DER of the first (LAST: the last) PEM block labelled LABEL in PEM,
 * its length in *LEN; caller OPENSSL_free()s.  NULL if there is none.
 * Decoding PEM is cheap; parsing a certificate is not (OpenSSL 3.0 decodes
 * its public key on the way), so stages that only hash or compare a
 * certificate use its DER.
 */
unsigned char *pki_pem_der(const char *pem, const char *label, int last,
	    long *len);
/* The subjectPublicKeyInfo inside certificate DER: *SPKI points into DER,
 * *SPKILEN is its length with tag and length octets.  0 / -1 if DER is not
 * a certificate. */
int	 pki_der_spki(const unsigned char *der, long len,
	    const unsigned char **spki, long *spkilen);
/* 0 if KEY is the private key of the public key SPKI (DER), else -1. */
int	 pki_key_matches_spki(EVP_PKEY *key, const unsigned char *spki,
	    long spkilen);
/* PEM text of CERT (caller frees); NULL after reporting. */
char	*pki_cert_to_pem(X509 *cert);
/* Uppercase hex SHA-256 of CERT's DER encoding into OUT (serverPKI's
 * CertKeyData.hash); 0 / -1. */
int	 pki_cert_sha256(X509 *cert, char out[65]);
/* ASN.1 time as RFC 3339 UTC ("2026-11-22T10:00:00Z") into OUT; 0 / -1. */
int	 pki_time_rfc3339(const ASN1_TIME *t, char out[32]);
/* Unix time as RFC 3339 UTC into OUT. */
void	 pki_unix_rfc3339(time_t t, char out[32]);
/*
 * The "cert" entry of a record for CERT issued with CHAIN_PEM (the issuing
 * CA certificates, may be ""): {"pem", "chain", "serial", "not_before",
 * "not_after", "sha256", "subject", "issuer"}.  NULL after reporting.
 */
json_t	*pki_cert_json(X509 *cert, const char *chain_pem);
/*
 * The subjectAltName extension for NAMES (a JSON array of strings): host
 * names as dNSName, names with an "@" as rfc822Name, others left out;
 * CRITICAL when the subject is empty (RFC 5280 4.2.1.6).  *OUT is NULL
 * when no name qualifies.  0 / -1 (OpenSSL error queue).
 */
int	 pki_san_ext(const json_t *names, int critical, X509_EXTENSION **out);
/* The subject with CN = NAME, or empty when NAME is longer than the 64
 * characters X.520 allows a CN (the name is then in subjectAltName only);
 * NULL on failure. */
X509_NAME *pki_subject_name(const char *name);
/* The digest to sign with KEY: SHA-384 for EC keys of 384 bits and more,
 * else SHA-256. */
const EVP_MD *pki_digest_for(const EVP_PKEY *key);
/* Decode base64url text S (padding and surrounding blanks allowed) into a
 * new buffer *OUT of *LEN bytes; the caller wipes and frees it.  0 / -1
 * (not base64url; nothing reported). */
int	 pki_b64u_decode(const char *s, unsigned char **out, size_t *len);
/* Uppercase hex of LEN bytes into OUT (2*LEN+1 bytes). */
void	 pki_hex(const unsigned char *buf, size_t len, char *out);
/* 1 if GROUP is an RFC 7919 group pki writes DH parameters of:
 * "ffdhe2048", "ffdhe3072" or "ffdhe4096". */
int	 pki_dh_group_valid(const char *group);
/*
 * DH parameters as PEM ("BEGIN DH PARAMETERS", PKCS#3), made by OpenSSL:
 * those of the RFC 7919 group GROUP, or, when GROUP is NULL, new
 * safe-prime parameters of BITS bits with generator 2 (slow: seconds to
 * minutes).  Caller frees; NULL after reporting.
 */
char	*pki_dh_params_pem(const char *group, int bits);

/* ------------------------------------------------------------ clock.c */

/* Seconds on the monotonic clock: for deadlines and waits. */
double	 pki_now(void);
/* Sleep until pki_now() reaches T (at once if it has). */
void	 pki_sleep_until(double t);

/* ------------------------------------------------------------ rfc3339.c */

/* An RFC 3339 time S (offset or Z, fractions ignored) into *T; 0 / -1 if
 * S is not one. */
int	 pki_parse_rfc3339(const char *s, time_t *t);
/* 0 if S, the value of option WHAT, is an RFC 3339 time; else -1
 * (said). */
int	 pki_parse_time(const char *what, const char *s);

/* ------------------------------------------------------------ db.c */

/*
 * Connect to the database named by $PKI_DB (a libpq conninfo string or
 * URI), else by the usual PG* variables, with search_path pki,dd and
 * timezone UTC.  NULL after reporting.
 */
PGconn	*pki_db_connect(void);
/* pki_db_connect() that says why it failed in WHY (one line), not on
 * stderr. */
PGconn	*pki_db_open(char *why, size_t whylen);
/* Connect DB again after its connection was lost, with the same
 * settings; statements prepared before are forgotten.  0 / -1 (why in
 * WHY, not reported). */
int	 pki_db_reconnect(PGconn *db, char *why, size_t whylen);
/*
 * Run SQL with NPARAMS text parameters (NULL pointers are SQL NULL).
 * Returns the result when it is COMMAND_OK or TUPLES_OK (caller PQclear()s),
 * else NULL with the server's one-line message in WHY (not reported).
 */
PGresult *pki_db_query(PGconn *db, const char *sql, int nparams,
	    const char *const *params, char *why, size_t whylen);
/* pki_db_query() of the statement NAME, prepared from SQL on its first
 * use (at most 16 names per process; one connection per process). */
PGresult *pki_db_query_prepared(PGconn *db, const char *name,
	    const char *sql, int nparams, const char *const *params,
	    char *why, size_t whylen);
/* pki_db_query() that reports the failure on stderr. */
PGresult *pki_db_exec(PGconn *db, const char *sql, int nparams,
	    const char *const *params);
/* Run SQL (no parameters, no result rows wanted); 0 / -1 (reported). */
int	 pki_db_cmd(PGconn *db, const char *sql);
/* The server's primary message of the failed result RES. */
const char *pki_db_message(const PGresult *res);
/* Wipe every value of RES in place (before PQclear of a result with keys). */
void	 pki_db_wipe(PGresult *res);
/* 1 if Revision.keysEncrypted is set, 0 if not, -1 after reporting. */
int	 pki_db_keys_encrypted(PGconn *db);

#endif /* PKI_H */
