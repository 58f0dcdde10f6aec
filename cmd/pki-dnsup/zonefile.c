/*
 * zonefile.c - zone-file mode, for servers without dynamic updates.
 *
 * The records pki publishes in a zone live in an include file of their
 * own, which the zone's file pulls in with $INCLUDE.  The file holds
 * exactly the records pki publishes there now: publishing merges the new
 * ones in, --remove drops the withdrawn ones; it is replaced atomically.
 * Then the reload command makes the server read the zone again.  Raising
 * the zone's SOA serial, so that secondaries transfer the change, is the
 * reload command's business.
 *
 * Two runs may change one include file at once (an issue and a renewal,
 * a publish and a --remove): each holds an exclusive flock(2) on
 * FILE.lock, next to it, from reading the file until its reload command
 * is done, so that neither writes over what the other merged in.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dnsup.h"

#define INCLUDE_MAX	(4 * 1024 * 1024)	/* largest include file read */

/* PATTERN with every "{}" replaced by ZONE without its trailing dot,
 * single-quoted for sh(1) when QUOTE; caller frees; NULL (reported). */
static char *
subst(const char *pattern, const char *zone, int quote)
{
	size_t zlen = strlen(zone), len;
	const char *p;
	char *s = NULL;
	FILE *f;

	if (zlen > 1 && zone[zlen - 1] == '.')
		zlen--;
	if ((f = open_memstream(&s, &len)) == NULL) {
		pki_err("out of memory");
		return NULL;
	}
	for (p = pattern; *p != '\0'; p++) {
		if (p[0] != '{' || p[1] != '}') {
			fputc(*p, f);
			continue;
		}
		/* A zone name is a checked host name: no quote in it. */
		fprintf(f, "%s%.*s%s", quote ? "'" : "", (int)zlen, zone,
		    quote ? "'" : "");
		p++;
	}
	if (fclose(f) != 0) {
		pki_err("out of memory");
		free(s);
		return NULL;
	}
	return s;
}

char *
zonefile_path(const char *pattern, const char *zone)
{
	return subst(pattern, zone, 0);
}

/* The RRs of the include file FILE (none when it does not exist) into
 * LIST, its mode into *MODE; 0, or -1 with WHY. */
static int
read_include(const char *file, ldns_rr_list *list, mode_t *mode,
    char *why, size_t len)
{
	char *text, *line, *next;
	struct stat st;
	ldns_status s = LDNS_STATUS_OK;
	unsigned n = 0;
	ldns_rr *rr;

	*mode = 0644;
	if (stat(file, &st) == -1 && errno == ENOENT)
		return 0;
	if ((text = pki_read_file(file, INCLUDE_MAX)) == NULL) {
		snprintf(why, len, "cannot read %s", file);
		return -1;
	}
	*mode = st.st_mode & 07777;
	for (line = text; s == LDNS_STATUS_OK && line != NULL; line = next) {
		n++;
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		line += strspn(line, " \t");
		if (*line == '\0' || *line == ';')
			continue;
		if ((s = ldns_rr_new_frm_str(&rr, line, 0, NULL, NULL)) ==
		    LDNS_STATUS_OK && !ldns_rr_list_push_rr(list, rr)) {
			ldns_rr_free(rr);
			s = LDNS_STATUS_MEM_ERR;
		}
	}
	free(text);
	if (s == LDNS_STATUS_OK)
		return 0;
	snprintf(why, len, "%s line %u: %s", file, n,
	    ldns_get_errorstr_by_id(s));
	return -1;
}

/* Drop from *LIST the RRs like RR (with RRSET, every RR of its owner and
 * type); 0 / -1. */
static int
drop_like(ldns_rr_list **list, const ldns_rr *rr, int rrset)
{
	ldns_rr_list *keep = ldns_rr_list_new();
	ldns_rr *o;
	size_t i;
	int like;

	if (keep == NULL)
		return -1;
	for (i = 0; i < ldns_rr_list_rr_count(*list); i++) {
		o = ldns_rr_list_rr(*list, i);
		like = rrset ? ldns_rr_get_type(o) == ldns_rr_get_type(rr) &&
		    ldns_dname_compare(ldns_rr_owner(o), ldns_rr_owner(rr)) ==
		    0 : rr_same(o, rr);
		if (like)
			ldns_rr_free(o);
		else
			ldns_rr_list_push_rr(keep, o);	/* has room: fewer */
	}
	ldns_rr_list_free(*list);
	*list = keep;
	return 0;
}

/* Change *LIST as the new items of Z ask; 0 / -1 (memory). */
static int
apply(const struct batch *b, const struct zone *z, ldns_rr_list **list,
    int remove)
{
	const struct item *it;
	ldns_rr *rr;
	size_t pass, i;
	int rc = 0;

	/* Replaced RRsets go first, then the RRs are dropped or added. */
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; rc == 0 && i < b->nitems; i++) {
			it = &b->items[i];
			if (it->zone != z || it->state != ITEM_NEW ||
			    (pass == 0 && (remove || !it->replace)) ||
			    (pass == 1 && it->empty))
				continue;
			if ((rr = item_rr(it, 0)) == NULL)
				return -1;
			if (pass == 0 || remove)
				rc = drop_like(list, rr, pass == 0);
			else if ((rc = drop_like(list, rr, 0)) == 0 &&
			    ldns_rr_list_push_rr(*list, rr)) {
				rr = NULL;
			} else
				rc = -1;
			ldns_rr_free(rr);
		}
	}
	return rc;
}

