/* line.c - one line's runner: feeds its agent, executes the agent's actions
 * (SIP handles, timers, events), keeps its status and recent history. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "addrlist.h"
#include "agent.h"
#include "line.h"
#include "log.h"
#include "resolver.h"
#include "sip.h"
#include "store.h"

/* Kept in memory per line until the storage issue persists them. */
#define LINE_HISTORY_MAX 64

struct line_timer {
	struct line *l;
	enum agent_timer t;
	struct event *ev;
	int64_t armed;                 /* deadline it is armed for, 0 = none */
};

struct line {
	struct event_base *base;
	struct sip *sip;
	struct store *store;
	struct resolver *res;
	struct addrlist al;            /* the next hop: its name, addresses, cursor (SPEC B) */
	struct resolver_addr cur;      /* the main binding's address (port 0: none) */
	char route[ADDRLIST_NAME_MAX + 32]; /* ... and its Route through a proxy, "" none */
	char prev_address[64];         /* the address before AA_NEXT_ADDRESS (its event) */
	struct resolver_query *lookup; /* for the attempt in AG_RESOLVING */
	struct resolver_query *refresh;/* re-resolution after the TTL ... */
	char refresh_name[ADDRLIST_NAME_MAX]; /* ... of this name */
	int refresh_port;
	enum conf_transport refresh_tp;
	struct resolver_query *probe_lookup;
	struct resolver_addr probe_addr;
	char primary_ok[64];           /* the primary's address that last took a REGISTER */
	int probe_misses;              /* failed probes since: each tries the next address */
	char probe_route[ADDRLIST_NAME_MAX + 32];
	struct event *dns_timer;       /* the next hop's answer runs out */
	int dns_status;                /* of the last lookup (events only on a change) */
	char dns_why[AGENT_REASON_MAX];
	struct store_line saved;       /* what the store holds: written only when it changes */
	const char *restored_call_id;  /* for the first binding after a restart */
	char restored_buf[STORE_CALL_ID_MAX];
	struct line_event *step_events[AGENT_ACTIONS_MAX]; /* published in this step */
	int n_step_events;
	const struct conf *conf;
	const struct conf_line *cl;
	struct agent ag;
	struct sip_reg *main;          /* the line's binding */
	int main_server;
	struct sip_reg *probe;         /* failback probe to the primary */
	struct sip_reg *old;           /* a binding being released (un-REGISTER) */
	struct line_timer timers[AT_MAX];
	char address[64];              /* of the main binding */
	int learned_min;               /* expires the registrar insists on (after a 423), 0 none */
	int learned_server;            /* ... at this server */
	int port;                      /* of the main binding's server */
	struct line_event hist[LINE_HISTORY_MAX];
	int hist_n, hist_head;
	void (*stop_done)(void *arg);
	void *stop_arg;
	/* Events that arise while actions execute (a request that cannot even
	 * be sent) wait here: the agent is never stepped re-entrantly. */
	struct agent_event pending[4];
	int n_pending;
	bool feeding;
};

static line_event_cb *event_sink;
static void *event_sink_arg;

