/* config.c - the libconfig file as validated struct conf (RULES E "Config"); only user of libconfig. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include <libconfig.h>

#include "tlsfiles.h"

#include "config.h"
#include "ctl_proto.h"
#include "netaddr.h"
#include "sdp.h"

/*
 * Error messages are "FILE:LINE: KEY: message" (STYLE habit 7, RULES E: "name
 * file, line and key"). KEY is the full path of the setting in libconfig's own
 * path syntax: group members joined by '.', list and array elements as
 * ".[N]" counted from 0, e.g. "sip.t1", "lines.[1].servers.[0].port",
 * "sip.transports.[2]". It is the same whichever id the line has, so a line
 * with a broken or missing id is still named. LINE is the line of the setting
 * itself; for a missing required key it is the line of the enclosing group.
 * FILE is the file the setting was read from, so an @include'd file reports
 * its own name.
 *
 * @include paths are opened as written (absolute, or relative to the current
 * directory): libconfig 1.5 joins its include directory in front of absolute
 * paths too, so setting one would break "@include "/etc/...";".
 */

#define PATH_LEN 256     /* a key path in a message; longer ones are cut */
#define QUOTE_LEN 100    /* a value echoed in a message; longer ones are cut */

/* The defaults of RULES E. */
#define DEF_CTL_SOCKET   CTL_DEFAULT_SOCKET
#define DEF_CTL_MODE     0660
#define DEF_CTL_GROUP    ""
#define DEF_DATABASE     "/var/lib/sipuad/state.db"
#define DEF_LOG_LEVEL    CONF_LOG_INFO
#define DEF_LISTEN       "0.0.0.0"
#define DEF_PORT         5060
#define DEF_USER_AGENT   "sipuad"
#define DEF_T1           500
#define DEF_T2           4000
#define DEF_RESOLV_CONF  "/etc/resolv.conf"
#define DEF_DNS_TIMEOUT  5
#define DEF_START_SPREAD 10
#define DEF_EXPIRES      3600
#define DEF_HEARTBEAT    30
#define DEF_RETRY_COUNT  3
#define DEF_RETURN_DELAY 60
#define DEF_RETRY_DELAY  30
#define DEF_FAILBACK     1800
#define DEF_MAX_CALLS    2
#define DEF_MEDIA_ADDR   ""
#define DEF_RTP_LO       16384
#define DEF_RTP_HI       16482
#define DEF_PTIME        20
#define DEF_HOOK         ""
static const char *const def_codecs[] = { "PCMU", "PCMA", "G722", "telephone-event" };

/* SPEC F ranges: an RTP port and the RTCP port above it stay unprivileged
 * and below 65535; ptime in whole 10 ms frames (G.729's frame, and a
 * multiple of every other codec's). */
#define RTP_PORT_MIN 1024
#define RTP_PORT_MAX 65534
#define PTIME_MIN 10
#define PTIME_MAX 120

/* RULES E ranges of t1 and t2; t2 also has t1 as its floor. */
#define T1_MIN 50
#define T1_MAX 5000
#define T2_MAX 16000

/* Sofia-SIP as Debian builds it has TLS (OpenSSL); a build against one
 * without may define SIPUAD_NO_TLS, and "tls" is then refused here. */
#ifdef SIPUAD_NO_TLS
#define HAVE_TLS false
#else
#define HAVE_TLS true
#endif

static const char *const transport_names[CONF_TP_MAX] = {
	[CONF_TP_UDP] = "udp",
	[CONF_TP_TCP] = "tcp",
	[CONF_TP_TLS] = "tls",
};

static const char *const log_level_names[CONF_LOG_MAX] = {
	[CONF_LOG_ERROR] = "error",
	[CONF_LOG_WARN] = "warn",
	[CONF_LOG_INFO] = "info",
	[CONF_LOG_DEBUG] = "debug",
};

const char *conf_transport_name(enum conf_transport t)
{
	return (unsigned)t < CONF_TP_MAX ? transport_names[t] : "?";
}

const char *conf_log_level_name(enum conf_log_level l)
{
	return (unsigned)l < CONF_LOG_MAX ? log_level_names[l] : "?";
}

/* --- loading context and error reporting ------------------------------- */

/* One error, kept until the whole file is checked so they come out sorted. */
struct error {
	const char *file;         /* owned by libconfig, valid until config_destroy */
	unsigned line;
	char *text;               /* "FILE:LINE: KEY: message" */
};

struct ctx {
	FILE *err;
	const char *file;         /* the file named by the caller, when a setting has none */
	int n_errors;
	struct error *errors;     /* n_errors of them; fewer if memory ran out */
	int n_kept;
	bool oom;
	bool quiet;               /* pre-scan: validate without reporting */
	/* sip.transports, needed by every server's transport (RULES E); false
	 * when sip.transports is itself broken, so that error is not echoed
	 * once per server. */
	bool tp_known;
	bool tp[CONF_TP_MAX];
};

static const char *setting_file(const struct ctx *x, const config_setting_t *s)
{
	const char *f = config_setting_source_file(s);

	return f ? f : x->file;
}

__attribute__((format(printf, 4, 5)))
static void error_at(struct ctx *x, const config_setting_t *s, const char *path,
		     const char *fmt, ...)
{
	const char *file = setting_file(x, s);
	unsigned line = config_setting_source_line(s);
	char *head = NULL, *msg = NULL, *text = NULL;
	struct error *e;
	va_list ap;

	if (x->quiet)
		return;
	x->n_errors++;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	if (msg && asprintf(&head, "%s:%u: %s: %s", file, line, path, msg) >= 0)
		text = head;
	free(msg);
	e = text ? realloc(x->errors, sizeof(*e) * (size_t)(x->n_kept + 1)) : NULL;
	if (!e) {
		/* No memory to keep it: say so rather than lose the error. */
		free(text);
		x->oom = true;
		return;
	}
	x->errors = e;
	x->errors[x->n_kept++] = (struct error){ .file = file, .line = line, .text = text };
}

/* Print the errors in file order. They are found group by group (a missing
 * key is noticed after the members, t2 after the whole sip group), so an error
 * moves up past the errors of the same file with a later line; an @include'd
 * file's errors stay where the include stands. */
static void flush_errors(struct ctx *x)
{
	int i, j;

	for (i = 1; i < x->n_kept; i++) {
		struct error e = x->errors[i];

		for (j = i; j > 0; j--) {
			const struct error *p = &x->errors[j - 1];

			if (strcmp(p->file, e.file) != 0 || p->line <= e.line)
				break;
			x->errors[j] = *p;
		}
		x->errors[j] = e;
	}
	for (i = 0; i < x->n_kept; i++) {
		fprintf(x->err, "%s\n", x->errors[i].text);
		free(x->errors[i].text);
	}
	free(x->errors);
	x->errors = NULL;
	x->n_kept = 0;
}

static char *sdup(struct ctx *x, const char *s)
{
	char *d = strdup(s);

	if (!d)
		x->oom = true;
	return d;
}

/* Replace *dst by a copy of s; on failure *dst keeps its old value. */
static void set_str(struct ctx *x, char **dst, const char *s)
{
	char *d = sdup(x, s);

	if (!d)
		return;
	free(*dst);
	*dst = d;
}

/* Append s to buf (capacity n, holding len bytes), cutting what does not fit:
 * a cut key path in a message beats a lost message. */
static size_t path_cat(char *buf, size_t n, size_t len, const char *s)
{
	size_t k = strlen(s);

	if (len + k >= n)
		k = n - 1 - len;
	memcpy(buf + len, s, k);
	buf[len + k] = '\0';
	return len + k;
}

