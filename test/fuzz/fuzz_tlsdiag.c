/* fuzz_tlsdiag.c - libFuzzer harness for tlsdiag.c (RULES G.3): it reads
 * Sofia-SIP's log lines, some of which carry text a peer chose (reason
 * phrases, certificate subjects). Any bytes, cut into lines, give no read
 * past a line, no write past the state, and every word that comes out is
 * a NUL-terminated string that fits its buffer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tlsdiag.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tlsdiag d;
	char buf[TLSDIAG_WORDS_MAX];
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	tlsdiag_init(&d);
	int64_t now = 0;
	for (char *line = text, *nl; line; line = nl) {
		nl = strchr(line, '\n');
		if (nl)
			*nl++ = '\0';
		tlsdiag_line(&d, line, now);
		now += 100;
	}
	for (int i = 0; i < TLSDIAG_KEEP; i++)
		if (!memchr(d.last[i].ip, '\0', sizeof d.last[i].ip) ||
		    !memchr(d.last[i].words, '\0', sizeof d.last[i].words))
			abort();
	if (!memchr(d.pending, '\0', sizeof d.pending))
		abort();
	const char *w = tlsdiag_take(&d, "127.0.0.3", 5061, now, buf, sizeof buf);
	if (w && strlen(w) >= sizeof buf)
		abort();
	free(text);
	return 0;
}
