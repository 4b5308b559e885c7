/* agent_status.c - what the agent shows: state and event names, a line's
 * status snapshot, and the agent's settings from the configuration. Pure. */
#include <stdio.h>
#include <string.h>

#include "agent.h"

static const char *const state_names[AG_STATE_MAX] = {
	[AG_DISABLED] = "disabled",
	[AG_RESOLVING] = "resolving",
	[AG_REGISTERING] = "registering",
	[AG_REGISTERED] = "registered",
	[AG_UNREGISTERING] = "unregistering",
	[AG_WAITING] = "waiting",
	[AG_FAILED] = "failed",
};

static const char *const pub_names[AP_MAX] = {
	[AP_REGISTERED] = "registered",
	[AP_UNREGISTERED] = "unregistered",
	[AP_FAILOVER] = "failover",
	[AP_FAILBACK] = "failback",
	[AP_ERROR] = "error",
	[AP_ADDRESS] = "address",
	[AP_PROXY] = "proxy",
	[AP_DNS] = "dns",
	[AP_RESTART] = "restart",
};

static const char *const tp_names[CONF_TP_MAX] = { "udp", "tcp", "tls" };

const char *agent_state_name(enum agent_state s)
{
	return s < AG_STATE_MAX ? state_names[s] : "?";
}

const char *agent_pub_name(enum agent_pub p)
{
	return p < AP_MAX ? pub_names[p] : "?";
}

const char *agent_transport_name(enum conf_transport t)
{
	return t < CONF_TP_MAX ? tp_names[t] : "?";
}

void agent_role_name(int i, char *buf, size_t size)
{
	if (i == 0)
		snprintf(buf, size, "primary");
	else if (i == 1)
		snprintf(buf, size, "backup");
	else
		snprintf(buf, size, "backup%d", i);
}

void agent_configure(struct agent_config *ac, const struct conf *c, const struct conf_line *cl)
{
	*ac = (struct agent_config){
		.enabled = cl->enabled,
		.servers = cl->servers,
		.n_servers = cl->n_servers,
		.proxies = cl->proxies,
		.n_proxies = cl->n_proxies,
		.t1_ms = c->t1,
		.t2_ms = c->t2,
		.retry_count = cl->retry_count,
		.heartbeat_ms = cl->heartbeat_interval * 1000,
		.return_delay_ms = cl->return_delay * 1000,
		.retry_delay_ms = cl->retry_delay * 1000,
		.failback = cl->failback_enabled,
		.failback_ms = cl->failback_interval * 1000,
		.start_spread_ms = c->start_spread * 1000,
	};
}

static long secs_until(int64_t deadline, int64_t now)
{
	if (!deadline)
		return -1;
	return deadline > now ? (long)((deadline - now + 999) / 1000) : 0;
}

void agent_status(const struct agent *a, int64_t now, struct line_status *st)
{
	const struct addrlist *al = &a->al;
	const struct conf_server *sv = &a->cfg.servers[a->server];
	memset(st, 0, sizeof *st);
	st->state = agent_state_name(a->state);
	st->registered = a->state == AG_REGISTERED;
	st->server_index = a->server;
	agent_role_name(a->server, st->server_role, sizeof st->server_role);
	st->server_host = sv->host;
	/* an SRV-given port is known once looked up; through a proxy the
	 * address is the proxy's, so the server's port stays unknown */
	st->server_port = sv->port ? sv->port
				   : (a->address[0] && a->addr_server == a->server && !a->cfg.n_proxies ? a->cur.port : 0);
	st->server_transport = agent_transport_name(sv->transport);
	st->address = a->address[0] ? a->address : NULL;
	if (st->registered) {
		long left = a->granted_s - (long)((now - a->registered_at) / 1000);
		st->expires_in = left > 0 ? left : 0;
	}
	st->failovers = a->failovers;
	if (a->error_at) {
		st->error_code = a->error_code;
		st->error_reason = a->error_reason; /* .error_at: the caller's (wall clock) */
	}
	st->next_attempt_in = secs_until(a->deadline[AT_RETRY], now);
	st->next_failback_in = secs_until(a->deadline[AT_FAILBACK], now);
	st->proxy_index = al->proxy;
	st->proxy = al->proxy >= 0 ? a->cfg.proxies[al->proxy] : NULL;
	st->address_index = -1;
	for (int i = 0; al->have && i < al->ans.n && i < DNS_ADDRS_MAX; i++) {
		netaddr_format(st->addresses[i], sizeof st->addresses[i], &al->ans.v[i]);
		if (a->address[0] && !strcmp(st->addresses[i], a->address))
			st->address_index = i;
		st->n_addresses = i + 1;
	}
	if (al->name[0] && !addrlist_is_literal(al)) {
		st->dns_name = al->name;
		st->dns_stale = al->have && (al->ans.stale || al->ans.status != DNS_OK);
		st->dns_error = al->ans.status && al->ans.error[0] ? al->ans.error : NULL;
		st->dns_refresh_in = secs_until(a->deadline[AT_DNS], now);
	}
}

void agent_hop(const struct agent *a, struct line_hop *h)
{
	memset(h, 0, sizeof *h);
	h->up = a->state == AG_REGISTERED && a->address[0] && !a->halted;
	h->failed = a->state == AG_FAILED || a->state == AG_DISABLED || a->halted;
	h->server = a->server;
	/* C.5: the last server gets 64*T1, the others retry_count transmissions */
	h->last = a->server == a->cfg.n_servers - 1;
	h->budget_ms = agent_budget_ms(&a->cfg);
	h->addr = a->cur;
	snprintf(h->route, sizeof h->route, "%s", a->route);
	snprintf(h->name, sizeof h->name, "%s", a->al.name);
	h->tp = a->cfg.servers[a->server].transport;
}

static bool literal_is(const char *host, const char *ip)
{
	return netaddr_same_ip(host, ip);
}

/* RULES F.3: the servers and proxies as configured (literals), and every
 * address the line has looked up and is using or probing. A named server
 * is trusted at the addresses of its current answer. */
bool agent_trusts(const struct agent *a, const char *ip)
{
	char host[ADDRLIST_NAME_MAX];
	int port;
	if (!ip || !*ip)
		return false;
	for (int i = 0; i < a->cfg.n_servers; i++)
		if (literal_is(a->cfg.servers[i].host, ip))
			return true;
	for (int i = 0; i < a->cfg.n_proxies; i++)
		if (netaddr_split(a->cfg.proxies[i], host, sizeof host, &port) == 0 && literal_is(host, ip))
			return true;
	if ((a->address[0] && literal_is(a->cur.ip, ip)) || (a->probe_addr.ip[0] && literal_is(a->probe_addr.ip, ip)))
		return true;
	for (int i = 0; a->al.have && i < a->al.ans.n && i < DNS_ADDRS_MAX; i++)
		if (literal_is(a->al.ans.v[i].ip, ip))
			return true;
	return false;
}
