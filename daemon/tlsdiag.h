/* tlsdiag.h - why a TLS connection failed, in words (RULES G.3). Pure: fed
 * Sofia-SIP's own log lines, as text, with the time they came.
 *
 * Sofia-SIP 1.12.11 gives its user no reason when a TLS handshake or the
 * check of the server's certificate fails: the connection is closed, and
 * nta answers the request with a 503 of its own. What it does say is in
 * its log, in one call and in this order: tport's certificate check
 * ("  err 10:certificate has expired", "Peer Subject Mismatch", "TLS setup
 * failed", OpenSSL's reasons such as the server's alert), tport's close of
 * the connection ("tport_close(..): tls/IP:PORT"), then nta's line about
 * each request it fails ("nta: REGISTER (N): ... with tls/[IP]:PORT").
 * This module pairs the words with the address at the close, so the
 * request's failure, reported a few loop turns later, can say what went
 * wrong. Lines a peer can put text into (certificate subjects, reason
 * phrases) are matched only where Sofia's own format puts our words. */
#ifndef SIPUAD_TLSDIAG_H
#define SIPUAD_TLSDIAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define TLSDIAG_WORDS_MAX 96
#define TLSDIAG_KEEP 8
/* Words older than this are not a request's: it failed for another reason. */
#define TLSDIAG_MAX_AGE_MS 5000

struct tlsdiag {
	char pending[TLSDIAG_WORDS_MAX];     /* words of the connection under way, "" none */
	struct {
		char ip[64];
		int port;
		char words[TLSDIAG_WORDS_MAX];
		int64_t at;                  /* ms, the caller's clock */
	} last[TLSDIAG_KEEP];                /* the latest failures, by address */
	int next;
	int closed;                          /* the entry the last close filled, -1 none */
};

void tlsdiag_init(struct tlsdiag *d);
/* tport's "tport_close(0x..): PROTO/HOST:PORT[;comp=..][/IDENT]" (1.12.11,
 * level 5): one of our connections closed, whoever closed it (RULES G.4
 * reads it too). True for tcp and tls, with the transport and the address
 * (HOST without brackets, into IP of IP_SIZE). */
bool tlsdiag_closed_line(const char *line, enum conf_transport *tp, char *ip, size_t ip_size, int *port);
/* One complete line of tport's or nta's log (no newline), at NOW (ms). */
void tlsdiag_line(struct tlsdiag *d, const char *line, int64_t now);
/* The words of the latest failure towards IP:PORT within
 * TLSDIAG_MAX_AGE_MS of NOW ("certificate has expired", "name mismatch",
 * ...) into BUF (every request that connection failed gets them); NULL
 * when none is known. */
const char *tlsdiag_take(struct tlsdiag *d, const char *ip, int port, int64_t now, char *buf, size_t size);

#endif
