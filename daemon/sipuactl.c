/* sipuactl.c - the control CLI: parses a command, speaks ctl_proto.h to sipuad's socket, prints the reply (SPEC E). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "ctl_proto.h"
#include "version.h"

#define TIMEOUT_DEFAULT 10.0   /* s to wait for a reply unless -t */
#define TIMEOUT_MAX 86400.0
#define REASON_MAX 30          /* characters of a reason phrase in the LAST-ERROR column */
#define RECV_FIRST 4096        /* first size of the receive buffer; doubles up to CTL_REPLY_MAX */
#define ARGS_MAX 64            /* bytes of a command's argument synopsis, "history LINE [N]" */

enum action {
	A_NONE,
	A_STATUS,
	A_HISTORY,
	A_REGISTER,
	A_UNREGISTER,
	A_FAILOVER,
	A_RELOAD,
	A_SUBSCRIBE,
	A_VERSION,
	A_HELP,
};

/* A static token tree in the manner of dhcpleasectl's parser.c: a table
 * lists what may come next, KEYWORD matches any unique prefix, NOTOKEN
 * marks that the words may end here, ENDTOKEN closes the table. */
enum token_type {
	NOTOKEN,
	ENDTOKEN,
	KEYWORD,
	LINEID,
	COUNT,
};

struct token {
	enum token_type type;
	const char *keyword;          /* KEYWORD: the word; otherwise its name in help */
	enum action value;
	const struct token *next;
	const char *help;
};

struct parse_result {
	enum action action;
	const char *command;          /* the canonical command word sent */
	const char *line;
	long count;                   /* 0: none given */
};

static const struct token t_end[] = {
	{ NOTOKEN, "", A_NONE, NULL, NULL },
	{ ENDTOKEN, "", A_NONE, NULL, NULL },
};

static const struct token t_count_opt[] = {
	{ NOTOKEN, "", A_NONE, NULL, NULL },
	{ COUNT, "N", A_NONE, t_end, NULL },
	{ ENDTOKEN, "", A_NONE, NULL, NULL },
};

static const struct token t_line[] = {
	{ LINEID, "LINE", A_NONE, t_end, NULL },
	{ ENDTOKEN, "", A_NONE, NULL, NULL },
};

static const struct token t_line_opt[] = {
	{ NOTOKEN, "", A_NONE, NULL, NULL },
	{ LINEID, "LINE", A_NONE, t_end, NULL },
	{ ENDTOKEN, "", A_NONE, NULL, NULL },
};

static const struct token t_history[] = {
	{ LINEID, "LINE", A_NONE, t_count_opt, NULL },
	{ ENDTOKEN, "", A_NONE, NULL, NULL },
};

static const struct token t_main[] = {
	{ KEYWORD, "status", A_STATUS, t_line_opt, "every line in a table, or one line in full" },
	{ KEYWORD, "history", A_HISTORY, t_history, "the line's switches and errors, newest first" },
	{ KEYWORD, "register", A_REGISTER, t_line, "register the line now" },
	{ KEYWORD, "unregister", A_UNREGISTER, t_line, "un-register the line" },
	{ KEYWORD, "failover", A_FAILOVER, t_line, "switch the line to its next server now" },
	{ KEYWORD, "reload", A_RELOAD, t_end, "re-read the config; only changed lines are touched" },
	{ KEYWORD, "subscribe", A_SUBSCRIBE, t_end, "print events as they happen, until the daemon closes" },
	{ KEYWORD, "version", A_VERSION, t_end, "the daemon's and sipuactl's versions" },
	{ KEYWORD, "help", A_HELP, t_end, "this help" },
	{ ENDTOKEN, "", A_NONE, NULL, NULL },
};

/* A connection to the daemon and the bytes read from it but not yet
 * handed out as lines. */
struct conn {
	int fd;
	char *buf;
	size_t len;                   /* bytes in buf */
	size_t cap;
	size_t used;                  /* leading bytes already handed out */
	size_t scanned;               /* leading bytes known to hold no '\n' */
};

/* A table for people: cells are cleaned strings, row 0 the header. */
struct table {
	size_t ncols;
	size_t ncells;
	size_t cap;
	char **cells;
};

static void oom(void)
{
	fputs("sipuactl: out of memory\n", stderr);
	exit(CTL_EXIT_ERROR);
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		oom();
	return p;
}

