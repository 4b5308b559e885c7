/* test_addrlist.c - the next hop's walk (RULES B.2-B.5) on the pure address list. */
#include <stdint.h>
#include <string.h>

#include "addrlist.h"
#include "srv.h"
#include "unit.h"

static struct dns_answer answer(int n, const char *const *ips, int port, int64_t expires)
{
	struct dns_answer a;
	memset(&a, 0, sizeof a);
	for (int i = 0; i < n; i++) {
		snprintf(a.v[i].ip, sizeof a.v[i].ip, "%s", ips[i]);
		a.v[i].port = port;
	}
	a.n = n;
	a.expires = expires;
	return a;
}

static struct dns_answer failure(int status, const char *why)
{
	struct dns_answer a;
	memset(&a, 0, sizeof a);
	a.status = status;
	snprintf(a.error, sizeof a.error, "%s", why);
	return a;
}

static const char *cur(const struct addrlist *al)
{
	static char buf[NETADDR_STR_MAX];
	const struct netaddr *a = addrlist_current(al);
	if (!a)
		return "(none)";
	netaddr_format(buf, sizeof buf, a);
	return buf;
}

static struct conf_server server(const char *host, int port)
{
	struct conf_server sv = { .host = (char *)host, .port = port, .transport = CONF_TP_UDP, .expires = 60 };
	return sv;
}

TEST(test_addrlist_literal_server_without_proxies)
{
	struct addrlist al;
	addrlist_init(&al, NULL, 0);
	struct conf_server sv = server("192.0.2.1", 5060);
	CHECK_INT(addrlist_begin(&al, &sv, 1000), AL_LOOKUP);
	struct dns_key k = addrlist_key(&al);
	CHECK_STR(k.name, "192.0.2.1");
	CHECK_INT(k.port, 5060);
	CHECK(addrlist_is_literal(&al));
	const char *ip[] = { "192.0.2.1" };
	struct dns_answer a = answer(1, ip, 5060, 0);
	CHECK_INT(addrlist_resolved(&al, &a), AL_USE);
	CHECK_STR(cur(&al), "192.0.2.1:5060");
	CHECK_INT(addrlist_left(&al), 0);
	CHECK_STR(al.route, "");
	/* the next attempt needs no lookup */
	CHECK_INT(addrlist_begin(&al, &sv, 999999999), AL_USE);
	return 0;
}

/* B.2/B.4: addresses in order; a failure takes the next; after the last
 * the list is used up and the next attempt resolves again, from the new
 * list's first address. */
TEST(test_addrlist_B4_walk_then_resolve_again)
{
	struct addrlist al;
	addrlist_init(&al, NULL, 0);
	struct conf_server sv = server("sip.example", 5060);
	CHECK_INT(addrlist_begin(&al, &sv, 1000), AL_LOOKUP);
	const char *ip[] = { "192.0.2.1", "192.0.2.2", "192.0.2.3" };
	struct dns_answer a = answer(3, ip, 5060, 60000);
	CHECK_INT(addrlist_resolved(&al, &a), AL_USE);
	CHECK_STR(cur(&al), "192.0.2.1:5060");
	CHECK_INT(addrlist_left(&al), 2);
	CHECK_INT(addrlist_failed(&al), AL_USE);
	CHECK_STR(cur(&al), "192.0.2.2:5060");
	CHECK_INT(addrlist_left(&al), 1);
	CHECK_INT(addrlist_failed(&al), AL_USE);
	CHECK_STR(cur(&al), "192.0.2.3:5060");
	CHECK_INT(addrlist_left(&al), 0);
	CHECK_INT(addrlist_failed(&al), AL_FAILED);
	CHECK(al.exhausted);
	/* still fresh by its TTL, but used up: resolve again */
	CHECK_INT(addrlist_begin(&al, &sv, 2000), AL_LOOKUP);
	const char *ip2[] = { "192.0.2.9", "192.0.2.1" };
	struct dns_answer b = answer(2, ip2, 5060, 62000);
	CHECK_INT(addrlist_resolved(&al, &b), AL_USE);
	CHECK(!al.exhausted);
	CHECK_STR(cur(&al), "192.0.2.9:5060");
	return 0;
}

/* The walk is circular from where it began: a line that moved to the
 * second address (a 200 there) tries the first again when the second
 * fails, before the server counts as failed. */
