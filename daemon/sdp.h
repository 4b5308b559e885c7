/* sdp.h - one audio stream's SDP offer/answer (RFC 3264, RFC 4566): pure. */
#ifndef SIPUAD_SDP_H
#define SIPUAD_SDP_H

#include <stdbool.h>
#include <stddef.h>

#define SDP_MAX 1024            /* bytes of an SDP body we build, NUL included */
#define SDP_ADDR_MAX 46
/* A line of a received SDP longer than this makes the body unreadable
 * (-EPROTO): above any a=fingerprint, a=crypto or ICE candidate. */
#define SDP_LINE_MAX 1024
/* m= lines of an offer we can answer: each needs a line in the answer
 * (RFC 3264 6), and SDP_MAX must hold them all. */
#define SDP_STREAMS_MAX 8
/* Formats of one m= line we look at; those past it are ignored. */
#define SDP_FMT_MAX 32
/* What config.c names in its error for an unknown codec. */
#define SDP_CODEC_NAMES "PCMU, PCMA, G722, G729, telephone-event"

enum sdp_dir { SDP_SENDRECV, SDP_SENDONLY, SDP_RECVONLY, SDP_INACTIVE, SDP_DIR_MAX };

struct sdp_local {              /* what we offer, or accept */
	const char *address;        /* IP literal of our RTP (v4 or v6) */
	int port;                   /* even */
	char *const *codecs;        /* names, preference order; "telephone-event" = RFC 4733 DTMF */
	int n_codecs;
	int ptime;
	unsigned long long session_id; /* o= sess-id; version = session_id too is fine */
	/* Additions. Zero values keep the behaviour above. */
	unsigned long long session_version; /* o= sess-version; 0 = session_id */
	enum sdp_dir dir;           /* what we want: SDP_SENDRECV unless holding */
};

struct sdp_media {              /* the negotiated media (SPEC F contract "media") */
	char local_addr[SDP_ADDR_MAX]; int local_port;
	char remote_addr[SDP_ADDR_MAX]; int remote_port;
	char codec[32];             /* "PCMU/8000" */
	int payload;                /* RTP payload type of codec */
	int ptime;                  /* the far end's a=ptime if given, else ours */
	int dtmf;                   /* payload type of telephone-event, -1 none */
	enum sdp_dir dir;           /* OUR direction (sendrecv, or the mirror of the far end's sendonly/recvonly) */
};

/* NAME is a codec of the table (exact spelling, as config writes it). */
bool sdp_codec_known(const char *name);
/* NAME is RFC 4733 telephone-event: known, but not audio a call can carry. */
bool sdp_codec_is_dtmf(const char *name);
int sdp_offer(char *buf, size_t size, const struct sdp_local *l);   /* 0, -ENOSPC */
/* Our answer to OFFER (LEN bytes, not NUL-terminated necessarily); fills M.
 * -EPROTO: not SDP we can read, or no audio stream; -ENOENT: no codec in common (caller answers 488). */
int sdp_answer(char *buf, size_t size, const struct sdp_local *l, const char *offer, size_t len, struct sdp_media *m);
/* The far end's answer (or 183 early-media SDP) to our offer; fills M. Same errors. */
int sdp_take_answer(const struct sdp_local *l, const char *answer, size_t len, struct sdp_media *m);
const char *sdp_dir_name(enum sdp_dir d);

#endif
