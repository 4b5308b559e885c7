/* store.c - the SQLite state file: schema and migrations, save on change,
 * restore, history. Every failure is logged and survived. */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "log.h"
#include "store.h"

/* History kept per line; older events are dropped as new ones come. */
#define STORE_EVENTS_PER_LINE 200

/* Migrations: entry N takes the schema from user_version N to N+1. Only
 * ever append. */
static const char *const migrations[] = {
	/* 0 -> 1 */
	"CREATE TABLE line_state ("
	"  id TEXT PRIMARY KEY,"
	"  server INTEGER NOT NULL,"
	"  address TEXT NOT NULL,"
	"  registered INTEGER NOT NULL,"
	"  expires_at INTEGER NOT NULL,"
	"  registered_before INTEGER NOT NULL,"
	"  min_expires INTEGER NOT NULL,"
	"  call_id TEXT NOT NULL,"
	"  updated_at INTEGER NOT NULL);"
	"CREATE TABLE events ("
	"  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  line TEXT NOT NULL,"
	"  at INTEGER NOT NULL,"
	"  kind TEXT NOT NULL,"
	"  from_server TEXT NOT NULL,"
	"  to_server TEXT NOT NULL,"
	"  reason TEXT NOT NULL);"
	"CREATE INDEX events_by_line ON events(line, seq);"
	/* last good DNS answers, so a line comes up while DNS is down (RULES D) */
	"CREATE TABLE dns_cache ("
	"  name TEXT NOT NULL,"
	"  type TEXT NOT NULL,"
	"  answers TEXT NOT NULL,"
	"  expires_at INTEGER NOT NULL,"
	"  PRIMARY KEY (name, type));",
};
#define SCHEMA_VERSION ((int)(sizeof migrations / sizeof migrations[0]))

enum { ST_LOAD, ST_SAVE, ST_EVENT, ST_CAP, ST_HISTORY, ST_DNS_LOAD, ST_DNS_SAVE, ST_BEGIN,
       ST_COMMIT, ST_ROLLBACK, ST_MAX };
static const char *const sql[ST_MAX] = {
	[ST_LOAD] = "SELECT server, address, registered, expires_at, registered_before,"
		    " min_expires, call_id FROM line_state WHERE id = ?1",
	[ST_SAVE] = "INSERT INTO line_state (id, server, address, registered, expires_at,"
		    " registered_before, min_expires, call_id, updated_at)"
		    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
		    " ON CONFLICT(id) DO UPDATE SET server = ?2, address = ?3, registered = ?4,"
		    " expires_at = ?5, registered_before = ?6, min_expires = ?7, call_id = ?8,"
		    " updated_at = ?9",
	[ST_EVENT] = "INSERT INTO events (line, at, kind, from_server, to_server, reason)"
		     " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[ST_CAP] = "DELETE FROM events WHERE line = ?1 AND seq <= (SELECT seq FROM events"
		   " WHERE line = ?1 ORDER BY seq DESC LIMIT 1 OFFSET ?2)",
	[ST_HISTORY] = "SELECT at, kind, from_server, to_server, reason FROM events"
		       " WHERE line = ?1 ORDER BY seq DESC LIMIT ?2",
	[ST_DNS_LOAD] = "SELECT answers, expires_at FROM dns_cache WHERE name = ?1 AND type = ?2",
	[ST_DNS_SAVE] = "INSERT INTO dns_cache (name, type, answers, expires_at) VALUES (?1, ?2, ?3, ?4)"
			" ON CONFLICT(name, type) DO UPDATE SET answers = ?3, expires_at = ?4",
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
};

struct store {
	sqlite3 *db;
	char *path;
	sqlite3_stmt *st[ST_MAX];
	bool write_failing;           /* log a failing disk once, not per write */
};

static int mkdir_p(const char *path, mode_t mode)
{
	char *copy = strdup(path);
	if (!copy)
		return -ENOMEM;
	for (char *p = copy + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(copy, mode) != 0 && errno != EEXIST) {
			int err = -errno;
			free(copy);
			return err;
		}
		*p = '/';
	}
	int rc = mkdir(copy, mode) != 0 && errno != EEXIST ? -errno : 0;
	free(copy);
	return rc;
}