void line_set_event_sink(line_event_cb *cb, void *arg)
{
	event_sink = cb;
	event_sink_arg = arg;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint32_t rand_cb(void *arg)
{
	(void)arg;
	return (uint32_t)random() ^ ((uint32_t)random() << 16);
}

static void role_name(int i, char *buf, size_t size)
{
	if (i == 0)
		snprintf(buf, size, "primary");
	else if (i == 1)
		snprintf(buf, size, "backup");
	else
		snprintf(buf, size, "backup%d", i);
}

/* "primary 127.0.0.2:5060/udp": how events and logs name a server. */
static void describe_server(const struct line *l, int i, char *buf, size_t size)
{
	char role[24];
	if (i < 0 || i >= l->cl->n_servers) {
		buf[0] = '\0';
		return;
	}
	const struct conf_server *sv = &l->cl->servers[i];
	char hostport[280];
	role_name(i, role, sizeof role);
	sip_format_target(hostport, sizeof hostport, sv->host, sv->port ? sv->port : 5060);
	snprintf(buf, size, "%s %s/%s", role, hostport, conf_transport_name(sv->transport));
}

static void record_text(struct line *l, enum agent_pub pub, const char *from, const char *to,
			const char *reason)
{
	struct line_event *e = &l->hist[l->hist_head];
	l->hist_head = (l->hist_head + 1) % LINE_HISTORY_MAX;
	if (l->hist_n < LINE_HISTORY_MAX)
		l->hist_n++;
	e->at = time(NULL);
	snprintf(e->line, sizeof e->line, "%s", l->cl->id);
	e->kind = pub == AP_MAX ? "restart" : agent_pub_name(pub);
	snprintf(e->from, sizeof e->from, "%s", from);
	snprintf(e->to, sizeof e->to, "%s", to);
	snprintf(e->reason, sizeof e->reason, "%s", reason);
	if (pub == AP_FAILOVER || pub == AP_FAILBACK || pub == AP_ADDRESS || pub == AP_PROXY)
		log_warn("%s: %s %s -> %s: %s", e->line, e->kind, e->from, e->to, e->reason);
	else if (pub == AP_ERROR || pub == AP_DNS)
		log_warn("%s: %s", e->line, e->reason);
	else
		log_info("%s: %s%s%s (%s)", e->line, e->kind, e->to[0] ? " at " : "", e->to, e->reason);
	if (event_sink)
		event_sink(e, event_sink_arg);
	if (l->n_step_events < AGENT_ACTIONS_MAX)
		l->step_events[l->n_step_events++] = e;
}

static void record(struct line *l, const struct agent_action *x)
{
	char from[LINE_DESC_MAX], to[LINE_DESC_MAX];
	if (x->pub == AP_ADDRESS) {
		/* SPEC B.4: same server, the next address of its next hop. */
		record_text(l, x->pub, l->prev_address, l->address, x->reason);
		return;
	}
	describe_server(l, x->server, from, sizeof from);
	describe_server(l, x->to, to, sizeof to);
	record_text(l, x->pub, from, to, x->reason);
}

static void outcome_cb(void *ctx, const struct sip_outcome *o);
static void feed(struct line *l, const struct agent_event *ev);
static void arm_dns_timer(struct line *l);
static void persist(struct line *l);

/* The line's binding now goes to A (through a proxy: ROUTE names the
 * server): status, and the agent's words. */
static void use_address(struct line *l, const struct resolver_addr *a, const char *route)
{
	l->cur = *a;
	addrlist_format(l->address, sizeof l->address, a);
	snprintf(l->ag.target, sizeof l->ag.target, "%s", l->address);
	snprintf(l->route, sizeof l->route, "%s", route ? route : "");
	l->port = a->port;
}

/* A lookup failed (or recovered): say so once per change, not per retry,
 * so a long DNS outage costs one history entry (and one flash write). */
static void note_dns(struct line *l, const struct resolver_answer *ans)
{
	if (ans->status == l->dns_status)
		return;
	l->dns_status = ans->status;
	if (!ans->status)
		return;
	char why[192];
	if (ans->n && ans->status == RESOLVER_ENXDOMAIN)
		snprintf(why, sizeof why, "%.120s: the name is gone; its last good answer is not used",
			 ans->error);
	else if (ans->n)
		snprintf(why, sizeof why, "%.140s; using the last good answer (%d address%s)", ans->error,
			 ans->n, ans->n == 1 ? "" : "es");
	else
		snprintf(why, sizeof why, "%.140s; no address known", ans->error);
	record_text(l, AP_DNS, "", "", why);
}

static void lookup_cb(void *arg, const struct resolver_answer *ans);

/* Drive the address list until it has an address to use, needs a lookup
 * from the nameservers (then lookup_cb comes back here), or has failed;
 * the outcome goes to the agent as AE_RESOLVED. */
static void resolve_step(struct line *l, enum al_verdict v)
{
	for (int guard = 0; v == AL_LOOKUP && guard < 2 * RESOLVER_ADDRS_MAX; guard++) {
		struct resolver_key k = addrlist_key(&l->al);
		struct resolver_answer ans;
		/* A fresh answer is used as is; a stale one or one whose
		 * addresses were all used up (B.4) is asked again. */
		if ((!l->al.exhausted || resolver_is_literal(k.name)) &&
		    resolver_peek(l->res, &k, &ans) == 0 && !ans.stale) {
			v = addrlist_resolved(&l->al, &ans);
			continue;
		}
		l->lookup = resolver_lookup(l->res, &k, lookup_cb, l);
		if (l->lookup)
			return;
		memset(&ans, 0, sizeof ans);
		ans.status = RESOLVER_EFAIL;
		snprintf(ans.error, sizeof ans.error, "%s: out of memory", k.name);
		v = addrlist_resolved(&l->al, &ans);
	}
	struct agent_event ev = { .kind = AE_RESOLVED, .result = SIP_RES_OK };
	const struct resolver_addr *a = addrlist_current(&l->al);
	if (v == AL_USE && a) {
		if (!l->ag.stopping) /* the stored address stays the binding's */
			use_address(l, a, l->al.route);
	} else {
		snprintf(l->dns_why, sizeof l->dns_why, "DNS: %.180s",
			 l->al.ans.error[0] ? l->al.ans.error : "no address to use");
		ev.result = SIP_RES_INTERNAL;
		ev.phrase = l->dns_why;
	}
	feed(l, &ev);
	arm_dns_timer(l);
}

static void lookup_cb(void *arg, const struct resolver_answer *ans)
{
	struct line *l = arg;
	l->lookup = NULL;
	note_dns(l, ans);
	int before = l->al.proxy;
	char from[ADDRLIST_NAME_MAX];
	snprintf(from, sizeof from, "%s", before >= 0 ? l->cl->proxies[before] : "");
	enum al_verdict v = addrlist_resolved(&l->al, ans);
	if (l->al.proxy != before) {
		/* SPEC B.5: the proxy could not be resolved: the next one. */
		char why[192];
		snprintf(why, sizeof why, "%.180s", ans->error[0] ? ans->error : "no address");
		record_text(l, AP_PROXY, from, l->cl->proxies[l->al.proxy], why);
		persist(l);
	}
	resolve_step(l, v);
}

/* The next hop's answer runs out: ask again in the background; a working
 * registration is not disturbed (affinity), only the list is renewed. */
static void refresh_cb(void *arg, const struct resolver_answer *ans)
{
	struct line *l = arg;
	struct resolver_key k = addrlist_key(&l->al);
	l->refresh = NULL;
	if (strcmp(k.name, l->refresh_name) != 0 || k.port != l->refresh_port || k.tp != l->refresh_tp) {
		/* The line moved to another name meanwhile: not its answer. */
		arm_dns_timer(l);
		return;
	}
	note_dns(l, ans);
	addrlist_refreshed(&l->al, ans);
	persist(l);
	arm_dns_timer(l);
}

static void dns_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct line *l = arg;
	if (l->lookup || l->refresh || l->ag.state == AG_DISABLED || l->ag.stopping)
		return; /* an attempt is resolving (and re-arms after it) */
	struct resolver_key k = addrlist_key(&l->al);
	struct resolver_answer ans;
	if (resolver_peek(l->res, &k, &ans) == 0 && !ans.stale && ans.expires > l->al.ans.expires) {
		/* Another line using the name has just looked it up. */
		addrlist_refreshed(&l->al, &ans);
		arm_dns_timer(l);
		return;
	}
	snprintf(l->refresh_name, sizeof l->refresh_name, "%s", k.name);
	l->refresh_port = k.port;
	l->refresh_tp = k.tp;
	l->refresh = resolver_lookup(l->res, &k, refresh_cb, l);
	if (!l->refresh)
		arm_dns_timer(l);
}

