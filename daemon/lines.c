/* lines.c - the set of lines: creation, reload by per-line diff, retirement,
 * stopping them all. Owns every config a line still points into. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "line.h"
#include "lines.h"
#include "log.h"
#include "store.h"

/* A line leaving the set: it un-REGISTERs, then is freed from the loop. */
struct retired {
	struct line *l;
	struct line *successor;   /* a changed line's new self: starts once this one is quiet,
				   * so its REGISTER cannot race the old un-REGISTER of the same Contact */
	struct lines *ls;
	bool done;
	struct retired *next;
};

struct old_conf {
	struct conf *c;
	struct old_conf *next;
};

struct lines {
	struct event_base *base;
	struct sip *sip;
	struct store *store;
	struct resolver *res;
	struct conf *conf;
	struct line_set set;
	struct retired *retired;
	struct old_conf *old;     /* configs retired lines may still point into */
	struct event *reap;       /* frees retired lines from the loop */
	bool stopping;
	int live_pending;
	void (*stop_done)(void *arg);
	void *stop_arg;
};

static void reap_cb(evutil_socket_t fd, short what, void *arg);

/* Lines no longer configured take their state and history with them. */
static void forget_removed(struct lines *ls)
{
	const char **ids = calloc((size_t)ls->conf->n_lines + 1, sizeof *ids);
	if (!ids)
		return;
	for (int i = 0; i < ls->conf->n_lines; i++)
		ids[i] = ls->conf->lines[i].id;
	store_forget_others(ls->store, ids, ls->conf->n_lines);
	free(ids);
}

int lines_init(struct lines **out, struct event_base *base, struct sip *sip,
	       struct store *store, struct resolver *res, struct conf *c)
{
	struct lines *ls = calloc(1, sizeof *ls);
	if (!ls) {
		conf_free(c);
		return -1;
	}
	ls->base = base;
	ls->sip = sip;
	ls->store = store;
	ls->res = res;
	ls->conf = c;
	ls->reap = evtimer_new(base, reap_cb, ls);
	ls->set.v = calloc((size_t)c->n_lines + 1, sizeof *ls->set.v);
	if (!ls->reap || !ls->set.v)
		goto fail;
	for (int i = 0; i < c->n_lines; i++) {
		ls->set.v[i] = line_new(base, sip, store, res, true, c, &c->lines[i]);
		if (!ls->set.v[i]) {
			log_error("%s: cannot create the line", c->lines[i].id);
			goto fail;
		}
		ls->set.n++;
	}
	forget_removed(ls);
	*out = ls;
	return 0;
fail:
	lines_free(ls);
	return -1;
}

void lines_start(struct lines *ls)
{
	for (int i = 0; i < ls->set.n; i++)
		line_start(ls->set.v[i]);
}


static void maybe_stopped(struct lines *ls)
{
	if (!ls->stopping || ls->live_pending > 0 || !ls->stop_done)
		return;
	for (struct retired *r = ls->retired; r; r = r->next)
		if (!r->done)
			return;
	void (*done)(void *) = ls->stop_done;
	ls->stop_done = NULL;
	done(ls->stop_arg);
}

static void reap_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct lines *ls = arg;
	for (struct retired **pp = &ls->retired; *pp;) {
		struct retired *r = *pp;
		if (!r->done) {
			pp = &r->next;
			continue;
		}
		*pp = r->next;
		if (r->successor && !ls->stopping)
			line_start(r->successor);
		line_free(r->l);
		free(r);
	}
	/* A retired line points into the config it was created with, which may
	 * be any older one: they all go once no retired line is left. */
	if (!ls->retired) {
		while (ls->old) {
			struct old_conf *o = ls->old;
			ls->old = o->next;
			conf_free(o->c);
			free(o);
		}
	}
	maybe_stopped(ls);
}

static void retired_done_cb(void *arg)
{
	struct retired *r = arg;
	r->done = true;
	event_active(r->ls->reap, EV_TIMEOUT, 0);
}

