/* agent.c - the per-line policy of RULES A-C (and D's restore); pure: no clock,
 * no I/O, no globals. Transitions go through transition(); one log line per step. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "backoff.h"

int agent_budget_ms(const struct agent_config *cfg)
{
	long long sum = 0, interval = cfg->t1_ms;
	for (int k = 0; k < cfg->retry_count; k++) {
		sum += interval < cfg->t2_ms ? interval : cfg->t2_ms;
		interval *= 2;
	}
	/* Declared before the next retransmission is due, so the server sees
	 * exactly retry_count of them (I.2): sip.c then ends the transaction
	 * through nta's socket, which nta reads only after its due timers, so
	 * the margin must cover a busy loop too: half a T1, at most 100 ms
	 * (the last copy still gets most of its answer time). */
	long long margin = cfg->t1_ms / 2 < 100 ? cfg->t1_ms / 2 : 100;
	return (int)(sum - margin);
}

static int64_t backoff(const struct agent *a, int64_t base_ms, int n)
{
	uint32_t r = a->cfg.rand ? a->cfg.rand(a->cfg.rand_arg) : UINT32_MAX;
	return backoff_ms(base_ms, n, BACKOFF_CAP_MS, r);
}

/* A broken invariant (STYLE 6): a debug build stops here so the bug is
 * seen; a release build (NDEBUG) logs it and starts the line over at the
 * end of the step. */
