/* fuzz_ctl.c - libFuzzer harness for the control socket's request parser:
 * any bytes give a reply that is one line of JSON with "ok", nothing else. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "ctl.h"
#include "line.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The socket layer hands the parser one line without its newline; a
	 * NUL inside is refused before the parser, so stop at the first. */
	char *req = malloc(size + 1);
	if (!req)
		return 0;
	memcpy(req, data, size);
	req[size] = '\0';
	struct line_set none = { 0 };
	bool subscribe = false;
	char *reply = ctl_handle_request(&none, req, &subscribe);
	if (!reply || strchr(reply, '\n'))
		abort();
	json_object *o = json_tokener_parse(reply), *ok;
	if (!o || !json_object_object_get_ex(o, "ok", &ok) || !json_object_is_type(ok, json_type_boolean))
		abort();
	json_object_put(o);
	free(reply);
	free(req);
	return 0;
}
