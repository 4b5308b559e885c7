/* ctl.c - the control socket: framing, commands, JSON replies. */
#include <errno.h>
#include <grp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <json-c/json.h>

#include "calls.h"
#include "ctl.h"
#include "ctl_proto.h"
#include "line.h"
#include "log.h"
#include "version.h"

#define CTL_CLIENTS_MAX 64
/* A subscriber this far behind is dropped rather than let it grow our
 * memory or block the loop. */
#define CTL_SUBSCRIBER_BACKLOG (256 * 1024)
/* A client that sends nothing for this long is closed (subscribers excepted). */
#define CTL_IDLE_TIMEOUT_S 60
/* Replies a client does not read pile up to this much, then it is closed. */
#define CTL_OUTPUT_MAX (1024 * 1024)

struct ctl_client {
	struct ctl *ctl;
	struct bufferevent *bev;
	struct ctl_client *next;
	bool closing;        /* reply written; close once it has drained */
	bool subscriber;     /* receives every line event */
	bool dropped;        /* closed by us for not reading: free, do not flush */
};

/* The reload hook: one daemon, one control socket. */
static ctl_reload_fn *reload_fn;
static void *reload_arg;

struct ctl {
	struct event_base *base;
	const struct line_set *set;
	struct evconnlistener *listener;
	char *path;
	bool have_gid;
	gid_t gid;           /* control.group: its members may connect too */
	struct ctl_client *clients;
	int n_clients;
};

/* The daemon's calls (RULES F), NULL before they exist. */
static struct calls *ctl_calls;

void ctl_set_calls(struct calls *cs)
{
	ctl_calls = cs;
}

/* A SERVER object, as LINE and CALL show it (RULES E): PORT 0 is null. */
static json_object *server_json(int index, const char *role, const char *host, int port, const char *tp)
{
	json_object *sv = json_object_new_object();
	json_object_object_add(sv, "index", json_object_new_int(index));
	json_object_object_add(sv, "role", json_object_new_string(role));
	json_object_object_add(sv, "host", json_object_new_string(host));
	json_object_object_add(sv, "port", port ? json_object_new_int(port) : NULL);
	json_object_object_add(sv, "transport", json_object_new_string(tp));
	return sv;
}

static json_object *line_json(const struct line *l)
{
	struct line_status st;
	line_get_status(l, &st);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_string(st.id));
	json_object_object_add(o, "state", json_object_new_string(st.state));
	json_object_object_add(o, "registered", json_object_new_boolean(st.registered));
	json_object_object_add(o, "server", server_json(st.server_index, st.server_role, st.server_host,
							  st.server_port, st.server_transport));
	json_object_object_add(o, "address", st.address ? json_object_new_string(st.address) : NULL);
	json_object_object_add(o, "expires_in", json_object_new_int64(st.expires_in));
	json_object_object_add(o, "failovers", json_object_new_int64(st.failovers));
	json_object *err = NULL;
	if (st.error_reason) {
		err = json_object_new_object();
		json_object_object_add(err, "code", json_object_new_int(st.error_code));
		json_object_object_add(err, "reason", json_object_new_string(st.error_reason));
		json_object_object_add(err, "at", json_object_new_int64(st.error_at));
	}
	json_object_object_add(o, "last_error", err);
	json_object_object_add(o, "next_attempt_in",
			       st.next_attempt_in >= 0 ? json_object_new_int64(st.next_attempt_in) : NULL);
	json_object_object_add(o, "next_failback_in",
			       st.next_failback_in >= 0 ? json_object_new_int64(st.next_failback_in) : NULL);
	/* RULES B: the next hop: the proxy, its (or the server's) addresses and
	 * which one is in use, and how its name was last resolved. */
	json_object *px = NULL;
	if (st.proxy) {
		px = json_object_new_object();
		json_object_object_add(px, "index", json_object_new_int(st.proxy_index));
		json_object_object_add(px, "host", json_object_new_string(st.proxy));
	}
	json_object_object_add(o, "proxy", px);
	json_object *addrs = json_object_new_array();
	for (int i = 0; i < st.n_addresses; i++)
		json_object_array_add(addrs, json_object_new_string(st.addresses[i]));
	json_object_object_add(o, "addresses", addrs);
	json_object_object_add(o, "address_index",
			       st.address_index >= 0 ? json_object_new_int(st.address_index) : NULL);
	json_object *dns = NULL;
	if (st.dns_name) {
		dns = json_object_new_object();
		json_object_object_add(dns, "name", json_object_new_string(st.dns_name));
		json_object_object_add(dns, "stale", json_object_new_boolean(st.dns_stale));
		json_object_object_add(dns, "error", st.dns_error ? json_object_new_string(st.dns_error) : NULL);
		json_object_object_add(dns, "refresh_in",
				       st.dns_refresh_in >= 0 ? json_object_new_int64(st.dns_refresh_in) : NULL);
	}
	json_object_object_add(o, "dns", dns);
	json_object_object_add(o, "calls", json_object_new_int(ctl_calls ? calls_open(ctl_calls, st.id) : 0));
	return o;
}

