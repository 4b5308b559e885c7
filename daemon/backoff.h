/* backoff.h - the one retry backoff of the daemon (lines and resolver alike):
 * RFC 5626 4.5, a uniform 50-100 % of min(cap, base * 2^n). Pure. */
#ifndef SIPUAD_BACKOFF_H
#define SIPUAD_BACKOFF_H

#include <stdint.h>

/* RFC 5626 4.5's max-time. */
#define BACKOFF_CAP_MS (1800 * 1000LL)

/* The wait before retry N+1 (N = failures so far, from 0): base doubled N
 * times, capped at CAP_MS (or at BASE_MS when that is larger), then scaled
 * into its upper half by R, uniform over 0..UINT32_MAX (UINT32_MAX: the
 * whole wait). */
int64_t backoff_ms(int64_t base_ms, int n, int64_t cap_ms, uint32_t r);

#endif
