/* test_sdp.c - SDP offer/answer of one audio stream (sdp.c) and the RTP
 * port pool (rtpport.c): pure, on the unit-pure runner. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rtpport.h"
#include "sdp.h"
#include "unit.h"

static char *const all_codecs[] = { "PCMU", "PCMA", "G722", "telephone-event" };

static struct sdp_local local4(void)
{
	return (struct sdp_local){
		.address = "192.0.2.1", .port = 16384, .codecs = all_codecs, .n_codecs = 4,
		.ptime = 20, .session_id = 42,
	};
}

static int answer(const struct sdp_local *l, const char *offer, char *buf, struct sdp_media *m)
{
	return sdp_answer(buf, SDP_MAX, l, offer, strlen(offer), m);
}

TEST(test_sdp_offer_golden)
{
	struct sdp_local l = local4();
	char buf[SDP_MAX];

	CHECK_INT(sdp_offer(buf, sizeof(buf), &l), 0);
	CHECK_STR(buf, "v=0\r\n"
		       "o=sipuad 42 42 IN IP4 192.0.2.1\r\n"
		       "s=sipuad\r\n"
		       "c=IN IP4 192.0.2.1\r\n"
		       "t=0 0\r\n"
		       "m=audio 16384 RTP/AVP 0 8 9 101\r\n"
		       "a=rtpmap:0 PCMU/8000\r\n"
		       "a=rtpmap:8 PCMA/8000\r\n"
		       "a=rtpmap:9 G722/8000\r\n"
		       "a=rtpmap:101 telephone-event/8000\r\n"
		       "a=fmtp:101 0-16\r\n"
		       "a=ptime:20\r\n"
		       "a=sendrecv\r\n");
	return 0;
}

TEST(test_sdp_offer_v6_hold_version_and_nospace)
{
	static char *const one[] = { "PCMA" };
	struct sdp_local l = {
		.address = "2001:db8::5", .port = 20000, .codecs = one, .n_codecs = 1,
		.ptime = 30, .session_id = 7, .session_version = 8, .dir = SDP_SENDONLY,
	};
	char buf[SDP_MAX], small[40];

	CHECK_INT(sdp_offer(buf, sizeof(buf), &l), 0);
	CHECK_STR(buf, "v=0\r\n"
		       "o=sipuad 7 8 IN IP6 2001:db8::5\r\n"
		       "s=sipuad\r\n"
		       "c=IN IP6 2001:db8::5\r\n"
		       "t=0 0\r\n"
		       "m=audio 20000 RTP/AVP 8\r\n"
		       "a=rtpmap:8 PCMA/8000\r\n"
		       "a=ptime:30\r\n"
		       "a=sendonly\r\n");
	CHECK_INT(sdp_offer(small, sizeof(small), &l), -ENOSPC);
	CHECK_STR(small, "");
	CHECK_INT(sdp_offer(small, 0, &l), -ENOSPC);
	return 0;
}

TEST(test_sdp_codec_names)
{
	CHECK(sdp_codec_known("PCMU"));
	CHECK(sdp_codec_known("G729"));
	CHECK(sdp_codec_known("telephone-event"));
	CHECK(!sdp_codec_known("pcmu"));    /* config spells them one way */
	CHECK(!sdp_codec_known("opus"));
	CHECK(!sdp_codec_known(""));
	CHECK(!sdp_codec_known(NULL));
	CHECK(sdp_codec_is_dtmf("telephone-event"));
	CHECK(!sdp_codec_is_dtmf("PCMU"));
	CHECK_STR(sdp_dir_name(SDP_RECVONLY), "recvonly");
	CHECK_STR(sdp_dir_name(SDP_DIR_MAX), "?");
	return 0;
}