/* The CALL object (SPEC F contract), into O. */
static void call_fields(json_object *o, const struct call_view *v)
{
	json_object_object_add(o, "id", json_object_new_string(v->id));
	json_object_object_add(o, "line", json_object_new_string(v->line));
	json_object_object_add(o, "direction", json_object_new_string(v->direction));
	json_object_object_add(o, "state", json_object_new_string(v->state));
	json_object_object_add(o, "peer", json_object_new_string(v->peer));
	json_object_object_add(o, "server", v->server_index < 0 ? NULL
						: server_json(v->server_index, v->server_role, v->server_host,
							      v->server_port, v->server_transport));
	json_object_object_add(o, "sip_call_id", json_object_new_string(v->sip_call_id));
	json_object_object_add(o, "started", json_object_new_int64(v->started));
	json_object_object_add(o, "answered", v->answered ? json_object_new_int64(v->answered) : NULL);
	json_object_object_add(o, "code", v->reason ? json_object_new_int(v->code) : NULL);
	json_object_object_add(o, "reason", v->reason ? json_object_new_string(v->reason) : NULL);
	json_object *m = NULL;
	if (v->has_media) {
		m = json_object_new_object();
		json_object *loc = json_object_new_object(), *rem = json_object_new_object();
		json_object_object_add(loc, "address", json_object_new_string(v->local_addr));
		json_object_object_add(loc, "port", json_object_new_int(v->local_port));
		json_object_object_add(rem, "address", json_object_new_string(v->remote_addr));
		json_object_object_add(rem, "port", json_object_new_int(v->remote_port));
		json_object_object_add(m, "local", loc);
		json_object_object_add(m, "remote", rem);
		json_object_object_add(m, "codec", json_object_new_string(v->codec));
		json_object_object_add(m, "payload", json_object_new_int(v->payload));
		json_object_object_add(m, "ptime", json_object_new_int(v->ptime));
		json_object_object_add(m, "dtmf", v->dtmf >= 0 ? json_object_new_int(v->dtmf) : NULL);
		json_object_object_add(m, "direction", json_object_new_string(v->media_direction));
	}
	json_object_object_add(o, "media", m);
}

static json_object *event_json(const struct line_event *e)
{
	json_object *o = json_object_new_object();
	if (e->call) {
		/* a call's live event: {"at","line","kind":"call","call":ID,"state",...CALL} */
		json_object_object_add(o, "at", json_object_new_int64(e->at));
		json_object_object_add(o, "kind", json_object_new_string(e->kind));
		json_object_object_add(o, "call", json_object_new_string(e->call->id));
		call_fields(o, e->call);
		json_object_object_del(o, "id");
		return o;
	}
	json_object_object_add(o, "at", json_object_new_int64(e->at));
	json_object_object_add(o, "line", json_object_new_string(e->line));
	json_object_object_add(o, "kind", json_object_new_string(e->kind));
	json_object_object_add(o, "from", e->from[0] ? json_object_new_string(e->from) : NULL);
	json_object_object_add(o, "to", e->to[0] ? json_object_new_string(e->to) : NULL);
	json_object_object_add(o, "reason", json_object_new_string(e->reason));
	return o;
}

