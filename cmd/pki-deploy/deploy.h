/*
 * deploy.h - the parts of pki-deploy: the batch (main.c), the files a
 * target gets (files.c, by its place as place.c reads it; an atomic
 * place's versions in atomic.c; formats other than PEM in format.c), the
 * checks before anything is written (check.c), the connections to hosts
 * (conn.c; ssh.c and sshexec.c with their ssh.h, and the watchdog in
 * watch.c; local.c), the reload commands (reload.c), the hooks of hook
 * places (hook.c), Redis places (redis.c), paths (path.c) and shell
 * quoting (quote.c).
 *
 * pki-deploy gathers its batch: it plans every target of every record
 * it holds (the others pass at once), then, at the end of the input,
 * works through the hosts, several at a time, one connection (one
 * SSH session) per host for the whole batch.  A worker thread owns a
 * host and its targets while it works on them; it touches no JSON and
 * writes no message: the main thread reports once the workers are done.
 */
#ifndef DEPLOY_H
#define DEPLOY_H

#include <sys/types.h>

#include "pki.h"

#define DEPLOY_ERR_MAX	512	/* longest error text kept */
#define STDERR_MAX	4096	/* longest reload stderr kept */

/* One file, or one symbolic link, that a target is to hold. */
struct dfile {
	char	*path;		/* absolute path on the host */
	char	*data;		/* contents; NULL for a link */
	size_t	 len;
	char	*link;		/* the link's contents, or NULL */
	int	 secret;	/* holds a private key: wiped when freed */
	const char *role;	/* a hook's name of what it holds: "CERT",
				 * "KEY", "CHAIN", "FULLCHAIN", "BUNDLE",
				 * "KEY_CERT", "P12"; NULL for a link */
	char	 algo[8];	/* the algorithm whose file it is */
	mode_t	 mode;
	long	 uid, gid;	/* -1: whatever the login user makes */
	char	 sha256[65];	/* uppercase hex SHA-256 of data */
};

enum tstate { T_TODO, T_OK, T_FAILED };
enum tkind { K_FILES, K_HOOK, K_REDIS };	/* Places.kind */

struct rplan;

/* One target of one record: what to put where, and what happened. */
struct target {
	size_t	 rec;		/* index of the record in the batch */
	long	 id;		/* Targets.id */
	enum tkind kind;
	char	*host;		/* DistHosts.FQDN, lower case */
	char	*jail;		/* or NULL */
	char	*place;		/* Places.name, or NULL */
	char	*root;		/* jailroot/jail, or NULL: "/" */
	struct dfile *files;
	size_t	 nfiles;
	char	*reload;	/* reload command, {} replaced; or NULL */
	char	*vstore;	/* an atomic place: the directory of its
				 * versions on the host (atomic.c) */
	char	*version;	/* ... and the version of this instance */
	char	*hook;		/* a hook place: its command, or NULL */
	char	**hook_env;	/* ... its environment (hook.c) */
	char	*hook_input;	/* ... and its stdin: the record without
				 * its key, one line */
	struct rplan *redis;	/* a Redis place: what to write (redis.c) */
	/* results, written by the host's worker */
	enum tstate state;
	int	 written;	/* the files were (re)written */
	char	*drift;		/* --consolidate: what differed, or NULL */
	int	 reload_due;	/* the files were in place, but the reload
				 * of the run that put them did not end
				 * well: reload all the same */
	int	 reload_run;
	int	 reload_status;	/* exit status, -1 if none */
	char	*reload_stderr;
	int	 hook_due;	/* like reload_due, for the hook */
	int	 hook_run;
	int	 hook_status;	/* exit status, -1 if none */
	char	*hook_stderr;
	char	**keys;		/* Redis: the keys written, NULL-ended */
	char	 error[DEPLOY_ERR_MAX];
};

/* One host and the targets it receives. */
struct host {
	char	*name;
	int	 local;		/* this machine: no SSH */
	int	 redis;		/* a Redis server: its targets' rplan */
	struct target **targets;
	size_t	 n, cap;
	/* results */
	int	 sessions;	/* SSH sessions opened (1, or 0 if none) */
	size_t	 files;		/* files written */
	size_t	 reloads;	/* reload commands run */
	double	 seconds;
};

/* How to reach the hosts (options of main.c). */
struct sshopt {
	const char *config;	/* ssh_config file, or NULL: libssh's */
	const char *known_hosts;/* or NULL: libssh's */
	const char *identity;	/* private key file, or NULL: agent etc. */
	const char *user;	/* or NULL: ssh_config's, else own name */
	long	 timeout;	/* seconds for any one operation on a host,
				 * and for a reload command */
};

/* ------------------------------------------------------------ conn.c */