/* Write LIST as the include file of Z with MODE; 0, or -1 with WHY. */
static int
write_include(const struct zone *z, const ldns_rr_list *list, mode_t mode,
    char *why, size_t len)
{
	char *text = NULL, *s;
	size_t size, i;
	FILE *f;
	int rc = -1;

	if ((f = open_memstream(&text, &size)) == NULL) {
		snprintf(why, len, "out of memory");
		return -1;
	}
	fprintf(f, "; The records pki-dnsup publishes in zone %s\n"
	    "; It rewrites this file on every change: do not edit it.\n",
	    z->name);
	for (i = 0; i < ldns_rr_list_rr_count(list); i++) {
		if ((s = ldns_rr2str(ldns_rr_list_rr(list, i))) != NULL)
			fputs(s, f);
		free(s);
	}
	if (fclose(f) != 0)
		snprintf(why, len, "out of memory");
	else if (pki_write_file(z->file, text, size, mode) == -1)
		snprintf(why, len, "cannot write %s", z->file);
	else
		rc = 0;
	free(text);
	return rc;
}

/* Run CMD ("{}" = ZONE, quoted) with sh(1), its output on stderr; 0 if
 * it exits 0, else -1 with WHY. */
static int
run_reload(const char *cmd, const char *zone, char *why, size_t len)
{
	char *line;
	pid_t pid;
	int status, fd;

	if ((line = subst(cmd, zone, 1)) == NULL) {
		snprintf(why, len, "out of memory");
		return -1;
	}
	pki_info("zone %s: running %s", zone, line);
	if ((pid = fork()) == 0) {
		if ((fd = open("/dev/null", O_RDONLY)) != -1)
			dup2(fd, STDIN_FILENO);
		dup2(STDERR_FILENO, STDOUT_FILENO);	/* stdout is records */
		execl("/bin/sh", "sh", "-c", line, (char *)NULL);
		_exit(127);
	}
	while (pid != -1 && waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	if (pid == -1)
		snprintf(why, len, "cannot run the reload command: %s",
		    strerror(errno));
	else if (WIFSIGNALED(status))
		snprintf(why, len, "reload command \"%s\" killed by signal %d",
		    line, WTERMSIG(status));
	else if (WEXITSTATUS(status) != 0)
		snprintf(why, len, "reload command \"%s\" exited %d", line,
		    WEXITSTATUS(status));
	free(line);
	return pid != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0 ?
	    0 : -1;
}

/* FILE.lock opened and locked exclusively, waited for until DEADLINE;
 * the descriptor (closing it unlocks), or -1 with WHY. */
static int
lock_include(const char *file, double deadline, char *why, size_t len)
{
	char *path = NULL;
	int fd = -1, e;

	if (asprintf(&path, "%s.lock", file) == -1) {
		snprintf(why, len, "out of memory");
		return -1;
	}
	if ((fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
	    0600)) == -1) {
		snprintf(why, len, "cannot open %s: %s", path, strerror(errno));
		free(path);
		return -1;
	}
	while (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if ((e = errno) == EINTR)
			continue;
		if (e != EWOULDBLOCK || pki_now() >= deadline) {
			snprintf(why, len, "cannot lock %s: %s", path,
			    e == EWOULDBLOCK ? "another run held it until the "
			    "timeout" : strerror(e));
			close(fd);
			fd = -1;
			break;
		}
		pki_sleep_until(pki_now() + 0.05 < deadline ? pki_now() + 0.05 :
		    deadline);
	}
	free(path);
	return fd;
}

void
zonefile_change(struct batch *b, struct zone *z, const struct config *cfg)
{
	ldns_rr_list *list = ldns_rr_list_new();
	size_t i, last = 0;
	char why[512];
	mode_t mode;
	int lock = -1, reloaded;

	snprintf(why, sizeof(why), "out of memory");
	if (list == NULL || (lock = lock_include(z->file, cfg->deadline, why,
	    sizeof(why))) == -1 || read_include(z->file, list, &mode, why,
	    sizeof(why)) == -1 || apply(b, z, &list, cfg->remove) == -1 ||
	    write_include(z, list, mode, why, sizeof(why)) == -1) {
		zone_fail(b, z, "zone %s: %s", z->name, why);
		ldns_rr_list_deep_free(list);
		if (lock != -1)
			close(lock);
		return;
	}
	pki_info("zone %s: %zu records in %s", z->name,
	    ldns_rr_list_rr_count(list), z->file);
	ldns_rr_list_deep_free(list);
	for (i = 0; i < b->nitems; i++)
		if (b->items[i].zone == z && b->items[i].state == ITEM_NEW)
			b->items[i].state = ITEM_DONE;
	/* The reload command too runs under the lock: two runs' commands
	 * that raise the zone's serial do not interleave. */
	reloaded = cfg->reload == NULL || run_reload(cfg->reload, z->name,
	    why, sizeof(why)) == 0;
	close(lock);
	if (reloaded)
		return;
	/* The file has the records: they count as published, to be
	 * withdrawn by --remove, and the records say the reload failed.
	 * No server is waited for. */
	free(z->error);
	z->error = strdup(why);
	for (i = 0; i < b->nitems; i++) {
		if (b->items[i].zone == z && b->items[i].state == ITEM_DONE &&
		    last != b->items[i].rec + 1) {
			last = b->items[i].rec + 1;
			record_error(b, b->items[i].rec, "dns", "zone %s: %s",
			    z->name, why);
		}
	}
}
