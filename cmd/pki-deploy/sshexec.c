/*
 * sshexec.c - reload commands on a host reached by SSH: an exec channel
 * each, its stderr kept, and a command that outlives the timeout killed
 * on the host, with everything it started.
 *
 * Closing the channel of a command that has no terminal does not end
 * it: sshd leaves it running.  But sshd starts every command in a
 * session (and process group) of its own, led by the login shell.  So
 * the command runs as
 *
 *	echo pki-deploy-pgid $$; exec /bin/sh -c 'CMD' </dev/null >/dev/null
 *
 * (the login shell must be a POSIX shell): the shell's process id, the
 * group's, comes first on its stdout, and on a timeout a second channel
 * runs "kill -s KILL -- -PGID".  A process the command put in a session
 * of its own (a daemon it starts) is left alone.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ssh.h"

#define PGID_TAG	"pki-deploy-pgid "

/* What a channel said while it ran. */
struct drain {
	char	*err;		/* STDERR_MAX + 1 bytes, or NULL */
	size_t	 elen;
	char	 out[128];	/* the first bytes of its stdout */
	size_t	 olen;
};

/* Keep the first bytes of stdout (BUF, N) in D; the rest is dropped. */
static void
keep_out(struct drain *d, const char *buf, int n)
{
	size_t room = sizeof(d->out) - 1 - d->olen;
	size_t len = n > 0 ? (size_t)n : 0;

	if (len > room)
		len = room;
	memcpy(d->out + d->olen, buf, len);
	d->olen += len;
	d->out[d->olen] = '\0';
}

/* Read what the channel has now: stderr (waiting up to 50 ms) into D's
 * err while there is room, then all of stdout, so that it never fills
 * the channel's window.  0, or -1 on error. */
static int
drain_once(ssh_channel ch, struct drain *d)
{
	char sink[16384];	/* what is thrown away; never ERR */
	int n, m;

	if (d->err != NULL && d->elen < STDERR_MAX)
		n = ssh_channel_read_timeout(ch, d->err + d->elen,
		    (uint32_t)(STDERR_MAX - d->elen), 1, 50);
	else
		n = ssh_channel_read_timeout(ch, sink, sizeof(sink), 1, 50);
	if (n == SSH_ERROR)
		return -1;
	if (n > 0 && d->err != NULL && d->elen < STDERR_MAX)
		d->elen += (size_t)n;
	while ((m = ssh_channel_read_nonblocking(ch, sink, sizeof(sink),
	    0)) > 0)
		keep_out(d, sink, m);
	return m == SSH_ERROR ? -1 : 0;
}

/* Read the channel until its end or DEADLINE, each read under C's
 * watch.  1 at its end, 0 at the deadline, -1 on error. */
static int
drain(struct conn *c, ssh_channel ch, double deadline, struct drain *d)
{
	int n, r = 1;

	while (!ssh_channel_is_eof(ch)) {
		if (pki_now() >= deadline)
			return 0;
		watch_arm(&SSH(c)->watch);
		r = drain_once(ch, d);
		watch_disarm(&SSH(c)->watch);
		if (r == -1)
			return -1;
	}
	while (d->err != NULL && d->elen < STDERR_MAX &&
	    (n = ssh_channel_read_nonblocking(ch, d->err + d->elen,
	    (uint32_t)(STDERR_MAX - d->elen), 1)) > 0)
		d->elen += (size_t)n;
	return 1;
}

/* A channel running CMD on C's host; NULL (error set) if it cannot. */
static ssh_channel
exec_channel(struct conn *c, const char *cmd)
{
	ssh_channel ch;

	watch_arm(&SSH(c)->watch);
	if ((ch = ssh_channel_new(SSH(c)->s)) != NULL &&
	    (ssh_channel_open_session(ch) != SSH_OK ||
	    ssh_channel_request_exec(ch, cmd) != SSH_OK)) {
		ssh_channel_free(ch);
		ch = NULL;
	}
	watch_disarm(&SSH(c)->watch);
	if (ch == NULL)
		s_error(c, "open", "an exec channel");
	return ch;
}

/* Close and free CH, bounded by the watch. */
static void
exec_close(struct conn *c, ssh_channel ch)
{
	watch_arm(&SSH(c)->watch);
	ssh_channel_close(ch);
	ssh_channel_free(ch);
	watch_disarm(&SSH(c)->watch);
}

/* CMD wrapped as the header says; caller frees; NULL if out of memory. */
static char *
wrap(const char *cmd)
{
	static const char pre[] = "echo " PGID_TAG "$$; exec /bin/sh -c ";
	static const char post[] = " </dev/null >/dev/null";
	char *q, *w = NULL;
	size_t n;

	if ((q = sh_quote(cmd)) == NULL)
		return NULL;
	n = sizeof(pre) + strlen(q) + sizeof(post);
	if ((w = malloc(n)) != NULL)
		snprintf(w, n, "%s%s%s", pre, q, post);
	free(q);
	return w;
}

/* Kill the process group that D's stdout names, on C's host; 0 / -1. */
static int
kill_group(struct conn *c, const struct drain *d, long timeout)
{
	struct drain k;
	ssh_channel ch;
	const char *p = strstr(d->out, PGID_TAG);
	char cmd[128], *end;
	long pgid;
	int r;

	if (p == NULL)
		return -1;
	pgid = strtol(p + strlen(PGID_TAG), &end, 10);
	if (pgid <= 1 || *end != '\n')
		return -1;
	/* Success: no process of the group is left (it may have ended
	 * just now by itself). */
	snprintf(cmd, sizeof(cmd), "kill -s KILL -- -%ld || ! kill -s 0 -- "
	    "-%ld", pgid, pgid);
	if ((ch = exec_channel(c, cmd)) == NULL)
		return -1;
	memset(&k, 0, sizeof(k));
	r = drain(c, ch, pki_now() + (double)timeout, &k);
	if (r == 1) {
		watch_arm(&SSH(c)->watch);
		r = ssh_channel_get_exit_status(ch) == 0;
		watch_disarm(&SSH(c)->watch);
	}
	exec_close(c, ch);
	return r == 1 ? 0 : -1;
}

int
s_run(struct conn *c, const char *cmd, long timeout, int *status,
    char **err)
{
	struct drain d;
	ssh_channel ch;
	char *w;
	int r;

	*status = -1;
	*err = NULL;
	if (c->dead)
		return -1;
	if ((*err = calloc(1, STDERR_MAX + 1)) == NULL ||
	    (w = wrap(cmd)) == NULL)
		return conn_error(c, "out of memory");
	ch = exec_channel(c, w);
	free(w);
	if (ch == NULL)
		return -1;
	memset(&d, 0, sizeof(d));
	d.err = *err;
	if ((r = drain(c, ch, pki_now() + (double)timeout, &d)) == 1) {
		watch_arm(&SSH(c)->watch);
		*status = ssh_channel_get_exit_status(ch);
		watch_disarm(&SSH(c)->watch);
	}
	exec_close(c, ch);
	if (r == -1)
		return s_error(c, "running", cmd);
	if (r == 0)
		return conn_error(c, "timed out after %ld s: %s", timeout,
		    kill_group(c, &d, timeout) == 0 ? "killed on the host" :
		    "could not be killed on the host");
	return 0;
}