static void path_member(char *buf, size_t n, const char *parent, const char *name)
{
	size_t len = 0;

	buf[0] = '\0';
	if (parent && *parent) {
		len = path_cat(buf, n, len, parent);
		len = path_cat(buf, n, len, ".");
	}
	path_cat(buf, n, len, name ? name : "?");
}

static void path_elem(char *buf, size_t n, const char *parent, int i)
{
	char idx[24];
	size_t len;

	buf[0] = '\0';
	len = path_cat(buf, n, 0, parent);
	snprintf(idx, sizeof(idx), ".[%d]", i);
	path_cat(buf, n, len, idx);
}

/* s as a double-quoted libconfig string, cut to fit buf. Used for values
 * echoed in messages, which must stay one line and readable. */
static const char *quote(char *buf, size_t n, const char *s)
{
	size_t o = 0;

	buf[o++] = '"';
	for (; *s && o + 8 < n; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			o += snprintf(buf + o, n - o, "\\%c", ch);
		else if (ch < 0x20 || ch == 0x7f)
			o += snprintf(buf + o, n - o, "\\x%02x", ch);
		else
			buf[o++] = (char)ch;
	}
	if (*s)
		o += snprintf(buf + o, n - o, "...");
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

static const char *type_name(int type)
{
	switch (type) {
	case CONFIG_TYPE_GROUP:  return "group";
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:  return "integer";
	case CONFIG_TYPE_FLOAT:  return "float";
	case CONFIG_TYPE_STRING: return "string";
	case CONFIG_TYPE_BOOL:   return "boolean";
	case CONFIG_TYPE_ARRAY:  return "array";
	case CONFIG_TYPE_LIST:   return "list";
	default:                 return "nothing";
	}
}

static bool is_int(const config_setting_t *s)
{
	int t = config_setting_type(s);

	return t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64;
}

/* Type check; no conversion: a float where an integer belongs is an error. */
static bool want(struct ctx *x, const config_setting_t *s, const char *path, int type)
{
	int t = config_setting_type(s);

	if (t == type || (type == CONFIG_TYPE_INT && t == CONFIG_TYPE_INT64))
		return true;
	error_at(x, s, path, "expected %s, got %s", type_name(type), type_name(t));
	return false;
}

/* A list of strings may be written as an array [..] or a list (..). */
static bool want_strings(struct ctx *x, const config_setting_t *s, const char *path)
{
	int t = config_setting_type(s);

	if (t == CONFIG_TYPE_ARRAY || t == CONFIG_TYPE_LIST)
		return true;
	error_at(x, s, path, "expected array of strings, got %s", type_name(t));
	return false;
}

/* A list of groups (lines, servers); an empty [] is taken as an empty list. */
static bool want_groups(struct ctx *x, const config_setting_t *s, const char *path)
{
	int t = config_setting_type(s);

	if (t == CONFIG_TYPE_LIST || (t == CONFIG_TYPE_ARRAY && config_setting_length(s) == 0))
		return true;
	error_at(x, s, path, "expected list of groups ( { ... }, ... ), got %s", type_name(t));
	return false;
}

/* --- value checks -------------------------------------------------------- */

/* Checks return NULL when fine, else what follows the quoted value in the
 * message ("\"x y\" is not a valid ..."). */

/* A host: an IP literal, IPv6 without brackets (RULES E struct conf_server), or
 * a DNS name in the hostname syntax of RFC 3261 25.1: labels of letters,
 * digits and '-', not starting or ending with '-', a top label that is not all
 * digits (that would be a mangled IPv4 address), one optional final dot. */
static const char *check_host(const char *h)
{
	struct in6_addr a6;
	struct in_addr a4;
	size_t n = strlen(h), label = 0;
	bool digits_only = true;
	const char *p;

	if (h[0] == '[')
		return "is in brackets: write an IPv6 address without them here";
	if (strchr(h, ':'))
		return inet_pton(AF_INET6, h, &a6) == 1 ? NULL : "is not a valid IPv6 address";
	if (inet_pton(AF_INET, h, &a4) == 1)
		return NULL;
	if (n > 0 && h[n - 1] == '.')
		n--;
	if (n == 0 || n > 253)
		return "is not a valid host name or IP address";
	for (p = h; p < h + n; p++) {
		if (*p == '.') {
			if (label == 0 || p[-1] == '-')
				return "is not a valid host name or IP address";
			label = 0;
			digits_only = true;
			continue;
		}
		if (*p >= '0' && *p <= '9') {
			/* keeps digits_only */
		} else if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			   (*p == '-' && label > 0)) {
			digits_only = false;
		} else {
			return "is not a valid host name or IP address";
		}
		if (++label > 63)
			return "is not a valid host name or IP address";
	}
	if (p[-1] == '-' || digits_only)
		return "is not a valid host name or IP address";
	return NULL;
}

/* RULES E: sip.listen is an address to bind, not a name. */
static const char *check_ip(const char *v)
{
	return netaddr_is_literal(v) ? NULL : "is not an IPv4 or IPv6 address";
}

/* media.address: "" (the address SIP uses) or an IP literal for the SDP. */
static const char *check_media_address(const char *v)
{
	return *v ? check_ip(v) : NULL;
}

/* The user part of the AOR: Sofia escapes what the URI needs, but a space
 * would end a header token. */
static const char *check_user(const char *v)
{
	if (strpbrk(v, " \t"))
		return "contains a space";
	return NULL;
}

/* A decimal port 1..65535 at p (what follows the ':' of a proxy). */
static bool port_ok(const char *p)
{
	long v = 0;

	if (!*p)
		return false;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (*p - '0');
		if (v > 65535)
			return false;
	}
	return v >= 1;
}

/* RULES B/E: an outbound proxy is "host", "host:port", "[v6]" or "[v6]:port". */
static const char *check_proxy(const char *v)
{
	char host[256];
	struct in6_addr a6;
	const char *colon, *end;
	size_t n;

	if (v[0] == '[') {
		end = strchr(v, ']');
		n = end ? (size_t)(end - v - 1) : 0;
		if (!end || n == 0 || n >= sizeof(host))
			return "is not a valid proxy (host, host:port, [IPv6] or [IPv6]:port)";
		memcpy(host, v + 1, n);
		host[n] = '\0';
		if (inet_pton(AF_INET6, host, &a6) != 1)
			return "has no valid IPv6 address inside the brackets";
		if (end[1] == '\0')
			return NULL;
		if (end[1] != ':')
			return "is not a valid proxy (host, host:port, [IPv6] or [IPv6]:port)";
		return port_ok(end + 2) ? NULL : "has no valid port (1..65535) after the ':'";
	}
	colon = strchr(v, ':');
	if (colon && strchr(colon + 1, ':'))
		return "has several ':': write an IPv6 proxy in brackets, e.g. [2001:db8::1]:5060";
	n = colon ? (size_t)(colon - v) : strlen(v);
	if (n == 0 || n >= sizeof(host))
		return "is not a valid proxy (host, host:port, [IPv6] or [IPv6]:port)";
	memcpy(host, v, n);
	host[n] = '\0';
	if (check_host(host))
		return "has no valid host name or IP address";
	if (colon && !port_ok(colon + 1))
		return "has no valid port (1..65535) after the ':'";
	return NULL;
}

/* The runtime sizes buffers from the config.h limits: pin the ones the
 * system fixes. */
_Static_assert(CONF_SOCKET_MAX + 1 == sizeof(((struct sockaddr_un *)0)->sun_path),
	       "control.socket's limit is sun_path less the NUL");
_Static_assert(CONF_SERVERS_MAX <= 32, "the agent's registered-before mask has 32 bits");