static json_object *reply_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static json_object *reply_error(const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "ok", json_object_new_boolean(0));
	json_object_object_add(o, "error", json_object_new_string(msg));
	return o;
}

static json_object *reply_ok(void)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "ok", json_object_new_boolean(1));
	return o;
}

/* The handlers: ctl_handle_request has checked the number of words
 * against the command's entry in CTL_COMMANDS. */
static json_object *cmd_status(const struct line_set *set, int argc, char **argv)
{
	json_object *o = reply_ok();
	if (argc == 2) {
		const struct line *l = line_set_find(set, argv[1]);
		if (!l) {
			json_object_put(o);
			return reply_error("no line '%s'", argv[1]);
		}
		json_object_object_add(o, "line", line_json(l));
		return o;
	}
	json_object *arr = json_object_new_array();
	for (int i = 0; i < set->n; i++)
		json_object_array_add(arr, line_json(set->v[i]));
	json_object_object_add(o, "lines", arr);
	return o;
}

static json_object *cmd_version(const struct line_set *set, int argc, char **argv)
{
	(void)set;
	(void)argc;
	(void)argv;
	json_object *o = reply_ok();
	json_object_object_add(o, "version", json_object_new_string(SIPUAD_VERSION));
	return o;
}

static struct line *find_line(const struct line_set *set, const char *id, json_object **err)
{
	struct line *l = line_set_find(set, id);
	if (!l)
		*err = reply_error("no line '%.64s'", id);
	return l;
}

static void history_cb(const struct line_event *e, void *arg)
{
	json_object_array_add(arg, event_json(e));
}

static json_object *cmd_history(const struct line_set *set, int argc, char **argv)
{
	long n = CTL_HISTORY_DEFAULT;
	if (argc == 3) {
		char *end;
		n = strtol(argv[2], &end, 10);
		if (*end || n < 1 || n > CTL_HISTORY_MAX)
			return reply_error("history: N must be 1..%d", CTL_HISTORY_MAX);
	}
	json_object *err = NULL;
	struct line *l = find_line(set, argv[1], &err);
	if (!l)
		return err;
	json_object *o = reply_ok(), *arr = json_object_new_array();
	line_history(l, (int)n, history_cb, arr);
	json_object_object_add(o, "events", arr);
	return o;
}

/* register, unregister, failover: a command to one line, answered once started. */
static json_object *line_command(const struct line_set *set, int argc, char **argv,
				 int (*fn)(struct line *l))
{
	(void)argc;
	json_object *err = NULL;
	struct line *l = find_line(set, argv[1], &err);
	if (!l)
		return err;
	int rc = fn(l);
	if (rc == -EBUSY)
		return reply_error("line '%s' is stopping", argv[1]);
	if (rc != 0)
		return reply_error("line '%s' is disabled", argv[1]);
	return reply_ok();
}

static json_object *cmd_failover(const struct line_set *set, int argc, char **argv)
{
	return line_command(set, argc, argv, line_force_failover);
}

static json_object *cmd_register(const struct line_set *set, int argc, char **argv)
{
	return line_command(set, argc, argv, line_register_now);
}

static json_object *cmd_unregister(const struct line_set *set, int argc, char **argv)
{
	return line_command(set, argc, argv, line_unregister);
}

static json_object *cmd_call(const struct line_set *set, int argc, char **argv)
{
	(void)set;
	(void)argc;
	char id[CALLS_ID_MAX], err[256];
	if (!ctl_calls)
		return reply_error("calls are not available");
	if (calls_dial(ctl_calls, argv[1], argv[2], id, sizeof id, err, sizeof err) != 0)
		return reply_error("%s", err);
	json_object *o = reply_ok();
	json_object_object_add(o, "call", json_object_new_string(id));
	return o;
}

