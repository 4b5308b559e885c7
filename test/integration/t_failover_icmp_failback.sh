#!/usr/bin/env bash
# RULES A.2/A.7, C: the primary Kamailio crashes (SIGKILL: its port is closed,
# UDP gets ICMP port unreachable) while the line is registered there. The
# next heartbeat fails at once, the re-REGISTER on the primary fails too, and
# the line switches to the backup: one "failover" whose reason says
# unreachable, the binding now on the backup. When the primary comes back
# (an empty location table) the failback probe's 200 moves the line home:
# one "failback", the binding on the primary again (;srv=0), none left on
# the backup. A second line of the same daemon, on other servers, stays
# registered with the same binding throughout (RULES D: a fault on one line
# never stalls another). The events are streamed to a subscriber too.
# fx-timeout: 90
source "$(dirname "$0")/lib.sh"
fx_init
A=$(fx_ip 1)
B=$(fx_ip 2)
kam_start a "$A" || fail "kamailio a"
kam_start b "$B" || fail "kamailio b"

# t1 100 ms; heartbeat 1 s; failback probe every U(1, 2) s.
{
	sipuad_conf_common 100
	cat <<EOF2
lines = (
  { id = "line1"; user = "5101"; domain = "sipuad.test"; password = "s3cr3t-pw";
    servers = ( { host = "$A"; expires = 60; }, { host = "$B"; expires = 60; } );
    heartbeat = { interval = 1; };
    failover  = { retry_count = 3; return_delay = 2; retry_delay = 2; };
    failback  = { enabled = true; interval = 2; }; },
  { id = "line2"; user = "5102"; domain = "sipuad.test"; password = "s3cr3t-pw";
    servers = ( { host = "$B"; expires = 60; }, { host = "$A"; expires = 60; } );
    heartbeat = { interval = 1; };
    failover  = { retry_count = 3; return_delay = 2; retry_delay = 2; };
    failback  = { enabled = true; interval = 2; }; }
);
EOF2
} >"$FX_DIR/sipuad.conf"

sipuad_start "$FX_DIR/sipuad.conf" || fail "sipuad did not start"
wait_for 5 "line1 registered on the primary" sipuad_on line1 0 || fail "line1: $(sipuad_line_json line1)"
wait_for 5 "line2 registered on its primary" sipuad_on line2 0 || fail "line2: $(sipuad_line_json line2)"
assert_eq "$(sipuad_line line1 .server.role)" primary "line1 role"
assert_eq "$(sipuad_line line1 .address)" "$A:5060" "line1 address"
assert_eq "$(sipuad_line line1 .failovers)" 0 "line1 failovers at start"
wait_for 3 "5101 bound on a" kam_has_contacts a 5101 1 || fail "5101 on a"
assert_eq "$(kam_contact_count b 5101)" 0 "5101 not bound on b"
assert_match "$(kam_contacts a 5101 | cut -f1)" ';line=line1.*;srv=0|;srv=0.*;line=line1' "contact of line1 at the primary"
wait_for 3 "5102 bound on b" kam_has_contacts b 5102 1 || fail "5102 on b"
cid2=$(kam_contacts b 5102 | cut -f3)
assert_ne "$cid2" "" "Call-ID of line2's binding"

# line2 must stay registered on its primary at every step below.
line2_ok() {
	sipuad_on line2 0 || fail "line2 disturbed: $(sipuad_line_json line2)"
	assert_eq "$(sipuad_line line2 .failovers)" 0 "line2 failovers"
}

sipuad_subscribe "$FX_DIR/events.jsonl" || fail "subscribe"

fx_log "killing the primary"
kam_kill a || fail "kam_kill a"
t0=$(fx__now_ms)
# heartbeat 1 s + an ICMP error + the re-REGISTER's ICMP error: ~1 s; 5 s bound.
wait_for 5 "line1 registered on the backup" sipuad_on line1 1 ||
	fail "no failover: $(sipuad_line_json line1)"
