/* test_agent.c - every rule of SPEC A and C on the pure agent, on a fake clock. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "agent.h"
#include "unit.h"

struct h {
	struct agent a;
	struct agent_actions out;
	int64_t now;
	uint32_t r; /* what the jitter source returns */
	int n_addrs;     /* addresses of the next hop (0 = 1) */
	int idx;         /* the one in use */
	bool manual_dns; /* the test answers AA_RESOLVE itself */
};

static uint32_t fixed_rand(void *arg)
{
	return ((struct h *)arg)->r;
}

/* T1 500, T2 4000, retry_count 3, heartbeat 30 s, timer 1 60 s, timer 2 30 s,
 * failback every 1800 s; jitter at its top (100 %) unless a test says. */
static void setup(struct h *h, int n_servers)
{
	memset(h, 0, sizeof *h);
	h->now = 1000000;
	h->r = UINT32_MAX;
	struct agent_config c = {
		.enabled = true, .n_servers = n_servers, .t1_ms = 500, .t2_ms = 4000,
		.retry_count = 3, .heartbeat_ms = 30000, .return_delay_ms = 60000,
		.retry_delay_ms = 30000, .failback = true, .failback_ms = 1800000,
		.start_spread_ms = 0, .rand = fixed_rand, .rand_arg = h,
	};
	agent_init(&h->a, &c, NULL);
}

static const struct agent_action *find(const struct h *h, enum agent_act_kind k)
{
	for (int i = 0; i < h->out.n; i++)
		if (h->out.v[i].kind == k)
			return &h->out.v[i];
	return NULL;
}

static const struct agent_action *find_pub(const struct h *h, enum agent_pub p)
{
	for (int i = 0; i < h->out.n; i++)
		if (h->out.v[i].kind == AA_PUBLISH && h->out.v[i].pub == p)
			return &h->out.v[i];
	return NULL;
}

/* Step E the way line.c does: addr_left from the (simulated) address list
 * of h->n_addrs entries; an AA_RESOLVE is answered at once (as for a
 * literal or a cached name) unless h->manual_dns, and its outcome's actions
 * are appended to h->out. */
static void step(struct h *h, struct agent_event *e)
{
	int n = h->n_addrs ? h->n_addrs : 1;
	e->addr_left = n - 1 - h->idx;
	agent_step(&h->a, e, h->now, &h->out);
	bool resolve = false;
	for (int i = 0; i < h->out.n; i++) {
		if (h->out.v[i].kind == AA_NEXT_ADDRESS && h->idx < n - 1)
			h->idx++;
		if (h->out.v[i].kind == AA_RESOLVE) {
			h->idx = 0;
			resolve = true;
		}
	}
	if (!resolve || h->manual_dns)
		return;
	struct agent_actions more;
	struct agent_event r = { .kind = AE_RESOLVED, .result = SIP_RES_OK, .addr_left = n - 1 };
	agent_step(&h->a, &r, h->now, &more);
	for (int i = 0; i < more.n && h->out.n < AGENT_ACTIONS_MAX; i++)
		h->out.v[h->out.n++] = more.v[i];
}

static void ev(struct h *h, enum agent_ev_kind kind, enum sip_result res, int status)
{
	struct agent_event e = { .kind = kind, .result = res, .status = status,
				 .phrase = "x", .expires = 3600, .target = "192.0.2.1:5060" };
	step(h, &e);
}

static void ev_retry_after(struct h *h, int status, int retry_after)
{
	struct agent_event e = { .kind = AE_REG, .result = SIP_RES_5XX, .status = status,
				 .phrase = "x", .retry_after = retry_after, .target = "t" };
	step(h, &e);
}

/* Move the clock to timer T's deadline and fire it. */
static int fire(struct h *h, enum agent_timer t)
{
	if (!h->a.deadline[t])
		return -1;
	h->now = h->a.deadline[t];
	struct agent_event e = { .kind = AE_TIMER, .timer = t };
	step(h, &e);
	return 0;
}

