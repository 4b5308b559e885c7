/* tlsdiag.h - why a TLS connection failed, in words (RULES G.3). Pure: fed
 * Sofia-SIP's own log lines, as text.
 *
 * Sofia-SIP 1.12.11 gives its user no reason when a TLS handshake or the
 * check of the server's certificate fails: the connection is closed, and
 * nta answers the request with a 503 of its own. What it does say is in
 * its log: tport's certificate check ("err 10:certificate has expired",
 * "Peer Subject Mismatch", "TLS setup failed", OpenSSL's reasons such as
 * the server's alert), then nta's line about the
 * request it fails ("... with tls/[IP]:PORT"), in that order and within
 * the same call. This module pairs the two, so the request's failure,
 * reported a few loop turns later, can say what went wrong. */
#ifndef SIPUAD_TLSDIAG_H
#define SIPUAD_TLSDIAG_H

#include <stdbool.h>
#include <stddef.h>

#define TLSDIAG_WORDS_MAX 96
#define TLSDIAG_KEEP 8

struct tlsdiag {
	char pending[TLSDIAG_WORDS_MAX];     /* words of the handshake under way, "" none */
	struct {
		char ip[64];
		int port;
		char words[TLSDIAG_WORDS_MAX];
	} last[TLSDIAG_KEEP];                /* the latest failures, by address */
	int next;
};

/* One complete line of tport's or nta's log (no newline). */
void tlsdiag_line(struct tlsdiag *d, const char *line);
/* The words of the latest failure towards IP:PORT ("certificate has
 * expired", "name mismatch", ...) into BUF, and forgets them; NULL when
 * none is known. */
const char *tlsdiag_take(struct tlsdiag *d, const char *ip, int port, char *buf, size_t size);

#endif
