/* ctl_proto.h - the control socket's wire contract, shared by sipuad and sipuactl (RULES E):
 * the commands, the limits of a request and a reply, and sipuactl's exit codes. */
#ifndef SIPUAD_CTL_PROTO_H
#define SIPUAD_CTL_PROTO_H

/* RULES H.1: the daemon's default control socket, in a directory its
 * user owns; sipuactl tries the pre-H.1 path when this one is missing. */
#define CTL_DEFAULT_SOCKET "/var/run/sipuad/sipuad.sock"
#define CTL_OLD_SOCKET "/var/run/sipuad.sock"
#define CTL_REQUEST_MAX 4096          /* bytes of one request line, '\n' included */
#define CTL_WORDS_MAX 8               /* words of one request, the command's included */
#define CTL_REPLY_MAX (4 * 1024 * 1024) /* bytes of one reply or event line sipuactl accepts, '\n' excluded */
#define CTL_SOCKET_ENV "SIPUAD_SOCKET" /* sipuactl's socket unless -s */
#define CTL_HISTORY_DEFAULT 20        /* events `history LINE` gives without N */
#define CTL_HISTORY_MAX 1000          /* the largest N of `history LINE N` */

/* The commands, each written once: X(ID, word, ARGS, MIN, MAX, HELP).
 * The request word is #word (the daemon's handler is cmd_word, so a
 * command without one does not compile); ID names it in enum ctl_cmd, in
 * capitals since the preprocessor cannot change case. ARGS is the
 * synopsis of the words after it, optional ones in brackets; MIN..MAX of
 * them may be given: the daemon refuses other counts with
 * "usage: word ARGS", sipuactl before sending. sipuactl checks each
 * argument by its name in ARGS: LINE a line id, N a count from 1, any
 * other name one word the wire can carry. HELP is sipuactl's one line
 * on the command; the order is that of sipuactl's help. */
#define CTL_COMMANDS(X) \
	X(STATUS, status, "[LINE]", 0, 1, "every line in a table, or one line in full") \
	X(HISTORY, history, "LINE [N]", 1, 2, "the line's switches and errors, newest first") \
	X(REGISTER, register, "LINE", 1, 1, "register the line now") \
	X(UNREGISTER, unregister, "LINE", 1, 1, "un-register the line") \
	X(FAILOVER, failover, "LINE", 1, 1, "switch the line to its next server now") \
	X(RELOAD, reload, "", 0, 0, "re-read the config; only changed lines are touched") \
	X(CALL, call, "LINE TARGET", 2, 2, "call TARGET (a number, a user or a sip: URI) from the line") \
	X(ANSWER, answer, "CALL", 1, 1, "answer an incoming call") \
	X(HANGUP, hangup, "CALL [CODE]", 1, 2, "hang up, cancel, or reject with CODE (400-699, default 486)") \
	X(CALLS, calls, "", 0, 0, "the calls not yet closed") \
	X(SUBSCRIBE, subscribe, "", 0, 0, "print events as they happen, until the daemon closes") \
	X(VERSION, version, "", 0, 0, "the daemon's and sipuactl's versions")

enum ctl_cmd {
#define CTL_CMD_ENUM(id, word, args, min, max, help) CTL_CMD_##id,
	CTL_COMMANDS(CTL_CMD_ENUM)
#undef CTL_CMD_ENUM
	CTL_CMD_MAX
};

/* sipuactl's exit codes */
#define CTL_EXIT_OK 0
#define CTL_EXIT_ERROR 1              /* the daemon answered {"ok":false,...} */
#define CTL_EXIT_NODAEMON 2           /* no daemon on the socket */

#endif