static void live_stopped_cb(void *arg)
{
	struct lines *ls = arg;
	if (ls->live_pending > 0)
		ls->live_pending--;
	event_active(ls->reap, EV_TIMEOUT, 0);
}

/* What a reload cannot change in a running daemon: the SIP stack's socket
 * and timers, the control socket, the database. Names them in WHAT. */
static bool restart_needed(const struct conf *a, const struct conf *b, char *what, size_t size)
{
	what[0] = '\0';
#define DIFF(cond, name)                                                        \
	do { if (cond) { size_t n_ = strlen(what);                              \
		snprintf(what + n_, size - n_, "%s%s", n_ ? ", " : "", name); } } while (0)
	DIFF(strcmp(a->ctl_socket, b->ctl_socket), "control.socket");
	DIFF(a->ctl_mode != b->ctl_mode, "control.mode");
	DIFF(strcmp(a->ctl_group, b->ctl_group), "control.group");
	DIFF(strcmp(a->database, b->database), "storage.database");
	DIFF(strcmp(a->listen, b->listen), "sip.listen");
	DIFF(a->port != b->port, "sip.port");
	DIFF(memcmp(a->transports, b->transports, sizeof a->transports), "sip.transports");
	DIFF(strcmp(a->user_agent, b->user_agent), "sip.user_agent");
	DIFF(a->t1 != b->t1, "sip.t1");
	DIFF(a->t2 != b->t2, "sip.t2");
	DIFF(strcmp(a->resolv_conf, b->resolv_conf), "sip.resolv_conf");
	DIFF(a->dns_timeout != b->dns_timeout, "sip.dns_timeout");
	/* SPEC G: Sofia-SIP reads the TLS files once, when the stack binds */
	DIFF(strcmp(a->tls.ca_file, b->tls.ca_file), "sip.tls.ca_file");
	DIFF(a->tls.verify != b->tls.verify, "sip.tls.verify");
	DIFF(strcmp(a->tls.certificate, b->tls.certificate), "sip.tls.certificate");
	DIFF(strcmp(a->tls.key, b->tls.key), "sip.tls.key");
#undef DIFF
	return what[0] != '\0';
}

static int find_index(const struct line_set *set, const char *id)
{
	for (int i = 0; i < set->n; i++)
		if (strcmp(line_id(set->v[i]), id) == 0)
			return i;
	return -1;
}