/* What a file on a host is. */
struct dstat {
	int	 type;		/* 0 none, 'f' file, 'd' directory,
				 * 'l' link, '?' other */
	mode_t	 mode;		/* permission bits */
	long	 uid, gid;
};

struct conn;

/* The operations on one host; each returns 0 / -1 with the reason in
 * the connection's err (conn_error()). */
struct conn_ops {
	int	(*lstat)(struct conn *, const char *, struct dstat *);
	int	(*mkdir)(struct conn *, const char *, mode_t);
	/* Create PATH exclusively (never following a link) with F's
	 * contents, synced, owned and moded as F says: mode narrowed to
	 * the owner's bits until owner and group are set. */
	int	(*put)(struct conn *, const char *, const struct dfile *);
	int	(*symlink)(struct conn *, const char *contents,
		    const char *path);
	/* Rename each FROM[i] to TO[i], replacing TO[i] atomically, one
	 * right after the other (over SFTP all requests are sent before
	 * the first reply is read); -1 when one failed. */
	int	(*renames)(struct conn *, size_t n, char *const from[],
		    char *const to[]);
	int	(*unlink)(struct conn *, const char *);
	/* Remove an empty directory; one that is not there is no error. */
	int	(*rmdir)(struct conn *, const char *);
	/* The first MAX bytes (at most) of a file, never following a
	 * link; caller wipes and frees. */
	int	(*read)(struct conn *, const char *, size_t max, char **,
		    size_t *);
	/* The contents of a link (caller frees). */
	int	(*readlink)(struct conn *, const char *, char **);
	/* Run CMD in a process group of its own; its exit status (-1 if
	 * none) and up to STDERR_MAX bytes of its stderr (caller frees);
	 * -1 if it could not run, or did not finish within TIMEOUT
	 * seconds (then its process group is killed, on the host too). */
	int	(*run)(struct conn *, const char *cmd, long timeout,
		    int *status, char **err);
	void	(*close)(struct conn *);
};

struct conn {
	const struct conn_ops *ops;
	char	 err[DEPLOY_ERR_MAX];
	int	 dead;		/* the host is lost (no answer in time, or
				 * the connection broke): every further
				 * operation fails, and err says why */
	char	**dirs;		/* directories known to be good */
	size_t	 ndirs, capdirs;
	void	*impl;		/* the backend's own state */
};

