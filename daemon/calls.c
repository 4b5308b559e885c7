/* calls.c - runs the daemon's calls: each call's machine (call.c) is fed
 * facts (SIP, timers, its line's next hop, commands) and its actions are
 * executed with SIP handles, SDP (sdp.c), RTP ports (rtpport.c), events and
 * the media hook. It decides nothing (DESIGN "Calls"). */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "agent.h"
#include "call.h"
#include "calls.h"
#include "history.h"
#include "hook.h"
#include "line.h"
#include "log.h"
#include "rtpport.h"
#include "sdp.h"
#include "sip.h"
#include "timeutil.h"

/* Strangers' INVITEs are logged once per this many seconds at most (F.3):
 * a flood must not fill the log. */
#define CALLS_STRANGER_LOG_S 10
#define CALLS_PEER_MAX 256

struct ocall;

struct call_timer_ctx {
	struct ocall *oc;
	enum call_timer t;
	struct event *ev;
	int64_t armed;
};

struct ocall {
	struct calls *cs;
	struct ocall *next;
	struct call m;                   /* the machine */
	char id[CALLS_ID_MAX];
	char line[CONF_ID_MAX + 1];
	struct sip_call *sc;
	char peer[CALLS_PEER_MAX];
	time_t started, answered;
	int port;                        /* RTP port held, 0 none */
	bool has_media;
	struct sdp_media media;
	char *offer;                     /* incoming: the caller's SDP offer; NULL: late offer */
	bool we_offered;                 /* our SDP was the offer */
	unsigned long long sess;
	unsigned long long sess_ver;     /* our o= version: up by one per new SDP (RFC 3264 8) */
	bool open_counted;               /* counted in its line's open calls */
	bool line_dirty;                 /* its line's hop changed: tell the machine */
	bool dead;                       /* freed after the step */
	struct call_timer_ctx timers[CT_MAX];
};

struct calls {
	struct event_base *base;
	struct sip *sip;
	const struct conf *conf;
	const struct line_set *set;
	struct hook *hook;
	struct rtp_pool pool;
	struct ocall *head;
	unsigned long next_id;
	struct event *deferred;          /* line changes are handled outside the line's step */
	time_t stranger_logged;
	unsigned long strangers;         /* refused since the last log line */
	char stranger_last[NETADDR_IP_MAX];
	int depth;                       /* steps running (re-entry guard) */
};

static void feed(struct ocall *oc, const struct call_event *ev);

/* ---- helpers ---- */

static struct line *line_of(const struct ocall *oc)
{
	return line_set_find(oc->cs->set, oc->line);
}

static void account(const struct conf_line *cl, struct sip_account *a)
{
	*a = (struct sip_account){
		.line_id = cl->id, .user = cl->user, .domain = cl->domain, .auth_user = cl->auth_user,
		.password = cl->password, .display_name = cl->display_name,
	};
}

static int64_t zombie_ms(const struct conf *c)
{
	return (int64_t)c->t1 * 64;
}

static void machine_init(struct calls *cs, struct ocall *oc, bool outgoing)
{
	/* a call waits for its line at most 2 * 64*T1: a re-registration on
	 * the same server (a budget) and one on the next (64*T1 at worst) */
	struct call_config cfg = { .wait_ms = (int)(2 * zombie_ms(cs->conf)), .zombie_ms = (int)zombie_ms(cs->conf) };
	call_init(&oc->m, &cfg, outgoing);
}

/* The address our RTP is at: media.address, else the address the kernel
 * would send from towards PEER (no packet is sent). */
static void media_address(const struct calls *cs, const char *peer, char *buf, size_t size)
{
	const struct conf_media *md = &cs->conf->media;
	if (md->address && *md->address) {
		snprintf(buf, size, "%s", md->address);
		return;
	}
	snprintf(buf, size, "%s", cs->conf->listen);
	if (strcmp(cs->conf->listen, "0.0.0.0") != 0 && strcmp(cs->conf->listen, "::") != 0)
		return;
	struct sockaddr_storage ss;
	socklen_t len = 0;
	memset(&ss, 0, sizeof ss);
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, peer, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(9);
		len = sizeof *s4;
	} else if (inet_pton(AF_INET6, peer, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(9);
		len = sizeof *s6;
	} else {
		return;
	}
	int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (connect(fd, (struct sockaddr *)&ss, len) == 0 && getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
		if (ss.ss_family == AF_INET)
			inet_ntop(AF_INET, &s4->sin_addr, buf, (socklen_t)size);
		else
			inet_ntop(AF_INET6, &s6->sin6_addr, buf, (socklen_t)size);
	}
	close(fd);
}

