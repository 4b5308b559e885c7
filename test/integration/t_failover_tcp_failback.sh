#!/usr/bin/env bash
# RULES C "server unavailable: a TCP connect failed": both servers over TCP.
# The primary Kamailio crashes (SIGKILL: its connection to the line closes,
# new connects are refused); the heartbeat fails, the re-REGISTER cannot
# connect and the line switches to the backup (one failover, the binding on
# the backup over TCP). The primary restarts: the failback probe connects,
# gets 200 and the line goes home (one failback, backup binding released).
# fx-timeout: 90
source "$(dirname "$0")/lib.sh"
fx_init
A=$(fx_ip 1)
B=$(fx_ip 2)
kam_start a "$A" || fail "kamailio a"
kam_start b "$B" || fail "kamailio b"

{
	sipuad_conf_common 100
	cat <<EOF2
lines = (
  { id = "tcp1"; user = "5301"; domain = "sipuad.test"; password = "s3cr3t-pw";
    servers = ( { host = "$A"; transport = "tcp"; expires = 60; },
                { host = "$B"; transport = "tcp"; expires = 60; } );
    heartbeat = { interval = 1; };
    failover  = { retry_count = 3; return_delay = 2; retry_delay = 2; };
    failback  = { enabled = true; interval = 2; }; }
);
EOF2
} >"$FX_DIR/sipuad.conf"

sipuad_start "$FX_DIR/sipuad.conf" || fail "sipuad did not start"
wait_for 5 "tcp1 registered on the primary" sipuad_on tcp1 0 || fail "tcp1: $(sipuad_line_json tcp1)"
assert_eq "$(sipuad_line tcp1 .server.transport)" tcp "transport"
wait_for 3 "5301 bound on a" kam_has_contacts a 5301 1 || fail "5301 on a"
kam_contacts a 5301 | grep -qi 'transport=tcp' || fail "TCP contact at a: $(kam_contacts a 5301)"

fx_log "killing the primary"
kam_kill a || fail "kam_kill a"
t0=$(fx__now_ms)
# heartbeat 1 s, then refused connects: well within 5 s.
wait_for 5 "tcp1 registered on the backup" sipuad_on tcp1 1 || fail "no failover: $(sipuad_line_json tcp1)"
fx_log "on the backup after $(($(fx__now_ms) - t0)) ms"
assert_eq "$(sipuad_line tcp1 .server.transport)" tcp "transport on the backup"
assert_eq "$(sipuad_line tcp1 .address)" "$B:5060" "address on the backup"
assert_eq "$(sipuad_line tcp1 .failovers)" 1 "failovers"
assert_eq "$(sipuad_history_count tcp1 failover)" 1 "failover events"
ev=$(sipuad_history tcp1 | jq -c 'select(.kind == "failover")')
assert_match "$(jq -r .from <<<"$ev")" "primary.*$A:5060/tcp" "failover from"
assert_match "$(jq -r .to <<<"$ev")" "backup.*$B:5060/tcp" "failover to"
fx_log "failover reason: $(jq -r .reason <<<"$ev")"
wait_for 3 "5301 bound on b" kam_has_contacts b 5301 1 || fail "5301 on b"
kam_contacts b 5301 | grep -qi 'transport=tcp' || fail "TCP contact at b: $(kam_contacts b 5301)"

# Primary down: probes are refused, nothing changes (3 s observation window).
for ((i = 0; i < 6; i++)); do
	sipuad_on tcp1 1 || fail "tcp1 left the backup while the primary is down: $(sipuad_line_json tcp1)"
	sleep 0.5
done

fx_log "restarting the primary"
kam_start a "$A" || fail "restart of kamailio a"
t0=$(fx__now_ms)
wait_for 6 "tcp1 back on the primary" sipuad_on tcp1 0 || fail "no failback: $(sipuad_line_json tcp1)"
fx_log "back on the primary after $(($(fx__now_ms) - t0)) ms"
wait_for 3 "5301 bound on a again" kam_has_contacts a 5301 1 || fail "5301 on a after failback"
assert_match "$(kam_contacts a 5301 | cut -f1)" ';srv=0' "contact at the primary after failback"
wait_for 3 "backup binding released" kam_has_contacts b 5301 0 || fail "5301 still on b: $(kam_contacts b 5301)"
assert_eq "$(sipuad_history_count tcp1 failover)" 1 "failover events overall"
assert_eq "$(sipuad_history_count tcp1 failback)" 1 "failback events overall"
assert_eq "$(sipuad_line tcp1 .failovers)" 1 "failovers overall"

sipuad_stop 6 || fail "sipuad exit status $?"
assert_eq "$(kam_contact_count a 5301)" 0 "5301 un-REGISTERed at SIGTERM"
pass