static void finalize_all(struct store *s)
{
	for (int i = 0; i < ST_MAX; i++) {
		sqlite3_finalize(s->st[i]);
		s->st[i] = NULL;
	}
	sqlite3_close(s->db);
	s->db = NULL;
}

static bool is_corrupt(int rc)
{
	rc &= 0xff;
	return rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB;
}

static int exec(struct store *s, const char *q)
{
	char *msg = NULL;
	int rc = sqlite3_exec(s->db, q, NULL, NULL, &msg);
	if (rc != SQLITE_OK)
		log_debug("storage: %s: %s", q, msg ? msg : sqlite3_errstr(rc));
	sqlite3_free(msg);
	return rc;
}

static int migrate(struct store *s)
{
	sqlite3_stmt *q;
	int version = 0, rc = sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &q, NULL);
	if (rc != SQLITE_OK)
		return rc;
	if ((rc = sqlite3_step(q)) == SQLITE_ROW)
		version = sqlite3_column_int(q, 0);
	sqlite3_finalize(q);
	if (rc != SQLITE_ROW)
		return rc;
	if (version > SCHEMA_VERSION) {
		log_error("storage: %s has schema %d, newer than this sipuad's %d", s->path,
			  version, SCHEMA_VERSION);
		return SQLITE_MISMATCH;
	}
	for (; version < SCHEMA_VERSION; version++) {
		char bump[48];
		snprintf(bump, sizeof bump, "PRAGMA user_version = %d", version + 1);
		if ((rc = exec(s, "BEGIN IMMEDIATE")) != SQLITE_OK)
			return rc;
		if ((rc = exec(s, migrations[version])) != SQLITE_OK || (rc = exec(s, bump)) != SQLITE_OK) {
			exec(s, "ROLLBACK");
			return rc;
		}
		if ((rc = exec(s, "COMMIT")) != SQLITE_OK)
			return rc;
		log_info("storage: %s migrated to schema %d", s->path, version + 1);
	}
	return SQLITE_OK;
}

