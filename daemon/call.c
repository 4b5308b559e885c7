/* call.c - one call's decisions (RULES F): where its INVITE and BYE go,
 * when a server is unavailable for them, when the call waits for the line
 * and is sent again, and that it is closed exactly once. Pure. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "call.h"

static const char *const state_names[CALL_STATE_MAX] = {
	[CALL_INCOMING] = "incoming",
	[CALL_CALLING] = "calling",
	[CALL_RINGING] = "ringing",
	[CALL_EARLY] = "early",
	[CALL_ESTABLISHED] = "established",
	[CALL_CLOSED] = "closed",
};

static const char *const phase_names[CP_MAX] = {
	[CP_NEW] = "new",
	[CP_INVITE] = "invite",
	[CP_WAIT_LINE] = "wait-line",
	[CP_OFFERED] = "offered",
	[CP_ANSWERED] = "answered",
	[CP_UP] = "up",
	[CP_CANCEL] = "cancel",
	[CP_BYE] = "bye",
	[CP_BYE_WAIT_LINE] = "bye-wait-line",
	[CP_DONE] = "done",
};

const char *call_state_name(enum call_state s)
{
	return s < CALL_STATE_MAX ? state_names[s] : "?";
}

const char *call_phase_name(enum call_phase p)
{
	return p < CP_MAX ? phase_names[p] : "?";
}

int call_admit(bool trusted, int open_calls, int max_calls)
{
	if (!trusted)
		return 403; /* F.3: scanners ring phones at night */
	if (open_calls >= max_calls)
		return 486;
	return 0;
}

/* F.2: unavailable = no answer, ICMP or a refused connection (our stack's
 * 408/503), a server's 500/503, or an outbound proxy's 408/477/478 (it
 * speaks for the server behind it, RULES B.6). Without a proxy, a
 * server's 408 or 504 is the far end not answering: the call's end, not a
 * reason to call twice. */
enum verdict call_verdict(int status, bool local, bool routed)
{
	if (status >= 200 && status < 300)
		return VERDICT_OK;
	if (status == 0 || (local && status == 503))
		return VERDICT_UNREACHABLE;
	if (local && status == 408)
		return VERDICT_TIMEOUT;
	if (local)
		return VERDICT_INTERNAL;
	if (status == 500 || status == 503)
		return VERDICT_5XX;
	if (routed && status == 408)
		return VERDICT_TIMEOUT;
	if (routed && (status == 477 || status == 478))
		return VERDICT_UNREACHABLE;
	return verdict_of(status, false) == VERDICT_5XX ? VERDICT_6XX : verdict_of(status, false);
}

static bool unavailable(enum verdict v)
{
	return v == VERDICT_TIMEOUT || v == VERDICT_UNREACHABLE || v == VERDICT_5XX;
}

static struct call_action *act(struct call_actions *out, enum call_act_kind kind)
{
	struct call_action *x = &out->v[out->n < CALL_ACTIONS_MAX ? out->n++ : CALL_ACTIONS_MAX];
	memset(x, 0, sizeof *x);
	x->kind = kind;
	return x;
}

static void say(struct call_actions *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct call_actions *out, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(out->log, sizeof out->log, fmt, ap);
	va_end(ap);
}

static void set_state(struct call *c, enum call_state s, struct call_actions *out)
{
	if (c->state == s)
		return;
	c->state = s;
	act(out, CA_PUBLISH)->status = (int)s;
}

/* F.6: every call ends with exactly one `closed`, whatever ended it. */
static void close_call(struct call *c, int code, const char *reason, struct call_actions *out)
{
	if (c->state == CALL_CLOSED)
		return;
	c->code = code;
	snprintf(c->reason, sizeof c->reason, "%s", reason && *reason ? reason : "closed");
	set_state(c, CALL_CLOSED, out);
}

static void done(struct call *c, struct call_actions *out)
{
	c->phase = CP_DONE;
	c->deadline[CT_BUDGET] = c->deadline[CT_WAIT] = 0;
	act(out, CA_DONE);
}

static bool tried(const struct call *c, const struct netaddr *a)
{
	for (int i = 0; i < c->tries; i++)
		if (c->tried[i].port == a->port && strcmp(c->tried[i].ip, a->ip) == 0)
			return true;
	return false;
}

