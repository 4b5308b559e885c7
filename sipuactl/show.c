/* show.c - sipuactl's output: the daemon's JSON read defensively (any
 * field may be missing or of another type), tables and event lines for
 * people, and the sanitiser every string passes on its way to a terminal. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "show.h"
#include "version.h"
#include "xmalloc.h"

#define REASON_MAX 30          /* characters of a reason phrase in the LAST-ERROR column */

/* A table for people: cells are cleaned strings, row 0 the header. */
struct table {
	size_t ncols;
	size_t ncells;
	size_t cap;
	char **cells;
};

/* One JSON object filling the whole line (trailing blanks aside), or NULL. */
static json_object *parse_object(const char *s, size_t len)
{
	json_tokener *tok = json_tokener_new();
	if (!tok)
		xoom();
	json_object *o = json_tokener_parse_ex(tok, s, (int)len);
	if (o) {
		for (size_t i = json_tokener_get_parse_end(tok); i < len; i++)
			if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r') {
				json_object_put(o);
				o = NULL;
				break;
			}
	}
	json_tokener_free(tok);
	if (o && !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		o = NULL;
	}
	return o;
}

/* --- reading the reply: any field may be missing or of another type ---- */

static json_object *jget(json_object *o, const char *key, json_type type)
{
	json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || !v || !json_object_is_type(v, type))
		return NULL;
	return v;
}

static const char *jstr(json_object *o, const char *key)
{
	json_object *v = jget(o, key, json_type_string);
	return v ? json_object_get_string(v) : NULL;
}

static bool num_value(json_object *v, long long *out)
{
	if (json_object_is_type(v, json_type_int)) {
		*out = (long long)json_object_get_int64(v);
		return true;
	}
	if (json_object_is_type(v, json_type_double)) {
		double d = json_object_get_double(v);
		if (d != d || d < -9e15 || d > 9e15)
			return false;
		*out = (long long)d;
		return true;
	}
	return false;
}

static bool jnum(json_object *o, const char *key, long long *out)
{
	json_object *v;
	return json_object_object_get_ex(o, key, &v) && v && num_value(v, out);
}

/* --- text for people ------------------------------------------------- */

/* Length of the valid UTF-8 sequence at p, 0 if it is not one. */
static size_t utf8_seq(const unsigned char *p)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		if (p[0] == 0xe0)
			lo = 0xa0;
		if (p[0] == 0xed)
			hi = 0x9f;            /* no surrogates */
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		if (p[0] == 0xf0)
			lo = 0x90;
		if (p[0] == 0xf4)
			hi = 0x8f;
	} else {
		return 0;
	}
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

/* Reason phrases come from remote SIP servers and end up on a terminal:
 * keep valid UTF-8, turn control characters (C0, DEL, C1) and broken
 * bytes into '?'. With max > 3, more than max characters are cut to
 * max - 3 and "..." (and *cut set). NULL gives "-". */
static char *clean(const char *s, size_t max, bool *cut)
{
	if (cut)
		*cut = false;
	if (!s)
		return xstrdup("-");
	char *out = xrealloc(NULL, strlen(s) + 4);
	size_t o = 0, chars = 0, keep = 0;
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		size_t n = utf8_seq(p);
		bool ctl = n == 0 || (n == 1 && (*p < 0x20 || *p == 0x7f)) ||
			   (n == 2 && p[0] == 0xc2 && p[1] < 0xa0);
		if (ctl) {
			out[o++] = '?';
			p += n ? n : 1;
		} else {
			memcpy(out + o, p, n);
			o += n;
			p += n;
		}
		chars++;
		if (max > 3 && chars == max - 3)
			keep = o;
	}
	if (max > 3 && chars > max) {
		memcpy(out + keep, "...", 3);
		o = keep + 3;
		if (cut)
			*cut = true;
	}
	out[o] = '\0';
	return out;
}

/* Characters on screen of a cleaned string (wide glyphs count one). */
static size_t text_width(const char *s)
{
	size_t w = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

static const char *fmt_time(long long t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;
	if ((long long)tt != t || !localtime_r(&tt, &tm) ||
	    !strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm))
		return NULL;
	return buf;
}

