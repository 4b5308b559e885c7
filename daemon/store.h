/* store.h - state that survives a restart or a power cut, in SQLite (RULES D).
 * Only store.c includes sqlite3.h. Storage trouble never takes a line down:
 * with no usable database every call is a harmless no-op. */
#ifndef SIPUAD_STORE_H
#define SIPUAD_STORE_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

struct store;

/* What a line needs to resume where it was. */
#define STORE_CALL_ID_MAX 128
struct store_line {
	int server;                   /* server index in use */
	char address[64];             /* "IP:PORT" it was registered through */
	bool registered;
	time_t expires_at;            /* unix time the registration runs out */
	uint32_t registered_before;   /* bit i: server i answered 200 once (RULES A.2) */
	int min_expires;              /* learned from the registrar, 0 none */
	char call_id[STORE_CALL_ID_MAX]; /* of the binding at .server, "" none */
};

struct store_event {
	time_t at;
	const char *line, *kind, *from, *to, *reason; /* from/to may be "" */
};

/* Opens (creating the directory and the schema as needed) or says why not
 * in the log and returns NULL: the daemon then runs from memory. A corrupt
 * file is moved aside (PATH.corrupt-UNIXTIME), never deleted. */
struct store *store_open(const char *path);
void store_close(struct store *s);

/* 0 and *out, or -1 when nothing is stored for ID. */
int store_load_line(struct store *s, const char *id, struct store_line *out);
/* One transaction: the line's state and its N_EV events. */
int store_save_line(struct store *s, const char *id, const struct store_line *st,
		    const struct store_event *ev, int n_ev);
int store_add_event(struct store *s, const struct store_event *ev);
/* Forget lines not in IDS (removed from the config), with their history. */
int store_forget_others(struct store *s, const char *const *ids, int n);
/* The newest N events of LINE, newest first, to CB; returns how many. */
typedef void store_event_cb(const struct store_event *ev, void *arg);
int store_history(struct store *s, const char *line, int n, store_event_cb *cb, void *arg);

/* RULES D: the last good answer for a name, so a line comes up while DNS is
 * down. TYPE says what was asked ("srv/udp", "a/5060", ...); ANSWERS is
 * "IP:PORT IP:PORT ...". Written only when the answer changes. */
int store_dns_load(struct store *s, const char *name, const char *type, char *answers,
		   size_t size, time_t *expires_at);
int store_dns_save(struct store *s, const char *name, const char *type, const char *answers,
		   time_t expires_at);

#endif
