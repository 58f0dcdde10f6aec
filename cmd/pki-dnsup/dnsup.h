/*
 * dnsup.h - the parts of pki-dnsup.
 *
 * main.c gathers the batch (the records with DNS work; the others pass
 * at once) and runs it; item.c turns the records' dns-01 and
 * dns-persist-01 challenges, TLSA records and published entries into
 * items, field.c writes back what became of them; zone.c finds the
 * zone, the primary and the authoritative servers of each owner,
 * following CNAMEs; update.c changes a zone with one RFC 2136 UPDATE
 * signed with the TSIG key of tsig.c; zonefile.c changes an include file
 * instead and runs the reload command; wait.c asks every authoritative
 * server whether it serves a standing record already, and until each
 * serves the change; dns.c holds servers, queries and time.
 */
#ifndef DNSUP_H
#define DNSUP_H

#include <stdint.h>

#include <ldns/ldns.h>

#include "pki.h"

#define NAME_LEN	256	/* a name as text, trailing dot and NUL included */
#define SERVER_LEN	64	/* "2001:db8::1#65535" */
#define SECRET_LEN	512	/* longest base64 TSIG secret accepted */

/* ------------------------------------------------------------ dns.c */

struct server {
	ldns_rdf	*addr;		/* an A or AAAA rdf, owned */
	uint16_t	 port;
	char		 text[SERVER_LEN];	/* "192.0.2.1#53", BIND's way */
};

struct servers {
	struct server	*v;
	size_t		 n;
};

/* Append a server at ADDR (copied) and PORT to LIST; 0 / -1 (memory). */
int	 servers_add(struct servers *list, const ldns_rdf *addr, uint16_t port);
/* Append a copy of every server of FROM to LIST; 0 / -1. */
int	 servers_copy(struct servers *list, const struct servers *from);
/* Free the servers of LIST and empty it. */
void	 servers_free(struct servers *list);
/* 1 if LIST holds a server with TEXT. */
int	 servers_have(const struct servers *list, const char *text);
/*
 * Append to LIST the servers SPEC names: "HOST", "HOST:PORT",
 * "[IPV6]:PORT"; HOST is an address or, when RESOLVER is not NULL, a
 * host name resolved through it; PORT defaults to 53.  0, or -1 with WHY.
 */
int	 servers_parse(struct servers *list, const char *spec,
	    const struct servers *resolver, double deadline, char *why,
	    size_t whylen);
/* 0 if SPEC has the form servers_parse() reads, HOST an address or,
 * when NAMES, a host name (not looked up); else -1 with WHY. */
int	 servers_check(const char *spec, int names, char *why, size_t whylen);
/* The server of TEXT as "ADDRESS#PORT" (what server.text holds); 0 / -1. */
int	 server_from_text(struct server *srv, const char *text);

/* A resolver that asks the servers TO in order (all on the first one's
 * port) and waits WAIT seconds for each, once; NULL on memory
 * exhaustion.  Free it with ldns_resolver_deep_free(). */
ldns_resolver *dns_resolver(const struct servers *to, int recurse,
	    double wait);
/*
 * Ask the servers TO, one after the other until one answers, for NAME
 * and TYPE (class IN), with recursion desired when RECURSE, waiting at
 * most WAIT seconds and never past DEADLINE.  The reply, whatever its
 * rcode, in *REPLY (caller frees); else -1 with WHY.
 */
int	 dns_query(const struct servers *to, int recurse, const char *name,
	    ldns_rr_type type, double wait, double deadline, ldns_pkt **reply,
	    char *why, size_t whylen);
/* Append to LIST the addresses (A and AAAA, through RESOLVER) of HOST,
 * each with PORT.  0, or -1 with WHY (also when HOST has none). */
int	 dns_addresses(struct servers *list, const char *host, uint16_t port,
	    const struct servers *resolver, double deadline, char *why,
	    size_t whylen);
/* The mnemonic of RCODE ("REFUSED"), in a static buffer. */
const char *dns_rcode(int rcode);
/* The name NAME as text (caller frees), NULL if it cannot be. */
char	*dname_text(const ldns_rdf *name);
/* 1 if the RRs A and B have the same owner, type and data (class and
 * TTL are not compared). */
int	 rr_same(const ldns_rr *a, const ldns_rr *b);

/* ------------------------------------------------------------ tsig.c */

