/* resolver.c - SRV/A/AAAA over Sofia's sresolv on the shared su_root, one
 * deadline per lookup, one cache entry per name, last good answers kept. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>
#include <sofia-sip/su_wait.h>
#include <sofia-sip/sresolv.h>

#include "backoff.h"
#include "log.h"
#include "loop.h"
#include "resolver.h"
#include "srv.h"
#include "store.h"
#include "timeutil.h"

/* How long an answer is used before it is asked again: the records' TTL
 * within these bounds (a TTL of 0 must not make every request a lookup). */
#define TTL_MIN_S 1
#define TTL_MAX_S 86400
/* After a failed lookup: ask again after this long, doubling to the cap. */
#define RETRY_MIN_S 5
#define RETRY_MAX_S 300
#define SUBS_MAX (2 + 2 * DNS_ADDRS_MAX)

struct entry;
struct lookup;

struct resolver_query {
	struct resolver_query *next;
	struct lookup *lk;
	resolver_cb *cb;
	void *arg;
};

struct target {
	char name[256];
	int port;
	unsigned prio, weight;
	struct netaddr v[DNS_ADDRS_MAX]; /* A first, then AAAA */
	int n4, n6;
	struct netaddr v6[DNS_ADDRS_MAX];
};

/* One sres query of a lookup. */
struct sub {
	struct lookup *lk;
	sres_query_t *q;       /* NULL once answered or cancelled */
	int target;            /* -1: the SRV query */
	uint16_t type;
};

struct lookup {
	struct resolver *r;
	struct entry *e;
	struct event *deadline;
	struct resolver_query *waiters;
	struct sub subs[SUBS_MAX];
	int n_subs, pending;
	struct target t[DNS_ADDRS_MAX];
	int n_t;
	uint32_t ttl;          /* smallest TTL seen */
	int status;            /* first error seen */
	bool via_srv;
	bool late;             /* the deadline ended it */
};

struct entry {
	struct entry *next;
	char name[256];
	int port;
	enum conf_transport tp;
	struct dns_answer good; /* n = 0: none */
	int64_t fresh_until;   /* ms: good is fresh until then */
	int fails;             /* failed lookups in a row */
	int last_status;
	char last_error[300];
	struct lookup *busy;
	bool loaded;           /* the store was asked */
	char stored[DNS_ADDRS_MAX * 56]; /* the stored answer's set, sorted */
};

struct resolver {
	struct event_base *base;
	struct loop *loop;
	struct store *store;
	sres_resolver_t *sres;
	char *resolv_conf;
	int timeout_ms;
	bool ipv6;
	struct entry *entries;
};

static const char *const status_names[DNS_STATUS_MAX] = {
	[DNS_OK] = "ok",
	[DNS_ENXDOMAIN] = "NXDOMAIN",
	[DNS_ENODATA] = "no records",
	[DNS_ETIMEOUT] = "timed out",
	[DNS_EFAIL] = "failed",
};

static const char *status_name(int status)
{
	if (status < 0 || status >= DNS_STATUS_MAX)
		return "?";
	return status_names[status];
}

int resolver_init(struct resolver **out, struct event_base *base, struct loop *loop,
		  struct store *store, const char *resolv_conf, int timeout_s, bool ipv6)
{
	struct resolver *r = calloc(1, sizeof *r);
	if (!r)
		return -ENOMEM;
	r->base = base;
	r->loop = loop;
	r->store = store;
	r->timeout_ms = timeout_s * 1000;
	r->ipv6 = ipv6;
	r->resolv_conf = strdup(resolv_conf);
	/* DESIGN "Next hop and DNS": sresolv on our su_root, so its sockets sit in
	 * the epoll set the loop already watches; nothing ever blocks. */
	r->sres = r->resolv_conf ? sres_resolver_create(loop_root(loop), r->resolv_conf, TAG_END()) : NULL;
	if (!r->sres) {
		log_error("dns: cannot create a resolver from %s: %s", resolv_conf, strerror(errno));
		free(r->resolv_conf);
		free(r);
		return -EINVAL;
	}
	*out = r;
	return 0;
}

static void lookup_free(struct lookup *lk);

void resolver_free(struct resolver *r)
{
	if (!r)
		return;
	while (r->entries) {
		struct entry *e = r->entries;
		r->entries = e->next;
		if (e->busy)
			lookup_free(e->busy);
		free(e);
	}
	sres_resolver_destroy(r->sres);
	free(r->resolv_conf);
	free(r);
}