static void bug(struct agent *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bug(struct agent *a, const char *fmt, ...)
{
	char text[AGENT_REASON_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
#ifndef NDEBUG
	fprintf(stderr, "sipuad: agent bug: %s\n", text);
	abort();
#endif
	if (a->out)
		snprintf(a->out->bug, sizeof a->out->bug, "%s", text);
}

static struct agent_action *act(struct agent *a, struct agent_actions *out, enum agent_act_kind kind)
{
	if (out->n >= AGENT_ACTIONS_MAX) {
		/* only a release build gets past bug(): the spare slot takes it */
		bug(a, "more than %d actions in one step", AGENT_ACTIONS_MAX);
		return memset(&out->v[AGENT_ACTIONS_MAX], 0, sizeof out->v[0]);
	}
	struct agent_action *x = &out->v[out->n++];
	memset(x, 0, sizeof *x);
	x->kind = kind;
	x->server = -1;
	return x;
}

/* An action's key is a copy: the agent's own name buffers may change
 * later in the same step (a failover points the list at another name). */
static void set_key(struct agent_action *x, const struct dns_key *k)
{
	snprintf(x->key_name, sizeof x->key_name, "%s", k->name);
	x->key = *k;
	x->key.name = x->key_name;
}

struct dns_key agent_action_key(const struct agent_action *x)
{
	struct dns_key k = x->key;
	k.name = x->key_name;
	return k;
}

/* The reason the step's log line gives; the first one said wins. */
static void because(struct agent *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void because(struct agent *a, const char *fmt, ...)
{
	if (!a->out || a->out->why[0])
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(a->out->why, sizeof a->out->why, fmt, ap);
	va_end(ap);
}

/* What can follow what (DESIGN "Line states"). A disabled line never
 * moves; only a REGISTER's 200 registers. */
bool agent_legal(enum agent_state from, enum agent_state to)
{
	if (from == to)
		return true;
	if (from == AG_DISABLED)
		return false;
	if (to == AG_DISABLED)
		return from == AG_WAITING; /* AE_START of a disabled line */
	if (to == AG_REGISTERED)
		return from == AG_REGISTERING;
	return true;
}

/* The one place the state changes. */
static void transition(struct agent *a, enum agent_state to)
{
	if (!agent_legal(a->state, to)) {
		bug(a, "illegal transition %s -> %s", agent_state_name(a->state), agent_state_name(to));
		return;
	}
	a->state = to;
}

/* "primary 127.0.0.2:5060/udp": how events name a server. */
static void describe_server(const struct agent *a, int i, char *buf, size_t size)
{
	char role[24], hostport[ADDRLIST_NAME_MAX + 8];
	if (i < 0 || i >= a->cfg.n_servers) {
		buf[0] = '\0';
		return;
	}
	const struct conf_server *sv = &a->cfg.servers[i];
	agent_role_name(i, role, sizeof role);
	netaddr_host(hostport, sizeof hostport, sv->host, sv->port ? sv->port : dns_default_port(sv->transport));
	snprintf(buf, size, "%s %s/%s", role, hostport,
		 agent_transport_name(sv->transport));
}

static void publish_text(struct agent *a, struct agent_actions *out, enum agent_pub pub,
			 const char *from, const char *to, const char *text)
{
	struct agent_action *x = act(a, out, AA_PUBLISH);
	x->pub = pub;
	snprintf(x->from, sizeof x->from, "%s", from);
	snprintf(x->to, sizeof x->to, "%s", to);
	snprintf(x->reason, sizeof x->reason, "%s", text);
	x->from_server = x->to_server = -1;
	if (pub == AP_FAILOVER || pub == AP_FAILBACK || pub == AP_ADDRESS || pub == AP_PROXY)
		because(a, "%s %s -> %s: %s", agent_pub_name(pub), from, to, text);
	else
		because(a, "%s", text);
}

/* An event naming servers FROM and TO (-1: none). */
static void publish(struct agent *a, struct agent_actions *out, enum agent_pub pub, int from, int to,
		    const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void publish(struct agent *a, struct agent_actions *out, enum agent_pub pub, int from, int to,
		    const char *fmt, ...)
{
	char f[AGENT_DESC_MAX], t[AGENT_DESC_MAX], text[AGENT_REASON_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	describe_server(a, from, f, sizeof f);
	describe_server(a, to, t, sizeof t);
	publish_text(a, out, pub, f, t, text);
	if (out->n > 0 && out->v[out->n - 1].kind == AA_PUBLISH) {
		out->v[out->n - 1].from_server = from;
		out->v[out->n - 1].to_server = to;
	}
}

static void set_error(struct agent *a, int64_t now, int code, const char *reason)
{
	a->error_code = code;
	a->error_at = now;
	snprintf(a->error_reason, sizeof a->error_reason, "%s", reason);
}

/* The words an operator reads for a failed request: "REGISTER to
 * 127.0.0.2:5060 timed out". */
static void describe(const char *what, const char *to, enum verdict v, const struct agent_event *ev,
		     char *buf, size_t size)
{
	const char *phrase = ev->phrase ? ev->phrase : "";
	switch (v) {
	case VERDICT_TIMEOUT:
		if (ev->local)
			snprintf(buf, size, "%s to %s timed out", what, to);
		else /* a proxy's word */
			snprintf(buf, size, "%s to %s timed out: %d %s", what, to, ev->status, phrase);
		break;
	case VERDICT_UNREACHABLE:
		snprintf(buf, size, "%s to %s unreachable: %d %s", what, to, ev->status, phrase);
		break;
	case VERDICT_AUTH:
		snprintf(buf, size, "%s to %s: authentication failed: %d %s", what, to, ev->status, phrase);
		break;
	default:
		if (ev->status)
			snprintf(buf, size, "%s to %s: %d %s", what, to, ev->status, phrase);
		else
			snprintf(buf, size, "%s to %s: %s", what, to, *phrase ? phrase : "could not be sent");
		break;
	}
}

static bool is_last(const struct agent *a, int i)
{
	return i == a->cfg.n_servers - 1;
}

/* What server I asks for: what this registrar insisted on before (423's
 * Min-Expires, remembered across restarts) rather than draw the 423 again. */
static int expires_for(const struct agent *a, int i)
{
	int expires = a->cfg.servers[i].expires;
	return a->sv[i].learned_min > expires ? a->sv[i].learned_min : expires;
}

static void disarm_session(struct agent *a)
{
	a->deadline[AT_BUDGET] = 0;
	a->deadline[AT_HEARTBEAT] = 0;
	a->deadline[AT_HB_ANSWER] = 0;
	a->deadline[AT_REFRESH] = 0;
	a->refresh_busy = false;
}

/* A.5: the binding is refreshed at a uniform 50-75 % of what the server
 * granted: early enough for a retry budget and a failover before it runs
 * out, spread so lines that registered together do not refresh together. */
static void arm_refresh(struct agent *a, int64_t now, int granted_s)
{
	uint32_t r = a->cfg.rand ? a->cfg.rand(a->cfg.rand_arg) : UINT32_MAX;
	int64_t g = (int64_t)(granted_s > 2 ? granted_s : 2) * 1000;
	a->deadline[AT_REFRESH] = now + g / 2 + (int64_t)((double)(g / 4) * ((double)r / (double)UINT32_MAX));
}

static void drop_probe(struct agent *a, struct agent_actions *out)
{
	if (a->probe != APB_IDLE)
		act(a, out, AA_PROBE_DROP);
	a->probe = APB_IDLE;
	a->deadline[AT_FAILBACK] = 0;
	a->deadline[AT_PROBE] = 0;
	a->failback_pending = false;
}

static void cancel_refresh(struct agent *a, struct agent_actions *out)
{
	if (!a->refreshing)
		return;
	act(a, out, AA_CANCEL_LOOKUP)->lookup = AK_REFRESH;
	a->refreshing = false;
}

/* The binding's requests go through the address list's current address. */
static void use_current(struct agent *a)
{
	const struct netaddr *x = addrlist_current(&a->al);
	if (!x)
		return;
	a->cur = *x;
	a->addr_server = a->server;
	netaddr_format(a->address, sizeof a->address, x);
	snprintf(a->route, sizeof a->route, "%s", a->al.route);
}

/* Ask the runner for K's addresses (AE_ANSWER follows); FRESH_OK: a fresh
 * cached answer will do. */
static void ask(struct agent *a, struct agent_actions *out, enum agent_lookup kind,
		const struct dns_key *k, bool fresh_ok)
{
	struct agent_action *x = act(a, out, AA_LOOKUP);
	x->lookup = kind;
	set_key(x, k);
	x->fresh_ok = fresh_ok;
}

/* An IP literal is its own answer (RULES B.3): no lookup, no resolving. */
static bool literal_answer(const struct dns_key *k, struct dns_answer *ans)
{
	if (!netaddr_is_literal(k->name))
		return false;
	memset(ans, 0, sizeof *ans);
	snprintf(ans->v[0].ip, sizeof ans->v[0].ip, "%s", k->name);
	ans->v[0].port = k->port ? k->port : dns_default_port(k->tp);
	ans->n = 1;
	return true;
}

/* A lookup failed (or recovered): say so once per change, not per retry,
 * so a long DNS outage costs one history entry (and one flash write). */
static void note_dns(struct agent *a, const struct dns_answer *ans, struct agent_actions *out)
{
	char why[AGENT_REASON_MAX];
	if (ans->status == a->dns_status)
		return;
	a->dns_status = ans->status;
	if (ans->status == DNS_OK)
		return;
	if (ans->n && ans->status == DNS_ENXDOMAIN)
		snprintf(why, sizeof why, "%.120s: the name is gone; its last good answer is not used",
			 ans->error);
	else if (ans->n)
		snprintf(why, sizeof why, "%.140s; using the last good answer (%d address%s)", ans->error,
			 ans->n, ans->n == 1 ? "" : "es");
	else
		snprintf(why, sizeof why, "%.140s; no address known", ans->error);
	publish_text(a, out, AP_DNS, "", "", why);
}

/* A REGISTER of the line's binding through the address in use. C.5: it
 * gets retry_count transmissions, except through the last address of the
 * last server, which gets RFC 3261's full 64*T1 (nta's own timeout ends it). */
static void emit_register(struct agent *a, int64_t now, struct agent_actions *out)
{
	struct agent_action *x = act(a, out, AA_REGISTER);
	x->server = a->server;
	x->addr = a->cur;
	snprintf(x->route, sizeof x->route, "%s", a->route);
	snprintf(x->name, sizeof x->name, "%s", a->al.name);
	x->tp = a->cfg.servers[a->server].transport;
	x->expires = expires_for(a, a->server);
	if (!is_last(a, a->server) || addrlist_left(&a->al) > 0)
		a->deadline[AT_BUDGET] = now + agent_budget_ms(&a->cfg);
}

static void send_register(struct agent *a, int64_t now, struct agent_actions *out)
{
	if (a->route[0])
		because(a, "REGISTER to %s via %s", a->route, a->address);
	else
		because(a, "REGISTER to %s", a->address);
	emit_register(a, now, out);
	transition(a, AG_REGISTERING);
}

static void server_failed(struct agent *a, int64_t now, const char *reason, struct agent_actions *out);
static void attempt_answer(struct agent *a, const struct dns_answer *ans, int64_t now,
			   struct agent_actions *out);

/* Ask for the next hop's addresses: a literal answers itself at once. */
static void lookup_attempt(struct agent *a, int64_t now, struct agent_actions *out)
{
	struct dns_key k = addrlist_key(&a->al);
	struct dns_answer lit;
	if (literal_answer(&k, &lit)) {
		attempt_answer(a, &lit, now, out);
		return;
	}
	/* B.4: after every address failed, the nameservers are asked, not
	 * the cache. */
	ask(a, out, AK_ATTEMPT, &k, !a->al.exhausted);
	because(a, "looking up %s", k.name);
	transition(a, AG_RESOLVING);
}

/* A new attempt on the current server, from the first address of its next
 * hop (RULES B.2): the name's answer is used while fresh, else looked up. */
static void begin_attempt(struct agent *a, int64_t now, struct agent_actions *out)
{
	cancel_refresh(a, out);
	if (addrlist_begin(&a->al, &a->cfg.servers[a->server], now) == AL_LOOKUP) {
		lookup_attempt(a, now, out);
		return;
	}
	use_current(a);
	send_register(a, now, out);
}

/* B.2-B.5: the answer for an attempt. */
static void attempt_answer(struct agent *a, const struct dns_answer *ans, int64_t now,
			   struct agent_actions *out)
{
	char why[AGENT_REASON_MAX];
	int before = a->al.proxy;
	note_dns(a, ans, out);
	enum al_verdict v = addrlist_resolved(&a->al, ans);
	if (a->al.proxy != before && before >= 0) {
		/* B.5: the proxy could not be resolved: the next one. */
		publish_text(a, out, AP_PROXY, a->cfg.proxies[before], a->cfg.proxies[a->al.proxy],
			     ans->error[0] ? ans->error : "no address");
	}
	if (v == AL_LOOKUP) {
		lookup_attempt(a, now, out);
		return;
	}
	if (v == AL_USE && addrlist_current(&a->al)) {
		use_current(a);
		send_register(a, now, out);
		return;
	}
	/* A.2: a failed resolution is a registration failure. */
	snprintf(why, sizeof why, "DNS: %.180s", a->al.ans.error[0] ? a->al.ans.error : "no address to use");
	set_error(a, now, 0, why);
	server_failed(a, now, why, out);
}

/* Register at server I. FROM_FIRST: a new attempt, which begins at the
 * first address of I's next hop; else the same address again (affinity: a
 * heartbeat miss, A.4's second try). A new server gets a new binding
 * (Contact ;srv=I); RELEASE_OLD un-REGISTERs the old one on the way. */
static void start_register(struct agent *a, int i, int64_t now, bool release_old, bool from_first,
			   enum agent_reg purpose, struct agent_actions *out)
{
	if (i != a->server) {
		act(a, out, AA_ABANDON)->release_old = release_old && a->bound;
		a->bound = false;
		drop_probe(a, out);
		from_first = true;
	}
	a->server = i;
	a->reg = purpose;
	a->deadline[AT_RETRY] = 0;
	disarm_session(a);
	if (from_first || !a->address[0])
		begin_attempt(a, now, out);
	else
		send_register(a, now, out);
}

/* The binding's request failed: forget it, and every request of it in flight. */
static void drop_binding(struct agent *a, struct agent_actions *out)
{
	a->bound = false;
	disarm_session(a);
	act(a, out, AA_ABANDON);
}

/* B.4: the server failed through one of its addresses: the same server
 * through the next address, while the next hop has one not yet tried. */
static bool next_address(struct agent *a, int64_t now, const char *reason, struct agent_actions *out)
{
	char prev[NETADDR_STR_MAX];
	if (a->halted || a->state == AG_RESOLVING)
		return false; /* a failed lookup: no address was used */
	snprintf(prev, sizeof prev, "%s", a->address);
	if (addrlist_failed(&a->al) == AL_USE && addrlist_current(&a->al)) {
		drop_binding(a, out);
		use_current(a);
		publish_text(a, out, AP_ADDRESS, prev, a->address, reason);
		a->reg = AR_NEW;
		send_register(a, now, out);
		return true;
	}
	/* The last address failed too: the name is asked again before its
	 * next use, also after the line was on another server meanwhile. */
	struct dns_key k = addrlist_key(&a->al);
	if (k.name[0] && !netaddr_is_literal(k.name))
		set_key(act(a, out, AA_INVALIDATE), &k);
	return false;
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

static void wait_then_register(struct agent *a, enum agent_state st, int i, int64_t when)
{
	transition(a, st);
	a->retry_server = i;
	if (a->sv[i].hold_until > when)
		when = a->sv[i].hold_until;
	a->deadline[AT_RETRY] = when;
}

/* A.2/A.3 and C: the server failed; REASON says how. */
static void server_failed(struct agent *a, int64_t now, const char *reason, struct agent_actions *out)
{
	int cur = a->server, n = a->cfg.n_servers;
	if (next_address(a, now, reason, out))
		return;
	drop_probe(a, out);
	drop_binding(a, out);

	if (n == 1) {
		/* Only one server: register again when timer 2 expires. */
		int64_t w = backoff(a, a->cfg.retry_delay_ms, a->failed_cycles++);
		publish(a, out, AP_ERROR, cur, -1, "%s; again in %lld s", reason, (long long)((w + 999) / 1000));
		wait_then_register(a, AG_FAILED, 0, now + w);
		return;
	}
	if (!is_last(a, cur)) {
		int next = next_free(a, cur + 1, now);
		if (next >= 0) {
			a->failovers++;
			publish(a, out, AP_FAILOVER, cur, next, "%s", reason);
			start_register(a, next, now, false, true, AR_NEW, out);
			return;
		}
	}
	/* The last server failed (or every later one is held down). */
	if (a->sv[cur].registered_before && a->failed_cycles == 0 && is_last(a, cur) &&
	    a->sv[0].hold_until <= now) {
		/* A.2: the backup worked before: back to the primary at once. */
		a->failed_cycles++;
		a->failovers++;
		publish(a, out, AP_FAILOVER, cur, 0, "%s", reason);
		start_register(a, 0, now, false, true, AR_NEW, out);
		return;
	}
	/* C.8: all servers unavailable: the failure is reported; A.2's timer
	 * 1 brings the line back to the primary, backing off over repeated
	 * full failures (RFC 5626 4.5). */
	int64_t w = backoff(a, a->cfg.return_delay_ms, a->failed_cycles++);
	publish(a, out, AP_ERROR, cur, -1, "all %d servers unavailable, primary again in %lld s; last: %s",
		n, (long long)((w + 999) / 1000), reason);
	wait_then_register(a, AG_FAILED, 0, now + w);
}

/* Whether the line has somewhere better to be: the primary, from any
 * other server (C.3), or on the primary a target of its name's best SRV
 * priority, from a worse one (I.3). A backup probes the primary only: that
 * is the best place of all. */
static bool failback_due(const struct agent *a)
{
	return a->cfg.failback && (a->server != 0 || addrlist_off_best(&a->al));
}

static void arm_failback(struct agent *a, int64_t now)
{
	if (failback_due(a) && a->probe == APB_IDLE)
		a->deadline[AT_FAILBACK] = now + backoff(a, a->cfg.failback_ms, 0);
}

/* A.7, jittered as RFC 5626 4.4.1 says (RULES I.4): the first heartbeat
 * after the line registers (a new binding: start, failover, failback, a
 * re-REGISTER after a miss) at U(0, 1)*interval, so a fleet that
 * registered together (a power cut, a dead server) does not ping, miss
 * and fail over together; each later one at U(0.8, 1)*interval, never
 * later than the interval. A refresh is no new registration: the running
 * heartbeat goes on (registered() arms only an unarmed one). */
static void arm_heartbeat(struct agent *a, int64_t now, bool first)
{
	if (a->cfg.heartbeat_ms <= 0)
		return;
	uint32_t r = a->cfg.rand ? a->cfg.rand(a->cfg.rand_arg) : UINT32_MAX;
	double lo = first ? 0.0 : 0.8, u = (double)r / (double)UINT32_MAX;
	a->deadline[AT_HEARTBEAT] = now + (int64_t)((double)a->cfg.heartbeat_ms * (lo + (1.0 - lo) * u));
}

/* A 200 from server I: learn what it granted (A.5) and insisted on (A.4). */
static void granted(struct agent *a, int i, const struct agent_event *ev, int64_t now)
{
	a->failed_cycles = 0;
	a->sv[i].registered_before = true;
	a->granted_s = ev->expires;
	a->registered_at = now;
	if (ev->expires > a->cfg.servers[i].expires)
		a->sv[i].learned_min = ev->expires;
}

static void registered(struct agent *a, const struct agent_event *ev, int64_t now,
		       struct agent_actions *out)
{
	bool was = a->state == AG_REGISTERED || a->reg == AR_REVERIFY;
	addrlist_succeeded(&a->al);
	if (a->server == 0 && !a->cfg.n_proxies)
		snprintf(a->primary_ok, sizeof a->primary_ok, "%s", a->address);
	granted(a, a->server, ev, now);
	a->bound = true;
	a->reg = AR_NEW;
	a->refresh_busy = false;
	a->deadline[AT_BUDGET] = 0;
	a->deadline[AT_RETRY] = 0;
	arm_refresh(a, now, ev->expires);
	because(a, "granted %d s", ev->expires);
	transition(a, AG_REGISTERED);
	if (!was)
		publish(a, out, AP_REGISTERED, -1, a->server, "granted %d s", ev->expires);
	if (!a->deadline[AT_HEARTBEAT])
		arm_heartbeat(a, now, true);
	if (!a->deadline[AT_FAILBACK])
		arm_failback(a, now);
}

static void on_reg(struct agent *a, const struct agent_event *ev, int64_t now, struct agent_actions *out)
{
	char why[AGENT_REASON_MAX];
	if (a->halted || (a->state != AG_REGISTERING && a->state != AG_REGISTERED))
		return; /* an answer the line no longer waits for */
	a->refresh_busy = false;
	enum verdict v = verdict_register(ev->status, ev->local, a->route[0] != '\0');
	if (v == VERDICT_OK) {
		registered(a, ev, now, out);
		return;
	}
	describe("REGISTER", a->address, v, ev, why, sizeof why);
	set_error(a, now, ev->status, why);
	if (ev->retry_after > 0 && ev->status == 503)
		a->sv[a->server].hold_until = now + (int64_t)ev->retry_after * 1000;

	if (v == VERDICT_AUTH) {
		/* A.4: wrong credentials are not the server's fault and another
		 * try now would fail alike: same server, after timer 2, backing
		 * off; the line shows failed meanwhile. */
		int64_t w = backoff(a, a->cfg.retry_delay_ms, a->failed_cycles++);
		drop_binding(a, out);
		publish(a, out, AP_ERROR, a->server, -1, "%s; again in %lld s", why, (long long)((w + 999) / 1000));
		wait_then_register(a, AG_FAILED, a->server, now + w);
		return;
	}
	if (v == VERDICT_4XX && a->reg != AR_AFTER_4XX) {
		/* A.4: clear our binding there first, then register again. */
		disarm_session(a);
		a->unreg = AU_4XX;
		act(a, out, AA_UNREGISTER);
		publish(a, out, AP_ERROR, a->server, -1, "%s; un-REGISTER, then REGISTER again", why);
		transition(a, AG_UNREGISTERING);
		if (!is_last(a, a->server))
			a->deadline[AT_BUDGET] = now + agent_budget_ms(&a->cfg);
		return;
	}
	server_failed(a, now, why, out);
}

static void on_unreg(struct agent *a, const struct agent_event *ev, int64_t now, struct agent_actions *out)
{
	char why[AGENT_REASON_MAX];
	if (a->state != AG_UNREGISTERING)
		return;
	a->deadline[AT_BUDGET] = 0;
	if (a->unreg == AU_STOP) {
		a->bound = false;
		because(a, "stopped");
		transition(a, a->cfg.enabled ? AG_WAITING : AG_DISABLED);
		publish(a, out, AP_UNREGISTERED, a->server, -1, "stopping");
		act(a, out, AA_STOPPED);
		if (a->restart) {
			a->restart = a->halted = false;
			start_register(a, a->server, now, false, true, AR_NEW, out);
		}
		return;
	}
	enum verdict v = verdict_register(ev->status, ev->local, a->route[0] != '\0');
	if (v == VERDICT_OK) {
		a->bound = false;
		start_register(a, a->server, now, false, false, AR_AFTER_4XX, out);
		return;
	}
	describe("un-REGISTER", a->address, v, ev, why, sizeof why);
	set_error(a, now, ev->status, why);
	server_failed(a, now, why, out);
}

/* A.6/A.7: a request of the line failed: register again on the same
 * server; only if that fails does the line switch. */
static void reverify(struct agent *a, int64_t now, const char *why, struct agent_actions *out)
{
	set_error(a, now, 0, why);
	if (a->state != AG_REGISTERED)
		return;
	because(a, "%s", why);
	start_register(a, a->server, now, false, false, AR_REVERIFY, out);
}

static void on_options(struct agent *a, const struct agent_event *ev, int64_t now, struct agent_actions *out)
{
	char why[AGENT_REASON_MAX];
	if (!a->deadline[AT_HB_ANSWER])
		return; /* already judged a miss, or the session moved on */
	a->deadline[AT_HB_ANSWER] = 0;
	enum verdict v = verdict_options(ev->status, ev->local, a->route[0] != '\0');
	if (v == VERDICT_OK)
		return;
	describe("OPTIONS", a->address, v, ev, why, sizeof why);
	reverify(a, now, why, out);
}

/* C.4: the primary took the probe's REGISTER: its binding becomes the
 * line's, the backup's is released, the next hop is the primary's. */
static void adopt_probe(struct agent *a, const struct agent_event *ev, int64_t now,
			struct agent_actions *out)
{
	int from = a->server;
	struct agent_action *x = act(a, out, AA_ADOPT_PROBE);
	x->server = 0;
	x->release_old = true;
	publish(a, out, AP_FAILBACK, from, 0, "the primary answered the failback probe");
	a->server = 0;
	granted(a, 0, ev, now);
	a->cur = a->probe_addr;
	a->addr_server = 0;
	netaddr_format(a->address, sizeof a->address, &a->cur);
	snprintf(a->route, sizeof a->route, "%s", a->probe_route);
	if (!a->cfg.n_proxies)
		snprintf(a->primary_ok, sizeof a->primary_ok, "%s", a->address);
	a->probe_misses = 0;
	a->deadline[AT_FAILBACK] = 0;
	disarm_session(a);
	arm_heartbeat(a, now, true);
	arm_refresh(a, now, ev->expires);
	cancel_refresh(a, out);
	if (addrlist_begin(&a->al, &a->cfg.servers[0], now) == AL_USE) {
		addrlist_adopt(&a->al, a->address);
		arm_failback(a, now); /* I.3: through a worse SRV target of the primary */
		return;
	}
	/* The primary's list is not known fresh: renew it in the background,
	 * keeping the address that works (affinity). */
	struct dns_key k = addrlist_key(&a->al);
	struct dns_answer lit;
	if (literal_answer(&k, &lit)) {
		addrlist_resolved(&a->al, &lit);
		addrlist_adopt(&a->al, a->address);
		return;
	}
	ask(a, out, AK_REFRESH, &k, true);
	a->refreshing = true;
}

/* RULES I.3: a target of the best SRV priority took the probe's REGISTER:
 * the line stays on its server and moves there. The old binding is only
 * forgotten, not un-REGISTERed: it has the probe's Contact (same server,
 * ;srv=N), and where the targets share one location database (a cluster
 * behind one name) an un-REGISTER of it under its old Call-ID would remove
 * the binding the probe just made (RFC 3261 10.3 step 7). Separate
 * registrars let it run out. */
static void adopt_srv_probe(struct agent *a, const struct agent_event *ev, int64_t now,
			    struct agent_actions *out)
{
	char from[NETADDR_STR_MAX], why[AGENT_REASON_MAX];
	int was = addrlist_prio(&a->al, &a->cur), now_prio = addrlist_prio(&a->al, &a->probe_addr);
	struct agent_action *x = act(a, out, AA_ADOPT_PROBE);
	x->server = a->server;
	x->release_old = false;
	snprintf(from, sizeof from, "%s", a->address);
	granted(a, a->server, ev, now);
	a->cur = a->probe_addr;
	a->addr_server = a->server;
	netaddr_format(a->address, sizeof a->address, &a->cur);
	snprintf(a->route, sizeof a->route, "%s", a->probe_route);
	if (a->server == 0 && !a->cfg.n_proxies)
		snprintf(a->primary_ok, sizeof a->primary_ok, "%s", a->address);
	snprintf(why, sizeof why, "%.100s: a target of SRV priority %d answered the failback probe (was %d)",
		 a->al.name, now_prio, was);
	publish_text(a, out, AP_FAILBACK, from, a->address, why);
	if (out->n > 0 && out->v[out->n - 1].kind == AA_PUBLISH)
		out->v[out->n - 1].from_server = out->v[out->n - 1].to_server = a->server;
	a->probe_misses = 0;
	a->deadline[AT_FAILBACK] = 0;
	disarm_session(a);
	arm_heartbeat(a, now, true);
	arm_refresh(a, now, ev->expires);
	addrlist_adopt(&a->al, a->address);
	addrlist_succeeded(&a->al);
}

static void probe_failed(struct agent *a, const struct agent_event *ev, int64_t now,
			 struct agent_actions *out)
{
	/* The primary did not take it (the REGISTER ran its full 64*T1, was
	 * refused, or its name did not resolve): stay, probe its next address
	 * after another interval (B.4 for the probe). */
	act(a, out, AA_PROBE_DROP);
	a->probe = APB_IDLE;
	a->deadline[AT_PROBE] = 0;
	a->probe_misses++;
	int64_t hold = ev && ev->retry_after > 0 && ev->status == 503 ? now + (int64_t)ev->retry_after * 1000 : 0;
	if (hold && !a->probe_srv)
		a->sv[0].hold_until = hold;
	if (a->state == AG_REGISTERED)
		arm_failback(a, now);
	/* I.3: one target's Retry-After holds off the next probe, not the
	 * server the line is registered with */
	if (hold && a->probe_srv && a->deadline[AT_FAILBACK] && a->deadline[AT_FAILBACK] < hold)
		a->deadline[AT_FAILBACK] = hold;
}

static void on_probe(struct agent *a, const struct agent_event *ev, int64_t now, struct agent_actions *out)
{
	if (a->probe != APB_SENT)
		return;
	a->probe = APB_IDLE;
	a->deadline[AT_PROBE] = 0;
	enum verdict v = verdict_register(ev->status, ev->local, a->probe_route[0] != '\0');
	if (v == VERDICT_OK && a->state == AG_REGISTERED && !a->probe_srv && a->server != 0) {
		adopt_probe(a, ev, now, out);
		return;
	}
	/* I.3: only while the probed target still ranks above the one in use
	 * (a walk or a new answer may have changed either meanwhile) */
	int to = addrlist_prio(&a->al, &a->probe_addr);
	if (v == VERDICT_OK && a->state == AG_REGISTERED && a->probe_srv && a->server == 0 && to >= 0 &&
	    to < addrlist_prio(&a->al, &a->cur)) {
		adopt_srv_probe(a, ev, now, out);
		return;
	}
	a->probe = APB_SENT; /* probe_failed drops it */
	probe_failed(a, v == VERDICT_OK ? NULL : ev, now, out);
}

static void send_probe(struct agent *a, int i, int64_t now, struct agent_actions *out)
{
	/* I.2: the primary is not the last server: retry_count transmissions */
	a->deadline[AT_PROBE] = now + agent_budget_ms(&a->cfg);
	struct agent_action *x = act(a, out, AA_PROBE);
	x->server = i;
	x->addr = a->probe_addr;
	snprintf(x->route, sizeof x->route, "%s", a->probe_route);
	/* the hop's name: through proxies and for I.3 the list's, else the
	 * primary's own host */
	snprintf(x->name, sizeof x->name, "%s",
		 a->cfg.n_proxies || a->probe_srv ? a->al.name : a->cfg.servers[i].host);
	x->tp = a->cfg.servers[i].transport;
	x->expires = expires_for(a, i);
	a->probe = APB_SENT;
}

/* Which of the primary's addresses the probe tries: the one that last took
 * a REGISTER, and after each failed probe the next (a dead first address
 * must not keep the line from failing back). */
static void probe_pick(struct agent *a, const struct dns_answer *ans)
{
	int first = 0;
	for (int i = 0; i < ans->n; i++) {
		char s[NETADDR_STR_MAX];
		netaddr_format(s, sizeof s, &ans->v[i]);
		if (!strcmp(s, a->primary_ok))
			first = i;
	}
	a->probe_addr = ans->v[(first + a->probe_misses) % ans->n];
}

/* C.4: an independent REGISTER to the primary. Through proxies it takes
 * the proxy address the line uses (it works); without, the primary's
 * addresses (a literal, its known answer, or a lookup). */
static void probe_now(struct agent *a, int64_t now, struct agent_actions *out)
{
	const struct conf_server *sv = &a->cfg.servers[0];
	if (a->sv[0].hold_until > now) {
		a->deadline[AT_FAILBACK] = a->sv[0].hold_until;
		return;
	}
	if (a->cfg.n_proxies) {
		netaddr_host(a->probe_route, sizeof a->probe_route, sv->host, sv->port);
		a->probe_addr = a->cur;
		send_probe(a, 0, now, out);
		return;
	}
	a->probe_route[0] = '\0';
	struct dns_key k = { .name = sv->host, .port = sv->port, .tp = sv->transport };
	struct dns_answer lit;
	if (literal_answer(&k, &lit)) {
		probe_pick(a, &lit);
		send_probe(a, 0, now, out);
		return;
	}
	ask(a, out, AK_PROBE, &k, true);
	a->probe = APB_LOOKUP;
}

/* RULES I.3: on the primary through a target of a worse SRV priority: an
 * independent REGISTER (its own Call-ID, the same Contact) to a target of
 * the best priority of the same answer, the next one of them after each
 * failed probe. Through proxies the answer is the proxy's, and the Route
 * stays the line's. */
static void srv_probe_now(struct agent *a, int64_t now, struct agent_actions *out)
{
	if (!addrlist_best(&a->al, a->probe_misses, &a->probe_addr))
		return;
	snprintf(a->probe_route, sizeof a->probe_route, "%s", a->route);
	send_probe(a, a->server, now, out);
}

static void failback_probe(struct agent *a, int64_t now, struct agent_actions *out)
{
	a->probe_srv = a->server == 0;
	if (a->probe_srv)
		srv_probe_now(a, now, out);
	else
		probe_now(a, now, out);
}

static void on_answer(struct agent *a, const struct agent_event *ev, int64_t now, struct agent_actions *out)
{
	const struct dns_answer *ans = ev->answer;
	switch (ev->lookup) {
	case AK_ATTEMPT:
		if (a->halted || a->state != AG_RESOLVING)
			return;
		attempt_answer(a, ans, now, out);
		return;
	case AK_REFRESH:
		/* B.2: the answer in use ran out; a working registration is not
		 * disturbed (affinity), only the list is renewed. */
		if (!a->refreshing || a->halted)
			return;
		a->refreshing = false;
		note_dns(a, ans, out);
		addrlist_refreshed(&a->al, ans);
		if (a->al.idx < 0 && a->address[0])
			addrlist_adopt(&a->al, a->address);
		/* I.3: the new answer may rank the target in use below another */
		if (a->state == AG_REGISTERED && !a->deadline[AT_FAILBACK])
			arm_failback(a, now);
		return;
	case AK_PROBE:
		if (a->probe != APB_LOOKUP)
			return;
		if (ans->n == 0) {
			a->probe = APB_SENT;
			probe_failed(a, NULL, now, out);
			return;
		}
		probe_pick(a, ans);
		send_probe(a, 0, now, out);
		return;
	case AK_MAX:
		return;
	}
}

static void on_timer(struct agent *a, enum agent_timer t, int64_t now, struct agent_actions *out)
{
	char why[AGENT_REASON_MAX];
	a->deadline[t] = 0;
	if (a->halted)
		return;
	switch (t) {
	case AT_RETRY:
		if (a->state != AG_WAITING && a->state != AG_FAILED)
			return;
		if (a->retry_server != a->server) {
			a->failovers++;
			publish(a, out, AP_FAILOVER, a->server, a->retry_server, "%s",
				a->retry_server == 0 ? "return to the primary (timer 1)" : "retry");
		}
		start_register(a, a->retry_server, now, false, true, AR_NEW, out);
		return;
	case AT_PROBE:
		/* the primary did not answer the probe within the budget: a
		 * failed probe, its copies end with it (AA_PROBE_DROP) */
		if (a->probe == APB_SENT)
			probe_failed(a, NULL, now, out);
		return;
	case AT_BUDGET:
		if (a->state == AG_REGISTERING || (a->state == AG_REGISTERED && a->refresh_busy))
			snprintf(why, sizeof why, "REGISTER to %s timed out after %d transmissions",
				 a->address, a->cfg.retry_count);
		else if (a->state == AG_UNREGISTERING && a->unreg == AU_4XX)
			snprintf(why, sizeof why, "un-REGISTER to %s timed out after %d transmissions",
				 a->address, a->cfg.retry_count);
		else
			return;
		set_error(a, now, 408, why);
		server_failed(a, now, why, out);
		return;
	case AT_HEARTBEAT:
		if (a->state != AG_REGISTERED)
			return;
		arm_heartbeat(a, now, false);
		if (a->deadline[AT_HB_ANSWER])
			return; /* the last one is still out */
		act(a, out, AA_OPTIONS);
		/* A.7: a live server answers within T1 (RFC 3261 17.1.2.2);
		 * waiting for the OPTIONS' own 64*T1 would cost more than the
		 * whole retry budget. A miss only re-registers on the same
		 * server, so a slow server costs one REGISTER, never a switch. */
		a->deadline[AT_HB_ANSWER] = now + a->cfg.t1_ms;
		return;
	case AT_HB_ANSWER:
		snprintf(why, sizeof why, "OPTIONS to %s unanswered after %d ms", a->address, a->cfg.t1_ms);
		reverify(a, now, why, out);
		return;
	case AT_FAILBACK:
		if (a->state != AG_REGISTERED || !failback_due(a) || a->probe != APB_IDLE)
			return;
		if (!a->idle) {
			a->failback_pending = true; /* F.5: moves when the call ends */
			return;
		}
		failback_probe(a, now, out);
		return;
	case AT_REFRESH: {
		if (a->state != AG_REGISTERED || a->refresh_busy)
			return;
		/* the same binding, through the same address; the state stays */
		emit_register(a, now, out);
		a->refresh_busy = true;
		return;
	}
	case AT_DNS:
		if (a->refreshing || a->state == AG_RESOLVING || a->state == AG_DISABLED)
			return;
		struct dns_key k = addrlist_key(&a->al);
		/* another line using the name may just have renewed it */
		ask(a, out, AK_REFRESH, &k, true);
		a->refreshing = true;
		return;
	case AT_MAX:
		return;
	}
}

static void on_stop(struct agent *a, bool final, struct agent_actions *out)
{
	a->halted = true;
	a->final = a->final || final;
	a->restart = false; /* a stop outranks an earlier `register` */
	for (int t = 0; t < AT_MAX; t++)
		a->deadline[t] = 0;
	a->refresh_busy = false;
	drop_probe(a, out);
	cancel_refresh(a, out);
	if (a->state == AG_RESOLVING)
		act(a, out, AA_CANCEL_LOOKUP)->lookup = AK_ATTEMPT;
	if (a->state == AG_UNREGISTERING && a->unreg == AU_STOP)
		return; /* already on its way */
	if (a->bound || a->state == AG_REGISTERING || a->state == AG_UNREGISTERING) {
		a->unreg = AU_STOP;
		act(a, out, AA_UNREGISTER);
		because(a, "stopping");
		transition(a, AG_UNREGISTERING);
		return;
	}
	because(a, "stopped");
	transition(a, a->cfg.enabled ? AG_WAITING : AG_DISABLED);
	act(a, out, AA_STOPPED);
}

static void on_register_now(struct agent *a, int64_t now, struct agent_actions *out)
{
	if (a->halted) {
		/* `register` after `unregister`: once the un-REGISTER is
		 * answered (the next binding reuses its Contact). */
		if (a->state == AG_UNREGISTERING) {
			a->restart = true;
			return;
		}
		a->halted = false;
		because(a, "requested by the operator");
		start_register(a, a->server, now, false, true, AR_NEW, out);
		return;
	}
	because(a, "requested by the operator");
	if (a->state == AG_WAITING || a->state == AG_FAILED || a->state == AG_RESOLVING) {
		if (a->state == AG_RESOLVING)
			act(a, out, AA_CANCEL_LOOKUP)->lookup = AK_ATTEMPT;
		start_register(a, a->state == AG_RESOLVING ? a->server : a->retry_server, now, false, true,
			       AR_NEW, out);
	} else {
		start_register(a, a->server, now, false, false, AR_NEW, out);
	}
}

/* The DNS deadline follows the answer in use: armed whenever the line
 * holds a looked-up answer and is not already asking (B.2). */
static void sync_dns(struct agent *a, int64_t now)
{
	bool want = a->al.have && a->al.ans.expires && !addrlist_is_literal(&a->al) && !a->halted &&
		    !a->refreshing && a->state != AG_RESOLVING && a->state != AG_DISABLED;
	if (!want)
		a->deadline[AT_DNS] = 0;
	else
		a->deadline[AT_DNS] = a->al.ans.expires > now ? a->al.ans.expires : now;
}

/* Release builds: a broken invariant starts the line over (a new binding
 * on the current server, a second from now) rather than leave it stuck. */
static void recover(struct agent *a, int64_t now, struct agent_actions *out)
{
	char text[AGENT_REASON_MAX];
	snprintf(text, sizeof text, "%s", out->bug);
	out->n = 0;
	for (int t = 0; t < AT_MAX; t++)
		a->deadline[t] = 0;
	act(a, out, AA_ABANDON);
	act(a, out, AA_PROBE_DROP);
	for (int k = 0; k < AK_MAX; k++)
		act(a, out, AA_CANCEL_LOOKUP)->lookup = (enum agent_lookup)k;
	a->probe = APB_IDLE;
	a->refreshing = a->bound = false;
	a->state = a->cfg.enabled ? AG_WAITING : AG_DISABLED;
	if (a->cfg.enabled && !a->halted) {
		a->retry_server = a->server;
		a->deadline[AT_RETRY] = now + 1000;
	}
	out->log_level = AGL_ERROR;
	snprintf(out->log, sizeof out->log, "bug: %s; the line starts over", text);
}

static void log_step(struct agent *a, struct agent_actions *out)
{
	enum agent_log_level level = AGL_NONE;
	for (int i = 0; i < out->n; i++) {
		const struct agent_action *x = &out->v[i];
		if (x->kind != AA_PUBLISH)
			continue;
		enum agent_pub p = x->pub;
		if (p == AP_FAILOVER || p == AP_ERROR || p == AP_ADDRESS || p == AP_PROXY || p == AP_DNS)
			level = AGL_WARN;
		else if (level == AGL_NONE)
			level = AGL_INFO;
	}
	if (a->state != a->step_from) {
		if (level == AGL_NONE)
			level = AGL_INFO;
		snprintf(out->log, sizeof out->log, "%s -> %s%s%s%s", agent_state_name(a->step_from),
			 agent_state_name(a->state), out->why[0] ? " (" : "", out->why, out->why[0] ? ")" : "");
	} else if (level != AGL_NONE) {
		snprintf(out->log, sizeof out->log, "%s", out->why);
	}
	out->log_level = level;
}

void agent_step(struct agent *a, const struct agent_event *ev, int64_t now, struct agent_actions *out)
{
	out->n = 0;
	out->log_level = AGL_NONE;
	out->log[0] = out->why[0] = out->bug[0] = '\0';
	a->step_from = a->state;
	a->out = out;
	switch (ev->kind) {
	case AE_START:
		if (!a->cfg.enabled) {
			transition(a, AG_DISABLED);
			break;
		}
		if (a->resumed)
			publish(a, out, AP_RESTART, -1, a->server, "daemon started; resuming on this server%s",
				a->resumed_registered ? " (was registered)" : "");
		if (a->cfg.start_spread_ms > 0) {
			/* D.2 storm control: a fleet that reboots together must
			 * not hit the registrar at once: U(0, spread). */
			uint32_t r = a->cfg.rand ? a->cfg.rand(a->cfg.rand_arg) : 0;
			int64_t w = (int64_t)((double)a->cfg.start_spread_ms * ((double)r / (double)UINT32_MAX));
			because(a, "start spread: first REGISTER in %lld ms", (long long)w);
			wait_then_register(a, AG_WAITING, a->server, now + w);
			break;
		}
		start_register(a, a->server, now, false, true, AR_NEW, out);
		break;
	case AE_STOP:
		if (a->state != AG_DISABLED)
			on_stop(a, ev->final, out);
		else
			act(a, out, AA_STOPPED);
		break;
	case AE_TIMER:
		if (ev->timer < AT_MAX)
			on_timer(a, ev->timer, now, out);
		break;
	case AE_OUTCOME:
		if (a->state == AG_DISABLED)
			break;
		if (ev->req == AQ_REGISTER)
			on_reg(a, ev, now, out);
		else if (ev->req == AQ_UNREGISTER)
			on_unreg(a, ev, now, out);
		else if (ev->req == AQ_OPTIONS && !a->halted)
			on_options(a, ev, now, out);
		else if (ev->req == AQ_PROBE && !a->halted)
			on_probe(a, ev, now, out);
		break;
	case AE_ANSWER:
		if (ev->answer)
			on_answer(a, ev, now, out);
		break;
	case AE_FORCE_FAILOVER: {
		if (a->halted || a->state == AG_DISABLED)
			break;
		int from = a->server, next = (a->server + 1) % a->cfg.n_servers;
		a->failovers++;
		publish(a, out, AP_FAILOVER, from, next, "requested by the operator");
		if (a->state == AG_RESOLVING)
			act(a, out, AA_CANCEL_LOOKUP)->lookup = AK_ATTEMPT;
		start_register(a, next, now, next != from, true, AR_NEW, out);
		break;
	}
	case AE_CONN_LOST:
		/* G.4: as a heartbeat that went unanswered (A.6/A.7): register
		 * again with the same server first */
		if (!a->halted && a->state == AG_REGISTERED) {
			a->deadline[AT_HB_ANSWER] = 0;
			reverify(a, now, ev->phrase && *ev->phrase ? ev->phrase : "connection closed", out);
		}
		break;
	case AE_REGISTER_NOW:
		if (agent_command_ok(a, AE_REGISTER_NOW) == 0)
			on_register_now(a, now, out);
		break;
	case AE_IDLE:
		a->idle = ev->idle;
		if (a->idle && a->failback_pending && a->state == AG_REGISTERED && failback_due(a) &&
		    !a->halted && a->probe == APB_IDLE) {
			a->failback_pending = false;
			failback_probe(a, now, out);
		}
		break;
	case AE_REQ_FAILED:
		/* A.6 for a call's request: only about the server the line is
		 * registered with now; a line that moved on already did what
		 * this would make it do. */
		if (a->halted || a->state != AG_REGISTERED || ev->server != a->server)
			break;
		if (ev->server_down) {
			set_error(a, now, ev->status, ev->phrase ? ev->phrase : "");
			because(a, "%s", ev->phrase ? ev->phrase : "");
			server_failed(a, now, ev->phrase ? ev->phrase : "", out);
		} else {
			reverify(a, now, ev->phrase ? ev->phrase : "", out);
		}
		break;
	case AE_MAX:
		break;
	}
	if (out->bug[0])
		recover(a, now, out);
	else {
		sync_dns(a, now);
		log_step(a, out);
	}
	a->out = NULL;
}

int agent_command_ok(const struct agent *a, enum agent_ev_kind k)
{
	if (a->state == AG_DISABLED)
		return -EINVAL;
	if (k == AE_REGISTER_NOW && a->final)
		return -EBUSY; /* the daemon (or a reload) is stopping it for good */
	return 0;
}

void agent_init(struct agent *a, const struct agent_config *cfg)
{
	memset(a, 0, sizeof *a);
	a->cfg = *cfg;
	if (a->cfg.n_servers > AGENT_SERVERS_MAX || a->cfg.n_servers < 1 || !a->cfg.servers) {
		/* config refuses such a line (RULES E): reaching here is a bug */
		bug(a, "%d servers configured (1..%d)", a->cfg.n_servers, AGENT_SERVERS_MAX);
		a->cfg.n_servers = a->cfg.n_servers < 1 ? 1 : AGENT_SERVERS_MAX;
	}
	addrlist_init(&a->al, cfg->proxies, cfg->n_proxies);
	a->state = AG_WAITING;
	a->idle = true;
}

void agent_resume(struct agent *a, int server, uint32_t registered_before, int min_expires,
		  const char *address, bool was_registered)
{
	if (server >= 0 && server < a->cfg.n_servers)
		a->server = a->retry_server = server;
	for (int i = 0; i < a->cfg.n_servers && i < 32; i++)
		a->sv[i].registered_before = (registered_before >> i) & 1;
	a->sv[a->server].learned_min = min_expires;
	/* ... and through the address it was registered through, if its name
	 * still resolves to it */
	snprintf(a->al.prefer, sizeof a->al.prefer, "%s", address ? address : "");
	a->resumed = true;
	a->resumed_registered = was_registered;
}

void agent_rebind(struct agent *a, const struct conf_server *servers, char *const *proxies)
{
	a->cfg.servers = servers;
	a->cfg.proxies = proxies;
	a->al.proxies = proxies;
}
