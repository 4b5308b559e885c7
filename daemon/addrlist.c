/* addrlist.c - a line's next hop and the walk over its addresses (RULES B.2-B.5); pure. */
#include <stdio.h>
#include <string.h>

#include "addrlist.h"

void addrlist_init(struct addrlist *al, char *const *proxies, int n_proxies)
{
	memset(al, 0, sizeof *al);
	al->proxies = proxies;
	al->n_proxies = n_proxies > 0 ? n_proxies : 0;
	al->proxy = al->n_proxies ? 0 : -1;
	al->idx = -1;
}

static void forget(struct addrlist *al)
{
	al->have = false;
	al->exhausted = false;
	al->idx = -1;
	memset(&al->ans, 0, sizeof al->ans);
}

/* Point the list at NAME:PORT/TP; a different name loses the old addresses. */
static void set_name(struct addrlist *al, const char *name, int port, enum conf_transport tp)
{
	if (strcmp(al->name, name) == 0 && al->port == port && al->tp == tp)
		return;
	snprintf(al->name, sizeof al->name, "%s", name);
	al->port = port;
	al->tp = tp;
	forget(al);
}

/* The current proxy's name; a malformed entry (config refuses those) is
 * looked up as written and fails like a name that does not resolve. */
static void use_proxy(struct addrlist *al, enum conf_transport tp)
{
	char host[ADDRLIST_NAME_MAX];
	int port;
	if (netaddr_split(al->proxies[al->proxy], host, sizeof host, &port) != 0) {
		snprintf(host, sizeof host, "%s", al->proxies[al->proxy]);
		port = 0;
	}
	set_name(al, host, port, tp);
}

enum al_verdict addrlist_begin(struct addrlist *al, const struct conf_server *sv, int64_t now)
{
	if (al->n_proxies) {
		netaddr_host(al->route, sizeof al->route, sv->host, sv->port);
		use_proxy(al, sv->transport);
	} else {
		al->route[0] = '\0';
		set_name(al, sv->host, sv->port, sv->transport);
	}
	if (!al->have || al->ans.n == 0 || al->exhausted || (al->ans.expires && al->ans.expires <= now &&
							   !addrlist_is_literal(al)))
		return AL_LOOKUP;
	al->idx = 0;
	al->tried = 1;
	return AL_USE;
}

struct dns_key addrlist_key(const struct addrlist *al)
{
	struct dns_key k = { .name = al->name, .port = al->port, .tp = al->tp };
	return k;
}

static int find(const struct dns_answer *ans, const char *addr)
{
	char buf[NETADDR_STR_MAX];
	for (int i = 0; i < ans->n; i++) {
		netaddr_format(buf, sizeof buf, &ans->v[i]);
		if (strcmp(buf, addr) == 0)
			return i;
	}
	return -1;
}

enum al_verdict addrlist_resolved(struct addrlist *al, const struct dns_answer *ans)
{
	/* A last good answer carries a DNS outage (RULES D.5), but not a name
	 * the nameserver says is gone (NXDOMAIN), nor a list whose every
	 * address just failed (B.4 asked for a new one): then B.5 (or A.2)
	 * goes on. The next attempt may take it again. */
	bool usable = ans->n > 0 &&
		      (ans->status == 0 || (ans->status != DNS_ENXDOMAIN && !al->exhausted));
	al->exhausted = false;
	if (usable) {
		al->ans = *ans;
		al->have = true;
		al->exhausted = false;
		al->proxies_failed = 0;
		al->idx = 0;
		al->tried = 1;
		if (al->prefer[0]) {
			/* Restart: begin where the binding was, if that address is
			 * still one of the name's. */
			int i = find(&al->ans, al->prefer);
			if (i > 0)
				al->idx = i;
			al->prefer[0] = '\0';
		}
		return AL_USE;
	}
	/* Keep the error for status. */
	al->ans.status = ans->status;
	snprintf(al->ans.error, sizeof al->ans.error, "%s", ans->error);
	if (al->n_proxies && ++al->proxies_failed < al->n_proxies) {
		/* RULES B.5: the next proxy, wrapping after the last. */
		al->proxy = (al->proxy + 1) % al->n_proxies;
		use_proxy(al, al->tp);
		return AL_LOOKUP;
	}
	if (al->n_proxies) {
		/* Every proxy failed once: this attempt fails; the next one
		 * starts with the proxy after this one. */
		al->proxies_failed = 0;
		al->proxy = (al->proxy + 1) % al->n_proxies;
		use_proxy(al, al->tp);
		/* ... keeping the last error: it says why the attempt failed */
		al->ans.status = ans->status;
		snprintf(al->ans.error, sizeof al->ans.error, "%s", ans->error);
	}
	return AL_FAILED;
}