/* "primary 127.0.0.2:5060/udp": role host:port/transport, whatever of it
 * is there; NULL if nothing is. */
static char *server_text(json_object *sv)
{
	const char *role = jstr(sv, "role"), *host = jstr(sv, "host"), *tr = jstr(sv, "transport");
	long long port;
	bool has_port = jnum(sv, "port", &port);
	char *hp;

	if (!role && !host && !tr && !has_port)
		return NULL;
	if (host && strchr(host, ':') && host[0] != '[')
		hp = has_port ? xasprintf("[%s]:%lld", host, port) : xasprintf("[%s]", host);
	else if (host)
		hp = has_port ? xasprintf("%s:%lld", host, port) : xstrdup(host);
	else
		hp = has_port ? xasprintf("-:%lld", port) : xstrdup("-");
	char *s = xasprintf("%s%s%s%s%s", role ? role : "", role ? " " : "", hp, tr ? "/" : "", tr ? tr : "");
	free(hp);
	return s;
}

/* "503 Service Unavailable", the reason cut to max characters (0: all);
 * code 0 is a local error and shows the reason alone. NULL if empty. */
static char *error_text(json_object *e, size_t max, bool *cut)
{
	long long code;
	bool has_code = jnum(e, "code", &code) && code != 0;
	char *reason = jstr(e, "reason") ? clean(jstr(e, "reason"), max, cut) : NULL;
	char *s = NULL;

	if (cut && !reason)
		*cut = false;
	if (has_code && reason)
		s = xasprintf("%lld %s", code, reason);
	else if (has_code)
		s = xasprintf("%lld", code);
	else if (reason)
		s = xstrdup(reason);
	free(reason);
	return s;
}

