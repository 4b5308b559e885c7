/* ctl.h - the control socket (RULES E "Control protocol"). */
#ifndef SIPUAD_CTL_H
#define SIPUAD_CTL_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

struct event_base;
struct line_set;
struct ctl;

/* Bind the socket named in C (a stale file from a crashed run is replaced;
 * a live daemon on it is an error) and serve requests about SET. */
/* RELOAD re-reads the configuration: 0, or -1 with the reason in ERR. */
typedef int ctl_reload_fn(void *arg, char *err, size_t size);

int ctl_init(struct ctl **out, struct event_base *base, const struct conf *c,
	     const struct line_set *set, ctl_reload_fn *reload, void *reload_arg);
/* The daemon's calls, for call/answer/hangup/calls (NULL: none). */
struct calls;
void ctl_set_calls(struct calls *cs);
/* Close every client and remove the socket file. */
void ctl_free(struct ctl *ctl);

/* The reply to one request line, as a malloc'd JSON string without the
 * trailing newline (exposed for unit tests). *subscribe is set when the
 * request asks for the event stream. */
char *ctl_handle_request(const struct line_set *set, const char *request, bool *subscribe);

#endif