static void local_sdp(const struct ocall *oc, const char *addr, struct sdp_local *l)
{
	const struct conf_media *md = &oc->cs->conf->media;
	*l = (struct sdp_local){ .address = addr, .port = oc->port, .codecs = md->codecs, .n_codecs = md->n_codecs,
				 .ptime = md->ptime, .session_id = oc->sess,
				 .session_version = oc->sess + oc->sess_ver };
}

static unsigned long long session_id(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000ULL;
}

/* ---- what the control socket and the hook see ---- */

static void view_as(const struct ocall *oc, enum call_state st, struct call_view *v);

static void view(const struct ocall *oc, struct call_view *v)
{
	view_as(oc, oc->m.state, v);
}

/* The call as it was in state ST (an event of a step that went further). */
static void view_as(const struct ocall *oc, enum call_state st, struct call_view *v)
{
	memset(v, 0, sizeof *v);
	v->id = oc->id;
	v->line = oc->line;
	v->direction = oc->m.outgoing ? "out" : "in";
	v->state = call_state_name(st);
	v->peer = oc->peer;
	v->sip_call_id = oc->sc ? sip_call_sip_id(oc->sc) : "";
	v->started = oc->started;
	v->answered = oc->answered;
	v->server_index = -1;
	struct line *l = line_of(oc);
	const struct conf_line *cl = l ? line_conf(l) : NULL;
	if (cl && (oc->m.phase != CP_NEW || !oc->m.outgoing) && oc->m.hop.server < cl->n_servers) {
		const struct conf_server *sv = &cl->servers[oc->m.hop.server];
		v->server_index = oc->m.hop.server;
		agent_role_name(oc->m.hop.server, v->server_role, sizeof v->server_role);
		v->server_host = sv->host;
		v->server_port = sv->port ? sv->port : oc->m.hop.addr.port;
		v->server_transport = conf_transport_name(sv->transport);
	}
	if (st == CALL_CLOSED) {
		v->code = oc->m.code;
		v->reason = oc->m.reason;
	}
	v->has_media = oc->has_media;
	if (oc->has_media) {
		snprintf(v->local_addr, sizeof v->local_addr, "%s", oc->media.local_addr);
		snprintf(v->remote_addr, sizeof v->remote_addr, "%s", oc->media.remote_addr);
		v->local_port = oc->media.local_port;
		v->remote_port = oc->media.remote_port;
		snprintf(v->codec, sizeof v->codec, "%s", oc->media.codec);
		v->payload = oc->media.payload;
		v->ptime = oc->media.ptime;
		v->dtmf = oc->media.dtmf;
		v->media_direction = sdp_dir_name(oc->media.dir);
	}
}

/* SPEC F: the hook runs as `HOOK CALL STATE` with the CALL fields in
 * SIPUAD_* variables. */
static void run_hook(struct calls *cs, const struct call_view *v)
{
	const char *prog = cs->conf->media.hook;
	if (!prog || !*prog || !cs->hook)
		return;
	char b[24][320];
	int n = 0;
#define ENV(...) snprintf(b[n++], sizeof b[0], __VA_ARGS__)
	ENV("SIPUAD_CALL=%s", v->id);
	ENV("SIPUAD_LINE=%s", v->line);
	ENV("SIPUAD_DIRECTION=%s", v->direction);
	ENV("SIPUAD_STATE=%s", v->state);
	ENV("SIPUAD_PEER=%s", v->peer);
	ENV("SIPUAD_SIP_CALL_ID=%s", v->sip_call_id);
	ENV("SIPUAD_STARTED=%lld", (long long)v->started);
	ENV("SIPUAD_ANSWERED=%s", "");
	if (v->answered)
		snprintf(b[n - 1], sizeof b[0], "SIPUAD_ANSWERED=%lld", (long long)v->answered);
	ENV("SIPUAD_SERVER=%s", v->server_host ? v->server_host : "");
	ENV("SIPUAD_CODE=%d", v->code);
	ENV("SIPUAD_REASON=%s", v->reason ? v->reason : "");
	if (v->has_media) {
		ENV("SIPUAD_LOCAL_ADDRESS=%s", v->local_addr);
		ENV("SIPUAD_LOCAL_PORT=%d", v->local_port);
		ENV("SIPUAD_REMOTE_ADDRESS=%s", v->remote_addr);
		ENV("SIPUAD_REMOTE_PORT=%d", v->remote_port);
		ENV("SIPUAD_CODEC=%s", v->codec);
		ENV("SIPUAD_PAYLOAD=%d", v->payload);
		ENV("SIPUAD_PTIME=%d", v->ptime);
		ENV("SIPUAD_DTMF=%d", v->dtmf);
		ENV("SIPUAD_MEDIA_DIRECTION=%s", v->media_direction);
	}
#undef ENV
	char *env[25];
	for (int i = 0; i < n; i++)
		env[i] = b[i];
	env[n] = NULL;
	hook_run(cs->hook, prog, v->id, v->state, env);
}