static void arm_dns_timer(struct line *l)
{
	if (!l->dns_timer || !l->al.have || addrlist_is_literal(&l->al) || !l->al.ans.expires ||
	    l->ag.stopping || l->ag.state == AG_DISABLED) {
		if (l->dns_timer)
			evtimer_del(l->dns_timer);
		return;
	}
	int64_t ms = l->al.ans.expires - now_ms();
	if (ms < 0)
		ms = 0;
	struct timeval tv = { .tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)(ms % 1000) * 1000 };
	evtimer_add(l->dns_timer, &tv);
}

static struct sip_reg *new_binding(struct line *l, int server)
{
	struct sip_account a = {
		.line_id = l->cl->id, .user = l->cl->user, .domain = l->cl->domain,
		.auth_user = l->cl->auth_user, .password = l->cl->password,
		.display_name = l->cl->display_name,
	};
	struct sip_reg *r = sip_reg_new(l->sip, &a, server, outcome_cb, l);
	if (r && l->restored_call_id && server == l->saved.server) {
		/* Same binding as before the restart: the registrar refreshes it
		 * rather than holding a stale second one. */
		sip_reg_set_call_id(r, l->restored_call_id);
	}
	l->restored_call_id = NULL;
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

/* What server I asks for: what this registrar insisted on before (423's
 * Min-Expires, remembered across restarts) rather than draw the 423 again. */
static int expires_for(const struct line *l, int i)
{
	int expires = l->cl->servers[i].expires;
	if (l->learned_min > expires && l->learned_server == i)
		expires = l->learned_min;
	return expires;
}

static void send_register(struct line *l, struct sip_reg *r, int i, const struct resolver_addr *a,
			  const char *route, bool probe)
{
	const struct conf_server *sv = &l->cl->servers[i];
	if (sip_reg_register(r, a->ip, a->port, sv->transport, expires_for(l, i), route) != 0) {
		struct agent_event ev = { .kind = probe ? AE_PROBE : AE_REG, .result = SIP_RES_INTERNAL,
					  .phrase = "out of memory" };
		feed(l, &ev);
	}
}

static void probe_fail(struct line *l, const char *why)
{
	struct agent_event ev = { .kind = AE_PROBE, .result = SIP_RES_INTERNAL, .phrase = why };
	feed(l, &ev);
}

static void probe_send(struct line *l)
{
	l->probe = new_binding(l, 0);
	if (!l->probe) {
		probe_fail(l, "out of memory");
		return;
	}
	send_register(l, l->probe, 0, &l->probe_addr, l->probe_route, true);
}

/* Which of the primary's addresses the probe tries: the one that last took
 * a REGISTER, and after each failed probe the next (a dead first address
 * must not keep the line from failing back). */
static void probe_pick(struct line *l, const struct resolver_answer *ans)
{
	int first = 0;
	for (int i = 0; i < ans->n; i++) {
		char a[64];
		addrlist_format(a, sizeof a, &ans->v[i]);
		if (!strcmp(a, l->primary_ok))
			first = i;
	}
	l->probe_addr = ans->v[(first + l->probe_misses) % ans->n];
}

static void probe_lookup_cb(void *arg, const struct resolver_answer *ans)
{
	struct line *l = arg;
	l->probe_lookup = NULL;
	if (ans->n == 0) {
		snprintf(l->dns_why, sizeof l->dns_why, "DNS: %.180s", ans->error);
		probe_fail(l, l->dns_why);
		return;
	}
	probe_pick(l, ans);
	probe_send(l);
}

/* SPEC C's failback probe: an independent REGISTER to the primary. Through
 * proxies it takes the proxy address the line uses (it works); without,
 * the primary's first address (its known answer, or a lookup). */
static void start_probe(struct line *l)
{
	const struct conf_server *sv = &l->cl->servers[0];
	sip_reg_free(l->probe);
	l->probe = NULL;
	resolver_cancel(l->probe_lookup);
	l->probe_lookup = NULL;
	if (l->cl->n_proxies) {
		addrlist_route(sv, l->probe_route, sizeof l->probe_route);
		l->probe_addr = l->cur;
		probe_send(l);
		return;
	}
	l->probe_route[0] = '\0';
	struct resolver_key k = { .name = sv->host, .port = sv->port, .tp = sv->transport };
	struct resolver_answer ans;
	if (resolver_peek(l->res, &k, &ans) == 0 && !ans.stale) {
		probe_pick(l, &ans);
		probe_send(l);
		return;
	}
	l->probe_lookup = resolver_lookup(l->res, &k, probe_lookup_cb, l);
	if (!l->probe_lookup)
		probe_fail(l, "out of memory");
}

/* The probe's binding became the line's: so did its address and list. */
static void adopt_probe_address(struct line *l)
{
	const struct conf_server *sv = &l->cl->servers[0];
	char addr[64];
	resolver_cancel(l->refresh);
	l->refresh = NULL;
	l->probe_misses = 0;
	addrlist_format(addr, sizeof addr, &l->probe_addr);
	if (addrlist_begin(&l->al, sv, now_ms()) == AL_LOOKUP) {
		struct resolver_key k = addrlist_key(&l->al);
		struct resolver_answer ans;
		if (resolver_peek(l->res, &k, &ans) == 0)
			addrlist_resolved(&l->al, &ans);
	}
	addrlist_adopt(&l->al, addr);
	use_address(l, &l->probe_addr, l->probe_route);
	arm_dns_timer(l);
}

static void execute(struct line *l, const struct agent_action *x)
{
	switch (x->kind) {
	case AA_RESOLVE:
		resolver_cancel(l->lookup);
		l->lookup = NULL;
		resolver_cancel(l->refresh);
		l->refresh = NULL;
		resolve_step(l, addrlist_begin(&l->al, &l->cl->servers[x->server], now_ms()));
		return;
	case AA_NEXT_ADDRESS: {
		const struct resolver_addr *a;
		snprintf(l->prev_address, sizeof l->prev_address, "%s", l->address);
		if (addrlist_failed(&l->al) == AL_USE && (a = addrlist_current(&l->al))) {
			use_address(l, a, l->al.route);
		} else {
			/* Every address failed: the name is asked again before its
			 * next use, also after the line was on another server (B.4). */
			struct resolver_key k = addrlist_key(&l->al);
			if (k.name[0])
				resolver_invalidate(l->res, &k);
		}
		return;
	}
	case AA_REGISTER:
		if (l->main && l->main_server != x->server) {
			sip_reg_free(l->main);
			l->main = NULL;
		}
		if (!l->main) {
			l->main = new_binding(l, x->server);
			l->main_server = x->server;
		}
		if (!l->main || !l->cur.port) {
			struct agent_event ev = { .kind = AE_REG, .result = SIP_RES_INTERNAL,
						  .phrase = l->main ? "no address to use" : "out of memory" };
			feed(l, &ev);
			return;
		}
		send_register(l, l->main, x->server, &l->cur, l->route, false);
		return;
	case AA_UNREGISTER:
		if (!l->main || sip_reg_unregister(l->main) != 0) {
			struct agent_event ev = { .kind = AE_UNREG, .result = SIP_RES_OK, .status = 200 };
			feed(l, &ev); /* nothing to un-REGISTER */
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
		start_probe(l);
		return;
	case AA_PROBE_DROP:
		sip_reg_free(l->probe);
		l->probe = NULL;
		resolver_cancel(l->probe_lookup);
		l->probe_lookup = NULL;
		return;
	case AA_ADOPT_PROBE: {
		/* SPEC C: registered on the primary through the probe's own
		 * dialog; the backup registration is released. */
		struct sip_reg *was = l->main;
		l->main = l->probe;
		l->main_server = 0;
		l->probe = NULL;
		if (was)
			release(l, was);
		adopt_probe_address(l);
		return;
	}
	case AA_PUBLISH:
		record(l, x);
		return;
	case AA_STOPPED: {
		resolver_cancel(l->lookup);
		l->lookup = NULL;
		resolver_cancel(l->refresh);
		l->refresh = NULL;
		evtimer_del(l->dns_timer);
		void (*done)(void *) = l->stop_done;
		l->stop_done = NULL;
		if (done)
			done(l->stop_arg);
		return;
	}
	}
}

static void sync_timers(struct line *l)
{
	int64_t now = now_ms();
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
		int64_t ms = d > now ? d - now : 0;
		struct timeval tv = { .tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)(ms % 1000) * 1000 };
		evtimer_add(lt->ev, &tv);
	}
}

