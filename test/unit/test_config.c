/* test_config.c - unit tests of config.c: defaults of RULES E, conf_find_line, conf_line_equal. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addrlist.h"
#include "agent.h"
#include "config.h"
#include "line.h"
#include "netaddr.h"
#include "sdp.h"
#include "unit.h"

/* Load TEXT through a temporary file; errors go to errbuf (may be NULL).
 * The file is gone when this returns. */
static int load_text(const char *text, struct conf **out, char *errbuf, size_t errlen)
{
	char path[] = "/tmp/sipuad-unit-conf-XXXXXX";
	char *msg = NULL;
	size_t msglen = 0;
	FILE *f, *err;
	int fd, rc;

	fd = mkstemp(path);
	if (fd < 0)
		return -2;
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		unlink(path);
		return -2;
	}
	fputs(text, f);
	fclose(f);
	err = open_memstream(&msg, &msglen);
	if (!err) {
		unlink(path);
		return -2;
	}
	rc = conf_load(path, out, err);
	fclose(err);
	unlink(path);
	if (errbuf && errlen) {
		snprintf(errbuf, errlen, "%s", msg ? msg : "");
	}
	free(msg);
	return rc;
}

static const char two_lines[] =
	"lines = (\n"
	"  { id = \"line1\"; user = \"1001\"; domain = \"voip.example.com\";\n"
	"    servers = ( { host = \"sip1.voip.example.com\"; } ); },\n"
	"  { id = \"line2\"; user = \"1002\"; domain = \"voip.example.com\"; password = \"pw\";\n"
	"    servers = ( { host = \"sip1.voip.example.com\"; port = 5060; },\n"
	"                { host = \"192.0.2.2\"; transport = \"tcp\"; expires = 600; } );\n"
	"    outbound_proxies = [ \"proxy.voip.example.com\", \"[2001:db8::1]:5062\" ]; }\n"
	");\n";

TEST(config_defaults)
{
	struct conf *c = NULL;
	const struct conf_line *l;

	CHECK_INT(load_text(two_lines, &c, NULL, 0), 0);
	CHECK(c != NULL);
	/* RULES E defaults */
	CHECK_STR(c->ctl_socket, "/var/run/sipuad/sipuad.sock");
	CHECK_INT(c->ctl_mode, 0660);
	CHECK_STR(c->ctl_group, "");
	CHECK_STR(c->database, "/var/lib/sipuad/state.db");
	CHECK_INT(c->log_level, CONF_LOG_INFO);
	CHECK_STR(c->listen, "0.0.0.0");
	CHECK_INT(c->port, 5060);
	CHECK(c->transports[CONF_TP_UDP] && c->transports[CONF_TP_TCP] && !c->transports[CONF_TP_TLS]);
	CHECK_STR(c->user_agent, "sipuad");
	CHECK_INT(c->t1, 500);
	CHECK_INT(c->t2, 4000);
	CHECK_STR(c->resolv_conf, "/etc/resolv.conf");
	CHECK_INT(c->dns_timeout, 5);
	CHECK_INT(c->start_spread, 10);
	/* SPEC F contract additions */
	CHECK_STR(c->media.address, "");
	CHECK_INT(c->media.rtp_lo, 16384);
	CHECK_INT(c->media.rtp_hi, 16482);
	CHECK_INT(c->media.n_codecs, 4);
	CHECK_STR(c->media.codecs[0], "PCMU");
	CHECK_STR(c->media.codecs[1], "PCMA");
	CHECK_STR(c->media.codecs[2], "G722");
	CHECK_STR(c->media.codecs[3], "telephone-event");
	CHECK_INT(c->media.ptime, 20);
	CHECK_STR(c->media.hook, "");
	CHECK_INT(c->n_lines, 2);

	l = &c->lines[0];
	CHECK_STR(l->id, "line1");
	CHECK(l->enabled);
	CHECK_STR(l->auth_user, "1001");    /* defaults to user */
	CHECK_STR(l->password, "");
	CHECK_STR(l->display_name, "");
	CHECK_INT(l->n_servers, 1);
	CHECK_INT(l->servers[0].port, 0);   /* omitted: SRV, then 5060 */
	CHECK_INT(l->servers[0].transport, CONF_TP_UDP);
	CHECK_INT(l->servers[0].expires, 3600);
	CHECK_INT(l->n_proxies, 0);
	CHECK_INT(l->heartbeat_interval, 30);
	CHECK_INT(l->retry_count, 3);
	CHECK_INT(l->return_delay, 60);
	CHECK_INT(l->retry_delay, 30);
	CHECK(l->failback_enabled);
	CHECK_INT(l->failback_interval, 1800);
	CHECK_INT(l->max_calls, 2);

	l = &c->lines[1];
	CHECK_INT(l->n_servers, 2);
	CHECK_INT(l->servers[0].port, 5060);
	CHECK_STR(l->servers[1].host, "192.0.2.2");
	CHECK_INT(l->servers[1].transport, CONF_TP_TCP);
	CHECK_INT(l->servers[1].expires, 600);
	CHECK_INT(l->n_proxies, 2);
	CHECK_STR(l->proxies[1], "[2001:db8::1]:5062");
	conf_free(c);
	return 0;
}