/* Open, check, migrate, prepare: an SQLite result code. */
static int try_open(struct store *s)
{
	int rc = sqlite3_open_v2(s->path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_busy_timeout(s->db, 1000);
	if (sqlite3_db_readonly(s->db, "main") == 1)
		return SQLITE_READONLY;
	/* WAL: a power cut loses at most the transaction in flight, never the
	 * file; FULL syncs each commit, and commits are rare (transitions only). */
	if ((rc = exec(s, "PRAGMA journal_mode = WAL")) != SQLITE_OK ||
	    (rc = exec(s, "PRAGMA synchronous = FULL")) != SQLITE_OK)
		return rc;
	sqlite3_stmt *q;
	if ((rc = sqlite3_prepare_v2(s->db, "PRAGMA quick_check", -1, &q, NULL)) != SQLITE_OK)
		return rc;
	rc = sqlite3_step(q);
	bool ok = rc == SQLITE_ROW && strcmp((const char *)sqlite3_column_text(q, 0), "ok") == 0;
	sqlite3_finalize(q);
	if (!ok)
		return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_CORRUPT : rc;
	if ((rc = migrate(s)) != SQLITE_OK)
		return rc;
	for (int i = 0; i < ST_MAX; i++)
		if ((rc = sqlite3_prepare_v3(s->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL)) != SQLITE_OK)
			return rc;
	return SQLITE_OK;
}

/* A damaged file is evidence: keep it beside, start a new one. */
static void move_aside(const char *path)
{
	char to[4096];
	const char *suffix[] = { "", "-wal", "-shm" };
	time_t now = time(NULL);
	for (size_t i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
		char from[4096];
		snprintf(from, sizeof from, "%s%s", path, suffix[i]);
		snprintf(to, sizeof to, "%s.corrupt-%ld%s", path, (long)now, suffix[i]);
		if (rename(from, to) == 0 && i == 0)
			log_error("storage: %s is corrupt; moved aside to %s, starting afresh", path, to);
	}
}

struct store *store_open(const char *path)
{
	struct store *s = calloc(1, sizeof *s);
	char *dir = strdup(path);
	if (!s || !dir || !(s->path = strdup(path))) {
		free(dir);
		if (s)
			free(s->path);
		free(s);
		return NULL;
	}
	int err = mkdir_p(dirname(dir), 0755);
	free(dir);
	if (err)
		log_warn("storage: cannot create the directory of %s: %s", path, strerror(-err));
	int rc = try_open(s);
	if (is_corrupt(rc)) {
		finalize_all(s);
		move_aside(path);
		rc = try_open(s);
	}
	if (rc != SQLITE_OK) {
		log_error("storage: cannot use %s (%s); running from memory, state will not survive a restart",
			  path, s->db && sqlite3_errcode(s->db) == rc ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
		finalize_all(s);
		free(s->path);
		free(s);
		return NULL;
	}
	log_info("storage: %s (schema %d)", path, SCHEMA_VERSION);
	return s;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	finalize_all(s);
	free(s->path);
	free(s);
}

static int done(struct store *s, sqlite3_stmt *q, int rc)
{
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	if (rc == SQLITE_DONE || rc == SQLITE_ROW || rc == SQLITE_OK)
		return 0;
	if (!s->write_failing)
		log_error("storage: %s: %s; running on from memory", s->path, sqlite3_errstr(rc));
	s->write_failing = true;
	return -1;
}

int store_load_line(struct store *s, const char *id, struct store_line *out)
{
	if (!s)
		return -1;
	sqlite3_stmt *q = s->st[ST_LOAD];
	sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
	int rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		memset(out, 0, sizeof *out);
		out->server = sqlite3_column_int(q, 0);
		snprintf(out->address, sizeof out->address, "%s", (const char *)sqlite3_column_text(q, 1));
		out->registered = sqlite3_column_int(q, 2) != 0;
		out->expires_at = (time_t)sqlite3_column_int64(q, 3);
		out->registered_before = (uint32_t)sqlite3_column_int64(q, 4);
		out->min_expires = sqlite3_column_int(q, 5);
		snprintf(out->call_id, sizeof out->call_id, "%s", (const char *)sqlite3_column_text(q, 6));
	}
	done(s, q, rc);
	return rc == SQLITE_ROW ? 0 : -1;
}

int store_dns_load(struct store *s, const char *name, const char *type, char *answers,
		   size_t size, time_t *expires_at)
{
	if (!s)
		return -1;
	sqlite3_stmt *q = s->st[ST_DNS_LOAD];
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, type, -1, SQLITE_STATIC);
	int rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		snprintf(answers, size, "%s", (const char *)sqlite3_column_text(q, 0));
		*expires_at = (time_t)sqlite3_column_int64(q, 1);
	}
	done(s, q, rc);
	return rc == SQLITE_ROW ? 0 : -1;
}

static int begin(struct store *s);
static int commit(struct store *s, int rc);

int store_dns_save(struct store *s, const char *name, const char *type, const char *answers,
		   time_t expires_at)
{
	if (!s || begin(s) != 0)
		return -1;
	sqlite3_stmt *q = s->st[ST_DNS_SAVE];
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, type, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, answers, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 4, expires_at);
	return commit(s, done(s, q, sqlite3_step(q)));
}

