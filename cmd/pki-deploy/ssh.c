/*
 * ssh.c - a host reached by SSH: one session (one handshake) for the
 * whole batch, its host key checked against known_hosts, public-key
 * authentication, SFTP for the files and exec channels for the reload
 * commands.
 *
 * A file replaces the old one with posix-rename@openssh.com: the SFTP v3
 * rename refuses an existing target, and removing the old file first
 * would leave a moment without one.  libssh 0.10 has no call for it, so
 * s_renames() sends it (see there), all of a target's renames at once.
 *
 * libssh bounds only the connection by the timeout; every later
 * operation is bounded by the host's watch (see ssh.h and watch.c).
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ssh.h"

int
s_begin(struct conn *c)
{
	if (c->dead)
		return -1;
	watch_arm(&SSH(c)->watch);
	return 0;
}

int
s_end(struct conn *c, int rc)
{
	watch_disarm(&SSH(c)->watch);
	return rc;
}

/* Why the file system of PATH's directory refuses writes, as
 * statvfs@openssh.com says: read-only or full; NULL when it does not
 * (or cannot be asked). */
static const char *
fs_refuses(struct ssh *h, const char *path)
{
	const char *slash = strrchr(path, '/'), *why = NULL;
	sftp_statvfs_t st;
	char dir[4200];

	if (!h->statvfs || slash == NULL)
		return NULL;
	snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 :
	    (int)(slash - path), path);
	if ((st = sftp_statvfs(h->sftp, dir)) == NULL)
		return NULL;
	if (st->f_flag & SSH_FXE_STATVFS_ST_RDONLY)
		why = "Read-only file system";
	else if (st->f_bavail == 0 || st->f_favail == 0)
		why = "No space left on device";
	sftp_statvfs_free(st);
	return why;
}

/* Why the SFTP request on PATH failed, as the server's status says, or
 * the file system when the status gives no reason (libssh 0.10 reports
 * a failed write with its own words: "SFTP server: Failure"). */
static const char *
sftp_reason(struct ssh *h, const char *path)
{
	const char *why;

	switch (h->sftp != NULL ? sftp_get_error(h->sftp) : -1) {
	case SSH_FX_NO_SUCH_FILE:
	case SSH_FX_NO_SUCH_PATH:
		return "No such file or directory";
	case SSH_FX_PERMISSION_DENIED:
		return "Permission denied";
	case SSH_FX_FILE_ALREADY_EXISTS:
		return "File exists";
	case SSH_FX_WRITE_PROTECT:
		return "Read-only file system";
	case SSH_FX_FAILURE:
		return (why = fs_refuses(h, path)) != NULL ? why :
		    "failed (the SFTP server gives no reason: file exists, "
		    "disk full, ...)";
	default:
		return h->sftp != NULL && (why = fs_refuses(h, path)) != NULL ?
		    why : ssh_get_error(h->s);
	}
}

int
s_error(struct conn *c, const char *what, const char *path)
{
	struct ssh *h = SSH(c);

	if (c->dead)
		return -1;
	if (watch_cut(&h->watch)) {
		c->dead = 1;
		return conn_error(c, "%s: no answer within %ld s (%s %s): "
		    "connection cut", h->host, h->watch.timeout, what, path);
	}
	if (!ssh_is_connected(h->s)) {
		c->dead = 1;
		/* libssh says "Socket error: Success" when the host
		 * closed the connection: say what happened. */
		return conn_error(c, "%s: connection lost (%s %s): %s", h->host,
		    what, path, watch_closed(&h->watch) ? "the host closed it" :
		    ssh_get_error(h->s));
	}
	return conn_error(c, "%s %s: %s", what, path, sftp_reason(h, path));
}

/* 1 if the call that just failed got the SFTP status CODE: the host
 * answered (a connection that was cut or lost leaves a stale status). */
