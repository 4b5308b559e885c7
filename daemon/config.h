/* config.h - the libconfig file as typed, validated structs (RULES E "Config"). */
#ifndef SIPUAD_CONFIG_H
#define SIPUAD_CONFIG_H

#include <stdbool.h>
#include <stdio.h>

#define CONF_ID_MAX 32
#define CONF_DEFAULT_FILE "/etc/sipuad/sipuad.conf"

/* Limits, each checked where config.c decodes the value, so the runtime may
 * size fixed buffers from them and never truncate. Strings are in bytes,
 * the terminating NUL not counted. */
/* 1000 lines is the scale the daemon is measured at (RULES I.5); 1024 keeps `status` of every line well inside the control
 * socket's 4 MB reply (CTL_REPLY_MAX), where 4096 lines would not fit. */
#define CONF_LINES_MAX 1024
/* The agent keeps a 32-bit registered-before mask per line, so <= 32. */
#define CONF_SERVERS_MAX 16
/* Each proxy whose name fails to resolve costs up to sip.dns_timeout (60 s)
 * before the next is tried (RULES B.5); with 8 a line gives up within 8
 * minutes at worst, and the line's walk over cached answers (bounded at
 * 2 * RESOLVER_ADDRS_MAX steps) always reaches every proxy. */
#define CONF_PROXIES_MAX 8
/* A server host, or an outbound proxy's host: a name we look up, and the
 * longest SRV name built from it, "_sips._tcp." HOST, must still be a DNS
 * name (<= 253, RFC 1035 2.3.4): 253 - 11. A final dot is not counted. */
#define CONF_HOST_MAX 242
/* lines[].domain: a DNS name (RFC 1035), never looked up by us; a final
 * dot is not counted. */
#define CONF_DOMAIN_MAX 253
/* user, auth_user: SIP sets no bound; above any account name in use
 * (numbers, e-mail-like names, UUIDs). */
#define CONF_USER_MAX 128
/* Above any generated SIP secret. */
#define CONF_PASSWORD_MAX 128
/* The From header's quoted display name: every byte may need a '\' escape,
 * so it takes up to 2 * 64 + 3 bytes (sip.c's display[160]). */
#define CONF_DISPLAY_NAME_MAX 64
/* sip.user_agent: the User-Agent header's product tokens. */
#define CONF_USER_AGENT_MAX 128
/* control.socket: sockaddr_un's sun_path is 108 bytes with the NUL. */
#define CONF_SOCKET_MAX 107
/* control.group: LOGIN_NAME_MAX (256, with the NUL). */
#define CONF_GROUP_MAX 255
/* storage.database, sip.resolv_conf: SQLite's unix VFS refuses a full
 * path over 504 bytes (its MAX_PATHNAME 512 less room for "-journal");
 * 255 leaves room for the directory a relative path is joined to. */
#define CONF_PATH_MAX 255

/* media.codecs: each of sdp.c's table at most once (five today). */
#define CONF_CODECS_MAX 8
/* lines[].max_calls (SPEC F, contract additions). */
#define CONF_CALLS_MAX 8

enum conf_transport { CONF_TP_UDP, CONF_TP_TCP, CONF_TP_TLS, CONF_TP_MAX };
enum conf_log_level { CONF_LOG_ERROR, CONF_LOG_WARN, CONF_LOG_INFO, CONF_LOG_DEBUG, CONF_LOG_MAX };

struct conf_server {
	char *host;                   /* name or IP literal (IPv6 without brackets) */
	int port;                     /* 0: not given -> SRV, then 5060 (RFC 3263) */
	enum conf_transport transport;
	int expires;                  /* s, 10..86400 */
};

struct conf_line {
	char id[CONF_ID_MAX + 1];     /* [a-z0-9_-]{1,32} */
	bool enabled;
	char *user, *domain;          /* AOR sip:user@domain */
	char *auth_user;              /* never NULL: defaults to user */
	char *password;               /* never NULL ("" = none); never log it */
	char *display_name;           /* never NULL ("" = none) */
	struct conf_server *servers;  /* priority order, n_servers >= 1 */
	int n_servers;
	char **proxies;               /* outbound proxies as written: host, host:port, [v6], [v6]:port */
	int n_proxies;
	int heartbeat_interval;       /* s, 0 = off */
	int retry_count;              /* transmissions before a server is unavailable */
	int return_delay;             /* s, timer 1 of RULES A.2 */
	int retry_delay;              /* s, timer 2 of RULES A.2 */
	bool failback_enabled;
	int failback_interval;        /* s */
	int max_calls;                /* 1..8, default 2; past it an INVITE gets 486 (SPEC F.3) */
};

/* SPEC F: what sipuad offers and accepts in SDP; the audio itself is
 * another process's (the hook's) work. */
struct conf_media {
	char *address;          /* "" = the address SIP uses; else an IP literal */
	int rtp_lo, rtp_hi;     /* media.rtp_ports = [ lo, hi ]: even ports lo..hi handed out per call */
	char **codecs;          /* names sdp_codec_known() accepts, preference order, no duplicates */
	int n_codecs;           /* 1..CONF_CODECS_MAX */
	int ptime;              /* ms */
	char *hook;             /* "" = none; else a path */
};

/* SPEC G: the UA's TLS settings, one set for every line (Sofia-SIP keeps
 * them per stack, not per line). */
#define CONF_TLS_CA_DEFAULT "/etc/ssl/certs/ca-certificates.crt"
struct conf_tls {
	char *ca_file;          /* PEM bundle a server's chain must lead to */
	bool verify;            /* false: no check of chain, dates or name (a lab only) */
	char *certificate;      /* "" = none; else our client certificate (PEM) */
	char *key;              /* "" = none; its private key (PEM, no passphrase) */
};

struct conf {
	char *file;                   /* path it was read from */
	char *ctl_socket;
	unsigned ctl_mode;            /* from the octal string, e.g. 0660 */
	char *ctl_group;              /* "" = none */
	char *database;
	enum conf_log_level log_level;
	char *listen;                 /* IP literal */
	int port;                     /* 0 = any free port */
	bool transports[CONF_TP_MAX];
	char *user_agent;
	int t1, t2;                   /* ms */
	char *resolv_conf;
	int dns_timeout;              /* s */
	int start_spread;             /* s */
	struct conf_tls tls;          /* used when transports[CONF_TP_TLS] */
	struct conf_media media;
	struct conf_line *lines;
	int n_lines;
};

/* Read and validate FILE. All or nothing: 0 and *out on success; -1 on any
 * error, each error written to err as "FILE:LINE: KEY: message\n". */
int conf_load(const char *file, struct conf **out, FILE *err);
void conf_free(struct conf *c);
/* The canonical form (every key, defaults filled in, passwords masked). */
void conf_print(const struct conf *c, FILE *out);
/* True when two lines would behave identically (reload touches only changed lines). */
bool conf_line_equal(const struct conf_line *a, const struct conf_line *b);
const struct conf_line *conf_find_line(const struct conf *c, const char *id);
const char *conf_transport_name(enum conf_transport t);
const char *conf_log_level_name(enum conf_log_level l);

#endif
