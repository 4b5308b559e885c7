/* log.h - syslog or stderr, levels, Sofia-SIP's log folded in, secrets masked. */
#ifndef SIPUAD_LOG_H
#define SIPUAD_LOG_H

#include <stdarg.h>

enum log_level { LOG_LVL_ERROR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* to_stderr: log to stderr (foreground) instead of syslog. */
void log_init(const char *ident, int to_stderr, enum log_level level);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Route Sofia-SIP's own logs (su, nua, nta, tport) into ours. */
void log_redirect_sofia(void);
/* Every line of Sofia's nta and tport logs also goes to TAP (sip.c learns
 * there why a TLS connection failed and which connections closed, RULES
 * G.3, G.4); nta's log is raised to level 3 for it, tport's to 5. Below -d their lines are then not printed: the tap's
 * lines are not the operator's, and Sofia does not say which line has
 * which level (its level-1 lines of these two logs are lost with them).
 * NULL removes the tap (levels stay). */
void log_sofia_tap(void (*tap)(const char *line, void *arg), void *arg);
/* Any later log line containing SECRET prints it as ********.  Passwords
 * are registered here when the config is loaded, as a last line of defence. */
void log_add_secret(const char *secret);
void log_clear_secrets(void);
void log_close(void);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_level level, const char *fmt, va_list ap);

#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) do { if (log_get_level() >= LOG_LVL_DEBUG) log_msg(LOG_LVL_DEBUG, __VA_ARGS__); } while (0)

#endif
