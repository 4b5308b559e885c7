/* line.h - runs one line: timers, its SIP registration, its status. */
#ifndef SIPUAD_LINE_H
#define SIPUAD_LINE_H

#include <stdbool.h>
#include <time.h>

#include "config.h"

struct event_base;
struct sip;
struct line;

enum line_state {
	LINE_DISABLED,
	LINE_RESOLVING,
	LINE_REGISTERING,
	LINE_REGISTERED,
	LINE_UNREGISTERING,
	LINE_WAITING,
	LINE_FAILED,
	LINE_STATE_MAX
};

/* A snapshot for the control socket (SPEC E "LINE"). Strings point into the
 * line and stay valid until the loop runs again. */
struct line_status {
	const char *id;
	enum line_state state;
	bool registered;
	int server_index;
	const char *server_role;     /* primary, backup, backup2, ... */
	const char *server_host;
	int server_port;             /* 0: omitted in the config */
	const char *server_transport;
	const char *address;         /* "IP:PORT" in use, NULL if none yet */
	long expires_in;             /* s left of the granted registration, 0 if none */
	unsigned failovers;
	int error_code;              /* last error: SIP status, 0 for a local one */
	const char *error_reason;    /* NULL: no error */
	time_t error_at;
	long next_attempt_in;        /* s, -1: none scheduled */
};

struct line_set {
	struct line **v;
	int n;
};

struct line *line_new(struct event_base *base, struct sip *sip,
		      const struct conf *c, const struct conf_line *cl);
/* Begin: disabled lines stay so, others register after the start spread. */
void line_start(struct line *l);
/* un-REGISTER if the line holds (or is acquiring) a binding; DONE runs once
 * the line is quiet, possibly before this returns. */
void line_stop(struct line *l, void (*done)(void *arg), void *arg);
void line_free(struct line *l);

const char *line_id(const struct line *l);
void line_get_status(const struct line *l, struct line_status *st);
const char *line_state_name(enum line_state s);

struct line *line_set_find(const struct line_set *set, const char *id);

#endif
