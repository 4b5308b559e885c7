/* test_ctl.c - control requests: every malformed one gets an error reply. */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "ctl.h"
#include "ctl_proto.h"
#include "line.h"
#include "unit.h"

/* The reply to REQ on a daemon with no lines, parsed; NULL if not JSON. */
static json_object *ask(const char *req)
{
	struct line_set none = { 0 };
	bool sub = false;
	char *s = ctl_handle_request(&none, req, &sub);
	json_object *o = s ? json_tokener_parse(s) : NULL;
	free(s);
	return o;
}

/* 1 if REQ is answered {"ok":false,"error":"...WANT..."} */
static int refused(const char *req, const char *want)
{
	json_object *o = ask(req), *ok, *err;
	int r = o && json_object_object_get_ex(o, "ok", &ok) && !json_object_get_boolean(ok) &&
		json_object_object_get_ex(o, "error", &err) &&
		strstr(json_object_get_string(err), want) != NULL;
	if (!r)
		fprintf(stderr, "  '%.40s' -> %s\n", req, o ? json_object_to_json_string(o) : "(no JSON)");
	json_object_put(o);
	return r;
}

TEST(test_ctl_version_reply)
{
	json_object *o = ask("version"), *v;
	CHECK(o);
	CHECK(json_object_object_get_ex(o, "version", &v));
	CHECK(json_object_get_string(v)[0] != '\0');
	json_object_put(o);
	return 0;
}

TEST(test_ctl_status_with_no_lines_is_an_empty_list)
{
	json_object *o = ask("  status\t"), *lines;
	CHECK(o);
	CHECK(json_object_object_get_ex(o, "lines", &lines));
	CHECK_INT(json_object_array_length(lines), 0);
	json_object_put(o);
	return 0;
}

TEST(test_ctl_malformed_requests_get_error_replies)
{
	CHECK(refused("", "empty"));
	CHECK(refused("   ", "empty"));
	CHECK(refused("bogus", "unknown command"));
	CHECK(refused("status nosuchline", "no line"));
	CHECK(refused("status a b", "usage"));
	CHECK(refused("version extra", "usage"));
	CHECK(refused("status \x01", "control"));
	CHECK(refused("status \xc3\xa9", "non-ASCII"));
	CHECK(refused("a b c d e f g h i", "too many words"));
	char *big = malloc(CTL_REQUEST_MAX + 2);
	CHECK(big);
	memset(big, 'x', CTL_REQUEST_MAX + 1);
	big[CTL_REQUEST_MAX + 1] = '\0';
	int r = refused(big, "longer than");
	free(big);
	CHECK(r);
	return 0;
}

/* Every command of the wire contract is served, its synopsis agrees with
 * its word counts, and it refuses a number of words outside MIN..MAX with
 * that synopsis, as sipuactl shows it. */
TEST(test_ctl_commands_follow_the_contract)
{
	static const struct {
		const char *name, *args;
		int min, max;
	} cmds[] = {
#define ROW(id, word, args, min, max, help) { #word, args, min, max },
		CTL_COMMANDS(ROW)
#undef ROW
	};
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
		char req[128], want[128];
		/* The synopsis agrees with the counts: MAX words, MIN of them
		 * outside brackets. */
		int words = 0, required = 0, depth = 0;
		for (const char *p = cmds[i].args; *p; p++) {
			if (*p == '[')
				depth++;
			else if (*p == ']')
				depth--;
			else if (*p != ' ' && (p == cmds[i].args || strchr(" [", p[-1]))) {
				words++;
				required += depth == 0;
			}
		}
		CHECK_INT(words, cmds[i].max);
		CHECK_INT(required, cmds[i].min);
		snprintf(want, sizeof want, "usage: %s%s%s", cmds[i].name, cmds[i].args[0] ? " " : "",
			 cmds[i].args);
		snprintf(req, sizeof req, "%s", cmds[i].name);
		for (int n = 0; n < cmds[i].max + 1; n++)
			strcat(req, " x");
		CHECK(refused(req, want));
		if (cmds[i].min > 0) {
			snprintf(req, sizeof req, "%s", cmds[i].name);
			CHECK(refused(req, want));
		}
		snprintf(req, sizeof req, "%s", cmds[i].name);
		json_object *o = ask(req);
		CHECK(o);
		CHECK(!strstr(json_object_to_json_string(o), "unknown command"));
		json_object_put(o);
	}
	return 0;
}

TEST(test_ctl_history_n_is_bounded_by_the_contract)
{
	char req[64];
	snprintf(req, sizeof req, "history x %d", CTL_HISTORY_MAX + 1);
	CHECK(refused(req, "N must be 1.."));
	CHECK(refused("history x 0", "N must be 1.."));
	snprintf(req, sizeof req, "history x %d", CTL_HISTORY_MAX);
	CHECK(refused(req, "no line 'x'"));
	return 0;
}
