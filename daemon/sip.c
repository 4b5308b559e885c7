/* sip.c - the only file that speaks nua: the stack, pinned handles, outcome classification. */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sofia-sip/nua.h>
#include <sofia-sip/nua_tag.h>
#include <sofia-sip/nta.h>
#include <sofia-sip/nta_tag.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/sip_util.h>
#include <sofia-sip/msg_addr.h>
#include <sofia-sip/msg_header.h>
#include <sofia-sip/su_tag.h>
#include <sofia-sip/tport_tag.h>
#include <sofia-sip/url.h>
#include <sofia-sip/su_wait.h>

#include <openssl/err.h>

#include "log.h"
#include "loop.h"
#include "netaddr.h"
#include "sip.h"
#include "tlsdiag.h"
#include "tlsdir.h"
#include "timeutil.h"

/* nua keeps its own keepalives and NAT probing unless told not to: the
 * heartbeat is ours (RULES A.7), and a registration must not move by itself. */
#define SIP_OUTBOUND_OFF "no-validate no-natify no-options-keepalive"
/* T4 of RFC 3261 17.1.2.2 (its default is 5 s); see sip_init. */
#define SIP_T4_MS 1000
/* Re-challenges answered when the server says the nonce went stale. */
#define SIP_STALE_MAX 3
/* A preloaded Route header "<sip:HOST:PORT;lr;transport=T>" (route_header). */
#define SIP_ROUTE_MAX 300
/* A pinned next hop (pin_url): "sip:NAME:PORT;transport=tls;maddr=IP". */
#define SIP_PIN_MAX (CONF_HOST_MAX + NETADDR_STR_MAX + 48)
/* Connection closes noticed within one loop turn; more are rare (each is
 * a server's connection), and one dropped only waits for the heartbeat. */
#define SIP_LOST_MAX 8
/* RULES G.2: certificates between the server's and a trusted CA's (a
 * public CA's chain has one or two; Sofia's default, 2, counts the root). */
#define SIP_TLS_DEPTH 4

struct sip {
	nua_t *nua;
	struct loop *loop;
	/* SPEC I.2 (DESIGN "SIP adapter"): our UDP sent-by ("HOST:PORT", from
	 * nua's Contact; "" until known), where it is as a socket address,
	 * and the socket that ends abandoned transactions there. */
	char sent_by[NETADDR_STR_MAX];
	struct sockaddr_storage self;
	socklen_t self_len;
	int end_fd;
	int t1_ms;
	void (*done)(void *arg);
	void *done_arg;
	sip_incoming_cb *incoming;
	void *incoming_ctx;
	/* SPEC G: TLS is bound; why handshakes failed (tlsdiag.h) */
	bool tls;
	bool tls_bound;         /* tport said its TLS context is up */
	char tls_dir[PATH_MAX]; /* tlsdir.c's directory, kept (empty) while the stack lives */
	struct tlsdiag diag;
	/* G.4: connections tport closed (sofia_tap), reported to the bindings
	 * that use them from conn_timer, outside Sofia's call */
	struct {
		enum conf_transport tp;
		char addr[NETADDR_STR_MAX];
	} lost[SIP_LOST_MAX];
	int n_lost;
	su_timer_t *conn_timer;
	struct sip_reg *regs;   /* every binding, for G.4 */
};

/* A handle's magic is a binding or a call: both start with their kind. */
enum sip_kind { SK_REG = 0x5245, SK_CALL = 0x43414c };
struct sip_magic {
	enum sip_kind kind;
};

/* A UDP request we can end (SPEC I.2): nta retransmits a non-INVITE
 * request whose handle nua let go until Timer F (64*T1), and has no call
 * to stop it. What it does stop at is a final response, so sipuad hands
 * nta one: a datagram to our own SIP socket matching the request (Via
 * branch, From tag, Call-ID, CSeq). The request carries a Via we wrote
 * (NTATAG_USER_VIA), so we know its branch. */
struct sip_xmit {
	bool armed;                   /* a request is out with these */
	char branch[48];
	char tag[33];                 /* our From tag */
	const char *to;               /* To as sent when it has a tag (in a dialog), else NULL */
	char call_id[128];
	uint32_t cseq;
	const char *method;
};

/* Credentials of a line and the challenges answered for the request in
 * flight (RULES A.4: once per nonce). */
struct sip_cred {
	char *auth_user, *password;
	int challenges;
};

/* A binding keeps no nua handle between requests. REGISTERs go out as
 * plain requests (nua_method), not through nua's registration usage: that
 * usage holds about 9 KB a line for as long as its handle lives (the
 * request kept for refreshes, the leg, the dialog usage; bench/lines.sh),
 * and a handle with one cannot be let go without nua un-REGISTERing it.
 * The agent decides when to refresh (RULES A.5); what carries a binding
 * from one request to the next is its Call-ID, CSeq and Contact, kept here. */
struct sip_reg {
	enum sip_kind kind;
	struct sip *sip;
	struct sip_reg *next;   /* in sip->regs */
	bool up;                /* its last REGISTER got a 2xx: it lives on its connection (G.4) */
	nua_handle_t *nh;       /* the REGISTER or un-REGISTER in flight, or NULL */
	enum sip_op nh_op;      /* ... which of the two */
	struct sip_xmit nh_x;
	nua_handle_t *ping;     /* the OPTIONS in flight, or NULL */
	struct sip_xmit ping_x;
	su_timer_t *ping_timer; /* ends the OPTIONS after the heartbeat missed */
	sip_outcome_cb *cb;
	void *ctx;
	char *line_id, *user, *domain;
	struct sip_cred cred;
	int server;             /* ;srv= of our Contact */
	enum conf_transport tp;
	char target[NETADDR_STR_MAX]; /* IP:PORT in use */
	char proxy[SIP_PIN_MAX]; /* the pinned next hop as a SIP URI */
	char ping_target[NETADDR_STR_MAX];
	char route[SIP_ROUTE_MAX]; /* preloaded Route to the server through a proxy, "" none */
	char *from;
	int expires;            /* asked for */
	bool renew;             /* a REGISTER failed: the next one starts a new Call-ID */
	bool used;              /* a request went out with call_id */
	bool retried_423;       /* this request was sent again with Min-Expires */
	uint32_t cseq;          /* the last CSeq sent with call_id */
	char call_id[128];
};

/* RULES G.3: a request over TLS that our own stack failed says why the
 * connection failed, when tport said so: "TLS: certificate has expired". */
static const char *tls_words(struct sip *s, const char *ip, int port, const char *phrase, char *buf,
			     size_t size)
{
	char w[TLSDIAG_WORDS_MAX];
	if (!s->tls || !tlsdiag_take(&s->diag, ip, port, timeutil_now_ms(), w, sizeof w))
		return phrase;
	snprintf(buf, size, "TLS: %s", w);
	return buf;
}

/* Facts only: what came back, and whether our own stack made it up (the
 * agent's verdict.c says what it means). */
static void outcome(struct sip_reg *r, enum sip_op op, int status, const char *phrase,
		    const sip_t *sip, int expires)
{
	char words[TLSDIAG_WORDS_MAX + 8];
	bool local = !sip || nta_sip_is_internal(sip);
	if (local && status >= 300 && r->tp == CONF_TP_TLS && op != SIP_OP_CONNECTION) {
		char ip[NETADDR_IP_MAX];
		int port;
		if (netaddr_split(op == SIP_OP_OPTIONS ? r->ping_target : r->target, ip, sizeof ip, &port) == 0)
			phrase = tls_words(r->sip, ip, port, phrase ? phrase : "", words, sizeof words);
	}
	struct sip_outcome o = {
		.reg = r,
		.op = op,
		.status = status,
		.local = local,
		.phrase = phrase ? phrase : "",
		.expires = expires,
		.retry_after = sip && sip->sip_retry_after ? (int)sip->sip_retry_after->af_delta : 0,
		.target = op == SIP_OP_OPTIONS ? r->ping_target : r->target,
	};
	r->cb(r->ctx, &o);
}

