/* parser.c - sipuactl's command words: a static token tree with
 * unique-prefix matching, its help and synopses. */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_proto.h"
#include "parser.h"

#define ARGS_MAX 64            /* bytes of a command's argument synopsis, "history LINE [N]" */

/* A static token tree in the manner of dhcpleasectl's parser.c: a table
 * lists what may come next, KEYWORD matches any unique prefix, NOTOKEN
 * marks that the words may end here, ENDTOKEN closes the table. */
enum token_type {
	NOTOKEN,
	ENDTOKEN,
	KEYWORD,
	LINEID,
	COUNT,
};

struct token {
	enum token_type type;
	const char *keyword;          /* KEYWORD: the word; otherwise its name in help */
	enum action value;
	const struct token *next;
	const char *help;
};

static const struct token t_end[] = {
	{ NOTOKEN, "", A_NONE, NULL, NULL },
	{ ENDTOKEN, "", A_NONE, NULL, NULL },
};

static const struct token t_count_opt[] = {
	{ NOTOKEN, "", A_NONE, NULL, NULL },
	{ COUNT, "N", A_NONE, t_end, NULL },
	{ ENDTOKEN, "", A_NONE, NULL, NULL },
};

static const struct token t_line[] = {
	{ LINEID, "LINE", A_NONE, t_end, NULL },
	{ ENDTOKEN, "", A_NONE, NULL, NULL },
};

static const struct token t_line_opt[] = {
	{ NOTOKEN, "", A_NONE, NULL, NULL },
	{ LINEID, "LINE", A_NONE, t_end, NULL },
	{ ENDTOKEN, "", A_NONE, NULL, NULL },
};

static const struct token t_history[] = {
	{ LINEID, "LINE", A_NONE, t_count_opt, NULL },
	{ ENDTOKEN, "", A_NONE, NULL, NULL },
};

static const struct token t_main[] = {
	{ KEYWORD, "status", A_STATUS, t_line_opt, "every line in a table, or one line in full" },
	{ KEYWORD, "history", A_HISTORY, t_history, "the line's switches and errors, newest first" },
	{ KEYWORD, "register", A_REGISTER, t_line, "register the line now" },
	{ KEYWORD, "unregister", A_UNREGISTER, t_line, "un-register the line" },
	{ KEYWORD, "failover", A_FAILOVER, t_line, "switch the line to its next server now" },
	{ KEYWORD, "reload", A_RELOAD, t_end, "re-read the config; only changed lines are touched" },
	{ KEYWORD, "subscribe", A_SUBSCRIBE, t_end, "print events as they happen, until the daemon closes" },
	{ KEYWORD, "version", A_VERSION, t_end, "the daemon's and sipuactl's versions" },
	{ KEYWORD, "help", A_HELP, t_end, "this help" },
	{ ENDTOKEN, "", A_NONE, NULL, NULL },
};

/* "history LINE [N]": the words that may follow a table, optional ones
 * in brackets. */
static void args_synopsis(char *buf, size_t size, const struct token *table)
{
	const struct token *arg = NULL;
	bool optional = false;
	size_t n = strlen(buf);

	for (const struct token *t = table; t && t->type != ENDTOKEN; t++) {
		if (t->type == NOTOKEN)
			optional = true;
		else if (!arg)
			arg = t;
	}
	if (!arg || n >= size)
		return;
	snprintf(buf + n, size - n, optional ? " [%s" : " %s", arg->keyword);
	args_synopsis(buf, size, arg->next);
	n = strlen(buf);
	if (optional && n + 1 < size)
		snprintf(buf + n, size - n, "]");
}

static void command_synopsis(char *buf, size_t size, const struct token *cmd)
{
	snprintf(buf, size, "%s", cmd->keyword);
	args_synopsis(buf, size, cmd->next);
}

void parser_usage(FILE *f)
{
	fputs("usage: sipuactl [-s SOCKET] [-j] [-t SECONDS] COMMAND [ARGS]\n", f);
}