static int
status_is(struct conn *c, int code)
{
	return !watch_cut(&SSH(c)->watch) && ssh_is_connected(SSH(c)->s) &&
	    sftp_get_error(SSH(c)->sftp) == code;
}

static int
s_lstat(struct conn *c, const char *path, struct dstat *st)
{
	sftp_attributes a;
	mode_t fmt;

	memset(st, 0, sizeof(*st));
	if ((a = sftp_lstat(SSH(c)->sftp, path)) == NULL)
		return status_is(c, SSH_FX_NO_SUCH_FILE) ? 0 :
		    s_error(c, "lstat", path);
	fmt = a->permissions & S_IFMT;
	st->type = fmt == S_IFREG ? 'f' : fmt == S_IFDIR ? 'd' :
	    fmt == S_IFLNK ? 'l' : '?';
	st->mode = a->permissions & 07777;
	st->uid = (long)a->uid;
	st->gid = (long)a->gid;
	sftp_attributes_free(a);
	return 0;
}

static int
s_mkdir(struct conn *c, const char *path, mode_t mode)
{
	const char *why;

	if (sftp_mkdir(SSH(c)->sftp, path, mode) == 0 ||
	    status_is(c, SSH_FX_FILE_ALREADY_EXISTS))
		return 0;
	/* libssh 0.10 replaces the server's "failure" by the status of
	 * an lstat it sends after it: "no such file", which is not why. */
	if (status_is(c, SSH_FX_NO_SUCH_FILE))
		return conn_error(c, "mkdir %s: %s", path,
		    (why = fs_refuses(SSH(c), path)) != NULL ? why :
		    "failed (the SFTP server gives no reason)");
	return s_error(c, "mkdir", path);
}

static int
s_write(struct conn *c, sftp_file f, const char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = sftp_write(f, p, len)) <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	(void)c;
	return 0;
}

/*
 * The mode a file is made with is not the mode it gets: the server's
 * umask (sftp-server -u, or the account's) takes bits away, even the
 * owner's, and a server may ignore it.  So the mode is always set: to
 * the owner's bits of F's mode before a byte of a key is written (the
 * key is never readable by more than F's mode allows), then to F's mode
 * once owner and group are right.
 */
static int
s_put(struct conn *c, const char *path, const struct dfile *f)
{
	struct ssh *h = SSH(c);
	mode_t first = f->mode & 0700;
	sftp_file file;
	int rc;

	file = sftp_open(h->sftp, path, O_WRONLY | O_CREAT | O_EXCL, first);
	if (file == NULL)
		return s_error(c, "create", path);
	if (f->secret && sftp_chmod(h->sftp, path, first) != 0) {
		rc = s_error(c, "chmod", path);
		sftp_close(file);
		return rc;
	}
	rc = s_write(c, file, f->data, f->len);
	if (rc == 0 && h->fsync && sftp_fsync(file) != 0)
		rc = -1;
	if (sftp_close(file) != 0)
		rc = -1;
	if (rc == -1)
		return s_error(c, "write", path);
	if ((f->uid != -1 || f->gid != -1) && sftp_chown(h->sftp, path,
	    (uid_t)f->uid, (gid_t)f->gid) != 0)
		return s_error(c, "chown", path);
	/* Group and others get their bits now, once the owner is right
	 * (a key already has its mode when it has the owner's bits only). */
	if ((!f->secret || f->mode != first) &&
	    sftp_chmod(h->sftp, path, f->mode) != 0)
		return s_error(c, "chmod", path);
	return 0;
}

static int
s_symlink(struct conn *c, const char *contents, const char *path)
{
	if (sftp_symlink(SSH(c)->sftp, contents, path) != 0)
		return s_error(c, "symlink", path);
	return 0;
}

#if LIBSSH_VERSION_INT < SSH_VERSION_INT(0, 11, 0)
static size_t
put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
	return 4;
}