/* REGISTER went to server I in the last step. */
static int registered_to(const struct h *h, int i)
{
	const struct agent_action *x = find(h, AA_REGISTER);
	return x && x->server == i;
}

/* Start and register on the primary. */
static void up_on_primary(struct h *h, int n)
{
	setup(h, n);
	ev(h, AE_START, 0, 0);
	ev(h, AE_REG, SIP_RES_OK, 200);
}

/* Start, lose the primary, register on the backup. */
static void up_on_backup(struct h *h)
{
	up_on_primary(h, 2);
	ev(h, AE_REG, SIP_RES_TIMEOUT, 408);
	ev(h, AE_REG, SIP_RES_OK, 200);
}

TEST(test_A1_first_register_goes_to_primary)
{
	struct h h;
	setup(&h, 2);
	ev(&h, AE_START, 0, 0);
	CHECK(registered_to(&h, 0));
	CHECK_INT(h.a.state, AG_REGISTERING);
	ev(&h, AE_REG, SIP_RES_OK, 200);
	CHECK_INT(h.a.state, AG_REGISTERED);
	CHECK(find_pub(&h, AP_REGISTERED));
	return 0;
}

TEST(test_A2_primary_timeout_switches_to_backup_at_once)
{
	struct h h;
	setup(&h, 2);
	ev(&h, AE_START, 0, 0);
	ev(&h, AE_REG, SIP_RES_TIMEOUT, 408);
	CHECK(registered_to(&h, 1));
	CHECK(find(&h, AA_ABANDON));
	CHECK(find(&h, AA_RESOLVE)); /* a new server: its next hop from the first address */
	const struct agent_action *p = find_pub(&h, AP_FAILOVER);
	CHECK(p && p->server == 0 && p->to == 1);
	CHECK_INT(h.a.failovers, 1);
	return 0;
}

TEST(test_A2_unreachable_and_dns_failure_switch_like_a_timeout)
{
	struct h h;
	setup(&h, 2);
	ev(&h, AE_START, 0, 0);
	ev(&h, AE_REG, SIP_RES_UNREACHABLE, 503);
	CHECK(registered_to(&h, 1));
	setup(&h, 2);
	ev(&h, AE_START, 0, 0);
	ev(&h, AE_REG, SIP_RES_INTERNAL, 0); /* no address: resolution failed */
	CHECK(registered_to(&h, 1));
	return 0;
}

TEST(test_A2_proven_backup_failure_returns_to_primary_at_once)
{
	struct h h;
	up_on_backup(&h);
	CHECK(h.a.sv[1].registered_before);
	ev(&h, AE_REG, SIP_RES_TIMEOUT, 408); /* e.g. a refresh on the backup fails */
	CHECK(registered_to(&h, 0));
	CHECK(find_pub(&h, AP_FAILOVER));
	return 0;
}

TEST(test_A2_unproven_backup_waits_return_delay)
{
	struct h h;
	setup(&h, 2);
	ev(&h, AE_START, 0, 0);
	ev(&h, AE_REG, SIP_RES_TIMEOUT, 408);   /* primary */
	ev(&h, AE_REG, SIP_RES_TIMEOUT, 408);   /* backup, never registered there */
	CHECK(!find(&h, AA_REGISTER));
	CHECK_INT(h.a.state, AG_WAITING);
	CHECK_INT(h.a.deadline[AT_RETRY] - h.now, 60000); /* jitter at 100 % */
	CHECK(find_pub(&h, AP_ERROR));
	CHECK(fire(&h, AT_RETRY) == 0);
	CHECK(registered_to(&h, 0));
	/* with jitter at its bottom the wait is half of timer 1 */
	setup(&h, 2);
	h.r = 0;
	ev(&h, AE_START, 0, 0);
	ev(&h, AE_REG, SIP_RES_TIMEOUT, 408);
	ev(&h, AE_REG, SIP_RES_TIMEOUT, 408);
	CHECK_INT(h.a.deadline[AT_RETRY] - h.now, 30000);
	return 0;
}