static char *plain_json(json_object *v)
{
	return xstrdup(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
}

/* An event's "from" or "to": a string, a server object, anything else as
 * JSON; NULL if absent. */
static char *endpoint_text(json_object *ev, const char *key)
{
	json_object *v;
	if (!json_object_object_get_ex(ev, key, &v) || !v)
		return NULL;
	if (json_object_is_type(v, json_type_string))
		return xstrdup(json_object_get_string(v));
	if (json_object_is_type(v, json_type_object) && jget(v, "host", json_type_string)) {
		char *s = server_text(v);
		if (s)
			return s;
	}
	return plain_json(v);
}

static char *reason_text(json_object *ev)
{
	json_object *v;
	if (!json_object_object_get_ex(ev, "reason", &v) || !v)
		return NULL;
	if (json_object_is_type(v, json_type_string))
		return xstrdup(json_object_get_string(v));
	if (json_object_is_type(v, json_type_object)) {
		char *s = error_text(v, 0, NULL);
		if (s)
			return s;
	}
	return plain_json(v);
}

struct event_text {
	char at[32];
	char *fromto;                 /* "A -> B", NULL if neither */
	char *reason;
};

static void event_render(json_object *ev, struct event_text *e, bool now_if_missing)
{
	long long at;
	char *from = endpoint_text(ev, "from"), *to = endpoint_text(ev, "to");

	bool has_at = jnum(ev, "at", &at);

	if (!has_at && now_if_missing) {
		at = (long long)time(NULL);
		has_at = true;
	}
	if (!has_at || !fmt_time(at, e->at, sizeof e->at))
		snprintf(e->at, sizeof e->at, "-");
	e->fromto = from || to ? xasprintf("%s -> %s", from ? from : "-", to ? to : "-") : NULL;
	e->reason = reason_text(ev);
	free(from);
	free(to);
}

static void event_text_free(struct event_text *e)
{
	free(e->fromto);
	free(e->reason);
}

/* --- tables ----------------------------------------------------------- */

static void table_cell(struct table *t, const char *s)
{
	if (t->ncells == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 32;
		t->cells = xrealloc(t->cells, t->cap * sizeof *t->cells);
	}
	t->cells[t->ncells++] = clean(s, 0, NULL);
}

static void table_init(struct table *t, size_t ncols, const char *const *head)
{
	memset(t, 0, sizeof *t);
	t->ncols = ncols;
	for (size_t i = 0; i < ncols; i++)
		table_cell(t, head[i]);
}

/* Columns as wide as their widest cell, two blanks apart, the last one
 * unpadded. */
static void table_print(const struct table *t)
{
	size_t *width = xrealloc(NULL, t->ncols * sizeof *width);

	for (size_t c = 0; c < t->ncols; c++)
		width[c] = 0;
	for (size_t i = 0; i < t->ncells; i++) {
		size_t w = text_width(t->cells[i]);
		if (w > width[i % t->ncols])
			width[i % t->ncols] = w;
	}
	for (size_t i = 0; i < t->ncells; i++) {
		size_t c = i % t->ncols;
		fputs(t->cells[i], stdout);
		if (c == t->ncols - 1) {
			fputc('\n', stdout);
			continue;
		}
		for (size_t w = text_width(t->cells[i]); w < width[c] + 2; w++)
			fputc(' ', stdout);
	}
	free(width);
}

static void table_free(struct table *t)
{
	for (size_t i = 0; i < t->ncells; i++)
		free(t->cells[i]);
	free(t->cells);
	memset(t, 0, sizeof *t);
}

/* --- replies ---------------------------------------------------------- */

static const char *const status_head[] = {
	"LINE", "STATE", "SERVER", "ADDRESS", "EXPIRES", "LAST-ERROR", "NEXT",
};

/* One row of the status table; returns whether the reason was cut. */
static bool status_row(struct table *t, json_object *l)
{
	json_object *reg = jget(l, "registered", json_type_boolean);
	long long v;
	bool cut = false;
	char *s;

	table_cell(t, jstr(l, "id"));
	table_cell(t, jstr(l, "state"));
	s = server_text(jget(l, "server", json_type_object));
	table_cell(t, s);
	free(s);
	table_cell(t, jstr(l, "address"));
	/* An expiry means nothing once the line is not registered. */
	s = jnum(l, "expires_in", &v) && v >= 0 && !(reg && !json_object_get_boolean(reg)) ?
		xasprintf("%llds", v) : NULL;
	table_cell(t, s);
	free(s);
	s = error_text(jget(l, "last_error", json_type_object), REASON_MAX, &cut);
	table_cell(t, s);
	free(s);
	s = jnum(l, "next_attempt_in", &v) && v >= 0 ? xasprintf("%llds", v) : NULL;
	table_cell(t, s);
	free(s);
	return cut;
}

/* Fields the table already shows; the key: value dump leaves them out. */
static bool in_table(const char *path, json_object *v, bool reason_cut)
{
	static const char *const shown[] = {
		"id", "state", "address", "expires_in", "next_attempt_in",
		"server.role", "server.host", "server.port", "server.transport",
		"last_error.code", "last_error.reason",
	};
	if (reason_cut && strcmp(path, "last_error.reason") == 0)
		return false;
	if (!v && (strcmp(path, "server") == 0 || strcmp(path, "last_error") == 0))
		return true;
	for (size_t i = 0; i < sizeof shown / sizeof shown[0]; i++)
		if (strcmp(path, shown[i]) == 0)
			return true;
	return false;
}

/* Every field of a line as "key: value", nested ones as a.b (arrays as
 * a.0); a timestamp ("at", "*_at") gets its local time too. */
static void dump_fields(const char *path, json_object *v, bool reason_cut)
{
	if (json_object_is_type(v, json_type_object) && json_object_object_length(v) > 0) {
		json_object_object_foreach(v, key, val) {
			char *sub = path ? xasprintf("%s.%s", path, key) : xstrdup(key);
			dump_fields(sub, val, reason_cut);
			free(sub);
		}
		return;
	}
	if (json_object_is_type(v, json_type_array) && json_object_array_length(v) > 0) {
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			char *sub = path ? xasprintf("%s.%zu", path, i) : xasprintf("%zu", i);
			dump_fields(sub, json_object_array_get_idx(v, i), reason_cut);
			free(sub);
		}
		return;
	}
	if (!path || in_table(path, v, reason_cut))
		return;

	const char *leaf = strrchr(path, '.');
	leaf = leaf ? leaf + 1 : path;
	size_t n = strlen(leaf);
	char when[32] = "";
	long long t;
	if ((strcmp(leaf, "at") == 0 || (n > 3 && strcmp(leaf + n - 3, "_at") == 0)) &&
	    (!num_value(v, &t) || !fmt_time(t, when, sizeof when)))
		when[0] = '\0';

	char *raw = !v ? xstrdup("-") : json_object_is_type(v, json_type_string) ?
		xstrdup(json_object_get_string(v)) : plain_json(v);
	char *k = clean(path, 0, NULL), *val = clean(raw, 0, NULL);
	printf("%s: %s%s%s%s\n", k, val, *when ? " (" : "", when, *when ? ")" : "");
	free(k);
	free(val);
	free(raw);
}

