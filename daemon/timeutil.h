/* timeutil.h - the daemon's clock (monotonic ms) and its conversion to the
 * timeval libevent wants; one definition for every runner. */
#ifndef SIPUAD_TIMEUTIL_H
#define SIPUAD_TIMEUTIL_H

#include <stdint.h>
#include <sys/time.h>
#include <time.h>

/* Deadlines are taken on CLOCK_MONOTONIC: a wall-clock step must not move
 * them (RULES I.1). */
static inline int64_t timeutil_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline struct timeval timeutil_tv(int64_t ms)
{
	if (ms < 0)
		ms = 0;
	struct timeval tv = { .tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)(ms % 1000) * 1000 };
	return tv;
}

#endif
