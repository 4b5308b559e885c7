/* resolver.h - asynchronous SRV/A/AAAA lookups on Sofia's sresolv with a
 * deadline of our own, one shared cache of answers, and the last good answer
 * kept (and stored) for when DNS fails (RULES B.1-B.3, D). Only resolver.c
 * includes sresolv. */
#ifndef SIPUAD_RESOLVER_H
#define SIPUAD_RESOLVER_H

#include <stdbool.h>
#include <stdint.h>

#include "dns.h"

struct event_base;
struct loop;
struct store;
struct resolver;
struct resolver_query;

typedef void resolver_cb(void *arg, const struct dns_answer *ans);

/* RESOLV_CONF names the nameservers; TIMEOUT_S bounds one lookup; IPV6:
 * also ask AAAA. STORE (may be NULL) keeps last good answers across
 * restarts. */
int resolver_init(struct resolver **out, struct event_base *base, struct loop *loop,
		  struct store *store, const char *resolv_conf, int timeout_s, bool ipv6);
void resolver_free(struct resolver *r);

/* Whatever is known now without asking: a literal, a fresh or stale cached
 * answer (from this run or the store). 0 and *out, or -1 if nothing. */
int resolver_peek(struct resolver *r, const struct dns_key *k, struct dns_answer *out);

/* Ask the nameservers (joining a lookup of the same key in flight). CB runs
 * later, never from inside this call, with a fresh answer or, on failure,
 * the last good one marked stale (or n = 0 and the status). Returns NULL
 * only when out of memory. */
struct resolver_query *resolver_lookup(struct resolver *r, const struct dns_key *k,
				       resolver_cb *cb, void *arg);
/* Every address of K failed (RULES B.4): its answer is no longer taken for
 * fresh, so the next use asks the nameservers again (it stays the last
 * good answer for an outage). */
void resolver_invalidate(struct resolver *r, const struct dns_key *k);
/* Forget a query: its callback will not run. */
void resolver_cancel(struct resolver_query *q);

#endif