struct tsig_key {
	char	 name[NAME_LEN];	/* "update-key." */
	char	 algorithm[32];		/* as ldns names it: "hmac-sha256." */
	char	 secret[SECRET_LEN];	/* base64; wiped by tsig_wipe() */
};

/*
 * Read the TSIG key of FILE, in BIND's format:
 *	key "name" { algorithm hmac-sha256; secret "base64"; };
 * (exactly one key; hmac-md5, -sha1, -sha256 or -sha512, hmac-sha256 when
 * no algorithm is named), a secret file as pki_read_secret() wants it
 * (regular, private, at most 16 KiB).  0, or -1 with WHY (naming the
 * file, and the line and what was expected there; never a token of the
 * file, which may be the secret).
 */
int	 tsig_load(struct tsig_key *key, const char *file, char *why,
	    size_t whylen);
/* Wipe KEY. */
void	 tsig_wipe(struct tsig_key *key);
/* Sign with KEY what RES sends and verify its replies. */
void	 tsig_apply(ldns_resolver *res, const struct tsig_key *key);
/* Wipe RES's copy of the secret and free RES (deep). */
void	 tsig_resolver_free(ldns_resolver *res);

/* ------------------------------------------------------------ main.c */

struct config {
	struct servers	 resolver;	/* --resolver, or the system's */
	struct servers	 primary;	/* --server; empty: the SOA MNAME */
	struct servers	 ns;		/* --ns; empty: the zone's NS */
	struct tsig_key	*key;		/* --key-file; NULL without */
	const char	*include;	/* --include-file PATTERN, or NULL */
	const char	*reload;	/* --reload-cmd CMD, or NULL */
	uint32_t	 ttl;		/* --ttl */
	double		 interval;	/* --interval, seconds */
	double		 timeout;	/* --timeout, seconds */
	double		 deadline;	/* pki_now() by which the work ends */
	int		 remove;	/* --remove */
	int		 check;		/* --check */
	int		 tlsa;		/* --tlsa */
	char		 setup_error[512];	/* why the key file or a
					   server could not be set up, or
					   "": then no DNS work is done */
};

/* ------------------------------------------------------------ item.c */

struct zone {
	char		 name[NAME_LEN];	/* "example.test." */
	struct server	 primary;	/* where the UPDATE goes */
	char		*file;		/* zone-file mode: the include file */
	struct servers	 ns;		/* the authoritative servers */
	int		 ready;		/* primary or file, and ns, are set */
	char		*error;		/* why its items failed (or, in
					   zone-file mode, its reload), or
					   NULL */
};

enum item_state { ITEM_NEW, ITEM_FAILED, ITEM_DONE };

/* One RR to publish or withdraw, for one record. */
struct item {
	size_t		 rec;		/* the record's index in the batch */
	const char	*field;		/* its errors' field: "challenges",
					   "tlsa" or "dns" */
	char		 owner[NAME_LEN];	/* where the RR is */
	char		 asked[NAME_LEN];	/* the owner asked for, when a
						   CNAME led to OWNER; else "" */
	uint16_t	 type;		/* LDNS_RR_TYPE_TXT or _TLSA */
	uint32_t	 ttl;
	char		*data;		/* TXT value, TLSA "3 1 1 HEX"; owned */
	int		 replace;	/* the RRset at OWNER is replaced */
	int		 empty;		/* ... by nothing: an owner of
					   "tlsa_empty", no data */
	struct zone	*zone;		/* the batch's */
	json_t		*entry;		/* --remove: its dns.published entry */
	int		 persist;	/* a dns-persist-01 standing record:
					   published once, never withdrawn */
	int		 standing;	/* ... that every authoritative
					   server served already */
	enum item_state	 state;
};

struct batch {
	json_t		*recs;		/* the records held (those with
					   items), in input order */
	struct item	*items;		/* by record, in the record's order */
	size_t		 nitems;
	struct zone	**zones;
	size_t		 nzones;
	int		 failed;	/* a record got an error */
	size_t		 last_rec;	/* 1 + the record that got LAST_MSG */
	char		 last_msg[512];
};

/* Free everything BATCH holds but BATCH itself. */
void	 batch_free(struct batch *b);
/*
 * The items of record I: its dns-01 and dns-persist-01 challenges
 * (and, with --tlsa, its TLSA records) to publish, or with --remove the
 * entries of its dns.published.  A record with a bad entry gets an
 * error and no item for it (when publishing, no item at all).  0; 1
 * when the record got an error; -1 on memory exhaustion (reported; the
 * record has no item).
 */
