/* lines.h - the daemon's set of lines: created from a config, changed by a
 * reload that touches only the lines that changed, stopped together. */
#ifndef SIPUAD_LINES_H
#define SIPUAD_LINES_H

#include <stddef.h>

#include "config.h"
#include "line.h"

struct event_base;
struct resolver;
struct sip;
struct store;
struct lines;

/* Takes ownership of C. Lines are created (restored from STORE, which may
 * be NULL), not started; they look names up through RES. */
int lines_init(struct lines **out, struct event_base *base, struct sip *sip,
	       struct store *store, struct resolver *res, struct conf *c);
void lines_start(struct lines *ls);
/* Apply NC (ownership taken on success only): unchanged lines keep their
 * registration untouched, changed ones un-REGISTER and start again, removed
 * ones un-REGISTER, new ones start. Changes that need a restart (sip.*,
 * control.*, storage.*) refuse the reload whole. -1 with ERR on refusal. */
int lines_reload(struct lines *ls, struct conf *nc, char *err, size_t size);
/* Un-REGISTER every line; DONE runs (from the loop) when all are quiet. */
void lines_stop(struct lines *ls, void (*done)(void *arg), void *arg);
/* Free every line and config; SIP handles go with them. */
void lines_free(struct lines *ls);

const struct line_set *lines_view(const struct lines *ls);
const struct conf *lines_conf(const struct lines *ls);

#endif
