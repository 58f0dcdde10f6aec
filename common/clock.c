/*
 * clock.c - time for waits: the monotonic clock, and sleeping until a
 * moment of it; RFC 3339 times read.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "pki.h"

double
pki_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
pki_sleep_until(double t)
{
	struct timespec ts;
	double d;

	while ((d = t - pki_now()) > 0) {
		ts.tv_sec = (time_t)d;
		ts.tv_nsec = (long)((d - (double)ts.tv_sec) * 1e9);
		if (nanosleep(&ts, NULL) == 0 || errno != EINTR)
			break;
	}
}

int
pki_parse_rfc3339(const char *s, time_t *t)
{
	struct tm tm;
	int y, mo, d, h, mi, sec, oh = 0, om = 0, n = 0;
	const char *p;

	if (s == NULL || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d,
	    &h, &mi, &sec, &n) != 6)
		return -1;
	p = s + n;
	if (*p == '.')
		p += 1 + strspn(p + 1, "0123456789");
	if ((*p == '+' || *p == '-') &&
	    sscanf(p + 1, "%2d:%2d", &oh, &om) == 2) {
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