/* Seconds the server granted to our own Contact: several devices may hold
 * bindings for one AOR, ours carries ;line=ID and our user part. */
static int granted_expires(const struct sip_reg *r, const sip_t *sip)
{
	sip_time_t now = sip_now();
	long best = -1;
	for (const sip_contact_t *m = sip->sip_contact; m; m = m->m_next) {
		char val[CONF_ID_MAX + 1], srv[16], want[16];
		if (!m->m_url->url_user || strcmp(m->m_url->url_user, r->user) != 0)
			continue;
		if (url_param(m->m_url->url_params, "line", val, sizeof val) == 0 ||
		    strcmp(val, r->line_id) != 0)
			continue;
		snprintf(want, sizeof want, "%d", r->server);
		if (url_param(m->m_url->url_params, "srv", srv, sizeof srv) == 0 || strcmp(srv, want) != 0)
			continue;
		long d = (long)sip_contact_expires(m, sip->sip_expires, sip->sip_date,
						   (sip_time_t)r->expires, now);
		if (best < 0 || d < best)
			best = d;
	}
	if (best < 0) /* a registrar that lists no contact: trust its Expires */
		best = sip->sip_expires ? (long)sip->sip_expires->ex_delta : r->expires;
	return (int)best;
}

/* Answer a digest challenge on NH. RFC 3261 22.1/22.3: a second
 * challenge to fresh credentials (not marked stale) means they are wrong;
 * answering it again would loop, so that is reported as an authentication
 * failure. VIA and CSEQ ("N METHOD"), when given, replace the request's
 * own: a request whose CSeq is ours (nua_method) goes again with the next
 * one (RFC 3261 8.1.3.5), nua keeps the one we gave. */
static int authenticate(struct sip *s, nua_handle_t *nh, struct sip_cred *cr, int status, const sip_t *sip,
			const char *via, const char *cseq)
{
	const msg_auth_t *au = status == 401 ? sip->sip_www_authenticate
					     : sip->sip_proxy_authenticate;
	if (!au || !au->au_scheme || !cr->password || !*cr->password)
		return -1;
	const char *realm = msg_params_find(au->au_params, "realm=");
	const char *stale = msg_params_find(au->au_params, "stale=");
	bool is_stale = stale && (strcasecmp(stale, "true") == 0 || strcasecmp(stale, "\"true\"") == 0);
	if (!realm || (cr->challenges > 0 && !is_stale) || cr->challenges >= SIP_STALE_MAX)
		return -1;
	size_t len = strlen(au->au_scheme) + strlen(realm) + strlen(cr->auth_user) +
		     strlen(cr->password) + 8;
	char *cred = malloc(len);
	if (!cred)
		return -1;
	/* realm keeps its quotes: "scheme:\"realm\":user:password" */
	snprintf(cred, len, "%s:%s:%s:%s", au->au_scheme, realm, cr->auth_user, cr->password);
	cr->challenges++;
	/* VIA: the request goes again as a new transaction: its Via (ours)
	 * is replaced, a new branch */
	nua_authenticate(nh, NUTAG_AUTH(cred), TAG_IF(via && *via, SIPTAG_VIA(SIP_NONE)),
			 TAG_IF(via && *via, SIPTAG_VIA_STR(via)), TAG_IF(cseq, SIPTAG_CSEQ_STR(cseq)), TAG_END());
	explicit_bzero(cred, len);
	free(cred);
	loop_kick(s->loop);
	return 0;
}

static int cred_set(struct sip_cred *cr, const struct sip_account *a)
{
	cr->auth_user = strdup(a->auth_user && *a->auth_user ? a->auth_user : a->user);
	cr->password = strdup(a->password ? a->password : "");
	return cr->auth_user && cr->password ? 0 : -ENOMEM;
}

static void cred_free(struct sip_cred *cr)
{
	if (cr->password)
		explicit_bzero(cr->password, strlen(cr->password));
	free(cr->auth_user);
	free(cr->password);
	cr->auth_user = cr->password = NULL;
}

static int send_register(struct sip_reg *r, enum sip_op op);
static uint32_t next_cseq(struct sip_reg *r);
static void random_id(char *buf);

/* VIA (SIP_VIA_MAX bytes) for the next request of X: a Via of ours with a
 * new branch, so the request can be ended (xmit_end); "" (nta's own Via,
 * no way to end it) unless it goes over UDP and our address is known.
 * CALL_ID, CSEQ and METHOD are what it goes out with; X's tag is the From
 * tag its handle was made with. */
#define SIP_VIA_MAX (NETADDR_STR_MAX + 96)
static void xmit_arm(struct sip *s, struct sip_xmit *x, enum conf_transport tp, const char *call_id,
		     uint32_t cseq, const char *method, char *via)
{
	char id[33];
	via[0] = '\0';
	x->armed = tp == CONF_TP_UDP && s->sent_by[0] && x->tag[0];
	if (!x->armed)
		return;
	random_id(id);
	/* RFC 3261 8.1.1.7: the magic cookie, then unique per transaction */
	snprintf(x->branch, sizeof x->branch, "z9hG4bK%s", id);
	snprintf(x->call_id, sizeof x->call_id, "%s", call_id);
	x->cseq = cseq;
	x->method = method;
	snprintf(via, SIP_VIA_MAX, "SIP/2.0/UDP %s;rport;branch=%s", s->sent_by, x->branch);
}

/* The request X stands for is given up on: a final response to it, sent
 * to our own socket, ends its client transaction in nta (no more copies).
 * The response never reaches us: its handle is gone or going. */
static void xmit_end(struct sip *s, struct sip_xmit *x)
{
	char buf[1024];
	if (!x->armed)
		return;
	x->armed = false;
	int n = snprintf(buf, sizeof buf,
			 "SIP/2.0 408 Request Timeout\r\n"
			 "Via: SIP/2.0/UDP %s;branch=%s\r\n"
			 "From: <sip:sipuad.invalid>;tag=%s\r\n"
			 "To: %s\r\n"
			 "Call-ID: %s\r\n"
			 "CSeq: %lu %s\r\n"
			 "Content-Length: 0\r\n\r\n",
			 s->sent_by, x->branch, x->tag, x->to ? x->to : "<sip:sipuad.invalid>", x->call_id,
			 (unsigned long)x->cseq, x->method);
	if (n <= 0 || (size_t)n >= sizeof buf || s->end_fd < 0)
		return;
	if (sendto(s->end_fd, buf, (size_t)n, 0, (const struct sockaddr *)&s->self, s->self_len) < 0)
		log_debug("sip: cannot end %s %s: %s", x->method, x->call_id, strerror(errno));
}

/* Our UDP sent-by, from the Contact nua reports (answer to sip_init's
 * nua_get_params), and a socket to reach it. */
static void learn_sent_by(struct sip *s, tagi_t tags[])
{
	const sip_contact_t *m = NULL;
	tl_gets(tags, NTATAG_CONTACT_REF(m), TAG_END());
	if (!m || !m->m_url->url_host || s->sent_by[0])
		return;
	const char *host = m->m_url->url_host, *port = m->m_url->url_port;
	char ip[NETADDR_IP_MAX];
	snprintf(ip, sizeof ip, "%.*s", (int)strcspn(host + (*host == '['), "]"), host + (*host == '['));
	int pn = port && *port ? atoi(port) : 5060;
	memset(&s->self, 0, sizeof s->self);
	struct sockaddr_in *v4 = (struct sockaddr_in *)&s->self;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&s->self;
	if (inet_pton(AF_INET, ip, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)pn);
		s->self_len = sizeof *v4;
	} else if (inet_pton(AF_INET6, ip, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)pn);
		s->self_len = sizeof *v6;
	} else {
		log_warn("sip: our address %s is not numeric: a request given up on runs its 64*T1", host);
		return;
	}
	s->end_fd = socket(s->self.ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s->end_fd < 0) {
		log_warn("sip: socket: %s: a request given up on runs its 64*T1", strerror(errno));
		return;
	}
	netaddr_host(s->sent_by, sizeof s->sent_by, ip, pn);
	log_debug("sip: our UDP sent-by is %s", s->sent_by);
}

