/*
 * localca.h - the parts of pki-localca: the CA (files or database), its
 * creation, and signing.
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
};

struct ca {
	X509		*cert;
	EVP_PKEY	*key;
	char		*cert_pem;	/* the chain of every certificate */
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
};

/* ca.c */

/* Fill ST with serverPKI's defaults. */
void	 settings_default(struct settings *st);
/* Read localca_settings from DB into ST; 0 / -1 (reported). */
int	 settings_read(PGconn *db, struct settings *st);
/*
 * Load the CA into CA: from the files of OPTS, else the newest valid local
 * CA instance of the database (reading its settings into ST).  On failure CA->why says why (once) and -1
 * is returned on every later call.  PASS is the passphrase or NULL.
 */
int	 ca_load(struct ca *ca, struct settings *st, const struct opts *o,
	    const char *pass);
void	 ca_free(struct ca *ca);
/*
 * Make a new self-signed CA per ST and OPTS.  With files in OPTS write them
 * (the key encrypted with PASS, mode 0600); else write a CA record for
 * pki-store to stdout.  Returns an exit status.
 */
int	 ca_init(const struct settings *st, const struct opts *o,
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
/* --crl: write FILE, the CRL of CA valid DAYS days listing the revoked
 * instances of the database it issued.  Returns an exit status. */
int	 crl_write(struct ca *ca, const char *file, long days);

#endif
