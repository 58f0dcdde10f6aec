/*
 * rfc3339.c - RFC 3339 times read (what the CA, the records and the
 * options say of a moment).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "pki.h"

/* The N digits at S as a number, or -1 if they are not N digits. */
static int
digits(const char *s, int n)
{
	int v = 0;

	for (; n > 0; n--, s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v;
}

int
pki_parse_rfc3339(const char *s, time_t *t)
{
	struct tm tm;
	int y, mo, d, h, mi, sec, oh = 0, om = 0;
	const char *p;

	/* YYYY-MM-DDTHH:MM:SS, each field exactly its digits */
	if (s == NULL || strlen(s) < 20 || s[4] != '-' || s[7] != '-' ||
	    (s[10] != 'T' && s[10] != 't') || s[13] != ':' || s[16] != ':' ||
	    (y = digits(s, 4)) == -1 || (mo = digits(s + 5, 2)) < 1 ||
	    mo > 12 || (d = digits(s + 8, 2)) < 1 || d > 31 ||
	    (h = digits(s + 11, 2)) == -1 || h > 23 ||
	    (mi = digits(s + 14, 2)) == -1 || mi > 59 ||
	    (sec = digits(s + 17, 2)) == -1 || sec > 60)
		return -1;
	p = s + 19;
	if (*p == '.' && p[1] >= '0' && p[1] <= '9')
		p += 1 + strspn(p + 1, "0123456789");
	if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':' &&
	    (oh = digits(p + 1, 2)) != -1 && oh <= 23 &&
	    (om = digits(p + 4, 2)) != -1 && om <= 59) {
		if (*p == '+')
			oh = -oh, om = -om;
	} else if ((*p != 'Z' && *p != 'z') || p[1] != '\0')
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	if ((*t = timegm(&tm)) == (time_t)-1)
		return -1;
	*t += oh * 3600 + om * 60;
	return 0;
}

int
pki_parse_time(const char *what, const char *s)
{
	time_t t;

	if (pki_parse_rfc3339(s, &t) == 0)
		return 0;
	pki_err("%s %s: not an RFC 3339 time (like 2026-12-05T04:00:00Z)",
	    what, s);
	return -1;
}