/* Let go of handle NH (NULL: nothing): nua's state for its request goes
 * with it (callers report the request's outcome first: its response and
 * phrase go too). */
static void end_handle(struct sip *s, nua_handle_t *nh)
{
	if (!nh)
		return;
	nua_handle_destroy(nh);
	loop_kick(s->loop);
}

static void reg_response(struct sip_reg *r, int status, const char *phrase, const sip_t *sip)
{
	enum sip_op op = r->nh_op;
	if (status < 200)
		return;
	bool local = !sip || nta_sip_is_internal(sip);
	if (sip && sip->sip_cseq && sip->sip_cseq->cs_seq > r->cseq)
		r->cseq = sip->sip_cseq->cs_seq; /* nua counted up for a challenge */
	if (!local && (status == 401 || status == 407)) {
		/* nua sends it again with credentials: a new transaction, a
		 * new branch, the next CSeq */
		char via[SIP_VIA_MAX], cseq[32];
		uint32_t n = next_cseq(r);
		snprintf(cseq, sizeof cseq, "%lu REGISTER", (unsigned long)n);
		xmit_arm(r->sip, &r->nh_x, r->tp, r->call_id, n, "REGISTER", via);
		if (authenticate(r->sip, r->nh, &r->cred, status, sip, via, cseq) == 0)
			return;
		log_debug("%s: %d %s: credentials refused", r->line_id, status, phrase);
	}
	if (!local && status == 423 && op == SIP_OP_REGISTER && !r->retried_423 && sip->sip_min_expires &&
	    sip->sip_min_expires->me_delta > (unsigned long)r->expires) {
		/* RFC 3261 10.2.8: once more, asking for the registrar's
		 * Min-Expires; the 200 says what was granted. */
		r->expires = (int)sip->sip_min_expires->me_delta;
		r->retried_423 = true;
		if (send_register(r, op) == 0)
			return;
	}
	r->cred.challenges = 0;
	if (status >= 300 && op == SIP_OP_REGISTER)
		r->renew = true;
	int expires = 0;
	if (status < 300 && op == SIP_OP_REGISTER && sip)
		expires = granted_expires(r, sip);
	r->up = status < 300 && op == SIP_OP_REGISTER;
	/* The handle goes after the outcome: the response and its phrase are
	 * freed with it, and the callback may free R or start the next
	 * request on it. */
	struct sip *s = r->sip;
	nua_handle_t *done = r->nh;
	r->nh = NULL;
	r->nh_x.armed = false; /* answered: nothing to end */
	outcome(r, op, status, phrase, sip, expires);
	end_handle(s, done);
}

static void options_response(struct sip_reg *r, int status, const char *phrase, const sip_t *sip)
{
	if (status < 200)
		return;
	/* A handle per heartbeat: kept between heartbeats it holds about
	 * 1.5 KB per line for nothing (bench/lines.sh). It goes after the
	 * outcome, as in reg_response. */
	struct sip *s = r->sip;
	nua_handle_t *done = r->ping;
	r->ping = NULL;
	r->ping_x.armed = false;
	su_timer_destroy(r->ping_timer);
	r->ping_timer = NULL;
	outcome(r, SIP_OP_OPTIONS, status, phrase, sip, 0);
	end_handle(s, done);
}

static void call_event(struct sip_call *c, nua_t *nua, nua_event_t event, int status, const char *phrase,
		       const sip_t *sip, tagi_t tags[]);
static void incoming_invite(struct sip *s, nua_handle_t *nh, const sip_t *sip);

static void nua_cb(nua_event_t event, int status, char const *phrase,
		   nua_t *nua, nua_magic_t *magic, nua_handle_t *nh,
		   nua_hmagic_t *hmagic, sip_t const *sip, tagi_t tags[])
{
	struct sip *s = (struct sip *)magic;
	const struct sip_magic *m = (const struct sip_magic *)hmagic;
	struct sip_reg *r = m && m->kind == SK_REG ? (struct sip_reg *)hmagic : NULL;

	if (m && m->kind == SK_CALL) {
		call_event((struct sip_call *)hmagic, nua, event, status, phrase, sip, tags);
		return;
	}
	switch (event) {
	case nua_r_method:
		if (r && nh == r->nh)
			reg_response(r, status, phrase, sip);
		return;
	case nua_r_options:
		if (r && nh == r->ping)
			options_response(r, status, phrase, sip);
		return;
	case nua_r_get_params:
		learn_sent_by(s, tags);
		return;
	case nua_r_shutdown:
		log_debug("sip: shutdown %d %s", status, phrase);
		if (status >= 200 && s->done) {
			void (*done)(void *) = s->done;
			s->done = NULL;
			done(s->done_arg);
		}
		return;
	case nua_i_invite:
		if (!m)
			incoming_invite(s, nh, sip);
		return;
	default:
		/* Requests nua has already answered arrive on handles it made for
		 * them; nobody else will release those. */
		if (!m && nh && (event < nua_r_set_params || event == nua_i_register)) {
			nua_handle_destroy(nh);
			loop_kick(s->loop);
		}
		return;
	}
}

/* ";transport=T" for a URI of ours, "" for UDP (the default). */
static const char *tp_suffix(enum conf_transport tp)
{
	return tp == CONF_TP_TCP ? ";transport=tcp" : tp == CONF_TP_TLS ? ";transport=tls" : "";
}

/* RFC 3261 8.1.2: through an outbound proxy, a request carries the
 * server ROUTE ("host[:port]") as a preloaded loose Route, and the proxy
 * relays it there: "<sip:ROUTE;lr>" into BUF, "" without one. */
static void route_header(char *buf, size_t size, const char *route, enum conf_transport tp)
{
	if (route && *route)
		snprintf(buf, size, "<sip:%s;lr%s>", route, tp_suffix(tp));
	else
		buf[0] = '\0';
}

/* The numeric next hop nta is pinned to: "sip:IP:PORT;transport=T".
 * Over TLS the hop's configured NAME stays the URI's host and the address
 * goes to maddr ("sip:NAME:PORT;transport=tls;maddr=IP"): nta connects to
 * maddr, and tport checks the server's certificate against the host
 * (RULES G.2). With the IP as host it would check the IP. */
static void pin_url(char *buf, size_t size, const char *ip, int port, enum conf_transport tp,
		    const char *name)
{
	char hp[CONF_HOST_MAX + 16], m[NETADDR_STR_MAX]; /* "[name]:65535" */
	if (tp == CONF_TP_TLS && name && *name && !netaddr_same_ip(name, ip)) {
		netaddr_host(hp, sizeof hp, name, port);
		netaddr_host(m, sizeof m, ip, 0);
		snprintf(buf, size, "sip:%s;transport=tls;maddr=%s", hp, m);
		return;
	}
	netaddr_host(hp, sizeof hp, ip, port);
	snprintf(buf, size, "sip:%s;transport=%s", hp, conf_transport_name(tp));
}

static void outcome(struct sip_reg *r, enum sip_op op, int status, const char *phrase,
		    const sip_t *sip, int expires);