static void remember(struct call *c, const struct netaddr *a)
{
	if (c->tries < CALL_TRIES_MAX && !tried(c, a))
		c->tried[c->tries++] = *a;
}

/* C.5: a server that is not the last gets retry_count transmissions. */
static void arm_budget(struct call *c, int64_t now)
{
	c->deadline[CT_BUDGET] = c->hop.last || c->hop.budget_ms <= 0 ? 0 : now + c->hop.budget_ms;
}

static void send_invite(struct call *c, const struct line_hop *h, int64_t now, struct call_actions *out)
{
	c->hop = *h;
	remember(c, &h->addr);
	c->phase = CP_INVITE;
	c->answered_any = false;
	c->deadline[CT_WAIT] = 0;
	arm_budget(c, now);
	act(out, CA_INVITE)->hop = *h;
}

static void send_bye(struct call *c, const struct line_hop *via, int64_t now, struct call_actions *out)
{
	struct call_action *x = act(out, CA_BYE);
	c->phase = CP_BYE;
	c->deadline[CT_WAIT] = now + c->cfg.zombie_ms;
	if (via) {
		c->hop = *via;
		remember(c, &via->addr);
		x->via = true;
		x->hop = *via;
	}
	arm_budget(c, now);
}

/* The server was unavailable for the request in flight: the line is told
 * (it re-registers, or switches at once on the server's own 5xx), and the
 * request waits for the line to be registered somewhere it was not sent. */
static void server_unavailable(struct call *c, enum verdict v, int status, const char *why, int64_t now,
			       struct call_actions *out)
{
	struct call_action *x = act(out, CA_LINE_FAILED);
	x->hop = c->hop;
	x->status = status;
	x->server_down = v == VERDICT_5XX; /* the server said it: as A.3 for REGISTER */
	snprintf(x->reason, sizeof x->reason, "%s", why);
	c->deadline[CT_BUDGET] = 0;
	c->deadline[CT_WAIT] = now + (c->phase == CP_BYE ? c->cfg.zombie_ms : c->cfg.wait_ms);
	c->code = status ? status : 503;
	snprintf(c->reason, sizeof c->reason, "%s", why);
	c->phase = c->phase == CP_BYE ? CP_BYE_WAIT_LINE : CP_WAIT_LINE;
}

static void on_final(struct call *c, const struct call_event *ev, int64_t now, struct call_actions *out)
{
	char why[CALL_REASON_MAX];
	c->deadline[CT_BUDGET] = 0;
	if (c->phase == CP_CANCEL) {
		if (ev->status >= 200 && ev->status < 300) {
			/* the answer crossed our CANCEL: the far end is up, clear it */
			send_bye(c, NULL, now, out);
			return;
		}
		done(c, out);
		return;
	}
	if (c->phase != CP_INVITE)
		return;
	if (ev->status >= 200 && ev->status < 300) {
		c->phase = CP_UP;
		c->answered_at = now;
		c->deadline[CT_WAIT] = 0;
		set_state(c, CALL_ESTABLISHED, out);
		return;
	}
	enum verdict v = call_verdict(ev->status, ev->local, c->hop.route[0] != '\0');
	if (unavailable(v) && !c->provisional) {
		char addr[NETADDR_STR_MAX];
		netaddr_format(addr, sizeof addr, &c->hop.addr);
		snprintf(why, sizeof why, "INVITE to %s: %d %s", addr, ev->status, ev->phrase ? ev->phrase : "");
		act(out, CA_ABANDON);
		server_unavailable(c, v, ev->status, why, now, out);
		say(out, "%s: waiting for the line to register", why);
		return;
	}
	/* F.2: busy is busy: the far end's (or the server's) word ends the call */
	close_call(c, ev->status, ev->phrase, out);
	done(c, out);
}

