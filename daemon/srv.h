/* srv.h - RFC 2782 ordering of SRV records; pure (the resolver uses it, the
 * unit tests check it). */
#ifndef SIPUAD_SRV_H
#define SIPUAD_SRV_H

#include <stdint.h>

/* The order to use N SRV records of PRIO and WEIGHT in: lowest priority
 * first; within a priority, a weighted random order (RAND returns uniform
 * 0..UINT32_MAX), so a fleet spreads over equal-priority servers as the
 * zone says. ORDER gets record indices. */
void srv_order(const unsigned *prio, const unsigned *weight, int n, int *order,
	       uint32_t (*rand)(void *arg), void *rand_arg);

#endif