/* sipp's uac scenario: static PCMU only, LF line ends. */
TEST(test_sdp_answer_sipp)
{
	struct sdp_local l = local4();
	struct sdp_media m;
	char buf[SDP_MAX];

	CHECK_INT(answer(&l, "v=0\n"
			     "o=user1 53655765 2353687637 IN IP4 127.0.0.1\n"
			     "s=-\n"
			     "c=IN IP4 127.0.0.1\n"
			     "t=0 0\n"
			     "m=audio 6000 RTP/AVP 0\n"
			     "a=rtpmap:0 PCMU/8000\n", buf, &m), 0);
	CHECK_STR(buf, "v=0\r\n"
		       "o=sipuad 42 42 IN IP4 192.0.2.1\r\n"
		       "s=sipuad\r\n"
		       "c=IN IP4 192.0.2.1\r\n"
		       "t=0 0\r\n"
		       "m=audio 16384 RTP/AVP 0\r\n"
		       "a=rtpmap:0 PCMU/8000\r\n"
		       "a=ptime:20\r\n"
		       "a=sendrecv\r\n");
	CHECK_STR(m.local_addr, "192.0.2.1");
	CHECK_INT(m.local_port, 16384);
	CHECK_STR(m.remote_addr, "127.0.0.1");
	CHECK_INT(m.remote_port, 6000);
	CHECK_STR(m.codec, "PCMU/8000");
	CHECK_INT(m.payload, 0);
	CHECK_INT(m.ptime, 20);
	CHECK_INT(m.dtmf, -1);
	CHECK_INT(m.dir, SDP_SENDRECV);
	return 0;
}

/* linphone: opus and speex first, three telephone-events at three clocks,
 * a video stream reusing payload 96. */
static const char linphone[] =
	"v=0\r\n"
	"o=alice 1234 5678 IN IP4 192.168.1.10\r\n"
	"s=Talk\r\n"
	"c=IN IP4 192.168.1.10\r\n"
	"t=0 0\r\n"
	"a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics\r\n"
	"m=audio 7078 RTP/AVP 96 97 98 8 0 101 99 100\r\n"
	"a=rtpmap:96 opus/48000/2\r\n"
	"a=fmtp:96 useinbandfec=1\r\n"
	"a=rtpmap:97 speex/16000\r\n"
	"a=rtpmap:98 speex/8000\r\n"
	"a=rtpmap:101 telephone-event/48000\r\n"
	"a=rtpmap:99 telephone-event/16000\r\n"
	"a=rtpmap:100 telephone-event/8000\r\n"
	"a=rtcp-fb:* trr-int 1000\r\n"
	"m=video 9078 RTP/AVP 96 97\r\n"
	"a=rtpmap:96 VP8/90000\r\n"
	"a=rtpmap:97 H264/90000\r\n";

TEST(test_sdp_answer_linphone)
{
	struct sdp_local l = local4();
	struct sdp_media m;
	char buf[SDP_MAX];

	CHECK_INT(answer(&l, linphone, buf, &m), 0);
	/* Our preference (PCMU first) over the offer's order; the 8 kHz
	 * telephone-event at the offerer's number; the video refused. */
	CHECK_STR(buf, "v=0\r\n"
		       "o=sipuad 42 42 IN IP4 192.0.2.1\r\n"
		       "s=sipuad\r\n"
		       "c=IN IP4 192.0.2.1\r\n"
		       "t=0 0\r\n"
		       "m=audio 16384 RTP/AVP 0 100\r\n"
		       "a=rtpmap:0 PCMU/8000\r\n"
		       "a=rtpmap:100 telephone-event/8000\r\n"
		       "a=fmtp:100 0-16\r\n"
		       "a=ptime:20\r\n"
		       "a=sendrecv\r\n"
		       "m=video 0 RTP/AVP 96\r\n");
	CHECK_STR(m.codec, "PCMU/8000");
	CHECK_INT(m.payload, 0);
	CHECK_INT(m.dtmf, 100);
	CHECK_STR(m.remote_addr, "192.168.1.10");
	CHECK_INT(m.remote_port, 7078);
	return 0;
}