int lines_reload(struct lines *ls, struct conf *nc, char *err, size_t size)
{
	char what[256];
	if (ls->stopping) {
		snprintf(err, size, "reload refused: the daemon is stopping");
		return -1;
	}
	if (restart_needed(ls->conf, nc, what, sizeof what)) {
		snprintf(err, size, "reload refused: %s changed; that needs a restart", what);
		return -1;
	}
	int n = nc->n_lines, n_old = ls->set.n;
	struct line **v = calloc((size_t)n + 1, sizeof *v);
	bool *fresh = calloc((size_t)n + 1, sizeof *fresh);
	bool *kept = calloc((size_t)n_old + 1, sizeof *kept);
	struct retired **ret = calloc((size_t)n_old + 1, sizeof *ret);
	int unchanged = 0, changed = 0, added = 0, removed = 0;
	if (!v || !fresh || !kept || !ret)
		goto oom;

	/* Everything that can fail happens before anything running is touched. */
	for (int i = 0; i < n; i++) {
		const struct conf_line *ncl = &nc->lines[i];
		int oi = find_index(&ls->set, ncl->id);
		const struct conf_line *ocl = conf_find_line(ls->conf, ncl->id);
		if (oi >= 0 && ocl && conf_line_equal(ocl, ncl)) {
			v[i] = ls->set.v[oi];
			kept[oi] = true;
			continue;
		}
		v[i] = line_new(ls->base, ls->sip, ls->store, ls->res, false, nc, ncl);
		fresh[i] = true;
		if (!v[i])
			goto oom;
	}
	for (int oi = 0; oi < n_old; oi++)
		if (!kept[oi] && !(ret[oi] = calloc(1, sizeof **ret)))
			goto oom;
	struct old_conf *oc = calloc(1, sizeof *oc);
	if (!oc)
		goto oom;

	/* Commit. */
	for (int i = 0; i < n; i++)
		if (!fresh[i])
			line_rebind(v[i], nc, &nc->lines[i]);
	for (int oi = 0; oi < n_old; oi++) {
		if (kept[oi])
			continue;
		struct retired *r = ret[oi];
		struct line *old = ls->set.v[oi];
		for (struct retired *p = ls->retired; p; p = p->next)
			if (p->successor == old) /* replaced again before it started */
				p->successor = NULL;
		r->l = old;
		r->ls = ls;
		for (int i = 0; i < n; i++)
			if (fresh[i] && strcmp(line_id(v[i]), line_id(old)) == 0)
				r->successor = v[i];
		if (r->successor)
			changed++;
		else
			removed++;
		r->next = ls->retired;
		ls->retired = r;
		log_info("%s: %s by reload", line_id(old), r->successor ? "changed" : "removed");
		line_stop(old, retired_done_cb, r);
	}
	oc->c = ls->conf;
	oc->next = ls->old;
	ls->old = oc;
	ls->conf = nc;
	free(ls->set.v);
	ls->set.v = v;
	ls->set.n = n;
	for (int i = 0; i < n; i++) {
		bool successor = false;
		for (struct retired *r = ls->retired; r; r = r->next)
			successor |= r->successor == v[i];
		if (!fresh[i]) {
			unchanged++;
		} else if (!successor) {
			added++;
			log_info("%s: added by reload", line_id(v[i]));
			line_start(v[i]);
		}
	}
	log_info("reload: %d line(s) unchanged, %d changed, %d added, %d removed",
		 unchanged, changed, added, removed);
	if (removed)
		forget_removed(ls);
	free(fresh);
	free(kept);
	free(ret);
	event_active(ls->reap, EV_TIMEOUT, 0);
	return 0;
oom:
	for (int i = 0; v && i < n; i++)
		if (fresh && fresh[i])
			line_free(v[i]);
	for (int oi = 0; ret && oi < n_old; oi++)
		free(ret[oi]);
	free(v);
	free(fresh);
	free(kept);
	free(ret);
	snprintf(err, size, "reload failed: out of memory; nothing changed");
	return -1;
}

void lines_stop(struct lines *ls, void (*done)(void *arg), void *arg)
{
	ls->stopping = true;
	ls->stop_done = done;
	ls->stop_arg = arg;
	ls->live_pending = ls->set.n;
	for (int i = 0; i < ls->set.n; i++)
		line_stop(ls->set.v[i], live_stopped_cb, ls);
	event_active(ls->reap, EV_TIMEOUT, 0);
}

void lines_free(struct lines *ls)
{
	if (!ls)
		return;
	for (int i = 0; i < ls->set.n; i++)
		line_free(ls->set.v[i]);
	free(ls->set.v);
	while (ls->retired) {
		struct retired *r = ls->retired;
		ls->retired = r->next;
		line_free(r->l);
		free(r);
	}
	while (ls->old) {
		struct old_conf *o = ls->old;
		ls->old = o->next;
		conf_free(o->c);
		free(o);
	}
	conf_free(ls->conf);
	if (ls->reap)
		event_free(ls->reap);
	free(ls);
}

const struct line_set *lines_view(const struct lines *ls)
{
	return &ls->set;
}

const struct conf *lines_conf(const struct lines *ls)
{
	return ls->conf;
}

struct line *line_set_find(const struct line_set *set, const char *id)
{
	int i = find_index(set, id);
	return i >= 0 ? set->v[i] : NULL;
}
