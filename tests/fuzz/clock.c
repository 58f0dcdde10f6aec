/*
 * clock.c - the clock of a stage in a fuzz target: it stands still but
 * for what the stage's fake servers say each exchange costs
 * (fuzz_clock_pass()) and for its sleeps, which return at once; so its
 * waits and polls cost no time.  In place of common/clock.c.
 */
#include "pki.h"
#include "fuzz.h"

static double now = 1000.0;

void
fuzz_clock_pass(double seconds)
{
	now += seconds;
}

double
pki_now(void)
{
	return now;
}

void
pki_sleep_until(double t)
{
	if (t > now)
		now = t;
}