/* Kamailio with rtpengine: media-level c=, ptime 30, sendrecv spelled out,
 * ICE and rtcp attributes, telephone-event without fmtp. */
TEST(test_sdp_answer_kamailio_rtpengine)
{
	static char *const pref[] = { "G722", "PCMA", "telephone-event" };
	struct sdp_local l = local4();
	struct sdp_media m;
	char buf[SDP_MAX];

	l.codecs = pref;
	l.n_codecs = 3;
	CHECK_INT(answer(&l, "v=0\r\n"
			     "o=- 3781231 3781231 IN IP4 203.0.113.9\r\n"
			     "s=kamailio\r\n"
			     "t=0 0\r\n"
			     "m=audio 30000 RTP/AVP 8 9 96\r\n"
			     "c=IN IP4 203.0.113.9\r\n"
			     "a=rtpmap:8 PCMA/8000\r\n"
			     "a=rtpmap:9 G722/8000\r\n"
			     "a=rtpmap:96 telephone-event/8000\r\n"
			     "a=sendrecv\r\n"
			     "a=rtcp:30001\r\n"
			     "a=ice-ufrag:abcd\r\n"
			     "a=candidate:1 1 UDP 2130706431 203.0.113.9 30000 typ host\r\n"
			     "a=ptime:30\r\n", buf, &m), 0);
	CHECK_STR(m.codec, "G722/8000");
	CHECK_INT(m.payload, 9);
	CHECK_INT(m.dtmf, 96);
	CHECK_INT(m.ptime, 30);
	CHECK_STR(m.remote_addr, "203.0.113.9");
	CHECK(strstr(buf, "m=audio 16384 RTP/AVP 9 96\r\n"));
	CHECK(strstr(buf, "a=rtpmap:96 telephone-event/8000\r\na=fmtp:96 0-16\r\n"));
	return 0;
}

TEST(test_sdp_answer_static_payloads_without_rtpmap)
{
	static char *const pref[] = { "G729", "PCMA" };
	struct sdp_local l = local4();
	struct sdp_media m;
	char buf[SDP_MAX];

	l.codecs = pref;
	l.n_codecs = 2;
	CHECK_INT(answer(&l, "v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 5004 RTP/AVP 18 8\r\n", buf, &m), 0);
	CHECK_STR(m.codec, "G729/8000");
	CHECK_INT(m.payload, 18);
	/* A dynamic number needs its rtpmap; a static number renamed by one
	 * is what the rtpmap says. */
	CHECK_INT(answer(&l, "v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 5004 RTP/AVP 96 18\r\n"
			     "a=rtpmap:18 opus/48000/2\r\n", buf, &m), -ENOENT);
	CHECK_INT(answer(&l, "v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 5004 RTP/AVP 97\r\n"
			     "a=rtpmap:97 pcma/8000\r\n", buf, &m), 0);
	CHECK_STR(m.codec, "PCMA/8000");
	CHECK_INT(m.payload, 97);
	/* G722 at 16000 is not RFC 3551's G722. */
	l.codecs = (char *const[]){ "G722" };
	l.n_codecs = 1;
	CHECK_INT(answer(&l, "v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 5004 RTP/AVP 9\r\n"
			     "a=rtpmap:9 G722/16000\r\n", buf, &m), -ENOENT);
	return 0;
}

TEST(test_sdp_answer_no_common_codec)
{
	struct sdp_local l = local4();
	struct sdp_media m;
	char buf[SDP_MAX];

	CHECK_INT(answer(&l, "v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 5004 RTP/AVP 96 101\r\n"
			     "a=rtpmap:96 opus/48000/2\r\n"
			     "a=rtpmap:101 telephone-event/8000\r\n", buf, &m), -ENOENT);
	CHECK_STR(buf, "");
	CHECK_INT(m.dtmf, -1);
	CHECK_INT(m.payload, -1);
	/* SRTP only: audio, but nothing we speak -> 488, not 400 */
	CHECK_INT(answer(&l, "v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 5004 RTP/SAVP 0\r\n", buf, &m),
		  -ENOENT);
	/* no audio at all */
	CHECK_INT(answer(&l, "v=0\r\nc=IN IP4 10.0.0.1\r\nm=video 5004 RTP/AVP 96\r\n", buf, &m),
		  -EPROTO);
	CHECK_INT(answer(&l, "v=0\r\nc=IN IP4 10.0.0.1\r\n", buf, &m), -EPROTO);
	return 0;
}

