/* agent.h - every decision one line makes, as a pure state machine:
 * (state, event, now) -> (state', actions). The agent owns the line's next
 * hop (its address list), the failback probe's addressing, what answers
 * mean, Min-Expires and backoff; the runner (line.c) only executes its
 * actions and reports facts. No I/O, no clock, no globals. RULES A-D. */
#ifndef SIPUAD_AGENT_H
#define SIPUAD_AGENT_H

#include <stdbool.h>
#include <stdint.h>

#include "addrlist.h"
#include "config.h"
#include "dns.h"
#include "netaddr.h"
#include "status.h"
#include "verdict.h"

/* What status and the control socket show (README "Line states"). */
enum agent_state {
	AG_DISABLED,      /* enabled = false: never sends anything */
	AG_RESOLVING,     /* looking up the next hop of a new attempt */
	AG_REGISTERING,   /* a REGISTER is in flight (see enum agent_reg) */
	AG_REGISTERED,    /* the registrar holds our binding; refreshed at AT_REFRESH */
	AG_UNREGISTERING, /* an un-REGISTER is in flight (see enum agent_unreg) */
	AG_WAITING,       /* idle until AT_RETRY (start spread, stopped by the operator) */
	AG_FAILED,        /* every server unavailable, or credentials refused: retry at AT_RETRY */
	AG_STATE_MAX
};

/* Sub-state of AG_REGISTERING: what the REGISTER in flight is for. */
enum agent_reg {
	AR_NEW,       /* a new attempt, or a refresh of the binding */
	AR_REVERIFY,  /* a request of the line failed: is the server still there? (A.6, A.7) */
	AR_AFTER_4XX, /* A.4's second REGISTER: another 4xx now is the server's failure */
	AR_MAX
};

/* Sub-state of AG_UNREGISTERING. */
enum agent_unreg {
	AU_STOP,  /* the line stops (SIGTERM, removed, operator) */
	AU_4XX,   /* A.4: clear the binding before registering again */
	AU_MAX
};

/* The failback probe (RULES C.4), a machine beside the line's own. */
enum agent_probe { APB_IDLE, APB_LOOKUP, APB_SENT, APB_MAX };

/* One deadline per purpose; the runner mirrors each into one timer. */
enum agent_timer {
	AT_RETRY,     /* next registration attempt: start spread, timer 1/2, backoff */
	AT_BUDGET,    /* retry_count transmissions of the request in flight are used up (C.5) */
	AT_HEARTBEAT, /* next OPTIONS (A.7) */
	AT_HB_ANSWER, /* an OPTIONS unanswered this long is a miss (A.7) */
	AT_FAILBACK,  /* next failback probe: to the primary (C.4), or to the best
		       * SRV priority of the server in use (I.3) */
	AT_DNS,       /* the next hop's answer runs out: look it up again (B.2) */
	AT_REFRESH,   /* refresh the registration inside its granted expiry (A.5) */
	AT_PROBE,     /* the failback probe's retry_count transmissions are used up (C.4, I.2) */
	AT_MAX
};

/* Which request an outcome is for. */
enum agent_req { AQ_REGISTER, AQ_UNREGISTER, AQ_OPTIONS, AQ_PROBE, AQ_MAX };

/* Which lookup an answer is for. */
enum agent_lookup {
	AK_ATTEMPT,  /* the next hop of a new attempt (AG_RESOLVING) */
	AK_REFRESH,  /* the next hop in use, its TTL ran out (AT_DNS) */
	AK_PROBE,    /* the primary's addresses, for the failback probe */
	AK_MAX
};

enum agent_ev_kind {
	AE_START,          /* the line begins */
	AE_STOP,           /* un-register and go quiet (.final: for good, no `register` after) */
	AE_TIMER,          /* .timer's deadline passed */
	AE_OUTCOME,        /* the final answer to .req: facts only */
	AE_ANSWER,         /* .lookup's answer */
	AE_FORCE_FAILOVER, /* operator: next server now */
	AE_REGISTER_NOW,   /* operator: register again now */
	AE_IDLE,           /* .idle: no call up, so a failback may move the line */
	AE_REQ_FAILED,     /* a call's INVITE or BYE found .server unavailable (F.2, F.4):
			    * .server_down: the server said so (switch, as A.3), else
			    * register again first (A.6); .phrase says what happened */
	AE_CONN_LOST,      /* the TCP or TLS connection of the registered binding closed
			    * (G.4): a missed heartbeat, at once; .phrase says which */
	AE_MAX
};

struct agent_event {
	enum agent_ev_kind kind;
	enum agent_timer timer;          /* AE_TIMER */
	/* AE_OUTCOME */
	enum agent_req req;
	int status;                      /* SIP status; 0: the request could not be sent */
	bool local;                      /* our own stack made the answer up (no server said it) */
	const char *phrase;
	int expires;                     /* REGISTER 2xx: s the server granted our contact */
	int retry_after;                 /* s from Retry-After, 0 none */
	/* AE_ANSWER */
	enum agent_lookup lookup;
	const struct dns_answer *answer;
	bool idle;                       /* AE_IDLE */
	bool final;                      /* AE_STOP */
	int server;                      /* AE_REQ_FAILED */
	bool server_down;                /* AE_REQ_FAILED */
};

