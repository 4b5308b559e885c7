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

/* SIP_OP_CONNECTION: no request; the TCP or TLS connection a registered
 * binding uses was closed (FIN or RST, RULES G.4), status 0, local. */
enum sip_op { SIP_OP_REGISTER, SIP_OP_UNREGISTER, SIP_OP_OPTIONS, SIP_OP_CONNECTION, SIP_OP_MAX };

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
/* REGISTER to IP:PORT over TP asking for EXPIRES s; NAME is the hop's
 * configured host, which a TLS server's certificate must name (RULES
 * G.2; NULL or "" for the IP) (a refresh is the same
 * call again: the caller decides when; a 423 is retried once with the
 * registrar's Min-Expires, a challenge answered once). ROUTE
 * ("host[:port]", NULL or "" for none): IP:PORT is an outbound proxy and
 * the request carries Route: <sip:ROUTE;lr> to the server (so do the
 * un-REGISTER and OPTIONS of this binding). */
int sip_reg_register(struct sip_reg *r, const char *ip, int port, enum conf_transport tp,
		     const char *name, int expires, const char *route);
/* un-REGISTER (Expires: 0) this binding at its current target. */
int sip_reg_unregister(struct sip_reg *r);
/* OPTIONS to the target of the last sip_reg_register() (or to IP:PORT/TP
 * when IP is given), on a handle of its own so it never disturbs the
 * registration. Any final response is reported with op SIP_OP_OPTIONS. */
int sip_reg_options(struct sip_reg *r, const char *ip, int port, enum conf_transport tp);
/* Drop the handle at once: no callback for it runs afterwards. */
void sip_reg_free(struct sip_reg *r);

/* ---- calls (RULES F): facts only, call.c decides ---- */

struct sip_call;

enum sip_call_ev {
	SCE_PROGRESS, /* a 1xx to our INVITE */
	SCE_FINAL,    /* the final answer to our INVITE (a challenge is answered here, once) */
	SCE_ACKED,    /* the ACK to our 200 came */
	SCE_BYE_DONE, /* the final answer to our BYE */
	SCE_ENDED,    /* the dialog is over: the far end's BYE or CANCEL, or no ACK */
	SCE_REOFFER,  /* a re-INVITE in the dialog (its offer in .sdp, or none):
		       * answer it with sip_call_respond() */
	SCE_MAX
};

struct sip_call_info {
	enum sip_call_ev ev;
	int status;
	bool local;           /* our own stack made the answer up */
	bool remote;          /* SCE_ENDED: the far end ended it */
	const char *phrase;
	const char *sdp;      /* an application/sdp body, NULL none */
	size_t sdp_len;
};

typedef void sip_call_cb(void *ctx, const struct sip_call_info *i);

/* An INVITE for a line arrived. */
struct sip_incoming {
	const char *ruri_user;  /* the Request-URI's user, "" none */
	const char *line_param; /* its ;line= parameter, NULL none */
	const char *source_ip;  /* where the packet came from */
	const char *from;       /* the caller's URI */
	const char *sdp;        /* the offer, NULL none */
	size_t sdp_len;
};

/* Return 0 after sip_call_bind() took the call, else the status to refuse
 * it with (the call is freed). */
typedef int sip_incoming_cb(void *ctx, struct sip_call *c, const struct sip_incoming *in);
void sip_set_incoming(struct sip *s, sip_incoming_cb *cb, void *ctx);

/* INVITE TARGET (a SIP URI) as account A through IP:PORT over TP (NAME and
 * ROUTE as for REGISTER: an outbound proxy relays it to the server) offering SDP. */
struct sip_call *sip_call_invite(struct sip *s, const struct sip_account *a, const char *target,
				 const char *ip, int port, enum conf_transport tp, const char *name,
				 const char *route, const char *sdp, sip_call_cb *cb, void *ctx);
/* An incoming call is the line's: its events go to CB, challenges to our
 * BYE are answered with A's credentials. */
int sip_call_bind(struct sip_call *c, const struct sip_account *a, sip_call_cb *cb, void *ctx);
int sip_call_cancel(struct sip_call *c);
/* Answer the incoming INVITE (or a re-INVITE): STATUS, with SDP for a 2xx. */
int sip_call_respond(struct sip_call *c, int status, const char *sdp);
/* BYE in the dialog, along its route set. */
int sip_call_bye(struct sip_call *c);
/* BYE through IP:PORT over TP (ROUTE: via an outbound proxy) instead of
 * the dialog's route set: the server the call went through is gone (F.4). */
int sip_call_bye_via(struct sip_call *c, const char *ip, int port, enum conf_transport tp, const char *name,
		     const char *route);
const char *sip_call_sip_id(const struct sip_call *c);
/* Drop the call's handles: no callback for it runs afterwards. */
void sip_call_free(struct sip_call *c);

#endif
