#!/usr/bin/env bash
# RULES B.2 (RFC 3263 4.2): the line's only server is a name without a port,
# so it is resolved by SRV _sip._udp.NAME: priority 10 -> a.NAME:5070 (a
# registrar on A), priority 20 -> b.NAME:5080 (a registrar on B); the ports
# come from the SRV records, the targets' A records give the addresses.
# dnsmasq answers the SRV records in the order they were added (b first) and
# rotates them on every UDP query, so only the daemon's own sorting by
# priority puts a first. The name itself has no A record: a fall-back to A
# on 5060 could not register. The line registers through A:5070; .addresses
# is [A:5070, B:5080]. Then a is killed: the next heartbeat (1 s) gets ICMP,
# the re-REGISTER through A:5070 too, and the line registers through the
# next address B:5080 - history "address", not "failover".
# fx-timeout: 60
source "$(dirname "$0")/lib.sh"
fx_init
A=$(fx_ip 1) PA=5070 # kamailio a, priority 10
B=$(fx_ip 2) PB=5080 # kamailio b, priority 20
D=$FX_DNS_DOMAIN
SRV=_sip._udp.$D
LINE_USER=5313

kam_start a "$A" "$FX_KAM_PASSWORD" "$PA" || fail "kamailio a"
kam_start b "$B" "$FX_KAM_PASSWORD" "$PB" || fail "kamailio b"
dns_set_srv "$SRV" "b.$D" "$PB" 20 50
dns_set_srv "$SRV" "a.$D" "$PA" 10 50
dns_set_a "a.$D" "$A"
dns_set_a "b.$D" "$B"
dns_start || fail "dns_start"
assert_eq "$(dns_query "$SRV" SRV)" "20 50 $PB b.$D"$'\n'"10 50 $PA a.$D" "SRV records of $SRV (unsorted, b first)"
assert_eq "$(dns_query "a.$D")" "$A" "A of a.$D"
assert_eq "$(dns_query "b.$D")" "$B" "A of b.$D"
assert_eq "$(dns_query "$D")" "" "A of $D (none)"

{
	sipuad_conf_common 100 "resolv_conf = \"$(dns_resolv_conf)\"; dns_timeout = 1;"
	cat <<EOF2
lines = (
  { id = "line1"; user = "$LINE_USER"; domain = "$D"; password = "$FX_KAM_PASSWORD";
    servers = ( { host = "$D"; transport = "udp"; expires = 60; } );
    heartbeat = { interval = 1; };
    failover  = { retry_count = 3; return_delay = 2; retry_delay = 2; }; }
);
EOF2
} >"$FX_DIR/sipuad.conf"
"$SIPUAD_BIN" -n -c "$FX_DIR/sipuad.conf" >/dev/null || fail "the configuration is refused"

sipuad_start "$FX_DIR/sipuad.conf" || fail "sipuad did not start"
wait_for 5 "line1 registered through a ($A:$PA)" sipuad_via line1 "$A:$PA" ||
	fail "not registered through $A:$PA: $(sipuad_line_json line1)"
assert_eq "$(sipuad_line line1 '.addresses | join(",")')" "$A:$PA,$B:$PB" "status addresses (SRV priority order)"
assert_eq "$(sipuad_line line1 '.address_index | tostring')" 0 "status address_index"
assert_eq "$(sipuad_line line1 .server.host)" "$D" "server host as configured"
assert_match "$(sipuad_line line1 .dns.name)" "(^|\\.)${D//./\\.}\$" "dns.name"
assert_eq "$(sipuad_line line1 '.dns.stale | tostring')" false "dns.stale"
wait_for 3 "$LINE_USER bound on a" kam_has_contacts a "$LINE_USER" 1 || fail "$LINE_USER not bound on a"
assert_eq "$(kam_contact_count b "$LINE_USER")" 0 "bindings at b before the kill"
assert_eq "$(sipuad_history_count line1 address)" 0 "address events before the kill"

# The SRV answers keep rotating (TTL 0: looked up again every second); the
# line stays where it is (2 s window).
for ((i = 0; i < 4; i++)); do
	sipuad_via line1 "$A:$PA" || fail "line1 moved before the kill: $(sipuad_line_json line1)"
	sleep 0.5
done
assert_eq "$(sipuad_line line1 '.addresses | join(",")')" "$A:$PA,$B:$PB" "status addresses after re-resolution"

fx_log "killing a"
kam_kill a || fail "kam_kill a"
t0=$(fx__now_ms)
# heartbeat 1 s + the OPTIONS' ICMP + the re-REGISTER's ICMP + REGISTER and
# challenge at b: ~1.1 s; 5 s bound.
wait_for 5 "line1 registered through b ($B:$PB)" sipuad_via line1 "$B:$PB" ||
	fail "not registered through $B:$PB: $(sipuad_line_json line1)"
fx_log "through b after $(($(fx__now_ms) - t0)) ms"
assert_eq "$(sipuad_line line1 '.address_index | tostring')" 1 "address_index after the kill"
assert_eq "$(sipuad_line line1 '.addresses | join(",")')" "$A:$PA,$B:$PB" "status addresses after the kill"
assert_eq "$(sipuad_line line1 .server.index)" 0 "server index after the kill"
assert_eq "$(sipuad_line line1 .failovers)" 0 "failovers (an address walk is no failover)"
assert_eq "$(sipuad_history_count line1 address)" 1 "address events"
assert_eq "$(sipuad_history_count line1 failover)" 0 "failover events"
ev=$(sipuad_events line1 address | head -n 1)
assert_eq "$(jq -r .from <<<"$ev")" "$A:$PA" "address event from"
assert_eq "$(jq -r .to <<<"$ev")" "$B:$PB" "address event to"
wait_for 3 "$LINE_USER bound on b" kam_has_contacts b "$LINE_USER" 1 || fail "$LINE_USER not bound on b"

sipuad_stop 6 || fail "sipuad exit status $?"
assert_eq "$(kam_contact_count b "$LINE_USER")" 0 "$LINE_USER un-REGISTERed at SIGTERM"
pass
