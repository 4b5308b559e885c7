#!/usr/bin/env bash
# RULES F.2: the primary is unavailable for the user's one call, which is
# set up through the backup after the line re-registered there, within the
# retry budget + one registration on the backup (about 2.5 s with t1
# 100 ms and 3 transmissions; asserted with slack). Three ways: the primary
# is silent (SIGSTOP), dead (ICMP port unreachable), or answers INVITEs
# 503. The far end is sipp behind both registrars (Kamailio's `far`
# knob). A call that rang is never sent twice; busy (486) is busy.
# fx-timeout: 150
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_calls.sh"
fx_init
A=$(fx_ip 1)
B=$(fx_ip 2)
FAR=$(fx_ip 5)
T1=100 N=3
# retry budget + a REGISTER with its challenge on the backup + the
# re-registration on the primary when it is a timeout, with slack:
BUDGET_MS=$((T1 * ((1 << N) - 1)))
BOUND_MS=$((2 * BUDGET_MS + 1500))

kam_start a "$A" || fail "kamailio a"
kam_start b "$B" || fail "kamailio b"
{
	sipuad_conf_common "$T1"
	cat <<EOF
media = { rtp_ports = [ 20000, 20100 ]; };
lines = (
$(sipuad_conf_calls_line la 6001 "{ host = \"$A\"; expires = 60; }, { host = \"$B\"; expires = 60; }" \
	"heartbeat = { interval = 30; }; failover = { retry_count = $N; return_delay = 60; retry_delay = 2; };
    failback = { enabled = true; interval = 600; };")
);
EOF
} >"$FX_DIR/sipuad.conf"

sipuad_start "$FX_DIR/sipuad.conf" || fail "sipuad did not start"
EV=$FX_DIR/events.json
sipuad_subscribe "$EV" || fail "subscribe"

# one round: the primary fails in way $1, the call goes through the backup
round() {
	local how=$1 c t0 dt
	kam_running a || kam_start a "$A" || fail "restart kamailio a"
	kam_far a "sip:$FAR:$FX_KAM_PORT" || fail "kam_far a"
	kam_far b "sip:$FAR:$FX_KAM_PORT" || fail "kam_far b"
	sipuad_on la 0 2>/dev/null || sipuactl_j failover la >/dev/null # back to the primary
	wait_for 5 "la on the primary ($how)" sipuad_on la 0 || fail "la: $(sipuad_line_json la)"
	far_start far uas_call_answer "$FAR" || fail "far end"
	case $how in
	silent) kam_pause a || fail "pause a" ;;
	dead) kam_kill a || fail "kill a" ;;
	503) kam_force a inv_code 503 || fail "inv_code a" ;;
	esac
	t0=$(fx__now_ms)
	c=$(sipuad_call la 7000) || fail "call ($how)"
	wait_for 10 "the call established ($how)" sipuad_call_is "$c" .state established ||
		fail "$how: $(sipuactl_j calls); la: $(sipuad_line_json la)"
	dt=$(($(fx__now_ms) - t0))
	fx_log "$how: established through the backup after $dt ms (bound $BOUND_MS ms)"
	((dt <= BOUND_MS)) || fail "$how: the call took $dt ms, more than $BOUND_MS"
	assert_eq "$(sipuad_call_field "$c" .server.role)" backup "$how: the call's server"
	sipuad_on la 1 || fail "$how: la not on the backup: $(sipuad_line_json la)"
	# the user saw one call: calling, ringing (the far end, via the backup), established
	assert_eq "$(call_states "$EV" "$c")" "calling ringing established" "$how: states"
	sipuactl_j hangup "$c" >/dev/null || fail "hangup ($how)"
	far_wait far 10 || fail "$how: the far end did not see the BYE"
	wait_for 3 "closed ($how)" call_closed "$EV" "$c" || fail "$how: not closed"
	call_closed_once "$EV" "$c" 200
	case $how in
	silent) kam_resume a ;;
	503) kam_force a inv_code 0 ;;
	esac
	return 0
}

round silent
round dead
round 503

# No failover after a provisional answer, and busy is busy: the far end
# rings, then answers 486 (through the primary, which works again).
sipuad_on la 0 2>/dev/null || sipuactl_j failover la >/dev/null
wait_for 5 "la on the primary" sipuad_on la 0 || fail "la: $(sipuad_line_json la)"
far_start far uas_call_reject "$FAR" -set code 486 || fail "far end (reject)"
f0=$(sipuad_line la .failovers)
c=$(sipuad_call la 7001) || fail "call (busy)"
wait_for 5 "busy" call_closed "$EV" "$c" || fail "busy not closed"
call_closed_once "$EV" "$c" 486
far_wait far 5 || fail "the far end (reject) did not finish"
assert_eq "$(sipuad_line la .failovers)" "$f0" "no failover for a busy far end"
sipuad_stop 6 || fail "sipuad exit status $?"
pass