void parser_help(FILE *f)
{
	char syn[ARGS_MAX];
	int width = 0;

	parser_usage(f);
	fprintf(f, "\n"
		"  -s SOCKET   the daemon's control socket (default: $%s, else %s)\n"
		"  -j          print the daemon's JSON as is\n"
		"  -t SECONDS  wait at most this long for the reply (default %g)\n"
		"  -h          this help\n"
		"\ncommands (any unique prefix will do):\n",
		CTL_SOCKET_ENV, CTL_DEFAULT_SOCKET, SIPUACTL_TIMEOUT_DEFAULT);
	for (const struct token *t = t_main; t->type != ENDTOKEN; t++) {
		command_synopsis(syn, sizeof syn, t);
		if ((int)strlen(syn) > width)
			width = (int)strlen(syn);
	}
	for (const struct token *t = t_main; t->type != ENDTOKEN; t++) {
		command_synopsis(syn, sizeof syn, t);
		fprintf(f, "  %-*s  %s\n", width, syn, t->help);
	}
	fprintf(f, "\nexit status: %d ok, %d error (usage or error reply), %d no daemon or no reply\n",
		CTL_EXIT_OK, CTL_EXIT_ERROR, CTL_EXIT_NODAEMON);
}

static void command_usage(const struct token *cmd)
{
	char syn[ARGS_MAX];
	command_synopsis(syn, sizeof syn, cmd);
	fprintf(stderr, "usage: sipuactl [-s SOCKET] [-j] [-t SECONDS] %s\n", syn);
}

/* Line ids are checked by the daemon; here only that the word survives
 * the wire's framing: printable ASCII, no blanks. */
static bool valid_line(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

static bool parse_count(const char *s, long *out)
{
	char *end;
	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || v < 1 || v > INT_MAX)
		return false;
	*out = v;
	return true;
}

/* Matches one word (NULL: the words ended) against a table. Returns the
 * token matched, or NULL after saying why on stderr. */
static const struct token *match_token(const char *word, const struct token *table,
				       const struct token *cmd, struct parse_result *res)
{
	const struct token *match = NULL;
	int prefixes = 0;

	if (!word) {
		for (const struct token *t = table; t->type != ENDTOKEN; t++)
			if (t->type == NOTOKEN)
				return t;
		for (const struct token *t = table; t->type != ENDTOKEN; t++)
			if (t->type != KEYWORD) {
				fprintf(stderr, "sipuactl: %s: missing %s\n", cmd->keyword, t->keyword);
				break;
			}
		command_usage(cmd);
		return NULL;
	}

	for (const struct token *t = table; t->type != ENDTOKEN; t++)
		if (t->type == KEYWORD && strcmp(word, t->keyword) == 0)
			return t;
	for (const struct token *t = table; t->type != ENDTOKEN; t++)
		if (t->type == KEYWORD && *word && strncmp(word, t->keyword, strlen(word)) == 0) {
			match = t;
			prefixes++;
		}
	if (prefixes == 1)
		return match;
	if (prefixes > 1) {
		fprintf(stderr, "sipuactl: ambiguous command '%s': could be", word);
		const char *sep = " ";
		for (const struct token *t = table; t->type != ENDTOKEN; t++)
			if (t->type == KEYWORD && *word && strncmp(word, t->keyword, strlen(word)) == 0) {
				fprintf(stderr, "%s%s", sep, t->keyword);
				sep = ", ";
			}
		fputc('\n', stderr);
		return NULL;
	}

	for (const struct token *t = table; t->type != ENDTOKEN; t++) {
		switch (t->type) {
		case LINEID:
			if (valid_line(word)) {
				res->line = word;
				return t;
			}
			fprintf(stderr, "sipuactl: %s: invalid %s '%s'\n", cmd->keyword, t->keyword, word);
			command_usage(cmd);
			return NULL;
		case COUNT:
			if (parse_count(word, &res->count))
				return t;
			fprintf(stderr, "sipuactl: %s: %s must be a number from 1 to %d, not '%s'\n",
				cmd->keyword, t->keyword, INT_MAX, word);
			command_usage(cmd);
			return NULL;
		default:
			break;
		}
	}

	if (!cmd) {
		fprintf(stderr, "sipuactl: unknown command '%s'\n", word);
		parser_help(stderr);
	} else {
		fprintf(stderr, "sipuactl: %s: too many arguments\n", cmd->keyword);
		command_usage(cmd);
	}
	return NULL;
}

int parser_parse(int argc, char **argv, struct parse_result *res)
{
	const struct token *table = t_main, *cmd = NULL;

	memset(res, 0, sizeof *res);
	for (int i = 0;; i++) {
		const struct token *t = match_token(i < argc ? argv[i] : NULL, table, cmd, res);
		if (!t)
			return -1;
		if (t->type == NOTOKEN)
			return 0;
		if (t->type == KEYWORD) {
			cmd = t;
			res->action = t->value;
			res->command = t->keyword;
		}
		table = t->next;
	}
}
