/*
 * pki-dhparam - write Diffie-Hellman parameter files (ssl-mgr's
 * sslm-dhparm).
 *
 * DIR/GROUP.pem for each RFC 7919 group asked for (all three by
 * default): written when absent or not the group's parameters, else
 * kept.  With --generate BITS, DIR/dhBITS.pem: new safe-prime parameters,
 * made when the file is absent or older than --days DAYS (120).  Every
 * file is PEM PKCS#3 "DH PARAMETERS", mode 0644, replaced atomically.
 * Not a filter: it reads no records and writes nothing on stdout.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pki.h"

static const char usage[] =
"usage: pki-dhparam [-hqv] [--group GROUP]... [--generate BITS] [--days DAYS]\n"
"                   [--syslog FACILITY] DIR\n";

#define MAX_GROUPS	3

struct dhparam {
	const char	*dir;
	const char	*groups[MAX_GROUPS];
	int		 ngroups;
	long		 bits;		/* --generate; 0: named groups */
	long		 days;
};

/* The file DIR/NAME.pem into PATH; 0 / -1 (said). */
static int
file_path(const char *dir, const char *name, char path[PATH_MAX])
{
	int n = snprintf(path, PATH_MAX, "%s/%s.pem", dir, name);

	if (n < 0 || n >= PATH_MAX) {
		pki_err("%s: path too long", dir);
		return -1;
	}
	return 0;
}

/* The named group GROUP in DIR, unless the file has it already. */
static int
write_group(const struct dhparam *d, const char *group)
{
	char path[PATH_MAX], *pem = NULL, *old = NULL;
	size_t len;
	int rc = -1;

	if (file_path(d->dir, group, path) == -1 ||
	    (pem = pki_dh_params_pem(group, 0)) == NULL)
		goto out;
	len = strlen(pem);
	old = access(path, F_OK) == 0 ? pki_read_file(path, 65536) : NULL;
	if (old != NULL && strcmp(old, pem) == 0) {
		pki_info("%s: %s kept", path, group);
		rc = 0;
	} else if (pki_write_file(path, pem, len, 0644) == 0) {
		pki_info("%s: %s written", path, group);
		rc = 0;
	}
out:
	free(old);
	free(pem);
	return rc;
}

/* DIR/dhBITS.pem, made anew when absent or older than DAYS days. */
static int
write_generated(const struct dhparam *d)
{
	char path[PATH_MAX], name[16], *pem;
	struct stat st;
	time_t now = time(NULL);
	int rc;

	snprintf(name, sizeof(name), "dh%ld", d->bits);
	if (file_path(d->dir, name, path) == -1)
		return -1;
	if (stat(path, &st) == 0) {
		if (S_ISREG(st.st_mode) &&
		    now - st.st_mtime < (time_t)d->days * 86400) {
			pki_info("%s: kept, younger than %ld days", path,
			    d->days);
			return 0;
		}
	} else if (errno != ENOENT) {
		pki_err("%s: %s", path, strerror(errno));
		return -1;
	}
	pki_info("%s: generating %ld-bit DH parameters", path, d->bits);
	if ((pem = pki_dh_params_pem(NULL, (int)d->bits)) == NULL)
		return -1;
	rc = pki_write_file(path, pem, strlen(pem), 0644);
	free(pem);
	if (rc == 0)
		pki_info("%s: written", path);
	return rc;
}

static int
run(const struct dhparam *d)
{
	static const char *all[MAX_GROUPS] = { "ffdhe2048", "ffdhe3072",
	    "ffdhe4096" };
	struct stat st;
	int i, rc = 0;

	if (stat(d->dir, &st) == -1) {
		pki_err("%s: %s", d->dir, strerror(errno));
		return PKI_EXIT_FATAL;
	}
	if (!S_ISDIR(st.st_mode)) {
		pki_err("%s: not a directory", d->dir);
		return PKI_EXIT_FATAL;
	}
	if (d->bits > 0)
		return write_generated(d) == 0 ? PKI_EXIT_OK : PKI_EXIT_RECORD;
	for (i = 0; i < (d->ngroups > 0 ? d->ngroups : MAX_GROUPS); i++)
		if (write_group(d, d->ngroups > 0 ? d->groups[i] : all[i]) ==
		    -1)
			rc = PKI_EXIT_RECORD;
	return rc;
}

/* The smallest --generate BITS: 2048, or what PKI_DHPARAM_MIN_BITS says
 * (for tests: at least 512). */
static long
min_bits(void)
{
	const char *s = getenv("PKI_DHPARAM_MIN_BITS");
	long v;

	if (s == NULL || pki_parse_long("PKI_DHPARAM_MIN_BITS", s, 512, 2048,
	    &v) == -1)
		return 2048;
	return v;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		PKI_LONGOPTS_COMMON,
		{ "group",	required_argument,	NULL, 'g' },
		{ "generate",	required_argument,	NULL, 'G' },
		{ "days",	required_argument,	NULL, 'd' },
		{ NULL,		0,			NULL, 0 }
	};
	struct dhparam d = { NULL, { NULL }, 0, 0, 120 };
	int ch, days = 0;

	pki_init(argv[0]);
	while ((ch = pki_getopt(argc, argv, PKI_OPTSTRING_COMMON, longopts,
	    usage)) != -1) {
		switch (ch) {
		case 'g':
			if (!pki_dh_group_valid(optarg)) {
				pki_err("--group \"%s\": use ffdhe2048, "
				    "ffdhe3072 or ffdhe4096", optarg);
				return PKI_EXIT_FATAL;
			}
			if (d.ngroups == MAX_GROUPS) {
				pki_err("--group: at most %d", MAX_GROUPS);
				return PKI_EXIT_FATAL;
			}
			d.groups[d.ngroups++] = optarg;
			break;
		case 'G':
			if (pki_parse_long("--generate", optarg, min_bits(),
			    8192, &d.bits) == -1)
				return PKI_EXIT_FATAL;
			break;
		case 'd':
			if (pki_parse_long("--days", optarg, 1, 36500,
			    &d.days) == -1)
				return PKI_EXIT_FATAL;
			days = 1;
			break;
		default:
			pki_usage(usage);
		}
	}
	if (optind != argc - 1)
		pki_usage(usage);
	d.dir = argv[optind];
	if (d.bits > 0 && d.ngroups > 0) {
		pki_err("--generate and --group: one or the other");
		return PKI_EXIT_FATAL;
	}
	if (days && d.bits == 0) {
		pki_err("--days: only with --generate (the named groups never "
		    "change)");
		return PKI_EXIT_FATAL;
	}
	return run(&d);
}