/* V longer than MAX bytes (MAX 0: no limit) is an error naming the limit.
 * For a DNS name (NAME) a final dot is not counted: "example.com." is as
 * long as "example.com". The value is not echoed: it is long, and may be
 * secret. */
static bool too_long(struct ctx *x, const config_setting_t *s, const char *path, const char *v,
		     size_t max, bool name)
{
	size_t n = strlen(v);

	if (name && n > 0 && v[n - 1] == '.')
		n--;
	if (!max || n <= max)
		return false;
	error_at(x, s, path, "at most %zu bytes (%zu given)", max, n);
	return true;
}

/* The length of a proxy's host as CONF_HOST_MAX counts it (no final dot);
 * 0 for "[IPv6]...", which check_proxy() bounds. */
static size_t proxy_host_len(const char *v)
{
	const char *colon = strchr(v, ':');
	size_t n = colon ? (size_t)(colon - v) : strlen(v);

	if (v[0] == '[')
		return 0;
	if (n > 0 && v[n - 1] == '.')
		n--;
	return n;
}

static bool has_ctl(const char *v)
{
	for (; *v; v++)
		if ((unsigned char)*v < 0x20 || *v == 0x7f)
			return true;
	return false;
}

/* --- key tables ---------------------------------------------------------- */

enum kind { K_INT, K_BOOL, K_STR, K_GROUP, K_FN };

#define F_REQUIRED 0x1
#define F_NONEMPTY 0x2
#define F_SECRET   0x4  /* any bytes; never echoed (RULES D.13: passwords never shown) */
#define F_NAME     0x8  /* a DNS name: a final dot is not counted in len_max */

struct key;
typedef void (*key_fn)(struct ctx *x, const config_setting_t *s, const char *path, void *base);

/* One key of a group. Values land at base + off; base is the struct conf,
 * conf_line or conf_server the group fills (sub-groups share their parent's). */
struct key {
	const char *name;
	enum kind kind;
	unsigned flags;
	size_t off;
	long long min, max;               /* K_INT */
	const char *unit;                 /* K_INT, shown with the range */
	size_t len_max;                   /* K_STR: bytes, the NUL not counted */
	const char *(*check)(const char *v);  /* K_STR, after the common checks */
	const struct key *sub;            /* K_GROUP */
	key_fn fn;                        /* K_FN: the whole value; K_GROUP: after it */
};

#define FIELD(base, off, type) ((type *)((char *)(base) + (off)))

static void parse_group(struct ctx *x, const config_setting_t *g, const char *path,
			const struct key *keys, void *base);

static void parse_value(struct ctx *x, const config_setting_t *s, const char *path,
			const struct key *k, void *base)
{
	char q[QUOTE_LEN];
	const char *v, *why;
	long long n;

	switch (k->kind) {
	case K_INT:
		if (!want(x, s, path, CONFIG_TYPE_INT))
			return;
		n = config_setting_get_int64(s);
		if (n < k->min || n > k->max) {
			error_at(x, s, path, "%lld is out of range %lld..%lld%s%s%s", n, k->min,
				 k->max, k->unit ? " (" : "", k->unit ? k->unit : "",
				 k->unit ? ")" : "");
			return;
		}
		*FIELD(base, k->off, int) = (int)n;
		return;
	case K_BOOL:
		if (want(x, s, path, CONFIG_TYPE_BOOL))
			*FIELD(base, k->off, bool) = config_setting_get_bool(s);
		return;
	case K_STR:
		if (!want(x, s, path, CONFIG_TYPE_STRING))
			return;
		v = config_setting_get_string(s);
		if ((k->flags & F_NONEMPTY) && !*v) {
			error_at(x, s, path, "must not be empty");
			return;
		}
		if (too_long(x, s, path, v, k->len_max, (k->flags & F_NAME) != 0))
			return;
		if (!(k->flags & F_SECRET) && has_ctl(v)) {
			error_at(x, s, path, "%s contains a control character",
				 quote(q, sizeof(q), v));
			return;
		}
		if (k->check && (why = k->check(v))) {
			error_at(x, s, path, "%s %s", quote(q, sizeof(q), v), why);
			return;
		}
		set_str(x, FIELD(base, k->off, char *), v);
		return;
	case K_GROUP:
		if (!want(x, s, path, CONFIG_TYPE_GROUP))
			return;
		parse_group(x, s, path, k->sub, base);
		if (k->fn)
			k->fn(x, s, path, base);
		return;
	case K_FN:
		k->fn(x, s, path, base);
		return;
	}
}

/* Every member must be a known key (RULES E: unknown keys are errors); every
 * required key must be there. Members are taken in file order so the errors
 * come out in the order of the file. */
static void parse_group(struct ctx *x, const config_setting_t *g, const char *path,
			const struct key *keys, void *base)
{
	char p[PATH_LEN];
	const struct key *k;
	int i, n = config_setting_length(g);

	for (i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *name = config_setting_name(s);

		path_member(p, sizeof(p), path, name);
		for (k = keys; k->name; k++)
			if (name && strcmp(k->name, name) == 0)
				break;
		if (!k->name) {
			error_at(x, s, p, "unknown key");
			continue;
		}
		parse_value(x, s, p, k, base);
	}
	for (k = keys; k->name; k++) {
		if ((k->flags & F_REQUIRED) && !config_setting_get_member(g, k->name)) {
			path_member(p, sizeof(p), path, k->name);
			error_at(x, g, p, "required key missing");
		}
	}
}

/* --- special keys -------------------------------------------------------- */

static int transport_by_name(const char *v)
{
	int t;

	for (t = 0; t < CONF_TP_MAX; t++)
		if (strcmp(v, transport_names[t]) == 0)
			return t;
	return -1;
}

/* RULES E: sip.transports names each of udp, tcp, tls at most once, at least
 * one; tls only where built with TLS. True (and tp filled) when valid. */
static bool parse_transports(struct ctx *x, const config_setting_t *s, const char *path,
			     bool tp[CONF_TP_MAX])
{
	char p[PATH_LEN], q[QUOTE_LEN];
	int i, t, n;
	bool ok = true;

	if (!want_strings(x, s, path))
		return false;
	n = config_setting_length(s);
	if (n == 0) {
		error_at(x, s, path, "must list at least one transport (udp, tcp%s)",
			 HAVE_TLS ? ", tls" : "");
		return false;
	}
	memset(tp, 0, sizeof(bool) * CONF_TP_MAX);
	for (i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		const char *v;

		path_elem(p, sizeof(p), path, i);
		if (!want(x, e, p, CONFIG_TYPE_STRING)) {
			ok = false;
			continue;
		}
		v = config_setting_get_string(e);
		t = transport_by_name(v);
		if (t < 0) {
			error_at(x, e, p, "%s is not a transport (udp, tcp%s)", quote(q, sizeof(q), v),
				 HAVE_TLS ? ", tls" : "");
			ok = false;
		} else if (t == CONF_TP_TLS && !HAVE_TLS) {
			error_at(x, e, p, "\"tls\": this build has no TLS support");
			ok = false;
		} else if (tp[t]) {
			error_at(x, e, p, "\"%s\" is listed twice", transport_names[t]);
			ok = false;
		} else {
			tp[t] = true;
		}
	}
	return ok;
}

static void fn_transports(struct ctx *x, const config_setting_t *s, const char *path, void *base)
{
	struct conf *c = base;
	bool tp[CONF_TP_MAX];

	if (parse_transports(x, s, path, tp))
		memcpy(c->transports, tp, sizeof(tp));
}

