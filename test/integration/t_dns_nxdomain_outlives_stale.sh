#!/usr/bin/env bash
# RULES B.5 against the last good answer (RULES D): outbound_proxies =
# [ "p0.NAME:5060", "p1.NAME:5060" ], each name with one A record (TTL 1 s)
# pointing at its own forwarding Kamailio (kam_start_proxy); the registrar
# is an IP literal. The line registers through p0. Then p0's name is
# removed (NXDOMAIN) and its proxy is killed. A last good answer carries a
# DNS outage, but not a name the nameserver says is gone: the line must not
# keep retrying p0's stale address; it moves to the next proxy (history
# "proxy" from "p0.NAME:5060" to "p1.NAME:5060", as configured) and
# registers through p1: status .proxy.index 1, .address P1:5060, the
# binding at the registrar relayed by p1 - and it stays there.
# fx-timeout: 60
source "$(dirname "$0")/lib.sh"
fx_init
R=$(fx_ip 1)  # kamailio registrar (literal)
P0=$(fx_ip 2) # kamailio proxy p0 (p0.NAME)
P1=$(fx_ip 3) # kamailio proxy p1 (p1.NAME)
D=$FX_DNS_DOMAIN
N0=p0.$D
N1=p1.$D
LINE_USER=5322

kam_start reg "$R" || fail "kamailio registrar"
kam_start_proxy p0 "$P0" || fail "kamailio proxy p0"
kam_start_proxy p1 "$P1" || fail "kamailio proxy p1"
dns_set_ttl 1
dns_set_a "$N0" "$P0"
dns_set_a "$N1" "$P1"
dns_start || fail "dns_start"
assert_eq "$(dns_query "$N0" A udp)" "$P0" "A of $N0"
assert_eq "$(dns_query "$N1" A udp)" "$P1" "A of $N1"

{
	sipuad_conf_common 100 "resolv_conf = \"$(dns_resolv_conf)\"; dns_timeout = 1;"
	cat <<EOF2
lines = (
  { id = "line1"; user = "$LINE_USER"; domain = "$D"; password = "$FX_KAM_PASSWORD";
    servers = ( { host = "$R"; port = 5060; expires = 60; } );
    outbound_proxies = [ "$N0:5060", "$N1:5060" ];
    heartbeat = { interval = 1; };
    failover  = { retry_count = 2; return_delay = 2; retry_delay = 2; }; }
);
EOF2
} >"$FX_DIR/sipuad.conf"
"$SIPUAD_BIN" -n -c "$FX_DIR/sipuad.conf" >/dev/null || fail "the configuration is refused"

# ---- 1. through p0
sipuad_start "$FX_DIR/sipuad.conf" || fail "sipuad did not start"
wait_for 5 "line1 registered through p0" sipuad_via line1 "$P0:5060" ||
	fail "not registered through $P0:5060: $(sipuad_line_json line1)"
assert_eq "$(sipuad_line line1 .proxy.index)" 0 "proxy index"
assert_eq "$(sipuad_line line1 .proxy.host)" "$N0:5060" "proxy host (as configured)"
assert_eq "$(sipuad_line line1 .dns.name)" "$N0" "dns.name (the proxy's)"
wait_for 3 "$LINE_USER bound at the registrar" kam_has_contacts reg "$LINE_USER" 1 || fail "$LINE_USER not bound"
(($(kam_count_relayed p0 REGISTER "sip:${R//./\\.}:5060") >= 1)) || fail "p0 relayed no REGISTER to the registrar"
assert_eq "$(kam_count_relayed p1 REGISTER)" 0 "REGISTERs relayed by p1 before the change"
assert_eq "$(sipuad_history_count line1 proxy)" 0 "proxy events before the change"

# ---- 2. p0's name is gone and so is its host
fx_log "$N0 -> NXDOMAIN; killing p0"
dns_set_nxdomain "$N0"
dns_reload || fail "dns_reload"
assert_eq "$(dns_rcode "$N0" A udp)" NXDOMAIN "$N0 after the change"
assert_eq "$(dns_query "$N1" A udp)" "$P1" "A of $N1 after the change"
kam_kill p0 || fail "kam_kill p0"
t0=$(fx__now_ms)
# heartbeat (1 s) + ICMP + the re-REGISTER through p0 (ICMP) + perhaps
# return_delay (2 s, jittered) + NXDOMAIN + p1's lookup + REGISTER and
# challenge through p1: ~1-4 s; 15 s bound.
wait_for 15 "line1 registered through p1" sipuad_via line1 "$P1:5060" ||
	fail "not registered through $P1:5060: $(sipuad_line_json line1); history: $(sipuad_history line1 12 | jq -c '[.kind, .from, .to, .reason]' | paste -sd' ')"
fx_log "through p1 after $(($(fx__now_ms) - t0)) ms"
assert_eq "$(sipuad_line line1 .proxy.index)" 1 "proxy index after the change"
assert_eq "$(sipuad_line line1 .proxy.host)" "$N1:5060" "proxy host after the change"
assert_eq "$(sipuad_line line1 '.addresses | join(",")')" "$P1:5060" "status addresses (p1's)"
assert_eq "$(sipuad_line line1 .dns.name)" "$N1" "dns.name after the change"
assert_eq "$(sipuad_line line1 .server.index)" 0 "server index (one server)"
assert_eq "$(sipuad_line line1 .server.host)" "$R" "server host"

ev=$(sipuad_events line1 proxy | tail -n 1)
[[ -n $ev ]] || fail "no proxy event: $(sipuad_history line1 | jq -c '[.kind, .from, .to, .reason]' | paste -sd' ')"
fx_log "proxy event: $ev"
assert_eq "$(jq -r .from <<<"$ev")" "$N0:5060" "proxy event from (as configured)"
assert_eq "$(jq -r .to <<<"$ev")" "$N1:5060" "proxy event to (as configured)"
ev=$(sipuad_events line1 dns | grep -F "$N0" | tail -n 1)
[[ -n $ev ]] || fail "no dns event naming $N0: $(sipuad_history line1 | jq -c '[.kind, .reason]' | paste -sd' ')"
fx_log "dns event: $ev"

wait_for 3 "$LINE_USER bound at the registrar (through p1)" kam_has_contacts reg "$LINE_USER" 1 ||
	fail "$LINE_USER binding at the registrar"
(($(kam_count_relayed p1 REGISTER "sip:${R//./\\.}:5060") >= 1)) || fail "p1 relayed no REGISTER to the registrar"

# It stays on p1 (2 s window, heartbeat 1 s): p0's stale address is not
# taken up again.
r1=$(kam_count_relayed p1 OPTIONS "sip:${R//./\\.}:5060")
for ((i = 0; i < 4; i++)); do
	sipuad_via line1 "$P1:5060" || fail "line1 left p1: $(sipuad_line_json line1)"
	assert_eq "$(sipuad_line line1 .proxy.index)" 1 "proxy index during the window"
	sleep 0.5
done
(($(kam_count_relayed p1 OPTIONS "sip:${R//./\\.}:5060") > r1)) || fail "p1 relayed no heartbeat in 2 s"

sipuad_stop 6 || fail "sipuad exit status $?"
assert_eq "$(kam_contact_count reg "$LINE_USER")" 0 "$LINE_USER un-REGISTERed (through p1) at SIGTERM"
pass