/* F.6: one event per state change, exactly one `closed`; the closed one
 * goes into the line's history too (one record per call: flash). */
/* An event of KIND about the call as V shows it, with the CALL fields, to
 * subscribers; KEEP: into the line's history too. */
static void tell(struct ocall *oc, const struct call_view *v, const char *kind, const char *reason, bool keep)
{
	struct line_event e;
	char from[LINE_DESC_MAX];
	snprintf(from, sizeof from, "%s %s %s", oc->id, v->direction, oc->peer);
	history_event(&e, time(NULL), oc->line, kind, from, v->state, reason);
	e.call = v;
	struct line *l = line_of(oc);
	if (l)
		line_publish(l, &e, keep);
}

static void publish(struct ocall *oc, enum call_state st)
{
	struct call_view v;
	char reason[192];
	view_as(oc, st, &v);
	if (st == CALL_CLOSED)
		snprintf(reason, sizeof reason, "%d %s%s", oc->m.code, oc->m.reason,
			 oc->answered ? "" : " (not answered)");
	else
		reason[0] = '\0';
	tell(oc, &v, "call", reason, st == CALL_CLOSED);
	run_hook(oc->cs, &v);
	log_info("%s: call %s %s %s%s%s", oc->line, oc->id, v.state, oc->peer, reason[0] ? ": " : "", reason);
}

/* ---- the line's side ---- */

static void count_open(struct ocall *oc, bool open)
{
	if (oc->open_counted == open)
		return;
	oc->open_counted = open;
	struct line *l = line_of(oc);
	if (l && calls_open(oc->cs, oc->line) == (open ? 1 : 0))
		line_set_idle(l, !open); /* F.5: a failback waits for the last call */
}

static void release_port(struct ocall *oc)
{
	if (oc->port)
		rtp_pool_put(&oc->cs->pool, oc->port);
	oc->port = 0;
}

static int take_port(struct ocall *oc)
{
	if (!oc->port) {
		int p = rtp_pool_get(&oc->cs->pool);
		if (p < 0)
			return -1;
		oc->port = p;
	}
	return 0;
}

/* ---- executing actions ---- */

static void sip_cb(void *ctx, const struct sip_call_info *i);

static void send_invite(struct ocall *oc, const struct call_action *x)
{
	struct line *l = line_of(oc);
	char addr[NETADDR_IP_MAX], sdp[SDP_MAX];
	struct sdp_local loc;
	struct sip_account a;
	if (oc->sc) {
		sip_call_free(oc->sc);
		oc->sc = NULL;
	}
	/* Our own trouble ends the call; it is no server's failure (a local
	 * 500 is VERDICT_INTERNAL: no failover). */
	if (!l || take_port(oc) != 0) {
		struct call_event ev = { .kind = CE_FINAL, .status = 500, .local = true,
					 .phrase = l ? "no RTP port free" : "the line is gone" };
		feed(oc, &ev);
		return;
	}
	account(line_conf(l), &a);
	media_address(oc->cs, x->hop.addr.ip, addr, sizeof addr);
	local_sdp(oc, addr, &loc);
	oc->we_offered = true;
	if (sdp_offer(sdp, sizeof sdp, &loc) != 0 ||
	    !(oc->sc = sip_call_invite(oc->cs->sip, &a, oc->peer, x->hop.addr.ip, x->hop.addr.port, x->hop.tp, x->hop.name,
				       x->hop.route, sdp, sip_cb, oc))) {
		struct call_event ev = { .kind = CE_FINAL, .status = 500, .local = true,
					 .phrase = "cannot send the INVITE" };
		feed(oc, &ev);
	}
}