TEST(test_A2_single_server_waits_retry_delay)
{
	struct h h;
	setup(&h, 1);
	ev(&h, AE_START, 0, 0);
	CHECK_INT(h.a.deadline[AT_BUDGET], 0); /* the only server is the last: full 64*T1 */
	ev(&h, AE_REG, SIP_RES_TIMEOUT, 408);
	CHECK(!find(&h, AA_REGISTER));
	CHECK_INT(h.a.deadline[AT_RETRY] - h.now, 30000);
	CHECK(fire(&h, AT_RETRY) == 0);
	CHECK(registered_to(&h, 0));
	CHECK(!find_pub(&h, AP_FAILOVER));
	return 0;
}

TEST(test_A3_5xx_and_6xx_switch_server)
{
	struct h h;
	setup(&h, 2);
	ev(&h, AE_START, 0, 0);
	ev(&h, AE_REG, SIP_RES_5XX, 500);
	CHECK(registered_to(&h, 1));
	setup(&h, 2);
	ev(&h, AE_START, 0, 0);
	ev(&h, AE_REG, SIP_RES_6XX, 600);
	CHECK(registered_to(&h, 1));
	return 0;
}

TEST(test_A3_503_retry_after_holds_the_server_down)
{
	struct h h;
	setup(&h, 2);
	ev(&h, AE_START, 0, 0);
	ev_retry_after(&h, 503, 120);
	CHECK(registered_to(&h, 1));
	CHECK_INT(h.a.sv[0].hold_until - h.now, 120000);
	ev(&h, AE_REG, SIP_RES_OK, 200);
	/* no failback probe before Retry-After has passed */
	h.a.cfg.failback_ms = 10000;
	h.a.deadline[AT_FAILBACK] = h.now + 10000;
	CHECK(fire(&h, AT_FAILBACK) == 0);
	CHECK(!find(&h, AA_PROBE));
	CHECK_INT(h.a.deadline[AT_FAILBACK], h.a.sv[0].hold_until);
	CHECK(fire(&h, AT_FAILBACK) == 0);
	CHECK(find(&h, AA_PROBE));
	return 0;
}

TEST(test_A4_4xx_unregisters_then_registers_again)
{
	struct h h;
	setup(&h, 2);
	ev(&h, AE_START, 0, 0);
	ev(&h, AE_REG, SIP_RES_4XX, 403);
	CHECK(find(&h, AA_UNREGISTER));
	CHECK(!find(&h, AA_REGISTER));
	CHECK_INT(h.a.state, AG_UNREGISTERING);
	ev(&h, AE_UNREG, SIP_RES_OK, 200);
	CHECK(registered_to(&h, 0));
	CHECK(!find(&h, AA_ABANDON) && !find(&h, AA_RESOLVE)); /* same binding, same address */
	ev(&h, AE_REG, SIP_RES_OK, 200);
	CHECK_INT(h.a.state, AG_REGISTERED);
	CHECK_INT(h.a.server, 0);
	CHECK_INT(h.a.failovers, 0);
	return 0;
}

TEST(test_A4_unregister_error_switches_server)
{
	struct h h;
	setup(&h, 2);
	ev(&h, AE_START, 0, 0);
	ev(&h, AE_REG, SIP_RES_4XX, 404);
	ev(&h, AE_UNREG, SIP_RES_5XX, 500);
	CHECK(registered_to(&h, 1));
	setup(&h, 2);
	ev(&h, AE_START, 0, 0);
	ev(&h, AE_REG, SIP_RES_4XX, 404);
	CHECK(fire(&h, AT_BUDGET) == 0); /* the un-REGISTER is not answered */
	CHECK(registered_to(&h, 1));
	return 0;
}

TEST(test_A4_second_4xx_after_reregister_switches_not_loops)
{
	struct h h;
	setup(&h, 2);
	ev(&h, AE_START, 0, 0);
	ev(&h, AE_REG, SIP_RES_4XX, 403);
	ev(&h, AE_UNREG, SIP_RES_OK, 200);
	ev(&h, AE_REG, SIP_RES_4XX, 403);
	CHECK(!find(&h, AA_UNREGISTER));
	CHECK(registered_to(&h, 1));
	return 0;
}

