/* status.h - what a line shows the control socket: its status (README
 * "LINE"; the agent fills it, ctl.c turns it into JSON) and its events
 * (history and subscribers). Types only. */
#ifndef SIPUAD_STATUS_H
#define SIPUAD_STATUS_H

#include <stdbool.h>
#include <time.h>

#include "dns.h"
#include "config.h"
#include "netaddr.h"

/* A snapshot for the control socket (RULES E "LINE"). Strings point into the
 * line and stay valid until the loop runs again. */
struct line_status {
	const char *id;
	const char *state;           /* agent_state_name() */
	bool registered;
	int server_index;
	char server_role[24];        /* primary, backup, backup2, ... */
	const char *server_host;
	int server_port;             /* 0: omitted in the config and not yet known */
	const char *server_transport;
	const char *address;         /* "IP:PORT" in use, NULL if none yet */
	long expires_in;             /* s left of the granted registration, 0 if none */
	unsigned failovers;
	int error_code;              /* last error: SIP status, 0 for a local one */
	const char *error_reason;    /* NULL: no error */
	time_t error_at;
	long next_attempt_in;        /* s, -1: none scheduled */
	long next_failback_in;       /* s, -1: none scheduled */
	/* RULES B: the next hop */
	int proxy_index;             /* -1: no outbound proxies */
	const char *proxy;           /* as configured */
	int n_addresses;             /* the next hop's addresses ("IP:PORT") */
	char addresses[DNS_ADDRS_MAX][NETADDR_STR_MAX];
	int address_index;           /* of .address in them, -1: not among them */
	const char *dns_name;        /* NULL: a literal, nothing looked up */
	bool dns_stale;              /* the addresses are a last good answer */
	const char *dns_error;       /* NULL: the last lookup worked */
	long dns_refresh_in;         /* s until it is looked up again, -1: not planned */
};

/* A call as the control socket shows it (SPEC F contract "CALL"). Strings
 * point into the call and stay valid until the loop runs again. */
struct call_view {
	const char *id, *line, *direction, *state, *peer, *sip_call_id;
	int server_index;            /* -1: none yet */
	char server_role[24];
	const char *server_host;
	int server_port;             /* 0: unknown */
	const char *server_transport;
	time_t started, answered;    /* answered 0: not answered */
	int code;                    /* of the end, once closed */
	const char *reason;
	bool has_media;              /* negotiated (else "media": null) */
	char local_addr[NETADDR_IP_MAX], remote_addr[NETADDR_IP_MAX];
	int local_port, remote_port;
	char codec[32];
	int payload, ptime, dtmf;    /* dtmf -1: none */
	const char *media_direction;
};

/* One published event (history, subscribe). */
#define LINE_DESC_MAX 320
struct line_event {
	time_t at;
	char line[CONF_ID_MAX + 1];  /* the line's id (a copy: it outlives a reload) */
	const char *kind;            /* registered, unregistered, failover, failback, error */
	char from[LINE_DESC_MAX];    /* "" = none; else "primary 127.0.0.2:5060/udp" */
	char to[LINE_DESC_MAX];
	char reason[192];
	const struct call_view *call; /* kind "call": the call's fields (subscribers only) */
};

/* Where a line's requests go now (RULES F.1: a call takes the line's next
 * hop, exactly as its REGISTER does). */
#define LINE_ROUTE_MAX 300
struct line_hop {
	bool up;                     /* the line is registered through it */
	bool failed;                 /* the line gave up for now (every server unavailable) */
	int server;                  /* index of the server behind it */
	bool last;                   /* the last server: it gets 64*T1, no budget (C.5) */
	int budget_ms;               /* retry_count transmissions on the T1 schedule */
	struct netaddr addr;
	char route[LINE_ROUTE_MAX];  /* "" or "host[:port]" of the server behind a proxy */
	char name[LINE_ROUTE_MAX];   /* the hop's configured host (a TLS server must be it, G.2) */
	enum conf_transport tp;
};

typedef void line_event_cb(const struct line_event *ev, void *arg);

#endif