/* The far end moved the media of an established call (a re-INVITE: hold,
 * another address or codec): subscribers see a `media` event with the
 * CALL fields; the state, and so the hook, stays. */
static void media_changed(struct ocall *oc, const struct sdp_media *m)
{
	bool changed = oc->has_media &&
		       (strcmp(m->remote_addr, oc->media.remote_addr) != 0 || m->remote_port != oc->media.remote_port ||
			strcmp(m->codec, oc->media.codec) != 0 || m->dir != oc->media.dir || m->dtmf != oc->media.dtmf);
	oc->media = *m;
	oc->has_media = true;
	if (!changed || oc->m.phase != CP_UP)
		return;
	struct call_view v;
	view(oc, &v);
	tell(oc, &v, "media", "", false);
	log_info("%s: call %s: media now %s %s:%d (%s)", oc->line, oc->id, m->codec, m->remote_addr,
		 m->remote_port, sdp_dir_name(m->dir));
}

static void respond(struct ocall *oc, int status)
{
	char addr[NETADDR_IP_MAX], sdp[SDP_MAX];
	struct sdp_local loc;
	bool reoffer = oc->m.phase == CP_UP; /* a re-INVITE of an established call */
	if (!oc->sc)
		return;
	if (status < 200 || status >= 300) {
		sip_call_respond(oc->sc, status, NULL);
		return;
	}
	if (take_port(oc) != 0) {
		sip_call_respond(oc->sc, 503, NULL);
		struct call_event ev = { .kind = CE_ENDED, .status = 503, .phrase = "no RTP port free" };
		feed(oc, &ev);
		return;
	}
	media_address(oc->cs, oc->m.hop.addr.ip, addr, sizeof addr);
	local_sdp(oc, addr, &loc);
	int rc;
	if (oc->offer) {
		struct sdp_media m;
		rc = sdp_answer(sdp, sizeof sdp, &loc, oc->offer, strlen(oc->offer), &m);
		if (rc == 0)
			media_changed(oc, &m);
	} else {
		/* RFC 3264 late offer: ours goes in the 200, the answer in the ACK */
		rc = sdp_offer(sdp, sizeof sdp, &loc);
		oc->we_offered = true;
	}
	if (rc != 0 && reoffer) {
		/* RFC 3261 14.2: a re-INVITE we cannot take leaves the call as it was */
		sip_call_respond(oc->sc, 488, NULL);
		return;
	}
	if (rc != 0) {
		sip_call_respond(oc->sc, 488, NULL);
		struct call_event ev = { .kind = CE_ENDED, .status = 488, .phrase = "no codec in common" };
		feed(oc, &ev);
		return;
	}
	sip_call_respond(oc->sc, 200, sdp);
}

static void bye(struct ocall *oc, const struct call_action *x)
{
	int rc = -EINVAL;
	if (oc->sc)
		rc = x->via ? sip_call_bye_via(oc->sc, x->hop.addr.ip, x->hop.addr.port, x->hop.tp, x->hop.name, x->hop.route)
			    : sip_call_bye(oc->sc);
	if (rc != 0) {
		struct call_event ev = { .kind = CE_BYE_DONE, .status = 481, .phrase = "no dialog to end" };
		feed(oc, &ev);
	}
}

static void execute(struct ocall *oc, const struct call_action *x)
{
	switch (x->kind) {
	case CA_INVITE:
		send_invite(oc, x);
		return;
	case CA_ABANDON:
		sip_call_free(oc->sc);
		oc->sc = NULL;
		return;
	case CA_CANCEL:
		if (oc->sc)
			sip_call_cancel(oc->sc);
		return;
	case CA_RESPOND:
		respond(oc, x->status);
		return;
	case CA_BYE:
		bye(oc, x);
		return;
	case CA_LINE_FAILED: {
		struct line *l = line_of(oc);
		if (l)
			line_request_failed(l, x->hop.server, x->server_down, x->status, x->reason);
		/* the line may be registered elsewhere already (it moved on
		 * before this request failed): the call hears of its hop now,
		 * not at its next change */
		oc->line_dirty = true;
		event_active(oc->cs->deferred, 0, 0);
		return;
	}
	case CA_PUBLISH: {
		enum call_state st = (enum call_state)x->status;
		if (st == CALL_ESTABLISHED && !oc->answered)
			oc->answered = time(NULL);
		if (st == CALL_CLOSED) {
			release_port(oc);
			count_open(oc, false);
		}
		publish(oc, st);
		return;
	}
	case CA_DONE:
		oc->dead = true;
		return;
	case CA_MAX:
		return;
	}
}

