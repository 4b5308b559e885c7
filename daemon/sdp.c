/* sdp.c - one audio stream's SDP offer/answer (RFC 3264, RFC 4566); pure.
 *
 * sipuad negotiates media but carries none (SPEC F): it reads the far end's
 * SDP for one audio stream, picks a codec, and says what it picked. The body
 * comes off the network, so the reader is bounded: every line is copied into
 * a fixed buffer (longer lines make the body unreadable), nothing is read
 * past LEN, a NUL anywhere is refused, and at most SDP_STREAMS_MAX streams
 * and SDP_FMT_MAX formats per stream are kept. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "sdp.h"

/* RFC 3551 table 4; G722's RTP clock is 8000 although it samples at 16 kHz
 * (RFC 3551 4.5.2). telephone-event has no static number: 101 is the
 * customary one, and an answer uses the offerer's (RFC 4733 2.1). */
struct codec {
	const char *name;
	int pt;
	bool dtmf;
};

#define CLOCK 8000
#define PT_DYNAMIC 96       /* RFC 3551 6: 96..127 are dynamic */

static const struct codec codecs[] = {
	{ "PCMU", 0, false },
	{ "PCMA", 8, false },
	{ "G722", 9, false },
	{ "G729", 18, false },
	{ "telephone-event", 101, true },
};
#define N_CODECS ((int)(sizeof(codecs) / sizeof(codecs[0])))

static const char *const dir_names[SDP_DIR_MAX] = {
	[SDP_SENDRECV] = "sendrecv",
	[SDP_SENDONLY] = "sendonly",
	[SDP_RECVONLY] = "recvonly",
	[SDP_INACTIVE] = "inactive",
};

const char *sdp_dir_name(enum sdp_dir d)
{
	return (unsigned)d < SDP_DIR_MAX ? dir_names[d] : "?";
}

static int codec_by_name(const char *name)
{
	int i;

	for (i = 0; i < N_CODECS; i++)
		if (strcmp(codecs[i].name, name) == 0)
			return i;
	return -1;
}

bool sdp_codec_known(const char *name)
{
	return name && codec_by_name(name) >= 0;
}

bool sdp_codec_is_dtmf(const char *name)
{
	int i = name ? codec_by_name(name) : -1;

	return i >= 0 && codecs[i].dtmf;
}

/* --- directions ----------------------------------------------------------- */

/* As two bits from the point of view of the side that wrote them. */
#define D_SEND 1
#define D_RECV 2

static int dir_bits(enum sdp_dir d)
{
	switch (d) {
	case SDP_SENDRECV: return D_SEND | D_RECV;
	case SDP_SENDONLY: return D_SEND;
	case SDP_RECVONLY: return D_RECV;
	default:           return 0;
	}
}

static enum sdp_dir dir_of_bits(int b)
{
	switch (b) {
	case D_SEND | D_RECV: return SDP_SENDRECV;
	case D_SEND:          return SDP_SENDONLY;
	case D_RECV:          return SDP_RECVONLY;
	default:              return SDP_INACTIVE;
	}
}

/* --- reading -------------------------------------------------------------- */

#define NO_RTPMAP (-2)      /* fmt.codec before any a=rtpmap names it */
#define UNKNOWN (-1)        /* a codec that is not in our table */

struct fmt {
	int pt;
	int codec;              /* index in codecs[], UNKNOWN or NO_RTPMAP */
};

struct stream {
	char media[16];         /* "audio" */
	char proto[24];         /* "RTP/AVP" */
	char fmt0[16];          /* the first format, echoed when we refuse it */
	int port;
	struct fmt fmts[SDP_FMT_MAX];
	int n_fmts;
	char addr[SDP_ADDR_MAX];  /* c= of the stream, "" = the session's */
	int dir;                /* enum sdp_dir, -1 = the session's */
	int ptime;              /* 0 = the session's */
};

struct parsed {
	char addr[SDP_ADDR_MAX];  /* session-level c=, "" = none */
	int dir;                /* session-level direction, -1 = none (sendrecv) */
	int ptime;              /* a=ptime at session level: not RFC 4566, but sent */
	struct stream s[SDP_STREAMS_MAX];
	int n;
};

/* A decimal number of at most MAX at *P, which moves past it; -1 if none. */
static long number(const char **p, long max)
{
	const char *s = *p;
	long v = 0;

	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		v = v * 10 + (*s - '0');
		if (v > max)
			return -1;
	}
	*p = s;
	return v;
}

