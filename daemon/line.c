/* line.c - one line's runner: feeds its agent facts (SIP outcomes, DNS
 * answers, timers, commands), executes the agent's actions with SIP handles,
 * lookups and timers, persists and publishes. It decides nothing (DESIGN
 * "Line runner"). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "agent.h"
#include "history.h"
#include "line.h"
#include "log.h"
#include "memtrim.h"
#include "resolver.h"
#include "sip.h"
#include "store.h"
#include "timeutil.h"

/* Events that arise while actions execute wait here (the agent is never
 * stepped re-entrantly): at most one per action of the step that runs. */
#define LINE_PENDING_MAX (2 * AGENT_ACTIONS_MAX)

struct line_timer {
	struct line *l;
	enum agent_timer t;
	struct event *ev;
	int64_t armed;                 /* deadline it is armed for, 0 = none */
};

struct lookup_ctx {
	struct line *l;
	enum agent_lookup k;
};

struct pending {
	struct agent_event ev;
	struct dns_answer *ans;        /* owned copy of ev.answer */
};

struct line {
	struct event_base *base;
	struct sip *sip;
	struct store *store;
	struct resolver *res;
	const struct conf_line *cl;
	struct agent ag;
	struct sip_reg *main;          /* the line's binding */
	int main_server;
	struct sip_reg *probe;         /* failback probe to the primary */
	struct sip_reg *old;           /* a binding being released (un-REGISTER) */
	bool restore_call_id;          /* the first binding at saved.server reuses saved.call_id */
	struct resolver_query *q[AK_MAX];
	struct lookup_ctx lookup_ctx[AK_MAX];
	struct line_timer timers[AT_MAX];
	struct store_line saved;       /* what the store holds: written only when it changes */
	struct history_ring *ring;     /* no store: recent events, else NULL */
	void (*stop_done)(void *arg);
	void *stop_arg;
	struct pending *pending;       /* a ring of LINE_PENDING_MAX, while feeding */
	int head, n_pending;
	bool feeding;
	line_watch_cb *watch;          /* the line's calls (RULES F) */
	void *watch_arg;
};

void line_set_event_sink(line_event_cb *cb, void *arg)
{
	history_set_sink(cb, arg);
}

static uint32_t rand_cb(void *arg)
{
	(void)arg;
	return (uint32_t)random() ^ ((uint32_t)random() << 16);
}

static void feed(struct line *l, const struct agent_event *ev);

/* A request that could not even be sent is reported like an answer. */
static void failed_to_send(struct line *l, enum agent_req req, const char *why)
{
	struct agent_event ev = { .kind = AE_OUTCOME, .req = req, .local = true, .phrase = why };
	feed(l, &ev);
}

/* ---- history and events ---- */

static void record(struct line *l, const struct agent_action *x)
{
	struct line_event e;
	history_event(&e, time(NULL), l->cl->id, agent_pub_name(x->pub), x->from, x->to, x->reason);
	history_publish(&l->ring, l->store, &e);
}

/* RULES D.4: write on transitions, never on a clock: the persistent part
 * of the line is compared with what the store holds; refreshes and
 * heartbeats change nothing there and so write nothing. */
static void persist(struct line *l, const struct agent_actions *out)
{
	const struct agent *a = &l->ag;
	struct store_line now = { .server = a->server, .registered = a->state == AG_REGISTERED,
				  .min_expires = a->sv[a->server].learned_min,
				  .expires_at = l->saved.expires_at };
	struct store_event evs[AGENT_ACTIONS_MAX];
	int n = 0;
	time_t t = time(NULL);
	snprintf(now.address, sizeof now.address, "%s", a->address);
	for (int i = 0; i < a->cfg.n_servers && i < 32; i++)
		if (a->sv[i].registered_before)
			now.registered_before |= 1u << i;
	if (l->main && l->main_server == a->server)
		snprintf(now.call_id, sizeof now.call_id, "%s", sip_reg_call_id(l->main));
	else if (l->restore_call_id && a->server == l->saved.server)
		snprintf(now.call_id, sizeof now.call_id, "%s", l->saved.call_id);
	for (int i = 0; i < out->n; i++) {
		const struct agent_action *x = &out->v[i];
		if (x->kind == AA_PUBLISH)
			evs[n++] = (struct store_event){ .at = t, .line = l->cl->id, .kind = agent_pub_name(x->pub),
							 .from = x->from, .to = x->to, .reason = x->reason };
	}
	bool changed = now.server != l->saved.server || now.registered != l->saved.registered ||
		       now.min_expires != l->saved.min_expires ||
		       now.registered_before != l->saved.registered_before ||
		       strcmp(now.address, l->saved.address) != 0 || strcmp(now.call_id, l->saved.call_id) != 0;
	if (changed && now.registered)
		now.expires_at = t + a->granted_s;
	if (!changed && n == 0)
		return;
	store_save_line(l->store, l->cl->id, &now, evs, n);
	l->saved = now;
}