/* RULES E: control.mode is an octal string such as "0660" (a libconfig
 * integer cannot be octal). */
static void fn_mode(struct ctx *x, const config_setting_t *s, const char *path, void *base)
{
	struct conf *c = base;
	char q[QUOTE_LEN];
	const char *v;
	size_t n;

	if (!want(x, s, path, CONFIG_TYPE_STRING))
		return;
	v = config_setting_get_string(s);
	n = strlen(v);
	if (n < 1 || n > 4 || strspn(v, "01234567") != n) {
		error_at(x, s, path, "%s is not an octal file mode (1 to 4 octal digits, e.g. \"0660\")",
			 quote(q, sizeof(q), v));
		return;
	}
	c->ctl_mode = (unsigned)strtoul(v, NULL, 8);
}

static void fn_level(struct ctx *x, const config_setting_t *s, const char *path, void *base)
{
	struct conf *c = base;
	char q[QUOTE_LEN];
	const char *v;
	int l;

	if (!want(x, s, path, CONFIG_TYPE_STRING))
		return;
	v = config_setting_get_string(s);
	for (l = 0; l < CONF_LOG_MAX; l++) {
		if (strcmp(v, log_level_names[l]) == 0) {
			c->log_level = l;
			return;
		}
	}
	error_at(x, s, path, "%s is not a log level (error, warn, info, debug)", quote(q, sizeof(q), v));
}

/* t2 is only type-checked here; its range starts at t1 (RULES E), which may
 * come later in the group, so sip_post() checks it. */
static void fn_t2(struct ctx *x, const config_setting_t *s, const char *path, void *base)
{
	(void)base;
	want(x, s, path, CONFIG_TYPE_INT);
}

/* Where an error about sip.tls.NAME is reported: at the key when the file
 * has it, else where TLS was asked for (sip.transports). */
static const config_setting_t *tls_setting(const config_setting_t *sip, const char *name)
{
	const config_setting_t *t = config_setting_get_member(sip, "tls"), *k;
	if (t && config_setting_is_group(t) && (k = config_setting_get_member(t, name)))
		return k;
	k = config_setting_get_member(sip, "transports");
	return k ? k : sip;
}

/* RULES G.5: with "tls" in sip.transports the files must be usable now:
 * a CA bundle, and a client certificate and its key together or neither. */
static void check_tls(struct ctx *x, const config_setting_t *sip, const char *path, struct conf *c)
{
	char p[PATH_LEN], tls[PATH_LEN], why[512];
	const char *e;
	int which;

	if (!c->transports[CONF_TP_TLS])
		return;
	if (c->port == 65535) { /* TLS listens on sip.port + 1 */
		const config_setting_t *ps = config_setting_get_member(sip, "port");
		path_member(p, sizeof(p), path, "port");
		error_at(x, ps ? ps : sip, p, "65535 leaves no port for TLS (it listens on sip.port + 1)");
	}
	path_member(tls, sizeof(tls), path, "tls");
	if ((e = tlsfiles_ca(c->tls.ca_file, why, sizeof(why)))) {
		path_member(p, sizeof(p), tls, "ca_file");
		error_at(x, tls_setting(sip, "ca_file"), p, "%s", e);
	}
	if (!*c->tls.certificate != !*c->tls.key) {
		const char *have = *c->tls.certificate ? "certificate" : "key";
		const char *miss = *c->tls.certificate ? "key" : "certificate";
		path_member(p, sizeof(p), tls, miss);
		error_at(x, tls_setting(sip, have), p, "required with sip.tls.%s", have);
		return;
	}
	if (*c->tls.certificate &&
	    (e = tlsfiles_pair(c->tls.certificate, c->tls.key, &which, why, sizeof(why)))) {
		const char *k = which ? "key" : "certificate";
		path_member(p, sizeof(p), tls, k);
		error_at(x, tls_setting(sip, k), p, "%s", e);
	}
}

static void sip_post(struct ctx *x, const config_setting_t *g, const char *path, void *base)
{
	struct conf *c = base;
	check_tls(x, g, path, c);
	const config_setting_t *s1 = config_setting_get_member(g, "t1");
	const config_setting_t *s2 = config_setting_get_member(g, "t2");
	char p[PATH_LEN];
	long long t1 = c->t1, t2;

	/* A t1 that failed its own check must not also fail t2. */
	if (s1 && (!is_int(s1) || config_setting_get_int64(s1) != c->t1))
		t1 = T1_MIN;
	if (!s2) {
		/* An omitted t2 follows a large t1 rather than failing on a key
		 * the file does not have (RFC 3261 17.1.2.2: T2 >= T1). */
		if (c->t2 < c->t1)
			c->t2 = c->t1;
		return;
	}
	if (!is_int(s2))
		return;
	t2 = config_setting_get_int64(s2);
	path_member(p, sizeof(p), path, "t2");
	if (t2 < t1 || t2 > T2_MAX) {
		error_at(x, s2, p, "%lld is out of range %lld..%d (ms, t1..16000)",
			 t2, t1, T2_MAX);
		return;
	}
	c->t2 = (int)t2;
}

static void fn_server_transport(struct ctx *x, const config_setting_t *s, const char *path,
				void *base)
{
	struct conf_server *sv = base;
	char q[QUOTE_LEN];
	const char *v;
	int t;

	if (!want(x, s, path, CONFIG_TYPE_STRING))
		return;
	v = config_setting_get_string(s);
	t = transport_by_name(v);
	if (t < 0)
		error_at(x, s, path, "%s is not a transport (udp, tcp%s)", quote(q, sizeof(q), v),
			 HAVE_TLS ? ", tls" : "");
	else if (t == CONF_TP_TLS && !HAVE_TLS)
		error_at(x, s, path, "\"tls\": this build has no TLS support");
	else if (x->tp_known && !x->tp[t])
		error_at(x, s, path, "\"%s\" is not enabled in sip.transports", transport_names[t]);
	else
		sv->transport = t;
}

static const struct key server_keys[] = {
	{ .name = "host", .kind = K_STR, .flags = F_REQUIRED | F_NONEMPTY | F_NAME,
	  .off = offsetof(struct conf_server, host), .len_max = CONF_HOST_MAX, .check = check_host },
	{ .name = "port", .kind = K_INT, .off = offsetof(struct conf_server, port),
	  .min = 1, .max = 65535 },
	{ .name = "transport", .kind = K_FN, .fn = fn_server_transport },
	{ .name = "expires", .kind = K_INT, .off = offsetof(struct conf_server, expires),
	  .min = 10, .max = 86400, .unit = "s" },
	{ .name = NULL }
};

static void fn_servers(struct ctx *x, const config_setting_t *s, const char *path, void *base)
{
	struct conf_line *l = base;
	char p[PATH_LEN];
	int i, n;

	if (!want_groups(x, s, path))
		return;
	n = config_setting_length(s);
	if (n == 0) {
		error_at(x, s, path, "at least one server is required");
		return;
	}
	/* Still parsed in full, so their own errors come out too. */
	if (n > CONF_SERVERS_MAX)
		error_at(x, s, path, "at most %d servers (%d given)", CONF_SERVERS_MAX, n);
	l->servers = calloc((size_t)n, sizeof(*l->servers));
	if (!l->servers) {
		x->oom = true;
		return;
	}
	l->n_servers = n;
	for (i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		struct conf_server *sv = &l->servers[i];

		/* RULES E: port omitted (0) -> SRV, then 5060 (RFC 3263) */
		sv->port = 0;
		sv->transport = CONF_TP_UDP;
		sv->expires = DEF_EXPIRES;
		path_elem(p, sizeof(p), path, i);
		if (want(x, e, p, CONFIG_TYPE_GROUP))
			parse_group(x, e, p, server_keys, sv);
	}
}