static uint32_t
get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static int
read_all(ssh_channel ch, unsigned char *buf, uint32_t n)
{
	uint32_t got = 0;
	int r;

	while (got < n) {
		if ((r = ssh_channel_read(ch, buf + got, n - got, 0)) <= 0)
			return -1;
		got += (uint32_t)r;
	}
	return 0;
}

#define RENAME_MAX	(2 * 4200 + 64)	/* longest request */

/* The posix-rename@openssh.com request ID of FROM to TO into BUF
 * (RENAME_MAX bytes); its length, 0 if the paths are too long. */
static size_t
rename_request(unsigned char *buf, uint32_t id, const char *from,
    const char *to)
{
	static const char ext[] = "posix-rename@openssh.com";
	size_t n = 4, lf = strlen(from), lt = strlen(to);

	if (lf > 4200 || lt > 4200)
		return 0;
	buf[n++] = SSH_FXP_EXTENDED;
	n += put32(buf + n, id);
	n += put32(buf + n, sizeof(ext) - 1);
	memcpy(buf + n, ext, sizeof(ext) - 1);
	n += sizeof(ext) - 1;
	n += put32(buf + n, (uint32_t)lf);
	memcpy(buf + n, from, lf);
	n += lf;
	n += put32(buf + n, (uint32_t)lt);
	memcpy(buf + n, to, lt);
	n += lt;
	put32(buf, (uint32_t)(n - 4));
	return n;
}

/* Read the SSH_FXP_STATUS reply to the rename request ID (to TO). */
static int
rename_reply(struct conn *c, uint32_t id, const char *to)
{
	ssh_channel ch = SSH(c)->sftp->channel;
	unsigned char buf[1024];
	uint32_t len, n;

	if (read_all(ch, buf, 4) == -1 || (len = get32(buf)) < 9 ||
	    len > sizeof(buf) || read_all(ch, buf, len) == -1)
		return s_error(c, "rename to", to);
	if (buf[0] != SSH_FXP_STATUS || get32(buf + 1) != id) {
		c->dead = 1;	/* the SFTP channel is out of step */
		return conn_error(c, "rename to %s: unexpected SFTP reply", to);
	}
	if (get32(buf + 5) == SSH_FX_OK)
		return 0;
	n = len >= 13 ? get32(buf + 9) : 0;	/* the server's message */
	if (n > len - 13)
		n = 0;
	return conn_error(c, "rename to %s: %.*s (SFTP status %u)", to,
	    (int)n, (const char *)buf + 13, (unsigned)get32(buf + 5));
}

/*
 * posix-rename@openssh.com of each FROM[i] to TO[i]: SFTP extended
 * requests that libssh 0.10 does not offer, sent on its SFTP channel
 * between two of its own requests (it has none outstanding: each call
 * waits for its reply).  All N requests go out before the first reply
 * is read, so that the server does the renames back to back; every
 * reply is read, the first failure reported.
 */
static int
s_renames(struct conn *c, size_t n, char *const from[], char *const to[])
{
	ssh_channel ch = SSH(c)->sftp->channel;
	unsigned char buf[RENAME_MAX];
	char first[DEPLOY_ERR_MAX];
	uint32_t base = SSH(c)->id;
	size_t i, len;
	int rc = 0;

	for (i = 0; i < n; i++)
		if (rename_request(buf, 0, from[i], to[i]) == 0)
			return conn_error(c, "rename to %s: path too long",
			    to[i]);
	SSH(c)->id += (uint32_t)n;
	for (i = 0; i < n; i++) {
		len = rename_request(buf, base + (uint32_t)i, from[i], to[i]);
		if (ssh_channel_write(ch, buf, (uint32_t)len) != (int)len)
			return s_error(c, "rename to", to[i]);
	}
	for (i = 0; i < n && !c->dead; i++)
		if (rename_reply(c, base + (uint32_t)i, to[i]) == -1 &&
		    rc == 0) {
			rc = -1;
			memcpy(first, c->err, sizeof(first));
		}
	if (c->dead)
		return -1;	/* its reason beats the first failure */
	if (rc == -1)
		memcpy(c->err, first, sizeof(first));
	return rc;
}
#else
static int
s_renames(struct conn *c, size_t n, char *const from[], char *const to[])
{
	size_t i;

	/* libssh 0.11 sends posix-rename@openssh.com itself when the
	 * server offers it (and its SFTP session is opaque). */
	for (i = 0; i < n; i++)
		if (sftp_rename(SSH(c)->sftp, from[i], to[i]) != 0)
			return s_error(c, "rename to", to[i]);
	return 0;
}
#endif

