/* loop.c - the libevent <-> su_root adapter (DESIGN "One thread, one loop"). */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <sofia-sip/su.h>
#include <sofia-sip/su_time.h>
#include <sofia-sip/su_wait.h>

#include "log.h"
#include "loop.h"
#include "timeutil.h"

/* Bound on su_root_step() calls in one wake: a busy stack gets the loop back
 * (and other events their turn) and is resumed by an immediate re-arm. */
#define LOOP_STEPS_MAX 64
#define LOOP_FDS_MAX 1024

struct loop {
	struct event_base *base;
	su_root_t *root;
	int epfd;
	struct event *io;    /* Sofia's epoll fd readable */
	struct event *timer; /* Sofia's next timer, and kicks */
	bool su_inited;
	bool clock_set;
};

/* Sofia-SIP's test hook (1.12.11 exports it, no header declares it): su_time()
 * reads CLOCK_REALTIME, then always calls it with the value (never NULL: the
 * library's default is an empty function). Newer Sofia has su_set_time_func(). */
extern void (*_su_time)(su_time_t *tv);

#define LOOP_NTP_EPOCH 2208988800LL /* su_time_t counts from 1900 */

/* RULES I.1: Sofia's timers (nta's retransmissions and timeouts, su_timer,
 * hence nua's) are due at su_now() + delay and compared with su_now(), so
 * one armed before a wall-clock step is off by the step: back, it stalls
 * (nta's agent timer sleeps the step through); forward, it fires at once.
 * su_now() becomes the wall clock taken once at start plus CLOCK_MONOTONIC
 * elapsed since: it never steps, and stays close to real dates for what
 * Sofia prints (after a step it is off by the step; only its logs show). */
static void (*clock_prev)(su_time_t *tv);
static int64_t clock_base_us; /* wall clock at start minus monotonic then */
static int clock_users;
static bool clock_called; /* set by clock_probe(): this Sofia calls the hook */

static int64_t clock_mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void clock_probe(su_time_t *tv)
{
	(void)tv;
	clock_called = true;
}

static void clock_monotonic(su_time_t *tv)
{
	if (!tv)
		return;
	int64_t us = clock_base_us + clock_mono_us();
	tv->tv_sec = (unsigned long)(us / 1000000 + LOOP_NTP_EPOCH);
	tv->tv_usec = (unsigned long)(us % 1000000);
}

/* Before su_root and nua exist: a timer set on one clock and checked on the
 * other would be off by the difference. */
static void clock_install(void)
{
	if (clock_users++ > 0)
		return;
	struct timespec wall;
	clock_gettime(CLOCK_REALTIME, &wall);
	clock_base_us = (int64_t)wall.tv_sec * 1000000 + wall.tv_nsec / 1000 - clock_mono_us();
	clock_prev = _su_time;
	clock_called = false;
	_su_time = clock_probe;
	(void)su_now();
	_su_time = clock_monotonic;
	if (clock_called)
		log_info("loop: Sofia-SIP's timers run on CLOCK_MONOTONIC (anchored at the wall clock of start)");
	else /* a Sofia that ignores the hook: say so rather than claim it */
		log_warn("loop: Sofia-SIP ignores _su_time; its timers run on the wall clock (RULES I.1 not met)");
}

static void clock_uninstall(void)
{
	if (--clock_users > 0)
		return;
	_su_time = clock_prev;
}

/* The create hook has no context argument: it reports through this. */
static int found_epfd = -1;

static void fd_set_open(bool *open, int max)
{
	memset(open, 0, sizeof *open * (size_t)max);
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return;
	struct dirent *de;
	int own = dirfd(d); /* closed again before anyone else can open it */
	while ((de = readdir(d))) {
		char *end;
		long fd = strtol(de->d_name, &end, 10);
		if (*end == '\0' && fd >= 0 && fd < max && fd != own)
			open[fd] = true;
	}
	closedir(d);
}