static void print_status(json_object *reply)
{
	const size_t ncols = sizeof status_head / sizeof status_head[0];
	json_object *lines = jget(reply, "lines", json_type_array);
	json_object *one = jget(reply, "line", json_type_object);
	struct table t;
	bool cut = false;

	table_init(&t, ncols, status_head);
	if (lines) {
		for (size_t i = 0; i < json_object_array_length(lines); i++)
			status_row(&t, json_object_array_get_idx(lines, i));
	} else if (one) {
		cut = status_row(&t, one);
	}
	table_print(&t);
	table_free(&t);
	if (!lines && one) {
		fputc('\n', stdout);
		dump_fields(NULL, one, cut);
	}
}

static void print_history(json_object *reply)
{
	static const char *const head[] = { "AT", "KIND", "FROM -> TO", "REASON" };
	json_object *events = jget(reply, "events", json_type_array);
	struct table t;

	table_init(&t, 4, head);
	for (size_t i = 0; events && i < json_object_array_length(events); i++) {
		json_object *ev = json_object_array_get_idx(events, i);
		struct event_text e;
		event_render(ev, &e, false);
		table_cell(&t, e.at);
		table_cell(&t, jstr(ev, "kind"));
		table_cell(&t, e.fromto);
		table_cell(&t, e.reason);
		event_text_free(&e);
	}
	table_print(&t);
	table_free(&t);
}

/* A call's media for people: "PCMU/8000 127.0.0.1:16384 <-> 127.0.0.2:6000". */
static char *media_text(json_object *c)
{
	json_object *m = jget(c, "media", json_type_object);
	json_object *l = m ? jget(m, "local", json_type_object) : NULL;
	json_object *r = m ? jget(m, "remote", json_type_object) : NULL;
	long long lp = 0, rp = 0;
	if (!m || !l || !r || !jnum(l, "port", &lp) || !jnum(r, "port", &rp))
		return NULL;
	return xasprintf("%s %s:%lld <-> %s:%lld", jstr(m, "codec") ? jstr(m, "codec") : "?",
			 jstr(l, "address") ? jstr(l, "address") : "?", lp,
			 jstr(r, "address") ? jstr(r, "address") : "?", rp);
}

static void print_calls(json_object *reply)
{
	static const char *const head[] = { "CALL", "LINE", "DIR", "STATE", "PEER", "SERVER", "MEDIA" };
	json_object *calls = jget(reply, "calls", json_type_array);
	struct table t;

	table_init(&t, 7, head);
	for (size_t i = 0; calls && i < json_object_array_length(calls); i++) {
		json_object *c = json_object_array_get_idx(calls, i);
		table_cell(&t, jstr(c, "id"));
		table_cell(&t, jstr(c, "line"));
		table_cell(&t, jstr(c, "direction"));
		table_cell(&t, jstr(c, "state"));
		table_cell(&t, jstr(c, "peer"));
		char *s = server_text(jget(c, "server", json_type_object));
		table_cell(&t, s);
		free(s);
		s = media_text(c);
		table_cell(&t, s);
		free(s);
	}
	table_print(&t);
	table_free(&t);
}

