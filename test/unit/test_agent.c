/* test_agent.c - every rule of RULES A-C (and B's walk under the agent, I.3,
 * I.4) on the pure agent, on a fake clock, with a fake resolver that answers
 * each lookup of "sI.example" with h->n_addrs addresses 192.0.2.(10*I+1...),
 * of SRV priorities h->prio[]. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "unit.h"

/* Outcomes of the line's requests, as the runner reports them. */
enum { AE_REG = AE_MAX + 1, AE_UNREG, AE_OPTIONS, AE_PROBE };

struct h {
	struct agent a;
	struct agent_actions out;
	int64_t now;
	uint32_t r;      /* what the jitter source returns */
	struct conf_server sv[4];
	char names[4][32];
	int n_addrs;     /* addresses each name resolves to (0 = 1) */
	uint16_t prio[8];/* their SRV priorities (all 0: not from SRV) */
	bool manual_dns; /* the test answers AA_LOOKUP itself */
	int lookups;     /* answered by the fake resolver */
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
	for (int i = 0; i < 4; i++) {
		snprintf(h->names[i], sizeof h->names[i], "s%d.example", i);
		h->sv[i] = (struct conf_server){ .host = h->names[i], .port = 5060,
						 .transport = CONF_TP_UDP, .expires = 3600 };
	}
	struct agent_config c = {
		.enabled = true, .servers = h->sv, .n_servers = n_servers, .t1_ms = 500, .t2_ms = 4000,
		.retry_count = 3, .heartbeat_ms = 30000, .return_delay_ms = 60000,
		.retry_delay_ms = 30000, .failback = true, .failback_ms = 1800000,
		.start_spread_ms = 0, .rand = fixed_rand, .rand_arg = h,
	};
	agent_init(&h->a, &c);
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

/* The fake nameserver: "sI.example" -> N addresses 192.0.2.(10*I+k+1), TTL 60 s. */
static struct dns_answer fake_answer(const struct h *h, const struct dns_key *k)
{
	struct dns_answer ans;
	int i = 0, n = h->n_addrs ? h->n_addrs : 1;
	memset(&ans, 0, sizeof ans);
	sscanf(k->name, "s%d.", &i);
	for (int j = 0; j < n; j++) {
		snprintf(ans.v[j].ip, sizeof ans.v[j].ip, "192.0.2.%d", 10 * i + j + 1);
		ans.v[j].port = k->port ? k->port : 5060;
		ans.prio[j] = h->prio[j];
	}
	ans.n = n;
	ans.expires = h->now + 60000;
	return ans;
}

static void append(struct h *h, const struct agent_actions *more)
{
	for (int i = 0; i < more->n && h->out.n < AGENT_ACTIONS_MAX; i++)
		h->out.v[h->out.n++] = more->v[i];
	if (more->log_level != AGL_NONE) { /* the runner logs both; keep the last */
		h->out.log_level = more->log_level;
		snprintf(h->out.log, sizeof h->out.log, "%s", more->log);
	}
}

/* Step E the way line.c does: the actions land in h->out; every AA_LOOKUP
 * is answered at once by the fake nameserver (unless h->manual_dns) in a
 * step of its own, whose actions are appended to h->out. */
static void step(struct h *h, struct agent_event *e)
{
	agent_step(&h->a, e, h->now, &h->out);
	for (int guard = 0; guard < 4 && !h->manual_dns; guard++) {
		const struct agent_action *x = NULL;
		for (int i = 0; i < h->out.n; i++)
			if (h->out.v[i].kind == AA_LOOKUP && h->out.v[i].server != -2)
				x = &h->out.v[i];
		if (!x)
			return;
		struct dns_key k = agent_action_key(x);
		struct dns_answer ans = fake_answer(h, &k);
		struct agent_event r = { .kind = AE_ANSWER, .lookup = x->lookup, .answer = &ans };
		((struct agent_action *)x)->server = -2; /* answered */
		h->lookups++;
		struct agent_actions more;
		agent_step(&h->a, &r, h->now, &more);
		append(h, &more);
	}
}

/* An answer as the runner reports it: RES is the verdict the test means. */
static void outcome(struct h *h, int kind, enum verdict res, int status, int retry_after)
{
	struct agent_event e = { .kind = AE_OUTCOME, .status = status, .phrase = "x",
				 .expires = 3600, .retry_after = retry_after };
	e.req = kind == AE_REG ? AQ_REGISTER : kind == AE_UNREG ? AQ_UNREGISTER
					    : kind == AE_OPTIONS ? AQ_OPTIONS : AQ_PROBE;
	switch (res) {
	case VERDICT_TIMEOUT:
		e.status = 408;
		e.local = true;
		break;
	case VERDICT_UNREACHABLE:
		e.status = 503;
		e.local = true;
		break;
	case VERDICT_INTERNAL:
		e.status = 0;
		e.local = true;
		break;
	default:
		break;
	}
	step(h, &e);
}

static void ev(struct h *h, int kind, enum verdict res, int status)
{
	if (kind > AE_MAX) {
		outcome(h, kind, res, status, 0);
		return;
	}
	struct agent_event e = { .kind = (enum agent_ev_kind)kind };
	step(h, &e);
}

static void ev_retry_after(struct h *h, int status, int retry_after)
{
	outcome(h, AE_REG, VERDICT_5XX, status, retry_after);
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

/* The address the last REGISTER went to, as text. */
static const char *register_address(const struct h *h)
{
	static char buf[NETADDR_STR_MAX];
	const struct agent_action *x = find(h, AA_REGISTER);
	if (!x)
		return "";
	netaddr_format(buf, sizeof buf, &x->addr);
	return buf;
}

/* Start and register on the primary. */
static void up_on_primary(struct h *h, int n)
{
	setup(h, n);
	ev(h, AE_START, 0, 0);
	ev(h, AE_REG, VERDICT_OK, 200);
}

/* Start, lose the primary, register on the backup. */
static void up_on_backup(struct h *h)
{
	up_on_primary(h, 2);
	ev(h, AE_REG, VERDICT_TIMEOUT, 408);
	ev(h, AE_REG, VERDICT_OK, 200);
}

TEST(test_A1_first_register_goes_to_primary)
{
	struct h h;
	setup(&h, 2);
	ev(&h, AE_START, 0, 0);
	CHECK(registered_to(&h, 0));
	CHECK_INT(h.a.state, AG_REGISTERING);
	ev(&h, AE_REG, VERDICT_OK, 200);
	CHECK_INT(h.a.state, AG_REGISTERED);
	CHECK(find_pub(&h, AP_REGISTERED));
	return 0;
}

TEST(test_A2_primary_timeout_switches_to_backup_at_once)
{
	struct h h;
	setup(&h, 2);
	ev(&h, AE_START, 0, 0);
	ev(&h, AE_REG, VERDICT_TIMEOUT, 408);
	CHECK(registered_to(&h, 1));
	CHECK(find(&h, AA_ABANDON));
	CHECK(find(&h, AA_LOOKUP)); /* a new server: its next hop from the first address */
	const struct agent_action *p = find_pub(&h, AP_FAILOVER);
	CHECK(p && p->from_server == 0 && p->to_server == 1);
	CHECK_INT(h.a.failovers, 1);
	return 0;
}

TEST(test_A2_unreachable_and_dns_failure_switch_like_a_timeout)
{
	struct h h;
	setup(&h, 2);
	ev(&h, AE_START, 0, 0);
	ev(&h, AE_REG, VERDICT_UNREACHABLE, 503);
	CHECK(registered_to(&h, 1));
	setup(&h, 2);
	ev(&h, AE_START, 0, 0);
	ev(&h, AE_REG, VERDICT_INTERNAL, 0); /* no address: resolution failed */
	CHECK(registered_to(&h, 1));
	return 0;
}

TEST(test_A2_proven_backup_failure_returns_to_primary_at_once)
{
	struct h h;
	up_on_backup(&h);
	CHECK(h.a.sv[1].registered_before);
	ev(&h, AE_REG, VERDICT_TIMEOUT, 408); /* e.g. a refresh on the backup fails */
	CHECK(registered_to(&h, 0));
	CHECK(find_pub(&h, AP_FAILOVER));
	return 0;
}

TEST(test_A2_unproven_backup_waits_return_delay)
{
	struct h h;
	setup(&h, 2);
	ev(&h, AE_START, 0, 0);
	ev(&h, AE_REG, VERDICT_TIMEOUT, 408);   /* primary */
	ev(&h, AE_REG, VERDICT_TIMEOUT, 408);   /* backup, never registered there */
	CHECK(!find(&h, AA_REGISTER));
	CHECK_INT(h.a.state, AG_FAILED);
	CHECK_INT(h.a.deadline[AT_RETRY] - h.now, 60000); /* jitter at 100 % */
	CHECK(find_pub(&h, AP_ERROR));
	CHECK(fire(&h, AT_RETRY) == 0);
	CHECK(registered_to(&h, 0));
	/* with jitter at its bottom the wait is half of timer 1 */
	setup(&h, 2);
	h.r = 0;
	ev(&h, AE_START, 0, 0);
	ev(&h, AE_REG, VERDICT_TIMEOUT, 408);
	ev(&h, AE_REG, VERDICT_TIMEOUT, 408);
	CHECK_INT(h.a.deadline[AT_RETRY] - h.now, 30000);
	return 0;
}

TEST(test_A2_single_server_waits_retry_delay)
{
	struct h h;
	setup(&h, 1);
	ev(&h, AE_START, 0, 0);
	CHECK_INT(h.a.deadline[AT_BUDGET], 0); /* the only server is the last: full 64*T1 */
	ev(&h, AE_REG, VERDICT_TIMEOUT, 408);
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
	ev(&h, AE_REG, VERDICT_5XX, 500);
	CHECK(registered_to(&h, 1));
	setup(&h, 2);
	ev(&h, AE_START, 0, 0);
	ev(&h, AE_REG, VERDICT_6XX, 600);
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
	ev(&h, AE_REG, VERDICT_OK, 200);
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
	ev(&h, AE_REG, VERDICT_4XX, 403);
	CHECK(find(&h, AA_UNREGISTER));
	CHECK(!find(&h, AA_REGISTER));
	CHECK_INT(h.a.state, AG_UNREGISTERING);
	ev(&h, AE_UNREG, VERDICT_OK, 200);
	CHECK(registered_to(&h, 0));
	CHECK(!find(&h, AA_ABANDON) && !find(&h, AA_LOOKUP)); /* same binding, same address */
	ev(&h, AE_REG, VERDICT_OK, 200);
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
	ev(&h, AE_REG, VERDICT_4XX, 404);
	ev(&h, AE_UNREG, VERDICT_5XX, 500);
	CHECK(registered_to(&h, 1));
	setup(&h, 2);
	ev(&h, AE_START, 0, 0);
	ev(&h, AE_REG, VERDICT_4XX, 404);
	CHECK(fire(&h, AT_BUDGET) == 0); /* the un-REGISTER is not answered */
	CHECK(registered_to(&h, 1));
	return 0;
}

TEST(test_A4_second_4xx_after_reregister_switches_not_loops)
{
	struct h h;
	setup(&h, 2);
	ev(&h, AE_START, 0, 0);
	ev(&h, AE_REG, VERDICT_4XX, 403);
	ev(&h, AE_UNREG, VERDICT_OK, 200);
	ev(&h, AE_REG, VERDICT_4XX, 403);
	CHECK(!find(&h, AA_UNREGISTER));
	CHECK(registered_to(&h, 1));
	return 0;
}

TEST(test_A4_auth_failure_waits_on_same_server_without_loop)
{
	struct h h;
	setup(&h, 2);
	ev(&h, AE_START, 0, 0);
	ev(&h, AE_REG, VERDICT_AUTH, 401);
	CHECK(!find(&h, AA_REGISTER));
	CHECK_INT(h.a.state, AG_FAILED);
	CHECK_INT(h.a.error_code, 401);
	CHECK(strstr(h.a.error_reason, "authentication failed"));
	CHECK_INT(h.a.deadline[AT_RETRY] - h.now, 30000);
	CHECK(fire(&h, AT_RETRY) == 0);
	CHECK(registered_to(&h, 0));
	/* a second failure backs off: twice timer 2 */
	ev(&h, AE_REG, VERDICT_AUTH, 401);
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
	ev(&h, AE_REG, VERDICT_TIMEOUT, 408); /* nua's refresh timed out */
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
	ev(&h, AE_OPTIONS, VERDICT_UNREACHABLE, 503);
	CHECK(registered_to(&h, 0));
	CHECK(!find(&h, AA_ABANDON) && !find(&h, AA_LOOKUP)); /* same binding, same address */
	CHECK(!find_pub(&h, AP_FAILOVER));
	ev(&h, AE_REG, VERDICT_OK, 200); /* the server is fine after all */
	CHECK_INT(h.a.state, AG_REGISTERED);
	CHECK(!find_pub(&h, AP_REGISTERED)); /* not a new registration */
	CHECK_INT(h.a.failovers, 0);
	return 0;
}

/* RULES G.4: the TCP or TLS connection of the registration closed: a
 * heartbeat missed at once, whenever the next OPTIONS is due; while not
 * registered it changes nothing (the request in flight fails by itself). */
TEST(test_G4_connection_lost_is_a_missed_heartbeat_at_once)
{
	struct h h;
	up_on_primary(&h, 2);
	CHECK(h.a.deadline[AT_HEARTBEAT] - h.now > 1000); /* not due yet */
	h.out.n = 0;
	struct agent_event e = { .kind = AE_CONN_LOST, .phrase = "connection to 192.0.2.1:5061 closed" };
	step(&h, &e);
	CHECK(registered_to(&h, 0)); /* the same server first (A.6) */
	CHECK(!find_pub(&h, AP_FAILOVER));
	CHECK(strstr(h.a.error_reason, "192.0.2.1:5061 closed"));
	h.out.n = 0;
	step(&h, &e); /* registering: nothing more */
	CHECK_INT(h.out.n, 0);
	ev(&h, AE_REG, VERDICT_UNREACHABLE, 503); /* the server is gone: the backup */
	CHECK(find_pub(&h, AP_FAILOVER));
	CHECK(registered_to(&h, 1));
	return 0;
}

TEST(test_A7_any_final_options_response_proves_alive)
{
	struct h h;
	up_on_primary(&h, 2);
	CHECK(fire(&h, AT_HEARTBEAT) == 0);
	ev(&h, AE_OPTIONS, VERDICT_OK, 405); /* sip.c maps any server final to OK */
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
	ev(&h, AE_OPTIONS, VERDICT_TIMEOUT, 408);
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
	CHECK_INT(agent_budget_ms(&c), 500 + 1000 + 2000 - 100);
	c.retry_count = 1;
	CHECK_INT(agent_budget_ms(&c), 500 - 100);
	c.retry_count = 5; /* intervals cap at T2 (RFC 3261 17.1.2.2) */
	CHECK_INT(agent_budget_ms(&c), 500 + 1000 + 2000 + 4000 + 4000 - 100);
	c.t1_ms = 100, c.retry_count = 3;
	CHECK_INT(agent_budget_ms(&c), 700 - 50);
	return 0;
}

TEST(test_C_primary_gets_retry_count_the_last_server_the_full_timer)
{
	struct h h;
	setup(&h, 2);
	ev(&h, AE_START, 0, 0);
	CHECK_INT(h.a.deadline[AT_BUDGET] - h.now, 3400);
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
	ev(&h, AE_REG, VERDICT_TIMEOUT, 408);
	const struct agent_action *p = find_pub(&h, AP_ERROR);
	CHECK(p && strstr(p->reason, "all 3 servers unavailable"));
	CHECK_INT(h.a.state, AG_FAILED);
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
	ev(&h, AE_REG, VERDICT_TIMEOUT, 408);
	ev(&h, AE_REG, VERDICT_OK, 200);
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
	ev(&h, AE_PROBE, VERDICT_OK, 200);
	CHECK(find(&h, AA_ADOPT_PROBE));
	const struct agent_action *p = find_pub(&h, AP_FAILBACK);
	CHECK(p && p->from_server == 1 && p->to_server == 0);
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
	ev(&h, AE_PROBE, VERDICT_TIMEOUT, 408); /* ran its full 64*T1 */
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
	ev(&h, AE_START, 0, 0);
	int64_t want[] = { 30000, 60000, 120000, 240000, 480000, 960000, 1800000, 1800000 };
	for (int i = 0; i < 8; i++) {
		ev(&h, AE_REG, VERDICT_5XX, 500);
		CHECK_INT(h.a.deadline[AT_RETRY] - h.now, want[i]);
		CHECK(fire(&h, AT_RETRY) == 0);
	}
	ev(&h, AE_REG, VERDICT_OK, 200);          /* a 200 starts it over */
	ev(&h, AE_REG, VERDICT_5XX, 500);
	CHECK_INT(h.a.deadline[AT_RETRY] - h.now, 30000);
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
	ev(&h, AE_UNREG, VERDICT_TIMEOUT, 408); /* even a failed one ends it */
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

/* ---- RULES B: the next hop's addresses under the agent ---- */

TEST(test_B_attempt_resolves_first_then_registers)
{
	struct h h;
	setup(&h, 2);
	h.manual_dns = true;
	ev(&h, AE_START, 0, 0);
	const struct agent_action *x = find(&h, AA_LOOKUP);
	CHECK(x && x->lookup == AK_ATTEMPT && x->fresh_ok);
	CHECK_STR(x->key_name, "s0.example");
	CHECK(!find(&h, AA_REGISTER));
	CHECK_INT(h.a.state, AG_RESOLVING);
	CHECK_INT(h.a.deadline[AT_BUDGET], 0);
	h.n_addrs = 2;
	struct dns_answer ans = fake_answer(&h, &(struct dns_key){ .name = x->key_name, .port = x->key.port });
	struct agent_event r = { .kind = AE_ANSWER, .lookup = AK_ATTEMPT, .answer = &ans };
	agent_step(&h.a, &r, h.now, &h.out);
	CHECK(registered_to(&h, 0));
	CHECK_STR(register_address(&h), "192.0.2.1:5060");
	CHECK_INT(h.a.state, AG_REGISTERING);
	CHECK(h.a.deadline[AT_BUDGET] > h.now);
	/* a late answer for an attempt that is over changes nothing */
	agent_step(&h.a, &r, h.now, &h.out);
	CHECK_INT(h.out.n, 0);
	return 0;
}

TEST(test_B3_a_literal_is_used_as_is_without_a_lookup)
{
	struct h h;
	setup(&h, 2);
	h.sv[0].host = "192.0.2.77";
	h.sv[0].port = 0;
	ev(&h, AE_START, 0, 0);
	CHECK(!find(&h, AA_LOOKUP));
	CHECK(registered_to(&h, 0));
	CHECK_STR(register_address(&h), "192.0.2.77:5060");
	CHECK(!strstr(h.out.log, "resolving")); /* no detour through resolving in the log */
	return 0;
}

TEST(test_B_dns_failure_is_a_registration_failure)
{
	struct h h;
	setup(&h, 2);
	h.manual_dns = true;
	ev(&h, AE_START, 0, 0);
	struct dns_answer nx = { .status = DNS_ENXDOMAIN, .error = "s0.example: NXDOMAIN" };
	struct agent_event r = { .kind = AE_ANSWER, .lookup = AK_ATTEMPT, .answer = &nx };
	agent_step(&h.a, &r, h.now, &h.out);
	const struct agent_action *p = find_pub(&h, AP_FAILOVER);
	CHECK(p && p->from_server == 0 && p->to_server == 1); /* RULES A.2 */
	CHECK(strstr(p->reason, "NXDOMAIN"));
	CHECK(find_pub(&h, AP_DNS));             /* said once */
	const struct agent_action *x = find(&h, AA_LOOKUP);
	CHECK(x && !strcmp(x->key_name, "s1.example"));
	CHECK(!find(&h, AA_INVALIDATE));         /* no address was used */
	return 0;
}

TEST(test_B4_failure_walks_the_addresses_before_the_server_fails)
{
	struct h h;
	setup(&h, 2);
	h.n_addrs = 3;
	ev(&h, AE_START, 0, 0);
	CHECK(registered_to(&h, 0));
	CHECK_STR(register_address(&h), "192.0.2.1:5060");
	ev(&h, AE_REG, VERDICT_UNREACHABLE, 503);  /* ICMP from the first address */
	CHECK(find(&h, AA_ABANDON));
	const struct agent_action *p = find_pub(&h, AP_ADDRESS);
	CHECK(p && !strcmp(p->from, "192.0.2.1:5060") && !strcmp(p->to, "192.0.2.2:5060"));
	CHECK(!find_pub(&h, AP_FAILOVER));
	CHECK(registered_to(&h, 0));
	CHECK_STR(register_address(&h), "192.0.2.2:5060");
	CHECK(fire(&h, AT_BUDGET) == 0);          /* the second is silent */
	CHECK(registered_to(&h, 0));
	CHECK_STR(register_address(&h), "192.0.2.3:5060");
	CHECK_INT(h.a.failovers, 0);
	ev(&h, AE_REG, VERDICT_5XX, 500);         /* the last one fails too */
	CHECK(find(&h, AA_INVALIDATE));           /* the list is used up: ask again later */
	/* ... for the name that failed, although the same step moved the
	 * list on to the backup's name */
	CHECK_STR(find(&h, AA_INVALIDATE)->key_name, "s0.example");
	CHECK(!find_pub(&h, AP_ADDRESS));
	p = find_pub(&h, AP_FAILOVER);
	CHECK(p && p->from_server == 0 && p->to_server == 1);
	CHECK(registered_to(&h, 1));              /* the backup from its first address */
	CHECK_STR(register_address(&h), "192.0.2.11:5060");
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
	CHECK(registered_to(&h, 0));
	CHECK_STR(register_address(&h), "192.0.2.2:5060");
	CHECK_INT(h.a.deadline[AT_BUDGET], 0);  /* 64*T1 (RULES C.5) */
	ev(&h, AE_REG, VERDICT_TIMEOUT, 408);
	CHECK(find_pub(&h, AP_ERROR));           /* timer 2 of RULES A.2 */
	CHECK_INT(h.a.state, AG_FAILED);
	int before = h.lookups;
	CHECK(fire(&h, AT_RETRY) == 0);
	const struct agent_action *x = find(&h, AA_LOOKUP);
	CHECK(x && !x->fresh_ok);                /* B.4: the nameservers are asked again */
	CHECK_INT(h.lookups, before + 1);
	CHECK_STR(register_address(&h), "192.0.2.1:5060"); /* from the first */
	return 0;
}

TEST(test_B_affinity_heartbeat_miss_reregisters_through_the_same_address)
{
	struct h h;
	setup(&h, 2);
	h.n_addrs = 2;
	ev(&h, AE_START, 0, 0);
	ev(&h, AE_REG, VERDICT_OK, 200);
	CHECK(fire(&h, AT_HEARTBEAT) == 0);
	CHECK(fire(&h, AT_HB_ANSWER) == 0);
	CHECK(registered_to(&h, 0));
	CHECK(!find(&h, AA_LOOKUP) && !find(&h, AA_ABANDON));
	CHECK_STR(register_address(&h), "192.0.2.1:5060");
	CHECK(strstr(h.out.log, "registered -> registering (OPTIONS to 192.0.2.1:5060"));
	/* only when that REGISTER fails does the walk move on */
	ev(&h, AE_REG, VERDICT_TIMEOUT, 408);
	CHECK(find_pub(&h, AP_ADDRESS));
	CHECK_STR(register_address(&h), "192.0.2.2:5060");
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
	CHECK(find(&h, AA_CANCEL_LOOKUP));
	CHECK(!find(&h, AA_UNREGISTER));
	struct dns_answer ans = fake_answer(&h, &(struct dns_key){ .name = "s0.example" });
	struct agent_event r = { .kind = AE_ANSWER, .lookup = AK_ATTEMPT, .answer = &ans };
	agent_step(&h.a, &r, h.now, &h.out);
	CHECK(!find(&h, AA_REGISTER));
	return 0;
}

TEST(test_B2_the_answer_is_looked_up_again_when_its_ttl_runs_out)
{
	struct h h;
	setup(&h, 2);
	h.n_addrs = 2;
	ev(&h, AE_START, 0, 0);
	ev(&h, AE_REG, VERDICT_OK, 200);
	CHECK_INT(h.a.deadline[AT_DNS], 1000000 + 60000);
	h.manual_dns = true;
	h.a.deadline[AT_HEARTBEAT] = 0;
	CHECK(fire(&h, AT_DNS) == 0);
	const struct agent_action *x = find(&h, AA_LOOKUP);
	CHECK(x && x->lookup == AK_REFRESH && x->fresh_ok);
	CHECK_INT(h.a.deadline[AT_DNS], 0);      /* not while asking */
	/* the new answer lists the address in use second: it stays in use */
	struct dns_answer ans = fake_answer(&h, &(struct dns_key){ .name = x->key_name, .port = x->key.port });
	struct netaddr first = ans.v[0];
	ans.v[0] = ans.v[1];
	ans.v[1] = first;
	struct agent_event r = { .kind = AE_ANSWER, .lookup = AK_REFRESH, .answer = &ans };
	agent_step(&h.a, &r, h.now, &h.out);
	CHECK(!find(&h, AA_REGISTER));
	CHECK_INT(h.a.state, AG_REGISTERED);
	CHECK_STR(h.a.address, "192.0.2.1:5060");
	CHECK_INT(h.a.al.idx, 1);
	CHECK_INT(h.a.deadline[AT_DNS], h.now + 60000);
	/* a failed refresh is one dns event, not one per retry */
	CHECK(fire(&h, AT_DNS) == 0);
	struct dns_answer to = { .status = DNS_ETIMEOUT, .error = "s0.example: no answer", .expires = h.now + 5000 };
	r.answer = &to;
	agent_step(&h.a, &r, h.now, &h.out);
	CHECK(find_pub(&h, AP_DNS));
	CHECK_INT(h.a.deadline[AT_DNS], h.now + 5000);
	CHECK(fire(&h, AT_DNS) == 0);
	to.expires = h.now + 10000;
	agent_step(&h.a, &r, h.now, &h.out);
	CHECK(!find_pub(&h, AP_DNS));
	CHECK_INT(h.a.state, AG_REGISTERED);
	return 0;
}

TEST(test_B5_an_unresolvable_proxy_moves_to_the_next)
{
	struct h h;
	char *proxies[] = { "p0.example", "p1.example:5070" };
	setup(&h, 2);
	h.a.cfg.proxies = proxies;
	h.a.cfg.n_proxies = 2;
	addrlist_init(&h.a.al, proxies, 2);
	h.manual_dns = true;
	ev(&h, AE_START, 0, 0);
	const struct agent_action *x = find(&h, AA_LOOKUP);
	CHECK(x && !strcmp(x->key_name, "p0.example"));
	struct dns_answer nx = { .status = DNS_ENXDOMAIN, .error = "p0.example: NXDOMAIN" };
	struct agent_event r = { .kind = AE_ANSWER, .lookup = AK_ATTEMPT, .answer = &nx };
	agent_step(&h.a, &r, h.now, &h.out);
	const struct agent_action *p = find_pub(&h, AP_PROXY);
	CHECK(p && !strcmp(p->from, "p0.example") && !strcmp(p->to, "p1.example:5070"));
	x = find(&h, AA_LOOKUP);
	CHECK(x && !strcmp(x->key_name, "p1.example") && x->key.port == 5070);
	struct dns_answer ok = fake_answer(&h, &(struct dns_key){ .name = x->key_name, .port = x->key.port });
	r.answer = &ok;
	agent_step(&h.a, &r, h.now, &h.out);
	x = find(&h, AA_REGISTER);
	CHECK(x && !strcmp(x->route, "s0.example:5060")); /* the server as the Route */
	CHECK_INT(h.a.state, AG_REGISTERING);
	return 0;
}

TEST(test_C4_probe_rotates_over_the_primary_addresses)
{
	struct h h;
	setup(&h, 2);
	h.n_addrs = 2;
	ev(&h, AE_START, 0, 0);
	ev(&h, AE_REG, VERDICT_OK, 200);         /* the primary's first address works */
	ev(&h, AE_REG, VERDICT_TIMEOUT, 408);    /* then both fail */
	ev(&h, AE_REG, VERDICT_TIMEOUT, 408);
	CHECK_INT(h.a.server, 1);
	ev(&h, AE_REG, VERDICT_OK, 200);
	CHECK(fire(&h, AT_FAILBACK) == 0);
	const struct agent_action *x = find(&h, AA_PROBE);
	char s[NETADDR_STR_MAX];
	CHECK(x);
	netaddr_format(s, sizeof s, &x->addr);
	CHECK_STR(s, "192.0.2.1:5060");          /* the one that last worked */
	ev(&h, AE_PROBE, VERDICT_TIMEOUT, 408);
	CHECK(fire(&h, AT_FAILBACK) == 0);
	x = find(&h, AA_PROBE);
	CHECK(x);
	netaddr_format(s, sizeof s, &x->addr);
	CHECK_STR(s, "192.0.2.2:5060");          /* then the next */
	ev(&h, AE_PROBE, VERDICT_OK, 200);
	CHECK(find(&h, AA_ADOPT_PROBE));
	CHECK_STR(h.a.address, "192.0.2.2:5060");
	CHECK_INT(h.a.server, 0);
	return 0;
}

TEST(test_A4_min_expires_learned_from_a_grant_is_asked_next_time)
{
	struct h h;
	setup(&h, 2);
	ev(&h, AE_START, 0, 0);
	CHECK_INT(find(&h, AA_REGISTER)->expires, 3600);
	struct agent_event e = { .kind = AE_OUTCOME, .req = AQ_REGISTER, .status = 200, .expires = 7200 };
	step(&h, &e);                             /* after a 423 nua handled itself */
	CHECK_INT(h.a.sv[0].learned_min, 7200);
	ev(&h, AE_REGISTER_NOW, 0, 0);
	CHECK_INT(find(&h, AA_REGISTER)->expires, 7200);
	return 0;
}

TEST(test_transitions_are_checked)
{
	CHECK(agent_legal(AG_REGISTERING, AG_REGISTERED));
	CHECK(agent_legal(AG_REGISTERED, AG_RESOLVING));
	CHECK(agent_legal(AG_WAITING, AG_DISABLED));
	CHECK(!agent_legal(AG_DISABLED, AG_REGISTERING));
	CHECK(!agent_legal(AG_RESOLVING, AG_REGISTERED));
	CHECK(!agent_legal(AG_FAILED, AG_REGISTERED));
	CHECK(!agent_legal(AG_REGISTERED, AG_DISABLED));
	return 0;
}

TEST(test_one_log_line_per_step_with_its_reason)
{
	struct h h;
	setup(&h, 2);
	ev(&h, AE_START, 0, 0);
	CHECK_STR(h.out.log, "resolving -> registering (REGISTER to 192.0.2.1:5060)");
	CHECK_INT(h.out.log_level, AGL_INFO);
	h.manual_dns = true;
	ev(&h, AE_REG, VERDICT_UNREACHABLE, 503);
	CHECK_INT(h.out.log_level, AGL_WARN);
	CHECK(!strncmp(h.out.log, "registering -> resolving (failover ", 35));
	CHECK(strstr(h.out.log, "failover primary s0.example:5060/udp -> backup s1.example:5060/udp: "
				"REGISTER to 192.0.2.1:5060 unreachable: 503 x"));
	CHECK(!strchr(strchr(h.out.log, '(') ? strchr(h.out.log, '(') + 1 : "", '('));
	return 0;
}

TEST(test_C8_all_servers_down_is_failed)
{
	struct h h;
	setup(&h, 2);
	ev(&h, AE_START, 0, 0);
	ev(&h, AE_REG, VERDICT_UNREACHABLE, 503);
	ev(&h, AE_REG, VERDICT_UNREACHABLE, 503);
	CHECK_INT(h.a.state, AG_FAILED);
	CHECK(h.a.deadline[AT_RETRY] > h.now);
	CHECK(fire(&h, AT_RETRY) == 0);
	CHECK(registered_to(&h, 0));
	return 0;
}

TEST(test_operator_commands_are_guarded)
{
	struct h h;
	setup(&h, 2);
	h.a.cfg.enabled = false;
	ev(&h, AE_START, 0, 0);
	CHECK_INT(agent_command_ok(&h.a, AE_FORCE_FAILOVER), -EINVAL);
	setup(&h, 2);
	ev(&h, AE_START, 0, 0);
	CHECK_INT(agent_command_ok(&h.a, AE_REGISTER_NOW), 0);
	struct agent_event e = { .kind = AE_STOP, .final = true };
	step(&h, &e);
	CHECK_INT(agent_command_ok(&h.a, AE_REGISTER_NOW), -EBUSY);
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
	ev(&h, AE_UNREG, VERDICT_OK, 200);
	CHECK(find(&h, AA_STOPPED));
	CHECK(registered_to(&h, 0));
	CHECK(!h.a.halted);
	ev(&h, AE_REG, VERDICT_OK, 200);
	CHECK_INT(h.a.state, AG_REGISTERED);
	/* and once it is done */
	ev(&h, AE_STOP, 0, 0);
	ev(&h, AE_UNREG, VERDICT_OK, 200);
	CHECK_INT(h.a.state, AG_WAITING);
	ev(&h, AE_REGISTER_NOW, 0, 0);
	CHECK(registered_to(&h, 0));
	/* a stop for good (SIGTERM) after a pending `register` wins */
	ev(&h, AE_REG, VERDICT_OK, 200);
	ev(&h, AE_STOP, 0, 0);
	ev(&h, AE_REGISTER_NOW, 0, 0);
	ev(&h, AE_STOP, 0, 0);
	ev(&h, AE_UNREG, VERDICT_OK, 200);
	CHECK(find(&h, AA_STOPPED));
	CHECK(!find(&h, AA_REGISTER) && !find(&h, AA_LOOKUP));
	return 0;
}

TEST(test_status_shows_what_the_line_does)
{
	struct h h;
	struct line_status st;
	setup(&h, 2);
	h.n_addrs = 2;
	ev(&h, AE_START, 0, 0);
	ev(&h, AE_REG, VERDICT_OK, 200);
	h.now += 10000;
	agent_status(&h.a, h.now, &st);
	CHECK_STR(st.state, "registered");
	CHECK(st.registered);
	CHECK_STR(st.server_role, "primary");
	CHECK_STR(st.server_transport, "udp");
	CHECK_STR(st.address, "192.0.2.1:5060");
	CHECK_INT(st.expires_in, 3590);
	CHECK_INT(st.n_addresses, 2);
	CHECK_INT(st.address_index, 0);
	CHECK_STR(st.dns_name, "s0.example");
	CHECK_INT(st.dns_refresh_in, 50);
	CHECK_INT(st.next_attempt_in, -1);
	CHECK(!st.error_reason);
	ev(&h, AE_REG, VERDICT_TIMEOUT, 408);     /* refresh failed: next address */
	ev(&h, AE_REG, VERDICT_TIMEOUT, 408);     /* and the other: the backup */
	ev(&h, AE_REG, VERDICT_TIMEOUT, 408);
	ev(&h, AE_REG, VERDICT_TIMEOUT, 408);     /* every server down */
	agent_status(&h.a, h.now, &st);
	CHECK_STR(st.state, "failed");
	CHECK_STR(st.server_role, "backup");
	CHECK(st.error_reason && strstr(st.error_reason, "timed out"));
	CHECK(st.next_attempt_in > 0);
	return 0;
}

TEST(test_A5_the_agent_refreshes_inside_the_granted_expiry)
{
	struct h h;
	up_on_primary(&h, 2);                     /* granted 3600 s */
	CHECK_INT(h.a.deadline[AT_REFRESH] - h.now, 2700000); /* 75 % at the top of the jitter */
	h.a.deadline[AT_HEARTBEAT] = 0;
	CHECK(fire(&h, AT_REFRESH) == 0);
	CHECK(registered_to(&h, 0));
	CHECK_STR(register_address(&h), "192.0.2.1:5060"); /* same binding, same address */
	CHECK(!find(&h, AA_ABANDON) && !find(&h, AA_LOOKUP));
	CHECK_INT(h.a.state, AG_REGISTERED);     /* a refresh is not a new registration */
	CHECK_STR(h.out.log, "");                /* and costs no log line */
	CHECK(h.a.deadline[AT_BUDGET] > h.now);  /* it has the retry budget */
	struct agent_event e = { .kind = AE_OUTCOME, .req = AQ_REGISTER, .status = 200, .expires = 60 };
	step(&h, &e);                             /* the server now grants 60 s */
	CHECK(!find_pub(&h, AP_REGISTERED));
	CHECK_INT(h.a.deadline[AT_REFRESH] - h.now, 45000);
	h.r = 0;
	CHECK(fire(&h, AT_REFRESH) == 0);
	CHECK(fire(&h, AT_BUDGET) == 0);          /* a silent server: the refresh fails over */
	const struct agent_action *p = find_pub(&h, AP_FAILOVER);
	CHECK(p && strstr(p->reason, "timed out after 3 transmissions"));
	CHECK(registered_to(&h, 1));
	return 0;
}

/* RULES F.2/F.4 on the line's side: a call's request failed on its server. */
TEST(test_F2_a_call_request_failure_reverifies_or_switches)
{
	struct h h;
	up_on_primary(&h, 2);
	struct agent_event f = { .kind = AE_REQ_FAILED, .server = 0, .phrase = "INVITE to 192.0.2.1:5060: 408" };
	step(&h, &f);
	const struct agent_action *x = find(&h, AA_REGISTER);
	CHECK(x && x->server == 0); /* A.6: the same server first */
	CHECK_INT(h.a.reg, AR_REVERIFY);
	/* the server said 503: switch at once (A.3) */
	up_on_primary(&h, 2);
	struct agent_event d = { .kind = AE_REQ_FAILED, .server = 0, .server_down = true, .status = 503,
				 .phrase = "INVITE to 192.0.2.1:5060: 503" };
	step(&h, &d);
	x = find(&h, AA_REGISTER);
	CHECK(x && x->server == 1);
	CHECK(find_pub(&h, AP_FAILOVER));
	/* about a server the line left already: nothing */
	up_on_backup(&h);
	step(&h, &d);
	CHECK_INT(h.out.n, 0);
	return 0;
}

TEST(test_F_hop_and_trust)
{
	struct h h;
	struct line_hop hp;
	up_on_primary(&h, 2);
	agent_hop(&h.a, &hp);
	CHECK(hp.up && !hp.failed && hp.server == 0 && !hp.last);
	CHECK_STR(hp.addr.ip, "192.0.2.1");
	CHECK_INT(hp.budget_ms, agent_budget_ms(&h.a.cfg));
	CHECK(agent_trusts(&h.a, "192.0.2.1"));
	CHECK(!agent_trusts(&h.a, "192.0.2.99"));
	CHECK(!agent_trusts(&h.a, ""));
	up_on_backup(&h);
	agent_hop(&h.a, &hp);
	CHECK(hp.up && hp.server == 1 && hp.last);
	/* literal servers and proxies are trusted as configured */
	setup(&h, 2);
	static char lit[] = "127.0.0.7";
	static char px[] = "[::1]:5070";
	static char *pxs[] = { px };
	h.sv[1].host = lit;
	h.a.cfg.proxies = pxs;
	h.a.cfg.n_proxies = 1;
	CHECK(agent_trusts(&h.a, "127.0.0.7"));
	CHECK(agent_trusts(&h.a, "::1"));
	CHECK(agent_trusts(&h.a, "0:0::1")); /* the same address, another spelling */
	CHECK(!agent_trusts(&h.a, "127.0.0.8"));
	return 0;
}

/* ---- RULES I.4: decorrelated heartbeats ---- */

/* The first heartbeat after a registration at U(0, 1)*interval, each later
 * one at U(0.8, 1)*interval (heartbeat 30 s). */
TEST(test_I4_heartbeat_first_uniform_then_80_to_100_percent)
{
	const uint32_t rs[] = { 0, UINT32_MAX / 2, UINT32_MAX };
	const int64_t first[] = { 0, 15000, 30000 }, later[] = { 24000, 27000, 30000 };
	for (int i = 0; i < 3; i++) {
		struct h h;
		setup(&h, 2);
		h.r = rs[i];
		ev(&h, AE_START, 0, 0);
		ev(&h, AE_REG, VERDICT_OK, 200);
		int64_t d = h.a.deadline[AT_HEARTBEAT] - h.now;
		CHECK(d >= first[i] - 1 && d <= first[i]);
		CHECK(h.a.deadline[AT_HEARTBEAT] >= h.now); /* armed even at 0 */
		for (int k = 0; k < 3; k++) {
			CHECK(fire(&h, AT_HEARTBEAT) == 0);
			CHECK(find(&h, AA_OPTIONS));
			ev(&h, AE_OPTIONS, VERDICT_OK, 200);
			d = h.a.deadline[AT_HEARTBEAT] - h.now;
			CHECK(d >= later[i] - 1 && d <= later[i]);
		}
	}
	return 0;
}

/* A refresh is no new registration: the running heartbeat keeps its
 * deadline, so refreshes (at half the grant) can never hold a heartbeat
 * off by drawing a fresh U(0, 1) each time. */
TEST(test_I4_refresh_keeps_the_running_heartbeat)
{
	struct h h;
	setup(&h, 2);
	ev(&h, AE_START, 0, 0);
	ev(&h, AE_REG, VERDICT_OK, 200);          /* first heartbeat at 30 s (r at the top) */
	int64_t hb = h.a.deadline[AT_HEARTBEAT];
	h.r = 0;                                  /* a redraw would say "at once" */
	h.a.deadline[AT_REFRESH] = h.now + 10000;
	CHECK(fire(&h, AT_REFRESH) == 0);
	CHECK(registered_to(&h, 0));
	ev(&h, AE_REG, VERDICT_OK, 200);
	CHECK_INT(h.a.state, AG_REGISTERED);
	CHECK_INT(h.a.deadline[AT_HEARTBEAT], hb);
	/* nua's own refresh answer likewise */
	h.now += 5000;
	ev(&h, AE_REG, VERDICT_OK, 200);
	CHECK_INT(h.a.deadline[AT_HEARTBEAT], hb);
	return 0;
}

/* A new registration (failover, re-REGISTER after a miss, failback) draws
 * a new first heartbeat. */
TEST(test_I4_a_new_registration_draws_a_new_first_heartbeat)
{
	struct h h;
	up_on_primary(&h, 2);
	h.r = UINT32_MAX / 4;
	ev(&h, AE_REG, VERDICT_TIMEOUT, 408);     /* failover to the backup */
	ev(&h, AE_REG, VERDICT_OK, 200);
	CHECK_INT(h.a.server, 1);
	int64_t d = h.a.deadline[AT_HEARTBEAT] - h.now;
	CHECK(d >= 7499 && d <= 7500);
	CHECK(fire(&h, AT_HEARTBEAT) == 0);       /* a miss: re-REGISTER */
	CHECK(fire(&h, AT_HB_ANSWER) == 0);
	h.r = UINT32_MAX / 2;
	ev(&h, AE_REG, VERDICT_OK, 200);
	d = h.a.deadline[AT_HEARTBEAT] - h.now;
	CHECK(d >= 14999 && d <= 15000);
	CHECK(fire(&h, AT_FAILBACK) == 0);        /* the primary answers the probe */
	h.r = 0;
	ev(&h, AE_PROBE, VERDICT_OK, 200);
	CHECK(find(&h, AA_ADOPT_PROBE));
	CHECK_INT(h.a.deadline[AT_HEARTBEAT], h.now);
	return 0;
}

/* ---- RULES I.3: SRV priority as failback ---- */

/* The only server is a name without a port, SRV priorities 10, 10, 20:
 * the first two fail, the line walks to the priority-20 target. */
static void up_on_worse_srv(struct h *h)
{
	setup(h, 1);
	h->sv[0].port = 0;
	h->n_addrs = 3;
	h->prio[0] = h->prio[1] = 10;
	h->prio[2] = 20;
	ev(h, AE_START, 0, 0);
	ev(h, AE_REG, VERDICT_UNREACHABLE, 503);
	ev(h, AE_REG, VERDICT_UNREACHABLE, 503);
	ev(h, AE_REG, VERDICT_OK, 200);
}

TEST(test_I3_worse_srv_priority_probes_the_best_and_fails_back)
{
	struct h h;
	up_on_worse_srv(&h);
	CHECK_INT(h.a.state, AG_REGISTERED);
	CHECK_STR(h.a.address, "192.0.2.3:5060");
	CHECK_INT(h.a.deadline[AT_FAILBACK] - h.now, 1800000);
	CHECK(fire(&h, AT_FAILBACK) == 0);
	const struct agent_action *x = find(&h, AA_PROBE);
	char s[NETADDR_STR_MAX];
	CHECK(x && x->server == 0 && x->route[0] == '\0');
	netaddr_format(s, sizeof s, &x->addr);
	CHECK_STR(s, "192.0.2.1:5060");           /* the first of the best priority */
	ev(&h, AE_PROBE, VERDICT_TIMEOUT, 408);   /* still down: stay, probe again later */
	CHECK(find(&h, AA_PROBE_DROP));
	CHECK_STR(h.a.address, "192.0.2.3:5060");
	CHECK_INT(h.a.deadline[AT_FAILBACK] - h.now, 1800000);
	CHECK(fire(&h, AT_FAILBACK) == 0);
	x = find(&h, AA_PROBE);
	CHECK(x);
	netaddr_format(s, sizeof s, &x->addr);
	CHECK_STR(s, "192.0.2.2:5060");           /* the next of the best priority */
	ev(&h, AE_PROBE, VERDICT_OK, 200);
	x = find(&h, AA_ADOPT_PROBE);
	CHECK(x && x->server == 0 && !x->release_old); /* same Contact: not un-REGISTERed */
	const struct agent_action *p = find_pub(&h, AP_FAILBACK);
	CHECK(p && !strcmp(p->from, "192.0.2.3:5060") && !strcmp(p->to, "192.0.2.2:5060"));
	CHECK(p->from_server == 0 && p->to_server == 0);
	CHECK(strstr(p->reason, "SRV priority 10") && strstr(p->reason, "(was 20)"));
	CHECK(strstr(h.out.log, "failback 192.0.2.3:5060 -> 192.0.2.2:5060"));
	CHECK_STR(h.a.address, "192.0.2.2:5060");
	CHECK_INT(h.a.al.idx, 1);
	CHECK_INT(h.a.server, 0);
	CHECK_INT(h.a.state, AG_REGISTERED);
	CHECK_INT(h.a.failovers, 0);
	CHECK_INT(h.a.deadline[AT_FAILBACK], 0);  /* on the best priority: no more probes */
	CHECK(h.a.deadline[AT_HEARTBEAT] > 0 && h.a.deadline[AT_REFRESH] > h.now);
	/* its requests go to the new target; a refresh 200 arms nothing */
	h.a.deadline[AT_REFRESH] = h.now + 1000;
	CHECK(fire(&h, AT_REFRESH) == 0);
	CHECK_STR(register_address(&h), "192.0.2.2:5060");
	ev(&h, AE_REG, VERDICT_OK, 200);
	CHECK_INT(h.a.deadline[AT_FAILBACK], 0);
	return 0;
}

TEST(test_I3_no_srv_failback_within_a_priority_without_srv_or_when_disabled)
{
	struct h h;
	/* equal priorities: the walk's second address is as good as the first */
	setup(&h, 1);
	h.sv[0].port = 0;
	h.n_addrs = 2;
	h.prio[0] = h.prio[1] = 10;
	ev(&h, AE_START, 0, 0);
	ev(&h, AE_REG, VERDICT_UNREACHABLE, 503);
	ev(&h, AE_REG, VERDICT_OK, 200);
	CHECK_STR(h.a.address, "192.0.2.2:5060");
	CHECK_INT(h.a.deadline[AT_FAILBACK], 0);
	/* A records (no priorities) */
	setup(&h, 1);
	h.n_addrs = 2;
	ev(&h, AE_START, 0, 0);
	ev(&h, AE_REG, VERDICT_UNREACHABLE, 503);
	ev(&h, AE_REG, VERDICT_OK, 200);
	CHECK_STR(h.a.address, "192.0.2.2:5060");
	CHECK_INT(h.a.deadline[AT_FAILBACK], 0);
	/* failback.enabled = false */
	setup(&h, 1);
	h.a.cfg.failback = false;
	h.n_addrs = 2;
	h.prio[0] = 10;
	h.prio[1] = 20;
	ev(&h, AE_START, 0, 0);
	ev(&h, AE_REG, VERDICT_UNREACHABLE, 503);
	ev(&h, AE_REG, VERDICT_OK, 200);
	CHECK_STR(h.a.address, "192.0.2.2:5060");
	CHECK_INT(h.a.deadline[AT_FAILBACK], 0);
	return 0;
}

TEST(test_I3_srv_failback_waits_for_the_call)
{
	struct h h;
	up_on_worse_srv(&h);
	struct agent_event busy = { .kind = AE_IDLE, .idle = false };
	step(&h, &busy);
	CHECK(fire(&h, AT_FAILBACK) == 0);
	CHECK(!find(&h, AA_PROBE));
	CHECK(h.a.failback_pending);
	struct agent_event idle = { .kind = AE_IDLE, .idle = true };
	step(&h, &idle);
	const struct agent_action *x = find(&h, AA_PROBE);
	CHECK(x && x->server == 0);
	return 0;
}

/* A probe's 200 is taken only while its target still ranks above the one
 * in use: a line that meanwhile walked back to the best priority keeps its
 * own binding. */
TEST(test_I3_probe_answer_after_the_line_moved_is_not_adopted)
{
	struct h h;
	up_on_worse_srv(&h);
	CHECK(fire(&h, AT_FAILBACK) == 0);
	CHECK(find(&h, AA_PROBE));
	ev(&h, AE_REG, VERDICT_TIMEOUT, 408);     /* the refresh through .3 fails: */
	CHECK_STR(register_address(&h), "192.0.2.1:5060"); /* the walk wraps to .1 */
	ev(&h, AE_REG, VERDICT_OK, 200);
	CHECK_STR(h.a.address, "192.0.2.1:5060");
	ev(&h, AE_PROBE, VERDICT_OK, 200);
	CHECK(!find(&h, AA_ADOPT_PROBE));
	CHECK(find(&h, AA_PROBE_DROP));
	CHECK(!find_pub(&h, AP_FAILBACK));
	CHECK_STR(h.a.address, "192.0.2.1:5060");
	CHECK_INT(h.a.deadline[AT_FAILBACK], 0);
	return 0;
}

/* A 503 Retry-After from the probed target holds off the next probe, not
 * the server the line is registered with. */
TEST(test_I3_probe_retry_after_holds_off_probes_not_the_server)
{
	struct h h;
	up_on_worse_srv(&h);
	h.a.cfg.failback_ms = 10000;
	h.a.deadline[AT_FAILBACK] = h.now + 10000;
	CHECK(fire(&h, AT_FAILBACK) == 0);
	outcome(&h, AE_PROBE, VERDICT_5XX, 503, 120);
	CHECK_INT(h.a.sv[0].hold_until, 0);
	CHECK_INT(h.a.deadline[AT_FAILBACK] - h.now, 120000);
	return 0;
}

/* A DNS refresh that ranks the target in use below another arms the
 * failback; a line on a backup probes the primary, not its own SRV. */
TEST(test_I3_new_ranking_arms_failback_and_backups_probe_the_primary)
{
	struct h h;
	setup(&h, 1);
	h.sv[0].port = 0;
	h.n_addrs = 2;
	ev(&h, AE_START, 0, 0);
	ev(&h, AE_REG, VERDICT_OK, 200);          /* .1, no priorities yet */
	CHECK_INT(h.a.deadline[AT_FAILBACK], 0);
	h.manual_dns = true;
	h.a.deadline[AT_HEARTBEAT] = 0;
	CHECK(fire(&h, AT_DNS) == 0);
	const struct agent_action *x = find(&h, AA_LOOKUP);
	CHECK(x && x->lookup == AK_REFRESH);
	h.prio[0] = 20;
	h.prio[1] = 10;
	struct dns_answer ans = fake_answer(&h, &(struct dns_key){ .name = x->key_name });
	struct agent_event r = { .kind = AE_ANSWER, .lookup = AK_REFRESH, .answer = &ans };
	agent_step(&h.a, &r, h.now, &h.out);
	CHECK_STR(h.a.address, "192.0.2.1:5060"); /* affinity: no move now */
	CHECK_INT(h.a.deadline[AT_FAILBACK] - h.now, 1800000);
	CHECK(fire(&h, AT_FAILBACK) == 0);
	x = find(&h, AA_PROBE);
	CHECK(x);
	char s[NETADDR_STR_MAX];
	netaddr_format(s, sizeof s, &x->addr);
	CHECK_STR(s, "192.0.2.2:5060");
	/* on a backup, through its worse target: the probe is C.4's */
	setup(&h, 2);
	h.n_addrs = 2;
	h.prio[0] = 10;
	h.prio[1] = 20;
	ev(&h, AE_START, 0, 0);
	ev(&h, AE_REG, VERDICT_UNREACHABLE, 503);
	ev(&h, AE_REG, VERDICT_UNREACHABLE, 503);
	CHECK(registered_to(&h, 1));
	ev(&h, AE_REG, VERDICT_UNREACHABLE, 503);
	CHECK_STR(register_address(&h), "192.0.2.12:5060");
	ev(&h, AE_REG, VERDICT_OK, 200);
	CHECK(fire(&h, AT_FAILBACK) == 0);
	x = find(&h, AA_PROBE);
	CHECK(x && x->server == 0);
	ev(&h, AE_PROBE, VERDICT_OK, 200);
	x = find(&h, AA_ADOPT_PROBE);
	CHECK(x && x->server == 0 && x->release_old);
	CHECK_INT(h.a.server, 0);
	return 0;
}

/* RULES C.4 + I.2: the primary is not the last server, so a failback probe
 * gets retry_count transmissions: unanswered that long, it is a failed
 * probe (its copies end with AA_PROBE_DROP) and the next one is planned. */
TEST(test_I2_an_unanswered_probe_fails_at_the_budget)
{
	struct h h;
	up_on_backup(&h);
	CHECK(fire(&h, AT_FAILBACK) == 0);
	CHECK(find(&h, AA_PROBE));
	int64_t sent = h.now;
	CHECK_INT(h.a.deadline[AT_PROBE], sent + agent_budget_ms(&h.a.cfg));
	CHECK(fire(&h, AT_PROBE) == 0);
	CHECK(find(&h, AA_PROBE_DROP));
	CHECK_INT(h.a.probe, APB_IDLE);
	CHECK(h.a.deadline[AT_FAILBACK] > h.now);
	CHECK_INT(h.a.deadline[AT_PROBE], 0);
	CHECK(h.a.server == 1 && h.a.state == AG_REGISTERED); /* the line stays */
	/* an answer before the budget disarms it */
	CHECK(fire(&h, AT_FAILBACK) == 0);
	CHECK(find(&h, AA_PROBE));
	ev(&h, AE_PROBE, VERDICT_OK, 200);
	CHECK_INT(h.a.deadline[AT_PROBE], 0);
	CHECK_INT(h.a.server, 0);
	return 0;
}