TEST(test_addrlist_B4_walk_wraps_after_a_success_further_down)
{
	struct addrlist al;
	addrlist_init(&al, NULL, 0);
	struct conf_server sv = server("sip.example", 5060);
	addrlist_begin(&al, &sv, 0);
	const char *ip[] = { "192.0.2.1", "192.0.2.2", "192.0.2.3" };
	struct dns_answer a = answer(3, ip, 5060, 60000);
	addrlist_resolved(&al, &a);
	CHECK_INT(addrlist_failed(&al), AL_USE);     /* .1 dead -> .2 */
	addrlist_succeeded(&al);                     /* registered through .2 */
	CHECK_INT(addrlist_left(&al), 2);
	CHECK_INT(addrlist_failed(&al), AL_USE);     /* .2 dies -> .3 */
	CHECK_STR(cur(&al), "192.0.2.3:5060");
	CHECK_INT(addrlist_failed(&al), AL_USE);     /* .3 too -> .1 again */
	CHECK_STR(cur(&al), "192.0.2.1:5060");
	CHECK_INT(addrlist_left(&al), 0);
	CHECK_INT(addrlist_failed(&al), AL_FAILED);  /* every one tried */
	CHECK(al.exhausted);
	return 0;
}

TEST(test_addrlist_expired_answer_is_looked_up_again)
{
	struct addrlist al;
	addrlist_init(&al, NULL, 0);
	struct conf_server sv = server("sip.example", 0);
	CHECK_INT(addrlist_begin(&al, &sv, 1000), AL_LOOKUP);
	CHECK_INT(addrlist_key(&al).port, 0); /* SRV first (RFC 3263 4.1) */
	const char *ip[] = { "192.0.2.1" };
	struct dns_answer a = answer(1, ip, 5080, 5000);
	addrlist_resolved(&al, &a);
	CHECK_INT(addrlist_begin(&al, &sv, 4999), AL_USE);
	CHECK_INT(addrlist_begin(&al, &sv, 5000), AL_LOOKUP);
	return 0;
}

/* Without proxies the next hop is the server itself: another server has
 * another list. */
TEST(test_addrlist_other_server_other_list)
{
	struct addrlist al;
	addrlist_init(&al, NULL, 0);
	struct conf_server s0 = server("sip1.example", 5060), s1 = server("sip2.example", 5060);
	addrlist_begin(&al, &s0, 0);
	const char *ip[] = { "192.0.2.1" };
	struct dns_answer a = answer(1, ip, 5060, 60000);
	addrlist_resolved(&al, &a);
	CHECK_INT(addrlist_begin(&al, &s1, 0), AL_LOOKUP);
	CHECK_STR(addrlist_key(&al).name, "sip2.example");
	CHECK(addrlist_current(&al) == NULL);
	return 0;
}

/* Through proxies the next hop is the proxy (with the server's transport),
 * the server becomes the preloaded Route. */
TEST(test_addrlist_proxy_is_the_next_hop_and_routes_to_the_server)
{
	char *proxies[] = { "proxy.example:5070" };
	struct addrlist al;
	addrlist_init(&al, proxies, 1);
	struct conf_server sv = server("sip1.example", 5062);
	sv.transport = CONF_TP_TCP;
	CHECK_INT(addrlist_begin(&al, &sv, 0), AL_LOOKUP);
	struct dns_key k = addrlist_key(&al);
	CHECK_STR(k.name, "proxy.example");
	CHECK_INT(k.port, 5070);
	CHECK_INT(k.tp, CONF_TP_TCP);
	CHECK_STR(al.route, "sip1.example:5062");
	struct conf_server v6 = server("2001:db8::5", 0);
	addrlist_begin(&al, &v6, 0);
	CHECK_STR(al.route, "[2001:db8::5]");
	return 0;
}

/* B.5: a proxy that does not resolve -> the next one; after every proxy
 * failed once, the attempt fails, and the next starts after the last
 * tried one (wrapping). */