TEST(test_A4_auth_failure_waits_on_same_server_without_loop)
{
	struct h h;
	setup(&h, 2);
	ev(&h, AE_START, 0, 0);
	ev(&h, AE_REG, SIP_RES_AUTH, 401);
	CHECK(!find(&h, AA_REGISTER));
	CHECK_INT(h.a.state, AG_WAITING);
	CHECK_INT(h.a.error_code, 401);
	CHECK(strstr(h.a.error_reason, "authentication failed"));
	CHECK_INT(h.a.deadline[AT_RETRY] - h.now, 30000);
	CHECK(fire(&h, AT_RETRY) == 0);
	CHECK(registered_to(&h, 0));
	/* a second failure backs off: twice timer 2 */
	ev(&h, AE_REG, SIP_RES_AUTH, 401);
	CHECK_INT(h.a.deadline[AT_RETRY] - h.now, 60000);
	return 0;
}

TEST(test_A5_200_sets_the_registered_flag_per_server)
{
	struct h h;
	up_on_primary(&h, 2);
	CHECK(h.a.sv[0].registered_before);
	CHECK(!h.a.sv[1].registered_before);
	CHECK_INT(h.a.granted_s, 3600);
	return 0;
}

TEST(test_A5_refresh_failure_is_a_registration_failure)
{
	struct h h;
	up_on_primary(&h, 2);
	ev(&h, AE_REG, SIP_RES_TIMEOUT, 408); /* nua's refresh timed out */
	CHECK(registered_to(&h, 1));
	return 0;
}

TEST(test_A6_A7_options_failure_reregisters_same_server_first)
{
	struct h h;
	up_on_primary(&h, 2);
	CHECK_INT(h.a.deadline[AT_HEARTBEAT] - h.now, 30000);
	CHECK(fire(&h, AT_HEARTBEAT) == 0);
	CHECK(find(&h, AA_OPTIONS));
	ev(&h, AE_OPTIONS, SIP_RES_UNREACHABLE, 503);
	CHECK(registered_to(&h, 0));
	CHECK(!find(&h, AA_ABANDON) && !find(&h, AA_RESOLVE)); /* same binding, same address */
	CHECK(!find_pub(&h, AP_FAILOVER));
	ev(&h, AE_REG, SIP_RES_OK, 200); /* the server is fine after all */
	CHECK_INT(h.a.state, AG_REGISTERED);
	CHECK(!find_pub(&h, AP_REGISTERED)); /* not a new registration */
	CHECK_INT(h.a.failovers, 0);
	return 0;
}

TEST(test_A7_any_final_options_response_proves_alive)
{
	struct h h;
	up_on_primary(&h, 2);
	CHECK(fire(&h, AT_HEARTBEAT) == 0);
	ev(&h, AE_OPTIONS, SIP_RES_OK, 405); /* sip.c maps any server final to OK */
	CHECK_INT(h.out.n, 0);
	CHECK_INT(h.a.deadline[AT_HB_ANSWER], 0);
	CHECK(h.a.deadline[AT_HEARTBEAT] > h.now);
	return 0;
}

TEST(test_A7_options_unanswered_within_t1_is_a_miss)
{
	struct h h;
	up_on_primary(&h, 2);
	CHECK(fire(&h, AT_HEARTBEAT) == 0);
	CHECK_INT(h.a.deadline[AT_HB_ANSWER] - h.now, 500);
	CHECK(fire(&h, AT_HB_ANSWER) == 0);
	CHECK(registered_to(&h, 0));
	/* the late answer of that OPTIONS changes nothing */
	ev(&h, AE_OPTIONS, SIP_RES_TIMEOUT, 408);
	CHECK_INT(h.out.n, 0);
	return 0;
}