enum agent_act_kind {
	AA_LOOKUP,        /* .lookup of .key: the runner may answer from a fresh
			   * cached answer when .fresh_ok; AE_ANSWER follows,
			   * never within this step. Replaces a lookup of the
			   * same kind in flight. */
	AA_CANCEL_LOOKUP, /* forget .lookup in flight */
	AA_INVALIDATE,    /* every address of .key failed: its cached answer is not fresh (B.4) */
	AA_REGISTER,      /* REGISTER .server at .addr (.route: via a proxy) for .expires,
			   * on the line's binding (a new one for a new server) */
	AA_UNREGISTER,    /* un-REGISTER the line's binding */
	AA_ABANDON,       /* drop the line's binding and its request in flight
			   * (.release_old: un-REGISTER it on the way out) */
	AA_OPTIONS,       /* heartbeat through the binding's address */
	AA_PROBE,         /* independent REGISTER to .server at .addr/.route: the
			   * primary (C.4), or a better SRV target of the server
			   * in use (I.3) */
	AA_PROBE_DROP,    /* drop the probe, its request and its lookup */
	AA_ADOPT_PROBE,   /* the probe's binding becomes the line's, on .server; the
			   * old one is un-REGISTERed when .release_old, else
			   * only forgotten (I.3: it has the same Contact) */
	AA_PUBLISH,       /* an event for history and subscribers: .pub .from .to .reason */
	AA_STOPPED,       /* AE_STOP is complete */
	AA_MAX
};

enum agent_pub { AP_REGISTERED, AP_UNREGISTERED, AP_FAILOVER, AP_FAILBACK, AP_ERROR,
		 AP_ADDRESS, AP_PROXY, AP_DNS, AP_RESTART, AP_MAX };

#define AGENT_REASON_MAX 192
#define AGENT_DESC_MAX 320
#define AGENT_LOG_MAX 768
#define AGENT_ACTIONS_MAX 12
#define AGENT_SERVERS_MAX CONF_SERVERS_MAX
#define AGENT_ROUTE_MAX (ADDRLIST_NAME_MAX + 32)

struct agent_action {
	enum agent_act_kind kind;
	enum agent_lookup lookup;        /* AA_LOOKUP, AA_CANCEL_LOOKUP */
	struct dns_key key;              /* AA_LOOKUP, AA_INVALIDATE: use agent_action_key() */
	char key_name[ADDRLIST_NAME_MAX];
	bool fresh_ok;
	int server;                      /* AA_REGISTER, AA_PROBE, AA_ADOPT_PROBE */
	struct netaddr addr;             /* AA_REGISTER, AA_PROBE */
	char route[AGENT_ROUTE_MAX];     /* "" or "host[:port]" of the server behind a proxy */
	char name[ADDRLIST_NAME_MAX];    /* AA_REGISTER, AA_PROBE: the hop's configured host,
					  * which a TLS server must prove it is (G.2) */
	enum conf_transport tp;
	int expires;
	bool release_old;                /* AA_ABANDON, AA_ADOPT_PROBE */
	enum agent_pub pub;              /* AA_PUBLISH */
	int from_server, to_server;      /* AA_PUBLISH: the servers named, -1 none */
	char from[AGENT_DESC_MAX], to[AGENT_DESC_MAX];
	char reason[AGENT_REASON_MAX];
};

enum agent_log_level { AGL_NONE, AGL_INFO, AGL_WARN, AGL_ERROR };

struct agent_actions {
	struct agent_action v[AGENT_ACTIONS_MAX + 1]; /* the last: a bug's overflow (never executed) */
	int n;
	/* At most one log line per step: the transition with its reason,
	 * or what was published when the state stayed. */
	enum agent_log_level log_level;
	char log[AGENT_LOG_MAX];
	/* scratch of the step: its reason, a broken invariant */
	char why[AGENT_LOG_MAX - 64];
	char bug[AGENT_REASON_MAX];
};

struct agent_config {
	bool enabled;
	const struct conf_server *servers;  /* priority order; the agent keeps the pointer */
	int n_servers;
	char *const *proxies;               /* outbound proxies as configured (RULES B.1) */
	int n_proxies;
	int t1_ms, t2_ms;
	int retry_count;
	int heartbeat_ms;           /* 0: off */
	int return_delay_ms;        /* timer 1 of A.2 */
	int retry_delay_ms;         /* timer 2 of A.2 */
	bool failback;
	int failback_ms;
	int start_spread_ms;
	/* Jitter source: uniform over 0..UINT32_MAX. Tests pass their own. */
	uint32_t (*rand)(void *arg);
	void *rand_arg;
};

