/* test_notify.c - the sd_notify datagrams reach $NOTIFY_SOCKET (path and
 * abstract), and nothing is sent or broken without it. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "notify.h"
#include "unit.h"

/* A datagram socket bound to NAME (a path, or "@..." for the abstract
 * namespace) with a receive timeout, so a missing message fails the test
 * instead of hanging it. */
static int listener(const char *name)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	size_t n = strlen(name);
	memcpy(sun.sun_path, name, n);
	if (name[0] == '@')
		sun.sun_path[0] = '\0';
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct timeval tv = { .tv_sec = 2 };
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0 ||
	    bind(fd, (struct sockaddr *)&sun,
		 (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (name[0] == '/'))) != 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int recv_msg(int fd, char *buf, size_t size)
{
	ssize_t r = recv(fd, buf, size - 1, 0);
	if (r < 0)
		return -1;
	buf[r] = '\0';
	return 0;
}

static int sequence(const char *name)
{
	char buf[256], want[64];
	int fd = listener(name);
	CHECK(fd >= 0);
	setenv("NOTIFY_SOCKET", name, 1);
	CHECK_INT(notify_init(), 0);
	CHECK(getenv("NOTIFY_SOCKET") == NULL); /* children do not inherit it */
	notify_ready();
	notify_reloading();
	notify_ready();
	notify_stopping();
	notify_close();
	snprintf(want, sizeof want, "READY=1\nMAINPID=%ld", (long)getpid());
	CHECK(recv_msg(fd, buf, sizeof buf) == 0);
	CHECK_STR(buf, want);
	CHECK(recv_msg(fd, buf, sizeof buf) == 0);
	CHECK(strncmp(buf, "RELOADING=1\nMONOTONIC_USEC=", 27) == 0);
	CHECK(strtoull(buf + 27, NULL, 10) > 0);
	CHECK(recv_msg(fd, buf, sizeof buf) == 0);
	CHECK_STR(buf, want);
	CHECK(recv_msg(fd, buf, sizeof buf) == 0);
	CHECK_STR(buf, "STOPPING=1");
	close(fd);
	return 0;
}

TEST(notify_path_socket)
{
	char dir[] = "/tmp/sipuad-notify.XXXXXX", path[64];
	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof path, "%s/notify", dir);
	int rc = sequence(path);
	unlink(path);
	rmdir(dir);
	return rc;
}

TEST(notify_abstract_socket)
{
	char name[64];
	snprintf(name, sizeof name, "@sipuad-notify-test-%ld", (long)getpid());
	return sequence(name);
}

TEST(notify_without_socket)
{
	unsetenv("NOTIFY_SOCKET");
	CHECK_INT(notify_init(), 0);
	notify_ready(); /* no socket: nothing happens, nothing breaks */
	notify_stopping();
	notify_close();
	setenv("NOTIFY_SOCKET", "relative/path", 1);
	CHECK_INT(notify_init(), -EINVAL);
	notify_ready();
	notify_close();
	return 0;
}
