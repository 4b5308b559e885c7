/* agent.c - the per-line policy of SPEC A and C; pure: no clock, no I/O, no globals. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "agent.h"

/* RFC 5626 4.5's max-time: no backoff grows past this (unless a configured
 * base is larger: then the base is the cap). */
#define AGENT_BACKOFF_MAX_MS (1800 * 1000LL)

static const char *const state_names[AG_STATE_MAX] = {
	[AG_DISABLED] = "disabled",
	[AG_RESOLVING] = "resolving",
	[AG_REGISTERING] = "registering",
	[AG_REGISTERED] = "registered",
	[AG_UNREGISTERING] = "unregistering",
	[AG_WAITING] = "waiting",
	[AG_FAILED] = "failed",
};

static const char *const pub_names[AP_MAX] = {
	[AP_REGISTERED] = "registered",
	[AP_UNREGISTERED] = "unregistered",
	[AP_FAILOVER] = "failover",
	[AP_FAILBACK] = "failback",
	[AP_ERROR] = "error",
	[AP_ADDRESS] = "address",
	[AP_PROXY] = "proxy",
	[AP_DNS] = "dns",
};

const char *agent_state_name(enum agent_state s)
{
	return s < AG_STATE_MAX ? state_names[s] : "?";
}

const char *agent_pub_name(enum agent_pub p)
{
	return p < AP_MAX ? pub_names[p] : "?";
}

int agent_budget_ms(const struct agent_config *cfg)
{
	long long sum = 0, interval = cfg->t1_ms;
	for (int k = 0; k < cfg->retry_count; k++) {
		sum += interval < cfg->t2_ms ? interval : cfg->t2_ms;
		interval *= 2;
	}
	/* Declared a quarter T1 before the next retransmission is due, so the
	 * server sees exactly retry_count of them. */
	return (int)(sum - cfg->t1_ms / 4);
}

int64_t agent_backoff_ms(const struct agent *a, int64_t base_ms, int n)
{
	int64_t cap = base_ms > AGENT_BACKOFF_MAX_MS ? base_ms : AGENT_BACKOFF_MAX_MS;
	int64_t w = base_ms;
	for (int i = 0; i < n && w < cap; i++)
		w *= 2;
	if (w > cap)
		w = cap;
	uint32_t r = a->cfg.rand ? a->cfg.rand(a->cfg.rand_arg) : UINT32_MAX;
	/* half of w, plus a uniform share of the other half */
	return w / 2 + (int64_t)((double)(w - w / 2) * ((double)r / (double)UINT32_MAX));
}

static struct agent_action *act(struct agent_actions *out, enum agent_act_kind kind)
{
	/* AGENT_ACTIONS_MAX bounds what any single step emits (at most 5). */
	struct agent_action *x = &out->v[out->n < AGENT_ACTIONS_MAX ? out->n++ : AGENT_ACTIONS_MAX - 1];
	memset(x, 0, sizeof *x);
	x->kind = kind;
	x->server = -1;
	x->to = -1;
	return x;
}