static int
s_unlink(struct conn *c, const char *path)
{
	if (sftp_unlink(SSH(c)->sftp, path) != 0 &&
	    !status_is(c, SSH_FX_NO_SUCH_FILE))
		return s_error(c, "unlink", path);
	return 0;
}

static int
s_rmdir(struct conn *c, const char *path)
{
	if (sftp_rmdir(SSH(c)->sftp, path) != 0 &&
	    !status_is(c, SSH_FX_NO_SUCH_FILE))
		return s_error(c, "rmdir", path);
	return 0;
}

static int
s_read(struct conn *c, const char *path, size_t max, char **out, size_t *len)
{
	sftp_file f;
	ssize_t n = 0;
	char *buf;

	*out = NULL;
	*len = 0;
	if ((f = sftp_open(SSH(c)->sftp, path, O_RDONLY, 0)) == NULL)
		return s_error(c, "open", path);
	if ((buf = malloc(max + 1)) == NULL) {
		sftp_close(f);
		return conn_error(c, "out of memory");
	}
	while (*len < max && (n = sftp_read(f, buf + *len, max - *len)) > 0)
		*len += (size_t)n;
	sftp_close(f);
	buf[*len] = '\0';
	*out = buf;
	return n < 0 ? s_error(c, "read", path) : 0;
}

static int
s_readlink(struct conn *c, const char *path, char **out)
{
	char *link;

	if ((link = sftp_readlink(SSH(c)->sftp, path)) == NULL)
		return s_error(c, "readlink", path);
	*out = strdup(link);
	ssh_string_free_char(link);
	return *out != NULL ? 0 : conn_error(c, "out of memory");
}

static void
s_close(struct conn *c)
{
	struct ssh *h = SSH(c);

	if (h == NULL)
		return;
	/* Closing waits for the host too: bounded like the rest. */
	watch_arm(&h->watch);
	sftp_free(h->sftp);
	ssh_disconnect(h->s);
	watch_remove(&h->watch);
	ssh_free(h->s);
	free(h);
	c->impl = NULL;
}

/* Every operation of a host between s_begin() and s_end(). */
#define GUARD(name, params, call) \
	static int name params \
	{ return s_begin(c) == -1 ? -1 : s_end(c, call); }
GUARD(g_lstat, (struct conn *c, const char *p, struct dstat *st),
    s_lstat(c, p, st))
GUARD(g_mkdir, (struct conn *c, const char *p, mode_t m), s_mkdir(c, p, m))
GUARD(g_put, (struct conn *c, const char *p, const struct dfile *f),
    s_put(c, p, f))
GUARD(g_symlink, (struct conn *c, const char *to, const char *p),
    s_symlink(c, to, p))
GUARD(g_renames, (struct conn *c, size_t n, char *const from[],
    char *const to[]), s_renames(c, n, from, to))
GUARD(g_unlink, (struct conn *c, const char *p), s_unlink(c, p))
GUARD(g_rmdir, (struct conn *c, const char *p), s_rmdir(c, p))
GUARD(g_read, (struct conn *c, const char *p, size_t max, char **out,
    size_t *len), s_read(c, p, max, out, len))
GUARD(g_readlink, (struct conn *c, const char *p, char **out),
    s_readlink(c, p, out))
#undef GUARD

