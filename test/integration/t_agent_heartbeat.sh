#!/usr/bin/env bash
# RULES A.7, heartbeat: OPTIONS go to the current server every
# heartbeat.interval.
#  - Any final response proves the server alive: with the primary answering
#    OPTIONS 404 the line stays registered there, does not re-REGISTER and
#    does not switch (4 s observation window, ~4 heartbeats).
#  - An OPTIONS that goes unanswered (the registrar drops OPTIONS but still
#    serves REGISTER) makes the line re-REGISTER on the same server; as
#    that succeeds, the line does not switch (A.7: only a failed
#    registration switches).
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
  { id = "line1"; user = "6101"; domain = "sipuad.test"; password = "s3cr3t-pw";
    servers = ( { host = "$A"; expires = 60; }, { host = "$B"; expires = 60; } );
    heartbeat = { interval = 1; };
    failover  = { retry_count = 3; return_delay = 2; retry_delay = 2; };
    failback  = { enabled = true; interval = 2; }; }
);
EOF2
} >"$FX_DIR/sipuad.conf"

# REGISTERs of 6101 that reached kamailio a (challenged or saved).
regs_at_a() { grep -c 'REGISTER sip:6101@sipuad.test' "$(kam_log a)"; }
# OPTIONS the daemon sent to a / 404s it got (from its debug SIP trace).
options_sent() { grep -c "sofia: *OPTIONS sip:[^ ]*$A" "$FX_DIR/sipuad.log"; }
options_404() { grep -c 'sofia: *SIP/2.0 404 Forced By Fixture' "$FX_DIR/sipuad.log"; }

sipuad_start "$FX_DIR/sipuad.conf" || fail "sipuad did not start"
wait_for 5 "line1 registered on the primary" sipuad_on line1 0 || fail "line1: $(sipuad_line_json line1)"
wait_for 3 "6101 bound on a" kam_has_contacts a 6101 1 || fail "6101 on a"
cid=$(kam_contacts a 6101 | cut -f3)

# --- OPTIONS answered 404: alive.
kam_force a opt_code 404 || fail "kam_force opt_code 404"
r0=$(regs_at_a)
o0=$(options_sent)
n0=$(options_404)
# observation window: 4 s, checked every 0.5 s
for ((i = 0; i < 8; i++)); do
	sipuad_on line1 0 || fail "line1 left the primary on a 404 to OPTIONS: $(sipuad_line_json line1)"
	sleep 0.5
done
o1=$(options_sent)
n1=$(options_404)
fx_log "404 window: $((o1 - o0)) OPTIONS sent, $((n1 - n0)) 404s received, $(($(regs_at_a) - r0)) REGISTERs at a"
((o1 - o0 >= 3)) || fail "heartbeat every 1 s: only $((o1 - o0)) OPTIONS in 4 s"
((n1 - n0 >= 3)) || fail "the 404s did not come back ($((n1 - n0)))"
assert_eq "$(regs_at_a)" "$r0" "REGISTERs at a while OPTIONS draw 404 (no re-REGISTER)"
assert_eq "$(sipuad_line line1 .failovers)" 0 "failovers after the 404 window"
assert_eq "$(kam_contacts a 6101 | cut -f3)" "$cid" "binding unchanged"
assert_eq "$(kam_contact_count b 6101)" 0 "nothing bound on b"

# --- OPTIONS dropped, REGISTER served: re-REGISTER on the same server, no switch.
kam_force_int a opt_code -1 || fail "kam_force_int opt_code -1"
r0=$(regs_at_a)
more_regs() { (($(regs_at_a) > r0)); }
wait_for 4 "a re-REGISTER after the unanswered OPTIONS" more_regs ||
	fail "no re-REGISTER after a heartbeat miss: $(sipuad_line_json line1)"
fx_log "re-REGISTER after the heartbeat miss"
# observation window: 3 s more of misses; the line always comes back to
# registered on the primary, and never switches.
for ((i = 0; i < 6; i++)); do
	wait_for 2 "line1 registered on the primary" sipuad_on line1 0 ||
		fail "line1 switched on a heartbeat miss although REGISTER works: $(sipuad_line_json line1)"
	sleep 0.5
done
assert_eq "$(sipuad_line line1 .failovers)" 0 "failovers after heartbeat misses"
assert_eq "$(sipuad_history_count line1 failover)" 0 "failover events after heartbeat misses"
assert_eq "$(kam_contact_count b 6101)" 0 "nothing bound on b after heartbeat misses"
wait_for 3 "6101 bound on a" kam_has_contacts a 6101 1 || fail "6101 on a"

kam_force a opt_code 0
sipuad_stop 6 || fail "sipuad exit status $?"
assert_eq "$(kam_contact_count a 6101)" 0 "6101 un-REGISTERed at SIGTERM"
pass
