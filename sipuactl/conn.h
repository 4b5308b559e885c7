/* conn.h - sipuactl's blocking client of the control socket: connect,
 * send a request, read '\n'-terminated lines, each step bounded by a
 * deadline. */
#ifndef SIPUACTL_CONN_H
#define SIPUACTL_CONN_H

#include <stddef.h>
#include <time.h>

/* A connection to the daemon and the bytes read from it but not yet
 * handed out as lines. */
struct conn {
	int fd;                       /* -1: not open */
	char *buf;
	size_t len;                   /* bytes in buf */
	size_t cap;
	size_t used;                  /* leading bytes already handed out */
	size_t scanned;               /* leading bytes known to hold no '\n' */
};

/* The CLOCK_MONOTONIC time timeout seconds from now. */
void conn_deadline(struct timespec *deadline, double timeout);
/* Connects to the socket at path, giving up after timeout seconds if the
 * daemon's backlog is full: 0 or -errno (-EAGAIN for that time-out). */
int conn_open(struct conn *c, const char *path, double timeout);
/* Sends all len bytes: 0, -ETIMEDOUT at the deadline, or -errno. */
int conn_write(struct conn *c, const char *p, size_t len, const struct timespec *deadline);
/* One line of at most CTL_REPLY_MAX bytes (deadline NULL: wait for ever):
 * 1 with *line, 0 if the daemon closed first, or -errno (see conn.c). */
int conn_read_line(struct conn *c, const struct timespec *deadline, char **line, size_t *linelen);
/* Closes and frees; c is then as { .fd = -1 }. */
void conn_close(struct conn *c);

#endif
