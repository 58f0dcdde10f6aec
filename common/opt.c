/*
 * opt.c - the options every program shares, and number parsing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "pki.h"

int
pki_getopt(int argc, char *const argv[], const char *optstring,
    const struct option *longopts, const char *usage)
{
	int ch;

	for (;;) {
		switch (ch = getopt_long(argc, argv, optstring, longopts,
		    NULL)) {
		case 'h':
			fputs(usage, stdout);
			exit(PKI_EXIT_OK);
		case 'q':
			pki_verbosity = 0;
			break;
		case 'v':
			if (pki_verbosity < 3)
				pki_verbosity = pki_verbosity < 2 ? 2 : 3;
			break;
		case PKI_OPT_SYSLOG:
			if (pki_log_syslog(optarg) == -1)
				exit(PKI_EXIT_FATAL);
			break;
		case '?':
		case ':':
			pki_usage(usage);
		default:
			return ch;
		}
	}
}

void
pki_usage(const char *usage)
{
	fputs(usage, stderr);
	exit(PKI_EXIT_FATAL);
}

int
pki_parse_long(const char *what, const char *s, long min, long max,
    long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno == ERANGE || v < min ||
	    v > max) {
		pki_err("%s: \"%s\" is not a number from %ld to %ld", what, s,
		    min, max);
		return -1;
	}
	*out = v;
	return 0;
}