/* RULES G.4: report each closed connection to the registered bindings on
 * it, as a missed heartbeat (the line decides). A report may free any
 * binding, so the list is walked again after each. */
static void conn_report(su_root_magic_t *m, su_timer_t *t, su_timer_arg_t *arg)
{
	(void)m;
	(void)t;
	struct sip *s = arg;
	for (int i = 0; i < s->n_lost; i++) {
		char why[NETADDR_STR_MAX + 32];
		snprintf(why, sizeof why, "connection to %s closed", s->lost[i].addr);
		for (int guard = 0; guard <= CONF_LINES_MAX * CONF_SERVERS_MAX; guard++) {
			struct sip_reg *r = s->regs;
			while (r && !(r->up && r->tp == s->lost[i].tp && strcmp(r->target, s->lost[i].addr) == 0))
				r = r->next;
			if (!r)
				break;
			r->up = false;
			log_debug("sip: %s: %s", r->line_id, why);
			outcome(r, SIP_OP_CONNECTION, 0, why, NULL, 0);
		}
	}
	s->n_lost = 0;
}

/* A connection of ours closed (tport's close line, tlsdiag_closed_line):
 * its bindings are told from conn_timer, outside Sofia's own call. */
static void conn_closed(struct sip *s, const char *line)
{
	enum conf_transport tp;
	char ip[NETADDR_IP_MAX];
	int port;
	if (s->n_lost == SIP_LOST_MAX || !tlsdiag_closed_line(line, &tp, ip, sizeof ip, &port))
		return;
	s->lost[s->n_lost].tp = tp;
	netaddr_host(s->lost[s->n_lost].addr, sizeof s->lost[s->n_lost].addr, ip, port);
	s->n_lost++;
	if (s->conn_timer)
		su_timer_set(s->conn_timer, conn_report, s);
}

/* Every line of tport's and nta's logs (log_sofia_tap). */
static void sofia_tap(const char *line, void *arg)
{
	struct sip *s = arg;
	if (s->tls) {
		tlsdiag_line(&s->diag, line, timeutil_now_ms());
		if (strstr(line, "tls context initialized"))
			s->tls_bound = true;
	}
	conn_closed(s, line);
}

int sip_init(struct sip **out, struct loop *loop, const struct conf *c)
{
	struct sip *s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	s->loop = loop;
	s->end_fd = -1;
	tlsdiag_init(&s->diag);
	s->t1_ms = c->t1;

	/* One bind URL for udp and tcp, one for tls; port 0 lets the kernel
	 * pick. TLS listens on sip.port + 1 (5061 beside 5060). */
	char host[80], port[16], tls_port[16], url[160] = "", sips[160] = "";
	char *dir = s->tls_dir;
	netaddr_host(host, sizeof host, c->listen, 0);
	snprintf(port, sizeof port, c->port ? "%d" : "*", c->port);
	snprintf(tls_port, sizeof tls_port, c->port ? "%d" : "*", c->port + 1);
	bool udp = c->transports[CONF_TP_UDP], tcp = c->transports[CONF_TP_TCP];
	if (udp || tcp)
		snprintf(url, sizeof url, "sip:%s:%s%s", host, port,
			 udp && tcp ? "" : udp ? ";transport=udp" : ";transport=tcp");
	s->tls = c->transports[CONF_TP_TLS];
	if (s->tls) {
		char err[PATH_MAX + 128];
		snprintf(sips, sizeof sips, "sips:%s:%s", host, tls_port);
		if (tlsdir_make(&c->tls, dir, sizeof s->tls_dir, err, sizeof err) != 0) {
			log_error("sip: TLS: %s", err);
			free(s);
			return -EIO;
		}
	}
	/* tport's and nta's lines tell why TLS failed (G.3) and which
	 * connections closed (G.4) */
	log_sofia_tap(sofia_tap, s);
	s->conn_timer = su_timer_create(su_root_task(loop_root(loop)), 1); /* 0 is refused */

	s->nua = nua_create(loop_root(loop), nua_cb, s,
			    TAG_IF(url[0], NUTAG_URL(url)),
			    TAG_IF(s->tls, NUTAG_SIPS_URL(sips)),
			    TAG_IF(s->tls, NUTAG_CERTIFICATE_DIR(dir)),
			    /* RULES G.2: the chain, its dates and the server's
			     * name (pin_url puts it in the URI) are checked on
			     * our connections only: our own port asks no client
			     * for a certificate */
			    TAG_IF(s->tls, TPTAG_TLS_VERIFY_POLICY(c->tls.verify ? TPTLS_VERIFY_SUBJECTS_OUT
										: TPTLS_VERIFY_NONE)),
			    TAG_IF(s->tls, TPTAG_TLS_VERIFY_DATE(c->tls.verify)),
			    TAG_IF(s->tls, TPTAG_TLS_VERIFY_DEPTH(SIP_TLS_DEPTH)),
			    /* G.4: a request waiting on a connection that closes
			     * fails at once (nta's default waits for its timer) */
			    TPTAG_SDWN_ERROR(1),
			    SIPTAG_USER_AGENT_STR(c->user_agent),
			    NTATAG_SIP_T1((unsigned)c->t1),
			    NTATAG_SIP_T2((unsigned)c->t2),
			    NTATAG_SIP_T1X64((unsigned)c->t1 * 64),
			    /* a request that has a Via keeps it: ours, whose
			     * branch we know (struct sip_xmit) */
			    NTATAG_USER_VIA(1),
			    NUTAG_OUTBOUND(SIP_OUTBOUND_OFF),
			    /* No offer/answer engine: nua would clone it into
			     * every handle, registrations included (bench/README.md);
			     * calls carry the SDP sdp.c builds and reads
			     * (DESIGN "Modules"). */
			    NUTAG_MEDIA_ENABLE(0),
			    /* RULES F.3: the user answers; nothing rings or
			     * answers by itself */
			    NUTAG_AUTOALERT(0),
			    NUTAG_AUTOANSWER(0),
			    /* nua offers session timers and 100rel by default; a
			     * session refresh it sent itself would carry no SDP
			     * (soa is off). Without them the far end refreshes,
			     * if it must, with a re-INVITE we answer (RULES F.8). */
			    SIPTAG_SUPPORTED_STR(""),
			    /* what a far end may send us: nothing nua would
			     * answer on its own behind our back (REFER, UPDATE,
			     * MESSAGE, ...) */
			    SIPTAG_ALLOW_STR("INVITE, ACK, BYE, CANCEL, OPTIONS"),
			    /* Timer K (RFC 3261 17.1.2.2): a finished REGISTER is
			     * kept T4 to absorb retransmitted answers, about 10 KB
			     * each; T4_MS instead of 5 s keeps a fleet's burst of
			     * them short, and the heap unfragmented. */
			    NTATAG_SIP_T4(SIP_T4_MS),
			    /* nua would wait out a 503's Retry-After and resend by
			     * itself, hiding the 503: the agent decides (RULES A.3,
			     * and it holds that server down for Retry-After). */
			    NUTAG_MAX_RETRY_AFTER(0),
			    /* -d: every message in and out, in full (passwords
			     * never travel; log.c masks them anyway) */
			    TPTAG_LOG(log_get_level() >= LOG_LVL_DEBUG),
			    TAG_NULL());
	/* The files are read once, at the bind: the key's copy goes now. The
	 * directory stays (empty, ours, 0700) while the stack lives: OpenSSL
	 * looks CAs up in it by name at every check, and a directory of that
	 * name made by someone else would be trusted (tlsdir.h). */
	tlsdir_clear(dir);
	/* what tport's set-up left on OpenSSL's error queue (its random seed
	 * file, no agent.pem) must not be taken for a connection's error;
	 * without TLS OpenSSL is left alone (its initialisation alone costs
	 * a megabyte of resident pages) */
	if (s->tls)
		ERR_clear_error();
	int rc = 0;
	if (s->tls && !s->tls_bound) {
		/* a nua that is up cannot be destroyed before its shutdown: at
		 * this exit it is left to the process's end */
		log_error("sip: TLS could not be set up from sip.tls (run with -d for Sofia-SIP's reason)");
		rc = -EIO;
	} else if (!s->nua) {
		log_error("sip: cannot listen on %s%s%s (address not local, or port in use?)", url,
			  url[0] && sips[0] ? " and " : "", sips);
		rc = -EADDRINUSE;
	}
	if (rc) {
		log_sofia_tap(NULL, NULL);
		su_timer_destroy(s->conn_timer);
		tlsdir_remove(dir);
		free(s);
		return rc;
	}
	log_info("sip: listening on %s%s%s", url, url[0] && sips[0] ? " and " : "", sips);
	/* learn_sent_by: the answer comes back through the root in a few
	 * turns; waited for here (bounded) so that the lines' first REGISTERs
	 * can be ended too (RULES I.2) */
	nua_get_params(s->nua, TAG_ANY(), TAG_END());
	for (int i = 0; i < 20 && !s->sent_by[0]; i++)
		su_root_step(loop_root(loop), 0);
	if (!s->sent_by[0])
		log_debug("sip: our UDP sent-by is not known yet");
	loop_kick(loop);
	*out = s;
	return 0;
}

