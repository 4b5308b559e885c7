/* history.c - a line's events: to subscribers, to a ring without a store, read back. */
#include <stdio.h>
#include <stdlib.h>

#include "history.h"
#include "store.h"

/* Only without a database; with one, the database keeps 200 per line. */
#define HISTORY_RING_MAX 16

struct history_ring {
	struct line_event v[HISTORY_RING_MAX];
	int n, head;
};

static line_event_cb *sink;
static void *sink_arg;

void history_set_sink(line_event_cb *cb, void *arg)
{
	sink = cb;
	sink_arg = arg;
}

void history_publish(struct history_ring **ring, const struct store *s, const struct line_event *e)
{
	if (sink)
		sink(e, sink_arg);
	if (s || (!*ring && !(*ring = calloc(1, sizeof **ring))))
		return;
	struct history_ring *r = *ring;
	r->v[r->head] = *e;
	r->v[r->head].call = NULL; /* the call's fields do not outlive this moment */
	r->head = (r->head + 1) % HISTORY_RING_MAX;
	if (r->n < HISTORY_RING_MAX)
		r->n++;
}

void history_notify(const struct line_event *e)
{
	if (sink)
		sink(e, sink_arg);
}

struct read_ctx {
	line_event_cb *cb;
	void *arg;
};

void history_event(struct line_event *e, time_t at, const char *line, const char *kind,
		   const char *from, const char *to, const char *reason)
{
	e->at = at;
	e->kind = kind;
	e->call = NULL;
	snprintf(e->line, sizeof e->line, "%s", line);
	snprintf(e->from, sizeof e->from, "%s", from);
	snprintf(e->to, sizeof e->to, "%s", to);
	snprintf(e->reason, sizeof e->reason, "%s", reason);
}

static void from_store_cb(const struct store_event *se, void *arg)
{
	struct read_ctx *h = arg;
	struct line_event e;
	history_event(&e, se->at, se->line, se->kind, se->from, se->to, se->reason);
	h->cb(&e, h->arg);
}

int history_read(struct store *s, const struct history_ring *ring, const char *line, int n,
		 line_event_cb *cb, void *arg)
{
	struct read_ctx h = { cb, arg };
	int got = store_history(s, line, n, from_store_cb, &h);
	if (got >= 0)
		return got;
	int i;
	for (i = 0; ring && i < n && i < ring->n; i++)
		cb(&ring->v[(ring->head - 1 - i + HISTORY_RING_MAX) % HISTORY_RING_MAX], arg);
	return i;
}

void history_ring_free(struct history_ring *ring)
{
	free(ring);
}
