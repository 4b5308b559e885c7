/* rtpport.c - the pool of even RTP ports media.rtp_ports hands to calls; pure. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rtpport.h"

int rtp_pool_init(struct rtp_pool *p, int lo, int hi)
{
	int first = lo + (lo & 1);

	memset(p, 0, sizeof(*p));
	/* RTP needs the odd port above it for RTCP: the last slot is hi - 1. */
	if (lo < 1 || hi > 65535 || first + 1 > hi)
		return -EINVAL;
	p->lo = first;
	p->hi = hi;
	p->n = (hi - first + 1) / 2;
	p->used = calloc((size_t)p->n, 1);
	if (!p->used) {
		p->n = 0;
		return -ENOMEM;
	}
	return 0;
}

/* The slot of PORT, -1 when it is not a port of the pool. */
static int slot(const struct rtp_pool *p, int port)
{
	if (!p->used || port < p->lo || (port & 1) || (port - p->lo) / 2 >= p->n)
		return -1;
	return (port - p->lo) / 2;
}

int rtp_pool_get(struct rtp_pool *p)
{
	int i, k;

	for (i = 0; i < p->n; i++) {
		k = (p->next + i) % p->n;
		if (!p->used[k]) {
			p->used[k] = 1;
			/* Start after it next time: every other free port comes
			 * first, so a port freed now is the last to return. */
			p->next = (k + 1) % p->n;
			return p->lo + 2 * k;
		}
	}
	return -1;
}

void rtp_pool_put(struct rtp_pool *p, int port)
{
	int k = slot(p, port);

	if (k >= 0)
		p->used[k] = 0;
}

int rtp_pool_take(struct rtp_pool *p, int port)
{
	int k = slot(p, port);

	if (k < 0 || p->used[k])
		return -1;
	p->used[k] = 1;
	return 0;
}

void rtp_pool_free(struct rtp_pool *p)
{
	free(p->used);
	memset(p, 0, sizeof(*p));
}