static void fn_proxies(struct ctx *x, const config_setting_t *s, const char *path, void *base)
{
	struct conf_line *l = base;
	char p[PATH_LEN], q[QUOTE_LEN];
	const char *why;
	size_t hn;
	int i, n;

	if (!want_strings(x, s, path))
		return;
	n = config_setting_length(s);
	if (n == 0)
		return;
	if (n > CONF_PROXIES_MAX)
		error_at(x, s, path, "at most %d proxies (%d given)", CONF_PROXIES_MAX, n);
	l->proxies = calloc((size_t)n, sizeof(*l->proxies));
	if (!l->proxies) {
		x->oom = true;
		return;
	}
	l->n_proxies = n;
	for (i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		const char *v;

		path_elem(p, sizeof(p), path, i);
		if (!want(x, e, p, CONFIG_TYPE_STRING))
			continue;
		v = config_setting_get_string(e);
		if (!*v)
			error_at(x, e, p, "must not be empty");
		else if ((hn = proxy_host_len(v)) > CONF_HOST_MAX)
			error_at(x, e, p, "host part at most %d bytes (%zu given)", CONF_HOST_MAX, hn);
		else if ((why = check_proxy(v)))
			error_at(x, e, p, "%s %s", quote(q, sizeof(q), v), why);
		else
			l->proxies[i] = sdup(x, v);
	}
}

/* RULES E: id matches [a-z0-9_-]{1,32}; uniqueness is checked by fn_lines. */
static void fn_id(struct ctx *x, const config_setting_t *s, const char *path, void *base)
{
	struct conf_line *l = base;
	char q[QUOTE_LEN];
	const char *v;
	size_t n;

	if (!want(x, s, path, CONFIG_TYPE_STRING))
		return;
	v = config_setting_get_string(s);
	n = strlen(v);
	if (n < 1 || n > CONF_ID_MAX || strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789_-") != n) {
		error_at(x, s, path, "%s is not a valid id ([a-z0-9_-]{1,%d})", quote(q, sizeof(q), v),
			 CONF_ID_MAX);
		return;
	}
	memcpy(l->id, v, n + 1);
}

/* SPEC F: media.rtp_ports = [ lo, hi ]: two integers in 1024..65534, lo
 * even (RFC 3550 11: RTP on even ports), lo < hi so at least lo and its
 * RTCP port lo + 1 are in range. An odd hi is allowed: it is the RTCP port
 * of hi - 1. */
static void fn_rtp_ports(struct ctx *x, const config_setting_t *s, const char *path, void *base)
{
	struct conf *c = base;
	char p[PATH_LEN];
	long long v[2];
	int i, t = config_setting_type(s);
	bool ok = true;

	if ((t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST) || config_setting_length(s) != 2) {
		if (t == CONFIG_TYPE_ARRAY || t == CONFIG_TYPE_LIST)
			error_at(x, s, path, "expected [ lo, hi ] (two integers), got %d value%s",
				 config_setting_length(s), config_setting_length(s) == 1 ? "" : "s");
		else
			error_at(x, s, path, "expected [ lo, hi ] (two integers), got %s", type_name(t));
		return;
	}
	for (i = 0; i < 2; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);

		path_elem(p, sizeof(p), path, i);
		if (!want(x, e, p, CONFIG_TYPE_INT)) {
			ok = false;
			continue;
		}
		v[i] = config_setting_get_int64(e);
		if (v[i] < RTP_PORT_MIN || v[i] > RTP_PORT_MAX) {
			error_at(x, e, p, "%lld is out of range %d..%d", v[i], RTP_PORT_MIN, RTP_PORT_MAX);
			ok = false;
		}
	}
	if (!ok)
		return;
	if (v[0] % 2) {
		path_elem(p, sizeof(p), path, 0);
		error_at(x, config_setting_get_elem(s, 0), p,
			 "%lld is odd: RTP ports are even (RFC 3550 11)", v[0]);
		return;
	}
	if (v[1] <= v[0]) {
		error_at(x, s, path, "[ %lld, %lld ]: hi must be above lo (lo and its RTCP port lo + 1)",
			 v[0], v[1]);
		return;
	}
	c->media.rtp_lo = (int)v[0];
	c->media.rtp_hi = (int)v[1];
}

/* SPEC F: media.codecs names codecs of sdp.c's table, each once, in our
 * order of preference; telephone-event (RFC 4733) alone carries no call. */
static void fn_codecs(struct ctx *x, const config_setting_t *s, const char *path, void *base)
{
	struct conf *c = base;
	char p[PATH_LEN], q[QUOTE_LEN];
	char **list;
	int i, j, n, kept = 0;
	bool ok = true, audio = false;

	if (!want_strings(x, s, path))
		return;
	n = config_setting_length(s);
	if (n == 0) {
		error_at(x, s, path, "must list at least one audio codec (%s)", SDP_CODEC_NAMES);
		return;
	}
	if (n > CONF_CODECS_MAX) {
		error_at(x, s, path, "at most %d codecs (%d given)", CONF_CODECS_MAX, n);
		return;
	}
	list = calloc(CONF_CODECS_MAX, sizeof(*list));
	if (!list) {
		x->oom = true;
		return;
	}
	for (i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		const char *v;

		path_elem(p, sizeof(p), path, i);
		if (!want(x, e, p, CONFIG_TYPE_STRING)) {
			ok = false;
			continue;
		}
		v = config_setting_get_string(e);
		if (!sdp_codec_known(v)) {
			error_at(x, e, p, "%s is not a codec (%s)", quote(q, sizeof(q), v), SDP_CODEC_NAMES);
			ok = false;
			continue;
		}
		for (j = 0; j < kept; j++)
			if (strcmp(list[j], v) == 0)
				break;
		if (j < kept) {
			error_at(x, e, p, "\"%s\" is listed twice", v);
			ok = false;
			continue;
		}
		if (!sdp_codec_is_dtmf(v))
			audio = true;
		if ((list[kept] = sdup(x, v)))
			kept++;
	}
	if (ok && !audio) {
		error_at(x, s, path, "telephone-event alone is not a call: list an audio codec too");
		ok = false;
	}
	if (!ok || x->oom) {
		for (j = 0; j < kept; j++)
			free(list[j]);
		free(list);
		return;
	}
	for (j = 0; j < c->media.n_codecs; j++)
		free(c->media.codecs[j]);
	free(c->media.codecs);
	c->media.codecs = list;
	c->media.n_codecs = kept;
}

/* SPEC F: media.ptime, ms of audio per RTP packet, in whole 10 ms frames. */
static void fn_ptime(struct ctx *x, const config_setting_t *s, const char *path, void *base)
{
	struct conf *c = base;
	long long v;

	if (!want(x, s, path, CONFIG_TYPE_INT))
		return;
	v = config_setting_get_int64(s);
	if (v < PTIME_MIN || v > PTIME_MAX || v % 10) {
		error_at(x, s, path, "%lld is not a multiple of 10 in %d..%d (ms)", v, PTIME_MIN,
			 PTIME_MAX);
		return;
	}
	c->media.ptime = (int)v;
}

static const struct key heartbeat_keys[] = {
	{ .name = "interval", .kind = K_INT, .off = offsetof(struct conf_line, heartbeat_interval),
	  .min = 0, .max = 3600, .unit = "s; 0 = off" },
	{ .name = NULL }
};