static void sync_timers(struct ocall *oc)
{
	int64_t now = timeutil_now_ms();
	for (int t = 0; t < CT_MAX; t++) {
		struct call_timer_ctx *ct = &oc->timers[t];
		int64_t d = oc->m.deadline[t];
		if (d == ct->armed)
			continue;
		ct->armed = d;
		if (!d) {
			evtimer_del(ct->ev);
			continue;
		}
		struct timeval tv = timeutil_tv(d - now);
		evtimer_add(ct->ev, &tv);
	}
}

static void unlink_call(struct calls *cs, struct ocall *oc)
{
	for (struct ocall **p = &cs->head; *p; p = &(*p)->next)
		if (*p == oc) {
			*p = oc->next;
			return;
		}
}

static void free_call(struct ocall *oc)
{
	for (int t = 0; t < CT_MAX; t++)
		if (oc->timers[t].ev)
			event_free(oc->timers[t].ev);
	sip_call_free(oc->sc);
	release_port(oc);
	free(oc->offer);
	free(oc);
}

/* One step of a call's machine, its actions executed in order. Events an
 * action raises (a request that cannot be sent) are fed at once: the
 * machine has finished its step by then. The call is freed when the
 * outermost step of it is done. */
static void feed(struct ocall *oc, const struct call_event *ev)
{
	struct call_actions out;
	struct calls *cs = oc->cs;
	if (oc->dead)
		return;
	cs->depth++;
	call_step(&oc->m, ev, timeutil_now_ms(), &out);
	if (out.log[0])
		log_info("%s: call %s: %s", oc->line, oc->id, out.log);
	for (int i = 0; i < out.n && i < CALL_ACTIONS_MAX; i++)
		execute(oc, &out.v[i]);
	if (!oc->dead)
		sync_timers(oc);
	cs->depth--;
	if (oc->dead && cs->depth == 0) {
		unlink_call(cs, oc);
		free_call(oc);
	}
}

/* Calls marked dead inside a nested step are freed here. */
static void reap(struct calls *cs)
{
	if (cs->depth)
		return;
	for (struct ocall **p = &cs->head; *p;) {
		struct ocall *oc = *p;
		if (oc->dead) {
			*p = oc->next;
			free_call(oc);
		} else {
			p = &oc->next;
		}
	}
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct call_timer_ctx *ct = arg;
	struct calls *cs = ct->oc->cs; /* the call may be gone after its step */
	ct->armed = 0;
	struct call_event ev = { .kind = CE_TIMER, .timer = ct->t };
	feed(ct->oc, &ev);
	reap(cs);
}

/* ---- SIP facts ---- */

static void take_answer(struct ocall *oc, const struct sip_call_info *i)
{
	char addr[NETADDR_IP_MAX];
	struct sdp_local loc;
	if (!i->sdp || !oc->we_offered)
		return;
	media_address(oc->cs, oc->m.hop.addr.ip, addr, sizeof addr);
	local_sdp(oc, addr, &loc);
	struct sdp_media m;
	if (sdp_take_answer(&loc, i->sdp, i->sdp_len, &m) == 0)
		media_changed(oc, &m);
}

static void sip_cb(void *ctx, const struct sip_call_info *i)
{
	struct ocall *oc = ctx;
	struct calls *cs = oc->cs;
	struct call_event ev = { .status = i->status, .local = i->local, .phrase = i->phrase, .remote = i->remote };
	bool media_before = oc->has_media;
	switch (i->ev) {
	case SCE_PROGRESS:
		ev.kind = CE_PROGRESS;
		if (i->status == 183)
			take_answer(oc, i);
		break;
	case SCE_FINAL:
		ev.kind = CE_FINAL;
		if (i->status < 300)
			take_answer(oc, i);
		break;
	case SCE_ACKED:
		ev.kind = CE_ACKED;
		take_answer(oc, i); /* a late offer's answer */
		break;
	case SCE_BYE_DONE:
		ev.kind = CE_BYE_DONE;
		break;
	case SCE_ENDED:
		ev.kind = CE_ENDED;
		break;
	case SCE_REOFFER:
		/* the new offer replaces the old (none: a re-INVITE without
		 * SDP asks for our offer, RFC 3261 14.2) */
		free(oc->offer);
		oc->offer = i->sdp ? strndup(i->sdp, i->sdp_len) : NULL;
		oc->we_offered = false;
		oc->sess_ver++;
		ev.kind = CE_REOFFER;
		break;
	default:
		return;
	}
	(void)media_before;
	feed(oc, &ev);
	reap(cs);
}

