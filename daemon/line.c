/* line.c - one line's runner: executes registration, keeps its timers and status. */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "line.h"
#include "log.h"
#include "sip.h"

struct line {
	struct event_base *base;
	struct sip *sip;
	const struct conf *conf;
	const struct conf_line *cl;
	struct sip_reg *reg;
	enum line_state state;
	int server;              /* index into cl->servers */
	char role[16];
	char address[64];
	char ip[64];
	int port;
	struct event *timer;     /* the one pending action: first attempt or retry */
	struct timespec timer_due;
	struct timespec registered_at;
	int granted;             /* s, of the current registration */
	bool have_binding;       /* the registrar holds our contact (last REGISTER got 2xx) */
	unsigned failovers;
	int error_code;
	char error_reason[160];
	time_t error_at;
	void (*stop_done)(void *arg);
	void *stop_arg;
};

static const char *const state_names[LINE_STATE_MAX] = {
	[LINE_DISABLED] = "disabled",
	[LINE_RESOLVING] = "resolving",
	[LINE_REGISTERING] = "registering",
	[LINE_REGISTERED] = "registered",
	[LINE_UNREGISTERING] = "unregistering",
	[LINE_WAITING] = "waiting",
	[LINE_FAILED] = "failed",
};

const char *line_state_name(enum line_state s)
{
	return s < LINE_STATE_MAX ? state_names[s] : "?";
}

static struct timespec now_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts;
}

static long ms_until(struct timespec due)
{
	struct timespec n = now_mono();
	return (due.tv_sec - n.tv_sec) * 1000 + (due.tv_nsec - n.tv_nsec) / 1000000;
}

/* STYLE habit 1: every change of state passes here and is logged once. */
static void transition(struct line *l, enum line_state next, const char *why)
{
	if (l->state != next)
		log_info("%s: %s -> %s%s%s%s", l->cl->id, state_names[l->state], state_names[next],
			 why ? " (" : "", why ? why : "", why ? ")" : "");
	l->state = next;
}