int	 items_gather(struct batch *b, size_t i, const struct config *cfg);
/* The zone NAME of the batch (with --remove: of that FILE or PRIMARY
 * too), created empty when new; NULL on memory exhaustion. */
struct zone *batch_zone(struct batch *b, const char *name,
	    const char *file, const char *primary);
/* Give record I an error in FIELD. */
void	 record_error(struct batch *b, size_t i, const char *field,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Mark IT failed; its record gets the error (once when the items of a
 * record fail alike one after the other). */
void	 item_fail(struct batch *b, struct item *it, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* Mark Z failed for the reason given (kept in Z->error), and every new
 * item of Z with it. */
void	 zone_fail(struct batch *b, struct zone *z, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* The RR of IT (class IN); with DELETE, the RR-specific delete of it
 * (class NONE, TTL 0).  NULL on memory exhaustion. */
ldns_rr	*item_rr(const struct item *it, int delete);
/* NULL if OWNER (with its trailing dot) is a name pki may write to: a
 * host name whose labels may start with "_"; else what is wrong. */
const char *owner_check(const char *owner);

/* ------------------------------------------------------------ item.c, too */

/*
 * --check: the items of record I if it is about to ask an ACME CA for
 * an order with dns-01 challenges: one per name, at its
 * _acme-challenge owner, to find the zone of and probe, never to be
 * published.  As items_gather().
 */
int	 probe_gather(struct batch *b, size_t i);
/* 1 if record REC is one of pki-select --orphans: challenge records
 * that a dead run left, to withdraw ("action": "withdraw"). */
int	 withdraw_record(const json_t *rec);
/* The dns-01 challenges of record I as items (to withdraw; when
 * publishing, its dns-persist-01 challenges too); as items_gather(). */
int	 challenges_gather(struct batch *b, size_t i, const struct config *cfg);

/* ------------------------------------------------------------ field.c */

/* Write into the records what became of their items: dns.published, or
 * with --remove dns.removed; 0 / -1 (memory). */
int	 items_record(struct batch *b, const struct config *cfg);

/* ------------------------------------------------------------ zone.c */

/*
 * Find where each new item that has no zone yet goes: follow CNAMEs from
 * its owner, find the zone of the name, the zone's primary (UPDATE mode)
 * and its authoritative servers.  An item whose zone is not found fails.
 */
void	 zones_locate(struct batch *b, const struct config *cfg);

/* ------------------------------------------------------------ update.c */

/*
 * Send the new items of Z (to add, or with --remove to delete) to Z's
 * primary in one UPDATE signed with the TSIG key of CFG.  On success the
 * items are done; else they fail with the reason.
 */
void	 zone_update(struct batch *b, struct zone *z,
	    const struct config *cfg);
/*
 * --check: send Z's primary an update signed with the TSIG key of CFG
 * that changes nothing (its one prerequisite: the zone's apex exists).
 * When the primary refuses it, or cannot be reached, the items of Z
 * fail with the reason; else they stay new.
 */
void	 zone_probe(struct batch *b, struct zone *z, const struct config *cfg);

/* ------------------------------------------------------------ zonefile.c */

/* The include file of ZONE after PATTERN ("{}" = ZONE without its
 * trailing dot); caller frees; NULL on memory exhaustion. */
char	*zonefile_path(const char *pattern, const char *zone);
/*
 * Merge the new items of Z into its include file (with --remove, drop
 * them from it), then run the reload command.  The items are done once
 * the file is written; a reload that fails is an error of theirs.
 */
void	 zonefile_change(struct batch *b, struct zone *z,
	    const struct config *cfg);

/* ------------------------------------------------------------ wait.c */

/*
 * dns-persist-01: each new standing-record item whose zone is known and
 * that every authoritative server of the zone serves already is done
 * and "standing": no update publishes it, no wait follows.  The truth is
 * in DNS, not in the database: a record changed or deleted by hand is
 * published again, and so is one that a server which does not answer
 * may lack (that server is asked nothing more here; the wait tells).
 */
void	 persist_standing(struct batch *b, const struct config *cfg);

/*
 * Ask every authoritative server of each zone, every --interval until
 * the deadline, until it serves all the items done at each owner; write
 * dns.seen into the records and an error for each owner not seen
 * everywhere.
 */
int	 wait_seen(struct batch *b, const struct config *cfg);

#endif /* DNSUP_H */