TEST(test_sdp_answer_dtmf_only_when_both_have_it)
{
	static char *const no_dtmf[] = { "PCMU" };
	struct sdp_local l = local4();
	struct sdp_media m;
	char buf[SDP_MAX];
	const char *offer = "v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 5004 RTP/AVP 0 101\r\n"
			    "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n";

	CHECK_INT(answer(&l, offer, buf, &m), 0);
	CHECK_INT(m.dtmf, 101);
	l.codecs = no_dtmf;
	l.n_codecs = 1;
	CHECK_INT(answer(&l, offer, buf, &m), 0);
	CHECK_INT(m.dtmf, -1);
	CHECK(!strstr(buf, "telephone-event"));
	CHECK(strstr(buf, "m=audio 16384 RTP/AVP 0\r\n"));
	return 0;
}

static int dir_of_answer(const char *offer_tail, enum sdp_dir want_local, enum sdp_dir *got,
			 char *buf)
{
	struct sdp_local l = local4();
	struct sdp_media m;
	char offer[512];
	int rc;

	l.dir = want_local;
	snprintf(offer, sizeof(offer), "v=0\r\n%s", offer_tail);
	rc = answer(&l, offer, buf, &m);
	*got = m.dir;
	return rc;
}

TEST(test_sdp_answer_mirrors_directions)
{
	char buf[SDP_MAX];
	enum sdp_dir d;

	CHECK_INT(dir_of_answer("c=IN IP4 10.0.0.1\r\nm=audio 5004 RTP/AVP 0\r\na=sendonly\r\n",
				SDP_SENDRECV, &d, buf), 0);
	CHECK_INT(d, SDP_RECVONLY);
	CHECK(strstr(buf, "a=recvonly\r\n"));
	CHECK_INT(dir_of_answer("c=IN IP4 10.0.0.1\r\nm=audio 5004 RTP/AVP 0\r\na=recvonly\r\n",
				SDP_SENDRECV, &d, buf), 0);
	CHECK_INT(d, SDP_SENDONLY);
	CHECK(strstr(buf, "a=sendonly\r\n"));
	CHECK_INT(dir_of_answer("c=IN IP4 10.0.0.1\r\nm=audio 5004 RTP/AVP 0\r\na=inactive\r\n",
				SDP_SENDRECV, &d, buf), 0);
	CHECK_INT(d, SDP_INACTIVE);
	/* session level, and a media level that overrides it */
	CHECK_INT(dir_of_answer("c=IN IP4 10.0.0.1\r\na=sendonly\r\nm=audio 5004 RTP/AVP 0\r\n",
				SDP_SENDRECV, &d, buf), 0);
	CHECK_INT(d, SDP_RECVONLY);
	CHECK_INT(dir_of_answer("a=sendonly\r\nc=IN IP4 10.0.0.1\r\nm=audio 5004 RTP/AVP 0\r\n"
				"a=sendrecv\r\n", SDP_SENDRECV, &d, buf), 0);
	CHECK_INT(d, SDP_SENDRECV);
	/* RFC 2543 hold: c=0.0.0.0, we do not send */
	CHECK_INT(dir_of_answer("c=IN IP4 0.0.0.0\r\nm=audio 5004 RTP/AVP 0\r\n",
				SDP_SENDRECV, &d, buf), 0);
	CHECK_INT(d, SDP_RECVONLY);
	/* we hold: sendonly offered to us as sendrecv */
	CHECK_INT(dir_of_answer("c=IN IP4 10.0.0.1\r\nm=audio 5004 RTP/AVP 0\r\n",
				SDP_SENDONLY, &d, buf), 0);
	CHECK_INT(d, SDP_SENDONLY);
	return 0;
}