static void publish(struct agent_actions *out, enum agent_pub pub, int from, int to,
		    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void publish(struct agent_actions *out, enum agent_pub pub, int from, int to,
		    const char *fmt, ...)
{
	struct agent_action *x = act(out, AA_PUBLISH);
	va_list ap;
	x->pub = pub;
	x->server = from;
	x->to = to;
	va_start(ap, fmt);
	vsnprintf(x->reason, sizeof x->reason, fmt, ap);
	va_end(ap);
}

static void set_error(struct agent *a, int64_t now, int code, const char *reason)
{
	a->error_code = code;
	a->error_at = now;
	snprintf(a->error_reason, sizeof a->error_reason, "%s", reason);
}

/* The words an operator reads for a failed request (issue: "REGISTER to
 * 127.0.0.2:5060 timed out after 3 transmissions"). */
static void describe(const struct agent *a, const char *what, const struct agent_event *ev,
		     char *buf, size_t size)
{
	const char *to = ev->target && *ev->target ? ev->target : a->target;
	switch (ev->result) {
	case SIP_RES_TIMEOUT:
		snprintf(buf, size, "%s to %s timed out", what, to);
		break;
	case SIP_RES_UNREACHABLE:
		snprintf(buf, size, "%s to %s: unreachable (%d %s)", what, to, ev->status,
			 ev->phrase ? ev->phrase : "");
		break;
	case SIP_RES_AUTH:
		snprintf(buf, size, "%s to %s: authentication failed (%d %s)", what, to,
			 ev->status, ev->phrase ? ev->phrase : "");
		break;
	default:
		snprintf(buf, size, "%s to %s: %d %s", what, to, ev->status, ev->phrase ? ev->phrase : "");
		break;
	}
}

static bool is_last(const struct agent *a, int i)
{
	return i == a->cfg.n_servers - 1;
}

static void disarm_session(struct agent *a)
{
	a->deadline[AT_BUDGET] = 0;
	a->deadline[AT_HEARTBEAT] = 0;
	a->deadline[AT_HB_ANSWER] = 0;
	a->hb_busy = false;
}

static void drop_probe(struct agent *a, struct agent_actions *out)
{
	if (a->probe_busy)
		act(out, AA_PROBE_DROP);
	a->probe_busy = false;
	a->deadline[AT_FAILBACK] = 0;
	a->failback_pending = false;
}

/* REGISTER through the address in use; LEFT addresses follow it. */
static void send_register(struct agent *a, int left, int64_t now, struct agent_actions *out)
{
	struct agent_action *x = act(out, AA_REGISTER);
	x->server = a->server;
	a->state = AG_REGISTERING;
	a->reg_busy = true;
	/* SPEC C: retry_count transmissions, except through the last address
	 * of the last server, which gets RFC 3261's full 64*T1 (nta's own
	 * timeout ends it). */
	if (!is_last(a, a->server) || left > 0)
		a->deadline[AT_BUDGET] = now + agent_budget_ms(&a->cfg);
}

/* Register at server I. FROM_FIRST: a new attempt, which begins at the
 * first address of I's next hop (resolving it first: SPEC B); else the
 * same address again (affinity: a heartbeat miss, SPEC A.4's second try).
 * A new server gets a new binding (contact ;srv=I); RELEASE_OLD
 * un-REGISTERs the old one on the way. */
static void start_register(struct agent *a, int i, int64_t now, bool release_old, bool from_first,
			   struct agent_actions *out)
{
	if (i != a->server) {
		struct agent_action *x = act(out, AA_ABANDON);
		x->release_old = release_old && a->bound;
		a->bound = false;
		drop_probe(a, out);
		from_first = true;
	}
	a->server = i;
	a->deadline[AT_RETRY] = 0;
	disarm_session(a);
	if (from_first) {
		struct agent_action *x = act(out, AA_RESOLVE);
		x->server = i;
		a->state = AG_RESOLVING;
		a->reg_busy = false;
		return;
	}
	send_register(a, a->addr_left, now, out);
}

/* The binding's request failed: forget it, and every request of it in flight. */
static void drop_binding(struct agent *a, struct agent_actions *out)
{
	a->reg_busy = a->unreg_busy = false;
	a->reverify = a->unreg_4xx = a->again_4xx = false;
	a->bound = false;
	disarm_session(a);
	act(out, AA_ABANDON);
}

/* SPEC B.4: the server failed through one of its addresses and the next hop
 * has more: the same server through the next one. */
static bool next_address(struct agent *a, int64_t now, const char *reason, struct agent_actions *out)
{
	if (a->stopping)
		return false;
	if (a->addr_left <= 0) {
		/* The last address failed too: the list is used up; the next
		 * attempt resolves the name again (B.4). Not after a failed
		 * lookup: no address was used. */
		if (a->state != AG_RESOLVING)
			act(out, AA_NEXT_ADDRESS);
		return false;
	}
	drop_binding(a, out);
	act(out, AA_NEXT_ADDRESS);
	publish(out, AP_ADDRESS, a->server, a->server, "%s", reason);
	send_register(a, --a->addr_left, now, out);
	return true;
}

/* The first server at or after FROM that is not held down by Retry-After;
 * -1 if none. */
static int next_free(const struct agent *a, int from, int64_t now)
{
	for (int i = from; i < a->cfg.n_servers; i++)
		if (a->sv[i].hold_until <= now)
			return i;
	return -1;
}

static void wait_then_register(struct agent *a, int i, int64_t when)
{
	a->state = AG_WAITING;
	a->retry_server = i;
	if (a->sv[i].hold_until > when)
		when = a->sv[i].hold_until;
	a->deadline[AT_RETRY] = when;
}

/* SPEC A.2/A.3 and C: the server failed; REASON says how. */
static void server_failed(struct agent *a, int64_t now, const char *reason, struct agent_actions *out)
{
	int cur = a->server, n = a->cfg.n_servers;
	if (next_address(a, now, reason, out))
		return;
	drop_probe(a, out);
	drop_binding(a, out);

	if (n == 1) {
		/* Only one server: register again when timer 2 expires. */
		int64_t w = agent_backoff_ms(a, a->cfg.retry_delay_ms, a->failed_cycles++);
		publish(out, AP_ERROR, cur, -1, "%s; again in %lld s", reason, (long long)((w + 999) / 1000));
		wait_then_register(a, 0, now + w);
		return;
	}
	if (!is_last(a, cur)) {
		int next = next_free(a, cur + 1, now);
		if (next >= 0) {
			a->failovers++;
			publish(out, AP_FAILOVER, cur, next, "%s", reason);
			start_register(a, next, now, false, true, out);
			return;
		}
	}
	/* The last server failed (or every later one is held down). */
	if (a->sv[cur].registered_before && a->failed_cycles == 0 && is_last(a, cur) &&
	    a->sv[0].hold_until <= now) {
		/* SPEC A.2: the backup worked before: back to the primary at once. */
		a->failed_cycles++;
		a->failovers++;
		publish(out, AP_FAILOVER, cur, 0, "%s", reason);
		start_register(a, 0, now, false, true, out);
		return;
	}
	/* SPEC C: all servers unavailable: the failure is reported; SPEC A.2
	 * timer 1 brings the line back to the primary, backing off over
	 * repeated full failures (RFC 5626 4.5). */
	int64_t w = agent_backoff_ms(a, a->cfg.return_delay_ms, a->failed_cycles++);
	publish(out, AP_ERROR, cur, -1, "all %d servers unavailable (%s); primary again in %lld s",
		n, reason, (long long)((w + 999) / 1000));
	wait_then_register(a, 0, now + w);
}

static void arm_failback(struct agent *a, int64_t now)
{
	if (a->server != 0 && a->cfg.failback && !a->probe_busy)
		a->deadline[AT_FAILBACK] = now + agent_backoff_ms(a, a->cfg.failback_ms, 0);
}

static void registered(struct agent *a, const struct agent_event *ev, int64_t now,
		       struct agent_actions *out)
{
	bool was = a->state == AG_REGISTERED || a->reverify;
	a->reg_busy = false;
	a->reverify = a->unreg_4xx = a->again_4xx = false;
	a->bound = true;
	a->failed_cycles = 0;
	a->sv[a->server].registered_before = true;
	a->granted_s = ev->expires;
	a->registered_at = now;
	a->deadline[AT_BUDGET] = 0;
	a->deadline[AT_RETRY] = 0;
	a->state = AG_REGISTERED;
	if (!was)
		publish(out, AP_REGISTERED, -1, a->server, "granted %d s", ev->expires);
	if (a->cfg.heartbeat_ms > 0 && !a->deadline[AT_HEARTBEAT])
		a->deadline[AT_HEARTBEAT] = now + a->cfg.heartbeat_ms;
	if (!a->deadline[AT_FAILBACK])
		arm_failback(a, now);
}

static void on_reg(struct agent *a, const struct agent_event *ev, int64_t now, struct agent_actions *out)
{
	char why[AGENT_REASON_MAX];
	if (a->stopping)
		return;
	if (ev->result == SIP_RES_OK) {
		registered(a, ev, now, out);
		return;
	}
	describe(a, "REGISTER", ev, why, sizeof why);
	set_error(a, now, ev->status, why);
	if (ev->retry_after > 0 && ev->status == 503)
		a->sv[a->server].hold_until = now + (int64_t)ev->retry_after * 1000;

	if (ev->result == SIP_RES_AUTH) {
		/* Wrong credentials are not the server's fault and another try
		 * now would fail alike: same server, after timer 2, backing off. */
		int64_t w = agent_backoff_ms(a, a->cfg.retry_delay_ms, a->failed_cycles++);
		a->reg_busy = false;
		a->bound = false;
		disarm_session(a);
		act(out, AA_ABANDON);
		publish(out, AP_ERROR, a->server, -1, "%s; again in %lld s", why, (long long)((w + 999) / 1000));
		wait_then_register(a, a->server, now + w);
		return;
	}
	if (ev->result == SIP_RES_4XX && !a->again_4xx) {
		/* SPEC A.4: clear our binding there first, then register again. */
		a->reg_busy = false;
		a->unreg_4xx = true;
		a->unreg_busy = true;
		a->state = AG_UNREGISTERING;
		disarm_session(a);
		act(out, AA_UNREGISTER);
		if (!is_last(a, a->server))
			a->deadline[AT_BUDGET] = now + agent_budget_ms(&a->cfg);
		publish(out, AP_ERROR, a->server, -1, "%s; un-REGISTER, then REGISTER again", why);
		return;
	}
	server_failed(a, now, why, out);
}

static void on_unreg(struct agent *a, const struct agent_event *ev, int64_t now, struct agent_actions *out)
{
	char why[AGENT_REASON_MAX];
	a->unreg_busy = false;
	a->deadline[AT_BUDGET] = 0;
	if (a->stopping) {
		a->bound = false;
		a->state = a->cfg.enabled ? AG_WAITING : AG_DISABLED;
		publish(out, AP_UNREGISTERED, a->server, -1, "stopping");
		act(out, AA_STOPPED);
		if (a->restart) {
			a->restart = a->stopping = false;
			start_register(a, a->server, now, false, true, out);
		}
		return;
	}
	if (!a->unreg_4xx)
		return;
	a->unreg_4xx = false;
	if (ev->result == SIP_RES_OK) {
		a->bound = false;
		start_register(a, a->server, now, false, false, out);
		a->again_4xx = true; /* a second 4xx now is the server's failure */
		return;
	}
	describe(a, "un-REGISTER", ev, why, sizeof why);
	set_error(a, now, ev->status, why);
	server_failed(a, now, why, out);
}

/* SPEC A.6/A.7: a request of the line failed: register again on the same
 * server; only if that fails does the line switch. */
static void reverify(struct agent *a, int64_t now, const char *why, struct agent_actions *out)
{
	set_error(a, now, 0, why);
	if (a->state != AG_REGISTERED)
		return;
	start_register(a, a->server, now, false, false, out);
	a->reverify = true;
}

static void on_options(struct agent *a, const struct agent_event *ev, int64_t now, struct agent_actions *out)
{
	char why[AGENT_REASON_MAX];
	if (!a->hb_busy)
		return; /* already judged by AT_HB_ANSWER, or the session moved on */
	a->hb_busy = false;
	a->deadline[AT_HB_ANSWER] = 0;
	/* Any final response from the server proves it alive (sip.c maps those
	 * to OK); only our own stack's verdicts are misses. */
	if (ev->result == SIP_RES_OK)
		return;
	describe(a, "OPTIONS", ev, why, sizeof why);
	reverify(a, now, why, out);
}

static void on_probe(struct agent *a, const struct agent_event *ev, int64_t now, struct agent_actions *out)
{
	if (!a->probe_busy)
		return;
	a->probe_busy = false;
	if (ev->result == SIP_RES_OK && a->state == AG_REGISTERED && a->server != 0) {
		int from = a->server;
		act(out, AA_ADOPT_PROBE);
		publish(out, AP_FAILBACK, from, 0, "the primary answered the failback probe");
		a->server = 0;
		a->sv[0].registered_before = true;
		a->granted_s = ev->expires;
		a->registered_at = now;
		a->failed_cycles = 0;
		a->deadline[AT_FAILBACK] = 0;
		disarm_session(a);
		if (a->cfg.heartbeat_ms > 0)
			a->deadline[AT_HEARTBEAT] = now + a->cfg.heartbeat_ms;
		return;
	}
	/* The primary did not take it (the REGISTER ran its full 64*T1, or
	 * was refused): stay, and probe again after another interval. */
	act(out, AA_PROBE_DROP);
	if (ev->result != SIP_RES_OK && ev->retry_after > 0 && ev->status == 503)
		a->sv[0].hold_until = now + (int64_t)ev->retry_after * 1000;
	if (a->state == AG_REGISTERED)
		arm_failback(a, now);
}

static void probe_now(struct agent *a, int64_t now, struct agent_actions *out)
{
	if (a->sv[0].hold_until > now) {
		a->deadline[AT_FAILBACK] = a->sv[0].hold_until;
		return;
	}
	struct agent_action *x = act(out, AA_PROBE);
	x->server = 0;
	a->probe_busy = true;
}

static void on_timer(struct agent *a, enum agent_timer t, int64_t now, struct agent_actions *out)
{
	char why[AGENT_REASON_MAX];
	a->deadline[t] = 0;
	if (a->stopping)
		return;
	switch (t) {
	case AT_RETRY:
		if (a->state != AG_WAITING)
			return;
		if (a->retry_server != a->server) {
			a->failovers++;
			publish(out, AP_FAILOVER, a->server, a->retry_server,
				a->retry_server == 0 ? "return to the primary (timer 1)" : "retry");
		}
		start_register(a, a->retry_server, now, false, true, out);
		return;
	case AT_BUDGET:
		if (a->reg_busy) {
			snprintf(why, sizeof why, "REGISTER to %s timed out after %d transmissions",
				 a->target, a->cfg.retry_count);
		} else if (a->unreg_busy) {
			snprintf(why, sizeof why, "un-REGISTER to %s timed out after %d transmissions",
				 a->target, a->cfg.retry_count);
		} else {
			return;
		}
		set_error(a, now, 408, why);
		server_failed(a, now, why, out);
		return;
	case AT_HEARTBEAT:
		if (a->state != AG_REGISTERED)
			return;
		a->deadline[AT_HEARTBEAT] = now + a->cfg.heartbeat_ms;
		if (a->hb_busy)
			return;
		act(out, AA_OPTIONS);
		a->hb_busy = true;
		/* A live server answers within T1 (RFC 3261 17.1.2.2); waiting for
		 * the OPTIONS' own 64*T1 would cost more than the whole retry
		 * budget. A miss only re-registers on the same server, so a slow
		 * server costs one REGISTER, never a switch. */
		a->deadline[AT_HB_ANSWER] = now + a->cfg.t1_ms;
		return;
	case AT_HB_ANSWER:
		if (!a->hb_busy)
			return;
		a->hb_busy = false;
		snprintf(why, sizeof why, "OPTIONS to %s unanswered after %d ms", a->target, a->cfg.t1_ms);
		reverify(a, now, why, out);
		return;
	case AT_FAILBACK:
		if (a->state != AG_REGISTERED || a->server == 0 || a->probe_busy)
			return;
		if (!a->idle) {
			a->failback_pending = true; /* moves when the call ends */
			return;
		}
		probe_now(a, now, out);
		return;
	case AT_MAX:
		return;
	}
}

void agent_init(struct agent *a, const struct agent_config *cfg, const bool *registered_before)
{
	memset(a, 0, sizeof *a);
	a->cfg = *cfg;
	if (a->cfg.n_servers > AGENT_SERVERS_MAX)
		a->cfg.n_servers = AGENT_SERVERS_MAX;
	if (a->cfg.n_servers < 1)
		a->cfg.n_servers = 1;
	for (int i = 0; registered_before && i < a->cfg.n_servers; i++)
		a->sv[i].registered_before = registered_before[i];
	a->state = AG_WAITING;
	a->idle = true;
}

void agent_resume(struct agent *a, int server, uint32_t registered_before)
{
	if (server >= 0 && server < a->cfg.n_servers)
		a->server = a->retry_server = server;
	for (int i = 0; i < a->cfg.n_servers && i < 32; i++)
		a->sv[i].registered_before = (registered_before >> i) & 1;
}

static void on_resolved(struct agent *a, const struct agent_event *ev, int64_t now,
			struct agent_actions *out)
{
	char why[AGENT_REASON_MAX];
	if (a->stopping || a->state != AG_RESOLVING)
		return;
	if (ev->result == SIP_RES_OK) {
		send_register(a, a->addr_left, now, out);
		return;
	}
	/* SPEC A.2: a failed resolution is a registration failure. */
	snprintf(why, sizeof why, "%s", ev->phrase ? ev->phrase : "DNS lookup failed");
	set_error(a, now, 0, why);
	server_failed(a, now, why, out);
}

void agent_step(struct agent *a, const struct agent_event *ev, int64_t now, struct agent_actions *out)
{
	out->n = 0;
	a->addr_left = ev->addr_left;
	switch (ev->kind) {
	case AE_START:
		if (!a->cfg.enabled) {
			a->state = AG_DISABLED;
			return;
		}
		if (a->cfg.start_spread_ms > 0) {
			/* Storm control: a fleet that reboots together must not hit
			 * the registrar at once: the first REGISTER waits U(0, spread). */
			uint32_t r = a->cfg.rand ? a->cfg.rand(a->cfg.rand_arg) : 0;
			int64_t w = (int64_t)((double)a->cfg.start_spread_ms * ((double)r / (double)UINT32_MAX));
			wait_then_register(a, a->server, now + w);
			return;
		}
		start_register(a, a->server, now, false, true, out);
		return;
	case AE_STOP:
		a->stopping = true;
		a->restart = false; /* a stop for good outranks an earlier `register` */
		for (int t = 0; t < AT_MAX; t++)
			a->deadline[t] = 0;
		drop_probe(a, out);
		if (a->bound || a->reg_busy) {
			a->reg_busy = false;
			a->unreg_busy = true;
			a->state = AG_UNREGISTERING;
			act(out, AA_UNREGISTER);
		} else {
			a->state = a->cfg.enabled ? AG_WAITING : AG_DISABLED;
			act(out, AA_STOPPED);
		}
		return;
	case AE_TIMER:
		on_timer(a, ev->timer, now, out);
		return;
	case AE_REG:
		on_reg(a, ev, now, out);
		return;
	case AE_UNREG:
		on_unreg(a, ev, now, out);
		return;
	case AE_OPTIONS:
		if (!a->stopping)
			on_options(a, ev, now, out);
		return;
	case AE_PROBE:
		if (!a->stopping)
			on_probe(a, ev, now, out);
		return;
	case AE_FORCE_FAILOVER: {
		if (a->stopping || a->state == AG_DISABLED)
			return;
		int from = a->server, next = (a->server + 1) % a->cfg.n_servers;
		a->failovers++;
		publish(out, AP_FAILOVER, from, next, "requested by the operator");
		a->reverify = a->unreg_4xx = a->again_4xx = false;
		a->unreg_busy = false;
		start_register(a, next, now, next != from, true, out);
		return;
	}
	case AE_REGISTER_NOW:
		if (a->state == AG_DISABLED)
			return;
		if (a->stopping) {
			/* `register` after `unregister`: once the un-REGISTER is
			 * answered (the next binding reuses its Contact). */
			if (a->unreg_busy) {
				a->restart = true;
				return;
			}
			a->stopping = false;
			start_register(a, a->server, now, false, true, out);
			return;
		}
		if (a->state == AG_WAITING || a->state == AG_RESOLVING)
			start_register(a, a->state == AG_WAITING ? a->retry_server : a->server, now,
				       false, true, out);
		else
			start_register(a, a->server, now, false, false, out);
		return;
	case AE_IDLE:
		a->idle = ev->idle;
		if (a->idle && a->failback_pending && a->state == AG_REGISTERED && a->server != 0) {
			a->failback_pending = false;
			probe_now(a, now, out);
		}
		return;
	case AE_RESOLVED:
		on_resolved(a, ev, now, out);
		return;
	case AE_MAX:
		return;
	}
}