/* One subscribed event on one line: time, line, kind, from -> to, reason;
 * a call's: time, line, "call", id, state, peer, code and reason, media. */
static void print_event(json_object *ev)
{
	if (jstr(ev, "call")) {
		struct event_text e;
		event_render(ev, &e, true);
		long long code = 0;
		char *media = media_text(ev);
		char *tail = jnum(ev, "code", &code) ? xasprintf(": %lld %s", code, jstr(ev, "reason") ? jstr(ev, "reason") : "")
						     : xstrdup("");
		char *text = xasprintf("%s %s call %s %s %s %s%s%s%s", e.at, jstr(ev, "line") ? jstr(ev, "line") : "-",
				       jstr(ev, "call"), jstr(ev, "state") ? jstr(ev, "state") : "-",
				       jstr(ev, "direction") ? jstr(ev, "direction") : "-",
				       jstr(ev, "peer") ? jstr(ev, "peer") : "-", tail, media ? " media " : "",
				       media ? media : "");
		char *clean_text = clean(text, 0, NULL);
		printf("%s\n", clean_text);
		free(clean_text);
		free(text);
		free(tail);
		free(media);
		event_text_free(&e);
		return;
	}
	struct event_text e;
	event_render(ev, &e, true);
	char *line = clean(jstr(ev, "line"), 0, NULL), *kind = clean(jstr(ev, "kind"), 0, NULL);
	char *fromto = e.fromto ? clean(e.fromto, 0, NULL) : NULL;
	char *reason = e.reason ? clean(e.reason, 0, NULL) : NULL;
	printf("%s %s %s%s%s%s%s\n", e.at, line, kind, fromto ? " " : "", fromto ? fromto : "",
	       reason ? ": " : "", reason ? reason : "");
	free(line);
	free(kind);
	free(fromto);
	free(reason);
	event_text_free(&e);
}

static void print_reply(enum ctl_cmd cmd, json_object *reply)
{
	switch (cmd) {
	case CTL_CMD_STATUS:
		print_status(reply);
		break;
	case CTL_CMD_HISTORY:
		print_history(reply);
		break;
	case CTL_CMD_CALLS:
		print_calls(reply);
		break;
	case CTL_CMD_CALL: {
		char *id = clean(jstr(reply, "call") ? jstr(reply, "call") : "?", 0, NULL);
		printf("%s\n", id);
		free(id);
		break;
	}
	case CTL_CMD_VERSION: {
		char *v = clean(jstr(reply, "version") ? jstr(reply, "version") : "unknown", 0, NULL);
		printf("sipuad %s (sipuactl %s)\n", v, SIPUAD_VERSION);
		free(v);
		break;
	}
	default:
		break;
	}
}

bool show_reply(enum ctl_cmd cmd, const char *line, size_t len, bool json, const char *path)
{
	json_object *reply = parse_object(line, len);
	json_object *okv = jget(reply, "ok", json_type_boolean);
	bool ok = okv && json_object_get_boolean(okv);

	if (json) {
		fwrite(line, 1, len, stdout);
		fputc('\n', stdout);
		if (!reply)
			fprintf(stderr, "sipuactl: malformed reply from %s\n", path);
	} else if (!reply || !okv) {
		fprintf(stderr, "sipuactl: malformed reply from %s\n", path);
	} else if (!ok) {
		char *e = clean(jstr(reply, "error") ? jstr(reply, "error") : "the daemon refused the request",
				0, NULL);
		fprintf(stderr, "sipuactl: %s\n", e);
		free(e);
	} else {
		print_reply(cmd, reply);
	}
	json_object_put(reply);
	return ok;
}

void show_event(const char *line, size_t len, bool json, const char *path)
{
	if (json) {
		fwrite(line, 1, len, stdout);
		fputc('\n', stdout);
		return;
	}
	json_object *ev = parse_object(line, len);
	if (ev)
		print_event(ev);
	else
		fprintf(stderr, "sipuactl: malformed event from %s\n", path);
	json_object_put(ev);
}