/* The one entry into the agent: step it, log the change of state, execute
 * what it asks, mirror its deadlines into libevent timers. */
static struct store_event store_ev(const struct line_event *e)
{
	struct store_event s = { .at = e->at, .line = e->line, .kind = e->kind,
				 .from = e->from, .to = e->to, .reason = e->reason };
	return s;
}

/* SPEC D: write on transitions, never on a clock: the persistent part of
 * the line is compared with what the store holds; refreshes and heartbeats
 * change nothing there and so write nothing. */
static void persist(struct line *l)
{
	struct store_line now = { 0 };
	const struct agent *a = &l->ag;
	now.server = a->server;
	snprintf(now.address, sizeof now.address, "%s", l->address);
	now.registered = a->state == AG_REGISTERED;
	for (int i = 0; i < a->cfg.n_servers && i < 32; i++)
		if (a->sv[i].registered_before)
			now.registered_before |= 1u << i;
	if (l->main && l->main_server == a->server)
		snprintf(now.call_id, sizeof now.call_id, "%s", sip_reg_call_id(l->main));
	now.expires_at = l->saved.expires_at;
	now.min_expires = l->learned_server == a->server ? l->learned_min : 0;
	bool changed = now.server != l->saved.server || now.registered != l->saved.registered ||
		       now.min_expires != l->saved.min_expires ||
		       now.registered_before != l->saved.registered_before ||
		       strcmp(now.address, l->saved.address) != 0 ||
		       strcmp(now.call_id, l->saved.call_id) != 0;
	if (changed && now.registered)
		now.expires_at = time(NULL) + a->granted_s;
	if (!changed && l->n_step_events == 0)
		return;
	struct store_event evs[AGENT_ACTIONS_MAX];
	for (int i = 0; i < l->n_step_events; i++)
		evs[i] = store_ev(l->step_events[i]);
	store_save_line(l->store, l->cl->id, &now, evs, l->n_step_events);
	l->saved = now;
	l->n_step_events = 0;
}

