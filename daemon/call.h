/* call.h - every decision one call makes, as a pure state machine:
 * (call, event, now) -> (call', actions). Where an INVITE or a BYE goes,
 * when a server is unavailable for it and the line must re-register, when
 * the call is sent again, and that it is closed exactly once (RULES F).
 * The runner (calls.c) executes the actions: SIP, SDP, ports, events.
 * No I/O, no clock, no globals. */
#ifndef SIPUAD_CALL_H
#define SIPUAD_CALL_H

#include <stdbool.h>
#include <stdint.h>

#include "status.h"
#include "verdict.h"

/* What the control socket shows (SPEC F contract "CALL"). */
enum call_state {
	CALL_INCOMING,    /* an INVITE for the line rings the user */
	CALL_CALLING,     /* our INVITE is under way (or waits for the line, F.2) */
	CALL_RINGING,     /* 180/181/182 */
	CALL_EARLY,       /* 183: early media */
	CALL_ESTABLISHED,
	CALL_CLOSED,
	CALL_STATE_MAX
};

/* What the machine waits for. After CALL_CLOSED the user is done with the
 * call; the phases CP_CANCEL and CP_BYE* still clear the far end. */
enum call_phase {
	CP_NEW,
	CP_INVITE,        /* our INVITE is in flight on .hop */
	CP_WAIT_LINE,     /* its server was unavailable: the line re-registers (F.2) */
	CP_OFFERED,       /* incoming: 180 sent, the user may answer */
	CP_ANSWERED,      /* incoming: 200 sent, waiting for the ACK */
	CP_UP,            /* the dialog is established */
	CP_CANCEL,        /* closed: CANCEL sent, waiting for the INVITE's final answer */
	CP_BYE,           /* closed: BYE in flight */
	CP_BYE_WAIT_LINE, /* closed: the BYE's server was unavailable (F.4) */
	CP_DONE,          /* nothing left: the runner frees the call */
	CP_MAX
};

enum call_timer {
	CT_BUDGET,  /* retry_count transmissions of the request in flight are used up (F.2, C.5) */
	CT_WAIT,    /* how long a call waits for the line to register somewhere new */
	CT_MAX
};

enum call_ev_kind {
	CE_DIAL,     /* outgoing: start on .hop */
	CE_OFFER,    /* incoming: an INVITE for the line was admitted */
	CE_ANSWER,   /* user: answer (incoming) */
	CE_HANGUP,   /* user: hang up, cancel or reject with .status (0: default) */
	CE_PROGRESS, /* a 1xx to our INVITE (.status) */
	CE_FINAL,    /* the final answer to our INVITE: .status .local .phrase */
	CE_ACKED,    /* incoming: the ACK to our 200 came */
	CE_BYE_DONE, /* the final answer to our BYE: .status .local .phrase */
	CE_ENDED,    /* the stack says the dialog is over (far end's BYE or CANCEL,
		      * no ACK): .status .phrase .remote */
	CE_TIMER,    /* .timer's deadline passed */
	CE_LINE,     /* the line's next hop changed: .hop */
	CE_REOFFER,  /* the far end sent a re-INVITE in the dialog (hold, a new codec,
		      * a session refresh) */
	CE_MAX
};

struct call_event {
	enum call_ev_kind kind;
	enum call_timer timer;
	int status;
	bool local;            /* our own stack made the answer up */
	bool remote;           /* CE_ENDED: the far end ended it */
	const char *phrase;
	const struct line_hop *hop;   /* CE_DIAL, CE_OFFER, CE_LINE */
};

enum call_act_kind {
	CA_INVITE,       /* send the INVITE through .hop (a new attempt, a new transaction) */
	CA_ABANDON,      /* drop the attempt in flight: no answer can be CANCELled */
	CA_CANCEL,       /* CANCEL the INVITE in flight */
	CA_RESPOND,      /* answer the incoming INVITE with .status (180, 200 + SDP, 4xx-6xx) */
	CA_BYE,          /* BYE in the dialog; .via: through .hop instead of the dialog's route */
	CA_LINE_FAILED,  /* tell the line a request failed on .hop.server: .server_down
			  * means switch now (A.3), else re-register first (A.6) */
	CA_PUBLISH,      /* the call is in state .status now: event, hook (one step may
			  * publish two: `calling` then `closed`) */
	CA_DONE,         /* nothing left: free the call */
	CA_MAX
};

#define CALL_ACTIONS_MAX 6
#define CALL_REASON_MAX 128
#define CALL_TRIES_MAX 8       /* addresses one INVITE or BYE is sent to, at most */

struct call_action {
	enum call_act_kind kind;
	int status;
	bool via;
	bool server_down;
	struct line_hop hop;
	char reason[CALL_REASON_MAX];
};

struct call_actions {
	struct call_action v[CALL_ACTIONS_MAX + 1]; /* the last: a bug's overflow, never run */
	int n;
	char log[256];           /* one line for the log, "" none */
};

struct call_config {
	int wait_ms;             /* CT_WAIT: how long a call waits for the line */
	int zombie_ms;           /* how long a closed call may take to clear the far end */
};

struct call {
	struct call_config cfg;
	bool outgoing;
	enum call_state state;
	enum call_phase phase;
	struct line_hop hop;             /* where the dialog's requests go */
	int64_t deadline[CT_MAX];        /* ms, 0 off */
	bool provisional;                /* a 101-199 came: no failover any more (F.2) */
	bool answered_any;               /* any answer to the INVITE in flight, 100 included */
	int tries;                       /* addresses tried for the request now being placed */
	struct netaddr tried[CALL_TRIES_MAX];
	int code;                        /* of the end (once closed), or the last failure */
	char reason[CALL_REASON_MAX];
	int64_t answered_at;             /* ms, 0: not answered */
};

void call_init(struct call *c, const struct call_config *cfg, bool outgoing);
void call_step(struct call *c, const struct call_event *ev, int64_t now, struct call_actions *out);

/* F.3: whether an INVITE for a line may ring it: 0, or the status to
 * refuse it with (403 stranger, 486 past max_calls). */
int call_admit(bool trusted, int open_calls, int max_calls);
/* What the final answer to an INVITE or BYE means for failover (F.2, F.4):
 * the server is unavailable for the request (VERDICT_TIMEOUT,
 * VERDICT_UNREACHABLE, VERDICT_5XX), or the far end's word (VERDICT_OK and
 * the rest). ROUTED: it went through an outbound proxy. */
enum verdict call_verdict(int status, bool local, bool routed);

const char *call_state_name(enum call_state s);
const char *call_phase_name(enum call_phase p);

#endif
