/* netaddr.c - IP:port values and their text forms; pure. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netaddr.h"

bool netaddr_is_literal(const char *name)
{
	unsigned char buf[sizeof(struct in6_addr)];
	return inet_pton(AF_INET, name, buf) == 1 || inet_pton(AF_INET6, name, buf) == 1;
}

bool netaddr_same_ip(const char *a, const char *b)
{
	unsigned char x[sizeof(struct in6_addr)], y[sizeof(struct in6_addr)];
	if (inet_pton(AF_INET, a, x) == 1)
		return inet_pton(AF_INET, b, y) == 1 && memcmp(x, y, 4) == 0;
	if (inet_pton(AF_INET6, a, x) == 1)
		return inet_pton(AF_INET6, b, y) == 1 && memcmp(x, y, sizeof x) == 0;
	return false;
}

void netaddr_host(char *buf, size_t size, const char *host, int port)
{
	/* RFC 3261 25.1: an IPv6reference is bracketed in a hostport. */
	const char *fmt = strchr(host, ':') && host[0] != '[' ? "[%s]" : "%s";
	int n = snprintf(buf, size, fmt, host);
	if (port && n >= 0 && (size_t)n < size)
		snprintf(buf + n, size - (size_t)n, ":%d", port);
}

void netaddr_format(char *buf, size_t size, const struct netaddr *a)
{
	netaddr_host(buf, size, a->ip, a->port);
}

int netaddr_split(const char *s, char *host, size_t size, int *port)
{
	const char *end, *colon;
	*port = 0;
	if (!s || !*s)
		return -1;
	if (s[0] == '[') {
		end = strchr(s, ']');
		if (!end || end == s + 1 || (size_t)(end - s - 1) >= size)
			return -1;
		memcpy(host, s + 1, (size_t)(end - s - 1));
		host[end - s - 1] = '\0';
		colon = end[1] == ':' ? end + 1 : NULL;
		if (!colon && end[1])
			return -1;
	} else {
		colon = strchr(s, ':');
		size_t n = colon ? (size_t)(colon - s) : strlen(s);
		if (n == 0 || n >= size)
			return -1;
		memcpy(host, s, n);
		host[n] = '\0';
	}
	if (colon) {
		char *e;
		long p = strtol(colon + 1, &e, 10);
		if (!colon[1] || *e || p < 1 || p > 65535)
			return -1;
		*port = (int)p;
	}
	return 0;
}
