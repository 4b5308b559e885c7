/* conn.c - sipuactl's blocking client of the control socket: the socket is
 * non-blocking and every wait is a poll() bounded by the caller's deadline,
 * so -t holds whatever the daemon does. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "conn.h"
#include "ctl_proto.h"
#include "xmalloc.h"

#define RECV_FIRST 4096        /* first size of the receive buffer; doubles up to CTL_REPLY_MAX */

void conn_deadline(struct timespec *deadline, double timeout)
{
	clock_gettime(CLOCK_MONOTONIC, deadline);
	deadline->tv_sec += (time_t)timeout;
	deadline->tv_nsec += (long)((timeout - (double)(time_t)timeout) * 1e9);
	if (deadline->tv_nsec >= 1000000000L) {
		deadline->tv_sec++;
		deadline->tv_nsec -= 1000000000L;
	}
}

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

int conn_open(struct conn *c, const char *path, double timeout)
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

int conn_write(struct conn *c, const char *p, size_t len, const struct timespec *deadline)
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
int conn_read_line(struct conn *c, const struct timespec *deadline, char **line, size_t *linelen)
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

void conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->buf);
	memset(c, 0, sizeof *c);
	c->fd = -1;
}

