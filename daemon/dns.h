/* dns.h - what a name resolves to: the values the resolver produces and the
 * address list (addrlist) consumes. Types only, no functions: both sides
 * include it, neither includes the other. */
#ifndef SIPUAD_DNS_H
#define SIPUAD_DNS_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "netaddr.h"

#define DNS_ADDRS_MAX 16
#define DNS_ERROR_MAX 300

enum dns_status {
	DNS_OK,
	DNS_ENXDOMAIN,   /* the name does not exist (nor SRV nor A/AAAA) */
	DNS_ENODATA,     /* the name has no usable record */
	DNS_ETIMEOUT,    /* no answer within dns_timeout */
	DNS_EFAIL,       /* SERVFAIL, REFUSED, no nameserver, out of memory */
	DNS_STATUS_MAX
};

/* What a name resolves to, in the order to use (RULES B.2). */
struct dns_answer {
	enum dns_status status;      /* DNS_OK, else why nothing fresh was had */
	bool stale;                  /* the addresses are the last good answer, not a fresh one */
	int n;
	struct netaddr v[DNS_ADDRS_MAX];
	/* The SRV priority of v[i]'s target (RFC 2782: lower is preferred),
	 * which RULES I.3 fails back to. 0 for every address of an answer not
	 * made from SRV records (a name with a port, A/AAAA on the default
	 * port, a literal, a stored last good answer): nothing to rank. */
	uint16_t prio[DNS_ADDRS_MAX];
	int64_t expires;             /* ms (monotonic) when it should be looked up again */
	char error[DNS_ERROR_MAX];   /* status != DNS_OK: the operator's words, e.g. "NXDOMAIN" */
};

/* What to look up: NAME with PORT given -> A/AAAA on it; PORT 0 -> SRV
 * _sip._udp/_sip._tcp/_sips._tcp (by TP) first, then A/AAAA on the
 * transport's default port (RFC 3263 4.1/4.2). An IP literal is its own
 * answer (RULES B.3). */
struct dns_key {
	const char *name;
	int port;
	enum conf_transport tp;
};

/* RFC 3263 4.2: the port of a target that has none. */
static inline int dns_default_port(enum conf_transport tp)
{
	return tp == CONF_TP_TLS ? 5061 : 5060;
}

#endif