static const struct key failover_keys[] = {
	{ .name = "retry_count", .kind = K_INT, .off = offsetof(struct conf_line, retry_count),
	  .min = 1, .max = 10 },
	{ .name = "return_delay", .kind = K_INT, .off = offsetof(struct conf_line, return_delay),
	  .min = 1, .max = 86400, .unit = "s" },
	{ .name = "retry_delay", .kind = K_INT, .off = offsetof(struct conf_line, retry_delay),
	  .min = 1, .max = 86400, .unit = "s" },
	{ .name = NULL }
};

static const struct key failback_keys[] = {
	{ .name = "enabled", .kind = K_BOOL, .off = offsetof(struct conf_line, failback_enabled) },
	{ .name = "interval", .kind = K_INT, .off = offsetof(struct conf_line, failback_interval),
	  .min = 1, .max = 86400, .unit = "s" },
	{ .name = NULL }
};

static const struct key line_keys[] = {
	{ .name = "id", .kind = K_FN, .flags = F_REQUIRED, .fn = fn_id },
	{ .name = "enabled", .kind = K_BOOL, .off = offsetof(struct conf_line, enabled) },
	{ .name = "user", .kind = K_STR, .flags = F_REQUIRED | F_NONEMPTY,
	  .off = offsetof(struct conf_line, user), .len_max = CONF_USER_MAX, .check = check_user },
	{ .name = "domain", .kind = K_STR, .flags = F_REQUIRED | F_NONEMPTY | F_NAME,
	  .off = offsetof(struct conf_line, domain), .len_max = CONF_DOMAIN_MAX, .check = check_host },
	/* "" would not mean "use user"; omitting the key does (RULES E) */
	{ .name = "auth_user", .kind = K_STR, .flags = F_NONEMPTY,
	  .off = offsetof(struct conf_line, auth_user), .len_max = CONF_USER_MAX },
	{ .name = "password", .kind = K_STR, .flags = F_SECRET,
	  .off = offsetof(struct conf_line, password), .len_max = CONF_PASSWORD_MAX },
	{ .name = "display_name", .kind = K_STR, .off = offsetof(struct conf_line, display_name),
	  .len_max = CONF_DISPLAY_NAME_MAX },
	{ .name = "servers", .kind = K_FN, .flags = F_REQUIRED, .fn = fn_servers },
	{ .name = "outbound_proxies", .kind = K_FN, .fn = fn_proxies },
	{ .name = "heartbeat", .kind = K_GROUP, .sub = heartbeat_keys },
	{ .name = "failover", .kind = K_GROUP, .sub = failover_keys },
	{ .name = "failback", .kind = K_GROUP, .sub = failback_keys },
	{ .name = "max_calls", .kind = K_INT, .off = offsetof(struct conf_line, max_calls),
	  .min = 1, .max = CONF_CALLS_MAX },
	{ .name = NULL }
};

static void line_defaults(struct ctx *x, struct conf_line *l)
{
	l->enabled = true;
	l->auth_user = NULL;    /* filled from user after parsing */
	l->password = sdup(x, "");
	l->display_name = sdup(x, "");
	l->heartbeat_interval = DEF_HEARTBEAT;
	l->retry_count = DEF_RETRY_COUNT;
	l->return_delay = DEF_RETURN_DELAY;
	l->retry_delay = DEF_RETRY_DELAY;
	l->failback_enabled = true;
	l->failback_interval = DEF_FAILBACK;
	l->max_calls = DEF_MAX_CALLS;
}

static void fn_lines(struct ctx *x, const config_setting_t *s, const char *path, void *base)
{
	struct conf *c = base;
	char p[PATH_LEN], pj[PATH_LEN];
	int i, j, n;

	if (!want_groups(x, s, path))
		return;
	n = config_setting_length(s);
	if (n == 0)
		return;    /* a daemon with no lines is valid */
	if (n > CONF_LINES_MAX)
		error_at(x, s, path, "at most %d lines (%d given)", CONF_LINES_MAX, n);
	c->lines = calloc((size_t)n, sizeof(*c->lines));
	if (!c->lines) {
		x->oom = true;
		return;
	}
	c->n_lines = n;
	for (i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		struct conf_line *l = &c->lines[i];

		line_defaults(x, l);
		path_elem(p, sizeof(p), path, i);
		if (!want(x, e, p, CONFIG_TYPE_GROUP))
			continue;
		parse_group(x, e, p, line_keys, l);
		if (!l->auth_user && l->user)
			l->auth_user = sdup(x, l->user);
		if (!l->id[0])
			continue;
		/* RULES E: duplicate ids are errors; name both settings. */
		for (j = 0; j < i; j++) {
			const config_setting_t *a, *b;

			if (strcmp(c->lines[j].id, l->id) != 0)
				continue;
			a = config_setting_get_member(config_setting_get_elem(s, (unsigned)j), "id");
			b = config_setting_get_member(e, "id");
			path_member(pj, sizeof(pj), p, "id");
			path_elem(p, sizeof(p), path, j);
			error_at(x, b, pj, "duplicate id \"%s\", already used by %s.id at %s:%u",
				 l->id, p, setting_file(x, a), config_setting_source_line(a));
			break;
		}
	}
}

static const struct key control_keys[] = {
	{ .name = "socket", .kind = K_STR, .flags = F_NONEMPTY,
	  .off = offsetof(struct conf, ctl_socket), .len_max = CONF_SOCKET_MAX },
	{ .name = "mode", .kind = K_FN, .fn = fn_mode },
	{ .name = "group", .kind = K_STR, .off = offsetof(struct conf, ctl_group),
	  .len_max = CONF_GROUP_MAX },
	{ .name = NULL }
};

static const struct key storage_keys[] = {
	{ .name = "database", .kind = K_STR, .flags = F_NONEMPTY,
	  .off = offsetof(struct conf, database), .len_max = CONF_PATH_MAX },
	{ .name = NULL }
};

static const struct key log_keys[] = {
	{ .name = "level", .kind = K_FN, .fn = fn_level },
	{ .name = NULL }
};

/* SPEC G: sip.tls. The files are checked in sip_post (RULES G.5). */
static const struct key tls_keys[] = {
	{ .name = "ca_file", .kind = K_STR, .flags = F_NONEMPTY,
	  .off = offsetof(struct conf, tls.ca_file), .len_max = CONF_PATH_MAX },
	{ .name = "verify", .kind = K_BOOL, .off = offsetof(struct conf, tls.verify) },
	{ .name = "certificate", .kind = K_STR, .off = offsetof(struct conf, tls.certificate),
	  .len_max = CONF_PATH_MAX },
	{ .name = "key", .kind = K_STR, .off = offsetof(struct conf, tls.key), .len_max = CONF_PATH_MAX },
	{ .name = NULL }
};

static const struct key sip_keys[] = {
	{ .name = "listen", .kind = K_STR, .flags = F_NONEMPTY,
	  .off = offsetof(struct conf, listen), .check = check_ip },
	{ .name = "port", .kind = K_INT, .off = offsetof(struct conf, port),
	  .min = 0, .max = 65535, .unit = "0 = any free port" },
	{ .name = "transports", .kind = K_FN, .fn = fn_transports },
	{ .name = "user_agent", .kind = K_STR, .flags = F_NONEMPTY,
	  .off = offsetof(struct conf, user_agent), .len_max = CONF_USER_AGENT_MAX },
	{ .name = "t1", .kind = K_INT, .off = offsetof(struct conf, t1),
	  .min = T1_MIN, .max = T1_MAX, .unit = "ms" },
	{ .name = "t2", .kind = K_FN, .fn = fn_t2 },
	{ .name = "resolv_conf", .kind = K_STR, .flags = F_NONEMPTY,
	  .off = offsetof(struct conf, resolv_conf), .len_max = CONF_PATH_MAX },
	{ .name = "dns_timeout", .kind = K_INT, .off = offsetof(struct conf, dns_timeout),
	  .min = 1, .max = 60, .unit = "s" },
	{ .name = "start_spread", .kind = K_INT, .off = offsetof(struct conf, start_spread),
	  .min = 0, .max = 3600, .unit = "s; 0 = none" },
	{ .name = "tls", .kind = K_GROUP, .sub = tls_keys },
	{ .name = NULL }
};

