/*
 * acme.h - the parts of pki-acme, an RFC 8555 client: HTTP (libcurl),
 * JWS (OpenSSL), the ACME requests with their retries, the account, and
 * one file per subcommand.
 *
 * One libcurl handle serves every request of a run (keep-alive).  Every
 * request is bounded in time; every ACME problem document is kept so that
 * it can become a record's error with its type and detail.
 */
#ifndef ACME_H
#define ACME_H

#include "pki.h"

#include <pthread.h>
#include <time.h>

#include <curl/curl.h>

#define ACME_BODY_MAX		(4 * 1024 * 1024) /* longest response body */
#define ACME_NONCE_TRIES	20	/* badNonce: retries with a new nonce */
#define ACME_BUSY_TRIES		3	/* 429, 503: retries after Retry-After */
#define ACME_NET_TRIES		4	/* transport errors: retries, backoff */
#define ACME_REQUEST_SECS	30	/* one HTTP exchange at most */
#define ACME_CONNECT_SECS	10	/* connecting at most */
#define ACME_TIMEOUT_DEFAULT	300	/* --timeout */

/* The prefix of the problem types of RFC 8555 6.7. */
#define ACME_PROBLEM		"urn:ietf:params:acme:error:"

/* ------------------------------------------------------------ main.c */

/* Everything the command line (and the environment) says. */
struct opts {
	const char	*directory;
	const char	*email;
	const char	*key_type;	/* "ec" or "rsa" */
	const char	*eab_kid;
	const char	*eab_hmac_file;
	const char	*ca_bundle;
	const char	*account_file;
	const char	*account_key;
	const char	*account_url;
	const char	*pass_file;
	const char	*challenge;
	const char	*http_root;
	const char	*http_listen;
	const char	*http_user;	/* the responder's, when run as root */
	const char	*preferred_chain;
	const char	*reason;
	const char	*profile;	/* order: for records that name none */
	long long	 persist_until;	/* order: dns-persist-01 records'
					   persistUntil, 0: none */
	const char	*pass;		/* the passphrase read, or NULL */
	int		 pass_failed;	/* pass_file given but unreadable */
	long		 timeout;
	int		 agree_tos;
	int		 resume;	/* order --resume */
};

/* ------------------------------------------------------------ util.c */

/* The base64url text (RFC 4648 section 5, no padding) of LEN bytes at
 * BUF; caller frees.  NULL on memory exhaustion (reported). */
char	*b64u_encode(const unsigned char *buf, size_t len);
/* 1 if S is a non-empty string of base64url characters only. */
int	 b64u_valid(const char *s);
/* 1 if S can be the name of an ACME profile (draft-ietf-acme-profiles):
 * 1 to 64 letters, digits, ".", "_" and "-". */
int	 profile_valid(const char *s);
/* 1 if S is a challenge type pki answers: dns-01, http-01 or
 * dns-persist-01 (draft-ietf-acme-dns-persist). */
int	 challenge_valid(const char *s);
/* 1 if S can be a CA's directory: "https://" and at most 2048 bytes
 * after it, none a blank or a control character. */
int	 directory_valid(const char *s);
/* The record's entry of errors just added: set its "type" and "detail"
 * from the problem document PROBLEM. */
void	 rec_error_problem(json_t *rec, const json_t *problem);
/* Keep the earliest of the RFC 3339 time EXPIRES (of a valid
 * authorization) and ACME's "authorized_until" there, in UTC with a "Z":
 * serverPKI's Certificates.authorized_until. */
void	 note_authorized(json_t *acme, const char *expires);
/* 1 if the identifier of the CA's authorization AUTHZ is one of NAMES,
 * the names ordered: of type "dns", its value (or "*." and its value
 * when "wildcard" is true) compared without case; else 0. */
int	 authz_ordered(const json_t *authz, const json_t *names);
/* Add to REC the error of authorization AUTHZ (of URL), which
 * authz_ordered() refused; -1. */
