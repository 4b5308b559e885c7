/* calls.h - the daemon's calls (RULES F): runs each call's machine
 * (call.c) with SIP handles, SDP, RTP ports, timers, events and the media
 * hook; admits or refuses incoming INVITEs. */
#ifndef SIPUAD_CALLS_H
#define SIPUAD_CALLS_H

#include <stddef.h>

#include "config.h"
#include "status.h"

struct event_base;
struct line;
struct line_set;
struct sip;
struct calls;

#define CALLS_ID_MAX 16

/* Calls of the lines in SET (its lines are looked up by id each time, so
 * a reload may replace them); incoming INVITEs come from SIP. */
int calls_init(struct calls **out, struct event_base *base, struct sip *sip, const struct conf *c,
	       const struct line_set *set);
/* After a reload: the config moved to C, lines may be new (watch them). */
void calls_rebind(struct calls *cs, const struct conf *c);
/* The daemon stops: every open call is hung up (BYE, CANCEL or reject). */
void calls_stop(struct calls *cs);
/* Every call closes (its far end is not cleared: the stack is going). */
void calls_free(struct calls *cs);

/* Commands (SPEC F contract): 0, or -1 with the reason in ERR. */
int calls_dial(struct calls *cs, const char *line, const char *target, char *id, size_t id_size,
	       char *err, size_t size);
int calls_answer(struct calls *cs, const char *id, char *err, size_t size);
int calls_hangup(struct calls *cs, const char *id, int code, char *err, size_t size);
/* The calls not yet closed, oldest first, to CB; returns how many. */
typedef void calls_view_cb(const struct call_view *v, void *arg);
int calls_list(const struct calls *cs, calls_view_cb *cb, void *arg);
/* How many calls of line LINE are open. */
int calls_open(const struct calls *cs, const char *line);

#endif