TEST(test_addrlist_B5_unresolvable_proxy_moves_to_the_next_and_wraps)
{
	char *proxies[] = { "p0.example", "p1.example", "p2.example" };
	struct addrlist al;
	addrlist_init(&al, proxies, 3);
	struct conf_server sv = server("sip.example", 5060);
	CHECK_INT(addrlist_begin(&al, &sv, 0), AL_LOOKUP);
	CHECK_STR(addrlist_key(&al).name, "p0.example");
	struct dns_answer nx = failure(DNS_ENXDOMAIN, "p0.example: NXDOMAIN");
	CHECK_INT(addrlist_resolved(&al, &nx), AL_LOOKUP);
	CHECK_INT(al.proxy, 1);
	CHECK_STR(addrlist_key(&al).name, "p1.example");
	CHECK_INT(addrlist_resolved(&al, &nx), AL_LOOKUP);
	CHECK_INT(al.proxy, 2);
	CHECK_INT(addrlist_resolved(&al, &nx), AL_FAILED); /* all three failed */
	CHECK_INT(al.proxy, 0);                            /* wrapped */
	CHECK_STR(al.ans.error, "p0.example: NXDOMAIN");
	/* the next attempt: p0 again fails, p1 resolves and stays */
	CHECK_INT(addrlist_begin(&al, &sv, 0), AL_LOOKUP);
	CHECK_INT(addrlist_resolved(&al, &nx), AL_LOOKUP);
	const char *ip[] = { "192.0.2.7", "192.0.2.8" };
	struct dns_answer ok = answer(2, ip, 5060, 60000);
	CHECK_INT(addrlist_resolved(&al, &ok), AL_USE);
	CHECK_INT(al.proxy, 1);
	CHECK_STR(cur(&al), "192.0.2.7:5060");
	/* a failure through a proxy address walks that proxy's list (B.4) ... */
	CHECK_INT(addrlist_failed(&al), AL_USE);
	CHECK_STR(cur(&al), "192.0.2.8:5060");
	/* ... and after its last one the same proxy is resolved again */
	CHECK_INT(addrlist_failed(&al), AL_FAILED);
	CHECK_INT(addrlist_begin(&al, &sv, 0), AL_LOOKUP);
	CHECK_STR(addrlist_key(&al).name, "p1.example");
	return 0;
}

TEST(test_addrlist_B5_last_proxy_wraps_to_the_first)
{
	char *proxies[] = { "p0.example", "p1.example" };
	struct addrlist al;
	addrlist_init(&al, proxies, 2);
	struct conf_server sv = server("sip.example", 5060);
	addrlist_begin(&al, &sv, 0);
	struct dns_answer nx = failure(DNS_ETIMEOUT, "p0.example: no answer within 5 s");
	CHECK_INT(addrlist_resolved(&al, &nx), AL_LOOKUP); /* p0 -> p1 */
	const char *ip[] = { "192.0.2.7" };
	struct dns_answer ok = answer(1, ip, 5060, 1000);
	CHECK_INT(addrlist_resolved(&al, &ok), AL_USE);
	CHECK_INT(addrlist_begin(&al, &sv, 5000), AL_LOOKUP); /* expired: ask p1 again */
	CHECK_INT(addrlist_resolved(&al, &nx), AL_LOOKUP);    /* p1 -> p0 */
	CHECK_INT(al.proxy, 0);
	CHECK_STR(addrlist_key(&al).name, "p0.example");
	return 0;
}

/* A stale last good answer is an answer: it is used (DNS outage). */
TEST(test_addrlist_stale_answer_is_used)
{
	struct addrlist al;
	addrlist_init(&al, NULL, 0);
	struct conf_server sv = server("sip.example", 5060);
	addrlist_begin(&al, &sv, 0);
	const char *ip[] = { "192.0.2.1" };
	struct dns_answer a = answer(1, ip, 5060, 5000);
	a.stale = true;
	a.status = DNS_ETIMEOUT;
	CHECK_INT(addrlist_resolved(&al, &a), AL_USE);
	CHECK_STR(cur(&al), "192.0.2.1:5060");
	return 0;
}

/* A restart resumes through the address the binding had, if the name
 * still has it. */
TEST(test_addrlist_prefer_the_restored_address)
{
	struct addrlist al;
	addrlist_init(&al, NULL, 0);
	snprintf(al.prefer, sizeof al.prefer, "192.0.2.2:5060");
	struct conf_server sv = server("sip.example", 5060);
	addrlist_begin(&al, &sv, 0);
	const char *ip[] = { "192.0.2.1", "192.0.2.2" };
	struct dns_answer a = answer(2, ip, 5060, 5000);
	CHECK_INT(addrlist_resolved(&al, &a), AL_USE);
	CHECK_STR(cur(&al), "192.0.2.2:5060");
	CHECK_STR(al.prefer, "");
	return 0;
}