TEST(test_sdp_answer_ipv6)
{
	struct sdp_local l = local4();
	struct sdp_media m;
	char buf[SDP_MAX];

	l.address = "2001:db8::1";
	CHECK_INT(answer(&l, "v=0\r\no=- 1 1 IN IP6 2001:db8::2\r\ns=-\r\nc=IN IP6 2001:db8::2\r\n"
			     "t=0 0\r\nm=audio 4000 RTP/AVP 8\r\n", buf, &m), 0);
	CHECK_STR(m.remote_addr, "2001:db8::2");
	CHECK_STR(m.local_addr, "2001:db8::1");
	CHECK(strstr(buf, "c=IN IP6 2001:db8::1\r\n"));
	CHECK(strstr(buf, "o=sipuad 42 42 IN IP6 2001:db8::1\r\n"));
	/* the address type must match the address */
	CHECK_INT(answer(&l, "v=0\r\nc=IN IP4 2001:db8::2\r\nm=audio 4000 RTP/AVP 8\r\n", buf, &m),
		  -EPROTO);
	CHECK_INT(answer(&l, "v=0\r\nc=IN IP6 10.0.0.1\r\nm=audio 4000 RTP/AVP 8\r\n", buf, &m),
		  -EPROTO);
	return 0;
}

TEST(test_sdp_answer_streams_one_line_each)
{
	struct sdp_local l = local4();
	struct sdp_media m;
	char buf[SDP_MAX];

	/* RFC 3264 6: as many m= lines as offered; a disabled first audio
	 * stream, a second audio stream and SRTP audio are all refused. */
	CHECK_INT(answer(&l, "v=0\r\nc=IN IP4 10.0.0.1\r\n"
			     "m=audio 0 RTP/AVP 0\r\n"
			     "m=audio 5000 RTP/SAVP 0\r\n"
			     "m=audio 5002 RTP/AVP 8\r\n"
			     "m=audio 5004 RTP/AVP 0\r\n"
			     "m=application 9 UDP/BFCP *\r\n", buf, &m), 0);
	CHECK_INT(m.remote_port, 5002);
	CHECK_STR(m.codec, "PCMA/8000");
	CHECK_STR(buf, "v=0\r\n"
		       "o=sipuad 42 42 IN IP4 192.0.2.1\r\n"
		       "s=sipuad\r\n"
		       "c=IN IP4 192.0.2.1\r\n"
		       "t=0 0\r\n"
		       "m=audio 0 RTP/AVP 0\r\n"
		       "m=audio 0 RTP/SAVP 0\r\n"
		       "m=audio 16384 RTP/AVP 8\r\n"
		       "a=rtpmap:8 PCMA/8000\r\n"
		       "a=ptime:20\r\n"
		       "a=sendrecv\r\n"
		       "m=audio 0 RTP/AVP 0\r\n"
		       "m=application 0 UDP/BFCP *\r\n");
	return 0;
}

TEST(test_sdp_answer_port_zero_stays_zero)
{
	struct sdp_local l = local4();
	struct sdp_media m;
	char buf[SDP_MAX];

	CHECK_INT(answer(&l, "v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 0 RTP/AVP 0\r\n", buf, &m), 0);
	CHECK(strstr(buf, "m=audio 0 RTP/AVP 0\r\n"));
	CHECK_INT(m.local_port, 0);
	CHECK_INT(m.remote_port, 0);
	CHECK_INT(m.dir, SDP_INACTIVE);
	return 0;
}

