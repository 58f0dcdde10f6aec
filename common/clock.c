/*
 * clock.c - time for waits: the monotonic clock, and sleeping until a
 * moment of it.  (Alone in its file, so that a fuzz target can put a
 * clock of its own in their place.)
 */
#include <errno.h>
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
