/* test_pure.c - the small pure leaves: what a SIP answer means (verdict),
 * address text forms (netaddr), the one backoff. */
#include <stdint.h>
#include <string.h>

#include "backoff.h"
#include "netaddr.h"
#include "unit.h"
#include "verdict.h"

TEST(test_verdict_maps_every_failure_kind)
{
	CHECK_INT(verdict_of(200, false), VERDICT_OK);
	CHECK_INT(verdict_of(202, true), VERDICT_OK);
	CHECK_INT(verdict_of(408, true), VERDICT_TIMEOUT);
	CHECK_INT(verdict_of(503, true), VERDICT_UNREACHABLE);
	CHECK_INT(verdict_of(408, false), VERDICT_4XX);   /* a server's 408 is the server's */
	CHECK_INT(verdict_of(503, false), VERDICT_5XX);
	CHECK_INT(verdict_of(500, false), VERDICT_5XX);
	CHECK_INT(verdict_of(600, false), VERDICT_6XX);
	CHECK_INT(verdict_of(603, false), VERDICT_6XX);
	CHECK_INT(verdict_of(401, false), VERDICT_AUTH);
	CHECK_INT(verdict_of(407, false), VERDICT_AUTH);
	CHECK_INT(verdict_of(403, false), VERDICT_4XX);
	CHECK_INT(verdict_of(404, false), VERDICT_4XX);
	CHECK_INT(verdict_of(904, false), VERDICT_INTERNAL);
	CHECK_INT(verdict_of(500, true), VERDICT_INTERNAL);
	CHECK_INT(verdict_of(0, true), VERDICT_INTERNAL); /* could not be sent */
	return 0;
}

TEST(test_verdict_B6_a_proxy_speaks_for_the_server)
{
	/* directly: the server's own 408 is a 4xx (A.4) */
	CHECK_INT(verdict_register(408, false, false), VERDICT_4XX);
	CHECK_INT(verdict_register(408, false, true), VERDICT_TIMEOUT);
	CHECK_INT(verdict_register(504, false, true), VERDICT_TIMEOUT);
	CHECK_INT(verdict_register(477, false, true), VERDICT_UNREACHABLE);
	CHECK_INT(verdict_register(478, false, true), VERDICT_UNREACHABLE);
	CHECK_INT(verdict_register(503, false, true), VERDICT_5XX);
	CHECK_INT(verdict_register(408, true, true), VERDICT_TIMEOUT); /* our own timeout */
	return 0;
}

TEST(test_verdict_A7_any_final_options_answer_proves_alive)
{
	CHECK_INT(verdict_options(200, false, false), VERDICT_OK);
	CHECK_INT(verdict_options(404, false, false), VERDICT_OK);
	CHECK_INT(verdict_options(405, false, false), VERDICT_OK);
	CHECK_INT(verdict_options(501, false, false), VERDICT_OK);
	CHECK_INT(verdict_options(503, false, false), VERDICT_OK);
	CHECK_INT(verdict_options(603, false, false), VERDICT_OK);
	CHECK_INT(verdict_options(408, true, false), VERDICT_TIMEOUT);
	CHECK_INT(verdict_options(503, true, false), VERDICT_UNREACHABLE);
	/* through a proxy: its "could not reach it" is a miss */
	CHECK_INT(verdict_options(404, false, true), VERDICT_OK);
	CHECK_INT(verdict_options(500, false, true), VERDICT_5XX);
	CHECK_INT(verdict_options(408, false, true), VERDICT_TIMEOUT);
	CHECK_INT(verdict_options(477, false, true), VERDICT_UNREACHABLE);
	return 0;
}

TEST(test_netaddr_forms)
{
	char buf[NETADDR_STR_MAX + 8], host[64];
	int port;
	struct netaddr a = { .ip = "127.0.0.2", .port = 5060 };
	netaddr_format(buf, sizeof buf, &a);
	CHECK_STR(buf, "127.0.0.2:5060");
	struct netaddr b = { .ip = "::1", .port = 5070 };
	netaddr_format(buf, sizeof buf, &b);
	CHECK_STR(buf, "[::1]:5070");
	netaddr_host(buf, sizeof buf, "2001:db8::1", 0);
	CHECK_STR(buf, "[2001:db8::1]");
	netaddr_host(buf, sizeof buf, "sip.example", 5062);
	CHECK_STR(buf, "sip.example:5062");
	CHECK(netaddr_is_literal("192.0.2.1"));
	CHECK(netaddr_is_literal("2001:db8::1"));
	CHECK(!netaddr_is_literal("sip.example"));
	CHECK(!netaddr_is_literal("[::1]"));
	CHECK(netaddr_split("proxy.example", host, sizeof host, &port) == 0);
	CHECK_STR(host, "proxy.example");
	CHECK_INT(port, 0);
	CHECK(netaddr_split("[2001:db8::1]:5062", host, sizeof host, &port) == 0);
	CHECK_STR(host, "2001:db8::1");
	CHECK_INT(port, 5062);
	CHECK(netaddr_split("192.0.2.10:5070", host, sizeof host, &port) == 0);
	CHECK_STR(host, "192.0.2.10");
	CHECK_INT(port, 5070);
	CHECK(netaddr_split("[2001:db8::1]", host, sizeof host, &port) == 0);
	CHECK_INT(port, 0);
	static const char *const bad[] = { "", "p:", "p:0", "p:99999", "[]", "[2001:db8::1", "[::1]x" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK(netaddr_split(bad[i], host, sizeof host, &port) != 0);
	CHECK(netaddr_split("averyveryverylongname", host, 8, &port) != 0);
	return 0;
}

TEST(test_backoff_doubles_caps_and_jitters_in_the_upper_half)
{
	CHECK_INT(backoff_ms(1000, 0, 60000, UINT32_MAX), 1000);
	CHECK_INT(backoff_ms(1000, 0, 60000, 0), 500);
	CHECK_INT(backoff_ms(1000, 3, 60000, UINT32_MAX), 8000);
	CHECK_INT(backoff_ms(1000, 20, 60000, UINT32_MAX), 60000);
	CHECK_INT(backoff_ms(1000, 20, 60000, 0), 30000);
	/* a base above the cap is the cap */
	CHECK_INT(backoff_ms(90000, 5, 60000, UINT32_MAX), 90000);
	int64_t mid = backoff_ms(1000, 1, 60000, UINT32_MAX / 2);
	CHECK(mid > 1400 && mid < 1600);
	return 0;
}
