/* agent.h - one line's policy as a pure state machine: (state, event, now) ->
 * (state', actions). No I/O: the line runner executes the actions. SPEC A, C. */
#ifndef SIPUAD_AGENT_H
#define SIPUAD_AGENT_H

#include <stdbool.h>
#include <stdint.h>

#include "sip.h"

enum agent_state {
	AG_DISABLED,
	AG_RESOLVING,
	AG_REGISTERING,
	AG_REGISTERED,
	AG_UNREGISTERING,
	AG_WAITING,
	AG_FAILED,
	AG_STATE_MAX
};

/* One deadline per purpose (STYLE habit 2); the runner mirrors them. */
enum agent_timer {
	AT_RETRY,     /* next registration attempt: start spread, timer 1/2, backoff */
	AT_BUDGET,    /* retry_count transmissions of a REGISTER are used up */
	AT_HEARTBEAT, /* next OPTIONS */
	AT_HB_ANSWER, /* an OPTIONS unanswered this long is a miss (SPEC A.7) */
	AT_FAILBACK,  /* next failback probe to the primary (SPEC C) */
	AT_MAX
};

enum agent_ev_kind {
	AE_START,          /* the line begins */
	AE_STOP,           /* un-register and go quiet (SIGTERM, line removed) */
	AE_TIMER,          /* .timer's deadline passed */
	AE_REG,            /* REGISTER outcome on the line's binding (refreshes too) */
	AE_UNREG,          /* un-REGISTER outcome on the line's binding */
	AE_OPTIONS,        /* heartbeat outcome */
	AE_PROBE,          /* failback probe outcome */
	AE_FORCE_FAILOVER, /* operator: next server now */
	AE_REGISTER_NOW,   /* operator: register again now on the current server */
	AE_IDLE,           /* .idle: no call up, so a failback may move the line */
	AE_RESOLVED,       /* AA_RESOLVE's outcome: OK (an address to use) or why not */
	AE_MAX
};

struct agent_event {
	enum agent_ev_kind kind;
	enum agent_timer timer;     /* AE_TIMER */
	enum sip_result result;     /* outcomes */
	int status;
	const char *phrase;
	int expires;                /* REGISTER 2xx: granted s */
	int retry_after;            /* s, 0 = none */
	const char *target;         /* "IP:PORT" the request went to */
	bool idle;                  /* AE_IDLE */
	/* Every event: addresses of the next hop's list not yet tried in
	 * this walk (SPEC B.4); the runner fills it in from its address list. */
	int addr_left;
};

enum agent_act_kind {
	AA_RESOLVE,       /* find .server's next hop from its first address (SPEC B); AE_RESOLVED follows */
	AA_REGISTER,      /* REGISTER .server through the address in use, on the line's
			   * binding (a new one if there is none) */
	AA_NEXT_ADDRESS,  /* the address in use failed: the next of the next hop's list
			   * (SPEC B.4); after the last one the list is used up */
	AA_UNREGISTER,    /* un-REGISTER the line's binding */
	AA_ABANDON,       /* drop the line's binding and its request in flight
			   * (.release_old: un-REGISTER it on the way out) */
	AA_OPTIONS,       /* heartbeat to the current server */
	AA_PROBE,         /* independent REGISTER to .server (the primary) */
	AA_PROBE_DROP,    /* drop the probe and its request */
	AA_ADOPT_PROBE,   /* the probe's binding becomes the line's; the old one is released */
	AA_PUBLISH,       /* .pub from .server to .to, .reason */
	AA_STOPPED,       /* AE_STOP is complete */
};

/* AP_PROXY and AP_DNS are the runner's own (SPEC B.5, a failed lookup). */
enum agent_pub { AP_REGISTERED, AP_UNREGISTERED, AP_FAILOVER, AP_FAILBACK, AP_ERROR,
		 AP_ADDRESS, AP_PROXY, AP_DNS, AP_MAX };

#define AGENT_REASON_MAX 192
#define AGENT_ACTIONS_MAX 8

struct agent_action {
	enum agent_act_kind kind;
	int server;                 /* AA_REGISTER/AA_PROBE target; AA_PUBLISH: from (-1 none) */
	int to;                     /* AA_PUBLISH: to (-1 none) */
	bool release_old;
	enum agent_pub pub;
	char reason[AGENT_REASON_MAX];
};

struct agent_actions {
	struct agent_action v[AGENT_ACTIONS_MAX];
	int n;
};

struct agent_config {
	bool enabled;
	int n_servers;
	int t1_ms, t2_ms;
	int retry_count;
	int heartbeat_ms;           /* 0: off */
	int return_delay_ms;        /* timer 1 of SPEC A.2 */
	int retry_delay_ms;         /* timer 2 of SPEC A.2 */
	bool failback;
	int failback_ms;
	int start_spread_ms;
	/* Jitter source: uniform over 0..UINT32_MAX. Tests pass their own. */
	uint32_t (*rand)(void *arg);
	void *rand_arg;
};

struct agent_server {
	bool registered_before;     /* SPEC A.2: a 200 from this server, ever */
	int64_t hold_until;         /* Retry-After: not before this (ms), 0 none */
};

#define AGENT_SERVERS_MAX 16

struct agent {
	struct agent_config cfg;
	enum agent_state state;
	int server;                 /* current server index */
	int addr_left;              /* addresses of the next hop not yet tried (SPEC B.4) */
	int retry_server;           /* where AT_RETRY registers */
	struct agent_server sv[AGENT_SERVERS_MAX];
	int64_t deadline[AT_MAX];   /* ms on the caller's clock, 0 = off */
	bool bound;                 /* the registrar holds our binding */
	bool reg_busy, unreg_busy, hb_busy, probe_busy;
	bool reverify;              /* REGISTER after a heartbeat miss (SPEC A.6/A.7) */
	bool unreg_4xx;             /* SPEC A.4 un-REGISTER in flight */
	bool again_4xx;             /* SPEC A.4 second REGISTER in flight */
	bool stopping;
	bool restart;               /* AE_REGISTER_NOW while the stop's un-REGISTER runs */
	bool idle, failback_pending;
	int failed_cycles;          /* full passes over every server without a 200 */
	unsigned failovers;
	int granted_s;
	int64_t registered_at;
	int error_code;             /* last error; error_at 0 = none */
	int64_t error_at;
	char error_reason[AGENT_REASON_MAX];
	char target[64];            /* where the binding's last request went */
};

void agent_init(struct agent *a, const struct agent_config *cfg, const bool *registered_before);
/* Restored state (SPEC D): start at SERVER; bit i of REGISTERED_BEFORE says
 * server i answered a REGISTER with 200 before (SPEC A.2). */
void agent_resume(struct agent *a, int server, uint32_t registered_before);
void agent_step(struct agent *a, const struct agent_event *ev, int64_t now, struct agent_actions *out);

const char *agent_state_name(enum agent_state s);
const char *agent_pub_name(enum agent_pub p);
/* ms a server that is not the last may take to answer: retry_count
 * transmissions on RFC 3261 17.1.2.2's T1-doubling schedule, capped at T2. */
int agent_budget_ms(const struct agent_config *cfg);
/* RFC 5626 4.5: a uniform 50-100 % of min(max, base * 2^n). */
int64_t agent_backoff_ms(const struct agent *a, int64_t base_ms, int n);

#endif
