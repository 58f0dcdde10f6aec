/*
 * ssh.c - a host reached by SSH: one session (one handshake) for the
 * whole batch, its host key checked against known_hosts, public-key
 * authentication, SFTP for the files and exec channels for the reload
 * commands.
 *
 * A file replaces the old one with posix-rename@openssh.com: the SFTP v3
 * rename refuses an existing target, and removing the old file first
 * would leave a moment without one.  libssh 0.10 has no call for it, so
 * posix_rename() sends it (see there).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <libssh/libssh.h>
#include <libssh/sftp.h>

#include "deploy.h"

struct ssh {
	ssh_session	 s;
	sftp_session	 sftp;
	int		 fsync;		/* fsync@openssh.com */
	uint32_t	 id;		/* of our own SFTP requests */
};

#define SSH(c)	((struct ssh *)(c)->impl)

/* The session's or SFTP's last error for WHAT PATH; always -1. */
static int
s_error(struct conn *c, const char *what, const char *path)
{
	return conn_error(c, "%s %s: %s", what, path,
	    ssh_get_error(SSH(c)->s));
}

static int
s_lstat(struct conn *c, const char *path, struct dstat *st)
{
	sftp_attributes a;
	mode_t fmt;

	memset(st, 0, sizeof(*st));
	if ((a = sftp_lstat(SSH(c)->sftp, path)) == NULL)
		return sftp_get_error(SSH(c)->sftp) == SSH_FX_NO_SUCH_FILE ? 0 :
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
	if (sftp_mkdir(SSH(c)->sftp, path, mode) != 0 &&
	    sftp_get_error(SSH(c)->sftp) != SSH_FX_FILE_ALREADY_EXISTS)
		return s_error(c, "mkdir", path);
	return 0;
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

/*
 * posix-rename@openssh.com FROM TO: an SFTP extended request that
 * libssh 0.10 does not offer, sent on its SFTP channel between two of
 * its own requests (it has none outstanding: each call waits for its
 * reply), and its SSH_FXP_STATUS reply read back.
 */
static int
posix_rename(struct conn *c, const char *from, const char *to)
{
	static const char ext[] = "posix-rename@openssh.com";
	ssh_channel ch = SSH(c)->sftp->channel;
	unsigned char buf[2 * 4200 + 64];
	size_t n = 4, lf = strlen(from), lt = strlen(to);
	uint32_t len, id = SSH(c)->id++;

	if (lf > 4200 || lt > 4200)
		return conn_error(c, "rename %s: path too long", to);
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
	if (ssh_channel_write(ch, buf, (uint32_t)n) != (int)n ||
	    read_all(ch, buf, 4) == -1 || (len = get32(buf)) < 9 ||
	    len > sizeof(buf) || read_all(ch, buf, len) == -1)
		return conn_error(c, "rename %s: %s", to, ssh_get_error(
		    SSH(c)->s));
	if (buf[0] != SSH_FXP_STATUS || get32(buf + 1) != id)
		return conn_error(c, "rename %s: unexpected SFTP reply", to);
	if (get32(buf + 5) == SSH_FX_OK)
		return 0;
	n = len >= 13 ? get32(buf + 9) : 0;	/* the server's message */
	if (n > len - 13)
		n = 0;
	return conn_error(c, "rename to %s: %.*s (SFTP status %u)", to,
	    (int)n, (const char *)buf + 13, (unsigned)get32(buf + 5));
}
#endif

static int
s_rename(struct conn *c, const char *from, const char *to)
{
#if LIBSSH_VERSION_INT >= SSH_VERSION_INT(0, 11, 0)
	/* libssh 0.11 sends posix-rename@openssh.com itself when the
	 * server offers it (and its SFTP session is opaque). */
	if (sftp_rename(SSH(c)->sftp, from, to) != 0)
		return s_error(c, "rename to", to);
	return 0;
#else
	return posix_rename(c, from, to);
#endif
}

static int
s_unlink(struct conn *c, const char *path)
{
	if (sftp_unlink(SSH(c)->sftp, path) != 0 &&
	    sftp_get_error(SSH(c)->sftp) != SSH_FX_NO_SUCH_FILE)
		return s_error(c, "unlink", path);
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

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Read the channel until its end (or the deadline): the first
 * STDERR_MAX bytes of its stderr into ERR, the rest of it and all of
 * its stdout thrown away.  1 at its end, 0 at the deadline, -1 on
 * error. */
static int
s_drain(ssh_channel ch, double deadline, char *err)
{
	char sink[16384];	/* what is thrown away; never ERR */
	size_t len = 0;
	int n, m;

	while (!ssh_channel_is_eof(ch)) {
		if (now() >= deadline)
			return 0;
		/* Wait a little for stderr, kept while there is room. */
		if (len < STDERR_MAX)
			n = ssh_channel_read_timeout(ch, err + len,
			    (uint32_t)(STDERR_MAX - len), 1, 50);
		else
			n = ssh_channel_read_timeout(ch, sink, sizeof(sink), 1,
			    50);
		if (n == SSH_ERROR)
			return -1;
		if (n > 0 && len < STDERR_MAX)
			len += (size_t)n;
		/* Then whatever stdout has, so that it never fills the
		 * channel's window. */
		while ((m = ssh_channel_read_nonblocking(ch, sink,
		    sizeof(sink), 0)) > 0)
			continue;
		if (m == SSH_ERROR)
			return -1;
	}
	while (len < STDERR_MAX && (n = ssh_channel_read_nonblocking(ch,
	    err + len, (uint32_t)(STDERR_MAX - len), 1)) > 0)
		len += (size_t)n;
	return 1;
}

static int
s_run(struct conn *c, const char *cmd, long timeout, int *status,
    char **err)
{
	ssh_channel ch;
	int r;

	*status = -1;
	if ((*err = calloc(1, STDERR_MAX + 1)) == NULL)
		return conn_error(c, "out of memory");
	if ((ch = ssh_channel_new(SSH(c)->s)) == NULL)
		return s_error(c, "run", "(channel)");
	if (ssh_channel_open_session(ch) != SSH_OK ||
	    ssh_channel_request_exec(ch, cmd) != SSH_OK) {
		ssh_channel_free(ch);
		return s_error(c, "run", "(exec)");
	}
	r = s_drain(ch, now() + (double)timeout, *err);
	if (r == 1)
		*status = ssh_channel_get_exit_status(ch);
	ssh_channel_close(ch);
	ssh_channel_free(ch);
	if (r == 0)
		return conn_error(c, "timed out after %ld s", timeout);
	if (r == -1)
		return s_error(c, "run", "(read)");
	return 0;
}

static void
s_close(struct conn *c)
{
	struct ssh *h = SSH(c);

	if (h == NULL)
		return;
	sftp_free(h->sftp);
	ssh_disconnect(h->s);
	ssh_free(h->s);
	free(h);
	c->impl = NULL;
}

static const struct conn_ops ssh_ops = {
	s_lstat, s_mkdir, s_put, s_symlink, s_rename, s_unlink, s_read,
	s_readlink, s_run, s_close
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

/* A session to HOST with OPT, connected; NULL with the reason in ERR. */
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
		snprintf(err, errlen, "connect: %s", ssh_get_error(s));
		ssh_free(s);
		return NULL;
	}
	if (host_known(s, host, err, errlen) == -1 ||
	    authenticate(s, opt->identity, err, errlen) == -1) {
		ssh_disconnect(s);
		ssh_free(s);
		return NULL;
	}
	return s;
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
	h->id = 0x70000000;	/* far from libssh's own request ids */
	if ((h->s = session(host, opt, err, errlen)) == NULL)
		goto fail;
	if ((h->sftp = sftp_new(h->s)) == NULL || sftp_init(h->sftp) != 0) {
		snprintf(err, errlen, "sftp: %s", ssh_get_error(h->s));
		goto fail;
	}
	if (sftp_extension_supported(h->sftp, "posix-rename@openssh.com",
	    "1") != 1) {
		snprintf(err, errlen, "the SFTP server lacks "
		    "posix-rename@openssh.com: files cannot be replaced "
		    "atomically");
		goto fail;
	}
	h->fsync = sftp_extension_supported(h->sftp, "fsync@openssh.com",
	    "1") == 1;
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
	ssh_finalize();
}