static bool fd_is_eventpoll(int fd)
{
	char path[64], target[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(path, target, sizeof target - 1);
	if (n < 0)
		return false;
	target[n] = '\0';
	return strcmp(target, "anon_inode:[eventpoll]") == 0;
}

/* Sofia publishes no pollable fd: create its epoll port ourselves and learn
 * the one new eventpoll fd that appeared while it did. */
static su_port_t *epoll_port_create_hook(void)
{
	static bool before[LOOP_FDS_MAX], after[LOOP_FDS_MAX];
	fd_set_open(before, LOOP_FDS_MAX);
	su_port_t *port = su_epoll_port_create();
	fd_set_open(after, LOOP_FDS_MAX);
	found_epfd = -1;
	for (int fd = 0; fd < LOOP_FDS_MAX; fd++) {
		if (after[fd] && !before[fd] && fd_is_eventpoll(fd)) {
			if (found_epfd >= 0) { /* two candidates: cannot tell */
				found_epfd = -2;
				break;
			}
			found_epfd = fd;
		}
	}
	return port;
}

static void arm(struct loop *l, su_duration_t ms)
{
	if (ms == SU_WAIT_FOREVER) {
		evtimer_del(l->timer);
		return;
	}
	struct timeval tv = timeutil_tv(ms);
	evtimer_add(l->timer, &tv);
}

/* Run Sofia until it has nothing due, then sleep until its next timer. */
static void step(struct loop *l)
{
	for (int i = 0; i < LOOP_STEPS_MAX; i++) {
		su_duration_t next = su_root_step(l->root, 0);
		if (next != 0) {
			arm(l, next);
			return;
		}
	}
	arm(l, 0);
}

static void io_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	step(arg);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	step(arg);
}

int loop_init(struct loop **out, struct event_base *base)
{
	struct loop *l = calloc(1, sizeof *l);
	if (!l)
		return -ENOMEM;
	l->base = base;
	l->epfd = -1;
	clock_install();
	l->clock_set = true;
	if (su_init() != 0) {
		log_error("loop: su_init() failed");
		goto fail;
	}
	l->su_inited = true;
	su_port_prefer(epoll_port_create_hook, su_epoll_clone_start);
	l->root = su_root_create(l);
	if (!l->root) {
		log_error("loop: su_root_create() failed");
		goto fail;
	}
	if (found_epfd < 0 || !fd_is_eventpoll(found_epfd)) {
		log_error("loop: cannot find Sofia-SIP's epoll fd (%s); refusing to start",
			  found_epfd == -2 ? "several new eventpoll fds" : "none opened");
		goto fail;
	}
	l->epfd = found_epfd;
	/* nua must run in this thread: 1.12.11 has handle-release races in
	 * its threaded mode. */
	su_root_threading(l->root, 0);
	l->io = event_new(base, l->epfd, EV_READ | EV_PERSIST, io_cb, l);
	l->timer = evtimer_new(base, timer_cb, l);
	if (!l->io || !l->timer || event_add(l->io, NULL) != 0) {
		log_error("loop: cannot watch Sofia-SIP's epoll fd %d", l->epfd);
		goto fail;
	}
	log_debug("loop: Sofia-SIP epoll fd %d watched by libevent", l->epfd);
	*out = l;
	return 0;
fail:
	loop_free(l);
	return -EIO;
}

struct su_root_s *loop_root(const struct loop *l)
{
	return l->root;
}

void loop_kick(struct loop *l)
{
	/* Activating the timer runs step() on the next loop iteration: never
	 * re-entrantly, so this is safe inside a Sofia callback too. */
	event_active(l->timer, EV_TIMEOUT, 0);
}

void loop_free(struct loop *l)
{
	if (!l)
		return;
	if (l->io)
		event_free(l->io);
	if (l->timer)
		event_free(l->timer);
	if (l->root)
		su_root_destroy(l->root);
	if (l->su_inited)
		su_deinit();
	if (l->clock_set)
		clock_uninstall();
	free(l);
}
