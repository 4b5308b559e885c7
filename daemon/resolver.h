/* resolver.h - asynchronous SRV/A/AAAA lookups on Sofia's sresolv with a
 * deadline of our own, one shared cache of answers, and the last good answer
 * kept (and stored) for when DNS fails (SPEC B.1-B.3, D). Only resolver.c
 * includes sresolv. */
#ifndef SIPUAD_RESOLVER_H
#define SIPUAD_RESOLVER_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

struct event_base;
struct loop;
struct store;
struct resolver;
struct resolver_query;

#define RESOLVER_ADDRS_MAX 16
#define RESOLVER_IP_MAX 46 /* INET6_ADDRSTRLEN */

struct resolver_addr {
	char ip[RESOLVER_IP_MAX];
	int port;
};

/* What a name resolves to, in the order to use (SPEC B.2). */
struct resolver_answer {
	int status;                 /* 0 ok; else why nothing fresh was had (RESOLVER_E*) */
	bool stale;                 /* addresses are the last good answer, not a fresh one */
	int n;
	struct resolver_addr v[RESOLVER_ADDRS_MAX];
	int64_t expires;            /* ms (monotonic) when it should be looked up again */
	char error[300];             /* status != 0: the operator's words, e.g. "NXDOMAIN" */
};

enum {
	RESOLVER_EOK,
	RESOLVER_ENXDOMAIN,   /* the name does not exist (nor SRV nor A/AAAA) */
	RESOLVER_ENODATA,     /* the name has no usable record */
	RESOLVER_ETIMEOUT,    /* no answer within dns_timeout */
	RESOLVER_EFAIL,       /* SERVFAIL, REFUSED, no nameserver, out of memory */
};

/* What to look up: NAME with PORT given -> A/AAAA on it; PORT 0 -> SRV
 * _sip._udp/_sip._tcp (by TP) first, then A/AAAA on 5060 (RFC 3263 4.1/4.2).
 * An IP literal is answered as is, with no lookup (SPEC B.3). */
struct resolver_key {
	const char *name;
	int port;
	enum conf_transport tp;
};

typedef void resolver_cb(void *arg, const struct resolver_answer *ans);

/* RESOLV_CONF names the nameservers; TIMEOUT_S bounds one lookup; IPV6:
 * also ask AAAA. STORE (may be NULL) keeps last good answers across
 * restarts. */
int resolver_init(struct resolver **out, struct event_base *base, struct loop *loop,
		  struct store *store, const char *resolv_conf, int timeout_s, bool ipv6);
void resolver_free(struct resolver *r);

/* Whatever is known now without asking: a literal, a fresh or stale cached
 * answer (from this run or the store). 0 and *out, or -1 if nothing. */
int resolver_peek(struct resolver *r, const struct resolver_key *k, struct resolver_answer *out);

/* Ask the nameservers (joining a lookup of the same key in flight). CB runs
 * later, never from inside this call, with a fresh answer or, on failure,
 * the last good one marked stale (or n = 0 and the status). Returns NULL
 * only when out of memory. */
struct resolver_query *resolver_lookup(struct resolver *r, const struct resolver_key *k,
				       resolver_cb *cb, void *arg);
/* Every address of K failed (SPEC B.4): its answer is no longer taken for
 * fresh, so the next use asks the nameservers again (it stays the last
 * good answer for an outage). */
void resolver_invalidate(struct resolver *r, const struct resolver_key *k);
/* Forget a query: its callback will not run. */
void resolver_cancel(struct resolver_query *q);

bool resolver_is_literal(const char *name);
const char *resolver_status_name(int status);

#endif
