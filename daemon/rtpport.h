/* rtpport.h - even RTP ports handed to open calls (SPEC F: media.rtp_ports): pure. */
#ifndef SIPUAD_RTPPORT_H
#define SIPUAD_RTPPORT_H

/* Ports are even (RFC 3550 11: RTP on an even port, RTCP on the next odd
 * one), from the first even port >= LO up to HI; an odd HI is the RTCP port
 * of HI - 1, which is handed out. */
struct rtp_pool {
	int lo;                 /* the first even port >= the LO given */
	int hi;                 /* as given */
	int next;               /* index of the slot the search starts at */
	int n;                  /* slots: even ports lo, lo+2, ... <= hi - 1 */
	unsigned char *used;    /* n bytes, 1 = held by an open call */
};

int rtp_pool_init(struct rtp_pool *p, int lo, int hi);   /* 0, -ENOMEM, -EINVAL */
/* An even port no open call holds, -1 none. Round robin: the search goes
 * on after the port handed out last, so a port freed now comes back only
 * once the cursor has passed every other free port (a late RTP packet of
 * the old call must not reach the next one). */
int rtp_pool_get(struct rtp_pool *p);
void rtp_pool_put(struct rtp_pool *p, int port);  /* ignores ports outside or not held */
/* Mark PORT held (after a reload builds a new pool): 0, -1 outside/held. */
int rtp_pool_take(struct rtp_pool *p, int port);
void rtp_pool_free(struct rtp_pool *p);

#endif