/* ---- SIP ---- */

static void outcome_cb(void *ctx, const struct sip_outcome *o);

static struct sip_reg *new_binding(struct line *l, int server)
{
	struct sip_account a = {
		.line_id = l->cl->id, .user = l->cl->user, .domain = l->cl->domain,
		.auth_user = l->cl->auth_user, .password = l->cl->password,
		.display_name = l->cl->display_name,
	};
	struct sip_reg *r = sip_reg_new(l->sip, &a, server, outcome_cb, l);
	if (r && l->restore_call_id && server == l->saved.server) {
		/* Same binding as before the restart: the registrar refreshes it
		 * rather than holding a stale second one (RULES D.3). */
		sip_reg_set_call_id(r, l->saved.call_id);
	}
	l->restore_call_id = false;
	return r;
}

/* Move a binding out of the way: un-REGISTER it (the registrar keeps it
 * otherwise until it expires) and free it when that is answered. */
static void release(struct line *l, struct sip_reg *r)
{
	if (l->old) /* one release at a time; an older one is dropped */
		sip_reg_free(l->old);
	l->old = r;
	if (sip_reg_unregister(r) != 0) {
		sip_reg_free(r);
		l->old = NULL;
	}
}

static void outcome_cb(void *ctx, const struct sip_outcome *o)
{
	struct line *l = ctx;
	struct agent_event ev = {
		.kind = AE_OUTCOME, .status = o->status, .local = o->local, .phrase = o->phrase,
		.expires = o->expires, .retry_after = o->retry_after,
	};
	if (o->op == SIP_OP_CONNECTION) {
		/* G.4: only the line's own binding counts */
		if (o->reg == l->main) {
			ev.kind = AE_CONN_LOST;
			feed(l, &ev);
		}
		return;
	}
	if (o->reg == l->old) {
		if (o->op != SIP_OP_OPTIONS) {
			log_debug("%s: released binding at %s: %d %s", l->cl->id, o->target, o->status, o->phrase);
			sip_reg_free(l->old);
			l->old = NULL;
		}
		return;
	}
	if (o->reg == l->probe && o->op == SIP_OP_REGISTER)
		ev.req = AQ_PROBE;
	else if (o->reg == l->main)
		ev.req = o->op == SIP_OP_REGISTER ? AQ_REGISTER : o->op == SIP_OP_UNREGISTER ? AQ_UNREGISTER
											: AQ_OPTIONS;
	else
		return; /* a handle already let go */
	feed(l, &ev);
}

static void send_register(struct line *l, const struct agent_action *x, bool probe)
{
	struct sip_reg **slot = probe ? &l->probe : &l->main;
	if (*slot && (probe || l->main_server != x->server)) {
		sip_reg_free(*slot);
		*slot = NULL;
	}
	if (!*slot) {
		*slot = new_binding(l, x->server);
		if (!probe)
			l->main_server = x->server;
	}
	if (!*slot || sip_reg_register(*slot, x->addr.ip, x->addr.port, x->tp, x->name, x->expires, x->route) != 0)
		failed_to_send(l, probe ? AQ_PROBE : AQ_REGISTER, "out of memory");
}

/* ---- DNS ---- */