void sip_shutdown(struct sip *s, void (*done)(void *arg), void *arg)
{
	s->done = done;
	s->done_arg = arg;
	nua_shutdown(s->nua);
	loop_kick(s->loop);
}

void sip_free(struct sip *s)
{
	if (!s)
		return;
	if (s->nua)
		nua_destroy(s->nua);
	log_sofia_tap(NULL, NULL);
	su_timer_destroy(s->conn_timer);
	tlsdir_remove(s->tls_dir);
	if (s->end_fd >= 0)
		close(s->end_fd);
	free(s);
}

/* Quote a display name for a From header (RFC 3261 25.1 quoted-string). */
static void quote_display(char *buf, size_t size, const char *name)
{
	size_t o = 0;
	buf[o++] = '"';
	for (const char *p = name; *p && o + 3 < size; p++) {
		if (*p == '"' || *p == '\\')
			buf[o++] = '\\';
		if ((unsigned char)*p >= 0x20)
			buf[o++] = *p;
	}
	buf[o++] = '"';
	buf[o] = '\0';
}

/* The domain as it goes into a URI ("[v6]" bracketed). */
static char *host_part(const char *h)
{
	char buf[CONF_DOMAIN_MAX + 3];
	netaddr_host(buf, sizeof buf, h, 0);
	return strdup(buf);
}

/* A's From header without tag ("Display" <sip:user@domain>), malloc'd;
 * NULL when out of memory. */
static char *account_from(const struct sip_account *a)
{
	char display[160] = "", domain[CONF_DOMAIN_MAX + 3], *from;
	if (a->display_name && *a->display_name)
		quote_display(display, sizeof display, a->display_name);
	netaddr_host(domain, sizeof domain, a->domain, 0);
	if (asprintf(&from, "%s%s<sip:%s@%s>", display, *display ? " " : "", a->user, domain) < 0)
		return NULL;
	return from;
}

/* 128 random bits as hex into BUF (33 bytes): unique across devices and
 * restarts (RFC 3261 8.1.1.4). */
static void random_id(char *buf)
{
	unsigned char b[16];
	/* getrandom, not a fopen of /dev/urandom: a heartbeat now takes
	 * three of these (Call-ID, From tag, branch) */
	if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b) {
		for (size_t i = 0; i < sizeof b; i++)
			b[i] = (unsigned char)random();
	}
	for (size_t i = 0; i < sizeof b; i++)
		buf += sprintf(buf, "%02x", b[i]);
}

static void new_call_id(struct sip_reg *r)
{
	random_id(r->call_id);
	r->used = false;
	r->cseq = 0;
}

void sip_reg_set_call_id(struct sip_reg *r, const char *call_id)
{
	if (!call_id || !*call_id || strlen(call_id) >= sizeof r->call_id || r->used)
		return;
	snprintf(r->call_id, sizeof r->call_id, "%s", call_id);
}

const char *sip_reg_call_id(const struct sip_reg *r)
{
	return r->call_id;
}

/* A handle for one request of R: our From with a tag of our own (X's), so
 * that the request can be ended (struct sip_xmit); TO: To is our AOR too. */
static nua_handle_t *new_handle(struct sip_reg *r, struct sip_xmit *x, bool to)
{
	char *from;
	random_id(x->tag);
	if (asprintf(&from, "%s;tag=%s", r->from, x->tag) < 0)
		return NULL;
	nua_handle_t *nh = nua_handle(r->sip->nua, r, SIPTAG_FROM_STR(from), TAG_IF(to, SIPTAG_TO_STR(r->from)),
				      TAG_END());
	free(from);
	return nh;
}

struct sip_reg *sip_reg_new(struct sip *s, const struct sip_account *a, int server,
			    sip_outcome_cb *cb, void *ctx)
{
	struct sip_reg *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	r->kind = SK_REG;
	r->sip = s;
	r->server = server;
	new_call_id(r);
	r->cb = cb;
	r->ctx = ctx;
	r->next = s->regs;
	s->regs = r;
	r->line_id = strdup(a->line_id);
	r->user = strdup(a->user);
	r->domain = host_part(a->domain);
	r->from = account_from(a);
	if (!r->line_id || !r->user || !r->domain || !r->from || cred_set(&r->cred, a) != 0)
		goto fail;
	return r;
fail:
	sip_reg_free(r);
	return NULL;
}

/* RFC 3261 10.2.4: every REGISTER of a Call-ID has a higher CSeq than the
 * last. The first of a Call-ID is taken from the clock (seconds since
 * CSEQ_EPOCH): after a restart the restored Call-ID goes on above what the
 * registrar saw, with nothing written to flash per request. */
#define CSEQ_EPOCH 1600000000L
static uint32_t next_cseq(struct sip_reg *r)
{
	uint32_t clock = (uint32_t)(time(NULL) - CSEQ_EPOCH);
	r->cseq = r->cseq + 1 > clock ? r->cseq + 1 : clock;
	r->used = true;
	return r->cseq;
}

/* Our Contact's parameters: ;line=ID;srv=N so our bindings are told apart
 * (the probe's from the backup's), and the transport unless UDP so
 * requests to us come the way the line registered. nua builds the Contact
 * itself from its transport's address, our user and these. */
static void contact_params(const struct sip_reg *r, char *buf, size_t size)
{
	snprintf(buf, size, "line=%s;srv=%d%s", r->line_id, r->server, tp_suffix(r->tp));
}

/* One REGISTER (OP: or its un-REGISTER, Expires: 0) on a handle of its
 * own; one still in flight is abandoned. */
