/* parser.h - sipuactl's command words: a static token tree with
 * unique-prefix matching, its help and synopses. */
#ifndef SIPUACTL_PARSER_H
#define SIPUACTL_PARSER_H

#include <stdio.h>

#define SIPUACTL_TIMEOUT_DEFAULT 10.0   /* s to wait for a reply unless -t */
#define SIPUACTL_TIMEOUT_MAX 86400.0

enum action {
	A_NONE,
	A_STATUS,
	A_HISTORY,
	A_REGISTER,
	A_UNREGISTER,
	A_FAILOVER,
	A_RELOAD,
	A_SUBSCRIBE,
	A_VERSION,
	A_HELP,
};

struct parse_result {
	enum action action;
	const char *command;          /* the canonical command word sent */
	const char *line;
	long count;                   /* 0: none given */
};

/* Parses the words after the options into res: 0, or -1 after saying why
 * on stderr. */
int parser_parse(int argc, char **argv, struct parse_result *res);
/* The one-line synopsis of sipuactl's arguments. */
void parser_usage(FILE *f);
/* The options, the commands with their synopses, the exit codes. */
void parser_help(FILE *f);

#endif