struct agent_server {
	bool registered_before;     /* A.2: a 200 from this server, ever */
	int64_t hold_until;         /* Retry-After: not before this (ms), 0 none */
	int learned_min;            /* expires this registrar insists on (after a 423), 0 none */
};

struct agent {
	struct agent_config cfg;
	enum agent_state state;
	enum agent_reg reg;         /* in AG_REGISTERING */
	enum agent_unreg unreg;     /* in AG_UNREGISTERING */
	enum agent_probe probe;
	int server;                 /* current server index */
	int retry_server;           /* where AT_RETRY registers */
	struct agent_server sv[AGENT_SERVERS_MAX];
	int64_t deadline[AT_MAX];   /* ms on the caller's clock, 0 = off */
	bool bound;                 /* the registrar holds our binding */
	/* latches: commands or conditions that wait for a later moment */
	bool halted;                /* stopped: quiet until AE_REGISTER_NOW */
	bool final;                 /* stopped for good: AE_REGISTER_NOW is refused */
	bool restart;               /* AE_REGISTER_NOW while the stop's un-REGISTER runs */
	bool idle;                  /* no call up */
	bool failback_pending;      /* a failback waits for the call to end (F.5) */
	bool refreshing;            /* an AK_REFRESH lookup is in flight */
	bool refresh_busy;          /* a refresh REGISTER is in flight (in AG_REGISTERED) */
	bool resumed, resumed_registered; /* restored from the store (D.3) */
	int failed_cycles;          /* full passes over every server without a 200 */
	unsigned failovers;
	int granted_s;
	int64_t registered_at;
	int error_code;             /* last error; error_at 0 = none */
	int64_t error_at;
	char error_reason[AGENT_REASON_MAX];
	/* the next hop (RULES B) and where the binding's requests go */
	struct addrlist al;
	struct netaddr cur;
	char route[AGENT_ROUTE_MAX];
	char address[NETADDR_STR_MAX];   /* cur as text, "" none */
	int addr_server;                 /* the server cur leads to */
	enum dns_status dns_status;      /* of the last lookup: an event on a change only */
	/* the failback probe's addressing (C.4, B, I.3) */
	bool probe_srv;                  /* the probe is I.3's (a better SRV target of
					  * the server in use), not C.4's */
	struct netaddr probe_addr;
	char probe_route[AGENT_ROUTE_MAX];
	char primary_ok[NETADDR_STR_MAX];/* the primary's address that last took a REGISTER */
	int probe_misses;                /* failed probes since: each tries the next address */
	/* this step */
	enum agent_state step_from;
	struct agent_actions *out;       /* where the step's actions go */
};

/* The agent's settings for line CL of configuration C (rand left unset). */
void agent_configure(struct agent_config *ac, const struct conf *c, const struct conf_line *cl);
void agent_init(struct agent *a, const struct agent_config *cfg);
/* Restored state (D.3): start at SERVER through ADDRESS ("IP:PORT", ""
 * none) if the next hop still has it; bit i of REGISTERED_BEFORE says
 * server i answered a REGISTER with 200 before (A.2); MIN_EXPIRES was
 * learned from that server (A.4's 423). */
void agent_resume(struct agent *a, int server, uint32_t registered_before, int min_expires,
		  const char *address, bool was_registered);
/* The configuration moved (reload, unchanged line): same values, new memory. */
void agent_rebind(struct agent *a, const struct conf_server *servers, char *const *proxies);
void agent_step(struct agent *a, const struct agent_event *ev, int64_t now, struct agent_actions *out);
/* agent_status.c: what the line shows at NOW (ms, the agent's clock); the caller adds
 * .id and .error_at (wall clock, from the agent's error_at). */
void agent_status(const struct agent *a, int64_t now, struct line_status *st);
/* Where the line's requests go now (RULES F.1): a call's INVITE takes it. */
void agent_hop(const struct agent *a, struct line_hop *h);
/* RULES F.3: IP is an address of one of the line's servers or proxies. */
bool agent_trusts(const struct agent *a, const char *ip);
/* Whether an operator command may run now: 0, -EINVAL (the line is
 * disabled) or -EBUSY (it is being stopped for good). */
int agent_command_ok(const struct agent *a, enum agent_ev_kind k);

const char *agent_state_name(enum agent_state s);
const char *agent_transport_name(enum conf_transport t);
const char *agent_pub_name(enum agent_pub p);
/* "primary", "backup", "backup2", ... */
void agent_role_name(int i, char *buf, size_t size);
/* ms a server that is not the last may take to answer: retry_count
 * transmissions on RFC 3261 17.1.2.2's T1-doubling schedule, capped at T2. */
int agent_budget_ms(const struct agent_config *cfg);
/* The key of an AA_LOOKUP or AA_INVALIDATE (its name lives in the action). */
struct dns_key agent_action_key(const struct agent_action *x);
/* Exposed for the unit test of the transition table. */
bool agent_legal(enum agent_state from, enum agent_state to);

#endif
