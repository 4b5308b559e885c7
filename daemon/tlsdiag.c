/* tlsdiag.c - pairs Sofia-SIP's TLS log lines with the address they are
 * about (tlsdiag.h says why). The texts matched are 1.12.11's: tport_tls.c
 * tls_verify_cb ("  err %i:%s"), tls_post_connection_check ("Peer Subject
 * Mismatch"), tls_connect ("TLS setup failed"), tls_log_errors ("%s:
 * %08lx:%s:%s:%s", OpenSSL's reason last), tport.c tport_close
 * ("tport_close(%p): tls/HOST:PORT..."), and nta.c
 * outgoing_print_tport_error ("nta: %s (%u): %s%s (%u) with %s/[%s]:%u"). */
#include "tlsdiag.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netaddr.h"

/* nta's lines about the requests a close failed come in the same call */
#define TLSDIAG_SAME_CALL_MS 1000

void tlsdiag_init(struct tlsdiag *d)
{
	memset(d, 0, sizeof *d);
	d->closed = -1;
}

static void keep_first(struct tlsdiag *d, const char *words, size_t len)
{
	if (d->pending[0])
		return; /* the first trouble of a connection is its cause */
	if (len >= sizeof d->pending)
		len = sizeof d->pending - 1;
	memcpy(d->pending, words, len);
	d->pending[len] = '\0';
}

/* "  err 10:certificate has expired" -> "certificate has expired". Only at
 * the start of the line: the issuer and subject lines before it are the
 * certificate's own text. */
static bool verify_error(struct tlsdiag *d, const char *line)
{
	if (strncmp(line, "  err ", 6) != 0)
		return false;
	const char *p = line + 6;
	if (!isdigit((unsigned char)*p))
		return false;
	while (isdigit((unsigned char)*p))
		p++;
	if (*p++ != ':' || !*p)
		return false;
	keep_first(d, p, strlen(p));
	return true;
}

/* tport's OpenSSL error lines of a connection's read or write ("tls_read:
 * SSL_read: 0a00045c:SSL routines:(null):tlsv13 alert certificate
 * required"): an alert is the server refusing us (after the handshake,
 * with TLS 1.3); another reason is said as OpenSSL says it. The context's
 * own set-up at start logs such lines too: not a connection's. */
