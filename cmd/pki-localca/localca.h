/*
 * localca.h - the parts of pki-localca: the CA (files or database), its
 * creation or import, signing and revocation.
 */
#ifndef LOCALCA_H
#define LOCALCA_H

#include "pki.h"

/* localca_settings of the database, or serverPKI's defaults. */
struct settings {
	char	 subject_name[65];	/* the CA's Subjects row */
	char	 ca_dn[256];
	char	 ca_algo[4];		/* "rsa" or "ec" */
	long	 ca_rsa_bits;
	char	 ca_ec_curve[8];
	long	 ca_days;
	long	 leaf_days;
	long	 backdate;		/* seconds not_before lies in the past */
	char	 root_name[65];		/* the root CA's Subjects row */
	char	 root_dn[256];
	long	 root_days;
};

/* What --init makes (and which CA --import brings in). */
enum ca_role {
	CA_SINGLE,		/* a self-signed CA that signs certificates */
	CA_ROOT,		/* a self-signed root that signs intermediates */
	CA_INTERMEDIATE		/* an intermediate signed by the root */
};

struct ca {
	X509		*cert;
	EVP_PKEY	*key;
	char		*cert_pem;	/* the chain of every certificate: the
					 * CA and the CAs above it */
	long		 instance;	/* its instance, 0: of files */
	struct ca	*older;		/* older CAs that still sign CRLs
					 * (ca_load_older()), newest first */
	int		 tried;		/* loading was attempted */
	char		 why[512];	/* why loading failed, if it did */
};

struct opts {
	const char	*ca_cert_file;
	const char	*ca_key_file;
	const char	*pass_file;
	long		 days;		/* -1: from the settings */
	const char	*algo;		/* --init --algo, NULL: settings */
	const char	*subject;	/* --init --subject, NULL: settings */
	enum ca_role	 role;		/* --root, --intermediate */
	const char	*root_cert_file; /* --root-cert: the root in files */
	const char	*root_key_file;
};

/* ca.c */

/* Fill ST with serverPKI's defaults. */
void	 settings_default(struct settings *st);
/* Read localca_settings from DB into ST; 0 / -1 (reported). */
int	 settings_read(PGconn *db, struct settings *st);
/*
 * Load the CA into CA: from the files of OPTS (the certificate file may
 * hold the CAs above it too), else the newest valid local CA instance of
 * the database that has its key, with the chain above it (reading its
 * settings into ST).  On failure CA->why says why (once) and -1 is
 * returned on every later call.  PASS is the passphrase or NULL.
 */
int	 ca_load(struct ca *ca, struct settings *st, const struct opts *o,
	    const char *pass);
/* Load into CA->older the older valid instances of the database's CA
 * that have their key (rolled intermediates whose certificates are still
 * out there); 0 / -1 (reported). */
int	 ca_load_older(struct ca *ca, const struct settings *st,
	    const char *pass);
/* Free what CA holds, its older CAs too. */
void	 ca_free(struct ca *ca);
/* The CA of CERT_FILE (public, read as any file; further certificates in
 * it are its chain) and KEY_FILE (a secret file); 0 / -1 with ca->why
 * set. */
int	 ca_from_files(struct ca *ca, const char *cert_file,
	    const char *key_file, const char *pass);
/* The root that signs a new intermediate: of --root-cert and --root-key
 * in O, else the database's, whose key must be there; 0 / -1 (reported). */
int	 root_load(struct ca *root, const struct settings *st,
	    const struct opts *o, const char *pass);
/* Why CERT is not a CA's: no basicConstraints CA:TRUE or no keyUsage
 * keyCertSign (RFC 5280 4.2.1.3, 4.2.1.9); NULL if it is one. */
const char *not_a_ca(X509 *cert);

/* make.c */

/*
 * Make a new CA per ST and OPTS: a self-signed one (CA_SINGLE, CA_ROOT)
 * or an intermediate signed by the root (of --root-cert and --root-key,
 * else the database's, whose key must be there).  With files in OPTS write
 * them (the key encrypted with PASS, mode 0600; an intermediate's
 * certificate file holds the root too); else write a CA record for
 * pki-store to stdout.  Returns an exit status.
 */
int	 ca_init(const struct settings *st, const struct opts *o,
	    const char *pass);
/*
 * --import: the CA certificate and key of OPTS's files, made elsewhere,
 * as a CA record for pki-store (the key encrypted with PASS), named as
 * ST says for OPTS's role (the root for CA_ROOT, else the CA that signs).
 * Refuses garbage, a key that does not belong to the certificate and a
 * certificate that is not a CA's.  Returns an exit status.
 */
int	 ca_import(const struct settings *st, const struct opts *o,
	    const char *pass);

/* sign.c */

/* A random positive 159-bit serial number; NULL on failure. */
ASN1_INTEGER *random_serial(void);
/* Add extension NID = VALUE (openssl.cnf syntax) to CERT issued by ISSUER;
 * 0 / -1 (error queue). */
int	 add_ext(X509 *cert, X509 *issuer, int nid, const char *value);
/* Sign what the record asks for; 0 / -1 (error added to the record). */
int	 sign_record(json_t *rec, struct ca *ca, const struct settings *st,
	    long days);

/* crl.c */

/* --revoke: mark REC revoked for REASON (an RFC 5280 name) when it is a
 * certificate of the local CA not revoked yet; 0. */
int	 revoke_record(json_t *rec, const char *reason);
/* --crl: write FILE, the CRL of CA (then one of each of its older CAs)
 * valid DAYS days listing the revoked instances of the database it
 * issued.  Returns an exit status. */
int	 crl_write(struct ca *ca, const char *file, long days);

#endif
