/* line.h - runs one line: executes its agent's actions with timers, SIP
 * handles and the event record; answers for its status. */
#ifndef SIPUAD_LINE_H
#define SIPUAD_LINE_H

#include <stdbool.h>
#include <time.h>

#include "config.h"
#include "status.h"

struct event_base;
struct resolver;
struct sip;
struct store;
struct line;

struct line_set {
	struct line **v;
	int n;
};

/* Every line's events go to one sink (the control socket's subscribers). */
void line_set_event_sink(line_event_cb *cb, void *arg);

/* STORE may be NULL (running from memory). RESTORE: resume where the store
 * says the line was (at start); a line created by a reload starts afresh,
 * as its stored server index may name a server it no longer has. */
struct line *line_new(struct event_base *base, struct sip *sip, struct store *store,
		      struct resolver *res, bool restore, const struct conf *c,
		      const struct conf_line *cl);
/* Begin: disabled lines stay so, others register after the start spread. */
void line_start(struct line *l);
/* un-REGISTER if the line holds (or is acquiring) a binding; DONE runs once
 * the line is quiet, possibly before this returns. */
void line_stop(struct line *l, void (*done)(void *arg), void *arg);
void line_free(struct line *l);

/* Reload: the line's configuration is unchanged (conf_line_equal) but now
 * lives in C: point the line at it, touching nothing else. */
void line_rebind(struct line *l, const struct conf *c, const struct conf_line *cl);

/* Operator commands: 0, or -EINVAL when the line is disabled. */
int line_force_failover(struct line *l);
int line_register_now(struct line *l);
int line_unregister(struct line *l);
/* A call is up (idle false): failback waits until it ends. */
void line_set_idle(struct line *l, bool idle);

/* RULES F: what calls need of their line. */
const struct conf_line *line_conf(const struct line *l);
/* Where the line's requests go now (its next hop, F.1). */
void line_hop(const struct line *l, struct line_hop *h);
/* IP is an address of one of the line's servers or proxies (F.3). */
bool line_trusts(const struct line *l, const char *ip);
/* A call's request found SERVER unavailable (F.2, F.4): SERVER_DOWN, the
 * server said so (the line switches), else it registers again first. */
void line_request_failed(struct line *l, int server, bool server_down, int status, const char *why);
/* CB runs (outside any step) whenever the line's hop may have changed:
 * registered, moved, failed. One watcher per line. */
typedef void line_watch_cb(void *arg, struct line *l);
void line_set_watch(struct line *l, line_watch_cb *cb, void *arg);

/* A call's event E: to the subscribers; KEEP: also to the line's history. */
void line_publish(struct line *l, const struct line_event *e, bool keep);

const char *line_id(const struct line *l);
void line_get_status(const struct line *l, struct line_status *st);
/* The N most recent events, newest first, to CB (from the store when there
 * is one: it spans restarts); returns how many. */
int line_history(const struct line *l, int n, line_event_cb *cb, void *arg);

struct line *line_set_find(const struct line_set *set, const char *id);

#endif