int	 authz_foreign(json_t *rec, const json_t *authz, const char *url);
/* strdup() that reports memory exhaustion; NULL for NULL. */
char	*xstrdup(const char *s);

/* ------------------------------------------------------------ http.c */

/* One HTTP response. */
struct resp {
	long	 status;
	char	*body;		/* NUL-terminated, maybe NULL */
	size_t	 len;
	size_t	 cap;
	char	*location;	/* absolute, or NULL */
	char	*nonce;		/* Replay-Nonce, or NULL */
	char	*ctype;		/* Content-Type without parameters */
	long	 retry_after;	/* seconds, 0 when not given */
	json_t	*alternates;	/* absolute URLs of Link rel="alternate" */
	char	*next;		/* the absolute URL of Link rel="next" */
	char	*url;		/* the URL asked (for relative links) */
};

struct http {
	CURL	*curl;
	char	 err[CURL_ERROR_SIZE];
	int	 sent;		/* the request that failed may have arrived */
};

/* Set up the one handle: TLS always verified, with CA_BUNDLE (PEM file)
 * as the trust anchors when not NULL; HTTPS only.  0 / -1 (reported). */
int	 http_open(struct http *h, const char *ca_bundle);
void	 http_close(struct http *h);
/* Empty R (free what it holds). */
void	 resp_free(struct resp *r);
/* Take one header line of R's response (DATA, LEN bytes, not
 * NUL-terminated, as libcurl gives it); R->url resolves relative links.
 * 0, or -1 when out of memory. */
int	 resp_header(struct resp *r, const char *data, size_t len);
/*
 * One exchange: METHOD "GET", "HEAD" or "POST" (BODY, as
 * application/jose+json) on URL, ACCEPT the Accept header or NULL, within
 * TIMEOUT_MS; ONCE: a request the server must not get twice, sent on a
 * new connection (libcurl resends a request on its own only after a
 * kept-alive one failed).  0 when the server answered (any status; R
 * filled, caller frees with resp_free), -1 on a transport error (WHY
 * says which; H->sent is 0 when the request certainly did not reach the
 * server: no connection was made, or not a byte of it was sent).
 */
int	 http_do(struct http *h, const char *method, const char *url,
	    const char *body, const char *accept, int once, long timeout_ms,
	    struct resp *r, char *why, size_t whylen);

/* ------------------------------------------------------------ jws.c */

/* A new account key: "ec" (P-256) or "rsa" (2048 bits).  NULL after
 * reporting. */
EVP_PKEY *jws_keygen(const char *type);
/* The public JWK of KEY (RFC 7517, only the members RFC 7638 hashes);
 * NULL if KEY is not RSA or EC on P-256/P-384. */
json_t	*jws_jwk(EVP_PKEY *key);
/* The RFC 7638 thumbprint of KEY, base64url, into OUT; 0 / -1. */
int	 jws_thumbprint(EVP_PKEY *key, char out[64]);
/* The flattened JWS (RFC 7515 7.2.2) of PAYLOAD (text; "" for an empty
 * payload) under the protected header PROT, signed by KEY with the
 * algorithm jws_alg() names (PROT gets "alg").  NULL after reporting. */
json_t	*jws_sign(EVP_PKEY *key, json_t *prot, const char *payload);
/* "ES256", "ES384" or "RS256" for KEY; NULL for other keys. */
const char *jws_alg(EVP_PKEY *key);
/* The same flattened JWS MAC'ed with HMAC-SHA256 under KEY ("HS256"). */
json_t	*jws_hmac(const unsigned char *key, size_t keylen, json_t *prot,
	    const char *payload);

/* ------------------------------------------------------------ client.c */

