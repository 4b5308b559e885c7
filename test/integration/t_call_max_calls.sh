#!/usr/bin/env bash
# RULES F.3, F.5: past max_calls an incoming INVITE gets 486 and `call` is
# refused; a registration failover during a call leaves the call up (its
# BYE still goes through the server it was set up on), and a failback
# waits until the line has no call, then happens at once.
# fx-timeout: 90
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_calls.sh"
fx_init
A=$(fx_ip 1)
B=$(fx_ip 2)
FAR=$(fx_ip 5)
CALLER=$(fx_ip 8)
kam_start a "$A" || fail "kamailio a"
kam_start b "$B" || fail "kamailio b"
kam_far a "sip:$FAR:$FX_KAM_PORT" || fail "kam_far a"
kam_far b "sip:$FAR:$FX_KAM_PORT" || fail "kam_far b"
{
	sipuad_conf_common 100
	cat <<EOF2
lines = (
$(sipuad_conf_calls_line la 6001 "{ host = \"$A\"; expires = 60; }, { host = \"$B\"; expires = 60; }" \
	"max_calls = 1; failback = { enabled = true; interval = 1; };")
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

# max_calls = 1: a second call is refused, an incoming one gets 486
assert_fails "a second call past max_calls" sipuactl_j call la 7001
far_call caller uac_call_expect "$CALLER" "$A:5060" -s 6001 -key caller 7777 -set code 486 || fail "caller"
far_wait caller 10 || fail "the incoming call past max_calls did not get 486: $(far_status caller)"
assert_eq "$(jq -cR 'fromjson? | select(.kind == "call" and .state == "incoming")' "$EV" | wc -l)" 0 \
	"no incoming event past max_calls"
assert_match "$(grep -h 'max_calls' "$FX_DIR/sipuad.log" | tail -n1)" '486' "the refusal is logged with 486"

# a registration failover leaves the call up
sipuactl_j failover la >/dev/null || fail "failover"
wait_for 5 "la on the backup" sipuad_on la 1 || fail "la: $(sipuad_line_json la)"
sipuad_call_is "$c" .state established || fail "the call went down with the failover"
assert_eq "$(sipuad_call_field "$c" .server.role)" primary "the call keeps its server"
# failback waits: the primary works, probes would succeed, but a call is up (3 s window)
for ((i = 0; i < 6; i++)); do
	sipuad_on la 1 || fail "la failed back during a call: $(sipuad_line_json la)"
	sleep 0.5
done
byes0=$(kam_count_bye a)
t0=$(fx__now_ms)
sipuactl_j hangup "$c" >/dev/null || fail "hangup"
far_wait far 5 || fail "the far end did not get the BYE"
assert_eq "$(kam_count_bye a)" "$((byes0 + 1))" "the BYE went through the call's server (the primary)"
# ...then at once
wait_for 3 "la back on the primary" sipuad_on la 0 || fail "no failback after the call: $(sipuad_line_json la)"
fx_log "failback $(($(fx__now_ms) - t0)) ms after the hangup"
sipuad_stop 6 || fail "sipuad exit status $?"
pass