TEST(config_empty_file)
{
	struct conf *c = NULL;

	CHECK_INT(load_text("# nothing\n", &c, NULL, 0), 0);
	CHECK(c != NULL);
	CHECK_INT(c->n_lines, 0);
	CHECK(conf_find_line(c, "line1") == NULL);
	conf_free(c);
	conf_free(NULL);
	return 0;
}

TEST(config_t2_follows_t1)
{
	struct conf *c = NULL;

	CHECK_INT(load_text("sip = { t1 = 4500; };\n", &c, NULL, 0), 0);
	CHECK_INT(c->t1, 4500);
	CHECK_INT(c->t2, 4500);
	conf_free(c);
	return 0;
}

TEST(config_find_line)
{
	struct conf *c = NULL;
	const struct conf_line *l;

	CHECK_INT(load_text(two_lines, &c, NULL, 0), 0);
	l = conf_find_line(c, "line2");
	CHECK(l == &c->lines[1]);
	CHECK_STR(l->password, "pw");
	CHECK(conf_find_line(c, "line1") == &c->lines[0]);
	CHECK(conf_find_line(c, "line3") == NULL);
	CHECK(conf_find_line(c, "line") == NULL);    /* no prefix match */
	CHECK(conf_find_line(c, NULL) == NULL);
	CHECK(conf_find_line(NULL, "line1") == NULL);
	conf_free(c);
	return 0;
}

