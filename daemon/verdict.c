/* verdict.c - SIP status -> what it means to a line (RULES A.2-A.4, A.7, B.6); pure. */
#include "verdict.h"

static const char *const names[VERDICT_MAX] = {
	[VERDICT_OK] = "ok",
	[VERDICT_TIMEOUT] = "timeout",
	[VERDICT_UNREACHABLE] = "unreachable",
	[VERDICT_4XX] = "server-4xx",
	[VERDICT_AUTH] = "auth",
	[VERDICT_5XX] = "server-5xx",
	[VERDICT_6XX] = "server-6xx",
	[VERDICT_INTERNAL] = "internal",
};

const char *verdict_name(enum verdict v)
{
	return v >= 0 && v < VERDICT_MAX ? names[v] : "?";
}

/* Observed Sofia-SIP behaviour (DESIGN "SIP adapter"): a response our own
 * stack generated is a transport verdict, one the server sent is the
 * server's word. */
enum verdict verdict_of(int status, bool local)
{
	if (status >= 200 && status < 300)
		return VERDICT_OK;
	if (status >= 900 || status < 200)
		return VERDICT_INTERNAL;
	if (local) {
		if (status == 408)
			return VERDICT_TIMEOUT;     /* RFC 3261 17.1.2.2 timer F / 17.1.1.2 B */
		if (status == 503)
			return VERDICT_UNREACHABLE; /* ICMP, refused connect, send error */
		return VERDICT_INTERNAL;
	}
	if (status == 401 || status == 407)
		return VERDICT_AUTH;
	if (status < 500)
		return VERDICT_4XX;
	if (status < 600)
		return VERDICT_5XX;
	return VERDICT_6XX;
}

/* Through an outbound proxy some answers are the proxy's word on the next
 * hop, not the server's: 408 and 504 after its own timers (RFC 3261 16.7,
 * 16.8), and the 477/478 Kamailio and OpenSIPS send when they cannot
 * forward. They count as if we had tried the server ourselves. */
static enum verdict via_proxy(int status, enum verdict v)
{
	if (status == 408 || status == 504)
		return VERDICT_TIMEOUT;
	if (status == 477 || status == 478)
		return VERDICT_UNREACHABLE;
	return v;
}

enum verdict verdict_register(int status, bool local, bool routed)
{
	enum verdict v = verdict_of(status, local);
	return routed && !local ? via_proxy(status, v) : v;
}

enum verdict verdict_options(int status, bool local, bool routed)
{
	enum verdict v = verdict_of(status, local);
	if (local)
		return v;
	/* RULES A.7: any final answer from the server proves it alive, even
	 * 404/405/501 ... */
	if (status >= 200 && status < 700)
		v = VERDICT_OK;
	/* ... except a proxy's "could not reach it": through a proxy a 5xx
	 * (Kamailio's stock "500 ... (1/SL)" after a failed relay, 503) is
	 * more likely the proxy's word than the server's. A wrong guess
	 * costs one REGISTER on the same server (A.7), never a switch. */
	if (routed) {
		v = via_proxy(status, v);
		if (status >= 500 && status < 600)
			v = VERDICT_5XX;
	}
	return v;
}