static void step(struct line *l, const struct agent_event *ev)
{
	struct agent_actions out;
	enum agent_state before = l->ag.state;
	struct agent_event e = *ev;
	e.addr_left = addrlist_left(&l->al);
	agent_step(&l->ag, &e, now_ms(), &out);
	if (l->ag.state != before) {
		const char *why = "";
		for (int i = 0; i < out.n; i++)
			if (out.v[i].kind == AA_PUBLISH)
				why = out.v[i].reason;
		if (!*why && l->ag.reverify)
			why = l->ag.error_reason; /* a heartbeat miss: what was missed */
		if (!*why && l->ag.state == AG_REGISTERING)
			why = l->cl->servers[l->ag.server].host;
		log_info("%s: %s -> %s%s%s%s", l->cl->id, agent_state_name(before),
			 agent_state_name(l->ag.state), *why ? " (" : "", why, *why ? ")" : "");
	}
	for (int i = 0; i < out.n; i++)
		execute(l, &out.v[i]);
	persist(l);
}

static void feed(struct line *l, const struct agent_event *ev)
{
	if (l->feeding) {
		/* Only synthesized outcomes get here, whose strings are static
		 * or the config's; SIP outcomes arrive from the loop. */
		if (l->n_pending < (int)(sizeof l->pending / sizeof l->pending[0]))
			l->pending[l->n_pending++] = *ev;
		else
			log_error("%s: event queue full; event %d dropped", l->cl->id, ev->kind);
		return;
	}
	l->feeding = true;
	step(l, ev);
	while (l->n_pending > 0) {
		struct agent_event next = l->pending[0];
		memmove(l->pending, l->pending + 1, sizeof l->pending[0] * (size_t)--l->n_pending);
		step(l, &next);
	}
	l->feeding = false;
	sync_timers(l);
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

static void outcome_cb(void *ctx, const struct sip_outcome *o)
{
	struct line *l = ctx;
	struct agent_event ev = {
		.result = o->result, .status = o->status, .phrase = o->phrase,
		.expires = o->expires, .retry_after = o->retry_after, .target = o->target,
	};
	if (o->reg == l->old) {
		if (o->op != SIP_OP_OPTIONS) {
			log_debug("%s: released binding at %s: %d %s", l->cl->id, o->target, o->status, o->phrase);
			sip_reg_free(l->old);
			l->old = NULL;
		}
		return;
	}
	if (o->reg == l->probe) {
		if (o->op != SIP_OP_REGISTER)
			return;
		ev.kind = AE_PROBE;
		if (o->result != SIP_RES_OK)
			l->probe_misses++;
	} else if (o->reg == l->main) {
		ev.kind = o->op == SIP_OP_REGISTER ? AE_REG : o->op == SIP_OP_UNREGISTER ? AE_UNREG : AE_OPTIONS;
		if (o->op == SIP_OP_REGISTER && o->result == SIP_RES_OK) {
			addrlist_succeeded(&l->al);
			if (l->main_server == 0 && !l->cl->n_proxies)
				snprintf(l->primary_ok, sizeof l->primary_ok, "%s", l->address);
		}
		if (o->op == SIP_OP_REGISTER && o->result == SIP_RES_OK &&
		    o->expires > l->cl->servers[l->main_server].expires) {
			l->learned_min = o->expires;
			l->learned_server = l->main_server;
		}
	} else {
		return; /* a handle already let go */
	}
	feed(l, &ev);
}

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
	addrlist_init(&l->al, cl->proxies, cl->n_proxies);
	l->conf = c;
	l->cl = cl;
	struct agent_config ac = {
		.enabled = cl->enabled,
		.n_servers = cl->n_servers,
		.t1_ms = c->t1,
		.t2_ms = c->t2,
		.retry_count = cl->retry_count,
		.heartbeat_ms = cl->heartbeat_interval * 1000,
		.return_delay_ms = cl->return_delay * 1000,
		.retry_delay_ms = cl->retry_delay * 1000,
		.failback = cl->failback_enabled,
		.failback_ms = cl->failback_interval * 1000,
		.start_spread_ms = c->start_spread * 1000,
		.rand = rand_cb,
	};
	agent_init(&l->ag, &ac, NULL);
	if (restore && store_load_line(store, cl->id, &l->saved) == 0) {
		/* Resume where the line was: on a backup it stays there (and
		 * probes the primary); SPEC A.2's flags carry over. A stored
		 * server index past the configured list is ignored. */
		if (l->saved.server >= cl->n_servers)
			l->saved.server = 0;
		agent_resume(&l->ag, l->saved.server, l->saved.registered_before);
		l->learned_min = l->saved.min_expires;
		l->learned_server = l->saved.server;
		snprintf(l->restored_buf, sizeof l->restored_buf, "%s", l->saved.call_id);
		/* ... and through the address it was registered through, if its
		 * name still resolves to it. */
		snprintf(l->al.prefer, sizeof l->al.prefer, "%s", l->saved.address);
		l->restored_call_id = l->restored_buf;
		struct agent_action x = { .kind = AA_PUBLISH, .pub = AP_MAX, .server = -1, .to = l->saved.server };
		snprintf(x.reason, sizeof x.reason, "daemon started; resuming on this server%s",
			 l->saved.registered ? " (was registered)" : "");
		record(l, &x);
		persist(l);
	}
	for (int t = 0; t < AT_MAX; t++) {
		l->timers[t].l = l;
		l->timers[t].t = (enum agent_timer)t;
		l->timers[t].ev = evtimer_new(base, timer_cb, &l->timers[t]);
		if (!l->timers[t].ev) {
			line_free(l);
			return NULL;
		}
	}
	l->dns_timer = evtimer_new(base, dns_timer_cb, l);
	if (!l->dns_timer) {
		line_free(l);
		return NULL;
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
	struct agent_event ev = { .kind = AE_STOP };
	feed(l, &ev);
}

void line_free(struct line *l)
{
	if (!l)
		return;
	for (int t = 0; t < AT_MAX; t++)
		if (l->timers[t].ev)
			event_free(l->timers[t].ev);
	if (l->dns_timer)
		event_free(l->dns_timer);
	resolver_cancel(l->lookup);
	resolver_cancel(l->refresh);
	resolver_cancel(l->probe_lookup);
	sip_reg_free(l->main);
	sip_reg_free(l->probe);
	sip_reg_free(l->old);
	free(l);
}

void line_rebind(struct line *l, const struct conf *c, const struct conf_line *cl)
{
	l->conf = c;
	l->cl = cl;
	l->al.proxies = cl->proxies; /* equal to the old ones, but in C now */
}

int line_force_failover(struct line *l)
{
	if (l->ag.state == AG_DISABLED)
		return -EINVAL;
	struct agent_event ev = { .kind = AE_FORCE_FAILOVER };
	feed(l, &ev);
	return 0;
}

int line_register_now(struct line *l)
{
	if (l->ag.state == AG_DISABLED)
		return -EINVAL;
	if (l->stop_done)
		return -EBUSY; /* the daemon (or a reload) is stopping it for good */
	struct agent_event ev = { .kind = AE_REGISTER_NOW };
	feed(l, &ev);
	return 0;
}

int line_unregister(struct line *l)
{
	if (l->ag.state == AG_DISABLED)
		return -EINVAL;
	l->stop_done = NULL;
	struct agent_event ev = { .kind = AE_STOP };
	feed(l, &ev);
	return 0;
}

void line_set_idle(struct line *l, bool idle)
{
	struct agent_event ev = { .kind = AE_IDLE, .idle = idle };
	feed(l, &ev);
}

const char *line_id(const struct line *l)
{
	return l->cl->id;
}

static long secs_until(int64_t deadline, int64_t now)
{
	if (!deadline)
		return -1;
	return deadline > now ? (long)((deadline - now + 999) / 1000) : 0;
}

void line_get_status(const struct line *l, struct line_status *st)
{
	const struct agent *a = &l->ag;
	const struct conf_server *sv = &l->cl->servers[a->server];
	int64_t now = now_ms();
	memset(st, 0, sizeof *st);
	st->id = l->cl->id;
	st->state = agent_state_name(a->state);
	st->registered = a->state == AG_REGISTERED;
	st->server_index = a->server;
	role_name(a->server, st->server_role, sizeof st->server_role);
	st->server_host = sv->host;
	/* an SRV-given port is known once looked up; through a proxy the
	 * address is the proxy's, so the server's port stays unknown */
	st->server_port = sv->port ? sv->port
				   : (l->main_server == a->server && !l->cl->n_proxies ? l->port : 0);
	st->server_transport = conf_transport_name(sv->transport);
	st->address = l->address[0] ? l->address : NULL;
	if (st->registered) {
		long left = a->granted_s - (long)((now - a->registered_at) / 1000);
		st->expires_in = left > 0 ? left : 0;
	}
	st->failovers = a->failovers;
	if (a->error_at) {
		st->error_code = a->error_code;
		st->error_reason = a->error_reason;
		st->error_at = time(NULL) - (time_t)((now - a->error_at) / 1000);
	}
	st->next_attempt_in = secs_until(a->deadline[AT_RETRY], now);
	st->next_failback_in = secs_until(a->deadline[AT_FAILBACK], now);
	const struct addrlist *al = &l->al;
	st->proxy_index = al->proxy;
	st->proxy = al->proxy >= 0 ? l->cl->proxies[al->proxy] : NULL;
	st->address_index = -1;
	for (int i = 0; al->have && i < al->ans.n && i < (int)(sizeof st->addresses / sizeof st->addresses[0]); i++) {
		addrlist_format(st->addresses[i], sizeof st->addresses[i], &al->ans.v[i]);
		if (l->address[0] && !strcmp(st->addresses[i], l->address))
			st->address_index = i;
		st->n_addresses = i + 1;
	}
	if (al->name[0] && !addrlist_is_literal(al)) {
		st->dns_name = al->name;
		st->dns_stale = al->have && (al->ans.stale || al->ans.status != 0);
		st->dns_error = al->ans.status && al->ans.error[0] ? al->ans.error : NULL;
		st->dns_refresh_in = evtimer_pending(l->dns_timer, NULL) ? secs_until(al->ans.expires, now) : -1;
	}
}

struct hist_ctx {
	line_event_cb *cb;
	void *arg;
};

static void hist_store_cb(const struct store_event *se, void *arg)
{
	struct hist_ctx *h = arg;
	struct line_event e = { .at = se->at, .kind = se->kind };
	snprintf(e.line, sizeof e.line, "%s", se->line);
	snprintf(e.from, sizeof e.from, "%s", se->from);
	snprintf(e.to, sizeof e.to, "%s", se->to);
	snprintf(e.reason, sizeof e.reason, "%s", se->reason);
	h->cb(&e, h->arg);
}

int line_history(const struct line *l, int n, line_event_cb *cb, void *arg)
{
	struct hist_ctx h = { cb, arg };
	int got = store_history(l->store, l->cl->id, n, hist_store_cb, &h);
	if (got >= 0)
		return got;
	/* no store: what this run has kept in memory */
	int i;
	for (i = 0; i < n && i < l->hist_n; i++)
		cb(&l->hist[(l->hist_head - 1 - i + LINE_HISTORY_MAX) % LINE_HISTORY_MAX], arg);
	return i;
}

struct line *line_set_find(const struct line_set *set, const char *id)
{
	for (int i = 0; i < set->n; i++)
		if (strcmp(line_id(set->v[i]), id) == 0)
			return set->v[i];
	return NULL;
}