/* An ACME session: the directory, the nonce, the signing key. */
struct acme {
	struct http	 http;
	char		*dir_url;
	json_t		*dir;		/* the directory object */
	char		*nonce;		/* the next nonce to use */
	EVP_PKEY	*key;		/* signs; not owned */
	const char	*kid;		/* account URL; NULL: sign with jwk */
	long		 timeout;	/* seconds for one operation */
	double		 deadline;	/* monotonic; the operation's end */
	char		 why[768];	/* why the last request failed */
	json_t		*problem;	/* ... its problem document or NULL */
	int		 unknown;	/* ... and the CA may have acted on it */
	time_t		 paused;	/* no new order until then (-1: for
					   the rest of the run; 0: none) */
	char		 paused_why[768]; /* ... because the CA said so */
	/* When the CA answers a request signed with kid that it knows no
	 * such account (accountDoesNotExist), RELOGIN(A, RELOGIN_CTX)
	 * registers the key again and sets A->kid; the request is sent
	 * once more.  0 / -1 (A->why).  NULL: the request fails. */
	int		(*relogin)(struct acme *a, void *ctx);
	void		*relogin_ctx;
};

/* Open a session with the CA of directory DIR_URL: fetch the directory.
 * 0 / -1 (A->why says why; reported). */
int	 acme_open(struct acme *a, const char *dir_url, const char *ca_bundle,
	    long timeout);
void	 acme_close(struct acme *a);
/* Start an operation: requests fail once A->timeout seconds passed. */
void	 acme_begin(struct acme *a);
/* The directory's URL for resource NAME ("newOrder", ...); NULL with
 * A->why set if the CA has none. */
const char *acme_url(struct acme *a, const char *name);
/*
 * A signed POST of PAYLOAD (NULL: POST-as-GET) to URL, retried after
 * badNonce, 429/503 and transport errors as the limits above say; one
 * with a PAYLOAD only while the CA certainly did not act on it (see
 * client.c).  0 on a 2xx answer: R filled and *JSON its parsed body if
 * it is JSON (else NULL), both the caller's.  -1 otherwise: A->why (and
 * A->problem) say why, A->unknown whether the CA may have acted on it
 * all the same; R is empty.
 */
int	 acme_post(struct acme *a, const char *url, const json_t *payload,
	    const char *accept, struct resp *r, json_t **json);
/* The same for a request that does no harm when the CA gets it twice
 * (newAccount: one account per key; revokeCert: "alreadyRevoked"):
 * retried like a POST-as-GET. */
int	 acme_post_repeatable(struct acme *a, const char *url,
	    const json_t *payload, const char *accept, struct resp *r,
	    json_t **json);
/* The same with only the parsed JSON body kept (NULL: none). */
int	 acme_post_json(struct acme *a, const char *url,
	    const json_t *payload, json_t **json);
/*
 * Whether new orders to A's CA are paused: a newOrder that got a rate
 * limit (429, 503, or a rateLimited problem) is not sent again, and no
 * other is sent until its Retry-After, else until the run ends, so that a
 * batch costs the CA one refused request, not one per record and retry.
 * 1 with UNTIL (RFC 3339, or "" for the rest of the run), else 0.
 */
int	 acme_paused(const struct acme *a, char until[32]);
/* 1 if P is a problem document of TYPE (the name after ACME_PROBLEM). */
int	 acme_problem_is(const json_t *p, const char *type);
/* Add A's last failure to REC as an error of field "acme" (the problem
 * document's type and detail when there is one), prefixed by WHAT. */
int	 acme_rec_error(json_t *rec, struct acme *a, const char *what);

/* ------------------------------------------------------------ account.c */

struct account {
	char		*directory;
	char		*url;
	EVP_PKEY	*key;
	json_t		*contact;	/* array of "mailto:..." */
	char		*status;
	char		*eab_kid;
	char		*replaces;	/* the URL the CA forgot, once the key
					   is registered again (relogin) */
	char		 thumb[64];	/* the key's RFC 7638 thumbprint */
	char		 why[512];	/* why account_load() failed */
};

/*
 * The account of O for DIRECTORY (NULL: any): the JSON file --account,
 * the key and URL of --account-key and --account-url, or the newest
 * valid account of the database (of DIRECTORY when given).  A file
 * holding the key is read as a secret file (pki_read_secret()).  0 / -1
 * (reported: a setup error; ACCT is empty but for ACCT->why, which says
 * why).
 */
