/* parser.c - sipuactl's command words, in the manner of dhcpleasectl's
 * parser.c: a static table of keywords matched by any unique prefix, then
 * the command's arguments. The table is generated from ctl_proto.h's
 * CTL_COMMANDS, as the daemon's is, so a command is written once; each
 * argument is checked by the kind its word in the synopsis names. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parser.h"

#define SYNOPSIS_MAX 64        /* bytes of a command's synopsis, "history LINE [N]" */
#define ARG_NAME_MAX 16        /* bytes of one argument's name in a synopsis, "LINE" */

struct command {
	const char *word;
	enum ctl_cmd cmd;
	bool help;                    /* sipuactl's own `help` */
	const char *args;             /* the synopsis after the word, optional ones in brackets */
	int min, max;                 /* how many arguments */
	const char *summary;
};

static const struct command commands[] = {
#define COMMAND(id, word, args, min, max, help) { #word, CTL_CMD_##id, false, args, min, max, help },
	CTL_COMMANDS(COMMAND)
#undef COMMAND
	{ "help", CTL_CMD_MAX, true, "", 0, 0, "this help" },
};

#define N_COMMANDS (sizeof commands / sizeof commands[0])

/* What an argument's name in a synopsis asks for. */
enum arg_kind {
	ARG_WORD,                     /* anything the wire can carry as one word */
	ARG_LINE,                     /* LINE: a line id */
	ARG_COUNT,                    /* N: a count from 1 */
};

static enum arg_kind arg_kind(const char *name)
{
	if (strcmp(name, "LINE") == 0)
		return ARG_LINE;
	if (strcmp(name, "N") == 0)
		return ARG_COUNT;
	return ARG_WORD;
}

/* The name of argument i in the synopsis args, brackets dropped ("" past
 * the end). */
static const char *arg_name(const char *args, int i, char *buf, size_t size)
{
	const char *p = args;
	size_t n = 0;

	for (;;) {
		p += strspn(p, " []");
		n = strcspn(p, " []");
		if (i-- == 0 || n == 0)
			break;
		p += n;
	}
	snprintf(buf, size, "%.*s", (int)n, p);
	return buf;
}

static void command_synopsis(char *buf, size_t size, const struct command *c)
{
	snprintf(buf, size, "%s%s%s", c->word, c->args[0] ? " " : "", c->args);
}

void parser_usage(FILE *f)
{
	fputs("usage: sipuactl [-s SOCKET] [-j] [-t SECONDS] COMMAND [ARGS]\n", f);
}

void parser_help(FILE *f)
{
	char syn[SYNOPSIS_MAX];
	int width = 0;

	parser_usage(f);
	fprintf(f, "\n"
		"  -s SOCKET   the daemon's control socket (default: $%s, else %s\n"
		"              if it exists, else %s)\n"
		"  -j          print the daemon's JSON as is\n"
		"  -t SECONDS  wait at most this long for the reply (default %g)\n"
		"  -h          this help\n"
		"\ncommands (any unique prefix will do):\n",
		CTL_SOCKET_ENV, CTL_DEFAULT_SOCKET, CTL_OLD_SOCKET, SIPUACTL_TIMEOUT_DEFAULT);
	for (size_t i = 0; i < N_COMMANDS; i++) {
		command_synopsis(syn, sizeof syn, &commands[i]);
		if ((int)strlen(syn) > width)
			width = (int)strlen(syn);
	}
	for (size_t i = 0; i < N_COMMANDS; i++) {
		command_synopsis(syn, sizeof syn, &commands[i]);
		fprintf(f, "  %-*s  %s\n", width, syn, commands[i].summary);
	}
	fprintf(f, "\nexit status: %d ok, %d error (usage or error reply), %d no daemon or no reply\n",
		CTL_EXIT_OK, CTL_EXIT_ERROR, CTL_EXIT_NODAEMON);
}

static void command_usage(const struct command *c)
{
	char syn[SYNOPSIS_MAX];
	command_synopsis(syn, sizeof syn, c);
	fprintf(stderr, "usage: sipuactl [-s SOCKET] [-j] [-t SECONDS] %s\n", syn);
}

/* Line ids are checked by the daemon; here only that the word survives
 * the wire's framing: printable ASCII, no blanks. */
static bool valid_word(const char *s)
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

/* The command the word names, exactly or as the prefix of only one; NULL
 * after saying why on stderr. */
static const struct command *match_command(const char *word)
{
	const struct command *match = NULL;
	size_t len = strlen(word);
	int prefixes = 0;

	for (size_t i = 0; i < N_COMMANDS; i++)
		if (strcmp(word, commands[i].word) == 0)
			return &commands[i];
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (len && strncmp(word, commands[i].word, len) == 0) {
			match = &commands[i];
			prefixes++;
		}
	if (prefixes == 1)
		return match;
	if (prefixes > 1) {
		fprintf(stderr, "sipuactl: ambiguous command '%s': could be", word);
		const char *sep = " ";
		for (size_t i = 0; i < N_COMMANDS; i++)
			if (len && strncmp(word, commands[i].word, len) == 0) {
				fprintf(stderr, "%s%s", sep, commands[i].word);
				sep = ", ";
			}
		fputc('\n', stderr);
		return NULL;
	}
	fprintf(stderr, "sipuactl: unknown command '%s'\n", word);
	parser_help(stderr);
	return NULL;
}

/* Checks word as argument i of c into a: 0, or -1 after saying why. */
static int match_arg(const struct command *c, int i, const char *word, struct parse_arg *a)
{
	char name[ARG_NAME_MAX];

	arg_name(c->args, i, name, sizeof name);
	a->word = word;
	a->count = 0;
	switch (arg_kind(name)) {
	case ARG_COUNT:
		if (parse_count(word, &a->count))
			return 0;
		fprintf(stderr, "sipuactl: %s: %s must be a number from 1 to %d, not '%s'\n",
			c->word, name, INT_MAX, word);
		break;
	case ARG_LINE:
	case ARG_WORD:
		if (valid_word(word))
			return 0;
		fprintf(stderr, "sipuactl: %s: invalid %s '%s'\n", c->word, name, word);
		break;
	}
	command_usage(c);
	return -1;
}

int parser_parse(int argc, char **argv, struct parse_result *res)
{
	memset(res, 0, sizeof *res);
	if (argc < 1) {
		parser_usage(stderr);
		return -1;
	}
	const struct command *c = match_command(argv[0]);
	if (!c)
		return -1;
	res->help = c->help;
	res->cmd = c->cmd;
	res->command = c->word;
	/* Arguments one by one, as the daemon takes them: the first wrong
	 * one is the one reported. */
	for (int i = 1; i < argc; i++) {
		if (i - 1 >= c->max || i - 1 >= PARSER_ARGS_MAX) {
			fprintf(stderr, "sipuactl: %s: too many arguments\n", c->word);
			command_usage(c);
			return -1;
		}
		if (match_arg(c, i - 1, argv[i], &res->arg[i - 1]) < 0)
			return -1;
		res->nargs = i;
	}
	if (res->nargs < c->min) {
		char name[ARG_NAME_MAX];
		fprintf(stderr, "sipuactl: %s: missing %s\n", c->word,
			arg_name(c->args, res->nargs, name, sizeof name));
		command_usage(c);
		return -1;
	}
	return 0;
}