static json_object *cmd_answer(const struct line_set *set, int argc, char **argv)
{
	(void)set;
	(void)argc;
	char err[256];
	if (!ctl_calls)
		return reply_error("calls are not available");
	if (calls_answer(ctl_calls, argv[1], err, sizeof err) != 0)
		return reply_error("%s", err);
	return reply_ok();
}

static json_object *cmd_hangup(const struct line_set *set, int argc, char **argv)
{
	(void)set;
	char err[256];
	long code = 0;
	if (!ctl_calls)
		return reply_error("calls are not available");
	if (argc == 3) {
		char *end;
		code = strtol(argv[2], &end, 10);
		if (*end || code < 400 || code > 699)
			return reply_error("hangup: CODE must be 400-699");
	}
	if (calls_hangup(ctl_calls, argv[1], (int)code, err, sizeof err) != 0)
		return reply_error("%s", err);
	return reply_ok();
}

static void calls_cb(const struct call_view *v, void *arg)
{
	json_object *o = json_object_new_object();
	call_fields(o, v);
	json_object_array_add(arg, o);
}

static json_object *cmd_calls(const struct line_set *set, int argc, char **argv)
{
	(void)set;
	(void)argc;
	(void)argv;
	json_object *o = reply_ok(), *arr = json_object_new_array();
	if (ctl_calls)
		calls_list(ctl_calls, calls_cb, arr);
	json_object_object_add(o, "calls", arr);
	return o;
}

static json_object *cmd_subscribe(const struct line_set *set, int argc, char **argv)
{
	(void)set;
	(void)argc;
	(void)argv;
	return reply_ok();
}

static json_object *cmd_reload(const struct line_set *set, int argc, char **argv)
{
	(void)set;
	(void)argc;
	(void)argv;
	char err[512];
	if (!reload_fn)
		return reply_error("reload is not available");
	if (reload_fn(reload_arg, err, sizeof err) != 0)
		return reply_error("%s", err);
	return reply_ok();
}

/* Generated from the wire contract, so the daemon and sipuactl cannot
 * disagree on a command's name or on how many words it takes. */
static const struct {
	const char *name;
	const char *args;                 /* the synopsis after the name */
	int min, max;                     /* words after the name */
	json_object *(*fn)(const struct line_set *set, int argc, char **argv);
} commands[CTL_CMD_MAX] = {
#define COMMAND(id, word, args, min, max, help) [CTL_CMD_##id] = { #word, args, min, max, cmd_##word },
	CTL_COMMANDS(COMMAND)
#undef COMMAND
};

/* Printable ASCII words separated by blanks; anything else is refused
 * before a command sees it. */
static int split_words(char *req, char **argv, int max)
{
	int argc = 0;
	for (char *p = req; *p;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		if (argc == max)
			return -1;
		argv[argc++] = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
		if (*p)
			*p++ = '\0';
	}
	return argc;
}

char *ctl_handle_request(const struct line_set *set, const char *request, bool *subscribe)
{
	char buf[CTL_REQUEST_MAX + 1];
	char *argv[CTL_WORDS_MAX];
	json_object *reply = NULL;
	size_t len = strlen(request);

	if (len > CTL_REQUEST_MAX) {
		reply = reply_error("request longer than %d bytes", CTL_REQUEST_MAX);
		goto out;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)request[i];
		if ((ch < 0x20 && ch != '\t') || ch >= 0x7f) {
			reply = reply_error("request has a control or non-ASCII byte at offset %zu", i);
			goto out;
		}
	}
	memcpy(buf, request, len + 1);
	int argc = split_words(buf, argv, CTL_WORDS_MAX);
	if (argc < 0) {
		reply = reply_error("too many words (at most %d)", CTL_WORDS_MAX);
		goto out;
	}
	if (argc == 0) {
		reply = reply_error("empty request");
		goto out;
	}
	for (int i = 0; i < CTL_CMD_MAX; i++)
		if (strcmp(argv[0], commands[i].name) == 0) {
			if (argc - 1 < commands[i].min || argc - 1 > commands[i].max) {
				reply = reply_error("usage: %s%s%s", commands[i].name,
						    commands[i].args[0] ? " " : "", commands[i].args);
				goto out;
			}
			reply = commands[i].fn(set, argc, argv);
			if (subscribe && i == CTL_CMD_SUBSCRIBE)
				*subscribe = true;
			goto out;
		}
	reply = reply_error("unknown command '%.64s'", argv[0]);