/* ---- incoming INVITEs (F.3) ---- */

static void stranger(struct calls *cs, const char *ip, const char *why)
{
	time_t now = time(NULL);
	cs->strangers++;
	snprintf(cs->stranger_last, sizeof cs->stranger_last, "%s", ip);
	if (now - cs->stranger_logged < CALLS_STRANGER_LOG_S)
		return;
	log_warn("refused %lu INVITE(s) in %d s (last from %s: %s)", cs->strangers,
		 cs->stranger_logged ? CALLS_STRANGER_LOG_S : 0, cs->stranger_last, why);
	cs->stranger_logged = now;
	cs->strangers = 0;
}

static struct line *line_for(const struct calls *cs, const struct sip_incoming *in)
{
	if (in->line_param) {
		struct line *l = line_set_find(cs->set, in->line_param);
		if (l && strcmp(line_conf(l)->user, in->ruri_user) == 0)
			return l;
	}
	for (int i = 0; i < cs->set->n; i++)
		if (strcmp(line_conf(cs->set->v[i])->user, in->ruri_user) == 0)
			return cs->set->v[i];
	return NULL;
}

static struct ocall *new_call(struct calls *cs, const char *line)
{
	struct ocall *oc = calloc(1, sizeof *oc);
	if (!oc)
		return NULL;
	oc->cs = cs;
	snprintf(oc->id, sizeof oc->id, "c%lu", ++cs->next_id);
	snprintf(oc->line, sizeof oc->line, "%s", line);
	oc->started = time(NULL);
	oc->sess = session_id();
	oc->sess_ver = 0;
	for (int t = 0; t < CT_MAX; t++) {
		oc->timers[t] = (struct call_timer_ctx){ .oc = oc, .t = (enum call_timer)t };
		oc->timers[t].ev = evtimer_new(cs->base, timer_cb, &oc->timers[t]);
		if (!oc->timers[t].ev) {
			free_call(oc);
			return NULL;
		}
	}
	/* the list keeps the oldest first */
	struct ocall **p = &cs->head;
	while (*p)
		p = &(*p)->next;
	*p = oc;
	return oc;
}

static int incoming_cb(void *ctx, struct sip_call *sc, const struct sip_incoming *in)
{
	struct calls *cs = ctx;
	struct line *l = line_for(cs, in);
	bool trusted = l && line_trusts(l, in->source_ip);
	if (!trusted) {
		stranger(cs, in->source_ip, l ? "not from the line's servers" : "for no line");
		return 403; /* F.3: no event, no ring */
	}
	const struct conf_line *cl = line_conf(l);
	if (!cl->enabled) {
		log_info("%s: INVITE from %s refused: 480 (the line is disabled)", cl->id, in->from);
		return 480;
	}
	int code = call_admit(trusted, calls_open(cs, cl->id), cl->max_calls);
	if (code) {
		log_info("%s: INVITE from %s refused: %d (max_calls %d)", cl->id, in->from, code, cl->max_calls);
		return code;
	}
	if (in->sdp) {
		/* a codec in common, or 488 before anything rings */
		char sdp[SDP_MAX];
		struct sdp_media m;
		struct sdp_local loc = { .address = "127.0.0.1", .port = cs->conf->media.rtp_lo,
					 .codecs = cs->conf->media.codecs, .n_codecs = cs->conf->media.n_codecs,
					 .ptime = cs->conf->media.ptime };
		if (sdp_answer(sdp, sizeof sdp, &loc, in->sdp, in->sdp_len, &m) != 0) {
			log_info("%s: INVITE from %s refused: 488 (no codec in common)", cl->id, in->from);
			return 488;
		}
	}
	struct ocall *oc = new_call(cs, cl->id);
	struct sip_account a;
	account(cl, &a);
	if (!oc || sip_call_bind(sc, &a, sip_cb, oc) != 0) {
		if (oc) {
			unlink_call(cs, oc);
			free_call(oc);
		}
		return 500;
	}
	oc->sc = sc;
	snprintf(oc->peer, sizeof oc->peer, "%s", in->from);
	if (in->sdp && !(oc->offer = strndup(in->sdp, in->sdp_len))) {
		oc->sc = NULL; /* the caller (sip.c) frees it */
		unlink_call(cs, oc);
		free_call(oc);
		return 500;
	}
	machine_init(cs, oc, false);
	struct line_hop h;
	line_hop(l, &h);
	count_open(oc, true);
	struct call_event ev = { .kind = CE_OFFER, .hop = &h };
	feed(oc, &ev);
	return 0;
}

