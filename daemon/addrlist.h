/* addrlist.h - a line's next hop (RULES B): which name it goes to (the
 * current server, or the current outbound proxy), that name's addresses in
 * order, and the cursor over them. Pure: no I/O, no clock; the line feeds it
 * resolver answers and failures, and it says what to do next. */
#ifndef SIPUAD_ADDRLIST_H
#define SIPUAD_ADDRLIST_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "dns.h"
#include "netaddr.h"

#define ADDRLIST_NAME_MAX 256

/* What the line does next. */
enum al_verdict {
	AL_USE,        /* send through addrlist_current() */
	AL_LOOKUP,     /* look the key up (the name changed, or its answer ran out) */
	AL_FAILED,     /* nothing to send to: every proxy failed to resolve (RULES B.5) */
};

struct addrlist {
	/* configuration */
	char *const *proxies;       /* outbound proxies as configured, or NULL */
	int n_proxies;
	/* the name the list is for */
	int proxy;                  /* current proxy (RULES B.5); -1 without proxies */
	int proxies_failed;         /* resolution failures in a row since the last success */
	char name[ADDRLIST_NAME_MAX];
	int port;                   /* 0: SRV */
	enum conf_transport tp;
	char route[ADDRLIST_NAME_MAX + 32]; /* with proxies: the server to preload as Route */
	/* its addresses */
	struct dns_answer ans; /* n = 0: none yet */
	bool have;                  /* ans belongs to name/port/tp */
	int idx;                    /* address in use; -1: none (or not in a refreshed list) */
	int tried;                  /* addresses tried since the last success or answer,
				     * the one in use included: the walk is circular from
				     * where it began, every address once (B.4) */
	bool exhausted;             /* every address failed: resolve again first (RULES B.4) */
	char prefer[NETADDR_STR_MAX];            /* "IP:PORT" to start from (restored), "" none */
};

void addrlist_init(struct addrlist *al, char *const *proxies, int n_proxies);

/* A registration attempt from the first address towards server SV: which
 * name that is (SV's own, or the current proxy with a Route to SV).
 * AL_LOOKUP when the name's answer is missing, expired at NOW, or was used
 * up (B.4: after the last address, resolve again); else AL_USE at index 0. */
enum al_verdict addrlist_begin(struct addrlist *al, const struct conf_server *sv, int64_t now);
/* The key addrlist_begin() chose, for the resolver. */
struct dns_key addrlist_key(const struct addrlist *al);
/* An answer to AL_LOOKUP (fresh, or stale last-good, or empty). A stale
 * answer is used unless the name is gone (NXDOMAIN) or the lookup was the
 * B.4 re-resolution after every address failed. Nothing usable with
 * proxies: the next proxy (B.5) -> AL_LOOKUP again, until every proxy has
 * failed once -> AL_FAILED; without proxies -> AL_FAILED. Else AL_USE. */
enum al_verdict addrlist_resolved(struct addrlist *al, const struct dns_answer *ans);
/* The request through the current address failed: AL_USE at the next
 * address not yet tried (wrapping past the end of the list: a line that
 * moved to the second address tries the first again before giving up), or
 * AL_FAILED when every one was tried (the list is marked used up). */
enum al_verdict addrlist_failed(struct addrlist *al);
/* The address in use works (a 200): a later failure walks every other
 * address again. */
void addrlist_succeeded(struct addrlist *al);
/* A background re-resolution (TTL ran out) for the current name: the list
 * is replaced, the address in use stays in use (affinity), its index
 * follows it into the new list (or -1 if it is gone from it). An empty
 * answer changes nothing but the expiry and the error. */
void addrlist_refreshed(struct addrlist *al, const struct dns_answer *ans);
/* The line now uses address "IP:PORT" (e.g. adopted from the failback
 * probe): point the cursor at it. */
void addrlist_adopt(struct addrlist *al, const char *addr);

/* RULES I.3, ranking by SRV priority (0 for all of an answer without SRV):
 * the priority of address X in the answer, -1 when X is not in it. */
int addrlist_prio(const struct addrlist *al, const struct netaddr *x);
/* The address in use is of a worse priority than the answer's best. */
bool addrlist_off_best(const struct addrlist *al);
/* The Kth (modulo their number) address of the answer's best priority,
 * in answer order; false when the list has none. */
bool addrlist_best(const struct addrlist *al, int k, struct netaddr *out);

/* NULL when no address is in use. */
const struct netaddr *addrlist_current(const struct addrlist *al);
/* Addresses not yet tried in this walk. */
int addrlist_left(const struct addrlist *al);
/* True when the name is a literal: nothing to re-resolve. */
bool addrlist_is_literal(const struct addrlist *al);

#endif