TEST(test_sdp_take_answer)
{
	struct sdp_local l = local4();
	struct sdp_media m;
	const char *a;

	/* The answerer's order is its preference; it echoes our numbers. */
	a = "v=0\r\no=- 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\n"
	    "m=audio 40000 RTP/AVP 8 0 101\r\na=rtpmap:101 telephone-event/8000\r\n"
	    "a=ptime:40\r\na=recvonly\r\n";
	CHECK_INT(sdp_take_answer(&l, a, strlen(a), &m), 0);
	CHECK_STR(m.codec, "PCMA/8000");
	CHECK_INT(m.payload, 8);
	CHECK_INT(m.dtmf, 101);
	CHECK_INT(m.ptime, 40);
	CHECK_INT(m.dir, SDP_SENDONLY);
	CHECK_INT(m.local_port, 16384);
	CHECK_STR(m.remote_addr, "198.51.100.7");
	CHECK_INT(m.remote_port, 40000);
	/* refused with port 0 */
	a = "v=0\r\nc=IN IP4 198.51.100.7\r\nm=audio 0 RTP/AVP 0\r\n";
	CHECK_INT(sdp_take_answer(&l, a, strlen(a), &m), -ENOENT);
	/* a codec we never offered */
	a = "v=0\r\nc=IN IP4 198.51.100.7\r\nm=audio 40000 RTP/AVP 18\r\n";
	CHECK_INT(sdp_take_answer(&l, a, strlen(a), &m), -ENOENT);
	/* LEN bounds the body: the same text cut before its m= line */
	a = "v=0\r\nc=IN IP4 198.51.100.7\r\nm=audio 40000 RTP/AVP 0\r\n";
	CHECK_INT(sdp_take_answer(&l, a, 30, &m), -EPROTO);
	CHECK_INT(sdp_take_answer(&l, a, strlen(a), &m), 0);
	CHECK_INT(sdp_take_answer(&l, a, strlen(a), NULL), 0);
	return 0;
}

