/* memtrim.h - give the heap's free pages back once a burst of SIP requests
 * is over. */
#ifndef SIPUAD_MEMTRIM_H
#define SIPUAD_MEMTRIM_H

struct event_base;

/* A burst is going on (a line registered): once nothing more has happened
 * for a few seconds, the free pages go back to the system. Costs nothing
 * when idle: the timer exists only while a burst settles. */
void memtrim_after_burst(struct event_base *base);
/* Drop the timer (before its event base goes). */
void memtrim_free(void);

#endif