enum al_verdict addrlist_failed(struct addrlist *al)
{
	if (al->have && al->tried < al->ans.n) {
		al->idx = (al->idx + 1) % al->ans.n;
		al->tried++;
		return AL_USE;
	}
	al->exhausted = true;
	return AL_FAILED;
}

void addrlist_succeeded(struct addrlist *al)
{
	if (al->idx >= 0)
		al->tried = 1;
}

void addrlist_refreshed(struct addrlist *al, const struct dns_answer *ans)
{
	if (ans->n == 0) {
		al->ans.status = ans->status;
		al->ans.expires = ans->expires;
		snprintf(al->ans.error, sizeof al->ans.error, "%s", ans->error);
		return;
	}
	char cur[NETADDR_STR_MAX] = "";
	if (addrlist_current(al))
		netaddr_format(cur, sizeof cur, addrlist_current(al));
	al->ans = *ans;
	al->have = true;
	/* An address in use that is gone from the name stays in use (a
	 * working registration is not disturbed): idx -1, and a failure
	 * there walks on from the new list's first address. */
	/* The walk under way goes on: a refresh does not start it afresh. */
	al->idx = cur[0] ? find(&al->ans, cur) : -1;
	if (al->idx < 0)
		al->tried = 0;
	else if (al->tried < 1 || al->tried > al->ans.n)
		al->tried = al->tried < 1 ? 1 : al->ans.n;
}

void addrlist_adopt(struct addrlist *al, const char *addr)
{
	if (al->have) {
		al->idx = find(&al->ans, addr);
		al->tried = al->idx >= 0 ? 1 : 0;
	}
}

static int best_prio(const struct dns_answer *ans)
{
	int best = -1;
	for (int i = 0; i < ans->n; i++)
		if (best < 0 || ans->prio[i] < best)
			best = ans->prio[i];
	return best;
}

int addrlist_prio(const struct addrlist *al, const struct netaddr *x)
{
	if (!al->have)
		return -1;
	for (int i = 0; i < al->ans.n; i++)
		if (al->ans.v[i].port == x->port && strcmp(al->ans.v[i].ip, x->ip) == 0)
			return al->ans.prio[i];
	return -1;
}

bool addrlist_off_best(const struct addrlist *al)
{
	const struct netaddr *x = addrlist_current(al);
	return x && al->ans.prio[al->idx] > best_prio(&al->ans);
}

bool addrlist_best(const struct addrlist *al, int k, struct netaddr *out)
{
	int best = al->have ? best_prio(&al->ans) : -1, n = 0;
	if (best < 0)
		return false;
	for (int i = 0; i < al->ans.n; i++)
		n += al->ans.prio[i] == best;
	k = (k % n + n) % n;
	for (int i = 0; i < al->ans.n; i++)
		if (al->ans.prio[i] == best && k-- == 0) {
			*out = al->ans.v[i];
			return true;
		}
	return false;
}

const struct netaddr *addrlist_current(const struct addrlist *al)
{
	if (!al->have || al->idx < 0 || al->idx >= al->ans.n)
		return NULL;
	return &al->ans.v[al->idx];
}

int addrlist_left(const struct addrlist *al)
{
	if (!al->have)
		return 0;
	int left = al->ans.n - al->tried;
	return left > 0 ? left : 0;
}

bool addrlist_is_literal(const struct addrlist *al)
{
	return netaddr_is_literal(al->name);
}
