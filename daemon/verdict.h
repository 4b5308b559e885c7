/* verdict.h - what the final answer to a request means to a line: the one
 * place a SIP status (and whether our own stack made it up) becomes a
 * verdict. Pure: sip.c reports facts, the agent asks here. */
#ifndef SIPUAD_VERDICT_H
#define SIPUAD_VERDICT_H

#include <stdbool.h>

enum verdict {
	VERDICT_OK,          /* 2xx; for a heartbeat, any sign of life */
	VERDICT_TIMEOUT,     /* no answer: local 408 after 64*T1, a proxy's 408/504 */
	VERDICT_UNREACHABLE, /* local 503: ICMP, TCP refused or failed, send error; a proxy's 477/478 */
	VERDICT_4XX,         /* a server's 4xx that is not an auth challenge */
	VERDICT_AUTH,        /* 401/407 left: challenged again for the same credentials */
	VERDICT_5XX,         /* a server's 5xx */
	VERDICT_6XX,         /* a server's 6xx */
	VERDICT_INTERNAL,    /* our own stack's other errors (nua >= 900, out of memory) */
	VERDICT_MAX
};

/* STATUS as sent by the server (LOCAL false) or made by our own stack. */
enum verdict verdict_of(int status, bool local);
/* A REGISTER or un-REGISTER's final answer; ROUTED: it went through an
 * outbound proxy, whose 408/504/477/478 speak for the server (RULES B.6). */
enum verdict verdict_register(int status, bool local, bool routed);
/* A heartbeat OPTIONS' final answer (RULES A.7). */
enum verdict verdict_options(int status, bool local, bool routed);
const char *verdict_name(enum verdict v);

#endif