static char *xstrdup(const char *s)
{
	char *d = strdup(s);
	if (!d)
		oom();
	return d;
}

static char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	va_start(ap, fmt);
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		oom();
	return s;
}

/* --- command line ---------------------------------------------------- */

/* "history LINE [N]": the words that may follow a table, optional ones
 * in brackets. */
static void args_synopsis(char *buf, size_t size, const struct token *table)
{
	const struct token *arg = NULL;
	bool optional = false;
	size_t n = strlen(buf);

	for (const struct token *t = table; t && t->type != ENDTOKEN; t++) {
		if (t->type == NOTOKEN)
			optional = true;
		else if (!arg)
			arg = t;
	}
	if (!arg || n >= size)
		return;
	snprintf(buf + n, size - n, optional ? " [%s" : " %s", arg->keyword);
	args_synopsis(buf, size, arg->next);
	n = strlen(buf);
	if (optional && n + 1 < size)
		snprintf(buf + n, size - n, "]");
}

static void command_synopsis(char *buf, size_t size, const struct token *cmd)
{
	snprintf(buf, size, "%s", cmd->keyword);
	args_synopsis(buf, size, cmd->next);
}

static void usage(FILE *f)
{
	fputs("usage: sipuactl [-s SOCKET] [-j] [-t SECONDS] COMMAND [ARGS]\n", f);
}

static void help(FILE *f)
{
	char syn[ARGS_MAX];
	int width = 0;

	usage(f);
	fprintf(f, "\n"
		"  -s SOCKET   the daemon's control socket (default: $%s, else %s)\n"
		"  -j          print the daemon's JSON as is\n"
		"  -t SECONDS  wait at most this long for the reply (default %g)\n"
		"  -h          this help\n"
		"\ncommands (any unique prefix will do):\n",
		CTL_SOCKET_ENV, CTL_DEFAULT_SOCKET, TIMEOUT_DEFAULT);
	for (const struct token *t = t_main; t->type != ENDTOKEN; t++) {
		command_synopsis(syn, sizeof syn, t);
		if ((int)strlen(syn) > width)
			width = (int)strlen(syn);
	}
	for (const struct token *t = t_main; t->type != ENDTOKEN; t++) {
		command_synopsis(syn, sizeof syn, t);
		fprintf(f, "  %-*s  %s\n", width, syn, t->help);
	}
	fprintf(f, "\nexit status: %d ok, %d error (usage or error reply), %d no daemon or no reply\n",
		CTL_EXIT_OK, CTL_EXIT_ERROR, CTL_EXIT_NODAEMON);
}

static void command_usage(const struct token *cmd)
{
	char syn[ARGS_MAX];
	command_synopsis(syn, sizeof syn, cmd);
	fprintf(stderr, "usage: sipuactl [-s SOCKET] [-j] [-t SECONDS] %s\n", syn);
}

/* Line ids are checked by the daemon; here only that the word survives
 * the wire's framing: printable ASCII, no blanks. */
static bool valid_line(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

static bool parse_count(const char *s, long *out)
{
	char *end;
	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || v < 1 || v > INT_MAX)
		return false;
	*out = v;
	return true;
}

/* Matches one word (NULL: the words ended) against a table. Returns the
 * token matched, or NULL after saying why on stderr. */