static const struct key media_keys[] = {
	{ .name = "address", .kind = K_STR, .off = offsetof(struct conf, media.address),
	  .len_max = SDP_ADDR_MAX - 1, .check = check_media_address },
	{ .name = "rtp_ports", .kind = K_FN, .fn = fn_rtp_ports },
	{ .name = "codecs", .kind = K_FN, .fn = fn_codecs },
	{ .name = "ptime", .kind = K_FN, .fn = fn_ptime },
	{ .name = "hook", .kind = K_STR, .off = offsetof(struct conf, media.hook),
	  .len_max = CONF_PATH_MAX },
	{ .name = NULL }
};

/* RULES E: every top-level section is optional. */
static const struct key root_keys[] = {
	{ .name = "control", .kind = K_GROUP, .sub = control_keys },
	{ .name = "storage", .kind = K_GROUP, .sub = storage_keys },
	{ .name = "log", .kind = K_GROUP, .sub = log_keys },
	{ .name = "sip", .kind = K_GROUP, .sub = sip_keys, .fn = sip_post },
	{ .name = "media", .kind = K_GROUP, .sub = media_keys },
	{ .name = "lines", .kind = K_FN, .fn = fn_lines },
	{ .name = NULL }
};

static void conf_defaults(struct ctx *x, struct conf *c)
{
	c->ctl_socket = sdup(x, DEF_CTL_SOCKET);
	c->ctl_mode = DEF_CTL_MODE;
	c->ctl_group = sdup(x, DEF_CTL_GROUP);
	c->database = sdup(x, DEF_DATABASE);
	c->log_level = DEF_LOG_LEVEL;
	c->listen = sdup(x, DEF_LISTEN);
	c->port = DEF_PORT;
	c->transports[CONF_TP_UDP] = true;
	c->transports[CONF_TP_TCP] = true;
	c->user_agent = sdup(x, DEF_USER_AGENT);
	c->t1 = DEF_T1;
	c->t2 = DEF_T2;
	c->resolv_conf = sdup(x, DEF_RESOLV_CONF);
	c->dns_timeout = DEF_DNS_TIMEOUT;
	c->start_spread = DEF_START_SPREAD;
	c->tls.ca_file = sdup(x, CONF_TLS_CA_DEFAULT);
	c->tls.verify = true;
	c->tls.certificate = sdup(x, "");
	c->tls.key = sdup(x, "");
	c->media.address = sdup(x, DEF_MEDIA_ADDR);
	c->media.rtp_lo = DEF_RTP_LO;
	c->media.rtp_hi = DEF_RTP_HI;
	c->media.ptime = DEF_PTIME;
	c->media.hook = sdup(x, DEF_HOOK);
	c->media.codecs = calloc(CONF_CODECS_MAX, sizeof(*c->media.codecs));
	if (!c->media.codecs) {
		x->oom = true;
		return;
	}
	for (size_t i = 0; i < sizeof(def_codecs) / sizeof(def_codecs[0]); i++)
		c->media.codecs[c->media.n_codecs++] = sdup(x, def_codecs[i]);
}

/* The servers' transports are checked against sip.transports wherever the
 * sip section stands in the file, so learn it first, silently: its own errors
 * are reported when the section itself is parsed. */
static void prescan_transports(struct ctx *x, const config_setting_t *root)
{
	const config_setting_t *sip = config_setting_get_member(root, "sip"), *t;

	x->tp_known = true;
	x->tp[CONF_TP_UDP] = true;
	x->tp[CONF_TP_TCP] = true;
	x->tp[CONF_TP_TLS] = false;
	if (!sip)
		return;
	if (!config_setting_is_group(sip)) {
		x->tp_known = false;
		return;
	}
	t = config_setting_get_member(sip, "transports");
	if (!t)
		return;
	x->quiet = true;
	x->tp_known = parse_transports(x, t, "", x->tp);
	x->quiet = false;
}

int conf_load(const char *file, struct conf **out, FILE *err)
{
	struct ctx x = { .err = err, .file = file };
	struct conf *c;
	config_t cf;
	int saved;

	c = calloc(1, sizeof(*c));
	if (!c) {
		fprintf(err, "%s: out of memory\n", file);
		return -1;
	}
	c->file = sdup(&x, file);
	conf_defaults(&x, c);

	config_init(&cf);
	errno = 0;
	if (!config_read_file(&cf, file)) {
		saved = errno;
		/* A syntax error stops libconfig at the first one. */
		if (config_error_type(&cf) == CONFIG_ERR_FILE_IO && !config_error_file(&cf))
			fprintf(err, "%s: cannot read: %s\n", file,
				saved ? strerror(saved) : config_error_text(&cf));
		else
			fprintf(err, "%s:%d: %s\n",
				config_error_file(&cf) ? config_error_file(&cf) : file,
				config_error_line(&cf), config_error_text(&cf));
		config_destroy(&cf);
		conf_free(c);
		return -1;
	}
	prescan_transports(&x, config_root_setting(&cf));
	parse_group(&x, config_root_setting(&cf), "", root_keys, c);
	flush_errors(&x);    /* before config_destroy: file names are libconfig's */
	config_destroy(&cf);

	if (x.oom)
		fprintf(err, "%s: out of memory\n", file);
	if (x.n_errors || x.oom) {
		conf_free(c);
		return -1;
	}
	*out = c;
	return 0;
}

void conf_free(struct conf *c)
{
	int i, j;

	if (!c)
		return;
	for (i = 0; i < c->n_lines; i++) {
		struct conf_line *l = &c->lines[i];

		free(l->user);
		free(l->domain);
		free(l->auth_user);
		free(l->password);
		free(l->display_name);
		for (j = 0; j < l->n_servers; j++)
			free(l->servers[j].host);
		free(l->servers);
		for (j = 0; j < l->n_proxies; j++)
			free(l->proxies[j]);
		free(l->proxies);
	}
	free(c->lines);
	free(c->file);
	free(c->ctl_socket);
	free(c->ctl_group);
	free(c->database);
	free(c->listen);
	free(c->user_agent);
	free(c->resolv_conf);
	free(c->tls.ca_file);
	free(c->tls.certificate);
	free(c->tls.key);
	free(c->media.address);
	for (i = 0; i < c->media.n_codecs; i++)
		free(c->media.codecs[i]);
	free(c->media.codecs);
	free(c->media.hook);
	free(c);
}

/* --- canonical form (sipuad -nv) ----------------------------------------- */

/* A libconfig string literal: the escapes libconfig 1.5 reads back. */
static void print_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		unsigned char ch = (unsigned char)*s;

		switch (ch) {
		case '"':  fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\n': fputs("\\n", f); break;
		case '\r': fputs("\\r", f); break;
		case '\t': fputs("\\t", f); break;
		case '\f': fputs("\\f", f); break;
		default:
			if (ch < 0x20 || ch == 0x7f)
				fprintf(f, "\\x%02x", ch);
			else
				fputc(ch, f);
		}
	}
	fputc('"', f);
}

static void print_kv_str(FILE *f, const char *ind, const char *key, const char *v)
{
	fprintf(f, "%s%s = ", ind, key);
	print_str(f, v);
	fputs(";\n", f);
}