TEST(test_A7_reregister_failure_after_miss_switches)
{
	struct h h;
	up_on_primary(&h, 2);
	CHECK(fire(&h, AT_HEARTBEAT) == 0);
	CHECK(fire(&h, AT_HB_ANSWER) == 0);
	CHECK(fire(&h, AT_BUDGET) == 0); /* the re-REGISTER gets no answer either */
	CHECK(registered_to(&h, 1));
	const struct agent_action *p = find_pub(&h, AP_FAILOVER);
	CHECK(p && strstr(p->reason, "timed out after 3 transmissions"));
	return 0;
}

TEST(test_C_retry_count_budget_follows_t1_doubling)
{
	struct agent_config c = { .t1_ms = 500, .t2_ms = 4000, .retry_count = 3 };
	CHECK_INT(agent_budget_ms(&c), 500 + 1000 + 2000 - 125);
	c.retry_count = 1;
	CHECK_INT(agent_budget_ms(&c), 500 - 125);
	c.retry_count = 5; /* intervals cap at T2 (RFC 3261 17.1.2.2) */
	CHECK_INT(agent_budget_ms(&c), 500 + 1000 + 2000 + 4000 + 4000 - 125);
	c.t1_ms = 100, c.retry_count = 3;
	CHECK_INT(agent_budget_ms(&c), 700 - 25);
	return 0;
}

TEST(test_C_primary_gets_retry_count_the_last_server_the_full_timer)
{
	struct h h;
	setup(&h, 2);
	ev(&h, AE_START, 0, 0);
	CHECK_INT(h.a.deadline[AT_BUDGET] - h.now, 3375);
	CHECK(fire(&h, AT_BUDGET) == 0);
	CHECK(find(&h, AA_ABANDON));
	CHECK(registered_to(&h, 1));
	CHECK_INT(h.a.deadline[AT_BUDGET], 0); /* last server: nta's 64*T1 ends it */
	return 0;
}

TEST(test_C_all_servers_unavailable_is_reported)
{
	struct h h;
	setup(&h, 3);
	ev(&h, AE_START, 0, 0);
	CHECK(fire(&h, AT_BUDGET) == 0);
	CHECK(registered_to(&h, 1));
	CHECK(fire(&h, AT_BUDGET) == 0);
	CHECK(registered_to(&h, 2));
	ev(&h, AE_REG, SIP_RES_TIMEOUT, 408);
	const struct agent_action *p = find_pub(&h, AP_ERROR);
	CHECK(p && strstr(p->reason, "all 3 servers unavailable"));
	CHECK_INT(h.a.state, AG_WAITING);
	CHECK(h.a.error_at);
	return 0;
}

TEST(test_C_failback_probe_every_jittered_interval)
{
	struct h h;
	up_on_backup(&h);
	CHECK_INT(h.a.deadline[AT_FAILBACK] - h.now, 1800000);
	setup(&h, 2);
	h.r = 0; /* jitter at its bottom: half the interval */
	ev(&h, AE_START, 0, 0);
	ev(&h, AE_REG, SIP_RES_TIMEOUT, 408);
	ev(&h, AE_REG, SIP_RES_OK, 200);
	CHECK_INT(h.a.deadline[AT_FAILBACK] - h.now, 900000);
	CHECK(fire(&h, AT_FAILBACK) == 0);
	const struct agent_action *x = find(&h, AA_PROBE);
	CHECK(x && x->server == 0);
	CHECK_INT(h.a.server, 1); /* nothing moves before the primary answers */
	return 0;
}

TEST(test_C_failback_200_adopts_probe_and_releases_backup)
{
	struct h h;
	up_on_backup(&h);
	CHECK(fire(&h, AT_FAILBACK) == 0);
	ev(&h, AE_PROBE, SIP_RES_OK, 200);
	CHECK(find(&h, AA_ADOPT_PROBE));
	const struct agent_action *p = find_pub(&h, AP_FAILBACK);
	CHECK(p && p->server == 1 && p->to == 0);
	CHECK_INT(h.a.server, 0);
	CHECK_INT(h.a.state, AG_REGISTERED);
	CHECK_INT(h.a.deadline[AT_FAILBACK], 0);
	CHECK_INT(h.a.failovers, 1); /* a failback is not a failover */
	return 0;
}