/* The next space-separated token of *P (NUL-terminated in place), or NULL.
 * RFC 4566 separates fields by one space; more are forgiven. */
static char *token(char **p)
{
	char *s = *p, *t;

	while (*s == ' ' || *s == '\t')
		s++;
	if (!*s)
		return NULL;
	t = s;
	while (*s && *s != ' ' && *s != '\t')
		s++;
	if (*s)
		*s++ = '\0';
	*p = s;
	return t;
}

/* A token we may echo back in an m= line: visible ASCII that fits. */
static bool copy_token(char *dst, size_t size, const char *t)
{
	size_t n = strlen(t), i;

	if (n == 0 || n >= size)
		return false;
	for (i = 0; i < n; i++)
		if ((unsigned char)t[i] <= 0x20 || (unsigned char)t[i] >= 0x7f)
			return false;
	memcpy(dst, t, n + 1);
	return true;
}

/* m=<media> <port>[/<count>] <proto> <fmt> ... (RFC 4566 5.14) */
static int parse_m(struct parsed *p, char *v)
{
	char *media = token(&v), *port = token(&v), *proto = token(&v), *f;
	struct stream *s;
	const char *q;
	long n;

	if (p->n == SDP_STREAMS_MAX || !media || !port || !proto)
		return -EPROTO;
	s = &p->s[p->n++];
	memset(s, 0, sizeof(*s));
	s->dir = -1;
	if (!copy_token(s->media, sizeof(s->media), media) ||
	    !copy_token(s->proto, sizeof(s->proto), proto))
		return -EPROTO;
	q = port;
	n = number(&q, 65535);
	if (n < 0 || (*q && (*q != '/' || number(&(const char *){ q + 1 }, 65535) < 0)))
		return -EPROTO;
	s->port = (int)n;
	f = token(&v);
	if (!f || !copy_token(s->fmt0, sizeof(s->fmt0), f))
		return -EPROTO;    /* RFC 4566: at least one format */
	for (; f; f = token(&v)) {
		/* RTP formats are payload numbers; others we never use. */
		q = f;
		n = number(&q, 127);
		if (n < 0 || *q || s->n_fmts == SDP_FMT_MAX)
			continue;
		s->fmts[s->n_fmts++] = (struct fmt){ .pt = (int)n, .codec = NO_RTPMAP };
	}
	return 0;
}

/* c=IN IP4|IP6 <address>[/ttl[/count]] (RFC 4566 5.7); only IP literals. */
static int parse_c(struct parsed *p, char *v)
{
	char *net = token(&v), *type = token(&v), *addr = token(&v), *slash;
	unsigned char bin[16];
	int af;

	if (!net || !type || !addr || strcmp(net, "IN") != 0)
		return -EPROTO;
	if (strcmp(type, "IP4") == 0)
		af = AF_INET;
	else if (strcmp(type, "IP6") == 0)
		af = AF_INET6;
	else
		return -EPROTO;
	if ((slash = strchr(addr, '/')))
		*slash = '\0';
	if (strlen(addr) >= SDP_ADDR_MAX || inet_pton(af, addr, bin) != 1)
		return -EPROTO;
	strcpy(p->n ? p->s[p->n - 1].addr : p->addr, addr);
	return 0;
}

/* a=rtpmap:<pt> <name>/<clock>[/<channels>] (RFC 4566 6): which of our
 * codecs the number stands for in this stream. */
static void parse_rtpmap(struct stream *s, const char *v)
{
	char name[32];
	const char *q = v, *slash;
	long pt, clock, ch = 1;
	size_t n;
	int i, c = UNKNOWN;

	pt = number(&q, 127);
	if (pt < 0 || *q != ' ')
		return;
	while (*q == ' ')
		q++;
	slash = strchr(q, '/');
	n = slash ? (size_t)(slash - q) : 0;
	if (!slash || n == 0 || n >= sizeof(name))
		return;
	memcpy(name, q, n);
	name[n] = '\0';
	q = slash + 1;
	clock = number(&q, 1000000);
	if (clock < 0)
		return;
	if (*q == '/') {
		q++;
		ch = number(&q, 255);
	}
	/* RFC 4855: encoding names are case-insensitive. */
	for (i = 0; i < N_CODECS; i++)
		if (strcasecmp(codecs[i].name, name) == 0 && clock == CLOCK && ch == 1)
			c = i;
	for (i = 0; i < s->n_fmts; i++)
		if (s->fmts[i].pt == pt)
			s->fmts[i].codec = c;
}

