#!/usr/bin/env bash
# RULES F.6: every call ends with exactly one `closed` event, whatever ends
# it: the far end hangs up; the far end rejects with a code of its own
# (480); the only server drops the INVITE (Timer B, then the line
# re-registers there and the call is not sent twice: 408); the only server
# is dead (ICMP: the line fails, the call ends at once, 503); a call
# placed while the line has no server at all (503 at once).
# fx-timeout: 90
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_calls.sh"
fx_init
A=$(fx_ip 1)
FAR=$(fx_ip 5)
T1=100
kam_start a "$A" || fail "kamailio a"
kam_far a "sip:$FAR:$FX_KAM_PORT" || fail "kam_far a"
{
	sipuad_conf_common "$T1"
	echo "lines = ("
	sipuad_conf_calls_line la 6001 "{ host = \"$A\"; expires = 60; }" \
		"failover = { retry_count = 3; retry_delay = 30; };"
	echo ");"
} >"$FX_DIR/sipuad.conf"
sipuad_start "$FX_DIR/sipuad.conf" || fail "sipuad did not start"
wait_for 5 "la registered" sipuad_on la 0 || fail "la: $(sipuad_line_json la)"
EV=$FX_DIR/events.json
sipuad_subscribe "$EV" || fail "subscribe"

# the far end hangs up
far_start far uas_call_far_hangup "$FAR" -d 300 || fail "far end (hangup)"
c=$(sipuad_call la 7000) || fail "call (far hangup)"
wait_for 5 "closed by the far end" call_closed "$EV" "$c" || fail "$(call_states "$EV" "$c")"
far_wait far 5 || fail "far end (hangup): $(far_status far)"
call_closed_once "$EV" "$c" 200
assert_eq "$(call_states "$EV" "$c")" "calling ringing established closed" "states (far hangup)"
assert_eq "$(call_events "$EV" "$c" | jq -r 'select(.state == "closed") | .reason')" "remote hangup" "reason"

# a code of the far end's own
far_start far uas_call_reject "$FAR" -set code 480 || fail "far end (480)"
c=$(sipuad_call la 7000) || fail "call (480)"
wait_for 5 "closed 480" call_closed "$EV" "$c" || fail "$(call_states "$EV" "$c")"
far_wait far 5 || fail "far end (480): $(far_status far)"
call_closed_once "$EV" "$c" 480

# the only server drops the INVITE: Timer B (64*T1), re-registration there, 408
kam_inv_code a -1 || fail "inv_code -1"
t0=$(fx__now_ms)
c=$(sipuad_call la 7000) || fail "call (dropped)"
wait_for 12 "closed (no answer)" call_closed "$EV" "$c" || fail "$(call_states "$EV" "$c")"
dt=$(($(fx__now_ms) - t0))
fx_log "unanswered call closed after $dt ms (Timer B $((64 * T1)) ms)"
((dt >= 64 * T1 - 200)) || fail "closed after $dt ms, before Timer B"
call_closed_once "$EV" "$c" 408
assert_eq "$(call_states "$EV" "$c")" "calling closed" "states (dropped)"
wait_for 3 "la registered again" sipuad_on la 0 || fail "la: $(sipuad_line_json la)"
kam_inv_code a 0

# the only server is dead: ICMP, the line fails, the call ends at once
kam_kill a || fail "kill a"
t0=$(fx__now_ms)
c=$(sipuad_call la 7000) || fail "call (dead)"
wait_for 3 "closed (dead server)" call_closed "$EV" "$c" || fail "$(call_states "$EV" "$c")"
fx_log "call to a dead server closed after $(($(fx__now_ms) - t0)) ms"
call_closed_once "$EV" "$c" 503
# a call placed while the line has no server ends at once
wait_for 5 "la failed" sipuad_line_is la .state failed || fail "la: $(sipuad_line_json la)"
c=$(sipuad_call la 7000) || fail "call (line failed)"
wait_for 1 "closed at once" call_closed "$EV" "$c" || fail "$(call_states "$EV" "$c")"
call_closed_once "$EV" "$c" 503
assert_eq "$(call_states "$EV" "$c")" "calling closed" "states (line failed)"
sipuad_no_calls || fail "calls: $(sipuactl_j calls)"
sipuad_stop 6 || fail "sipuad exit status $?"
pass
