/* parser.h - sipuactl's command words: the commands of ctl_proto.h
 * matched by any unique prefix, their arguments checked against the
 * command's synopsis, the help and usage built from the same table. */
#ifndef SIPUACTL_PARSER_H
#define SIPUACTL_PARSER_H

#include <stdbool.h>
#include <stdio.h>

#include "ctl_proto.h"

#define SIPUACTL_TIMEOUT_DEFAULT 10.0   /* s to wait for a reply unless -t */
#define SIPUACTL_TIMEOUT_MAX 86400.0
#define PARSER_ARGS_MAX (CTL_WORDS_MAX - 1)

struct parse_arg {
	const char *word;             /* as given */
	long count;                   /* an N: its value, sent as a plain number; else 0 */
};

struct parse_result {
	bool help;                    /* `help`: answered here, nothing is sent */
	enum ctl_cmd cmd;
	const char *command;          /* the canonical command word sent */
	int nargs;
	struct parse_arg arg[PARSER_ARGS_MAX];
};

/* Parses the words after the options into res: 0, or -1 after saying why
 * on stderr. */
int parser_parse(int argc, char **argv, struct parse_result *res);
/* The one-line synopsis of sipuactl's arguments. */
void parser_usage(FILE *f);
/* The options, the commands with their synopses, the exit codes. */
void parser_help(FILE *f);

#endif
