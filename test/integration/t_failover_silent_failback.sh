#!/usr/bin/env bash
# RULES A.7, C: the primary Kamailio goes silent (SIGSTOP: the socket stays
# open, nothing answers, no ICMP). The next heartbeat OPTIONS goes
# unanswered, the line re-REGISTERs on the primary, that REGISTER uses up
# its retry_count transmissions, and only then the line switches to the
# backup - within heartbeat.interval + T1*(2^retry_count - 1) plus slack of
# the pause. While the primary stays silent the failback probes change
# nothing; once it answers again (SIGCONT) the next probe's 200 moves the
# line back. Exactly one failover and one failback.
# fx-timeout: 90
source "$(dirname "$0")/lib.sh"
fx_init
A=$(fx_ip 1)
B=$(fx_ip 2)
kam_start a "$A" || fail "kamailio a"
kam_start b "$B" || fail "kamailio b"

T1=100 HB=1 N=3 FB=2
{
	sipuad_conf_common "$T1"
	cat <<EOF2
lines = (
  { id = "line1"; user = "5201"; domain = "sipuad.test"; password = "s3cr3t-pw";
    servers = ( { host = "$A"; expires = 60; }, { host = "$B"; expires = 60; } );
    heartbeat = { interval = $HB; };
    failover  = { retry_count = $N; return_delay = 2; retry_delay = 2; };
    failback  = { enabled = true; interval = $FB; }; }
);
EOF2
} >"$FX_DIR/sipuad.conf"

sipuad_start "$FX_DIR/sipuad.conf" || fail "sipuad did not start"
wait_for 5 "line1 registered on the primary" sipuad_on line1 0 || fail "line1: $(sipuad_line_json line1)"
wait_for 3 "5201 bound on a" kam_has_contacts a 5201 1 || fail "5201 on a"
assert_eq "$(kam_contact_count b 5201)" 0 "5201 not bound on b"

fx_log "pausing the primary"
kam_pause a || fail "kam_pause a"
t0=$(fx__now_ms)
# Bound: heartbeat interval + T1 (the OPTIONS miss) + T1*(2^N - 1) (the
# re-REGISTER's budget) + 3 s of slack (the REGISTER at the backup, polling).
bound_ms=$((HB * 1000 + T1 + T1 * ((1 << N) - 1) + 3000))
wait_for 10 "line1 registered on the backup" sipuad_on line1 1 ||
	fail "no failover: $(sipuad_line_json line1)"
dt=$(($(fx__now_ms) - t0))
fx_log "on the backup after $dt ms (bound $bound_ms ms)"
((dt <= bound_ms)) || fail "failover took $dt ms, more than $bound_ms ms"
assert_eq "$(sipuad_line line1 .failovers)" 1 "failovers after the pause"
assert_eq "$(sipuad_history_count line1 failover)" 1 "failover events"
ev=$(sipuad_history line1 | jq -c 'select(.kind == "failover")')
assert_match "$(jq -r .from <<<"$ev")" "primary.*$A:5060" "failover from"
assert_match "$(jq -r .to <<<"$ev")" "backup.*$B:5060" "failover to"
assert_match "$(jq -r .reason <<<"$ev")" "REGISTER.*timed out" "failover reason (the re-REGISTER timed out)"
wait_for 3 "5201 bound on b" kam_has_contacts b 5201 1 || fail "5201 on b"

# The primary stays silent: probes go unanswered, nothing changes (bounded
# observation window: 5 s, at least two probes, checked every 0.5 s).
for ((i = 0; i < 10; i++)); do
	sipuad_on line1 1 || fail "line1 left the backup while the primary is silent: $(sipuad_line_json line1)"
	sleep 0.5
done
assert_eq "$(sipuad_history_count line1 failover)" 1 "failover events while silent"
assert_eq "$(sipuad_history_count line1 failback)" 0 "failback events while silent"

fx_log "resuming the primary"
kam_resume a || fail "kam_resume a"
t0=$(fx__now_ms)
# A probe in flight is answered at once; else the next one comes within
# U(1, 2) s of the last, which may retransmit up to 64*T1 = 6.4 s: 12 s bound.
wait_for 12 "line1 back on the primary" sipuad_on line1 0 ||
	fail "no failback: $(sipuad_line_json line1)"
fx_log "back on the primary after $(($(fx__now_ms) - t0)) ms"
assert_eq "$(sipuad_line line1 .failovers)" 1 "failovers after failback"
wait_for 3 "5201 bound on a" kam_has_contacts a 5201 1 || fail "5201 on a after failback"
assert_match "$(kam_contacts a 5201 | cut -f1)" ';srv=0' "contact at the primary after failback"
wait_for 3 "backup binding released" kam_has_contacts b 5201 0 || fail "5201 still on b: $(kam_contacts b 5201)"

# No flapping (3 s observation window).
for ((i = 0; i < 6; i++)); do
	sipuad_on line1 0 || fail "line1 left the primary after failback: $(sipuad_line_json line1)"
	sleep 0.5
done
assert_eq "$(sipuad_history_count line1 failover)" 1 "failover events overall"
assert_eq "$(sipuad_history_count line1 failback)" 1 "failback events overall"

sipuad_stop 6 || fail "sipuad exit status $?"
assert_eq "$(kam_contact_count a 5201)" 0 "5201 un-REGISTERed at SIGTERM"
pass
