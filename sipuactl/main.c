/* main.c - sipuactl, the control CLI (RULES E): reads the options, parses
 * the command (parser.c), sends it to sipuad's socket (conn.c), shows the
 * reply (show.c) and turns the outcome into the exit code. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"
#include "ctl_proto.h"
#include "parser.h"
#include "show.h"

static bool parse_timeout(const char *s, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	/* v == v: not a NaN */
	if (errno || end == s || *end || v != v || v <= 0 || v > SIPUACTL_TIMEOUT_MAX)
		return false;
	*out = v;
	return true;
}

/* The request line for res, '\n' included, in req (cut at size): its
 * length as if uncut, or -1. */
static int request(const struct parse_result *res, char *req, size_t size)
{
	size_t n = 0;
	int w = snprintf(req, size, "%s", res->command);

	for (int i = 0; i <= res->nargs && w >= 0; i++) {
		n += (size_t)w;
		char *p = req + (n < size ? n : size - 1);
		size_t left = n < size ? size - n : 1;
		if (i == res->nargs)
			w = snprintf(p, left, "\n");
		else if (res->arg[i].count)
			w = snprintf(p, left, " %ld", res->arg[i].count);
		else
			w = snprintf(p, left, " %s", res->arg[i].word);
	}
	if (w < 0 || n + (size_t)w > INT_MAX)
		return -1;
	return (int)(n + (size_t)w);
}

/* 0 if everything reached stdout, else says so and returns 1; a reader
 * that went away (EPIPE) is not worth a message. */
static int flush_stdout(void)
{
	if (fflush(stdout) == 0 && !ferror(stdout))
		return CTL_EXIT_OK;
	if (errno != EPIPE)
		fprintf(stderr, "sipuactl: stdout: %s\n", strerror(errno));
	return CTL_EXIT_ERROR;
}

/* subscribe: after {"ok":true} every line is an event, until the daemon
 * closes the connection; no deadline here. */
static int follow(struct conn *c, const char *path, bool json)
{
	for (;;) {
		char *line;
		size_t len;
		int r = conn_read_line(c, NULL, &line, &len);
		if (r == 0)
			return CTL_EXIT_OK;
		if (r == -EMSGSIZE) {
			fprintf(stderr, "sipuactl: event from %s longer than %d bytes\n", path, CTL_REPLY_MAX);
			return CTL_EXIT_ERROR;
		}
		if (r < 0) {
			fprintf(stderr, "sipuactl: connection to %s lost: %s\n", path, strerror(-r));
			return CTL_EXIT_NODAEMON;
		}
		show_event(line, len, json, path);
		if (flush_stdout() != CTL_EXIT_OK)
			return CTL_EXIT_ERROR;
	}
}

static int run(const struct parse_result *res, const char *req, size_t reqlen,
	       const char *path, bool json, double timeout)
{
	struct conn c = { .fd = -1 };
	struct timespec deadline;
	int rc = CTL_EXIT_NODAEMON;
	char *line;
	size_t len;
	int r;

	conn_deadline(&deadline, timeout);

	if ((r = conn_open(&c, path, timeout)) < 0) {
		if (r == -EAGAIN)
			fprintf(stderr, "sipuactl: no daemon on %s: no connection accepted within %g s\n",
				path, timeout);
		else
			fprintf(stderr, "sipuactl: no daemon on %s: %s\n", path, strerror(-r));
		goto out;
	}
	int wr = conn_write(&c, req, reqlen, &deadline);
	if (wr == -ETIMEDOUT) {
		fprintf(stderr, "sipuactl: %s took no request within %g s\n", path, timeout);
		goto out;
	}
	/* A daemon that refuses us (permission denied) says why and closes,
	 * possibly before our request is out: read what it said first. */
	r = conn_read_line(&c, &deadline, &line, &len);
	if (wr < 0 && r <= 0) {
		fprintf(stderr, "sipuactl: cannot send to %s: %s\n", path, strerror(-wr));
		goto out;
	}
	if (r == 0) {
		fprintf(stderr, "sipuactl: %s closed the connection before %s\n", path,
			c.len ? "the reply was complete" : "replying");
		goto out;
	}
	if (r == -ETIMEDOUT) {
		fprintf(stderr, "sipuactl: no reply from %s within %g s\n", path, timeout);
		goto out;
	}
	if (r == -EMSGSIZE) {
		fprintf(stderr, "sipuactl: reply from %s longer than %d bytes\n", path, CTL_REPLY_MAX);
		rc = CTL_EXIT_ERROR;
		goto out;
	}
	if (r < 0) {
		fprintf(stderr, "sipuactl: connection to %s lost: %s\n", path, strerror(-r));
		goto out;
	}

	rc = CTL_EXIT_ERROR;
	bool ok = show_reply(res->cmd, line, len, json, path);
	if (ok)
		rc = CTL_EXIT_OK;
	if (flush_stdout() != CTL_EXIT_OK)
		rc = CTL_EXIT_ERROR;
	else if (ok && res->cmd == CTL_CMD_SUBSCRIBE)
		rc = follow(&c, path, json);
out:
	conn_close(&c);
	return rc;
}

int main(int argc, char **argv)
{
	const char *path = getenv(CTL_SOCKET_ENV);
	double timeout = SIPUACTL_TIMEOUT_DEFAULT;
	bool json = false;
	struct parse_result res;
	char req[CTL_REQUEST_MAX + 1];
	int ch;

	if (!path || !*path) /* RULES H.1: the new place first, then the old one */
		path = access(CTL_DEFAULT_SOCKET, F_OK) == 0 ? CTL_DEFAULT_SOCKET : CTL_OLD_SOCKET;
	opterr = 0;
	while ((ch = getopt(argc, argv, ":hjs:t:")) != -1) {
		switch (ch) {
		case 'h':
			parser_help(stdout);
			return flush_stdout();
		case 'j':
			json = true;
			break;
		case 's':
			path = optarg;
			break;
		case 't':
			if (!parse_timeout(optarg, &timeout)) {
				fprintf(stderr, "sipuactl: -t wants seconds, more than 0 and at most %g, not '%s'\n",
					SIPUACTL_TIMEOUT_MAX, optarg);
				return CTL_EXIT_ERROR;
			}
			break;
		case ':':
			fprintf(stderr, "sipuactl: -%c needs an argument\n", optopt);
			parser_usage(stderr);
			return CTL_EXIT_ERROR;
		default:
			fprintf(stderr, "sipuactl: unknown option -%c\n", optopt);
			parser_usage(stderr);
			return CTL_EXIT_ERROR;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0) {
		parser_usage(stderr);
		fputs("(sipuactl help lists the commands)\n", stderr);
		return CTL_EXIT_ERROR;
	}
	if (parser_parse(argc, argv, &res) < 0)
		return CTL_EXIT_ERROR;
	if (res.help) {
		parser_help(stdout);
		return flush_stdout();
	}

	int n = request(&res, req, sizeof req);
	if (n < 0 || n > CTL_REQUEST_MAX) {
		fprintf(stderr, "sipuactl: request longer than %d bytes\n", CTL_REQUEST_MAX);
		return CTL_EXIT_ERROR;
	}

	signal(SIGPIPE, SIG_IGN);
	tzset();
	return run(&res, req, (size_t)n, path, json, timeout);
}
