/* hook.h - runs the media hook program (SPEC F: media.hook) without ever blocking the loop. */
#ifndef SIPUAD_HOOK_H
#define SIPUAD_HOOK_H

#include <stdbool.h>

struct event_base;
struct hook;

/* SPEC F: "killed after 10 s". */
#define HOOK_TIMEOUT_MS 10000
/* At most this many hooks run at once; further runs wait in a FIFO of
 * HOOK_QUEUE_MAX and start as others end; past that, runs are dropped (with
 * a rate-limited warning). Why these numbers: a phone or ATA has a few
 * lines of max_calls 2 (SPEC F's default), and a call makes about five runs
 * (calling, ringing, early, established, closed) in its first seconds, so
 * a burst of every call of an 8-port device changing state at once fits in
 * running + queued. A hook that hangs holds one of 16 slots for 10 s, and
 * 16 forked shells at once are what a small device can afford. Past
 * 16 + 64 something floods us (or every hook hangs): queueing more would
 * only grow memory and delay every later run, so newer runs are dropped
 * and the older, queued ones keep their order. */
#define HOOK_RUNNING_MAX 16
#define HOOK_QUEUE_MAX 64

struct hook *hook_new(struct event_base *base);
/* Kills (SIGKILL, whole process group) what still runs, reaps it, frees. */
void hook_free(struct hook *h);
/* Start PROGRAM ARG1 ARG2 with ENV ("NAME=value" strings, NULL-terminated) added to the
 * daemon's environment. Returns 0 when started (or queued), <0 when it cannot (logged).
 * Runs with the same ARG1 (the call) never overlap and start in the order
 * asked, so a hook sees a call's states in order ("closed" after
 * "established") even when one of them is slow. */
int hook_run(struct hook *h, const char *program, const char *arg1, const char *arg2, char *const env[]);
/* How many are running now (for tests and status). */
int hook_running(const struct hook *h);
/* How many wait for a slot. */
int hook_queued(const struct hook *h);

/* Counts since hook_new (for tests and status). */
struct hook_stats {
	unsigned long started;   /* forked */
	unsigned long ok;        /* exited 0 */
	unsigned long failed;    /* exited non-zero or died by a signal, timeouts included */
	unsigned long timed_out; /* killed by us at the timeout */
	unsigned long refused;   /* hook_run < 0: not found, not executable, bad arguments */
	unsigned long dropped;   /* the queue was full */
};
void hook_get_stats(const struct hook *h, struct hook_stats *out);

/* For tests only: whether the child closes our descriptors with
 * close_range (Linux 5.9; the default) or with the loop older kernels get. */
void hook_set_close_range(struct hook *h, bool use);
/* For tests only: the timeout (HOOK_TIMEOUT_MS by default) of runs started from now on. */
void hook_set_timeout_ms(struct hook *h, int ms);

#endif