TEST(test_C_failback_probe_without_answer_stays_and_probes_again)
{
	struct h h;
	up_on_backup(&h);
	CHECK(fire(&h, AT_FAILBACK) == 0);
	ev(&h, AE_PROBE, SIP_RES_TIMEOUT, 408); /* ran its full 64*T1 */
	CHECK(find(&h, AA_PROBE_DROP));
	CHECK(!find_pub(&h, AP_FAILBACK));
	CHECK_INT(h.a.server, 1);
	CHECK_INT(h.a.deadline[AT_FAILBACK] - h.now, 1800000);
	return 0;
}

TEST(test_storm_backoff_doubles_and_caps)
{
	struct h h;
	setup(&h, 1);
	CHECK_INT(agent_backoff_ms(&h.a, 30000, 0), 30000);
	CHECK_INT(agent_backoff_ms(&h.a, 30000, 1), 60000);
	CHECK_INT(agent_backoff_ms(&h.a, 30000, 20), 1800000);
	CHECK_INT(agent_backoff_ms(&h.a, 3600000, 3), 3600000); /* a base above the cap is the cap */
	h.r = 0;
	CHECK_INT(agent_backoff_ms(&h.a, 30000, 1), 30000);
	return 0;
}

TEST(test_storm_start_spread_delays_the_first_register)
{
	struct h h;
	setup(&h, 2);
	h.a.cfg.start_spread_ms = 10000;
	h.r = UINT32_MAX / 2;
	ev(&h, AE_START, 0, 0);
	CHECK(!find(&h, AA_REGISTER));
	CHECK_INT(h.a.state, AG_WAITING);
	int64_t w = h.a.deadline[AT_RETRY] - h.now;
	CHECK(w >= 4999 && w <= 5001);
	CHECK(fire(&h, AT_RETRY) == 0);
	CHECK(registered_to(&h, 0));
	CHECK(!find_pub(&h, AP_FAILOVER));
	return 0;
}

TEST(test_idle_false_defers_failback_until_the_call_ends)
{
	struct h h;
	up_on_backup(&h);
	struct agent_event busy = { .kind = AE_IDLE, .idle = false };
	step(&h, &busy);
	CHECK(fire(&h, AT_FAILBACK) == 0);
	CHECK(!find(&h, AA_PROBE));
	struct agent_event idle = { .kind = AE_IDLE, .idle = true };
	step(&h, &idle);
	CHECK(find(&h, AA_PROBE));
	return 0;
}

TEST(test_force_failover_moves_on_and_releases_the_old_binding)
{
	struct h h;
	up_on_primary(&h, 2);
	struct agent_event f = { .kind = AE_FORCE_FAILOVER };
	step(&h, &f);
	const struct agent_action *x = find(&h, AA_REGISTER), *y = find(&h, AA_ABANDON);
	CHECK(x && x->server == 1 && y && y->release_old);
	CHECK(find_pub(&h, AP_FAILOVER));
	CHECK_INT(h.a.failovers, 1);
	return 0;
}

TEST(test_stop_unregisters_a_bound_line_and_says_when_done)
{
	struct h h;
	up_on_primary(&h, 2);
	ev(&h, AE_STOP, 0, 0);
	CHECK(find(&h, AA_UNREGISTER));
	CHECK(!find(&h, AA_STOPPED));
	for (int t = 0; t < AT_MAX; t++)
		CHECK_INT(h.a.deadline[t], 0);
	ev(&h, AE_UNREG, SIP_RES_TIMEOUT, 408); /* even a failed one ends it */
	CHECK(find(&h, AA_STOPPED));
	/* a line that holds nothing stops at once */
	setup(&h, 2);
	h.a.cfg.start_spread_ms = 10000;
	ev(&h, AE_START, 0, 0);
	ev(&h, AE_STOP, 0, 0);
	CHECK(find(&h, AA_STOPPED));
	CHECK(!find(&h, AA_UNREGISTER));
	return 0;
}