static const struct token *match_token(const char *word, const struct token *table,
				       const struct token *cmd, struct parse_result *res)
{
	const struct token *match = NULL;
	int prefixes = 0;

	if (!word) {
		for (const struct token *t = table; t->type != ENDTOKEN; t++)
			if (t->type == NOTOKEN)
				return t;
		for (const struct token *t = table; t->type != ENDTOKEN; t++)
			if (t->type != KEYWORD) {
				fprintf(stderr, "sipuactl: %s: missing %s\n", cmd->keyword, t->keyword);
				break;
			}
		command_usage(cmd);
		return NULL;
	}

	for (const struct token *t = table; t->type != ENDTOKEN; t++)
		if (t->type == KEYWORD && strcmp(word, t->keyword) == 0)
			return t;
	for (const struct token *t = table; t->type != ENDTOKEN; t++)
		if (t->type == KEYWORD && *word && strncmp(word, t->keyword, strlen(word)) == 0) {
			match = t;
			prefixes++;
		}
	if (prefixes == 1)
		return match;
	if (prefixes > 1) {
		fprintf(stderr, "sipuactl: ambiguous command '%s': could be", word);
		const char *sep = " ";
		for (const struct token *t = table; t->type != ENDTOKEN; t++)
			if (t->type == KEYWORD && *word && strncmp(word, t->keyword, strlen(word)) == 0) {
				fprintf(stderr, "%s%s", sep, t->keyword);
				sep = ", ";
			}
		fputc('\n', stderr);
		return NULL;
	}

	for (const struct token *t = table; t->type != ENDTOKEN; t++) {
		switch (t->type) {
		case LINEID:
			if (valid_line(word)) {
				res->line = word;
				return t;
			}
			fprintf(stderr, "sipuactl: %s: invalid %s '%s'\n", cmd->keyword, t->keyword, word);
			command_usage(cmd);
			return NULL;
		case COUNT:
			if (parse_count(word, &res->count))
				return t;
			fprintf(stderr, "sipuactl: %s: %s must be a number from 1 to %d, not '%s'\n",
				cmd->keyword, t->keyword, INT_MAX, word);
			command_usage(cmd);
			return NULL;
		default:
			break;
		}
	}

	if (!cmd) {
		fprintf(stderr, "sipuactl: unknown command '%s'\n", word);
		help(stderr);
	} else {
		fprintf(stderr, "sipuactl: %s: too many arguments\n", cmd->keyword);
		command_usage(cmd);
	}
	return NULL;
}

static int parse(int argc, char **argv, struct parse_result *res)
{
	const struct token *table = t_main, *cmd = NULL;

	memset(res, 0, sizeof *res);
	for (int i = 0;; i++) {
		const struct token *t = match_token(i < argc ? argv[i] : NULL, table, cmd, res);
		if (!t)
			return -1;
		if (t->type == NOTOKEN)
			return 0;
		if (t->type == KEYWORD) {
			cmd = t;
			res->action = t->value;
			res->command = t->keyword;
		}
		table = t->next;
	}
}

static bool parse_timeout(const char *s, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	/* v == v: not a NaN */
	if (errno || end == s || *end || v != v || v <= 0 || v > TIMEOUT_MAX)
		return false;
	*out = v;
	return true;
}

/* --- the connection --------------------------------------------------- */

static int remaining_ms(const struct timespec *deadline)
{
	struct timespec now;
	if (!deadline)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &now);
	long long ms = (long long)(deadline->tv_sec - now.tv_sec) * 1000 +
		       (deadline->tv_nsec - now.tv_nsec + 999999) / 1000000;
	if (ms < 0)
		return 0;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

/* Waits until fd is ready for events or the deadline (NULL: none)
 * passes: 0 or -errno, -ETIMEDOUT at the deadline. */