/* ---- the lines' side ---- */

static void deferred_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct calls *cs = arg;
	for (struct ocall *oc = cs->head; oc; oc = oc->next) {
		if (!oc->line_dirty || oc->dead)
			continue;
		oc->line_dirty = false;
		struct line *l = line_of(oc);
		struct line_hop h = { .failed = true };
		if (l)
			line_hop(l, &h);
		struct call_event ev = { .kind = CE_LINE, .hop = &h };
		cs->depth++; /* the list stays whole while we walk it */
		feed(oc, &ev);
		cs->depth--;
	}
	reap(cs);
}

static void watch_cb(void *arg, struct line *l)
{
	struct calls *cs = arg;
	bool any = false;
	for (struct ocall *oc = cs->head; oc; oc = oc->next)
		if (strcmp(oc->line, line_id(l)) == 0) {
			oc->line_dirty = true;
			any = true;
		}
	if (any)
		event_active(cs->deferred, 0, 0);
}

static void watch_lines(struct calls *cs)
{
	for (int i = 0; i < cs->set->n; i++)
		line_set_watch(cs->set->v[i], watch_cb, cs);
}

/* ---- life cycle ---- */

int calls_init(struct calls **out, struct event_base *base, struct sip *sip, const struct conf *c,
	       const struct line_set *set)
{
	struct calls *cs = calloc(1, sizeof *cs);
	if (!cs)
		return -ENOMEM;
	cs->base = base;
	cs->sip = sip;
	cs->conf = c;
	cs->set = set;
	cs->deferred = event_new(base, -1, 0, deferred_cb, cs);
	cs->hook = hook_new(base);
	if (!cs->deferred || !cs->hook || rtp_pool_init(&cs->pool, c->media.rtp_lo, c->media.rtp_hi) != 0) {
		calls_free(cs);
		return -ENOMEM;
	}
	watch_lines(cs);
	sip_set_incoming(sip, incoming_cb, cs);
	*out = cs;
	return 0;
}

void calls_rebind(struct calls *cs, const struct conf *c)
{
	struct rtp_pool np;
	cs->conf = c;
	watch_lines(cs);
	if (c->media.rtp_lo == cs->pool.lo && c->media.rtp_hi == cs->pool.hi)
		return;
	if (rtp_pool_init(&np, c->media.rtp_lo, c->media.rtp_hi) != 0) {
		log_warn("calls: out of memory for the new rtp_ports; keeping the old range");
		return;
	}
	/* ports held by open calls stay theirs; outside the new range they
	 * simply go back to nobody when the call ends */
	for (struct ocall *oc = cs->head; oc; oc = oc->next)
		if (oc->port && rtp_pool_take(&np, oc->port) != 0)
			oc->port = 0;
	rtp_pool_free(&cs->pool);
	cs->pool = np;
}

void calls_stop(struct calls *cs)
{
	if (!cs)
		return;
	cs->depth++;
	for (struct ocall *oc = cs->head; oc; oc = oc->next) {
		struct call_event ev = { .kind = CE_HANGUP };
		if (!oc->dead && oc->m.state != CALL_CLOSED)
			feed(oc, &ev);
	}
	cs->depth--;
	reap(cs);
}

void calls_free(struct calls *cs)
{
	if (!cs)
		return;
	if (cs->sip)
		sip_set_incoming(cs->sip, NULL, NULL);
	while (cs->head) {
		struct ocall *oc = cs->head;
		cs->head = oc->next;
		free_call(oc);
	}
	for (int i = 0; cs->set && i < cs->set->n; i++)
		line_set_watch(cs->set->v[i], NULL, NULL);
	if (cs->deferred)
		event_free(cs->deferred);
	hook_free(cs->hook);
	rtp_pool_free(&cs->pool);
	free(cs);
}

/* ---- commands ---- */