static int parse_a(struct parsed *p, const char *v)
{
	struct stream *s = p->n ? &p->s[p->n - 1] : NULL;
	const char *q;
	long n;
	int d;

	for (d = 0; d < SDP_DIR_MAX; d++) {
		if (strcmp(v, dir_names[d]) == 0) {
			if (s)
				s->dir = d;
			else
				p->dir = d;
			return 0;
		}
	}
	if (strncmp(v, "rtpmap:", 7) == 0) {
		if (s)
			parse_rtpmap(s, v + 7);
	} else if (strncmp(v, "ptime:", 6) == 0) {
		/* "20" or "20.0"; anything else is ignored, ours stands. */
		q = v + 6;
		n = number(&q, 1000);
		if (n > 0) {
			if (s)
				s->ptime = (int)n;
			else
				p->ptime = (int)n;
		}
	}
	return 0;
}

/* Payloads without an rtpmap are the static numbers of RFC 3551 (6); a
 * dynamic one without rtpmap means nothing. */
static void resolve_static(struct stream *s)
{
	int i, c;

	for (i = 0; i < s->n_fmts; i++) {
		struct fmt *f = &s->fmts[i];

		if (f->codec != NO_RTPMAP)
			continue;
		f->codec = UNKNOWN;
		if (f->pt >= PT_DYNAMIC)
			continue;
		for (c = 0; c < N_CODECS; c++)
			if (!codecs[c].dtmf && codecs[c].pt == f->pt)
				f->codec = c;
	}
}

static int parse(const char *text, size_t len, struct parsed *p)
{
	const char *q = text, *end = text + len;
	char line[SDP_LINE_MAX + 1];
	bool first = true;
	int rc = 0, i;

	memset(p, 0, sizeof(*p));
	p->dir = -1;
	if (!text)
		return -EPROTO;
	while (q < end && rc == 0) {
		const char *nl = memchr(q, '\n', (size_t)(end - q));
		size_t n = (size_t)((nl ? nl : end) - q);

		if (n && q[n - 1] == '\r')
			n--;
		if (n > SDP_LINE_MAX || memchr(q, '\0', n))
			return -EPROTO;
		memcpy(line, q, n);
		line[n] = '\0';
		q = nl ? nl + 1 : end;
		if (n == 0)
			continue;     /* a stray empty line, e.g. a CRLF too many at the end */
		if (first) {
			/* RFC 4566 5: the body starts with v=0. */
			if (strcmp(line, "v=0") != 0)
				return -EPROTO;
			first = false;
			continue;
		}
		if (n < 2 || line[1] != '=' || line[0] < 'a' || line[0] > 'z')
			return -EPROTO;
		switch (line[0]) {
		case 'm': rc = parse_m(p, line + 2); break;
		case 'c': rc = parse_c(p, line + 2); break;
		case 'a': rc = parse_a(p, line + 2); break;
		default:  break;  /* o, s, t, b, ...: nothing we use */
		}
	}
	if (rc == 0 && first)
		rc = -EPROTO;
	for (i = 0; i < p->n; i++)
		resolve_static(&p->s[i]);
	return rc;
}

static bool is_rtp_audio(const struct stream *s)
{
	return strcasecmp(s->media, "audio") == 0 && strcasecmp(s->proto, "RTP/AVP") == 0;
}

/* The audio stream we take: the first live RTP/AVP audio stream, else the
 * first disabled one (port 0, RFC 3264 8.2). -EPROTO: no audio at all;
 * -ENOENT: audio only in a profile we cannot speak (RTP/SAVP, ...). */
static int pick_stream(const struct parsed *p)
{
	int i, zero = -1;
	bool audio = false;

	for (i = 0; i < p->n; i++) {
		if (strcasecmp(p->s[i].media, "audio") == 0)
			audio = true;
		if (!is_rtp_audio(&p->s[i]))
			continue;
		if (p->s[i].port)
			return i;
		if (zero < 0)
			zero = i;
	}
	if (zero >= 0)
		return zero;
	return audio ? -ENOENT : -EPROTO;
}