static void set_error(struct line *l, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_error(struct line *l, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(l->error_reason, sizeof l->error_reason, fmt, ap);
	va_end(ap);
	l->error_code = code;
	l->error_at = time(NULL);
}

static void arm(struct line *l, long ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
	struct timespec n = now_mono();
	l->timer_due.tv_sec = n.tv_sec + ms / 1000;
	l->timer_due.tv_nsec = n.tv_nsec + (ms % 1000) * 1000000;
	if (l->timer_due.tv_nsec >= 1000000000) {
		l->timer_due.tv_sec++;
		l->timer_due.tv_nsec -= 1000000000;
	}
	evtimer_add(l->timer, &tv);
}

static void disarm(struct line *l)
{
	evtimer_del(l->timer);
}

/* Until the DNS issue lands a server must be an IP literal; no blocking
 * lookup is ever made from the loop. */
static int pick_address(struct line *l)
{
	const struct conf_server *sv = &l->cl->servers[l->server];
	unsigned char buf[sizeof(struct in6_addr)];
	if (inet_pton(AF_INET, sv->host, buf) != 1 && inet_pton(AF_INET6, sv->host, buf) != 1)
		return -1;
	snprintf(l->ip, sizeof l->ip, "%s", sv->host);
	l->port = sv->port ? sv->port : 5060; /* RFC 3263 4.2: literal, no SRV */
	sip_format_target(l->address, sizeof l->address, l->ip, l->port);
	return 0;
}

static void do_register(struct line *l)
{
	const struct conf_server *sv = &l->cl->servers[l->server];
	if (pick_address(l) != 0) {
		set_error(l, 0, "server %s is a name; DNS resolution is not supported yet", sv->host);
		transition(l, LINE_FAILED, l->error_reason);
		return;
	}
	transition(l, LINE_REGISTERING, l->address);
	sip_reg_register(l->reg, l->ip, l->port, sv->transport, sv->expires);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	do_register(arg);
}

static void stop_finished(struct line *l)
{
	void (*done)(void *) = l->stop_done;
	l->stop_done = NULL;
	if (done)
		done(l->stop_arg);
}

static void outcome_cb(void *ctx, const struct sip_outcome *o)
{
	struct line *l = ctx;
	if (o->op == SIP_OP_UNREGISTER) {
		if (o->result != SIP_RES_OK)
			log_warn("%s: un-REGISTER to %s: %d %s", l->cl->id, o->target, o->status, o->phrase);
		l->have_binding = false;
		transition(l, l->cl->enabled ? LINE_WAITING : LINE_DISABLED, "unregistered");
		stop_finished(l);
		return;
	}
	if (l->state == LINE_UNREGISTERING)
		return; /* a REGISTER answered while we are leaving: the un-REGISTER decides */
	if (o->result == SIP_RES_OK) {
		char why[96];
		l->have_binding = true;
		l->granted = o->expires;
		l->registered_at = now_mono();
		disarm(l);
		snprintf(why, sizeof why, "%s, expires in %d s", o->target, o->expires);
		if (l->state != LINE_REGISTERED)
			transition(l, LINE_REGISTERED, why);
		else
			log_debug("%s: refreshed at %s, expires in %d s", l->cl->id, o->target, o->expires);
		return;
	}
	/* Policy stays minimal here: the line agent (failover, heartbeat,
	 * failback) takes these outcomes over. Until then: timer 2 of SPEC A.2. */
	if (o->result == SIP_RES_AUTH)
		set_error(l, o->status, "authentication failed at %s: %d %s", o->target, o->status, o->phrase);
	else if (o->result == SIP_RES_TIMEOUT)
		set_error(l, o->status, "REGISTER to %s timed out", o->target);
	else if (o->result == SIP_RES_UNREACHABLE)
		set_error(l, o->status, "REGISTER to %s: unreachable (%s)", o->target, o->phrase);
	else
		set_error(l, o->status, "REGISTER to %s: %d %s", o->target, o->status, o->phrase);
	log_warn("%s: %s", l->cl->id, l->error_reason);
	l->have_binding = false; /* a failed refresh: the registrar drops it at expiry */
	transition(l, LINE_WAITING, sip_result_name(o->result));
	arm(l, (long)l->cl->retry_delay * 1000);
}

struct line *line_new(struct event_base *base, struct sip *sip,
		      const struct conf *c, const struct conf_line *cl)
{
	struct line *l = calloc(1, sizeof *l);
	if (!l)
		return NULL;
	l->base = base;
	l->sip = sip;
	l->conf = c;
	l->cl = cl;
	l->state = LINE_WAITING;
	snprintf(l->role, sizeof l->role, "primary");
	struct sip_account a = {
		.line_id = cl->id, .user = cl->user, .domain = cl->domain,
		.auth_user = cl->auth_user, .password = cl->password,
		.display_name = cl->display_name,
	};
	l->timer = evtimer_new(base, timer_cb, l);
	l->reg = sip_reg_new(sip, &a, outcome_cb, l);
	if (!l->timer || !l->reg) {
		line_free(l);
		return NULL;
	}
	return l;
}

void line_start(struct line *l)
{
	if (!l->cl->enabled) {
		transition(l, LINE_DISABLED, "disabled in the config");
		return;
	}
	/* Storm control: a fleet that reboots together must not hit the
	 * registrar in one burst; the first REGISTER waits U(0, start_spread). */
	long spread_ms = (long)l->conf->start_spread * 1000;
	long delay = spread_ms > 0 ? random() % (spread_ms + 1) : 0;
	if (delay > 0) {
		char why[48];
		snprintf(why, sizeof why, "first REGISTER in %ld ms", delay);
		transition(l, LINE_WAITING, why);
		arm(l, delay);
	} else {
		do_register(l);
	}
}

void line_stop(struct line *l, void (*done)(void *arg), void *arg)
{
	disarm(l);
	l->stop_done = done;
	l->stop_arg = arg;
	/* A REGISTER still in flight may be bound by now: un-REGISTER it too. */
	if (l->have_binding || l->state == LINE_REGISTERING) {
		transition(l, LINE_UNREGISTERING, l->address);
		sip_reg_unregister(l->reg);
		return;
	}
	stop_finished(l);
}

void line_free(struct line *l)
{
	if (!l)
		return;
	if (l->timer)
		event_free(l->timer);
	sip_reg_free(l->reg);
	free(l);
}

const char *line_id(const struct line *l)
{
	return l->cl->id;
}

void line_get_status(const struct line *l, struct line_status *st)
{
	const struct conf_server *sv = &l->cl->servers[l->server];
	memset(st, 0, sizeof *st);
	st->id = l->cl->id;
	st->state = l->state;
	st->registered = l->state == LINE_REGISTERED;
	st->server_index = l->server;
	st->server_role = l->role;
	st->server_host = sv->host;
	st->server_port = sv->port ? sv->port : l->port;
	st->server_transport = conf_transport_name(sv->transport);
	st->address = l->address[0] ? l->address : NULL;
	if (st->registered) {
		long left = l->granted - (long)(now_mono().tv_sec - l->registered_at.tv_sec);
		st->expires_in = left > 0 ? left : 0;
	}
	st->failovers = l->failovers;
	st->error_code = l->error_code;
	st->error_reason = l->error_reason[0] ? l->error_reason : NULL;
	st->error_at = l->error_at;
	st->next_attempt_in = -1;
	if (evtimer_pending(l->timer, NULL)) {
		long ms = ms_until(l->timer_due);
		st->next_attempt_in = ms > 0 ? (ms + 999) / 1000 : 0;
	}
}

struct line *line_set_find(const struct line_set *set, const char *id)
{
	for (int i = 0; i < set->n; i++)
		if (strcmp(line_id(set->v[i]), id) == 0)
			return set->v[i];
	return NULL;
}