static void answer(struct line *l, enum agent_lookup k, const struct dns_answer *ans)
{
	l->q[k] = NULL;
	struct agent_event ev = { .kind = AE_ANSWER, .lookup = k, .answer = ans };
	feed(l, &ev);
}

static void lookup_cb(void *arg, const struct dns_answer *ans)
{
	struct lookup_ctx *c = arg;
	answer(c->l, c->k, ans);
}

static void cancel_lookup(struct line *l, enum agent_lookup k)
{
	resolver_cancel(l->q[k]);
	l->q[k] = NULL;
}

static void lookup(struct line *l, const struct agent_action *x)
{
	struct dns_answer ans;
	struct dns_key k = agent_action_key(x);
	cancel_lookup(l, x->lookup);
	if (x->fresh_ok && resolver_peek(l->res, &k, &ans) == 0 && !ans.stale) {
		answer(l, x->lookup, &ans);
		return;
	}
	l->q[x->lookup] = resolver_lookup(l->res, &k, lookup_cb, &l->lookup_ctx[x->lookup]);
	if (!l->q[x->lookup]) {
		memset(&ans, 0, sizeof ans);
		ans.status = DNS_EFAIL;
		snprintf(ans.error, sizeof ans.error, "%.200s: out of memory", k.name);
		answer(l, x->lookup, &ans);
	}
}

static void cancel_lookups(struct line *l)
{
	for (int k = 0; k < AK_MAX; k++)
		cancel_lookup(l, (enum agent_lookup)k);
}

/* ---- the step ---- */

static void execute(struct line *l, const struct agent_action *x)
{
	switch (x->kind) {
	case AA_LOOKUP:
		lookup(l, x);
		return;
	case AA_CANCEL_LOOKUP:
		cancel_lookup(l, x->lookup);
		return;
	case AA_INVALIDATE: {
		struct dns_key k = agent_action_key(x);
		resolver_invalidate(l->res, &k);
		return;
	}
	case AA_REGISTER:
		send_register(l, x, false);
		return;
	case AA_UNREGISTER:
		if (!l->main || sip_reg_unregister(l->main) != 0) {
			/* nothing to un-REGISTER: done */
			struct agent_event ev = { .kind = AE_OUTCOME, .req = AQ_UNREGISTER, .status = 200,
						  .local = true, .phrase = "no binding" };
			feed(l, &ev);
		}
		return;
	case AA_ABANDON:
		if (l->main && x->release_old)
			release(l, l->main);
		else
			sip_reg_free(l->main);
		l->main = NULL;
		return;
	case AA_OPTIONS:
		if (l->main)
			sip_reg_options(l->main, NULL, 0, CONF_TP_UDP);
		return;
	case AA_PROBE:
		send_register(l, x, true);
		return;
	case AA_PROBE_DROP:
		sip_reg_free(l->probe);
		l->probe = NULL;
		cancel_lookup(l, AK_PROBE);
		return;
	case AA_ADOPT_PROBE: {
		/* RULES C.4: registered on the primary through the probe's own
		 * dialog; the backup registration is released. I.3: the same
		 * server through a better SRV target; the old binding has the
		 * probe's Contact, so it is only let go (see adopt_srv_probe). */
		struct sip_reg *was = l->main;
		l->main = l->probe;
		l->main_server = x->server;
		l->probe = NULL;
		if (was && x->release_old)
			release(l, was);
		else
			sip_reg_free(was);
		return;
	}
	case AA_PUBLISH:
		record(l, x);
		return;
	case AA_STOPPED: {
		cancel_lookups(l);
		void (*done)(void *) = l->stop_done;
		l->stop_done = NULL;
		if (done)
			done(l->stop_arg);
		return;
	}
	case AA_MAX:
		return;
	}
}

static void sync_timers(struct line *l)
{
	int64_t now = timeutil_now_ms();
	for (int t = 0; t < AT_MAX; t++) {
		struct line_timer *lt = &l->timers[t];
		int64_t d = l->ag.deadline[t];
		if (d == lt->armed)
			continue;
		lt->armed = d;
		if (!d) {
			evtimer_del(lt->ev);
			continue;
		}
		struct timeval tv = timeutil_tv(d - now);
		evtimer_add(lt->ev, &tv);
	}
}

