/* netaddr.h - an IP address and port, their text forms, and "host[:port]"
 * parsing. Pure: no I/O, no other module (addrlist, resolver, sip, line and
 * the CLI all use it). */
#ifndef SIPUAD_NETADDR_H
#define SIPUAD_NETADDR_H

#include <stdbool.h>
#include <stddef.h>

#define NETADDR_IP_MAX 46                    /* INET6_ADDRSTRLEN */
#define NETADDR_STR_MAX (NETADDR_IP_MAX + 8) /* "[v6]:65535" */

struct netaddr {
	char ip[NETADDR_IP_MAX];
	int port;
};

/* True when NAME is an IPv4 or IPv6 literal (IPv6 without brackets). */
bool netaddr_is_literal(const char *name);
/* True when A and B are the same IP literal, whatever their text forms
 * ("::1" and "0:0::1"); false when either is not a literal. */
bool netaddr_same_ip(const char *a, const char *b);
/* "IP:PORT", IPv6 in brackets. */
void netaddr_format(char *buf, size_t size, const struct netaddr *a);
/* HOST as it goes into a URI, IPv6 in brackets, with ":PORT" unless PORT
 * is 0: "[2001:db8::1]:5060", "sip.example.com". */
void netaddr_host(char *buf, size_t size, const char *host, int port);
/* "host[:port]" or "[v6][:port]" -> HOST (brackets removed), *PORT (0 when
 * none is given). -1 when malformed or HOST does not fit SIZE. */
int netaddr_split(const char *s, char *host, size_t size, int *port);

#endif