out:;
	char *s = strdup(json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PLAIN));
	json_object_put(reply);
	return s;
}

static void client_free(struct ctl_client *cl);

/* The line event sink: one JSON line to every subscriber. */
static void publish_cb(const struct line_event *e, void *arg)
{
	struct ctl *ctl = arg;
	const char *s = NULL;
	json_object *o = NULL;
	for (struct ctl_client *cl = ctl->clients, *next; cl; cl = next) {
		next = cl->next;
		if (!cl->subscriber || cl->closing)
			continue;
		struct evbuffer *out = bufferevent_get_output(cl->bev);
		if (evbuffer_get_length(out) > CTL_SUBSCRIBER_BACKLOG) {
			log_warn("ctl: dropping a subscriber %d bytes behind", CTL_SUBSCRIBER_BACKLOG);
			client_free(cl);
			continue;
		}
		if (!s) {
			o = event_json(e);
			s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
		}
		evbuffer_add(out, s, strlen(s));
		evbuffer_add(out, "\n", 1);
	}
	json_object_put(o);
}

static void client_free(struct ctl_client *cl)
{
	struct ctl *ctl = cl->ctl;
	for (struct ctl_client **pp = &ctl->clients; *pp; pp = &(*pp)->next)
		if (*pp == cl) {
			*pp = cl->next;
			break;
		}
	ctl->n_clients--;
	bufferevent_free(cl->bev);
	free(cl);
	/* A slot is free again: resume accepting if we had paused. */
	if (ctl->n_clients == CTL_CLIENTS_MAX - 1)
		evconnlistener_enable(ctl->listener);
}

static void send_line(struct ctl_client *cl, char *json)
{
	struct evbuffer *out = bufferevent_get_output(cl->bev);
	if (evbuffer_get_length(out) > CTL_OUTPUT_MAX) {
		/* It asks but does not read: stop serving it rather than grow.
		 * Its replies cannot be drained (a socket bufferevent's output is
		 * frozen to us) and would never drain by themselves: read_cb
		 * frees it when it returns. */
		free(json);
		if (!cl->dropped)
			log_warn("ctl: closing a client that does not read its replies");
		cl->closing = cl->dropped = true;
		bufferevent_disable(cl->bev, EV_READ);
		return;
	}
	evbuffer_add(out, json ? json : "{\"ok\":false,\"error\":\"out of memory\"}",
		     json ? strlen(json) : 36);
	evbuffer_add(out, "\n", 1);
	free(json);
}

static void read_cb(struct bufferevent *bev, void *arg)
{
	struct ctl_client *cl = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t len;
	char *req;
	bool too_long = false;
	while (!cl->closing && (req = evbuffer_readln(in, &len, EVBUFFER_EOL_LF))) {
		if (len && req[len - 1] == '\r')
			req[--len] = '\0';
		char *reply;
		if (len > CTL_REQUEST_MAX) {
			/* Whether it came in one read or several, a line past the
			 * limit ends the connection: answer, then close. */
			free(req);
			too_long = true;
			break;
		}
		if (strlen(req) != len) {
			/* A NUL inside the line: answer, then keep serving. */
			json_object *e = reply_error("request contains a NUL byte");
			reply = strdup(json_object_to_json_string_ext(e, JSON_C_TO_STRING_PLAIN));
			json_object_put(e);
		} else {
			bool was = cl->subscriber;
			reply = ctl_handle_request(cl->ctl->set, req, &cl->subscriber);
			if (cl->subscriber && !was) /* a subscriber listens quietly */
				bufferevent_set_timeouts(cl->bev, NULL, NULL);
		}
		free(req);
		send_line(cl, reply);
	}
	if (!cl->closing && (too_long || evbuffer_get_length(in) > CTL_REQUEST_MAX)) {
		/* No newline within the limit: the framing is lost, so say why
		 * and close once the reply is out. */
		json_object *e = reply_error("request longer than %d bytes", CTL_REQUEST_MAX);
		send_line(cl, strdup(json_object_to_json_string_ext(e, JSON_C_TO_STRING_PLAIN)));
		json_object_put(e);
		cl->closing = true;
		evbuffer_drain(in, evbuffer_get_length(in));
		bufferevent_disable(bev, EV_READ);
	}
	/* Dropped, or closing with nothing left to write: no write callback
	 * will come, and with reading off no timeout either: free it now, or
	 * its slot is lost for good. */
	if (cl->dropped || (cl->closing && evbuffer_get_length(bufferevent_get_output(bev)) == 0))
		client_free(cl);
}