static int send_register(struct sip_reg *r, enum sip_op op)
{
	char ruri[CONF_DOMAIN_MAX + 8], params[CONF_ID_MAX + 48], exp[16], cseq[32];
	contact_params(r, params, sizeof params);
	xmit_end(r->sip, &r->nh_x);
	end_handle(r->sip, r->nh);
	r->nh = new_handle(r, &r->nh_x, true);
	if (!r->nh)
		return -ENOMEM;
	r->nh_op = op;
	r->cred.challenges = 0;
	snprintf(ruri, sizeof ruri, "sip:%s", r->domain);
	snprintf(exp, sizeof exp, "%d", op == SIP_OP_REGISTER ? r->expires : 0);
	snprintf(cseq, sizeof cseq, "%lu REGISTER", (unsigned long)next_cseq(r));
	/* DESIGN "Rules": we choose the destination: nta gets a numeric next
	 * hop and so does no DNS and no failover of its own; the Request-URI
	 * keeps the domain. */
	nua_set_hparams(r->nh, NUTAG_PROXY(r->proxy), NUTAG_M_USERNAME(r->user), NUTAG_M_PARAMS(params),
			TAG_IF(r->route[0], NUTAG_INITIAL_ROUTE_STR(r->route)), TAG_END());
	char via[SIP_VIA_MAX];
	xmit_arm(r->sip, &r->nh_x, r->tp, r->call_id, r->cseq, "REGISTER", via);
	nua_method(r->nh, NUTAG_METHOD("REGISTER"), NUTAG_URL(ruri), NUTAG_PROXY(r->proxy),
		   SIPTAG_EXPIRES_STR(exp), SIPTAG_CALL_ID_STR(r->call_id), SIPTAG_CSEQ_STR(cseq),
		   TAG_IF(via[0], SIPTAG_VIA_STR(via)), TAG_END());
	loop_kick(r->sip->loop);
	return 0;
}


int sip_reg_register(struct sip_reg *r, const char *ip, int port, enum conf_transport tp,
		     const char *name, int expires, const char *route)
{
	netaddr_host(r->target, sizeof r->target, ip, port);
	r->tp = tp;
	r->up = false; /* until its 2xx (G.4) */
	route_header(r->route, sizeof r->route, route, r->tp);
	pin_url(r->proxy, sizeof r->proxy, ip, port, tp, name);
	r->expires = expires;
	r->retried_423 = false;
	if (r->renew) /* the registrar holds no binding made through the old one */
		new_call_id(r);
	r->renew = false;
	return send_register(r, SIP_OP_REGISTER);
}

int sip_reg_unregister(struct sip_reg *r)
{
	if (!r->proxy[0])
		return -EINVAL;
	r->up = false; /* no longer the line's: its connection may go (G.4) */
	return send_register(r, SIP_OP_UNREGISTER);
}

/* Give up on the OPTIONS in flight, if any: no outcome for it. */
static void ping_end(struct sip_reg *r)
{
	su_timer_destroy(r->ping_timer);
	r->ping_timer = NULL;
	xmit_end(r->sip, &r->ping_x);
	end_handle(r->sip, r->ping);
	r->ping = NULL;
}

static void ping_expired(su_root_magic_t *m, su_timer_t *t, su_timer_arg_t *arg)
{
	(void)m;
	(void)t;
	ping_end(arg);
}

int sip_reg_options(struct sip_reg *r, const char *ip, int port, enum conf_transport tp)
{
	char proxy[SIP_PIN_MAX], ruri[300], call_id[33];
	if (ip) {
		netaddr_host(r->ping_target, sizeof r->ping_target, ip, port);
		pin_url(proxy, sizeof proxy, ip, port, tp, NULL);
	} else {
		if (!r->proxy[0])
			return -EINVAL;
		snprintf(r->ping_target, sizeof r->ping_target, "%s", r->target);
		snprintf(proxy, sizeof proxy, "%s", r->proxy);
		tp = r->tp;
	}
	ping_end(r); /* one still out was a missed heartbeat */
	r->ping = new_handle(r, &r->ping_x, false);
	if (!r->ping)
		return -ENOMEM;
	/* A.7: the agent judges the heartbeat missed T1 after it went and
	 * takes no later answer; half a T1 after that (before the second
	 * retransmission) the OPTIONS is given up on (RULES I.2). */
	su_duration_t wait = (su_duration_t)(r->sip->t1_ms * 3 / 2);
	r->ping_timer = su_timer_create(su_root_task(loop_root(r->sip->loop)), wait);
	if (r->ping_timer)
		su_timer_set(r->ping_timer, ping_expired, r);
	random_id(call_id);
	/* The server itself is asked (Request-URI sip:IP:PORT), pinned like
	 * every request so the heartbeat tests exactly the address in use;
	 * through a proxy, the server the Route names is. */
	bool routed = !ip && r->route[0];
	if (routed) {
		/* "<sip:HOST;lr...>" -> "sip:HOST" */
		const char *h = r->route + 5;
		size_t n = strcspn(h, ";>");
		snprintf(ruri, sizeof ruri, "sip:%.*s", (int)n, h);
	} else {
		snprintf(ruri, sizeof ruri, "sip:%s", r->ping_target);
	}
	nua_set_hparams(r->ping, NUTAG_PROXY(proxy), TAG_IF(routed, NUTAG_INITIAL_ROUTE_STR(r->route)),
			TAG_END());
	char via[SIP_VIA_MAX];
	xmit_arm(r->sip, &r->ping_x, tp, call_id, 1, "OPTIONS", via);
	nua_options(r->ping, NUTAG_URL(ruri), SIPTAG_TO_STR(ruri), NUTAG_PROXY(proxy), SIPTAG_CALL_ID_STR(call_id),
		    SIPTAG_CSEQ_STR("1 OPTIONS"), TAG_IF(via[0], SIPTAG_VIA_STR(via)), TAG_END());
	loop_kick(r->sip->loop);
	return 0;
}

void sip_reg_free(struct sip_reg *r)
{
	if (!r)
		return;
	for (struct sip_reg **p = &r->sip->regs; *p; p = &(*p)->next)
		if (*p == r) {
			*p = r->next;
			break;
		}
	ping_end(r);
	xmit_end(r->sip, &r->nh_x);
	end_handle(r->sip, r->nh);
	cred_free(&r->cred);
	free(r->from);
	free(r->line_id);
	free(r->user);
	free(r->domain);
	free(r);
}

/* ---- calls (RULES F) ---- */

/* One call: the INVITE dialog's handle, and what a BYE sent outside it
 * needs (F.4: the server the dialog goes through is gone). */
struct sip_call {
	enum sip_kind kind;
	struct sip *sip;
	nua_handle_t *nh;        /* the INVITE dialog */
	nua_handle_t *bye_nh;    /* a BYE sent through another server */
	sip_call_cb *cb;
	void *ctx;
	struct sip_cred cred;
	bool incoming;
	bool ended;              /* SCE_ENDED reported */
	bool bye_out;            /* our BYE is in flight on nh */
	bool inviting;           /* our INVITE has had no answer at all yet */
	/* the dialog, for a BYE outside it: From and To as we send them */
	char *call_id, *local, *remote, *target;
	uint32_t cseq;
	struct sip_xmit bye_x;   /* the BYE on bye_nh */
	/* where its last request went (the INVITE's hop, or the BYE's sent
	 * outside the dialog): a TLS failure there is told in words */
	char hop_ip[NETADDR_IP_MAX];
	int hop_port;
	enum conf_transport hop_tp;
};

static void call_hop(struct sip_call *c, const char *ip, int port, enum conf_transport tp)
{
	snprintf(c->hop_ip, sizeof c->hop_ip, "%s", ip);
	c->hop_port = port;
	c->hop_tp = tp;
}

void sip_set_incoming(struct sip *s, sip_incoming_cb *cb, void *ctx)
{
	s->incoming = cb;
	s->incoming_ctx = ctx;
}

/* The message's application/sdp body and its length, NULL none. */
static const char *sdp_body(const sip_t *sip, size_t *len)
{
	*len = 0;
	if (!sip || !sip->sip_payload || !sip->sip_content_type || !sip->sip_content_type->c_type ||
	    strcasecmp(sip->sip_content_type->c_type, "application/sdp") != 0)
		return NULL;
	*len = sip->sip_payload->pl_len;
	return sip->sip_payload->pl_data;
}

