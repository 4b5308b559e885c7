/* tlsdiag.c - pairs Sofia-SIP's TLS log lines with the request they fail
 * (tlsdiag.h says why). The texts matched are 1.12.11's: tport_tls.c
 * tls_verify_cb ("  err %i:%s"), tls_post_connection_check ("Peer Subject
 * Mismatch"), tls_connect ("TLS setup failed"), tls_log_errors ("%s:
 * %08lx:%s:%s:%s", OpenSSL's reason last), and nta.c
 * outgoing_print_tport_error ("nta: %s (%u): %s%s (%u) with %s/[%s]:%u"). */
#include "tlsdiag.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void keep_first(struct tlsdiag *d, const char *words, size_t len)
{
	if (d->pending[0])
		return; /* the first trouble of a handshake is its cause */
	if (len >= sizeof d->pending)
		len = sizeof d->pending - 1;
	memcpy(d->pending, words, len);
	d->pending[len] = '\0';
}

/* "  err 10:certificate has expired" -> "certificate has expired" */
static bool verify_error(struct tlsdiag *d, const char *line)
{
	const char *p = strstr(line, "err ");
	if (!p || (p != line && p[-1] != ' '))
		return false;
	p += 4;
	if (!isdigit((unsigned char)*p))
		return false;
	while (isdigit((unsigned char)*p))
		p++;
	if (*p++ != ':' || !*p)
		return false;
	keep_first(d, p, strlen(p));
	return true;
}

/* nta's "... : Connection refused (111) with tls/[IP]:PORT": the request
 * failed there; the handshake's words (or the error's) go to IP:PORT. */
static void request_failed(struct tlsdiag *d, const char *line)
{
	const char *w = strstr(line, " with tls/[");
	if (!w)
		return;
	const char *ip = w + 11, *end = strchr(ip, ']');
	if (!end || end[1] != ':' || (size_t)(end - ip) >= sizeof d->last[0].ip)
		return;
	int port = atoi(end + 2);
	if (!d->pending[0]) {
		/* no TLS words: the error nta names, before " (N) with" */
		const char *colon = strstr(line, "): ");
		const char *paren = w;
		while (paren > line && *paren != '(')
			paren--;
		if (colon && paren > colon + 3) {
			const char *txt = colon + 3;
			size_t len = (size_t)(paren - txt);
			while (len && txt[len - 1] == ' ')
				len--;
			if (len == 7 && strncmp(txt, "Success", 7) == 0)
				keep_first(d, "connection closed", 17);
			else
				keep_first(d, txt, len);
			if (d->pending[0])
				d->pending[0] = (char)tolower((unsigned char)d->pending[0]);
		}
	}
	if (!d->pending[0])
		return;
	int i = d->next;
	d->next = (d->next + 1) % TLSDIAG_KEEP;
	memcpy(d->last[i].ip, ip, (size_t)(end - ip));
	d->last[i].ip[end - ip] = '\0';
	d->last[i].port = port;
	memcpy(d->last[i].words, d->pending, sizeof d->pending);
	d->pending[0] = '\0';
}

/* tport's OpenSSL error lines ("tls_read: SSL_read: 0a00045c:SSL
 * routines:(null):tlsv13 alert certificate required"): an alert is the
 * server refusing us (after the handshake, with TLS 1.3); another reason
 * is said as OpenSSL says it. */
static bool ssl_reason(struct tlsdiag *d, const char *line)
{
	const char *p = strstr(line, "SSL routines:");
	/* a connection's read or write only: the context's own set-up at
	 * start logs such lines too (no agent.pem without a certificate) */
	if (!p || (!strstr(line, "SSL_read: ") && !strstr(line, "SSL_write: ")))
		return false;
	if (!(p = strrchr(p, ':')) || !*++p || strcmp(p, "(null)") == 0)
		return true;
	const char *alert = strstr(p, "alert ");
	if (alert) {
		char w[TLSDIAG_WORDS_MAX];
		snprintf(w, sizeof w, "alert from the server: %s", alert + 6);
		keep_first(d, w, strlen(w));
	} else {
		keep_first(d, p, strlen(p));
	}
	return true;
}

void tlsdiag_line(struct tlsdiag *d, const char *line)
{
	if (strncmp(line, "nta: ", 5) == 0) {
		request_failed(d, line);
		return;
	}
	if (verify_error(d, line) || ssl_reason(d, line))
		return;
	if (strstr(line, "Peer Subject Mismatch"))
		keep_first(d, "name mismatch", 13);
	else if (strstr(line, "TLS setup failed"))
		keep_first(d, "handshake failed", 16);
}

const char *tlsdiag_take(struct tlsdiag *d, const char *ip, int port, char *buf, size_t size)
{
	/* newest first */
	for (int k = 1; k <= TLSDIAG_KEEP; k++) {
		int i = (d->next - k + TLSDIAG_KEEP) % TLSDIAG_KEEP;
		if (d->last[i].words[0] && d->last[i].port == port && strcmp(d->last[i].ip, ip) == 0) {
			snprintf(buf, size, "%s", d->last[i].words);
			d->last[i].words[0] = '\0';
			return buf;
		}
	}
	return NULL;
}
