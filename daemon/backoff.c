/* backoff.c - jittered exponential backoff; pure. */
#include "backoff.h"

int64_t backoff_ms(int64_t base_ms, int n, int64_t cap_ms, uint32_t r)
{
	int64_t cap = base_ms > cap_ms ? base_ms : cap_ms;
	int64_t w = base_ms;
	for (int i = 0; i < n && w < cap; i++)
		w *= 2;
	if (w > cap)
		w = cap;
	/* half of w, plus a uniform share of the other half: a fleet that
	 * failed together does not retry together */
	return w / 2 + (int64_t)((double)(w - w / 2) * ((double)r / (double)UINT32_MAX));
}