static int find_fmt(const struct stream *s, int codec)
{
	int i;

	for (i = 0; i < s->n_fmts; i++)
		if (s->fmts[i].codec == codec)
			return s->fmts[i].pt;
	return -1;
}

static bool local_has(const struct sdp_local *l, int codec)
{
	int i;

	for (i = 0; i < l->n_codecs; i++)
		if (l->codecs[i] && codec_by_name(l->codecs[i]) == codec)
			return true;
	return false;
}

/* Fills M from stream S of P with codec C at payload PT; our direction is
 * the mirror of theirs (RFC 3264 6.1), less what we do not want, and never
 * sending to a far end on hold the RFC 2543 way (c=0.0.0.0, RFC 3264 8.4). */
static void fill(struct sdp_media *m, const struct sdp_local *l, const struct parsed *p,
		 const struct stream *s, int c, int pt, int dtmf)
{
	int far = s->dir >= 0 ? s->dir : p->dir >= 0 ? p->dir : SDP_SENDRECV;
	int far_bits = dir_bits(far), ours;
	const char *addr = s->addr[0] ? s->addr : p->addr;

	ours = ((far_bits & D_SEND) ? D_RECV : 0) | ((far_bits & D_RECV) ? D_SEND : 0);
	ours &= dir_bits(l->dir);
	if (strcmp(addr, "0.0.0.0") == 0 || strcmp(addr, "::") == 0)
		ours &= ~D_SEND;
	if (s->port == 0)
		ours = 0;
	snprintf(m->local_addr, sizeof(m->local_addr), "%s", l->address ? l->address : "");
	m->local_port = l->port;
	snprintf(m->remote_addr, sizeof(m->remote_addr), "%s", addr);
	m->remote_port = s->port;
	snprintf(m->codec, sizeof(m->codec), "%s/%d", codecs[c].name, CLOCK);
	m->payload = pt;
	m->ptime = s->ptime ? s->ptime : p->ptime ? p->ptime : l->ptime;
	m->dtmf = dtmf;
	m->dir = dir_of_bits(ours);
}

static void media_clear(struct sdp_media *m)
{
	if (!m)
		return;
	memset(m, 0, sizeof(*m));
	m->dtmf = -1;
	m->payload = -1;
	m->dir = SDP_INACTIVE;
}

/* Parse BODY and pick its audio stream, which must have an address. */
static int read_body(const char *body, size_t len, struct parsed *p, const struct stream **out)
{
	int rc = parse(body, len, p), i;

	if (rc < 0)
		return rc;
	i = pick_stream(p);
	if (i < 0)
		return i;
	/* RFC 4566 5.7: c= in the session or in every stream. */
	if (!p->s[i].addr[0] && !p->addr[0])
		return -EPROTO;
	*out = &p->s[i];
	return 0;
}

/* --- writing -------------------------------------------------------------- */

struct out {
	char *buf;
	size_t size, len;
	bool full;
};

__attribute__((format(printf, 2, 3)))
static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->full)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->len, o->size - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->size - o->len)
		o->full = true;
	else
		o->len += (size_t)n;
}

static int done(struct out *o)
{
	if (!o->full)
		return 0;
	if (o->size)
		o->buf[0] = '\0';
	return -ENOSPC;
}

/* RFC 4566 5.2 and 5.7: o=, s=, c=, t= of a body of ours. */
static void put_session(struct out *o, const struct sdp_local *l)
{
	const char *a = l->address ? l->address : "";
	const char *ip = strchr(a, ':') ? "IP6" : "IP4";
	unsigned long long ver = l->session_version ? l->session_version : l->session_id;

	put(o, "v=0\r\no=sipuad %llu %llu IN %s %s\r\ns=sipuad\r\nc=IN %s %s\r\nt=0 0\r\n",
	    l->session_id, ver, ip, a, ip, a);
}

static void put_rtpmap(struct out *o, int c, int pt)
{
	put(o, "a=rtpmap:%d %s/%d\r\n", pt, codecs[c].name, CLOCK);
	if (codecs[c].dtmf)
		put(o, "a=fmtp:%d 0-16\r\n", pt);    /* RFC 4733 2.4.1: DTMF 0-9 * # A-D, flash */
}

