#!/usr/bin/env bash
# RULES I.3, SRV priority as failback. The line's only server is a name
# without a port, resolved by SRV _sip._udp.NAME: priority 10 -> a.NAME:5070
# (Kamailio a), priority 20 -> b.NAME:5080 (Kamailio b). Heartbeat 1 s,
# failback every FB s (a probe every FB/2-FB s).
#  1. Registered through a (the best priority): no failback deadline.
#  2. a is killed: the heartbeat and the re-REGISTER through A:5070 get ICMP,
#     the line walks to B:5080 (history "address", not "failover") and arms
#     the failback; probes to a fail (ICMP) and leave the line on b.
#  3. a comes back: within FB + 2 s the next probe's 200 moves the line back
#     to A:5070 - exactly one "failback" event, from B:5080 to A:5070, no
#     failover, the binding at a; then it stays there (no flapping).
# fx-timeout: 60
source "$(dirname "$0")/lib.sh"
fx_init
A=$(fx_ip 1) PA=5070 # kamailio a, priority 10
B=$(fx_ip 2) PB=5080 # kamailio b, priority 20
D=$FX_DNS_DOMAIN
SRV=_sip._udp.$D
LINE_USER=5333
FB=3

kam_start a "$A" "$FX_KAM_PASSWORD" "$PA" || fail "kamailio a"
kam_start b "$B" "$FX_KAM_PASSWORD" "$PB" || fail "kamailio b"
dns_set_srv "$SRV" "b.$D" "$PB" 20 50
dns_set_srv "$SRV" "a.$D" "$PA" 10 50
dns_set_a "a.$D" "$A"
dns_set_a "b.$D" "$B"
dns_start || fail "dns_start"
assert_eq "$(dns_query "$SRV" SRV | sort)" "10 50 $PA a.$D"$'\n'"20 50 $PB b.$D" "SRV records of $SRV"

{
	sipuad_conf_common 100 "resolv_conf = \"$(dns_resolv_conf)\"; dns_timeout = 1;"
	cat <<EOF2
lines = (
  { id = "line1"; user = "$LINE_USER"; domain = "$D"; password = "$FX_KAM_PASSWORD";
    servers = ( { host = "$D"; transport = "udp"; expires = 60; } );
    heartbeat = { interval = 1; };
    failover  = { retry_count = 3; return_delay = 2; retry_delay = 2; };
    failback  = { enabled = true; interval = $FB; }; }
);
EOF2
} >"$FX_DIR/sipuad.conf"
"$SIPUAD_BIN" -n -c "$FX_DIR/sipuad.conf" >/dev/null || fail "the configuration is refused"

# REGISTERs the daemon sent to IP:PORT since log line N.
sent_to() { sipuad_sent "$1" | grep -cxF "REGISTER udp/$2" || true; }

# ---- 1. through a, the best priority
sipuad_start "$FX_DIR/sipuad.conf" || fail "sipuad did not start"
wait_for 5 "line1 registered through a ($A:$PA)" sipuad_via line1 "$A:$PA" ||
	fail "not registered through $A:$PA: $(sipuad_line_json line1)"
assert_eq "$(sipuad_line line1 '.addresses | join(",")')" "$A:$PA,$B:$PB" "status addresses (SRV priority order)"
assert_eq "$(sipuad_line line1 '.next_failback_in | tostring')" null "next_failback_in on the best priority"
wait_for 3 "$LINE_USER bound on a" kam_has_contacts a "$LINE_USER" 1 || fail "$LINE_USER not bound on a"

# ---- 2. a dies: the line walks to b and probes a
fx_log "killing a"
kam_kill a || fail "kam_kill a"
wait_for 5 "line1 registered through b ($B:$PB)" sipuad_via line1 "$B:$PB" ||
	fail "not registered through $B:$PB: $(sipuad_line_json line1)"
mark=$(($(wc -l <"$FX_DIR/sipuad.log") + 1))
assert_eq "$(sipuad_line line1 .server.index)" 0 "server index (a walk, not a failover)"
assert_eq "$(sipuad_history_count line1 address)" 1 "address events"
assert_eq "$(sipuad_history_count line1 failover)" 0 "failover events"
fb=$(sipuad_line line1 .next_failback_in)
[[ $fb =~ ^[0-9]+$ ]] && ((fb <= FB)) || fail "no failback deadline on the priority-20 target: next_failback_in=$fb"
wait_for 3 "$LINE_USER bound on b" kam_has_contacts b "$LINE_USER" 1 || fail "$LINE_USER not bound on b"
probed_a() { (($(sent_to "$mark" "$A:$PA") >= 1)); }
wait_for $((FB + 2)) "a failback probe to a while it is down" probed_a ||
	fail "no probe to $A:$PA in $((FB + 2)) s: $(sipuad_line_json line1)"
sipuad_via line1 "$B:$PB" || fail "line1 left b while a is down: $(sipuad_line_json line1)"
assert_eq "$(sipuad_history_count line1 failback)" 0 "failback events while a is down"

# ---- 3. a is back: failback to a within failback.interval + 2 s
kam_start a "$A" "$FX_KAM_PASSWORD" "$PA" || fail "kamailio a again"
t0=$(fx__now_ms)
fx_log "a is back"
wait_for $((FB + 2)) "line1 back through a ($A:$PA)" sipuad_via line1 "$A:$PA" ||
	fail "no SRV failback to $A:$PA within $((FB + 2)) s: $(sipuad_line_json line1)"
fx_log "failed back to a $(($(fx__now_ms) - t0)) ms after its restart"
assert_eq "$(sipuad_history_count line1 failback)" 1 "failback events"
ev=$(sipuad_events line1 failback | head -n 1)
assert_eq "$(jq -r .from <<<"$ev")" "$B:$PB" "failback from (the priority-20 target)"
assert_eq "$(jq -r .to <<<"$ev")" "$A:$PA" "failback to (the priority-10 target)"
assert_match "$(jq -r .reason <<<"$ev")" "SRV priority 10 .*was 20" "failback reason"
assert_eq "$(sipuad_line line1 .server.index)" 0 "server index after the failback"
assert_eq "$(sipuad_line line1 '.address_index | tostring')" 0 "address_index after the failback"
assert_eq "$(sipuad_line line1 .failovers)" 0 "failovers (a failback is none)"
assert_eq "$(sipuad_history_count line1 failover)" 0 "failover events after the failback"
assert_eq "$(sipuad_line line1 '.next_failback_in | tostring')" null "next_failback_in back on the best priority"
wait_for 3 "$LINE_USER bound on a" kam_has_contacts a "$LINE_USER" 1 || fail "$LINE_USER not bound on a"
# b's binding (the same Contact) is let go, not un-REGISTERed: it runs out.
fx_log "bindings at b after the failback: $(kam_contact_count b "$LINE_USER")"

# Stays on a (no flapping), its heartbeats and refreshes there: 2 s window.
for ((i = 0; i < 4; i++)); do
	sipuad_via line1 "$A:$PA" || fail "line1 moved after the failback: $(sipuad_line_json line1)"
	sleep 0.5
done
assert_eq "$(sipuad_history_count line1 failback)" 1 "failback events after 2 s"

sipuad_stop 6 || fail "sipuad exit status $?"
assert_eq "$(kam_contact_count a "$LINE_USER")" 0 "$LINE_USER un-REGISTERed at SIGTERM"
pass