static void step(struct line *l, const struct agent_event *ev)
{
	static const enum log_level levels[] = { [AGL_INFO] = LOG_LVL_INFO, [AGL_WARN] = LOG_LVL_WARN,
						 [AGL_ERROR] = LOG_LVL_ERROR };
	struct agent_actions out;
	enum agent_state before = l->ag.state;
	agent_step(&l->ag, ev, timeutil_now_ms(), &out);
	if (l->ag.state == AG_REGISTERED && before != AG_REGISTERED)
		memtrim_after_burst(l->base); /* lines register in bursts (start, failover) */
	if (out.log_level != AGL_NONE)
		log_msg(levels[out.log_level], "%s: %s", l->cl->id, out.log);
	for (int i = 0; i < out.n; i++)
		execute(l, &out.v[i]);
	persist(l, &out);
}

/* The one entry into the agent: step it, then every event that its
 * actions raised (in order, a ring: each step raises at most one per
 * action, so more than LINE_PENDING_MAX waiting is a bug), then mirror its
 * deadlines into libevent timers. */
static void feed(struct line *l, const struct agent_event *ev)
{
	if (l->feeding) {
		if (l->n_pending >= LINE_PENDING_MAX) {
			log_error("%s: bug: event queue full", l->cl->id);
			abort();
		}
		struct pending *p = &l->pending[(l->head + l->n_pending++) % LINE_PENDING_MAX];
		p->ev = *ev;
		p->ans = NULL;
		if (ev->answer && (p->ans = malloc(sizeof *p->ans)))
			*p->ans = *ev->answer;
		p->ev.answer = p->ans; /* out of memory: the answer is lost, the agent waits */
		return;
	}
	struct pending queue[LINE_PENDING_MAX];
	struct line_hop before, after;
	agent_hop(&l->ag, &before);
	l->pending = queue;
	l->head = l->n_pending = 0;
	l->feeding = true;
	step(l, ev);
	while (l->n_pending > 0) {
		struct pending p = queue[l->head];
		l->head = (l->head + 1) % LINE_PENDING_MAX;
		l->n_pending--;
		if (p.ev.kind != AE_ANSWER || p.ans)
			step(l, &p.ev);
		free(p.ans);
	}
	l->feeding = false;
	l->pending = NULL;
	sync_timers(l);
	agent_hop(&l->ag, &after);
	if (l->watch && (before.up != after.up || before.failed != after.failed || before.server != after.server ||
			 strcmp(before.addr.ip, after.addr.ip) != 0 || before.addr.port != after.addr.port))
		l->watch(l->watch_arg, l); /* may feed this line again: it is not feeding now */
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct line_timer *lt = arg;
	lt->armed = 0;
	struct agent_event ev = { .kind = AE_TIMER, .timer = lt->t };
	feed(lt->l, &ev);
}

/* ---- life cycle ---- */

struct line *line_new(struct event_base *base, struct sip *sip, struct store *store,
		      struct resolver *res, bool restore, const struct conf *c,
		      const struct conf_line *cl)
{
	struct line *l = calloc(1, sizeof *l);
	if (!l)
		return NULL;
	l->base = base;
	l->sip = sip;
	l->store = store;
	l->res = res;
	l->cl = cl;
	struct agent_config ac;
	agent_configure(&ac, c, cl);
	ac.rand = rand_cb;
	agent_init(&l->ag, &ac);
	if (restore && store_load_line(store, cl->id, &l->saved) == 0) {
		/* Resume where the line was (RULES D.3): on a backup it stays
		 * there (and probes the primary); A.2's flags carry over. A
		 * stored server index past the configured list is ignored. */
		if (l->saved.server >= cl->n_servers)
			l->saved.server = 0;
		agent_resume(&l->ag, l->saved.server, l->saved.registered_before, l->saved.min_expires,
			     l->saved.address, l->saved.registered);
		l->restore_call_id = l->saved.call_id[0] != '\0';
	}
	for (int k = 0; k < AK_MAX; k++)
		l->lookup_ctx[k] = (struct lookup_ctx){ l, (enum agent_lookup)k };
	for (int t = 0; t < AT_MAX; t++) {
		l->timers[t].l = l;
		l->timers[t].t = (enum agent_timer)t;
		l->timers[t].ev = evtimer_new(base, timer_cb, &l->timers[t]);
		if (!l->timers[t].ev) {
			line_free(l);
			return NULL;
		}
	}
	return l;
}