static void call_report(struct sip_call *c, enum sip_call_ev ev, int status, const char *phrase,
			const sip_t *sip, bool remote)
{
	char words[TLSDIAG_WORDS_MAX + 8];
	struct sip_call_info i = {
		.ev = ev, .status = status, .phrase = phrase ? phrase : "",
		.local = !sip || nta_sip_is_internal(sip), .remote = remote,
	};
	if (i.local && status >= 300 && c->hop_tp == CONF_TP_TLS)
		i.phrase = tls_words(c->sip, c->hop_ip, c->hop_port, i.phrase, words, sizeof words);
	i.sdp = sdp_body(sip, &i.sdp_len);
	if (c->cb)
		c->cb(c->ctx, &i);
}

static void set_str(char **dst, char *src)
{
	free(*dst);
	*dst = src;
}

/* Keep what a BYE outside the dialog needs: RFC 3261 12.2.1.1 (Call-ID,
 * tags, remote target, a CSeq above the last). LOCAL_FROM: our party is
 * the request's From (outgoing) or To (incoming). */
static void keep_dialog(struct sip_call *c, const sip_t *sip, bool local_from)
{
	su_home_t *home = nua_handle_home(c->nh);
	if (!sip || !sip->sip_from || !sip->sip_to || !sip->sip_call_id)
		return;
	const sip_addr_t *ours = local_from ? sip->sip_from : sip->sip_to;
	const sip_addr_t *theirs = local_from ? sip->sip_to : sip->sip_from;
	char *o = sip_header_as_string(home, (const sip_header_t *)ours);
	char *t = sip_header_as_string(home, (const sip_header_t *)theirs);
	if (o && t && ours->a_tag && theirs->a_tag) {
		set_str(&c->local, strdup(o));
		set_str(&c->remote, strdup(t));
		set_str(&c->call_id, strdup(sip->sip_call_id->i_id));
	}
	su_free(home, o);
	su_free(home, t);
	if (sip->sip_contact && !local_from == c->incoming) {
		char *u = url_as_string(home, sip->sip_contact->m_url);
		if (u)
			set_str(&c->target, strdup(u));
		su_free(home, u);
	}
	if (sip->sip_cseq && sip->sip_cseq->cs_seq > c->cseq)
		c->cseq = sip->sip_cseq->cs_seq;
}

static void end_call_handle(struct sip_call *c, nua_handle_t **nh)
{
	if (!*nh)
		return;
	nua_handle_bind(*nh, NULL);
	if (*nh == c->bye_nh)
		xmit_end(c->sip, &c->bye_x);
	if (*nh == c->nh && c->inviting) {
		/* SPEC I.2: the INVITE has been given up on. nua would
		 * CANCEL it, but a CANCEL waits for a provisional answer (RFC
		 * 3261 9.1) and nta goes on retransmitting the INVITE until
		 * Timer B meanwhile (64*T1). NTATAG_CANCEL_408 ends the client
		 * transaction here with a local 487 instead: no more copies,
		 * no CANCEL. */
		nua_cancel(*nh, NTATAG_CANCEL_408(1), TAG_END());
		c->inviting = false;
	}
	nua_handle_destroy(*nh);
	*nh = NULL;
	loop_kick(c->sip->loop);
}

static void call_event(struct sip_call *c, nua_t *nua, nua_event_t event, int status, const char *phrase,
		       const sip_t *sip, tagi_t tags[])
{
	(void)nua;
	switch (event) {
	case nua_r_invite:
		if (!c->nh)
			return;
		if (status > 0)
			c->inviting = false; /* answered: a CANCEL can follow */
		if (status < 200) {
			if (status > 0)
				call_report(c, SCE_PROGRESS, status, phrase, sip, false);
			return;
		}
		if (sip && !nta_sip_is_internal(sip) && (status == 401 || status == 407) &&
		    authenticate(c->sip, c->nh, &c->cred, status, sip, NULL, NULL) == 0) {
			c->inviting = true; /* the INVITE again, with credentials */
			return;
		}
		c->cred.challenges = 0;
		if (status < 300)
			keep_dialog(c, sip, true);
		call_report(c, SCE_FINAL, status, phrase, sip, false);
		return;
	case nua_i_invite:
		/* a re-INVITE in our dialog (nua autoanswers nothing) */
		call_report(c, SCE_REOFFER, 0, phrase, sip, true);
		return;
	case nua_i_ack:
		/* to our 200: of the INVITE (incoming), or of a re-INVITE (either
		 * way; its SDP then answers our offer) */
		if (c->incoming)
			keep_dialog(c, sip, false);
		call_report(c, SCE_ACKED, 200, phrase, sip, false);
		return;
	case nua_r_bye:
		if (sip && sip->sip_cseq && sip->sip_cseq->cs_seq > c->cseq)
			c->cseq = sip->sip_cseq->cs_seq; /* ours: a BYE sent again goes above it */
		if (sip && !nta_sip_is_internal(sip) && (status == 401 || status == 407) &&
		    authenticate(c->sip, c->nh, &c->cred, status, sip, NULL, NULL) == 0)
			return;
		if (status >= 200 && c->bye_out) {
			c->bye_out = false;
			call_report(c, SCE_BYE_DONE, status, phrase, sip, false);
		}
		return;
	case nua_r_method:
		if (status < 200)
			return;
		if (sip && !nta_sip_is_internal(sip) && (status == 401 || status == 407) && c->bye_nh) {
			char via[SIP_VIA_MAX], cseq[32]; /* a new transaction, as for a REGISTER */
			if (sip->sip_cseq && sip->sip_cseq->cs_seq >= c->cseq)
				c->cseq = sip->sip_cseq->cs_seq;
			c->cseq++;
			snprintf(cseq, sizeof cseq, "%lu BYE", (unsigned long)c->cseq);
			xmit_arm(c->sip, &c->bye_x, c->hop_tp, c->call_id, c->cseq, "BYE", via);
			if (authenticate(c->sip, c->bye_nh, &c->cred, status, sip, via, cseq) == 0)
				return;
		}
		c->bye_x.armed = false; /* answered */
		end_call_handle(c, &c->bye_nh);
		call_report(c, SCE_BYE_DONE, status, phrase, sip, false);
		return;
	case nua_i_bye:
		if (!c->ended) {
			c->ended = true;
			call_report(c, SCE_ENDED, 200, "remote hangup", NULL, true);
		}
		return;
	case nua_i_cancel:
		if (!c->ended) {
			c->ended = true;
			call_report(c, SCE_ENDED, 487, "cancelled by the caller", NULL, true);
		}
		return;
	case nua_i_state: {
		int cs = nua_callstate_init;
		tl_gets(tags, NUTAG_CALLSTATE_REF(cs), TAG_END());
		if (cs == nua_callstate_terminated && !c->ended && !c->bye_out) {
			c->ended = true;
			call_report(c, SCE_ENDED, status >= 300 ? status : 200, phrase, sip, false);
		}
		return;
	}
	default:
		return;
	}
}

static struct sip_call *call_new(struct sip *s)
{
	struct sip_call *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->kind = SK_CALL;
	c->sip = s;
	return c;
}

/* Source address of the request being handled, as text. */
static void source_ip(nua_t *nua, char *buf, size_t size)
{
	buf[0] = '\0';
	msg_t *msg = nua_current_request(nua);
	su_addrinfo_t *ai = msg ? msg_addrinfo(msg) : NULL;
	if (!ai || !ai->ai_addr)
		return;
	const su_sockaddr_t *su = (const su_sockaddr_t *)ai->ai_addr;
	if (su->su_family == AF_INET)
		inet_ntop(AF_INET, &su->su_sin.sin_addr, buf, (socklen_t)size);
	else if (su->su_family == AF_INET6)
		inet_ntop(AF_INET6, &su->su_sin6.sin6_addr, buf, (socklen_t)size);
}