static void write_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	struct ctl_client *cl = arg;
	if (cl->closing)
		client_free(cl);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
		client_free(arg);
}

/* Is GID among the supplementary groups of process PID? */
static bool pid_in_group(pid_t pid, gid_t gid)
{
	char path[64], line[1024];
	bool found = false;
	snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof line, f)) {
		if (strncmp(line, "Groups:", 7) != 0)
			continue;
		char *p = line + 7, *end;
		for (long g = strtol(p, &end, 10); end != p; g = strtol(p, &end, 10)) {
			if ((gid_t)g == gid)
				found = true;
			p = end;
		}
	}
	fclose(f);
	return found;
}

/* Root, our own user, or a member of control.group (issue: SO_PEERCRED). */
static bool peer_allowed(const struct ctl *ctl, int fd, struct ucred *cr)
{
	socklen_t len = sizeof *cr;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cr, &len) != 0)
		return false;
	if (cr->uid == 0 || cr->uid == geteuid())
		return true;
	return ctl->have_gid && (cr->gid == ctl->gid || pid_in_group(cr->pid, ctl->gid));
}

static void accept_cb(struct evconnlistener *lst, evutil_socket_t fd,
		      struct sockaddr *sa, int socklen, void *arg)
{
	(void)lst;
	(void)sa;
	(void)socklen;
	struct ctl *ctl = arg;
	struct ucred cr = { 0 };
	if (!peer_allowed(ctl, fd, &cr)) {
		static const char msg[] = "{\"ok\":false,\"error\":\"permission denied\"}\n";
		log_warn("ctl: refused a client (uid %ld, gid %ld)", (long)cr.uid, (long)cr.gid);
		if (write(fd, msg, sizeof msg - 1) < 0) {
			/* it is closed either way */
		}
		close(fd);
		return;
	}
	struct ctl_client *cl = calloc(1, sizeof *cl);
	if (!cl) {
		close(fd);
		return;
	}
	cl->ctl = ctl;
	cl->bev = bufferevent_socket_new(ctl->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!cl->bev) {
		close(fd);
		free(cl);
		return;
	}
	bufferevent_setcb(cl->bev, read_cb, write_cb, event_cb, cl);
	struct timeval idle = { .tv_sec = CTL_IDLE_TIMEOUT_S };
	bufferevent_set_timeouts(cl->bev, &idle, NULL);
	bufferevent_enable(cl->bev, EV_READ | EV_WRITE);
	cl->next = ctl->clients;
	ctl->clients = cl;
	/* Bounded: at the limit stop accepting; the kernel backlog holds the rest. */
	if (++ctl->n_clients == CTL_CLIENTS_MAX)
		evconnlistener_disable(ctl->listener);
}

static void accept_error_cb(struct evconnlistener *lst, void *arg)
{
	(void)lst;
	(void)arg;
	log_warn("ctl: accept: %s", strerror(errno));
}

/* A socket file left by a crashed run refuses connections: replace it. A
 * live daemon answers: refuse to start rather than steal its socket. */
static int clear_stale(const struct sockaddr_un *sun)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int rc = connect(fd, (const struct sockaddr *)sun, sizeof *sun);
	int err = errno;
	close(fd);
	if (rc == 0) {
		log_error("ctl: %s: another daemon is serving this socket", sun->sun_path);
		return -EADDRINUSE;
	}
	if (err == ECONNREFUSED && unlink(sun->sun_path) != 0 && errno != ENOENT)
		return -errno;
	return 0;
}