static bool ssl_reason(struct tlsdiag *d, const char *line)
{
	if (strncmp(line, "tls_read: SSL_read: ", 20) != 0 && strncmp(line, "tls_write: SSL_write: ", 22) != 0)
		return false;
	const char *p = strstr(line, ":SSL routines:");
	if (!p || !(p = strrchr(p, ':')) || !*++p || strcmp(p, "(null)") == 0)
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

/* IP and IP2 name the same address (text, or "::1" and "0:0::1") */
static bool same_ip(const char *ip, const char *ip2)
{
	return strcmp(ip, ip2) == 0 || netaddr_same_ip(ip, ip2);
}

static void store(struct tlsdiag *d, const char *ip, int port, const char *words, int64_t now)
{
	int i = d->next;
	d->next = (d->next + 1) % TLSDIAG_KEEP;
	snprintf(d->last[i].ip, sizeof d->last[i].ip, "%s", ip);
	d->last[i].port = port;
	size_t n = strlen(words);
	if (n >= sizeof d->last[i].words)
		n = sizeof d->last[i].words - 1;
	memmove(d->last[i].words, words, n); /* words may be d->pending */
	d->last[i].words[n] = '\0';
	d->last[i].at = now;
	d->closed = i;
}

/* "PORT" and nothing after it but the ident ("/sip", "/sips") or ";comp=" */
static int port_of(const char *p, bool rest_ok)
{
	if (!isdigit((unsigned char)*p))
		return -1;
	char *end;
	long v = strtol(p, &end, 10);
	if (v <= 0 || v > 65535 || (*end && !(rest_ok && (*end == '/' || *end == ';'))))
		return -1;
	return (int)v;
}

bool tlsdiag_closed_line(const char *line, enum conf_transport *tp, char *ip, size_t ip_size, int *port)
{
	const char *p = strstr(line, "): ");
	if (strncmp(line, "tport_close(", 12) != 0 || !p)
		return false;
	p += 3;
	if (strncmp(p, "tcp/", 4) == 0)
		*tp = CONF_TP_TCP;
	else if (strncmp(p, "tls/", 4) == 0)
		*tp = CONF_TP_TLS;
	else
		return false;
	const char *host = p + 4, *end;
	if (*host == '[') {
		host++;
		if (!(end = strchr(host, ']')) || end[1] != ':')
			return false;
		p = end + 2;
	} else {
		if (!(end = strrchr(host, ':')))
			return false;
		p = end + 1;
	}
	if ((*port = port_of(p, true)) < 0 || (size_t)(end - host) >= ip_size)
		return false;
	memcpy(ip, host, (size_t)(end - host));
	ip[end - host] = '\0';
	return true;
}

/* A TLS connection closed: its words, if any, belong to its address. */
static void closed(struct tlsdiag *d, const char *line, int64_t now)
{
	enum conf_transport tp;
	char ip[sizeof d->last[0].ip];
	int port;
	if (!tlsdiag_closed_line(line, &tp, ip, sizeof ip, &port) || tp != CONF_TP_TLS)
		return;
	if (d->pending[0]) {
		store(d, ip, port, d->pending, now);
		d->pending[0] = '\0';
	} else {
		d->closed = -1;
	}
}

/* nta's "nta: REGISTER (7): Connection refused (111) with tls/[IP]:PORT",
 * the whole line in that form: a request failed there. Words the close
 * already gave that address stand; else the words are the error nta
 * names (its connect failed: no handshake, no close with words). */
static void request_failed(struct tlsdiag *d, const char *line, int64_t now)
{
	const char *w = strstr(line, ") with tls/[");
	if (!w || strncmp(line, "nta: ", 5) != 0)
		return;
	const char *ip = w + 12, *end = strchr(ip, ']');
	if (!end || end[1] != ':' || (size_t)(end - ip) >= sizeof d->last[0].ip)
		return;
	int port = port_of(end + 2, false);
	/* "nta: METHOD (N): TEXT (ERRNO)": the method a token, the numbers digits */
	const char *m = line + 5, *sp = strchr(m, ' ');
	if (port < 0 || !sp || sp == m || sp[1] != '(' || !isdigit((unsigned char)sp[2]))
		return;
	const char *txt = strstr(sp, "): ");
	const char *paren = w;
	while (paren > line && *paren != '(')
		paren--;
	if (!txt || paren <= txt + 3 || !isdigit((unsigned char)paren[1]))
		return;
	char addr[sizeof d->last[0].ip];
	memcpy(addr, ip, (size_t)(end - ip));
	addr[end - ip] = '\0';
	if (d->closed >= 0) {
		int c = d->closed;
		if (d->last[c].port == port && now - d->last[c].at <= TLSDIAG_SAME_CALL_MS &&
		    same_ip(d->last[c].ip, addr))
			return; /* the close said it (for every request it failed) */
	}
	if (d->pending[0]) { /* a failure without a close line first */
		store(d, addr, port, d->pending, now);
		d->pending[0] = '\0';
		return;
	}
	txt += 3;
	size_t len = (size_t)(paren - txt);
	while (len && txt[len - 1] == ' ')
		len--;
	char words[TLSDIAG_WORDS_MAX];
	if (len == 7 && strncmp(txt, "Success", 7) == 0)
		snprintf(words, sizeof words, "connection closed");
	else
		snprintf(words, sizeof words, "%.*s", (int)len, txt);
	words[0] = (char)tolower((unsigned char)words[0]);
	store(d, addr, port, words, now);
}

void tlsdiag_line(struct tlsdiag *d, const char *line, int64_t now)
{
	if (strncmp(line, "nta: ", 5) == 0) {
		request_failed(d, line, now);
		return;
	}
	if (strncmp(line, "tport_close(", 12) == 0) {
		closed(d, line, now);
		return;
	}
	if (verify_error(d, line) || ssl_reason(d, line))
		return;
	if (strstr(line, "): Peer Subject Mismatch (") && strncmp(line, "tls_post_connection_check(", 26) == 0)
		keep_first(d, "name mismatch", 13);
	else if (strstr(line, "): TLS setup failed (") && strncmp(line, "tls_connect(", 12) == 0)
		keep_first(d, "handshake failed", 16);
}

const char *tlsdiag_take(struct tlsdiag *d, const char *ip, int port, int64_t now, char *buf, size_t size)
{
	/* newest first */
	for (int k = 1; k <= TLSDIAG_KEEP; k++) {
		int i = (d->next - k + TLSDIAG_KEEP) % TLSDIAG_KEEP;
		if (!d->last[i].words[0] || d->last[i].port != port || now - d->last[i].at > TLSDIAG_MAX_AGE_MS)
			continue;
		if (!same_ip(d->last[i].ip, ip))
			continue;
		snprintf(buf, size, "%s", d->last[i].words);
		return buf;
	}
	return NULL;
}