/* Re-resolution after the TTL: the address in use stays in use. */
TEST(test_addrlist_refresh_keeps_the_address_in_use)
{
	struct addrlist al;
	addrlist_init(&al, NULL, 0);
	struct conf_server sv = server("sip.example", 5060);
	addrlist_begin(&al, &sv, 0);
	const char *ip[] = { "192.0.2.1", "192.0.2.2" };
	struct dns_answer a = answer(2, ip, 5060, 5000);
	addrlist_resolved(&al, &a);
	addrlist_failed(&al); /* on .2 now */
	const char *ip2[] = { "192.0.2.3", "192.0.2.2" };
	struct dns_answer b = answer(2, ip2, 5060, 10000);
	addrlist_refreshed(&al, &b);
	CHECK_STR(cur(&al), "192.0.2.2:5060");
	CHECK_INT(al.idx, 1);
	/* gone from the name: nothing in use in the list; a failure walks
	 * on from the new list's first address */
	const char *ip3[] = { "192.0.2.4", "192.0.2.5" };
	struct dns_answer c = answer(2, ip3, 5060, 15000);
	addrlist_refreshed(&al, &c);
	CHECK(addrlist_current(&al) == NULL);
	CHECK_INT(addrlist_left(&al), 2);
	CHECK_INT(addrlist_failed(&al), AL_USE);
	CHECK_STR(cur(&al), "192.0.2.4:5060");
	/* a failed refresh keeps the list, notes the error and the retry time */
	struct dns_answer f = failure(DNS_ETIMEOUT, "sip.example: no answer within 5 s");
	f.expires = 20000;
	addrlist_refreshed(&al, &f);
	CHECK_STR(cur(&al), "192.0.2.4:5060");
	CHECK_INT(al.ans.n, 2);
	CHECK_INT(al.ans.status, DNS_ETIMEOUT);
	CHECK_INT(al.ans.expires, 20000);
	return 0;
}

TEST(test_addrlist_adopt_points_at_the_address)
{
	struct addrlist al;
	addrlist_init(&al, NULL, 0);
	struct conf_server sv = server("sip.example", 5060);
	addrlist_begin(&al, &sv, 0);
	const char *ip[] = { "192.0.2.1", "192.0.2.2" };
	struct dns_answer a = answer(2, ip, 5060, 5000);
	addrlist_resolved(&al, &a);
	addrlist_adopt(&al, "192.0.2.2:5060");
	CHECK_INT(al.idx, 1);
	addrlist_adopt(&al, "198.51.100.1:5060");
	CHECK_INT(al.idx, -1);
	return 0;
}

static uint32_t seq_rand(void *arg)
{
	return *(uint32_t *)arg;
}

/* RFC 2782: priority first; within one, weighted random. */
TEST(test_addrlist_srv_order_priority_then_weight)
{
	unsigned prio[] = { 20, 10, 10, 30 };
	unsigned weight[] = { 5, 0, 100, 1 };
	int order[4];
	uint32_t r = UINT32_MAX; /* the draw at the top: the weight-100 record */
	srv_order(prio, weight, 4, order, seq_rand, &r);
	CHECK_INT(order[0], 2);
	CHECK_INT(order[1], 1);
	CHECK_INT(order[2], 0);
	CHECK_INT(order[3], 3);
	r = 0; /* the draw at 0: the weight-0 record (put first) */
	srv_order(prio, weight, 4, order, seq_rand, &r);
	CHECK_INT(order[0], 1);
	CHECK_INT(order[1], 2);
	CHECK_INT(order[2], 0);
	/* weights spread the first pick: 1:3 over many draws */
	unsigned p2[] = { 10, 10 }, w2[] = { 10, 30 };
	int first1 = 0;
	for (uint32_t i = 0; i < 1000; i++) {
		r = (uint32_t)((uint64_t)i * UINT32_MAX / 999);
		srv_order(p2, w2, 2, order, seq_rand, &r);
		first1 += order[0] == 1;
	}
	CHECK(first1 > 700 && first1 < 800);
	return 0;
}

/* A last good answer carries an outage, not a name that is gone. */
TEST(test_addrlist_stale_answer_is_not_used_after_nxdomain)
{
	char *proxies[] = { "p0.example", "p1.example" };
	struct addrlist al;
	addrlist_init(&al, proxies, 2);
	struct conf_server sv = server("192.0.2.100", 5060);
	addrlist_begin(&al, &sv, 0);
	const char *ip[] = { "192.0.2.1" };
	struct dns_answer gone = answer(1, ip, 5060, 5000);
	gone.stale = true;
	gone.status = DNS_ENXDOMAIN;
	snprintf(gone.error, sizeof gone.error, "p0.example: NXDOMAIN");
	CHECK_INT(addrlist_resolved(&al, &gone), AL_LOOKUP); /* B.5: p1 */
	CHECK_INT(al.proxy, 1);
	return 0;
}