fx_log "on the backup after $(($(fx__now_ms) - t0)) ms"
line2_ok
assert_eq "$(sipuad_line line1 .server.role)" backup "line1 role after failover"
assert_eq "$(sipuad_line line1 .address)" "$B:5060" "line1 address after failover"
assert_eq "$(sipuad_line line1 .failovers)" 1 "line1 failovers after failover"
assert_eq "$(sipuad_history_count line1 failover)" 1 "failover events"
ev=$(sipuad_history line1 | jq -c 'select(.kind == "failover")')
assert_eq "$(jq -r .line <<<"$ev")" line1 "failover event's line"
assert_match "$(jq -r .from <<<"$ev")" "primary.*$A:5060" "failover from"
assert_match "$(jq -r .to <<<"$ev")" "backup.*$B:5060" "failover to"
assert_match "$(jq -r .reason <<<"$ev")" '[Uu]nreachable' "failover reason"
wait_for 3 "5101 bound on b" kam_has_contacts b 5101 1 || fail "5101 on b"
assert_match "$(kam_contacts b 5101 | cut -f1)" ';srv=1' "contact of line1 at the backup"

# The primary stays down for a while: the failback probes fail (ICMP), the
# line stays put. Bounded observation window of 4 s (two to four probes),
# checked every 0.5 s.
for ((i = 0; i < 8; i++)); do
	sipuad_on line1 1 || fail "line1 left the backup while the primary is down: $(sipuad_line_json line1)"
	line2_ok
	sleep 0.5
done
assert_eq "$(sipuad_history_count line1 failover)" 1 "failover events while the primary is down"
assert_eq "$(sipuad_history_count line1 failback)" 0 "failback events while the primary is down"

fx_log "restarting the primary"
kam_start a "$A" || fail "restart of kamailio a"
t0=$(fx__now_ms)
# the next probe comes within U(1, 2) s of the last one; 6 s bound.
wait_for 6 "line1 back on the primary" sipuad_on line1 0 ||
	fail "no failback: $(sipuad_line_json line1)"
fx_log "back on the primary after $(($(fx__now_ms) - t0)) ms"
line2_ok
assert_eq "$(sipuad_line line1 .address)" "$A:5060" "line1 address after failback"
assert_eq "$(sipuad_line line1 .failovers)" 1 "failovers count only failovers"
wait_for 3 "5101 bound on a again" kam_has_contacts a 5101 1 || fail "5101 on a after failback"
assert_match "$(kam_contacts a 5101 | cut -f1)" ';srv=0' "contact of line1 at the primary after failback"
wait_for 3 "backup binding released" kam_has_contacts b 5101 0 ||
	fail "5101 still on b: $(kam_contacts b 5101)"
assert_eq "$(sipuad_history_count line1 failover)" 1 "failover events overall"
assert_eq "$(sipuad_history_count line1 failback)" 1 "failback events overall"
ev=$(sipuad_history line1 | jq -c 'select(.kind == "failback")')
assert_match "$(jq -r .from <<<"$ev")" "backup.*$B:5060" "failback from"
assert_match "$(jq -r .to <<<"$ev")" "primary.*$A:5060" "failback to"
# newest first: the failback is newer than the failover
order=$(sipuad_history line1 | jq -r 'select(.kind == "failover" or .kind == "failback") | .kind' | paste -sd,)
assert_eq "$order" "failback,failover" "history order (newest first)"

# No flapping: the line stays on the primary (3 s observation window).
for ((i = 0; i < 6; i++)); do
	sipuad_on line1 0 || fail "line1 left the primary after failback: $(sipuad_line_json line1)"
	sleep 0.5
done
assert_eq "$(sipuad_history_count line1 failover)" 1 "failover events at the end"
assert_eq "$(sipuad_history_count line1 failback)" 1 "failback events at the end"

# line2 was never touched: same binding (Call-ID), no event but its registration.
line2_ok
assert_eq "$(kam_contacts b 5102 | cut -f3)" "$cid2" "line2's Call-ID at b"
assert_eq "$(kam_contact_count a 5102)" 0 "line2 never bound on a"
assert_eq "$(sipuad_history_count line2 failover)" 0 "line2 failovers in history"

# The subscriber saw the same switches.
wait_for 2 "failover streamed" sipuad_stream_has "$FX_DIR/events.jsonl" failover line1 1 ||
	fail "stream: $(cat "$FX_DIR/events.jsonl")"
wait_for 2 "failback streamed" sipuad_stream_has "$FX_DIR/events.jsonl" failback line1 1 ||
	fail "stream: $(cat "$FX_DIR/events.jsonl")"
assert_eq "$(sipuad_stream_count "$FX_DIR/events.jsonl" failover line2)" 0 "line2 failovers streamed"

sipuad_stop 6 || fail "sipuad exit status $?"
assert_eq "$(kam_contact_count a 5101)" 0 "5101 un-REGISTERed at SIGTERM"
assert_eq "$(kam_contact_count b 5102)" 0 "5102 un-REGISTERed at SIGTERM"
pass