TEST(test_sdp_hostile_input)
{
	static const char *const bad[] = {
		"",
		"\r\n\r\n",
		"v=1\r\nc=IN IP4 10.0.0.1\r\nm=audio 5004 RTP/AVP 0\r\n",
		"c=IN IP4 10.0.0.1\r\nm=audio 5004 RTP/AVP 0\r\n",               /* no v= */
		"v=0\r\nm=audio 5004 RTP/AVP 0\r\n",                              /* no c= */
		"v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 65536 RTP/AVP 0\r\n",
		"v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio -1 RTP/AVP 0\r\n",
		"v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 99999999999999999999 RTP/AVP 0\r\n",
		"v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 5004 RTP/AVP\r\n",           /* no format */
		"v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio\r\n",
		"v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 5004x RTP/AVP 0\r\n",
		"v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 5004/ RTP/AVP 0\r\n",
		"v=0\r\nc=IN IP4 999.0.0.1\r\nm=audio 5004 RTP/AVP 0\r\n",
		"v=0\r\nc=IN IP4 sip.example.com\r\nm=audio 5004 RTP/AVP 0\r\n",
		"v=0\r\nc=ATM NSAP 10.0.0.1\r\nm=audio 5004 RTP/AVP 0\r\n",
		"v=0\r\nc=IN\r\nm=audio 5004 RTP/AVP 0\r\n",
		"v=0\r\nc=IN IP4 10.0.0.1\r\nnot a line\r\nm=audio 5004 RTP/AVP 0\r\n",
		"v=0\r\nc=IN IP4 10.0.0.1\r\nM=audio 5004 RTP/AVP 0\r\n",
		"v=0\r\nc=IN IP4 10.0.0.1\r\n=\r\n",
		"v=0\r\nc=IN IP4 10.0.0.1\r\nm=audi\x01 5004 RTP/AVP 0\r\n",
		"v=0\r\nc=IN IP4 10.0.0.1\r\nm=audioaudioaudioaudio 5004 RTP/AVP 0\r\n",
	};
	struct sdp_local l = local4();
	struct sdp_media m;
	char buf[SDP_MAX], *big;
	size_t i, n;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = answer(&l, bad[i], buf, &m);

		if (rc != -EPROTO) {
			fprintf(stderr, "bad[%zu]: %d\n", i, rc);
			return 1;
		}
		CHECK_INT(sdp_take_answer(&l, bad[i], strlen(bad[i]), &m), -EPROTO);
	}
	CHECK_INT(sdp_answer(buf, sizeof(buf), &l, NULL, 0, &m), -EPROTO);
	/* a NUL inside LEN */
	CHECK_INT(sdp_answer(buf, sizeof(buf), &l, "v=0\r\nc=IN IP4 10.0.0.1\0\r\nm=audio 1 RTP/AVP 0\r\n",
			     45, &m), -EPROTO);
	/* a line of SDP_LINE_MAX + 1 bytes; one of SDP_LINE_MAX is fine */
	n = 64 + SDP_LINE_MAX;
	big = malloc(n + 64);
	CHECK(big);
	for (int over = 0; over <= 1; over++) {
		size_t k = (size_t)snprintf(big, n, "v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 1 RTP/AVP 0\r\na=");

		memset(big + k, 'x', SDP_LINE_MAX - 2 + (size_t)over);
		k += SDP_LINE_MAX - 2 + (size_t)over;
		memcpy(big + k, "\r\n", 2);
		/* not NUL-terminated: LEN alone bounds the read */
		if (sdp_take_answer(&l, big, k + 2, &m) != (over ? -EPROTO : 0)) {
			free(big);
			fprintf(stderr, "long line, over %d\n", over);
			return 1;
		}
	}
	free(big);
	/* too many streams to answer one line each */
	{
		char many[SDP_MAX * 2];
		size_t k = (size_t)snprintf(many, sizeof(many), "v=0\r\nc=IN IP4 10.0.0.1\r\n");

		for (i = 0; i <= SDP_STREAMS_MAX; i++)
			k += (size_t)snprintf(many + k, sizeof(many) - k, "m=audio %zu RTP/AVP 0\r\n",
					      2 * i + 2);
		CHECK_INT(answer(&l, many, buf, &m), -EPROTO);
	}
	/* formats past SDP_FMT_MAX are ignored, not overrun */
	{
		char many[SDP_MAX * 2];
		size_t k = (size_t)snprintf(many, sizeof(many),
					    "v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 4 RTP/AVP");

		for (i = 0; i < 2 * SDP_FMT_MAX; i++)
			k += (size_t)snprintf(many + k, sizeof(many) - k, " %zu", 96 + i % 32);
		k += (size_t)snprintf(many + k, sizeof(many) - k, " 0\r\n");
		CHECK_INT(answer(&l, many, buf, &m), -ENOENT);
	}
	/* garbage rtpmap and ptime are ignored, not fatal */
	CHECK_INT(answer(&l, "v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 4 RTP/AVP 0\r\n"
			     "a=rtpmap:\r\na=rtpmap:0\r\na=rtpmap:0 /\r\na=rtpmap:999 x/1\r\n"
			     "a=rtpmap:0 PCMU/\r\na=ptime:\r\na=ptime:-5\r\na=ptime:99999\r\n",
		  buf, &m), 0);
	CHECK_INT(m.ptime, 20);
	return 0;
}

TEST(test_sdp_answer_too_small)
{
	struct sdp_local l = local4();
	struct sdp_media m;
	char buf[64];

	CHECK_INT(sdp_answer(buf, sizeof(buf), &l, linphone, strlen(linphone), &m), -ENOSPC);
	CHECK_STR(buf, "");
	CHECK_INT(m.payload, -1);
	return 0;
}

/* --- rtpport ------------------------------------------------------------- */