/* The default socket lives in a directory of its own (RULES H.1) that init
 * scripts and systemd's RuntimeDirectory make for the daemon's user; a
 * daemon started by hand makes the last level itself (0755, never its
 * parents). A failure is left for bind to report. */
static void make_socket_dir(const char *path)
{
	char dir[sizeof ((struct sockaddr_un *)0)->sun_path];
	const char *slash = strrchr(path, '/');
	if (!slash || slash == path || (size_t)(slash - path) >= sizeof dir)
		return;
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = '\0';
	if (mkdir(dir, 0755) == 0)
		log_info("ctl: made %s", dir);
}

int ctl_init(struct ctl **out, struct event_base *base, const struct conf *c,
	     const struct line_set *set, ctl_reload_fn *reload, void *arg)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	if (strlen(c->ctl_socket) >= sizeof sun.sun_path) {
		log_error("ctl: socket path too long: %s", c->ctl_socket);
		return -ENAMETOOLONG;
	}
	strcpy(sun.sun_path, c->ctl_socket);
	make_socket_dir(c->ctl_socket);
	int rc = clear_stale(&sun);
	if (rc < 0)
		return rc;

	struct ctl *ctl = calloc(1, sizeof *ctl);
	if (!ctl)
		return -ENOMEM;
	ctl->base = base;
	ctl->set = set;
	ctl->path = strdup(c->ctl_socket);
	/* Create it with no access, then open it to what the config says. */
	mode_t old = umask(0777);
	ctl->listener = evconnlistener_new_bind(base, accept_cb, ctl,
						LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
						128, (struct sockaddr *)&sun, sizeof sun);
	umask(old);
	if (!ctl->listener) {
		rc = -errno;
		log_error("ctl: cannot listen on %s: %s", c->ctl_socket, strerror(errno));
		goto fail;
	}
	evconnlistener_set_error_cb(ctl->listener, accept_error_cb);
	if (c->ctl_group[0]) {
		struct group *gr = getgrnam(c->ctl_group);
		if (gr) {
			ctl->have_gid = true;
			ctl->gid = gr->gr_gid;
		}
		if (!gr || chown(c->ctl_socket, (uid_t)-1, gr->gr_gid) != 0) {
			rc = -EINVAL;
			log_error("ctl: cannot give %s to group '%s'%s", c->ctl_socket, c->ctl_group,
				  gr ? "" : ": no such group");
			goto fail;
		}
	}
	if (chmod(c->ctl_socket, (mode_t)c->ctl_mode) != 0) {
		rc = -errno;
		log_error("ctl: chmod %s: %s", c->ctl_socket, strerror(errno));
		goto fail;
	}
	log_info("ctl: listening on %s", c->ctl_socket);
	line_set_event_sink(publish_cb, ctl);
	reload_fn = reload;
	reload_arg = arg;
	*out = ctl;
	return 0;
fail:
	ctl_free(ctl);
	return rc;
}

void ctl_free(struct ctl *ctl)
{
	if (!ctl)
		return;
	line_set_event_sink(NULL, NULL);
	reload_fn = NULL;
	reload_arg = NULL;
	while (ctl->clients) {
		struct ctl_client *cl = ctl->clients;
		ctl->clients = cl->next;
		/* One last non-blocking write of what is owed (a subscriber's
		 * final events): bufferevent_free would drop it. The output is
		 * frozen to all but the bufferevent, which is freed next. */
		struct evbuffer *owed = bufferevent_get_output(cl->bev);
		evbuffer_unfreeze(owed, 1);
		evbuffer_write(owed, bufferevent_getfd(cl->bev));
		bufferevent_free(cl->bev);
		free(cl);
	}
	if (ctl->listener) {
		evconnlistener_free(ctl->listener);
		unlink(ctl->path);
	}
	free(ctl->path);
	free(ctl);
}
