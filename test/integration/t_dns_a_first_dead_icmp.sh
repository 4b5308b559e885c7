#!/usr/bin/env bash
# RULES B.2/B.4: the line's only server is a name with a port, so it is
# resolved by A records, used in record order. The first address has nothing
# listening (UDP gets ICMP port unreachable at once); the second is a
# Kamailio registrar. The REGISTER through the first address fails at once
# and the line registers through the second: one history event "address"
# from A:5060 to B:5060 (no "failover": it is the same server), status shows
# both addresses in record order, the one in use and its index, and the
# name's DNS state. The binding is at B. Re-resolving the name (TTL 0, so
# every second) changes nothing while the registration works.
# fx-timeout: 60
source "$(dirname "$0")/lib.sh"
fx_init
A=$(fx_ip 1) # nothing listens: ICMP port unreachable
B=$(fx_ip 2) # kamailio b
NAME=reg.$FX_DNS_DOMAIN
LINE_USER=5311

fx_udp_listening "$A" 5060 && fail "something listens on $A:5060; the test needs it closed"
kam_start b "$B" || fail "kamailio b"
dns_set_a "$NAME" "$A" "$B"
dns_start || fail "dns_start"
assert_eq "$(dns_query "$NAME" A udp)" "$A"$'\n'"$B" "A records of $NAME (record order)"

{
	sipuad_conf_common 100 "resolv_conf = \"$(dns_resolv_conf)\"; dns_timeout = 1;"
	cat <<EOF2
lines = (
  { id = "line1"; user = "$LINE_USER"; domain = "$FX_DNS_DOMAIN"; password = "$FX_KAM_PASSWORD";
    servers = ( { host = "$NAME"; port = 5060; expires = 60; } );
    heartbeat = { interval = 1; };
    failover  = { retry_count = 3; return_delay = 2; retry_delay = 2; }; }
);
EOF2
} >"$FX_DIR/sipuad.conf"
"$SIPUAD_BIN" -n -c "$FX_DIR/sipuad.conf" >/dev/null || fail "the configuration is refused"

sipuad_start "$FX_DIR/sipuad.conf" || fail "sipuad did not start"
t0=$(fx__now_ms)
# A lookup (< 1 s), an ICMP error at once, a REGISTER with its challenge at
# B: about 0.1 s; 5 s bound.
wait_for 5 "line1 registered through B" sipuad_via line1 "$B:5060" ||
	fail "not registered through $B:5060: $(sipuad_line_json line1)"
fx_log "registered through $B:5060 after $(($(fx__now_ms) - t0)) ms"

assert_eq "$(sipuad_line line1 '.addresses | join(",")')" "$A:5060,$B:5060" "status addresses (record order)"
assert_eq "$(sipuad_line line1 '.address_index | tostring')" 1 "status address_index"
assert_eq "$(sipuad_line line1 .server.index)" 0 "server index (one server)"
assert_eq "$(sipuad_line line1 .server.host)" "$NAME" "server host as configured"
assert_eq "$(sipuad_line line1 .failovers)" 0 "failovers (an address walk is no failover)"
assert_eq "$(sipuad_line line1 '.proxy | tostring')" null "proxy (none configured)"
assert_eq "$(sipuad_line line1 .dns.name)" "$NAME" "dns.name"
assert_eq "$(sipuad_line line1 '.dns.stale | tostring')" false "dns.stale"
assert_eq "$(sipuad_line line1 '.dns.error | tostring')" null "dns.error"

wait_for 3 "$LINE_USER bound on b" kam_has_contacts b "$LINE_USER" 1 || fail "$LINE_USER not bound on b"
assert_match "$(kam_contacts b "$LINE_USER" | cut -f1)" ";line=line1" "contact of line1 at b"

assert_eq "$(sipuad_history_count line1 address)" 1 "address events"
assert_eq "$(sipuad_history_count line1 failover)" 0 "failover events"
ev=$(sipuad_events line1 address | head -n 1)
assert_eq "$(jq -r .from <<<"$ev")" "$A:5060" "address event from"
assert_eq "$(jq -r .to <<<"$ev")" "$B:5060" "address event to"
assert_match "$(jq -r .reason <<<"$ev")" '[Uu]nreachable' "address event reason (ICMP)"

# Stable: the name is looked up again every second (TTL 0, floor 1 s), the
# heartbeats go on through B, nothing moves (2 s window, checked every 0.5 s).
for ((i = 0; i < 4; i++)); do
	sipuad_via line1 "$B:5060" || fail "line1 moved: $(sipuad_line_json line1)"
	sleep 0.5
done
assert_eq "$(sipuad_line line1 '.address_index | tostring')" 1 "address_index after re-resolution"
assert_eq "$(sipuad_history_count line1 address)" 1 "address events after re-resolution"
assert_eq "$(kam_contact_count b "$LINE_USER")" 1 "bindings at b after re-resolution"

sipuad_stop 6 || fail "sipuad exit status $?"
assert_eq "$(kam_contact_count b "$LINE_USER")" 0 "$LINE_USER un-REGISTERed at SIGTERM"
pass