static const struct conn_ops ssh_ops = {
	g_lstat, g_mkdir, g_put, g_symlink, g_renames, g_unlink, g_rmdir,
	g_read, g_readlink, s_run, s_close
};

/* The server's host key as "SHA256:..." into OUT. */
static void
fingerprint(ssh_session s, char *out, size_t size)
{
	ssh_key key = NULL;
	unsigned char *hash = NULL;
	size_t hlen;
	char *fp = NULL;

	snprintf(out, size, "(unknown key)");
	if (ssh_get_server_publickey(s, &key) == SSH_OK &&
	    ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash,
	    &hlen) == 0 && (fp = ssh_get_fingerprint_hash(
	    SSH_PUBLICKEY_HASH_SHA256, hash, hlen)) != NULL)
		snprintf(out, size, "%s", fp);
	ssh_string_free_char(fp);
	ssh_clean_pubkey_hash(&hash);
	ssh_key_free(key);
}

/* The host key is in known_hosts: 0, or -1 with the reason.  No trust
 * on first use: an unknown key is refused like a changed one. */
static int
host_known(ssh_session s, const char *host, char *err, size_t errlen)
{
	char fp[128];

	fingerprint(s, fp, sizeof(fp));
	switch (ssh_session_is_known_server(s)) {
	case SSH_KNOWN_HOSTS_OK:
		return 0;
	case SSH_KNOWN_HOSTS_CHANGED:
		snprintf(err, errlen, "host key CHANGED (now %s): refused; if "
		    "the change is expected, replace the host's line in "
		    "known_hosts", fp);
		break;
	case SSH_KNOWN_HOSTS_OTHER:
		snprintf(err, errlen, "host key of another type than "
		    "known_hosts has (%s): refused", fp);
		break;
	case SSH_KNOWN_HOSTS_UNKNOWN:
	case SSH_KNOWN_HOSTS_NOT_FOUND:
		snprintf(err, errlen, "host key %s is not in known_hosts: "
		    "refused (pki-deploy never trusts a key on first use; "
		    "check it and add it)", fp);
		break;
	default:
		snprintf(err, errlen, "cannot check the host key: %s",
		    ssh_get_error(s));
	}
	(void)host;
	return -1;
}

/* Public-key authentication: the key file, else agent and default keys
 * (and ssh_config's IdentityFile). */
static int
authenticate(ssh_session s, const char *identity, char *err, size_t errlen)
{
	ssh_key key = NULL;
	int rc;

	if (identity != NULL) {
		if (ssh_pki_import_privkey_file(identity, NULL, NULL, NULL,
		    &key) != SSH_OK) {
			snprintf(err, errlen, "cannot read the key %s",
			    identity);
			return -1;
		}
		rc = ssh_userauth_publickey(s, NULL, key);
		ssh_key_free(key);
	} else
		rc = ssh_userauth_publickey_auto(s, NULL, NULL);
	if (rc == SSH_AUTH_SUCCESS)
		return 0;
	snprintf(err, errlen, "public-key authentication failed%s%s",
	    *ssh_get_error(s) ? ": " : "", ssh_get_error(s));
	return -1;
}

/* Why ssh_connect() failed on S, into ERR: libssh says "Timeout
 * connecting to ADDRESS" when the host did not answer in time, and
 * "Socket error: Success" when it closed the connection. */
static void
connect_error(ssh_session s, long timeout, char *err, size_t errlen)
{
	const char *e = ssh_get_error(s);

	if (strncmp(e, "Timeout", 7) == 0)
		snprintf(err, errlen, "connect: no answer within %ld s",
		    timeout);
	else if (strstr(e, "Success") != NULL)
		snprintf(err, errlen, "connect: the host closed the "
		    "connection");
	else
		snprintf(err, errlen, "connect: %s", e);
}

/* A session to HOST with OPT, connected (within the timeout: libssh
 * bounds the connection and the key exchange); NULL with the reason in
 * ERR. */