static void print_kv_int(FILE *f, const char *ind, const char *key, int v)
{
	fprintf(f, "%s%s = %d;\n", ind, key, v);
}

static void print_kv_bool(FILE *f, const char *ind, const char *key, bool v)
{
	fprintf(f, "%s%s = %s;\n", ind, key, v ? "true" : "false");
}

static void print_line(FILE *f, const struct conf_line *l)
{
	const char *in = "    ", *in2 = "      ", *in3 = "        ";
	int i;

	print_kv_str(f, in, "id", l->id);
	print_kv_bool(f, in, "enabled", l->enabled);
	print_kv_str(f, in, "user", l->user);
	print_kv_str(f, in, "domain", l->domain);
	print_kv_str(f, in, "auth_user", l->auth_user);
	/* RULES D.13: the password never leaves the daemon; "" stays "" so the
	 * output still tells whether one is set. */
	print_kv_str(f, in, "password", l->password && *l->password ? "********" : "");
	print_kv_str(f, in, "display_name", l->display_name);
	fprintf(f, "%sservers = (\n", in);
	for (i = 0; i < l->n_servers; i++) {
		const struct conf_server *sv = &l->servers[i];

		fprintf(f, "%s{\n", in2);
		print_kv_str(f, in3, "host", sv->host);
		if (sv->port)
			print_kv_int(f, in3, "port", sv->port);
		else
			fprintf(f, "%s# port omitted: SRV, then 5060\n", in3);
		print_kv_str(f, in3, "transport", conf_transport_name(sv->transport));
		print_kv_int(f, in3, "expires", sv->expires);
		fprintf(f, "%s}%s\n", in2, i + 1 < l->n_servers ? "," : "");
	}
	fprintf(f, "%s);\n", in);
	fprintf(f, "%soutbound_proxies = [", in);
	for (i = 0; i < l->n_proxies; i++) {
		fputs(i ? ", " : " ", f);
		print_str(f, l->proxies[i]);
	}
	fputs(" ];\n", f);
	fprintf(f, "%sheartbeat = {\n", in);
	print_kv_int(f, in2, "interval", l->heartbeat_interval);
	fprintf(f, "%s};\n", in);
	fprintf(f, "%sfailover = {\n", in);
	print_kv_int(f, in2, "retry_count", l->retry_count);
	print_kv_int(f, in2, "return_delay", l->return_delay);
	print_kv_int(f, in2, "retry_delay", l->retry_delay);
	fprintf(f, "%s};\n", in);
	fprintf(f, "%sfailback = {\n", in);
	print_kv_bool(f, in2, "enabled", l->failback_enabled);
	print_kv_int(f, in2, "interval", l->failback_interval);
	fprintf(f, "%s};\n", in);
	print_kv_int(f, in, "max_calls", l->max_calls);
}

/* Every key in RULES E order with the defaults filled in, as libconfig text
 * that conf_load reads back (a masked password then reads as "********"). */
void conf_print(const struct conf *c, FILE *f)
{
	const char *in = "  ";
	int i, n;

	fputs("control = {\n", f);
	print_kv_str(f, in, "socket", c->ctl_socket);
	fprintf(f, "%smode = \"%04o\";\n", in, c->ctl_mode);
	print_kv_str(f, in, "group", c->ctl_group);
	fputs("};\n", f);

	fputs("storage = {\n", f);
	print_kv_str(f, in, "database", c->database);
	fputs("};\n", f);

	fputs("log = {\n", f);
	print_kv_str(f, in, "level", conf_log_level_name(c->log_level));
	fputs("};\n", f);

	fputs("sip = {\n", f);
	print_kv_str(f, in, "listen", c->listen);
	print_kv_int(f, in, "port", c->port);
	fprintf(f, "%stransports = [", in);
	for (i = 0, n = 0; i < CONF_TP_MAX; i++) {
		if (!c->transports[i])
			continue;
		fprintf(f, "%s\"%s\"", n++ ? ", " : " ", transport_names[i]);
	}
	fputs(" ];\n", f);
	print_kv_str(f, in, "user_agent", c->user_agent);
	print_kv_int(f, in, "t1", c->t1);
	print_kv_int(f, in, "t2", c->t2);
	print_kv_str(f, in, "resolv_conf", c->resolv_conf);
	print_kv_int(f, in, "dns_timeout", c->dns_timeout);
	print_kv_int(f, in, "start_spread", c->start_spread);
	fprintf(f, "%stls = {\n", in);
	print_kv_str(f, "    ", "ca_file", c->tls.ca_file);
	print_kv_bool(f, "    ", "verify", c->tls.verify);
	print_kv_str(f, "    ", "certificate", c->tls.certificate);
	print_kv_str(f, "    ", "key", c->tls.key);
	fprintf(f, "%s};\n", in);
	fputs("};\n", f);

	fputs("media = {\n", f);
	print_kv_str(f, in, "address", c->media.address);
	fprintf(f, "%srtp_ports = [ %d, %d ];\n", in, c->media.rtp_lo, c->media.rtp_hi);
	fprintf(f, "%scodecs = [", in);
	for (i = 0; i < c->media.n_codecs; i++) {
		fputs(i ? ", " : " ", f);
		print_str(f, c->media.codecs[i]);
	}
	fputs(" ];\n", f);
	print_kv_int(f, in, "ptime", c->media.ptime);
	print_kv_str(f, in, "hook", c->media.hook);
	fputs("};\n", f);

	fputs("lines = (\n", f);
	for (i = 0; i < c->n_lines; i++) {
		fprintf(f, "%s{\n", in);
		print_line(f, &c->lines[i]);
		fprintf(f, "%s}%s\n", in, i + 1 < c->n_lines ? "," : "");
	}
	fputs(");\n", f);
}

/* --- comparisons ------------------------------------------------------- */

static bool str_eq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

/* Reload (RULES D.9) restarts a line only when this is false, so every field
 * that changes its behaviour is compared, the password included. */
bool conf_line_equal(const struct conf_line *a, const struct conf_line *b)
{
	int i;

	if (a == b)
		return true;
	if (!a || !b)
		return false;
	if (strcmp(a->id, b->id) != 0 || a->enabled != b->enabled ||
	    !str_eq(a->user, b->user) || !str_eq(a->domain, b->domain) ||
	    !str_eq(a->auth_user, b->auth_user) || !str_eq(a->password, b->password) ||
	    !str_eq(a->display_name, b->display_name) ||
	    a->n_servers != b->n_servers || a->n_proxies != b->n_proxies ||
	    a->heartbeat_interval != b->heartbeat_interval ||
	    a->retry_count != b->retry_count || a->return_delay != b->return_delay ||
	    a->retry_delay != b->retry_delay || a->failback_enabled != b->failback_enabled ||
	    a->failback_interval != b->failback_interval || a->max_calls != b->max_calls)
		return false;
	for (i = 0; i < a->n_servers; i++) {
		const struct conf_server *x = &a->servers[i], *y = &b->servers[i];

		if (!str_eq(x->host, y->host) || x->port != y->port ||
		    x->transport != y->transport || x->expires != y->expires)
			return false;
	}
	for (i = 0; i < a->n_proxies; i++)
		if (!str_eq(a->proxies[i], b->proxies[i]))
			return false;
	return true;
}

const struct conf_line *conf_find_line(const struct conf *c, const char *id)
{
	int i;

	if (!c || !id)
		return NULL;
	for (i = 0; i < c->n_lines; i++)
		if (strcmp(c->lines[i].id, id) == 0)
			return &c->lines[i];
	return NULL;
}
