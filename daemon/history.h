/* history.h - where a line's published events go: to the subscribers' sink
 * at once, to the database with the line's state (line.c's persist), or,
 * when there is no database, to a small ring in memory; and how `history`
 * reads them back, newest first (RULES D.3). */
#ifndef SIPUAD_HISTORY_H
#define SIPUAD_HISTORY_H

#include "status.h"

struct store;
struct history_ring;

void history_set_sink(line_event_cb *cb, void *arg);
/* E from its parts (copied; KIND is a static name). */
void history_event(struct line_event *e, time_t at, const char *line, const char *kind,
		   const char *from, const char *to, const char *reason);
/* E happened: the subscribers see it; without a store it is kept in *RING
 * (made on first use, at most HISTORY_RING_MAX events). */
void history_publish(struct history_ring **ring, const struct store *s, const struct line_event *e);
/* E goes to the subscribers only. */
void history_notify(const struct line_event *e);
/* The N newest events of LINE to CB, from the store when there is one
 * (it spans restarts), else from RING; returns how many. */
int history_read(struct store *s, const struct history_ring *ring, const char *line, int n,
		 line_event_cb *cb, void *arg);
void history_ring_free(struct history_ring *ring);

#endif