TEST(config_line_equal)
{
	struct conf *a = NULL, *b = NULL;
	struct conf_line l;
	struct conf_server sv[2];
	char *proxies[2];
	int rc = 1;

	CHECK_INT(load_text(two_lines, &a, NULL, 0), 0);
	CHECK_INT(load_text(two_lines, &b, NULL, 0), 0);
	/* Same text, separately allocated: equal; different lines: not. */
	if (!conf_line_equal(&a->lines[0], &b->lines[0]) ||
	    !conf_line_equal(&a->lines[1], &b->lines[1]) ||
	    conf_line_equal(&a->lines[0], &a->lines[1]) ||
	    conf_line_equal(&a->lines[0], NULL))
		goto out;

	/* Every field counts: change one at a time on a shallow copy. */
#define DIFFERS(stmt)                                                        \
	do {                                                                \
		l = b->lines[1];                                            \
		memcpy(sv, l.servers, sizeof(sv));                          \
		memcpy(proxies, l.proxies, sizeof(proxies));                \
		l.servers = sv;                                             \
		l.proxies = proxies;                                        \
		if (!conf_line_equal(&a->lines[1], &l))                     \
			goto out;                                           \
		stmt;                                                       \
		if (conf_line_equal(&a->lines[1], &l)) {                    \
			fprintf(stderr, "%s:%d: equal after %s\n", __FILE__, __LINE__, #stmt); \
			goto out;                                           \
		}                                                           \
	} while (0)
	DIFFERS(l.id[4] = '9');
	DIFFERS(l.enabled = false);
	DIFFERS(l.user = "1003");
	DIFFERS(l.domain = "example.com");
	DIFFERS(l.auth_user = "x");
	DIFFERS(l.password = "pw2");
	DIFFERS(l.display_name = "Line 2");
	DIFFERS(l.n_servers = 1);
	DIFFERS(sv[1].host = "192.0.2.3");
	DIFFERS(sv[0].port = 5070);
	DIFFERS(sv[1].transport = CONF_TP_UDP);
	DIFFERS(sv[1].expires = 601);
	DIFFERS(l.n_proxies = 1);
	DIFFERS(proxies[0] = "proxy2.voip.example.com");
	DIFFERS(l.heartbeat_interval = 0);
	DIFFERS(l.retry_count = 4);
	DIFFERS(l.return_delay = 61);
	DIFFERS(l.retry_delay = 31);
	DIFFERS(l.failback_enabled = false);
	DIFFERS(l.failback_interval = 1801);
	DIFFERS(l.max_calls = 3);
#undef DIFFERS
	rc = 0;
out:
	if (rc)
		fprintf(stderr, "%s: config_line_equal failed\n", __FILE__);
	conf_free(a);
	conf_free(b);
	return rc;
}

TEST(config_errors_all_or_nothing)
{
	struct conf *c = (struct conf *)&c;    /* must stay untouched on failure */
	char err[2048];

	CHECK_INT(load_text("sip = { t1 = 20; port = 70000; };\n"
			    "lines = ( { id = \"a\"; user = \"1\"; domain = \"example.com\";\n"
			    "  password = \"hunter2-secret\"; servers = ( ); } );\n",
			    &c, err, sizeof(err)), -1);
	CHECK(c == (struct conf *)&c);
	CHECK(strstr(err, ":1: sip.t1: 20 is out of range 50..5000 (ms)\n") != NULL);
	CHECK(strstr(err, ":1: sip.port: 70000 is out of range") != NULL);
	CHECK(strstr(err, ":3: lines.[0].servers: at least one server is required\n") != NULL);
	CHECK(strstr(err, "hunter2") == NULL);
	return 0;
}

/* The config's limits are what lets the runtime keep config strings in
 * fixed buffers: each buffer named here holds the longest value config.c
 * accepts, so nothing is cut or silently dropped. */
TEST(config_limits_fit_the_runtime)
{
	/* agent_init() keeps AGENT_SERVERS_MAX servers and drops the rest. */
	CHECK(CONF_SERVERS_MAX <= AGENT_SERVERS_MAX);
	/* A host with its final dot, and the NUL: addrlist's name, line.c's
	 * refresh_name. */
	CHECK(CONF_HOST_MAX + 2 <= ADDRLIST_NAME_MAX);
	/* A proxy as written, "host.:65535": line.c's from[ADDRLIST_NAME_MAX]. */
	CHECK(CONF_HOST_MAX + 1 + 6 + 1 <= ADDRLIST_NAME_MAX);
	/* The preloaded Route's "host.:65535" (addrlist_route()). */
	CHECK(CONF_HOST_MAX + 1 + 6 + 1 <= ADDRLIST_NAME_MAX + 32);
	/* "backup15 host.:65535/tls": describe_server() into an event's from/to. */
	CHECK(9 + CONF_HOST_MAX + 1 + 6 + 4 + 1 <= LINE_DESC_MAX);
	/* media.address goes into sdp.c's sdp_media.local_addr. */
	CHECK(NETADDR_IP_MAX <= SDP_ADDR_MAX);
	return 0;
}

TEST(config_servers_at_the_limit)
{
	char text[4096], err[512];
	struct conf *c = NULL;
	size_t o;
	int i;

	for (i = CONF_SERVERS_MAX; i <= CONF_SERVERS_MAX + 1; i++) {
		o = (size_t)snprintf(text, sizeof(text),
				     "lines = ( { id = \"a\"; user = \"1\"; domain = \"example.com\";\n"
				     "  servers = (");
		for (int j = 0; j < i; j++)
			o += (size_t)snprintf(text + o, sizeof(text) - o, "%s { host = \"s%d.example.com\"; }",
					      j ? "," : "", j);
		snprintf(text + o, sizeof(text) - o, " ); } );\n");
		if (i == CONF_SERVERS_MAX) {
			CHECK_INT(load_text(text, &c, err, sizeof(err)), 0);
			CHECK_INT(c->lines[0].n_servers, CONF_SERVERS_MAX);
			conf_free(c);
			c = NULL;
		} else {
			CHECK_INT(load_text(text, &c, err, sizeof(err)), -1);
			CHECK(strstr(err, ":2: lines.[0].servers: at most 16 servers (17 given)\n") != NULL);
		}
	}
	return 0;
}

TEST(config_names)
{
	CHECK_STR(conf_transport_name(CONF_TP_UDP), "udp");
	CHECK_STR(conf_transport_name(CONF_TP_TCP), "tcp");
	CHECK_STR(conf_transport_name(CONF_TP_TLS), "tls");
	CHECK_STR(conf_log_level_name(CONF_LOG_ERROR), "error");
	CHECK_STR(conf_log_level_name(CONF_LOG_DEBUG), "debug");
	CHECK_STR(conf_log_level_name(CONF_LOG_MAX), "?");
	return 0;
}
