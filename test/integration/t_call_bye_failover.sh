#!/usr/bin/env bash
# RULES F.4: a call is up through the primary; the primary goes silent;
# `hangup` closes the call for the user at once, the BYE to the primary
# goes unanswered for the retry budget, the line re-registers (on the
# primary, in vain, then on the backup) and the BYE reaches the far end
# through the backup: within the budget twice + a registration (slack
# added). The far end (sipp) sees exactly one BYE and answers it.
# fx-timeout: 60
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_calls.sh"
fx_init
A=$(fx_ip 1)
B=$(fx_ip 2)
FAR=$(fx_ip 5)
T1=100 N=3
BUDGET_MS=$((T1 * ((1 << N) - 1)))
BOUND_MS=$((2 * BUDGET_MS + 1500))
kam_start a "$A" || fail "kamailio a"
kam_start b "$B" || fail "kamailio b"
kam_far a "sip:$FAR:$FX_KAM_PORT" || fail "kam_far a"
kam_far b "sip:$FAR:$FX_KAM_PORT" || fail "kam_far b"
{
	sipuad_conf_common "$T1"
	cat <<EOF2
lines = (
$(sipuad_conf_calls_line la 6001 "{ host = \"$A\"; expires = 60; }, { host = \"$B\"; expires = 60; }" \
	"heartbeat = { interval = 30; }; failover = { retry_count = $N; return_delay = 60; retry_delay = 2; };
    failback = { enabled = true; interval = 600; };")
);
EOF2
} >"$FX_DIR/sipuad.conf"
sipuad_start "$FX_DIR/sipuad.conf" || fail "sipuad did not start"
wait_for 5 "la on the primary" sipuad_on la 0 || fail "la: $(sipuad_line_json la)"
EV=$FX_DIR/events.json
sipuad_subscribe "$EV" || fail "subscribe"
far_start far uas_call_answer "$FAR" || fail "far end"
c=$(sipuad_call la 7000) || fail "call"
wait_for 5 "established" sipuad_call_is "$c" .state established || fail "call: $(sipuactl_j calls)"
assert_eq "$(sipuad_call_field "$c" .server.role)" primary "the call's server"

kam_pause a || fail "pause a"
t0=$(fx__now_ms)
sipuactl_j hangup "$c" >/dev/null || fail "hangup"
# closed for the user at once
wait_for 0.5 "closed at once" call_closed "$EV" "$c" || fail "not closed at once: $(call_states "$EV" "$c")"
call_closed_once "$EV" "$c" 200
# the BYE reaches the far end through the backup
far_wait far 10 || fail "the far end never got the BYE"
dt=$(($(fx__now_ms) - t0))
fx_log "BYE delivered through the backup after $dt ms (bound $BOUND_MS ms)"
((dt <= BOUND_MS)) || fail "BYE took $dt ms, more than $BOUND_MS"
sipuad_on la 1 || fail "la not on the backup: $(sipuad_line_json la)"
assert_eq "$(kam_count_bye b)" 1 "BYEs relayed by the backup"
kam_resume a
call_closed_once "$EV" "$c" 200
sipuad_stop 6 || fail "sipuad exit status $?"
pass
