/* notify.c - sd_notify without libsystemd: one datagram a state change to $NOTIFY_SOCKET. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "notify.h"

static int notify_fd = -1;
static struct sockaddr_un notify_addr;
static socklen_t notify_len;

int notify_init(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	notify_close();
	if (!path || !*path)
		return 0;
	size_t n = strlen(path);
	/* A leading '@' names a socket in the abstract namespace, as systemd
	 * documents; its sun_path starts with a NUL and is not terminated. */
	if ((path[0] != '/' && path[0] != '@') || n >= sizeof notify_addr.sun_path) {
		unsetenv("NOTIFY_SOCKET");
		return -EINVAL;
	}
	memset(&notify_addr, 0, sizeof notify_addr);
	notify_addr.sun_family = AF_UNIX;
	memcpy(notify_addr.sun_path, path, n);
	if (path[0] == '@')
		notify_addr.sun_path[0] = '\0';
	notify_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (path[0] == '/'));
	unsetenv("NOTIFY_SOCKET");
	notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	return notify_fd < 0 ? -errno : 0;
}

void notify_send(const char *msg)
{
	if (notify_fd < 0)
		return;
	/* MSG_NOSIGNAL: a manager that went away must not kill us. */
	if (sendto(notify_fd, msg, strlen(msg), MSG_NOSIGNAL | MSG_DONTWAIT,
		   (const struct sockaddr *)&notify_addr, notify_len) < 0) {
		/* ignored: see notify.h */
	}
}

void notify_ready(void)
{
	/* MAINPID: without -f the daemon is not the process the manager
	 * started; telling its PID lets a NotifyAccess=all manager follow. */
	char msg[64];
	snprintf(msg, sizeof msg, "READY=1\nMAINPID=%ld", (long)getpid());
	notify_send(msg);
}

void notify_reloading(void)
{
	struct timespec ts;
	char msg[80];
	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof msg, "RELOADING=1\nMONOTONIC_USEC=%llu",
		 (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000ULL);
	notify_send(msg);
}

void notify_stopping(void)
{
	notify_send("STOPPING=1");
}

void notify_close(void)
{
	if (notify_fd >= 0)
		close(notify_fd);
	notify_fd = -1;
}