static int insert_event(struct store *s, const struct store_event *ev)
{
	sqlite3_stmt *q = s->st[ST_EVENT];
	sqlite3_bind_text(q, 1, ev->line, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, ev->at);
	sqlite3_bind_text(q, 3, ev->kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, ev->from ? ev->from : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 5, ev->to ? ev->to : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 6, ev->reason ? ev->reason : "", -1, SQLITE_STATIC);
	if (done(s, q, sqlite3_step(q)) != 0)
		return -1;
	q = s->st[ST_CAP];
	sqlite3_bind_text(q, 1, ev->line, -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 2, STORE_EVENTS_PER_LINE);
	return done(s, q, sqlite3_step(q));
}

static int begin(struct store *s)
{
	return done(s, s->st[ST_BEGIN], sqlite3_step(s->st[ST_BEGIN]));
}

static int commit(struct store *s, int rc)
{
	if (rc == 0 && done(s, s->st[ST_COMMIT], sqlite3_step(s->st[ST_COMMIT])) == 0) {
		s->write_failing = false;
		return 0;
	}
	done(s, s->st[ST_ROLLBACK], sqlite3_step(s->st[ST_ROLLBACK]));
	return -1;
}

int store_save_line(struct store *s, const char *id, const struct store_line *st,
		    const struct store_event *ev, int n_ev)
{
	if (!s || begin(s) != 0)
		return -1;
	sqlite3_stmt *q = s->st[ST_SAVE];
	sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 2, st->server);
	sqlite3_bind_text(q, 3, st->address, -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 4, st->registered);
	sqlite3_bind_int64(q, 5, st->expires_at);
	sqlite3_bind_int64(q, 6, st->registered_before);
	sqlite3_bind_int(q, 7, st->min_expires);
	sqlite3_bind_text(q, 8, st->call_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 9, time(NULL));
	int rc = done(s, q, sqlite3_step(q));
	for (int i = 0; rc == 0 && i < n_ev; i++)
		rc = insert_event(s, &ev[i]);
	return commit(s, rc);
}

int store_add_event(struct store *s, const struct store_event *ev)
{
	if (!s || begin(s) != 0)
		return -1;
	return commit(s, insert_event(s, ev));
}

int store_forget_others(struct store *s, const char *const *ids, int n)
{
	if (!s)
		return -1;
	/* Rare (start and reload): plain SQL over a temporary list. */
	int rc = exec(s, "BEGIN IMMEDIATE; CREATE TEMP TABLE IF NOT EXISTS keep (id TEXT PRIMARY KEY);"
			 " DELETE FROM keep;");
	sqlite3_stmt *q = NULL;
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(s->db, "INSERT OR IGNORE INTO keep VALUES (?1)", -1, &q, NULL);
	for (int i = 0; rc == SQLITE_OK && i < n; i++) {
		sqlite3_bind_text(q, 1, ids[i], -1, SQLITE_STATIC);
		rc = sqlite3_step(q) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
		sqlite3_reset(q);
	}
	sqlite3_finalize(q);
	if (rc == SQLITE_OK)
		rc = exec(s, "DELETE FROM line_state WHERE id NOT IN (SELECT id FROM keep);"
			     " DELETE FROM events WHERE line NOT IN (SELECT id FROM keep); COMMIT;");
	if (rc != SQLITE_OK) {
		exec(s, "ROLLBACK");
		return -1;
	}
	return 0;
}

int store_history(struct store *s, const char *line, int n, store_event_cb *cb, void *arg)
{
	if (!s)
		return -1;
	int count = 0, rc;
	sqlite3_stmt *q = s->st[ST_HISTORY];
	sqlite3_bind_text(q, 1, line, -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 2, n);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct store_event ev = {
			.at = (time_t)sqlite3_column_int64(q, 0),
			.line = line,
			.kind = (const char *)sqlite3_column_text(q, 1),
			.from = (const char *)sqlite3_column_text(q, 2),
			.to = (const char *)sqlite3_column_text(q, 3),
			.reason = (const char *)sqlite3_column_text(q, 4),
		};
		cb(&ev, arg);
		count++;
	}
	done(s, q, rc);
	return count;
}