/* B.4's re-resolution after every address failed does not settle for the
 * same stale list; the attempt after that may (the outage goes on). */
TEST(test_addrlist_stale_answer_is_not_used_for_the_b4_reresolution)
{
	struct addrlist al;
	addrlist_init(&al, NULL, 0);
	struct conf_server sv = server("sip.example", 5060);
	addrlist_begin(&al, &sv, 0);
	const char *ip[] = { "192.0.2.1" };
	struct dns_answer a = answer(1, ip, 5060, 5000);
	addrlist_resolved(&al, &a);
	CHECK_INT(addrlist_failed(&al), AL_FAILED);
	CHECK_INT(addrlist_begin(&al, &sv, 0), AL_LOOKUP);
	struct dns_answer old = a;
	old.stale = true;
	old.status = DNS_ETIMEOUT;
	CHECK_INT(addrlist_resolved(&al, &old), AL_FAILED);
	CHECK_INT(addrlist_begin(&al, &sv, 0), AL_USE);       /* next attempt: the old list */
	CHECK_INT(addrlist_begin(&al, &sv, 6000), AL_LOOKUP);  /* ... until it expires */
	CHECK_INT(addrlist_resolved(&al, &old), AL_USE);      /* then the stale answer serves */
	return 0;
}

/* A refresh in the middle of a walk does not restart it. */
TEST(test_addrlist_refresh_does_not_restart_the_walk)
{
	struct addrlist al;
	addrlist_init(&al, NULL, 0);
	struct conf_server sv = server("sip.example", 5060);
	addrlist_begin(&al, &sv, 0);
	const char *ip[] = { "192.0.2.1", "192.0.2.2", "192.0.2.3" };
	struct dns_answer a = answer(3, ip, 5060, 5000);
	addrlist_resolved(&al, &a);
	addrlist_failed(&al);                    /* .1 failed, on .2 */
	CHECK_INT(addrlist_left(&al), 1);
	addrlist_refreshed(&al, &a);             /* same list again */
	CHECK_INT(addrlist_left(&al), 1);
	CHECK_INT(addrlist_failed(&al), AL_USE); /* .3 */
	CHECK_INT(addrlist_failed(&al), AL_FAILED);
	return 0;
}

/* RULES I.3: the ranking the SRV failback reads from an answer. */
TEST(test_addrlist_I3_srv_priority_ranking)
{
	struct addrlist al;
	addrlist_init(&al, NULL, 0);
	struct conf_server sv = server("sip.example", 0);
	addrlist_begin(&al, &sv, 0);
	const char *ip[] = { "192.0.2.1", "192.0.2.2", "192.0.2.3" };
	struct dns_answer a = answer(3, ip, 5060, 5000);
	a.prio[0] = 10;
	a.prio[1] = 20;
	a.prio[2] = 10; /* a weighted order may put a best one after a worse */
	addrlist_resolved(&al, &a);
	struct netaddr x;
	CHECK(!addrlist_off_best(&al));
	CHECK(addrlist_best(&al, 0, &x) && !strcmp(x.ip, "192.0.2.1"));
	CHECK(addrlist_best(&al, 1, &x) && !strcmp(x.ip, "192.0.2.3"));
	CHECK(addrlist_best(&al, 2, &x) && !strcmp(x.ip, "192.0.2.1")); /* in rotation */
	CHECK_INT(addrlist_prio(&al, &a.v[1]), 20);
	struct netaddr other = { .ip = "198.51.100.1", .port = 5060 };
	CHECK_INT(addrlist_prio(&al, &other), -1);
	addrlist_failed(&al);
	CHECK_STR(cur(&al), "192.0.2.2:5060");
	CHECK(addrlist_off_best(&al));
	addrlist_failed(&al);
	CHECK(!addrlist_off_best(&al));
	/* no priorities (A records): nothing ranks below anything */
	const char *ip2[] = { "192.0.2.4", "192.0.2.5" };
	struct dns_answer b = answer(2, ip2, 5060, 10000);
	addrlist_resolved(&al, &b);
	addrlist_failed(&al);
	CHECK(!addrlist_off_best(&al));
	/* nothing known */
	addrlist_init(&al, NULL, 0);
	CHECK(!addrlist_best(&al, 0, &x));
	CHECK(!addrlist_off_best(&al));
	return 0;
}
