#!/usr/bin/env bash
# RULES B: a name's records change under a registered line. The server is a
# name (A record, TTL 2 s) pointing at registrar a; the line registers
# through A. The record is changed to B (registrar b): within the TTL (plus
# dns_timeout and slack) status .addresses shows [B:5060], but the working
# registration is not disturbed: .address stays A:5060 (.address_index null:
# A is not in the new list), the binding at a keeps its Call-ID, b gets no
# binding, no address/failover event, and the heartbeat OPTIONS keep going
# to a (affinity), none to b. Then a is killed: the line re-registers
# through B (the new list), the binding is at b.
# fx-timeout: 60
source "$(dirname "$0")/lib.sh"
fx_init
A=$(fx_ip 1) # kamailio a
B=$(fx_ip 2) # kamailio b
NAME=reg.$FX_DNS_DOMAIN
LINE_USER=5316
TTL=2 DNS_TIMEOUT=1 HB=1 RETRY_DELAY=1

kam_start a "$A" || fail "kamailio a"
kam_start b "$B" || fail "kamailio b"
kam_force a log_opt 1 || fail "kam_force a log_opt 1"
kam_force b log_opt 1 || fail "kam_force b log_opt 1"
dns_set_a "$NAME" "$A"
dns_set_ttl "$TTL"
dns_start || fail "dns_start"
assert_eq "$(dns_query "$NAME" A udp)" "$A" "A of $NAME"

{
	sipuad_conf_common 100 "resolv_conf = \"$(dns_resolv_conf)\"; dns_timeout = $DNS_TIMEOUT;"
	cat <<EOF2
lines = (
  { id = "line1"; user = "$LINE_USER"; domain = "$FX_DNS_DOMAIN"; password = "$FX_KAM_PASSWORD";
    servers = ( { host = "$NAME"; port = 5060; expires = 60; } );
    heartbeat = { interval = $HB; };
    failover  = { retry_count = 3; return_delay = $RETRY_DELAY; retry_delay = $RETRY_DELAY; }; }
);
EOF2
} >"$FX_DIR/sipuad.conf"
"$SIPUAD_BIN" -n -c "$FX_DIR/sipuad.conf" >/dev/null || fail "the configuration is refused"

sipuad_start "$FX_DIR/sipuad.conf" || fail "sipuad did not start"
wait_for 5 "line1 registered through a" sipuad_via line1 "$A:5060" ||
	fail "not registered through $A:5060: $(sipuad_line_json line1)"
wait_for 3 "$LINE_USER bound on a" kam_has_contacts a "$LINE_USER" 1 || fail "$LINE_USER not bound on a"
cid=$(kam_contacts a "$LINE_USER" | cut -f3)
assert_eq "$(sipuad_line line1 '.addresses | join(",")')" "$A:5060" "status addresses before the change"
assert_eq "$(sipuad_line line1 '.address_index | tostring')" 0 "address_index before the change"

fx_log "changing $NAME to $B"
dns_set_a "$NAME" "$B"
dns_reload || fail "dns_reload"
assert_eq "$(dns_query "$NAME" A udp)" "$B" "A of $NAME after the change"
t0=$(fx__now_ms)
addresses_are() { sipuad_line_is line1 '.addresses | join(",")' "$1"; }
# The old answer expires within TTL s; the lookup takes < dns_timeout; 2 s slack.
wait_for $((TTL + DNS_TIMEOUT + 2)) "status addresses to show $B:5060" addresses_are "$B:5060" ||
	fail "addresses not updated: $(sipuad_line_json line1)"
fx_log "addresses updated after $(($(fx__now_ms) - t0)) ms"
assert_eq "$(sipuad_line line1 .address)" "$A:5060" "address in use after the change (kept)"
assert_eq "$(sipuad_line line1 '.address_index | tostring')" null "address_index (A is not in the new list)"
assert_eq "$(sipuad_line line1 '.dns.stale | tostring')" false "dns.stale after the change"

# No disturbance, and affinity: over a 3 s window (3 heartbeats) the line
# stays registered through a with the same binding; the OPTIONS go to a,
# none to b.
opt_a=$(kam_count_options a "$FX_LOCAL_IP")
for ((i = 0; i < 6; i++)); do
	sipuad_via line1 "$A:5060" || fail "line1 disturbed by the record change: $(sipuad_line_json line1)"
	sleep 0.5
done
assert_eq "$(kam_contact_count a "$LINE_USER")" 1 "bindings at a after the change"
assert_eq "$(kam_contacts a "$LINE_USER" | cut -f3)" "$cid" "Call-ID of the binding at a after the change"
assert_eq "$(kam_contact_count b "$LINE_USER")" 0 "bindings at b after the change"
(($(kam_count_options a "$FX_LOCAL_IP") - opt_a >= 2)) ||
	fail "heartbeats to a in 3 s: $(($(kam_count_options a "$FX_LOCAL_IP") - opt_a)), want >= 2"
assert_eq "$(kam_count_options b)" 0 "OPTIONS to b (the new address) while registered through a"
assert_eq "$(kam_count_register b "$LINE_USER")" 0 "REGISTERs to b while registered through a"
assert_eq "$(sipuad_history_count line1 address)" 0 "address events after the change"
assert_eq "$(sipuad_history_count line1 failover)" 0 "failover events after the change"

fx_log "killing a"
kam_kill a || fail "kam_kill a"
t0=$(fx__now_ms)
# heartbeat + ICMP + re-REGISTER through a (ICMP) + perhaps retry_delay (if
# leaving an address that is no longer listed counts as the end of the
# list) + REGISTER at b: ~1-2 s; 8 s bound.
wait_for 8 "line1 registered through b" sipuad_via line1 "$B:5060" ||
	fail "not registered through $B:5060: $(sipuad_line_json line1)"
fx_log "through b after $(($(fx__now_ms) - t0)) ms"
assert_eq "$(sipuad_line line1 '.addresses | join(",")')" "$B:5060" "status addresses after the kill"
assert_eq "$(sipuad_line line1 '.address_index | tostring')" 0 "address_index after the kill"
assert_eq "$(sipuad_line line1 .server.index)" 0 "server index"
wait_for 3 "$LINE_USER bound on b" kam_has_contacts b "$LINE_USER" 1 || fail "$LINE_USER not bound on b"

sipuad_stop 6 || fail "sipuad exit status $?"
assert_eq "$(kam_contact_count b "$LINE_USER")" 0 "$LINE_USER un-REGISTERed at SIGTERM"
pass