int	 account_load(const struct opts *o, const char *directory,
	    struct account *acct);
void	 account_free(struct account *acct);
/* The account as the "account" member of an account record; KEY: with
 * its key (PEM, in clear).  NULL after reporting. */
json_t	*account_json(const struct account *acct, int key);
/* Open a session with the CA of ACCT, signing with its key. 0 / -1. */
int	 account_session(const struct opts *o, struct account *acct,
	    struct acme *a);
/* ------------------------------------------------------------ session.c */

/*
 * The filters' sessions, one per ACME directory: a record goes to its
 * own CA ("acme_directory", else --directory or PKI_ACME_DIRECTORY) with
 * the newest valid account of that CA, set up at the first record that
 * needs it.  A directory whose account or CA cannot be had fails its
 * records only.
 */
struct session {
	char		*directory;	/* asked for; NULL: any account's */
	struct account	 acct;
	struct acme	 a;
	int		 failed;	/* set up, and that failed ... */
	char		 why[700];	/* ... because */
	int		 told;		/* the account record of a new URL
					   was written */
	json_t		*listed;	/* order --resume: the account's
					   orders to look at (adopt.c) */
};

struct sessions {
	const struct opts	*o;
	struct session		**v;
	size_t			 n;
	int			 failed;	/* one could not be set up: a
						   setup error (exit 2) */
};

/* The directory REC's requests go to: its "acme_directory", else O's
 * --directory (PKI_ACME_DIRECTORY); NULL: none said. */
const char *rec_directory(const struct opts *o, const json_t *rec);
/* The session of DIRECTORY (NULL: any), set up at the first call; NULL
 * (error added to REC, naming the directory) when it cannot be had. */
struct session *session_for(struct sessions *ss, const char *directory,
	    json_t *rec);
/* Write the account record of each session whose account the CA forgot
 * and that was registered again (pki-store stores its new URL), before
 * the record at hand; an output that fails shows when that record is
 * written. */
void	 sessions_tell(struct sessions *ss);
void	 sessions_free(struct sessions *ss);

/* ------------------------------------------------------------ register.c */

/* RFC 8555 7.3: the key of ACCT, which A's CA does not know any more
 * (Pebble forgets its accounts when restarted), registered again with
 * its contact and the terms agreed to (its admin agreed at register): a
 * new URL, the old one kept in ACCT->replaces.  acme.relogin's shape
 * (CTX: ACCT).  0 / -1 (A->why). */
int	 account_relogin(struct acme *a, void *ctx);
/* The subcommands register, rollover and deactivate; exit status. */
int	 cmd_register(const struct opts *o);
int	 cmd_rollover(const struct opts *o);
int	 cmd_deactivate(const struct opts *o);

/* ------------------------------------------------------------ order.c */

/* The filter pki-acme order; exit status. */
int	 cmd_order(const struct opts *o);

/* ------------------------------------------------------------ stored.c */

/* The database of stored orders, connected at the first use. */
struct stored_db {
	PGconn		*db;
	int		 tried;
	char		 why[512];	/* why it cannot be used */
};

/* An order stored by pki-store --checkpoint. */
struct stored {
	char		*url;
	char		*key;		/* PEM in clear */
	char		*csr;		/* PEM */
};

/*
 * The open order that was stored for REC's certificate and ALGO with
 * the account ACCT, for exactly NAMES, and has not expired: its URL, and
 * its key (decrypted with O's passphrase when stored encrypted) and CSR.
 * 1 found (SO filled: free it with stored_free()), 0 none, -1 (error
 * added to REC).
 */
int	 stored_find(struct stored_db *sdb, const struct opts *o,
	    const struct account *acct, json_t *rec, const json_t *names,
	    const char *algo, struct stored *so);
/* Wipe and free what SO holds. */
void	 stored_free(struct stored *so);
void	 stored_close(struct stored_db *sdb);

/* ------------------------------------------------------------ adopt.c */

