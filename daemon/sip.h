/* sip.h - the SIP user agent: one nua stack, requests pinned to numeric
 * targets, every outcome reported as facts for the line agent. Only sip.c
 * includes nua. */
#ifndef SIPUAD_SIP_H
#define SIPUAD_SIP_H

#include <stdbool.h>

#include "config.h"

struct loop;
struct sip;
struct sip_reg;

enum sip_op { SIP_OP_REGISTER, SIP_OP_UNREGISTER, SIP_OP_OPTIONS, SIP_OP_MAX };

/* One final outcome of a request on a registration handle: facts only
 * (what it means is verdict.c's to say). */
struct sip_outcome {
	struct sip_reg *reg;   /* the handle it happened on */
	enum sip_op op;
	int status;      /* 0: the request could not be sent */
	bool local;      /* our own stack made the answer up (timeout, ICMP, ...) */
	const char *phrase;
	int expires;     /* REGISTER 2xx: seconds the server granted our contact */
	int retry_after; /* s from Retry-After, 0 = none */
	const char *target; /* "IP:PORT" the request was sent to */
};

typedef void sip_outcome_cb(void *ctx, const struct sip_outcome *o);

/* The AOR and credentials of a line; strings are copied. */
struct sip_account {
	const char *line_id; /* tags our Contact (;line=ID) so bindings are told apart */
	const char *user, *domain, *auth_user, *password, *display_name;
};

/* The UA's settings (listen address, transports, timers) come from C. */
int sip_init(struct sip **out, struct loop *loop, const struct conf *c);
/* Un-REGISTERs whatever nua still holds and stops the stack; DONE runs when
 * nua confirms, or is not called if the loop stops first. */
void sip_shutdown(struct sip *s, void (*done)(void *arg), void *arg);
void sip_free(struct sip *s);

/* A binding of account A at server number SERVER: its Contact carries
 * ;line=ID;srv=SERVER, so bindings at different servers never collide when
 * registrars share a location database (one un-REGISTER cannot remove the
 * other), and the same binding keeps the same Contact across restarts. */
struct sip_reg *sip_reg_new(struct sip *s, const struct sip_account *a, int server,
			    sip_outcome_cb *cb, void *ctx);
/* The Call-ID of the binding: restoring one (from the store) makes the
 * next REGISTER refresh the registrar's existing binding instead of adding
 * a second. A binding whose REGISTER failed gets a new one. */
void sip_reg_set_call_id(struct sip_reg *r, const char *call_id);
const char *sip_reg_call_id(const struct sip_reg *r);
/* REGISTER to IP:PORT over TP asking for EXPIRES s (a refresh is the same
 * call again: the caller decides when; a 423 is retried once with the
 * registrar's Min-Expires, a challenge answered once). ROUTE
 * ("host[:port]", NULL or "" for none): IP:PORT is an outbound proxy and
 * the request carries Route: <sip:ROUTE;lr> to the server (so do the
 * un-REGISTER and OPTIONS of this binding). */
int sip_reg_register(struct sip_reg *r, const char *ip, int port,
		     enum conf_transport tp, int expires, const char *route);
/* un-REGISTER (Expires: 0) this binding at its current target. */
int sip_reg_unregister(struct sip_reg *r);
/* OPTIONS to the target of the last sip_reg_register() (or to IP:PORT/TP
 * when IP is given), on a handle of its own so it never disturbs the
 * registration. Any final response is reported with op SIP_OP_OPTIONS. */
int sip_reg_options(struct sip_reg *r, const char *ip, int port, enum conf_transport tp);
/* Drop the handle at once: no callback for it runs afterwards. */
void sip_reg_free(struct sip_reg *r);

#endif