int sdp_offer(char *buf, size_t size, const struct sdp_local *l)
{
	struct out o = { .buf = buf, .size = size, .full = size == 0 };
	int i, c;

	put_session(&o, l);
	put(&o, "m=audio %d RTP/AVP", l->port);
	for (i = 0; i < l->n_codecs; i++)
		if ((c = l->codecs[i] ? codec_by_name(l->codecs[i]) : -1) >= 0)
			put(&o, " %d", codecs[c].pt);
	put(&o, "\r\n");
	for (i = 0; i < l->n_codecs; i++)
		if ((c = l->codecs[i] ? codec_by_name(l->codecs[i]) : -1) >= 0)
			put_rtpmap(&o, c, codecs[c].pt);
	put(&o, "a=ptime:%d\r\na=%s\r\n", l->ptime, sdp_dir_name(l->dir));
	return done(&o);
}

/* Our codec for an offer: the first of OUR list the offer has (the config
 * states our preference), at the offerer's payload number. */
static int choose_ours(const struct sdp_local *l, const struct stream *s, int *pt)
{
	int i, c;

	for (i = 0; i < l->n_codecs; i++) {
		c = l->codecs[i] ? codec_by_name(l->codecs[i]) : -1;
		if (c < 0 || codecs[c].dtmf)
			continue;
		if ((*pt = find_fmt(s, c)) >= 0)
			return c;
	}
	return -1;
}

static int dtmf_pt(const struct sdp_local *l, const struct stream *s)
{
	int c;

	for (c = 0; c < N_CODECS; c++)
		if (codecs[c].dtmf)
			return local_has(l, c) ? find_fmt(s, c) : -1;
	return -1;
}

int sdp_answer(char *buf, size_t size, const struct sdp_local *l, const char *offer, size_t len,
	       struct sdp_media *m)
{
	struct out o = { .buf = buf, .size = size, .full = size == 0 };
	struct sdp_media tmp;
	struct parsed p;
	const struct stream *s;
	int rc, c, pt = -1, dtmf, i, port;

	if (!m)
		m = &tmp;
	media_clear(m);
	if (size)
		buf[0] = '\0';
	if ((rc = read_body(offer, len, &p, &s)) < 0)
		return rc;
	if ((c = choose_ours(l, s, &pt)) < 0)
		return -ENOENT;
	dtmf = dtmf_pt(l, s);
	fill(m, l, &p, s, c, pt, dtmf);
	/* RFC 3264 6: a stream offered with port 0 stays at 0 in the answer. */
	port = s->port ? l->port : 0;
	m->local_port = port;

	put_session(&o, l);
	/* RFC 3264 6: one m= line per offered one, in order; those we refuse
	 * (video, a second audio stream, another profile) get port 0. */
	for (i = 0; i < p.n; i++) {
		if (&p.s[i] != s) {
			put(&o, "m=%s 0 %s %s\r\n", p.s[i].media, p.s[i].proto, p.s[i].fmt0);
			continue;
		}
		put(&o, "m=audio %d RTP/AVP %d", port, pt);
		if (dtmf >= 0)
			put(&o, " %d", dtmf);
		put(&o, "\r\n");
		put_rtpmap(&o, c, pt);
		if (dtmf >= 0)
			for (c = 0; c < N_CODECS; c++)
				if (codecs[c].dtmf)
					put_rtpmap(&o, c, dtmf);
		put(&o, "a=ptime:%d\r\na=%s\r\n", l->ptime, sdp_dir_name(m->dir));
	}
	if ((rc = done(&o)) < 0)
		media_clear(m);
	return rc;
}

int sdp_take_answer(const struct sdp_local *l, const char *answer, size_t len, struct sdp_media *m)
{
	struct sdp_media tmp;
	struct parsed p;
	const struct stream *s;
	int rc, i, c = -1, pt = -1;

	if (!m)
		m = &tmp;
	media_clear(m);
	if ((rc = read_body(answer, len, &p, &s)) < 0)
		return rc;
	/* RFC 3264 6: the answerer refused our audio with port 0. */
	if (s->port == 0)
		return -ENOENT;
	/* The answer's own order is its preference (RFC 3264 6.1); only codecs
	 * we offered count. */
	for (i = 0; i < s->n_fmts && c < 0; i++) {
		int k = s->fmts[i].codec;

		if (k >= 0 && !codecs[k].dtmf && local_has(l, k)) {
			c = k;
			pt = s->fmts[i].pt;
		}
	}
	if (c < 0)
		return -ENOENT;
	fill(m, l, &p, s, c, pt, dtmf_pt(l, s));
	return 0;
}