static void on_line(struct call *c, const struct line_hop *h, int64_t now, struct call_actions *out)
{
	if (c->phase != CP_WAIT_LINE && c->phase != CP_BYE_WAIT_LINE)
		return;
	if (h->up && !tried(c, &h->addr) && c->tries < CALL_TRIES_MAX) {
		char addr[NETADDR_STR_MAX];
		netaddr_format(addr, sizeof addr, &h->addr);
		if (c->phase == CP_WAIT_LINE) {
			say(out, "the line is registered through %s: the call goes there", addr);
			send_invite(c, h, now, out);
		} else {
			say(out, "the line is registered through %s: the BYE goes there", addr);
			send_bye(c, h, now, out);
		}
		return;
	}
	if (h->failed || (h->up && tried(c, &h->addr))) {
		/* no server left that the request was not sent to */
		if (c->phase == CP_WAIT_LINE)
			close_call(c, c->code ? c->code : 503, c->reason, out);
		else
			say(out, "the BYE reached no server: %s", c->reason);
		done(c, out);
	}
}

static void on_timer(struct call *c, enum call_timer t, int64_t now, struct call_actions *out)
{
	char why[CALL_REASON_MAX], addr[NETADDR_STR_MAX];
	c->deadline[t] = 0;
	netaddr_format(addr, sizeof addr, &c->hop.addr);
	switch (t) {
	case CT_BUDGET:
		if (c->phase == CP_INVITE && !c->answered_any && !c->provisional) {
			snprintf(why, sizeof why, "INVITE to %s unanswered after %d ms", addr, c->hop.budget_ms);
			act(out, CA_ABANDON);
			server_unavailable(c, VERDICT_TIMEOUT, 408, why, now, out);
			say(out, "%s: waiting for the line to register", why);
		} else if (c->phase == CP_BYE) {
			snprintf(why, sizeof why, "BYE to %s unanswered after %d ms", addr, c->hop.budget_ms);
			server_unavailable(c, VERDICT_TIMEOUT, 408, why, now, out);
			say(out, "%s: waiting for the line to register", why);
		}
		return;
	case CT_WAIT:
		if (c->phase == CP_WAIT_LINE) {
			say(out, "no server took the call: %s", c->reason);
			close_call(c, c->code ? c->code : 408, c->reason, out);
		} else if (c->phase == CP_BYE || c->phase == CP_BYE_WAIT_LINE) {
			say(out, "gave up clearing the far end: %s",
			    c->phase == CP_BYE ? "the BYE is unanswered" : c->reason);
		} else if (c->phase == CP_CANCEL) {
			say(out, "the cancelled INVITE got no final answer");
		} else {
			return;
		}
		done(c, out);
		return;
	case CT_MAX:
		return;
	}
}

static void on_hangup(struct call *c, const struct call_event *ev, int64_t now, struct call_actions *out)
{
	int code = ev->status;
	switch (c->phase) {
	case CP_INVITE:
		close_call(c, 487, "cancelled", out);
		act(out, CA_CANCEL);
		c->phase = CP_CANCEL;
		c->deadline[CT_BUDGET] = 0;
		c->deadline[CT_WAIT] = now + c->cfg.zombie_ms;
		return;
	case CP_WAIT_LINE:
	case CP_NEW:
		close_call(c, 487, "cancelled", out);
		done(c, out);
		return;
	case CP_OFFERED:
		if (code < 400 || code > 699)
			code = 486;
		act(out, CA_RESPOND)->status = code;
		close_call(c, code, "rejected", out);
		done(c, out);
		return;
	case CP_ANSWERED:
	case CP_UP:
		/* RFC 3261 15.1.1: closed for the user at once */
		close_call(c, 200, "hangup", out);
		c->tries = 0;
		remember(c, &c->hop.addr);
		send_bye(c, NULL, now, out);
		return;
	default:
		return;
	}
}

static void on_bye_done(struct call *c, const struct call_event *ev, int64_t now, struct call_actions *out)
{
	char why[CALL_REASON_MAX], addr[NETADDR_STR_MAX];
	if (c->phase != CP_BYE)
		return;
	c->deadline[CT_BUDGET] = 0;
	enum verdict v = call_verdict(ev->status, ev->local, c->hop.route[0] != '\0');
	if (unavailable(v)) {
		netaddr_format(addr, sizeof addr, &c->hop.addr);
		snprintf(why, sizeof why, "BYE to %s: %d %s", addr, ev->status, ev->phrase ? ev->phrase : "");
		server_unavailable(c, v, ev->status, why, now, out);
		say(out, "%s: waiting for the line to register", why);
		return;
	}
	done(c, out); /* 200, 481 or any other word of the far end: it is cleared */
}