void line_start(struct line *l)
{
	struct agent_event ev = { .kind = AE_START };
	feed(l, &ev);
}

void line_stop(struct line *l, void (*done)(void *arg), void *arg)
{
	l->stop_done = done;
	l->stop_arg = arg;
	struct agent_event ev = { .kind = AE_STOP, .final = true };
	feed(l, &ev);
}

void line_free(struct line *l)
{
	if (!l)
		return;
	for (int t = 0; t < AT_MAX; t++)
		if (l->timers[t].ev)
			event_free(l->timers[t].ev);
	cancel_lookups(l);
	sip_reg_free(l->main);
	sip_reg_free(l->probe);
	sip_reg_free(l->old);
	history_ring_free(l->ring);
	free(l);
}

void line_rebind(struct line *l, const struct conf *c, const struct conf_line *cl)
{
	(void)c;
	l->cl = cl;
	agent_rebind(&l->ag, cl->servers, cl->proxies); /* equal values, in C now */
}

/* ---- operator commands ---- */

static int command(struct line *l, enum agent_ev_kind k)
{
	int rc = agent_command_ok(&l->ag, k);
	if (rc)
		return rc;
	struct agent_event ev = { .kind = k };
	feed(l, &ev);
	return 0;
}

int line_force_failover(struct line *l)
{
	return command(l, AE_FORCE_FAILOVER);
}

int line_register_now(struct line *l)
{
	return command(l, AE_REGISTER_NOW);
}

int line_unregister(struct line *l)
{
	return command(l, AE_STOP);
}

void line_set_idle(struct line *l, bool idle)
{
	struct agent_event ev = { .kind = AE_IDLE, .idle = idle };
	feed(l, &ev);
}

/* ---- calls ---- */

const struct conf_line *line_conf(const struct line *l)
{
	return l->cl;
}

void line_hop(const struct line *l, struct line_hop *h)
{
	agent_hop(&l->ag, h);
}

bool line_trusts(const struct line *l, const char *ip)
{
	return agent_trusts(&l->ag, ip);
}

void line_request_failed(struct line *l, int server, bool server_down, int status, const char *why)
{
	struct agent_event ev = { .kind = AE_REQ_FAILED, .server = server, .server_down = server_down,
				  .status = status, .phrase = why };
	feed(l, &ev);
}

void line_publish(struct line *l, const struct line_event *e, bool keep)
{
	if (!keep) {
		history_notify(e);
		return;
	}
	history_publish(&l->ring, l->store, e);
	if (l->store) {
		struct store_event se = { .at = e->at, .line = e->line, .kind = e->kind, .from = e->from,
					  .to = e->to, .reason = e->reason };
		store_add_event(l->store, &se);
	}
}

void line_set_watch(struct line *l, line_watch_cb *cb, void *arg)
{
	l->watch = cb;
	l->watch_arg = arg;
}

/* ---- status ---- */

const char *line_id(const struct line *l)
{
	return l->cl->id;
}

void line_get_status(const struct line *l, struct line_status *st)
{
	int64_t now = timeutil_now_ms();
	agent_status(&l->ag, now, st);
	st->id = l->cl->id;
	if (st->error_reason) /* the agent's clock -> wall clock for people */
		st->error_at = time(NULL) - (time_t)((now - l->ag.error_at) / 1000);
}

int line_history(const struct line *l, int n, line_event_cb *cb, void *arg)
{
	return history_read(l->store, l->ring, l->cl->id, n, cb, arg);
}