/* Set the connection's error; always -1. */
int	 conn_error(struct conn *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/*
 * Make the directory DIR and the ones above it, below ROOT (NULL: "/"),
 * which must exist; below a jail's ROOT no part may be a symbolic link
 * (the jail cannot redirect the host's writes).  0 / -1.
 */
int	 conn_mkdirs(struct conn *, const char *root, const char *dir);
/* Put T's files on the host: every one to a temporary name in its
 * directory, written and synced, and only then all renamed into place,
 * back to back.  With a reload command, a marker beside the first file
 * says that its reload is due until reload_done() removes it.  0 / -1
 * (reason in T->error). */
int	 conn_deploy(struct conn *, struct target *t);
/* Compare what the host holds with T's files: 0 and T->drift NULL when
 * they are the same, 0 and T->drift set when not; -1 if the host could
 * not be read.  ALL: every difference, else the first only.  Sets
 * T->reload_due when the files are right but a reload marker is left. */
int	 conn_check(struct conn *, struct target *t, int all);
/* T's reload ran well: remove its marker.  0 / -1. */
int	 reload_done(struct conn *, struct target *t);
/* T's hook ran well: remove its marker.  0 / -1. */
int	 hook_done(struct conn *, struct target *t);
/* Free the connection (after ops->close). */
void	 conn_free(struct conn *);

/* ------------------------------------------------------------ ssh.c */

/* An SSH (SFTP) connection to HOST; NULL with the reason in ERR.  Every
 * operation on it, from the connection on, is bounded by OPT->timeout:
 * a host that does not answer in time is cut off (the connection dead,
 * its error naming the host). */
struct conn *ssh_open(const char *host, const struct sshopt *opt,
	    char *err, size_t errlen);
/* Once per process, before and after any session. */
int	 ssh_setup(void);
void	 ssh_teardown(void);

/* ------------------------------------------------------------ watch.c */

/* The watch of one connection: its socket is cut when an operation has
 * not ended by its deadline.  Owned by the connection's worker; the
 * members are the watchdog's. */
struct watch {
	int	 fd;		/* our own descriptor of the socket; -1 */
	long	 timeout;	/* seconds an operation may take */
	double	 deadline;	/* of the operation under way; 0: none */
	int	 cut;		/* the watchdog cut the connection */
	struct watch *next;
};

/* Watch the connection on socket FD (duplicated), starting the watchdog
 * on first use; 0 / -1. */
int	 watch_add(struct watch *, int fd, long timeout);
/* Stop watching (a watch never added, fd -1, is fine). */
void	 watch_remove(struct watch *);
/* An operation begins: it must end within the timeout. */
void	 watch_arm(struct watch *);
/* The operation ended. */
void	 watch_disarm(struct watch *);
/* 1 if the watchdog cut the connection, or its deadline passed (cut now). */
int	 watch_cut(struct watch *);
/* 1 if the other end closed the connection (and the watchdog did not). */
int	 watch_closed(struct watch *);
/* Stop the watchdog (once, at exit). */
void	 watch_stop(void);

/* ------------------------------------------------------------ local.c */

/* A connection to this machine itself (no SSH); NULL if out of memory. */
struct conn *local_open(void);
/*
 * Run CMD by /bin/sh -c in a process group of its own, with the
 * environment ENVP (NULL: this process's), the LEN bytes of IN on its
 * stdin (IN NULL: /dev/null), stdout /dev/null.  Its exit status (-1 if
 * none) into *STATUS and up to STDERR_MAX bytes of its stderr into *ERR
 * (caller frees); -1 with the reason in C's err if it could not run or
 * did not end within TIMEOUT seconds (then its process group is killed).
 */
int	 local_run(struct conn *c, const char *cmd, char *const envp[],
	    const char *in, size_t len, long timeout, int *status,
	    char **err);

/* ------------------------------------------------------------ place.c */

/* A place as pki-deploy uses it. */
struct place {
	const char *type;	/* cert_file_type */
	const char *cert_path, *key_path;
	mode_t	 key_mode;
	long	 uid, gid;
	int	 chown_both, pg_link;
	int	 atomic;	/* a new version and one link swapped */
	int	 format;	/* FMT_PEM ... (format.c) */
	const char *pass_file;	/* p12_passphrase_file */
	enum tkind kind;	/* Places.kind */
	const char *dhparam;	/* an RFC 7919 group, or NULL */
	char	 pass[PKI_PASS_MAX + 1];	/* p12: its passphrase */
};

/* The kind of the place PJ (its "kind"; none: files), -1 if unknown. */
int	 place_kind(json_t *pj);
/* Read the place PJ of target T into PL (a p12 place's passphrase
 * included: the caller wipes PL->pass); -1 (T failed, its error naming
 * the place and the field) if it is not usable. */
int	 place_read(struct target *t, json_t *pj, struct place *pl);

/* ------------------------------------------------------------ files.c */

/*
 * The target TJ (an element of the record's "targets") of record REC as
 * a plan: the files it gets, where, and the reload command.  NULL when
 * out of memory; a target whose configuration cannot be deployed (a bad
 * path, jail or host name, no place) comes back in state T_FAILED with
 * the reason in its error.
 */
#define MAX_FILES	32	/* of a target: 2 algorithms x 5 files, a
				 * link to each (atomic), 2 links more, the
				 * swap link */

struct target *target_plan(json_t *rec, json_t *tj, size_t index);
void	 target_free(struct target *);
/* T cannot be deployed, for the reason FMT: T_FAILED, the reason in its
 * error.  Always -1. */
int	 target_fail(struct target *t, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* Add to T's files the link PATH (on the host; allocated by the caller
 * and owned by T from now on, whatever happens) with the contents
 * CONTENTS.  0 / -1 (T failed: too many files, out of memory). */
int	 target_link(struct target *t, char *path, const char *contents);
/* Free a file's memory, wiping its contents if it holds a key. */
void	 dfile_clear(struct dfile *);

/* ------------------------------------------------------------ format.c */

/* A place's format (Places.format), as format_parse() numbers them. */
enum { FMT_PEM, FMT_DER, FMT_FULLCHAIN, FMT_BUNDLE, FMT_P12 };

/* The format named S (NULL: pem), or -1 if there is no such format. */
int	 format_parse(const char *s);
/* The first certificate of PEM in DER (caller frees), its length in
 * *LEN; NULL if it cannot be read or encoded. */
char	*format_cert_der(const char *pem, size_t *len);
/* The clear private key PEM as a PKCS#8 PrivateKeyInfo in DER (caller
 * wipes and frees), its length in *LEN; NULL if it cannot be read. */
char	*format_key_der(const char *pem, size_t *len);
/* A PKCS#12 file (DER) of the key, the certificate and the chain (every
 * certificate of CHAIN_PEM, which may be NULL), the certificate's
 * friendly name NAME, encrypted and MACed with PASS; caller wipes and
 * frees; NULL if one of them cannot be read or the file not made. */
char	*format_p12(const char *key_pem, const char *cert_pem,
	    const char *chain_pem, const char *name, const char *pass,
	    size_t *len);

/* ------------------------------------------------------------ atomic.c */

/*
 * Before T's files are put on the host: if T is an atomic place whose
 * "current" version is another, add a link "previous" to it (renamed
 * with the rest), and remove the version "previous" named until now,
 * unless it is the one in use or the one to write: a host keeps the
 * version served and the one before it, never every key it was given.
 * Only a directory of the place's own versions is touched, and in it
 * only the files the place writes.  0 / -1 (out of memory).
 */
int	 atomic_retire(struct conn *, struct target *t);
/*
 * Make the files planned for T so far one version of an atomic place
 * (Places.atomic): each regular file moves into the version directory
 * <CERTDIR>/.pki-BASE/VERSION (below T's jail), keeping its path below
 * CERTDIR or KEYDIR, and its own path becomes a relative link to the
 * same name below <CERTDIR>/.pki-BASE/current, itself a link to
 * VERSION.  T's files are then in the order they are to be renamed in:
 * the version's files, "current", the files' links, the links planned
 * before.  So the version is complete before the one rename of
 * "current" swaps every file at once; the files' links change only the
 * first time (replacing plain files).  0 / -1 (T failed: a path too long
 * or not acceptable, out of memory).
 */
int	 atomic_version(struct target *t, const char *certdir,
	    const char *keydir, const char *base, const char *version);

/* ------------------------------------------------------------ path.c */

#define MAX_PATH_LEN	1024	/* longest path from the database */

/* NULL if PATH is absolute, without "." or ".." parts, empty parts or
 * control characters, and not too long; else why not. */
const char *path_problem(const char *path);
/* NULL if NAME is a valid jail name (as dd.jail_name_problem says). */
const char *jail_problem(const char *name);
/* TEMPLATE with "{}" replaced by NAME and trailing "/" dropped, into OUT
 * (MAX_PATH_LEN + 1 bytes), checked by path_problem(); NULL or why
 * not. */
const char *expand_path(const char *template, const char *name, char *out);
/* ROOT (NULL: none) + DIR + "/" + NAME into OUT of SIZE bytes; DIR "/"
 * adds nothing.  0 / -1 if it is too long. */
int	 path_join(char *out, size_t size, const char *root, const char *dir,
	    const char *name);

/* ------------------------------------------------------------ check.c */

/*
 * Check REC before anything is written for it: every certificate
 * parses, its chain verifies it, and its key (needed when NEED_KEY)
 * belongs to it.  0 / -1 (an error added to the record).
 */
int	 check_record(json_t *rec, int need_key);

/* ------------------------------------------------------------ reload.c */

/*
 * Run the reload commands of host H's targets that were written: each
 * distinct command once per jail, after all files of the host are in
 * place.  The result goes to every target that shares it; a command
 * that fails fails them.
 */
void	 reload_host(struct conn *, struct host *h, long timeout);
/*
 * The result of a command run for U (WHAT: "reload", "hook"): its
 * STATUS into *ST and a copy of its stderr ERR into *SAVED; one that
 * did not run (RC -1, WHY says why) or ended other than with 0 fails U,
 * its error naming WHAT and the first line of ERR.
 */
void	 run_result(struct target *u, const char *what, int rc, int status,
	    const char *err, const char *why, int *st, char **saved);

/* ------------------------------------------------------------ hook.c */

/* The environment and stdin of T's hook (a hook place's target of REC,
 * its files planned): 0 / -1 (T failed). */
int	 hook_plan(struct target *t, json_t *rec);
/* Run the hooks of host H's targets whose files were written now, or
 * were in place but whose hook did not end well before: each once, in
 * order, after the host's reload commands.  A hook that fails (exit
 * other than 0, killed after TIMEOUT seconds) fails its target. */
void	 hook_host(struct conn *, struct host *h, long timeout);
void	 hook_free(struct target *t);

/* ------------------------------------------------------------ redis.c */

/* What Redis place PJ of target T is to hold for REC (peter_sslers's
 * prime_style 1 or 2 of its first algorithm), into T->redis: 0 / -1 (T
 * failed, its error naming the place and the field). */
int	 redis_plan(struct target *t, json_t *rec, json_t *pj);
/* The server of T's place, as one string: targets with the same one
 * share a connection (caller frees); NULL if out of memory. */
char	*redis_server(const struct target *t);
/* Every target of host H (a Redis server): one connection, each target's
 * keys written in one MULTI/EXEC.  A server that cannot be reached fails
 * each of its targets with the reason. */
void	 redis_host(struct host *h, long timeout);
void	 redis_free(struct rplan *);

/* ------------------------------------------------------------ quote.c */

/* S quoted for a POSIX shell, as one word that stands for S exactly
 * (caller frees); NULL if out of memory. */
char	*sh_quote(const char *s);
/*
 * TEMPLATE with every "{}" replaced by VALUE quoted for the shell
 * (VALUE NULL: the empty string); caller frees; NULL if out of memory.
 */
char	*sh_expand(const char *template, const char *value);

#endif
