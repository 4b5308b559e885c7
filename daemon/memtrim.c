/* memtrim.c - return the heap's free pages after a burst of requests (RULES I.5). */
#include <stdlib.h> /* defines __GLIBC__ on glibc */
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <event2/event.h>

#include "log.h"
#include "memtrim.h"
#include "timeutil.h"

/* Quiet this long after the last registration of a burst. */
#define MEMTRIM_QUIET_MS 5000

static struct event *trim_ev;

static void trim_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	event_free(trim_ev);
	trim_ev = NULL;
#if defined(__GLIBC__)
	/* Every REGISTER holds about 10 KB while it lasts, in small pieces
	 * between the lines' long-lived state; after a fleet's start-up or a
	 * failover of every line, glibc keeps the freed pages in the holes
	 * (bench/lines.sh: 20 KB a line at 500 registrations/s, 16 after
	 * this). malloc_trim gives the whole free pages back (madvise). */
	malloc_trim(0);
	log_debug("memory: free heap pages returned after a burst");
#endif
}

void memtrim_after_burst(struct event_base *base)
{
	if (!trim_ev && !(trim_ev = evtimer_new(base, trim_cb, NULL)))
		return;
	struct timeval tv = timeutil_tv(MEMTRIM_QUIET_MS); /* re-adding pushes it back */
	evtimer_add(trim_ev, &tv);
}

void memtrim_free(void)
{
	if (trim_ev)
		event_free(trim_ev);
	trim_ev = NULL;
}
