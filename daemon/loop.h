/* loop.h - libevent owns the one loop; Sofia-SIP's su_root is driven from it. */
#ifndef SIPUAD_LOOP_H
#define SIPUAD_LOOP_H

struct event_base;
struct su_root_s;
struct loop;

/* Create the su_root on Sofia's epoll port and hook its epoll fd into BASE.
 * Fails (and logs why) if that fd cannot be found: we refuse to start then. */
int loop_init(struct loop **out, struct event_base *base);
struct su_root_s *loop_root(const struct loop *l);
/* Make Sofia run soon: a message our thread queued into Sofia does not wake
 * its epoll fd. Cheap and safe to call from anywhere, Sofia callbacks too. */
void loop_kick(struct loop *l);
void loop_free(struct loop *l);

#endif