/*
 * An order of the account, for exactly NAMES, that the CA lists and the
 * database of SDB (connected) does not know, that was never finalized
 * and has not expired: left by a run that died before its checkpoint.
 * *CACHE holds the orders still to look at (NULL: fetch the list first;
 * the caller frees it).  1 with *ORDER (its JSON) and *URL, the caller's
 * to free; 0 if there is none.
 */
int	 adopt_find(struct acme *a, struct stored_db *sdb,
	    const struct account *acct, json_t **cache, const json_t *names,
	    json_t **order, char **url);

/* ------------------------------------------------------------ finish.c */

/* pki-acme finish: gathers the batch, answers, polls, finalizes. */
int	 cmd_finish(const struct opts *o);

/* ------------------------------------------------------------ cert.c */

/*
 * Download the certificate of ORDER (its JSON) into REC's "cert".ALGO as
 * pki-localca does: the chain whose topmost issuer's CN is PREFERRED (if
 * not NULL and one matches), else the default chain; the others are kept
 * in ORDER_ENTRY's "alternates".  0 / -1 (error added to REC).
 */
int	 cert_download(struct acme *a, json_t *rec, const char *algo,
	    const json_t *order, json_t *order_entry, const char *preferred);
/* The DER of the record's CSR of ALGO, base64url; NULL (error added). */
char	*cert_csr_b64u(json_t *rec, const char *algo);

/* ------------------------------------------------------------ revoke.c */

/* The filter pki-acme revoke; exit status. */
int	 cmd_revoke(const struct opts *o);

/* ------------------------------------------------------------ ari.c */

/* The filter pki-acme ari (RFC 9773 renewal information); exit status. */
int	 cmd_ari(const struct opts *o);
/* The certID (RFC 9773 4.1) of the certificate PEM into *ID, the
 * caller's to free; -1 if PEM is not a certificate with an AKI. */
int	 ari_cert_id(const char *pem, char **id);
/* A renewal's new order: "replaces" into PAYLOAD, the record's
 * "renews"."cert_id".ALGO, when it has one and the CA of A offers ARI.
 * 0 / -1 (error added to REC: not a certID). */
int	 ari_replaces(struct acme *a, json_t *rec, const char *algo,
	    json_t *payload);
/* A new order A failed: the error of REC, marked "retry": false when
 * the CA says the certificate it replaces was replaced already (409
 * alreadyReplaced).  -1. */
int	 ari_order_error(json_t *rec, struct acme *a);

/* ------------------------------------------------------------ http01.c */

/* What serves the http-01 key authorizations while finish runs. */
struct http01 {
	pid_t		 pid;		/* the responder, when running */
	int		 fd;		/* its listening socket, or -1 */
	int		 stop;		/* its standard input, or -1 */
	char		*root;		/* --http-root, or NULL */
	json_t		*written;	/* files written under root */
};

/* An http01 that serves nothing yet. */
void	 http01_init(struct http01 *h);
/* Serve TOKENS ({token: key authorization}) on ADDR:PORT from a process
 * of its own (as USER when pki-acme runs as root) until http01_stop().
 * 0 / -1 (reported). */
int	 http01_listen(struct http01 *h, const char *addrport,
	    const char *user, json_t *tokens);
/* pki-acme http01-serve: the responder that http01_listen() executes;
 * its exit status. */
int	 http01_serve(void);
/* Write TOKENS under ROOT/.well-known/acme-challenge/.  0 / -1
 * (reported; what was written is removed by http01_stop()). */
int	 http01_webroot(struct http01 *h, const char *root, json_t *tokens);
/* Stop the responder and remove the files written. */
void	 http01_stop(struct http01 *h);
/* The answer to the request head in BUF (NUL-terminated; changed): its
 * status code, with its reason and body (the key authorization of a
 * token of TOKENS for GET /.well-known/acme-challenge/TOKEN). */
int	 http01_reply(char *buf, const json_t *tokens, const char **reason,
	    const char **body);


#endif