static struct ocall *find(const struct calls *cs, const char *id)
{
	for (struct ocall *oc = cs->head; oc; oc = oc->next)
		if (!oc->dead && oc->m.state != CALL_CLOSED && strcmp(oc->id, id) == 0)
			return oc;
	return NULL;
}

/* TARGET: a whole SIP URI, or a number or user of the line's domain (F.1). */
static int target_uri(const struct conf_line *cl, const char *target, char *buf, size_t size)
{
	size_t n = strlen(target);
	if (n == 0 || n >= CALLS_PEER_MAX - 8)
		return -1;
	for (const char *p = target; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == '<' || *p == '>' || *p == '"' || (unsigned char)*p >= 0x7f)
			return -1;
	if (strncasecmp(target, "sip:", 4) == 0 || strncasecmp(target, "sips:", 5) == 0) {
		if (!strchr(target, '@') && !target[4])
			return -1;
		snprintf(buf, size, "%s", target);
		return 0;
	}
	for (const char *p = target; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("-_.!~*'()&=+$,;?/%#", *p))
			return -1;
	char host[CONF_DOMAIN_MAX + 3];
	netaddr_host(host, sizeof host, cl->domain, 0);
	if ((size_t)snprintf(buf, size, "sip:%s@%s", target, host) >= size)
		return -1;
	return 0;
}

int calls_dial(struct calls *cs, const char *line, const char *target, char *id, size_t id_size,
	       char *err, size_t size)
{
	struct line *l = line_set_find(cs->set, line);
	char uri[CALLS_PEER_MAX];
	if (!l) {
		snprintf(err, size, "no line %s", line);
		return -1;
	}
	const struct conf_line *cl = line_conf(l);
	if (!cl->enabled) {
		snprintf(err, size, "line %s is disabled", line);
		return -1;
	}
	if (target_uri(cl, target, uri, sizeof uri) != 0) {
		snprintf(err, size, "bad target: a number, a user or a sip: URI");
		return -1;
	}
	if (calls_open(cs, line) >= cl->max_calls) {
		snprintf(err, size, "line %s has max_calls (%d) calls open", line, cl->max_calls);
		return -1;
	}
	struct ocall *oc = new_call(cs, line);
	if (!oc) {
		snprintf(err, size, "out of memory");
		return -1;
	}
	snprintf(oc->peer, sizeof oc->peer, "%s", uri);
	snprintf(id, id_size, "%s", oc->id);
	machine_init(cs, oc, true);
	count_open(oc, true);
	struct line_hop h;
	line_hop(l, &h);
	struct call_event ev = { .kind = CE_DIAL, .hop = &h };
	feed(oc, &ev);
	reap(cs);
	return 0;
}

int calls_answer(struct calls *cs, const char *id, char *err, size_t size)
{
	struct ocall *oc = find(cs, id);
	if (!oc) {
		snprintf(err, size, "no open call %s", id);
		return -1;
	}
	if (oc->m.phase != CP_OFFERED) {
		snprintf(err, size, "call %s is not ringing here (%s)", id, call_state_name(oc->m.state));
		return -1;
	}
	struct call_event ev = { .kind = CE_ANSWER };
	feed(oc, &ev);
	reap(cs);
	return 0;
}

int calls_hangup(struct calls *cs, const char *id, int code, char *err, size_t size)
{
	struct ocall *oc = find(cs, id);
	if (!oc) {
		snprintf(err, size, "no open call %s", id);
		return -1;
	}
	if (code && (code < 400 || code > 699)) {
		snprintf(err, size, "CODE must be 400-699");
		return -1;
	}
	if (code && oc->m.phase != CP_OFFERED) {
		snprintf(err, size, "a CODE only rejects an incoming call that rings");
		return -1;
	}
	struct call_event ev = { .kind = CE_HANGUP, .status = code };
	feed(oc, &ev);
	reap(cs);
	return 0;
}

int calls_list(const struct calls *cs, calls_view_cb *cb, void *arg)
{
	int n = 0;
	for (const struct ocall *oc = cs->head; oc; oc = oc->next) {
		if (oc->dead || oc->m.state == CALL_CLOSED)
			continue;
		struct call_view v;
		view(oc, &v);
		cb(&v, arg);
		n++;
	}
	return n;
}

int calls_open(const struct calls *cs, const char *line)
{
	int n = 0;
	for (const struct ocall *oc = cs->head; oc; oc = oc->next)
		if (oc->open_counted && strcmp(oc->line, line) == 0)
			n++;
	return n;
}
