/*
 * ssh.h - the SSH backend's own parts, shared by ssh.c (the session and
 * its SFTP operations) and sshexec.c (exec channels: reload commands).
 *
 * Every operation on a host runs between s_begin() and s_end(): the
 * host's watch is armed meanwhile (watch.c), so that a host that stops
 * answering is cut off after the timeout instead of holding its worker
 * for ever; from then on the connection is dead and every operation
 * fails at once with the first reason.
 */
#ifndef DEPLOY_SSH_H
#define DEPLOY_SSH_H

#include <stdint.h>

#include <libssh/libssh.h>
#include <libssh/sftp.h>

#include "deploy.h"

struct ssh {
	ssh_session	 s;
	sftp_session	 sftp;
	int		 fsync;		/* fsync@openssh.com */
	int		 statvfs;	/* statvfs@openssh.com */
	uint32_t	 id;		/* of our own SFTP requests */
	char		 host[256];	/* the name, for messages */
	struct watch	 watch;
};

#define SSH(c)	((struct ssh *)(c)->impl)

/* An operation on C's host begins: the watch armed, 0; -1 if the host is
 * lost already (c->err says why). */
int	 s_begin(struct conn *c);
/* The operation ended with RC: the watch disarmed; returns RC. */
int	 s_end(struct conn *c, int rc);
/* The failure of WHAT PATH as C's error, always -1: the host's silence
 * (the watchdog cut it) or a lost connection, both naming the host and
 * leaving the connection dead; else the reason the server gave. */
int	 s_error(struct conn *c, const char *what, const char *path);

/* conn_ops run: CMD on the host in a process group of its own, killed
 * there when it outlives TIMEOUT (sshexec.c). */
int	 s_run(struct conn *c, const char *cmd, long timeout, int *status,
	    char **err);

#endif