TEST(test_disabled_line_does_nothing)
{
	struct h h;
	setup(&h, 2);
	h.a.cfg.enabled = false;
	ev(&h, AE_START, 0, 0);
	CHECK_INT(h.a.state, AG_DISABLED);
	CHECK_INT(h.out.n, 0);
	return 0;
}

/* ---- SPEC B: the next hop's addresses under the agent ---- */

TEST(test_B_attempt_resolves_first_then_registers)
{
	struct h h;
	setup(&h, 2);
	h.manual_dns = true;
	ev(&h, AE_START, 0, 0);
	const struct agent_action *x = find(&h, AA_RESOLVE);
	CHECK(x && x->server == 0);
	CHECK(!find(&h, AA_REGISTER));
	CHECK_INT(h.a.state, AG_RESOLVING);
	CHECK_INT(h.a.deadline[AT_BUDGET], 0);
	struct agent_event r = { .kind = AE_RESOLVED, .result = SIP_RES_OK, .addr_left = 1 };
	agent_step(&h.a, &r, h.now, &h.out);
	CHECK(registered_to(&h, 0));
	CHECK_INT(h.a.state, AG_REGISTERING);
	CHECK(h.a.deadline[AT_BUDGET] > h.now);
	/* a late answer for an attempt that is over changes nothing */
	agent_step(&h.a, &r, h.now, &h.out);
	CHECK_INT(h.out.n, 0);
	return 0;
}

TEST(test_B_dns_failure_is_a_registration_failure)
{
	struct h h;
	setup(&h, 2);
	h.manual_dns = true;
	ev(&h, AE_START, 0, 0);
	struct agent_event r = { .kind = AE_RESOLVED, .result = SIP_RES_INTERNAL,
				 .phrase = "sip1.example: NXDOMAIN" };
	agent_step(&h.a, &r, h.now, &h.out);
	const struct agent_action *p = find_pub(&h, AP_FAILOVER);
	CHECK(p && p->server == 0 && p->to == 1); /* SPEC A.2 */
	CHECK(strstr(p->reason, "NXDOMAIN"));
	CHECK(find(&h, AA_RESOLVE) && find(&h, AA_RESOLVE)->server == 1);
	CHECK(!find(&h, AA_NEXT_ADDRESS));
	return 0;
}

TEST(test_B4_failure_walks_the_addresses_before_the_server_fails)
{
	struct h h;
	setup(&h, 2);
	h.n_addrs = 3;
	ev(&h, AE_START, 0, 0);
	CHECK(registered_to(&h, 0));
	ev(&h, AE_REG, SIP_RES_UNREACHABLE, 503);  /* ICMP from the first address */
	CHECK(find(&h, AA_NEXT_ADDRESS) && find(&h, AA_ABANDON));
	CHECK(find_pub(&h, AP_ADDRESS));
	CHECK(!find_pub(&h, AP_FAILOVER));
	CHECK(registered_to(&h, 0));
	CHECK_INT(h.idx, 1);
	CHECK(fire(&h, AT_BUDGET) == 0);         /* the second is silent */
	CHECK(find(&h, AA_NEXT_ADDRESS) && registered_to(&h, 0));
	CHECK_INT(h.idx, 2);
	CHECK_INT(h.a.failovers, 0);
	ev(&h, AE_REG, SIP_RES_5XX, 500);         /* the last one fails too */
	CHECK(find(&h, AA_NEXT_ADDRESS));        /* the list is used up ... */
	CHECK(!find_pub(&h, AP_ADDRESS));
	const struct agent_action *p = find_pub(&h, AP_FAILOVER);
	CHECK(p && p->server == 0 && p->to == 1);
	CHECK(find(&h, AA_RESOLVE));             /* the backup from its first address */
	CHECK_INT(h.idx, 0);
	CHECK_INT(h.a.failovers, 1);
	return 0;
}