static ssh_session
session(const char *host, const struct sshopt *opt, char *err,
    size_t errlen)
{
	ssh_session s;
	bool no = false;
	long timeout = opt->timeout;

	if ((s = ssh_new()) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (ssh_options_set(s, SSH_OPTIONS_HOST, host) != 0 ||
	    (opt->config != NULL && ssh_options_set(s,
	    SSH_OPTIONS_PROCESS_CONFIG, &no) != 0) ||
	    ssh_options_parse_config(s, opt->config) != 0 ||
	    (opt->user != NULL &&
	    ssh_options_set(s, SSH_OPTIONS_USER, opt->user) != 0) ||
	    (opt->known_hosts != NULL && (ssh_options_set(s,
	    SSH_OPTIONS_KNOWNHOSTS, opt->known_hosts) != 0 || ssh_options_set(s,
	    SSH_OPTIONS_GLOBAL_KNOWNHOSTS, "/dev/null") != 0)) ||
	    ssh_options_set(s, SSH_OPTIONS_TIMEOUT, &timeout) != 0) {
		snprintf(err, errlen, "ssh options: %s", ssh_get_error(s));
		ssh_free(s);
		return NULL;
	}
	if (ssh_connect(s) != SSH_OK) {
		connect_error(s, timeout, err, errlen);
		ssh_free(s);
		return NULL;
	}
	return s;
}

/* The SFTP channel of H, with the extensions pki-deploy needs; 0, or -1
 * with the reason in ERR. */
static int
start_sftp(struct ssh *h, char *err, size_t errlen)
{
	if ((h->sftp = sftp_new(h->s)) == NULL || sftp_init(h->sftp) != 0) {
		snprintf(err, errlen, "sftp: %s", ssh_get_error(h->s));
		return -1;
	}
	if (sftp_extension_supported(h->sftp, "posix-rename@openssh.com",
	    "1") != 1) {
		snprintf(err, errlen, "the SFTP server lacks "
		    "posix-rename@openssh.com: files cannot be replaced "
		    "atomically");
		return -1;
	}
	h->fsync = sftp_extension_supported(h->sftp, "fsync@openssh.com",
	    "1") == 1;
	h->statvfs = sftp_extension_supported(h->sftp, "statvfs@openssh.com",
	    "2") == 1;
	return 0;
}

struct conn *
ssh_open(const char *host, const struct sshopt *opt, char *err,
    size_t errlen)
{
	struct conn *c = NULL;
	struct ssh *h;

	if ((h = calloc(1, sizeof(*h))) == NULL ||
	    (c = calloc(1, sizeof(*c))) == NULL) {
		free(h);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->ops = &ssh_ops;
	c->impl = h;
	h->watch.fd = -1;
	h->id = 0x70000000;	/* far from libssh's own request ids */
	snprintf(h->host, sizeof(h->host), "%s", host);
	if ((h->s = session(host, opt, err, errlen)) == NULL)
		goto fail;
	if (watch_add(&h->watch, ssh_get_fd(h->s), opt->timeout) == -1) {
		snprintf(err, errlen, "cannot watch the connection");
		goto fail;
	}
	/* From here on libssh waits for ever: the watch bounds it. */
	watch_arm(&h->watch);
	if (host_known(h->s, host, err, errlen) == -1 ||
	    authenticate(h->s, opt->identity, err, errlen) == -1 ||
	    start_sftp(h, err, errlen) == -1) {
		if ((c->dead = watch_cut(&h->watch)) != 0)
			snprintf(err, errlen, "no answer within %ld s after "
			    "connecting: connection cut", opt->timeout);
		goto fail;
	}
	watch_disarm(&h->watch);
	return c;
fail:
	s_close(c);
	conn_free(c);
	return NULL;
}

int
ssh_setup(void)
{
	return ssh_init() == SSH_OK ? 0 : -1;
}

void
ssh_teardown(void)
{
	watch_stop();
	ssh_finalize();
}