TEST(test_rtp_pool_round_robin_and_exhaustion)
{
	struct rtp_pool p;

	CHECK_INT(rtp_pool_init(&p, 16384, 16391), 0);   /* 16384 .. 16390 */
	CHECK_INT(rtp_pool_get(&p), 16384);
	CHECK_INT(rtp_pool_get(&p), 16386);
	rtp_pool_put(&p, 16384);
	/* the freed port comes after every other free one */
	CHECK_INT(rtp_pool_get(&p), 16388);
	CHECK_INT(rtp_pool_get(&p), 16390);
	CHECK_INT(rtp_pool_get(&p), 16384);
	CHECK_INT(rtp_pool_get(&p), -1);
	rtp_pool_put(&p, 16388);
	CHECK_INT(rtp_pool_get(&p), 16388);
	CHECK_INT(rtp_pool_get(&p), -1);
	/* ports outside, odd or not held are ignored */
	rtp_pool_put(&p, 16392);
	rtp_pool_put(&p, 16385);
	rtp_pool_put(&p, 0);
	CHECK_INT(rtp_pool_get(&p), -1);
	rtp_pool_free(&p);
	CHECK_INT(rtp_pool_get(&p), -1);
	rtp_pool_put(&p, 16384);     /* freed pool: still harmless */
	return 0;
}

TEST(test_rtp_pool_odd_and_even_bounds)
{
	struct rtp_pool p;

	/* odd hi: its even port below still has its RTCP port */
	CHECK_INT(rtp_pool_init(&p, 16384, 16387), 0);
	CHECK_INT(rtp_pool_get(&p), 16384);
	CHECK_INT(rtp_pool_get(&p), 16386);
	CHECK_INT(rtp_pool_get(&p), -1);
	rtp_pool_free(&p);
	/* even hi: hi itself has no RTCP port in range */
	CHECK_INT(rtp_pool_init(&p, 16384, 16386), 0);
	CHECK_INT(rtp_pool_get(&p), 16384);
	CHECK_INT(rtp_pool_get(&p), -1);
	rtp_pool_free(&p);
	/* odd lo starts at the next even port */
	CHECK_INT(rtp_pool_init(&p, 16385, 16389), 0);
	CHECK_INT(rtp_pool_get(&p), 16386);
	CHECK_INT(rtp_pool_get(&p), 16388);
	CHECK_INT(rtp_pool_get(&p), -1);
	rtp_pool_free(&p);
	CHECK_INT(rtp_pool_init(&p, 16384, 16384), -EINVAL);
	CHECK_INT(rtp_pool_init(&p, 16385, 16386), -EINVAL);
	CHECK_INT(rtp_pool_init(&p, 16390, 16384), -EINVAL);
	CHECK_INT(rtp_pool_init(&p, 0, 16384), -EINVAL);
	CHECK_INT(rtp_pool_init(&p, 65534, 65536), -EINVAL);
	CHECK_INT(rtp_pool_get(&p), -1);       /* a failed init leaves an empty pool */
	CHECK_INT(rtp_pool_init(&p, 1024, 65535), 0);
	CHECK_INT(p.n, 32256);
	rtp_pool_free(&p);
	return 0;
}

TEST(test_rtp_pool_take_after_reload)
{
	struct rtp_pool p;

	/* the calls still open keep their ports in the new pool */
	CHECK_INT(rtp_pool_init(&p, 20000, 20007), 0);
	CHECK_INT(rtp_pool_take(&p, 20002), 0);
	CHECK_INT(rtp_pool_take(&p, 20002), -1);     /* held */
	CHECK_INT(rtp_pool_take(&p, 20001), -1);     /* odd */
	CHECK_INT(rtp_pool_take(&p, 19998), -1);     /* outside */
	CHECK_INT(rtp_pool_take(&p, 20008), -1);
	CHECK_INT(rtp_pool_get(&p), 20000);
	CHECK_INT(rtp_pool_get(&p), 20004);
	CHECK_INT(rtp_pool_get(&p), 20006);
	CHECK_INT(rtp_pool_get(&p), -1);
	rtp_pool_put(&p, 20002);
	CHECK_INT(rtp_pool_get(&p), 20002);
	rtp_pool_free(&p);
	return 0;
}
