/*
 * select.h - the parts of pki-select: options and the configuration and
 * claims (main.c), instances with their certificates and keys
 * (instance.c), and the instances to distribute or consolidate
 * (distribute.c).
 */
#ifndef SELECT_H
#define SELECT_H

#include "pki.h"

struct selection {
	json_t	*only;		/* -o names, or NULL for all */
	json_t	*include;	/* -i names: even when disabled */
	json_t	*exclude;	/* -e names */
	json_t	*skip;		/* -s hosts */
	json_t	*limit;		/* -l hosts, or NULL for all */
	int	 all;		/* -a: disabled ones too */
	int	 create;
	int	 orphans;	/* --orphans */
	int	 mode;		/* 0, or 'D' --distribute, 'K' --consolidate */
	const char *tlsa;	/* --tlsa: "changed", "all", "remove", or NULL */
	long	 stale;		/* seconds after which a claim of no run is void */
	const char *run;	/* --run: the live run claims are made for */
	int	 with_keys;
	const char *pass;	/* passphrase of keys at rest, or NULL */
	int	 schedule;	/* --schedule */
	int	 claim;		/* what --create claims: CLAIM_* */
	const char *now;	/* --now, or NULL: the clock */
	const char *within;	/* --within DAYS */
	long	 limit_n;	/* --limit */
	int	 given_limit;
	long	 keep;		/* --keep: archived instances kept */
	int	 given_keep;
	int	 remind;	/* --remind: local certificates not signed */
	int	 reuse;		/* --reuse: a renewal keeps the key */
	long	 min_roll;	/* --min-roll-mins (ssl-mgr's min_roll_mins) */
	int	 min_roll_set;	/* ... given */
	int	 roll;		/* --roll: prepublished instances only */
};

/* What --create claims: certificates with no valid instance, those due
 * (--due), every one selected (--force), those whose newest instance
 * expires within --within days. */
enum { CLAIM_MISSING, CLAIM_DUE, CLAIM_FORCE, CLAIM_WITHIN };

/* A reserved instance i that a live run holds, or that no run holds
 * and is younger than $7 seconds before t.now. */
#define LIVE_CLAIM \
	"(i.run IN (SELECT run FROM runs_alive()) OR (i.run IS NULL AND " \
	"  i.created >= t.now - make_interval(secs => $7::int)))"

/* The filter every query of the configuration shares; $1..$4 are the
 * selection's parameters (only, include, exclude, all). */
#define SELECTED \
	"r.subject_type <> 'CA' " \
	"AND ($1::json IS NULL OR r.name IN " \
	"    (SELECT json_array_elements_text($1::json)::citext)) " \
	"AND r.name NOT IN (SELECT json_array_elements_text($3::json)::citext) " \
	"AND (NOT r.disabled OR $4::bool OR r.name IN " \
	"    (SELECT json_array_elements_text($2::json)::citext)) "

/* Certificate r has an instance issued or prepublished: the only ones
 * pki.instance_next() can name.  Checked first, on an index, so that
 * the function runs only for those. */
#define HAS_NEXT \
	"EXISTS (SELECT 1 FROM certinstances n WHERE n.certificate = r.id " \
	"  AND n.state IN ('issued', 'prepublished'))"

/* The time a query acts at, from parameter N: --now or now, UTC. */
#define NOW_PARAM(n) \
	"coalesce(($" #n "::timestamptz AT TIME ZONE 'UTC'), " \
	"now() AT TIME ZONE 'UTC')"

/* LIST as JSON text for a query parameter (NULL stays NULL); *BUF is
 * to be freed. */
const char *json_param(json_t *list, char **buf);

/* Report the names of NAMES (option OPT) that name no certificate;
 * 0 / -1. */
int	 check_names(PGconn *db, json_t *names, const char *opt);

/*
 * Rows FIRST to FIRST+N-1 of RES are the certificates of one instance,
 * columns 2 algorithm, 3 certificate PEM, 4 key PEM, 5 chain PEM: into
 * REC's "cert", and its "key" WITH_KEYS (decrypted with PASS when stored
 * encrypted).  0 / -1 (an error added to the record).
 */
int	 instance_material(json_t *rec, PGresult *res, int first, int n,
	    int with_keys, const char *pass);

/* The keys of instance INST into REC's "key" (decrypted with PASS when
 * stored encrypted), for a renewal that keeps them.  0 / -1 (an error
 * added to the record). */
int	 instance_keys(PGconn *db, json_t *rec, const char *inst,
	    const char *pass);

/* --distribute and --consolidate: the instances to put on (or check on)
 * their targets, claimed for this run.  Returns the exit status. */
int	 select_deploy(PGconn *db, struct selection *sel);

/* --tlsa (tlsa.c): a record per certificate with the TLSA RRsets of its
 * owners to publish.  Returns the exit status. */
int	 select_tlsa(PGconn *db, struct selection *sel);
/* 0 if MODE is a mode of --tlsa: changed, all or remove; else -1 (said). */
int	 tlsa_mode_check(const char *mode);

/* --schedule (schedule.c): a record per certificate and action due at
 * sel->now.  Returns the exit status. */
int	 select_schedule(PGconn *db, const struct selection *sel);
/* --distribute (roll.c): a record ("action" "wait") per selected
 * certificate whose next instance is held back, saying why and until
 * when.  Returns the exit status. */
int	 select_waits(PGconn *db, const struct selection *sel);

/* --orphans (orphans.c): a record per certificate whose ACME challenge
 * records a dead run left in DNS.  Returns the exit status. */
int	 select_orphans(PGconn *db, const struct selection *sel);

#endif