static int wait_fd(int fd, short events, const struct timespec *deadline)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		int n = poll(&p, 1, remaining_ms(deadline));
		if (n > 0)
			return 0;
		if (n == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

static int conn_open(struct conn *c, const char *path, double timeout)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	if (strlen(path) >= sizeof sun.sun_path)
		return -ENAMETOOLONG;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -errno;
	/* connect() blocks while the daemon's listen backlog is full (it
	 * pauses accepting at its client limit); Linux bounds that wait by
	 * SO_SNDTIMEO, so -t covers it too. */
	struct timeval tv = { .tv_sec = (time_t)timeout };
	tv.tv_usec = (suseconds_t)((timeout - (double)tv.tv_sec) * 1e6);
	(void)setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	while (connect(c->fd, (struct sockaddr *)&sun, sizeof sun) < 0)
		if (errno != EINTR)
			return -errno;
	int fl = fcntl(c->fd, F_GETFL);
	if (fl < 0 || fcntl(c->fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

static int conn_write(struct conn *c, const char *p, size_t len, const struct timespec *deadline)
{
	while (len) {
		ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return -errno;
			int r = wait_fd(c->fd, POLLOUT, deadline);
			if (r < 0)
				return r;
			continue;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads one '\n'-terminated line of at most CTL_REPLY_MAX bytes, whatever
 * the number of reads it arrives in. Returns 1 with *line (NUL-terminated
 * in place of the '\n', valid until the next call), 0 when the daemon
 * closed the connection first, -errno otherwise (-ETIMEDOUT at the
 * deadline, -EMSGSIZE for a longer line). */
static int conn_read_line(struct conn *c, const struct timespec *deadline, char **line, size_t *linelen)
{
	if (c->used) {
		memmove(c->buf, c->buf + c->used, c->len - c->used);
		c->len -= c->used;
		c->used = 0;
		c->scanned = 0;
	}
	for (;;) {
		char *nl = c->len > c->scanned ? memchr(c->buf + c->scanned, '\n', c->len - c->scanned) : NULL;
		if (nl) {
			*nl = '\0';
			*line = c->buf;
			*linelen = (size_t)(nl - c->buf);
			c->used = *linelen + 1;
			c->scanned = 0;
			return 1;
		}
		c->scanned = c->len;
		if (c->len > CTL_REPLY_MAX)
			return -EMSGSIZE;
		if (c->len == c->cap) {
			size_t cap = c->cap ? c->cap * 2 : RECV_FIRST;
			if (cap > (size_t)CTL_REPLY_MAX + 1)
				cap = (size_t)CTL_REPLY_MAX + 1;
			c->buf = xrealloc(c->buf, cap);
			c->cap = cap;
		}
		int r = wait_fd(c->fd, POLLIN, deadline);
		if (r < 0)
			return r;
		ssize_t n = read(c->fd, c->buf + c->len, c->cap - c->len);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
				continue;
			return -errno;
		}
		if (n == 0)
			return 0;
		c->len += (size_t)n;
	}
}

static void conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->buf);
	memset(c, 0, sizeof *c);
	c->fd = -1;
}

/* One JSON object filling the whole line (trailing blanks aside), or NULL. */
static json_object *parse_object(const char *s, size_t len)
{
	json_tokener *tok = json_tokener_new();
	if (!tok)
		oom();
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

/* One subscribed event on one line: time, line, kind, from -> to, reason. */
static void print_event(json_object *ev)
{
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

static void print_reply(const struct parse_result *res, json_object *reply)
{
	switch (res->action) {
	case A_STATUS:
		print_status(reply);
		break;
	case A_HISTORY:
		print_history(reply);
		break;
	case A_VERSION: {
		char *v = clean(jstr(reply, "version") ? jstr(reply, "version") : "unknown", 0, NULL);
		printf("sipuad %s (sipuactl %s)\n", v, SIPUAD_VERSION);
		free(v);
		break;
	}
	default:
		break;
	}
}

/* 0 if everything reached stdout, else says so and returns 1; a reader
 * that went away (EPIPE) is not worth a message. */
static int flush_stdout(void)
{
	if (fflush(stdout) == 0 && !ferror(stdout))
		return CTL_EXIT_OK;
	if (errno != EPIPE)
		fprintf(stderr, "sipuactl: stdout: %s\n", strerror(errno));
	return CTL_EXIT_ERROR;
}

/* subscribe: after {"ok":true} every line is an event, until the daemon
 * closes the connection; no deadline here. */
static int follow(struct conn *c, const char *path, bool json)
{
	for (;;) {
		char *line;
		size_t len;
		int r = conn_read_line(c, NULL, &line, &len);
		if (r == 0)
			return CTL_EXIT_OK;
		if (r == -EMSGSIZE) {
			fprintf(stderr, "sipuactl: event from %s longer than %d bytes\n", path, CTL_REPLY_MAX);
			return CTL_EXIT_ERROR;
		}
		if (r < 0) {
			fprintf(stderr, "sipuactl: connection to %s lost: %s\n", path, strerror(-r));
			return CTL_EXIT_NODAEMON;
		}
		if (json) {
			fwrite(line, 1, len, stdout);
			fputc('\n', stdout);
		} else {
			json_object *ev = parse_object(line, len);
			if (ev)
				print_event(ev);
			else
				fprintf(stderr, "sipuactl: malformed event from %s\n", path);
			json_object_put(ev);
		}
		if (flush_stdout() != CTL_EXIT_OK)
			return CTL_EXIT_ERROR;
	}
}

static int run(const struct parse_result *res, const char *req, size_t reqlen,
	       const char *path, bool json, double timeout)
{
	struct conn c = { .fd = -1 };
	struct timespec deadline;
	json_object *reply = NULL;
	int rc = CTL_EXIT_NODAEMON;
	char *line;
	size_t len;
	int r;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += (time_t)timeout;
	deadline.tv_nsec += (long)((timeout - (double)(time_t)timeout) * 1e9);
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}

	if ((r = conn_open(&c, path, timeout)) < 0) {
		if (r == -EAGAIN)
			fprintf(stderr, "sipuactl: no daemon on %s: no connection accepted within %g s\n",
				path, timeout);
		else
			fprintf(stderr, "sipuactl: no daemon on %s: %s\n", path, strerror(-r));
		goto out;
	}
	int wr = conn_write(&c, req, reqlen, &deadline);
	if (wr == -ETIMEDOUT) {
		fprintf(stderr, "sipuactl: %s took no request within %g s\n", path, timeout);
		goto out;
	}
	/* A daemon that refuses us (permission denied) says why and closes,
	 * possibly before our request is out: read what it said first. */
	r = conn_read_line(&c, &deadline, &line, &len);
	if (wr < 0 && r <= 0) {
		fprintf(stderr, "sipuactl: cannot send to %s: %s\n", path, strerror(-wr));
		goto out;
	}
	if (r == 0) {
		fprintf(stderr, "sipuactl: %s closed the connection before %s\n", path,
			c.len ? "the reply was complete" : "replying");
		goto out;
	}
	if (r == -ETIMEDOUT) {
		fprintf(stderr, "sipuactl: no reply from %s within %g s\n", path, timeout);
		goto out;
	}
	if (r == -EMSGSIZE) {
		fprintf(stderr, "sipuactl: reply from %s longer than %d bytes\n", path, CTL_REPLY_MAX);
		rc = CTL_EXIT_ERROR;
		goto out;
	}
	if (r < 0) {
		fprintf(stderr, "sipuactl: connection to %s lost: %s\n", path, strerror(-r));
		goto out;
	}

	rc = CTL_EXIT_ERROR;
	reply = parse_object(line, len);
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
		print_reply(res, reply);
	}
	if (ok)
		rc = CTL_EXIT_OK;
	if (flush_stdout() != CTL_EXIT_OK)
		rc = CTL_EXIT_ERROR;
	else if (ok && res->action == A_SUBSCRIBE)
		rc = follow(&c, path, json);
out:
	json_object_put(reply);
	conn_close(&c);
	return rc;
}

int main(int argc, char **argv)
{
	const char *path = getenv(CTL_SOCKET_ENV);
	double timeout = TIMEOUT_DEFAULT;
	bool json = false;
	struct parse_result res;
	char req[CTL_REQUEST_MAX + 1];
	int ch;

	if (!path || !*path)
		path = CTL_DEFAULT_SOCKET;
	opterr = 0;
	while ((ch = getopt(argc, argv, ":hjs:t:")) != -1) {
		switch (ch) {
		case 'h':
			help(stdout);
			return flush_stdout();
		case 'j':
			json = true;
			break;
		case 's':
			path = optarg;
			break;
		case 't':
			if (!parse_timeout(optarg, &timeout)) {
				fprintf(stderr, "sipuactl: -t wants seconds, more than 0 and at most %g, not '%s'\n",
					TIMEOUT_MAX, optarg);
				return CTL_EXIT_ERROR;
			}
			break;
		case ':':
			fprintf(stderr, "sipuactl: -%c needs an argument\n", optopt);
			usage(stderr);
			return CTL_EXIT_ERROR;
		default:
			fprintf(stderr, "sipuactl: unknown option -%c\n", optopt);
			usage(stderr);
			return CTL_EXIT_ERROR;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0) {
		usage(stderr);
		fputs("(sipuactl help lists the commands)\n", stderr);
		return CTL_EXIT_ERROR;
	}
	if (parse(argc, argv, &res) < 0)
		return CTL_EXIT_ERROR;
	if (res.action == A_HELP) {
		help(stdout);
		return flush_stdout();
	}

	char count[16] = "";
	if (res.count)
		snprintf(count, sizeof count, " %ld", res.count);
	int n = snprintf(req, sizeof req, "%s%s%s%s\n", res.command,
			 res.line ? " " : "", res.line ? res.line : "", count);
	if (n < 0 || n > CTL_REQUEST_MAX) {
		fprintf(stderr, "sipuactl: request longer than %d bytes\n", CTL_REQUEST_MAX);
		return CTL_EXIT_ERROR;
	}

	signal(SIGPIPE, SIG_IGN);
	tzset();
	return run(&res, req, (size_t)n, path, json, timeout);
}