static void incoming_invite(struct sip *s, nua_handle_t *nh, const sip_t *sip)
{
	char ip[NETADDR_IP_MAX], line[CONF_ID_MAX + 1], from[256] = "";
	int code = 403;
	source_ip(s->nua, ip, sizeof ip);
	struct sip_call *c = s->incoming && sip && sip->sip_request ? call_new(s) : NULL;
	if (c) {
		const url_t *ru = sip->sip_request->rq_url;
		bool has_line = ru->url_params && url_param(ru->url_params, "line", line, sizeof line) > 0;
		if (sip->sip_from) {
			issize_t n = url_e(from, sizeof from, sip->sip_from->a_url);
			from[n >= 0 && (size_t)n < sizeof from ? (size_t)n : sizeof from - 1] = '\0';
		}
		struct sip_incoming in = {
			.ruri_user = ru->url_user ? ru->url_user : "",
			.line_param = has_line ? line : NULL,
			.source_ip = ip,
			.from = from,
		};
		in.sdp = sdp_body(sip, &in.sdp_len);
		c->incoming = true;
		c->nh = nh;
		if (sip->sip_call_id)
			c->call_id = strdup(sip->sip_call_id->i_id);
		nua_handle_bind(nh, c);
		code = s->incoming(s->incoming_ctx, c, &in);
		if (code == 0) {
			keep_dialog(c, sip, false);
			return;
		}
		nua_handle_bind(nh, NULL);
		c->nh = NULL;
		sip_call_free(c);
	}
	nua_respond(nh, code, sip_status_phrase(code), TAG_END());
	nua_handle_destroy(nh);
	loop_kick(s->loop);
}

int sip_call_bind(struct sip_call *c, const struct sip_account *a, sip_call_cb *cb, void *ctx)
{
	c->cb = cb;
	c->ctx = ctx;
	return cred_set(&c->cred, a);
}

struct sip_call *sip_call_invite(struct sip *s, const struct sip_account *a, const char *target,
				 const char *ip, int port, enum conf_transport tp, const char *name,
				 const char *route, const char *sdp, sip_call_cb *cb, void *ctx)
{
	char proxy[SIP_PIN_MAX], rt[SIP_ROUTE_MAX], params[CONF_ID_MAX + 24], *from = NULL;
	struct sip_call *c = call_new(s);
	if (!c || sip_call_bind(c, a, cb, ctx) != 0 || !(from = account_from(a)))
		goto fail;
	call_hop(c, ip, port, tp);
	pin_url(proxy, sizeof proxy, ip, port, tp, name);
	route_header(rt, sizeof rt, route, tp);
	snprintf(params, sizeof params, "line=%s%s", a->line_id, tp_suffix(tp));
	char id[33];
	random_id(id);
	c->call_id = strdup(id);
	c->nh = nua_handle(s->nua, c, SIPTAG_FROM_STR(from), SIPTAG_TO_STR(target), SIPTAG_CALL_ID_STR(id),
			   TAG_END());
	if (!c->call_id || !c->nh)
		goto fail;
	/* Pinned like a REGISTER (DESIGN "Rules"): the handle's proxy is the
	 * next hop of every request of the dialog, the BYE included (F.4). */
	nua_set_hparams(c->nh, NUTAG_PROXY(proxy), NUTAG_M_USERNAME(a->user), NUTAG_M_PARAMS(params),
			TAG_IF(rt[0], NUTAG_INITIAL_ROUTE_STR(rt)), TAG_END());
	nua_invite(c->nh, NUTAG_URL(target), NUTAG_PROXY(proxy),
		   SIPTAG_CONTENT_TYPE_STR("application/sdp"), SIPTAG_PAYLOAD_STR(sdp), TAG_END());
	c->inviting = true;
	loop_kick(s->loop);
	free(from);
	return c;
fail:
	free(from);
	sip_call_free(c);
	return NULL;
}

int sip_call_cancel(struct sip_call *c)
{
	if (!c->nh)
		return -EINVAL;
	nua_cancel(c->nh, TAG_END());
	loop_kick(c->sip->loop);
	return 0;
}

int sip_call_respond(struct sip_call *c, int status, const char *sdp)
{
	if (!c->nh)
		return -EINVAL;
	bool body = status >= 200 && status < 300 && sdp;
	nua_respond(c->nh, status, sip_status_phrase(status),
		    TAG_IF(body, SIPTAG_CONTENT_TYPE_STR("application/sdp")), TAG_IF(body, SIPTAG_PAYLOAD_STR(sdp)),
		    TAG_END());
	loop_kick(c->sip->loop);
	return 0;
}

int sip_call_bye(struct sip_call *c)
{
	if (!c->nh)
		return -EINVAL;
	c->bye_out = true;
	c->ended = true; /* the terminated state that follows is our own BYE's */
	nua_bye(c->nh, TAG_END());
	loop_kick(c->sip->loop);
	return 0;
}

int sip_call_bye_via(struct sip_call *c, const char *ip, int port, enum conf_transport tp, const char *name,
		     const char *route)
{
	char proxy[SIP_PIN_MAX], rt[SIP_ROUTE_MAX], cseq[32];
	if (!c->call_id || !c->local || !c->remote || !c->target)
		return -EINVAL;
	/* The dialog's own handle is done with: its BYE failed. */
	end_call_handle(c, &c->nh);
	end_call_handle(c, &c->bye_nh);
	call_hop(c, ip, port, tp);
	pin_url(proxy, sizeof proxy, ip, port, tp, name);
	route_header(rt, sizeof rt, route, tp);
	c->cseq += 2; /* above the INVITE's and the failed BYE's */
	snprintf(cseq, sizeof cseq, "%lu BYE", (unsigned long)c->cseq);
	c->bye_nh = nua_handle(c->sip->nua, c, SIPTAG_FROM_STR(c->local), SIPTAG_TO_STR(c->remote), TAG_END());
	if (!c->bye_nh)
		return -ENOMEM;
	c->cred.challenges = 0;
	/* our From tag, for ending it (struct sip_xmit) */
	const char *t = strstr(c->local, ";tag=");
	size_t tl = t ? strcspn(t + 5, ";> \t") : 0;
	c->bye_x.tag[0] = '\0';
	if (tl > 0 && tl < sizeof c->bye_x.tag)
		snprintf(c->bye_x.tag, sizeof c->bye_x.tag, "%.*s", (int)tl, t + 5);
	c->bye_x.to = c->remote;
	char via[SIP_VIA_MAX];
	xmit_arm(c->sip, &c->bye_x, tp, c->call_id, c->cseq, "BYE", via);
	/* RFC 3261 15.1.1 + 12.2.1.1: the same dialog (Call-ID, tags, remote
	 * target), a higher CSeq; the route set of the dead server is left
	 * out: the server the line registered with now relays it. */
	nua_set_hparams(c->bye_nh, NUTAG_PROXY(proxy), TAG_IF(rt[0], NUTAG_INITIAL_ROUTE_STR(rt)), TAG_END());
	nua_method(c->bye_nh, NUTAG_METHOD("BYE"), NUTAG_URL(c->target), NUTAG_PROXY(proxy),
		   SIPTAG_CALL_ID_STR(c->call_id), SIPTAG_CSEQ_STR(cseq), TAG_IF(via[0], SIPTAG_VIA_STR(via)),
		   TAG_END());
	loop_kick(c->sip->loop);
	return 0;
}

const char *sip_call_sip_id(const struct sip_call *c)
{
	return c->call_id ? c->call_id : "";
}

void sip_call_free(struct sip_call *c)
{
	if (!c)
		return;
	end_call_handle(c, &c->nh);
	end_call_handle(c, &c->bye_nh);
	cred_free(&c->cred);
	free(c->call_id);
	free(c->local);
	free(c->remote);
	free(c->target);
	free(c);
}