void call_init(struct call *c, const struct call_config *cfg, bool outgoing)
{
	memset(c, 0, sizeof *c);
	c->cfg = *cfg;
	c->outgoing = outgoing;
	c->state = outgoing ? CALL_CALLING : CALL_INCOMING;
	c->phase = CP_NEW;
}

void call_step(struct call *c, const struct call_event *ev, int64_t now, struct call_actions *out)
{
	out->n = 0;
	out->log[0] = '\0';
	switch (ev->kind) {
	case CE_DIAL:
		if (c->phase != CP_NEW || !c->outgoing)
			return;
		act(out, CA_PUBLISH)->status = CALL_CALLING; /* the call appears */
		if (ev->hop && ev->hop->up) {
			send_invite(c, ev->hop, now, out);
		} else if (!ev->hop || ev->hop->failed) {
			/* every server is down (or the line is stopped): no
			 * point keeping the user waiting */
			say(out, "the line has no server: the call ends");
			close_call(c, 503, "the line is not registered", out);
			done(c, out);
		} else {
			c->phase = CP_WAIT_LINE;
			c->code = 503;
			snprintf(c->reason, sizeof c->reason, "the line is not registered");
			c->deadline[CT_WAIT] = now + c->cfg.wait_ms;
			say(out, "the line is not registered: the call waits for it");
		}
		return;
	case CE_OFFER:
		if (c->phase != CP_NEW || c->outgoing)
			return;
		if (ev->hop)
			c->hop = *ev->hop;
		c->phase = CP_OFFERED;
		act(out, CA_RESPOND)->status = 180;
		act(out, CA_PUBLISH)->status = CALL_INCOMING; /* the call appears */
		return;
	case CE_ANSWER:
		if (c->phase != CP_OFFERED)
			return;
		c->phase = CP_ANSWERED;
		act(out, CA_RESPOND)->status = 200;
		return;
	case CE_HANGUP:
		on_hangup(c, ev, now, out);
		return;
	case CE_PROGRESS:
		if (c->phase != CP_INVITE && c->phase != CP_CANCEL)
			return;
		c->answered_any = true;
		c->deadline[CT_BUDGET] = 0; /* the server answered: Timer B governs now */
		if (ev->status <= 100 || c->phase == CP_CANCEL)
			return;
		c->provisional = true;
		set_state(c, ev->status == 183 ? CALL_EARLY : CALL_RINGING, out);
		return;
	case CE_FINAL:
		on_final(c, ev, now, out);
		return;
	case CE_ACKED:
		if (c->phase != CP_ANSWERED)
			return;
		c->phase = CP_UP;
		c->answered_at = now;
		set_state(c, CALL_ESTABLISHED, out);
		return;
	case CE_BYE_DONE:
		on_bye_done(c, ev, now, out);
		return;
	case CE_ENDED:
		if (c->phase == CP_DONE || c->phase == CP_BYE || c->phase == CP_BYE_WAIT_LINE ||
		    c->phase == CP_CANCEL)
			return;
		if (c->phase == CP_INVITE || c->phase == CP_WAIT_LINE)
			return; /* the INVITE's own final answer decides (CE_FINAL) */
		close_call(c, ev->status ? ev->status : 200,
			   ev->phrase && *ev->phrase ? ev->phrase : ev->remote ? "remote hangup" : "ended", out);
		done(c, out);
		return;
	case CE_TIMER:
		if (ev->timer < CT_MAX && c->deadline[ev->timer])
			on_timer(c, ev->timer, now, out);
		return;
	case CE_LINE:
		if (ev->hop)
			on_line(c, ev->hop, now, out);
		return;
	case CE_REOFFER:
		/* RFC 3261 14.2: an established call answers with its media
		 * (the runner answers the new offer); anything else is in
		 * the middle of an exchange: 491 (14.2, glare) */
		act(out, CA_RESPOND)->status = c->phase == CP_UP ? 200 : 491;
		return;
	case CE_MAX:
		return;
	}
}