/* ---- answers as text (the store's form) ---- */

static const char *type_of(const struct entry *e, char *buf, size_t size)
{
	if (e->port)
		snprintf(buf, size, "a/%d", e->port);
	else
		snprintf(buf, size, "srv/%s", conf_transport_name(e->tp));
	return buf;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The answer as text, "IP:PORT IP:PORT ..." (the store's form); SORTED:
 * as a set. A round-robin nameserver rotates its A records and
 * equal-priority SRV records are shuffled by weight on every lookup, so
 * their order says nothing: only a changed set is written (RULES D.4: on
 * change, not on a clock). */
static void join(const struct dns_answer *a, bool sorted, char *buf, size_t size)
{
	char tok[DNS_ADDRS_MAX][56];
	char *v[DNS_ADDRS_MAX];
	size_t used = 0;
	for (int i = 0; i < a->n; i++) {
		netaddr_format(tok[i], sizeof tok[i], &a->v[i]);
		v[i] = tok[i];
	}
	if (sorted)
		qsort(v, (size_t)a->n, sizeof v[0], cmp_str);
	buf[0] = '\0';
	for (int i = 0; i < a->n && used < size; i++) {
		int n = snprintf(buf + used, size - used, "%s%s", i ? " " : "", v[i]);
		if (n < 0)
			break;
		used += (size_t)n;
	}
}

static void from_text(const char *s, struct dns_answer *a)
{
	char copy[DNS_ADDRS_MAX * 56];
	char *save = NULL;
	snprintf(copy, sizeof copy, "%s", s);
	a->n = 0;
	for (char *tok = strtok_r(copy, " ", &save); tok && a->n < DNS_ADDRS_MAX;
	     tok = strtok_r(NULL, " ", &save)) {
		char *colon = strrchr(tok, ':');
		if (!colon)
			continue;
		*colon = '\0';
		char *ip = tok;
		if (*ip == '[') {
			ip++;
			char *end = strchr(ip, ']');
			if (end)
				*end = '\0';
		}
		int port = atoi(colon + 1);
		if (!netaddr_is_literal(ip) || port < 1 || port > 65535)
			continue;
		snprintf(a->v[a->n].ip, sizeof a->v[a->n].ip, "%s", ip);
		a->v[a->n].port = port;
		a->n++;
	}
}

/* ---- the cache ---- */

static struct entry *find_entry(struct resolver *r, const struct dns_key *k, bool create)
{
	for (struct entry *e = r->entries; e; e = e->next)
		if (strcasecmp(e->name, k->name) == 0 && e->port == k->port && (k->port || e->tp == k->tp))
			return e;
	if (!create)
		return NULL;
	struct entry *e = calloc(1, sizeof *e);
	if (!e)
		return NULL;
	snprintf(e->name, sizeof e->name, "%s", k->name);
	e->port = k->port;
	e->tp = k->tp;
	e->next = r->entries;
	r->entries = e;
	return e;
}

/* RULES D.5: an answer from before the restart is a last good answer: used
 * when DNS fails, never taken for fresh. */
static void load_stored(struct resolver *r, struct entry *e)
{
	char text[DNS_ADDRS_MAX * 56], type[32];
	time_t exp;
	if (e->loaded)
		return;
	e->loaded = true;
	if (store_dns_load(r->store, e->name, type_of(e, type, sizeof type), text, sizeof text, &exp) != 0)
		return;
	from_text(text, &e->good);
	join(&e->good, true, e->stored, sizeof e->stored);
	if (e->good.n > 0)
		log_debug("dns: %s (%s): stored last good answer: %s", e->name, type, text);
}

int resolver_peek(struct resolver *r, const struct dns_key *k, struct dns_answer *out)
{
	memset(out, 0, sizeof *out);
	if (netaddr_is_literal(k->name)) {
		/* RULES B.3: used as is (RFC 3263 4.2: no SRV for a literal). */
		snprintf(out->v[0].ip, sizeof out->v[0].ip, "%s", k->name);
		out->v[0].port = k->port ? k->port : dns_default_port(k->tp);
		out->n = 1;
		return 0;
	}
	struct entry *e = find_entry(r, k, true);
	if (!e)
		return -1;
	load_stored(r, e);
	if (e->good.n == 0)
		return -1;
	*out = e->good;
	out->expires = e->fresh_until;
	out->stale = e->fresh_until <= timeutil_now_ms();
	out->status = e->last_status;
	snprintf(out->error, sizeof out->error, "%s", e->last_error);
	return 0;
}

/* ---- one lookup ---- */

/* A query given up at the deadline: its late answer is only freed (with
 * no callback sres would keep the records). */
static void discard_cb(sres_context_t *ctx, sres_query_t *q, sres_record_t **answers)
{
	(void)q;
	if (answers)
		sres_free_answers(((struct resolver *)ctx)->sres, answers);
}

static void lookup_free(struct lookup *lk)
{
	for (int i = 0; i < lk->n_subs; i++)
		if (lk->subs[i].q) /* sres frees the query itself */
			sres_query_bind(lk->subs[i].q, discard_cb, (sres_context_t *)lk->r);
	while (lk->waiters) {
		struct resolver_query *w = lk->waiters;
		lk->waiters = w->next;
		free(w);
	}
	if (lk->deadline)
		event_free(lk->deadline);
	if (lk->e)
		lk->e->busy = NULL;
	free(lk);
}

static int map_status(int sres_status)
{
	switch (sres_status) {
	case SRES_OK:
		return DNS_OK;
	case SRES_NAME_ERR:
		return DNS_ENXDOMAIN;
	case SRES_RECORD_ERR:
		return DNS_ENODATA;
	case SRES_TIMEOUT_ERR:
		return DNS_ETIMEOUT;
	default:
		return DNS_EFAIL;
	}
}

static void note_error(struct lookup *lk, int status)
{
	/* The most telling error wins: a name that does not exist says more
	 * than a missing record type (e.g. no AAAA). */
	if (!lk->status || status == DNS_ENXDOMAIN || (lk->status == DNS_ENODATA && status != DNS_OK))
		lk->status = status;
}

static uint32_t rand_cb(void *arg)
{
	(void)arg;
	return (uint32_t)random() ^ ((uint32_t)random() << 16);
}

static void order_srv(struct target *t, int n)
{
	unsigned prio[DNS_ADDRS_MAX] = { 0 }, weight[DNS_ADDRS_MAX] = { 0 };
	int order[DNS_ADDRS_MAX] = { 0 };
	struct target copy[DNS_ADDRS_MAX];
	for (int i = 0; i < n; i++) {
		prio[i] = t[i].prio;
		weight[i] = t[i].weight;
		copy[i] = t[i];
	}
	srv_order(prio, weight, n, order, rand_cb, NULL);
	for (int i = 0; i < n; i++)
		t[i] = copy[order[i]];
}

static void finish(struct lookup *lk);
static void answer_cb(sres_context_t *ctx, sres_query_t *q, sres_record_t **answers);

static int ask(struct lookup *lk, int target, uint16_t type, const char *name)
{
	if (lk->n_subs >= SUBS_MAX)
		return -1;
	struct sub *s = &lk->subs[lk->n_subs];
	s->lk = lk;
	s->target = target;
	s->type = type;
	s->q = sres_query(lk->r->sres, answer_cb, (sres_context_t *)s, type, name);
	if (!s->q) {
		note_error(lk, DNS_EFAIL);
		return -1;
	}
	lk->n_subs++;
	lk->pending++;
	return 0;
}

static void ask_addresses(struct lookup *lk)
{
	for (int i = 0; i < lk->n_t; i++) {
		ask(lk, i, sres_type_a, lk->t[i].name);
		if (lk->r->ipv6)
			ask(lk, i, sres_type_aaaa, lk->t[i].name);
	}
}

static void add_target(struct lookup *lk, const char *name, int port, unsigned prio, unsigned weight)
{
	if (lk->n_t >= DNS_ADDRS_MAX)
		return;
	struct target *t = &lk->t[lk->n_t++];
	memset(t, 0, sizeof *t);
	snprintf(t->name, sizeof t->name, "%s", name);
	t->port = port;
	t->prio = prio;
	t->weight = weight;
}

static void take_ttl(struct lookup *lk, uint32_t ttl)
{
	if (ttl < lk->ttl)
		lk->ttl = ttl;
}

static void answer_cb(sres_context_t *ctx, sres_query_t *q, sres_record_t **answers)
{
	struct sub *s = (struct sub *)ctx;
	struct lookup *lk = s->lk;
	(void)q;
	s->q = NULL; /* sres frees the query after this returns */
	lk->pending--;
	int got = 0, err = 0;
	for (int i = 0; answers && answers[i]; i++) {
		sres_record_t *rr = answers[i];
		if (rr->sr_record->r_status) {
			if (!err)
				err = rr->sr_record->r_status;
			continue;
		}
		if (rr->sr_record->r_type != s->type)
			continue;
		if (s->type == sres_type_srv) {
			/* RFC 2782: a lone "." target says: no service here. */
			if (!rr->sr_srv->srv_target || !strcmp(rr->sr_srv->srv_target, "."))
				continue;
			char name[256];
			snprintf(name, sizeof name, "%s", rr->sr_srv->srv_target);
			size_t n = strlen(name);
			if (n > 1 && name[n - 1] == '.')
				name[n - 1] = '\0';
			add_target(lk, name, rr->sr_srv->srv_port, rr->sr_srv->srv_priority, rr->sr_srv->srv_weight);
		} else {
			struct target *t = &lk->t[s->target];
			int *cnt = s->type == sres_type_a ? &t->n4 : &t->n6;
			struct netaddr *v = s->type == sres_type_a ? t->v : t->v6;
			if (*cnt >= DNS_ADDRS_MAX)
				continue;
			if (s->type == sres_type_a)
				inet_ntop(AF_INET, &rr->sr_a->a_addr, v[*cnt].ip, sizeof v[*cnt].ip);
			else
				inet_ntop(AF_INET6, &rr->sr_aaaa->aaaa_addr, v[*cnt].ip, sizeof v[*cnt].ip);
			v[*cnt].port = t->port;
			(*cnt)++;
		}
		take_ttl(lk, rr->sr_record->r_ttl);
		got++;
	}
	if (answers)
		sres_free_answers(lk->r->sres, answers);
	if (!got)
		note_error(lk, err ? map_status(err) : DNS_ENODATA);

	if (s->target < 0) {
		if (lk->n_t > 0) {
			lk->via_srv = true;
			order_srv(lk->t, lk->n_t);
		} else {
			/* RFC 3263 4.2: no SRV -> the name's own A/AAAA on 5060 (5061 TLS). */
			add_target(lk, lk->e->name, dns_default_port(lk->e->tp), 0, 0);
		}
		lk->status = 0;
		ask_addresses(lk);
	}
	if (lk->pending == 0)
		finish(lk);
	else
		loop_kick(lk->r->loop);
}

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct lookup *lk = arg;
	/* Whatever is in by now is used; the rest is given up (sres would go
	 * on retrying a silent server for about a minute). */
	if (lk->pending) {
		note_error(lk, DNS_ETIMEOUT);
		lk->late = true;
	}
	finish(lk);
}

/* Every query answered, or the deadline: build the answer, keep it, tell the waiters. */
static void finish(struct lookup *lk)
{
	struct resolver *r = lk->r;
	struct entry *e = lk->e;
	struct dns_answer a = { 0 };
	int64_t now = timeutil_now_ms();
	for (int i = 0; i < lk->n_t && a.n < DNS_ADDRS_MAX; i++) {
		const struct target *t = &lk->t[i];
		for (int j = 0; j < t->n4 + t->n6 && a.n < DNS_ADDRS_MAX; j++) {
			const struct netaddr *x = j < t->n4 ? &t->v[j] : &t->v6[j - t->n4];
			bool dup = false;
			for (int k = 0; k < a.n && !dup; k++)
				dup = a.v[k].port == x->port && !strcmp(a.v[k].ip, x->ip);
			if (!dup) {
				/* targets are in priority order: a duplicate keeps the best */
				a.prio[a.n] = (uint16_t)t->prio;
				a.v[a.n++] = *x;
			}
		}
	}
	char text[DNS_ADDRS_MAX * 56], set[DNS_ADDRS_MAX * 56], type[32];
	if (a.n > 0) {
		uint32_t ttl = lk->ttl < TTL_MIN_S ? TTL_MIN_S : lk->ttl > TTL_MAX_S ? TTL_MAX_S : lk->ttl;
		a.expires = now + (int64_t)ttl * 1000;
		join(&a, false, text, sizeof text);
		join(&a, true, set, sizeof set);
		if (strcmp(set, e->stored) != 0 && !netaddr_is_literal(e->name)) {
			log_info("dns: %s (%s): %s (ttl %u s)", e->name, type_of(e, type, sizeof type), text, ttl);
			/* RULES D: written when the answer changes, not per lookup. */
			if (store_dns_save(r->store, e->name, type, text, time(NULL) + ttl) == 0)
				snprintf(e->stored, sizeof e->stored, "%s", set);
		}
		e->good = a;
		e->fresh_until = a.expires;
		e->fails = 0;
		e->last_status = 0;
		e->last_error[0] = '\0';
	} else {
		int st = lk->status ? lk->status : DNS_ENODATA;
		/* the line's own backoff, so a fleet that lost DNS together
		 * does not ask again together */
		int64_t backoff = backoff_ms(RETRY_MIN_S * 1000LL, e->fails, RETRY_MAX_S * 1000LL,
					     rand_cb(NULL));
		e->fails++;
		e->last_status = st;
		if (st == DNS_ETIMEOUT && lk->late)
			snprintf(e->last_error, sizeof e->last_error, "%.200s: no answer within %d s", e->name,
				 r->timeout_ms / 1000);
		else if (st == DNS_ETIMEOUT) /* sres gave up first (e.g. ICMP from the nameserver) */
			snprintf(e->last_error, sizeof e->last_error, "%.200s: no answer from the nameservers",
				 e->name);
		else
			snprintf(e->last_error, sizeof e->last_error, "%.200s: %s", e->name, status_name(st));
		if (e->good.n > 0) {
			a = e->good; /* last good answer, marked stale */
			a.stale = true;
		}
		a.status = st;
		a.expires = now + backoff;
		snprintf(a.error, sizeof a.error, "%s", e->last_error);
		log_warn("dns: %s%s", e->last_error,
			 a.n ? "; a last good answer is known" : "");
	}
	/* Waiters may start another lookup of this key from their callbacks:
	 * detach first. */
	struct resolver_query *w = lk->waiters;
	lk->waiters = NULL;
	for (struct resolver_query *x = w; x; x = x->next)
		x->lk = NULL; /* a cancel from a callback only mutes the waiter */
	lookup_free(lk);
	while (w) {
		struct resolver_query *next = w->next;
		if (w->cb)
			w->cb(w->arg, &a);
		free(w);
		w = next;
	}
}

struct resolver_query *resolver_lookup(struct resolver *r, const struct dns_key *k,
				       resolver_cb *cb, void *arg)
{
	struct entry *e = find_entry(r, k, true);
	struct resolver_query *w = calloc(1, sizeof *w);
	if (!e || !w) {
		free(w);
		return NULL;
	}
	load_stored(r, e);
	w->cb = cb;
	w->arg = arg;
	struct lookup *lk = e->busy;
	if (!lk) {
		lk = calloc(1, sizeof *lk);
		if (!lk) {
			free(w);
			return NULL;
		}
		lk->r = r;
		lk->e = e;
		lk->ttl = UINT32_MAX;
		e->busy = lk;
		lk->deadline = evtimer_new(r->base, deadline_cb, lk);
		if (!lk->deadline) {
			lookup_free(lk);
			free(w);
			return NULL;
		}
		if (netaddr_is_literal(k->name)) {
			add_target(lk, k->name, k->port ? k->port : dns_default_port(k->tp), 0, 0);
			snprintf(lk->t[0].v[0].ip, sizeof lk->t[0].v[0].ip, "%s", k->name);
			lk->t[0].v[0].port = lk->t[0].port;
			lk->t[0].n4 = 1;
			lk->ttl = TTL_MAX_S;
		} else if (k->port) {
			add_target(lk, k->name, k->port, 0, 0);
			ask_addresses(lk);
		} else {
			char srv[300];
			snprintf(srv, sizeof srv, "%s.%s", k->tp == CONF_TP_TLS ? "_sips._tcp" :
				 k->tp == CONF_TP_TCP ? "_sip._tcp" : "_sip._udp", k->name);
			ask(lk, -1, sres_type_srv, srv);
		}
		/* The answer always comes from the loop: at once when nothing
		 * could be asked (or for a literal), else by the deadline. */
		struct timeval tv = timeutil_tv(lk->pending ? r->timeout_ms : 0);
		evtimer_add(lk->deadline, &tv);
		loop_kick(r->loop);
	}
	w->lk = lk;
	w->next = lk->waiters;
	lk->waiters = w;
	return w;
}

void resolver_invalidate(struct resolver *r, const struct dns_key *k)
{
	struct entry *e = netaddr_is_literal(k->name) ? NULL : find_entry(r, k, false);
	if (e)
		e->fresh_until = 0;
}

void resolver_cancel(struct resolver_query *q)
{
	if (!q)
		return;
	struct lookup *lk = q->lk;
	if (!lk) { /* being answered right now: finish() frees it */
		q->cb = NULL;
		return;
	}
	for (struct resolver_query **pp = &lk->waiters; *pp; pp = &(*pp)->next)
		if (*pp == q) {
			*pp = q->next;
			free(q);
			return;
		}
}