TEST(test_B4_last_server_gets_the_full_timer_only_on_its_last_address)
{
	struct h h;
	setup(&h, 1);
	h.n_addrs = 2;
	ev(&h, AE_START, 0, 0);
	CHECK(h.a.deadline[AT_BUDGET] > h.now); /* another address follows */
	CHECK(fire(&h, AT_BUDGET) == 0);
	CHECK(find(&h, AA_NEXT_ADDRESS) && registered_to(&h, 0));
	CHECK_INT(h.a.deadline[AT_BUDGET], 0);  /* 64*T1 (SPEC C) */
	ev(&h, AE_REG, SIP_RES_TIMEOUT, 408);
	CHECK(find_pub(&h, AP_ERROR));           /* timer 2 of SPEC A.2 */
	CHECK_INT(h.a.state, AG_WAITING);
	CHECK(fire(&h, AT_RETRY) == 0);
	CHECK(find(&h, AA_RESOLVE));             /* B.4: resolved again, from the first */
	CHECK_INT(h.idx, 0);
	return 0;
}

TEST(test_B_affinity_heartbeat_miss_reregisters_through_the_same_address)
{
	struct h h;
	setup(&h, 2);
	h.n_addrs = 2;
	ev(&h, AE_START, 0, 0);
	ev(&h, AE_REG, SIP_RES_OK, 200);
	CHECK(fire(&h, AT_HEARTBEAT) == 0);
	CHECK(fire(&h, AT_HB_ANSWER) == 0);
	CHECK(registered_to(&h, 0));
	CHECK(!find(&h, AA_RESOLVE) && !find(&h, AA_NEXT_ADDRESS) && !find(&h, AA_ABANDON));
	CHECK_INT(h.idx, 0);
	/* only when that REGISTER fails does the walk move on */
	ev(&h, AE_REG, SIP_RES_TIMEOUT, 408);
	CHECK(find(&h, AA_NEXT_ADDRESS));
	CHECK_INT(h.idx, 1);
	return 0;
}

TEST(test_B_stop_while_resolving_is_immediate)
{
	struct h h;
	setup(&h, 2);
	h.manual_dns = true;
	ev(&h, AE_START, 0, 0);
	ev(&h, AE_STOP, 0, 0);
	CHECK(find(&h, AA_STOPPED));
	CHECK(!find(&h, AA_UNREGISTER));
	struct agent_event r = { .kind = AE_RESOLVED, .result = SIP_RES_OK };
	agent_step(&h.a, &r, h.now, &h.out);
	CHECK(!find(&h, AA_REGISTER));
	return 0;
}

/* `unregister` then `register`: the line registers again, after the
 * un-REGISTER if it is still under way. */
TEST(test_register_after_unregister_starts_again)
{
	struct h h;
	up_on_primary(&h, 2);
	ev(&h, AE_STOP, 0, 0);
	CHECK(find(&h, AA_UNREGISTER));
	ev(&h, AE_REGISTER_NOW, 0, 0);           /* while the un-REGISTER runs */
	CHECK(!find(&h, AA_REGISTER));
	ev(&h, AE_UNREG, SIP_RES_OK, 200);
	CHECK(find(&h, AA_STOPPED));
	CHECK(registered_to(&h, 0));
	CHECK(!h.a.stopping);
	ev(&h, AE_REG, SIP_RES_OK, 200);
	CHECK_INT(h.a.state, AG_REGISTERED);
	/* and once it is done */
	ev(&h, AE_STOP, 0, 0);
	ev(&h, AE_UNREG, SIP_RES_OK, 200);
	CHECK_INT(h.a.state, AG_WAITING);
	ev(&h, AE_REGISTER_NOW, 0, 0);
	CHECK(registered_to(&h, 0));
	/* a stop for good (SIGTERM) after a pending `register` wins */
	ev(&h, AE_REG, SIP_RES_OK, 200);
	ev(&h, AE_STOP, 0, 0);
	ev(&h, AE_REGISTER_NOW, 0, 0);
	ev(&h, AE_STOP, 0, 0);
	ev(&h, AE_UNREG, SIP_RES_OK, 200);
	CHECK(find(&h, AA_STOPPED));
	CHECK(!find(&h, AA_REGISTER) && !find(&h, AA_RESOLVE));
	return 0;
}
