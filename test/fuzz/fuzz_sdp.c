/* fuzz_sdp.c - libFuzzer harness for sdp.c: any bytes as an offer or an
 * answer give 0 or an error, never a read past LEN (the copy has no NUL);
 * an answer we build is itself an answer we accept, with the same codec. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sdp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *const codecs[] = { "G729", "PCMU", "PCMA", "G722", "telephone-event" };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sdp_local l = {
		.address = "192.0.2.1", .port = 16384, .codecs = codecs, .n_codecs = 5,
		.ptime = 20, .session_id = 1,
	};
	struct sdp_media m, back;
	char buf[SDP_MAX];
	char *body = malloc(size ? size : 1);
	int rc;

	if (!body)
		return 0;
	memcpy(body, data, size);
	rc = sdp_answer(buf, sizeof(buf), &l, body, size, &m);
	if (rc != 0 && rc != -EPROTO && rc != -ENOENT && rc != -ENOSPC)
		abort();
	if (rc == 0) {
		if (strlen(buf) >= SDP_MAX || m.payload < 0 || m.payload > 127 ||
		    m.dtmf < -1 || m.dtmf > 127 || (unsigned)m.dir >= SDP_DIR_MAX ||
		    !memchr(m.remote_addr, '\0', sizeof(m.remote_addr)) ||
		    !memchr(m.codec, '\0', sizeof(m.codec)))
			abort();
		if (m.local_port) {
			if (sdp_take_answer(&l, buf, strlen(buf), &back) != 0 ||
			    strcmp(back.codec, m.codec) != 0 || back.payload != m.payload ||
			    back.dtmf != m.dtmf)
				abort();
		}
	}
	rc = sdp_take_answer(&l, body, size, &m);
	if (rc != 0 && rc != -EPROTO && rc != -ENOENT)
		abort();
	free(body);
	return 0;
}
