/* notify.h - readiness notification to the service manager (systemd's sd_notify protocol, RULES H.2). */
#ifndef SIPUAD_NOTIFY_H
#define SIPUAD_NOTIFY_H

/* Reads NOTIFY_SOCKET (and removes it from the environment, so programs
 * sipuad starts do not speak for it). Without it every notify_* call does
 * nothing. Returns 0, or -errno when the variable is set but unusable
 * (the daemon logs that and runs on). */
int notify_init(void);

/* Each sends one datagram; failures are ignored: the manager's own
 * timeout tells the truth if a message is lost. */
void notify_ready(void);     /* READY=1: the control socket accepts */
void notify_reloading(void); /* RELOADING=1 (with MONOTONIC_USEC, which systemd >= 253 wants) */
void notify_stopping(void);  /* STOPPING=1 */
void notify_send(const char *msg);

void notify_close(void);

#endif
