/* log.c - one sink for every log line of the process: syslog or stderr. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include <sofia-sip/su_log.h>

#include "config.h"
#include "log.h"

#define LOG_LINE_MAX 2048
/* Every configured password is masked, also those of a config reloaded
 * once; past this many distinct ones the oldest (long replaced) go. */
#define LOG_SECRETS_MAX (2 * CONF_LINES_MAX)

static int use_stderr = 1;
static enum log_level cur_level = LOG_LVL_INFO;
static char **secrets;
static int n_secrets, cap_secrets;

/* Sofia logs in fragments; its lines are assembled here before they are sent. */
static char sofia_buf[LOG_LINE_MAX];
static size_t sofia_len;
/* log_sofia_tap(): the logs tapped carry &tap_mark as their stream; the
 * line in sofia_buf came from one of them. */
static int tap_mark;
static bool sofia_tapped;
static void (*tap_fn)(const char *line, void *arg);
static void *tap_arg;

/* Modules' own log objects: each is redirected, as an unredirected one
 * falls back to Sofia's default (stderr) behaviour. */
extern su_log_t nua_log[], nta_log[], tport_log[], sresolv_log[], iptsec_log[];

static const int syslog_prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
static const char *level_tag[] = { "error", "warn", "info", "debug" };

void log_init(const char *ident, int to_stderr, enum log_level level)
{
	use_stderr = to_stderr;
	cur_level = level;
	if (!use_stderr)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void log_set_level(enum log_level level) { cur_level = level; }
enum log_level log_get_level(void) { return cur_level; }

void log_add_secret(const char *secret)
{
	if (!secret || !*secret)
		return;
	for (int i = 0; i < n_secrets; i++)
		if (strcmp(secrets[i], secret) == 0)
			return;
	if (n_secrets == LOG_SECRETS_MAX) {
		free(secrets[0]);
		memmove(secrets, secrets + 1, sizeof secrets[0] * (LOG_SECRETS_MAX - 1));
		n_secrets--;
	}
	if (n_secrets == cap_secrets) {
		int cap = cap_secrets ? 2 * cap_secrets : 16;
		char **v = realloc(secrets, sizeof *v * (size_t)cap);
		if (!v)
			return;
		secrets = v;
		cap_secrets = cap;
	}
	char *s = strdup(secret);
	if (s)
		secrets[n_secrets++] = s;
}

void log_clear_secrets(void)
{
	for (int i = 0; i < n_secrets; i++) {
		explicit_bzero(secrets[i], strlen(secrets[i]));
		free(secrets[i]);
	}
	free(secrets);
	secrets = NULL;
	n_secrets = cap_secrets = 0;
}

/* Overwrite every occurrence of a registered secret in place. */
static void mask_secrets(char *line)
{
	for (int i = 0; i < n_secrets; i++) {
		size_t len = strlen(secrets[i]);
		for (char *p = strstr(line, secrets[i]); p; p = strstr(p + len, secrets[i]))
			memset(p, '*', len);
	}
}

static void emit(enum log_level level, char *line)
{
	mask_secrets(line);
	if (use_stderr) {
		struct timespec ts;
		struct tm tm;
		char when[32];
		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		strftime(when, sizeof when, "%H:%M:%S", &tm);
		fprintf(stderr, "%s.%03ld %s: %s\n", when, ts.tv_nsec / 1000000,
			level_tag[level], line);
	} else {
		syslog(syslog_prio[level], "%s", line);
	}
}

void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];
	if (level > cur_level)
		return;
	vsnprintf(line, sizeof line, fmt, ap);
	emit(level, line);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

/* Sofia's logger is not told a message's level: below -d only its level-1
 * (critical) messages are enabled, and those are warnings for us. */
static enum log_level sofia_level(void)
{
	return cur_level >= LOG_LVL_DEBUG ? LOG_LVL_DEBUG : LOG_LVL_WARN;
}

static void emit_sofia(const char *text)
{
	char line[sizeof sofia_buf + 8];
	if (sofia_tapped && tap_fn) {
		tap_fn(text, tap_arg);
		/* raised for the tap only: what -d would not show stays out,
		 * but for what stops the stack (a port it cannot bind, a CA
		 * file OpenSSL refuses) */
		if (cur_level < LOG_LVL_DEBUG && !strstr(text, "bind(") && !strstr(text, "error loading"))
			return;
	}
	snprintf(line, sizeof line, "sofia: %s", text);
	emit(sofia_level(), line);
}

/* Sofia calls this with pieces of lines; a line is complete at '\n'. */
static void sofia_logger_cb(void *stream, char const *fmt, va_list ap)
{
	if (sofia_len == 0)
		sofia_tapped = stream == &tap_mark && tap_fn;
	size_t room = sizeof sofia_buf - sofia_len;
	int n = vsnprintf(sofia_buf + sofia_len, room, fmt, ap);
	if (n < 0)
		return;
	sofia_len += (size_t)n < room ? (size_t)n : room - 1; /* keep what fits */
	char *start = sofia_buf, *nl;
	while ((nl = memchr(start, '\n', sofia_len - (size_t)(start - sofia_buf)))) {
		*nl = '\0';
		if (nl > start)
			emit_sofia(start);
		start = nl + 1;
	}
	size_t rest = sofia_len - (size_t)(start - sofia_buf);
	if (rest == sizeof sofia_buf - 1) {
		/* A full buffer with no newline: flush it rather than lose more. */
		sofia_buf[rest] = '\0';
		emit_sofia(sofia_buf);
		rest = 0;
	}
	memmove(sofia_buf, start, rest);
	sofia_len = rest;
}

void log_redirect_sofia(void)
{
	/* Sofia's levels: 0 fatal .. 9 everything. At -d we want the protocol
	 * trace (5) but not memory dumps; otherwise only critical errors (1). */
	unsigned level = cur_level >= LOG_LVL_DEBUG ? 5 : 1;
	su_log_t *logs[] = { su_log_default, su_log_global, nua_log, nta_log,
			     tport_log, sresolv_log, iptsec_log };
	for (size_t i = 0; i < sizeof logs / sizeof logs[0]; i++) {
		su_log_redirect(logs[i], sofia_logger_cb, NULL);
		/* nta stays at 4: for a request sent with nua_method (our
		 * REGISTERs, DESIGN "SIP adapter"), 1.12.11 keeps the method
		 * name in memory nua frees with the request and prints it at
		 * level 5 when Timer K fires (ASan). tport's message trace
		 * shows every request sent and received all the same. */
		su_log_set_level(logs[i], logs[i] == nta_log && level > 4 ? 4 : level);
	}
}

void log_sofia_tap(void (*tap)(const char *line, void *arg), void *arg)
{
	tap_fn = tap;
	tap_arg = arg;
	sofia_tapped = false; /* a line begun before belongs to no tap now */
	su_log_t *logs[] = { nta_log, tport_log };
	for (size_t i = 0; i < sizeof logs / sizeof logs[0]; i++) {
		su_log_redirect(logs[i], sofia_logger_cb, tap ? &tap_mark : NULL);
		/* nta's failed request speaks at 3, tport's certificate
		 * check at 3 and its connections' closes at 5 */
		unsigned want = logs[i] == tport_log ? 5 : 3;
		if (tap && logs[i]->log_level < want)
			su_log_set_level(logs[i], want);
	}
}

void log_close(void)
{
	log_clear_secrets();
	if (!use_stderr)
		closelog();
}
