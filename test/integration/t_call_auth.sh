#!/usr/bin/env bash
# RULES F.1: the INVITE answers a digest challenge, 401 (www) and 407
# (proxy), with the line's credentials, once per nonce (the code is the
# REGISTER's: t_auth_failure shows a refusal ends, not loops). 180 is reported as
# `ringing`; 183 as `early`, with the early media's SDP in the event.
# fx-timeout: 60
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_calls.sh"
fx_init
A=$(fx_ip 1)
FAR=$(fx_ip 5)
kam_start a "$A" || fail "kamailio a"
kam_far a "sip:$FAR:$FX_KAM_PORT" || fail "kam_far a"
{
	sipuad_conf_common 100
	echo "lines = ("
	sipuad_conf_calls_line la 6001 "{ host = \"$A\"; expires = 60; }"
	echo ");"
} >"$FX_DIR/sipuad.conf"
sipuad_start "$FX_DIR/sipuad.conf" || fail "sipuad did not start"
wait_for 5 "la registered" sipuad_on la 0 || fail "la: $(sipuad_line_json la)"
EV=$FX_DIR/events.json
sipuad_subscribe "$EV" || fail "subscribe"

for auth in 401 407; do
	kam_inv_auth a "$auth" || fail "inv_auth $auth"
	far_start far uas_call_answer "$FAR" || fail "far end ($auth)"
	c=$(sipuad_call la 7000) || fail "call ($auth)"
	wait_for 5 "established ($auth)" sipuad_call_is "$c" .state established ||
		fail "$auth: $(sipuactl_j calls); $(call_states "$EV" "$c")"
	assert_eq "$(call_states "$EV" "$c")" "calling ringing established" "states ($auth)"
	sipuactl_j hangup "$c" >/dev/null
	far_wait far 5 || fail "far end ($auth) did not finish"
	wait_for 3 "closed ($auth)" call_closed "$EV" "$c" || fail "not closed ($auth)"
	call_closed_once "$EV" "$c" 200
done
assert_eq "$(sipuad_sent | grep -c '^INVITE ')" 4 "two INVITEs per call: the challenged one and its answer"

# 183 with SDP: early media, then 200
kam_inv_auth a 0
far_start far uas_call_early "$FAR" || fail "far end (early)"
c=$(sipuad_call la 7000) || fail "call (early)"
wait_for 5 "early" sipuad_call_is "$c" .state early || fail "no early: $(sipuactl_j calls)"
em=$(call_events "$EV" "$c" | jq -c 'select(.state == "early") | .media')
[[ $em != null && -n $em ]] || fail "no media in the early event"
assert_eq "$(jq -r .remote.address <<<"$em")" "$FAR" "early media from the far end"
wait_for 5 "established" sipuad_call_is "$c" .state established || fail "$(sipuactl_j calls)"
sipuactl_j hangup "$c" >/dev/null
far_wait far 5 || fail "far end (early) did not finish"
wait_for 3 "closed" call_closed "$EV" "$c" || fail "not closed (early)"

# SIGTERM with a call up: the far end is not left hanging (BYE)
far_start far uas_call_answer "$FAR" || fail "far end (stop)"
c=$(sipuad_call la 7000) || fail "call (stop)"
wait_for 5 "established (stop)" sipuad_call_is "$c" .state established || fail "$(sipuactl_j calls)"
sipuad_stop 6 || fail "sipuad exit status $?"
far_wait far 5 || fail "the far end got no BYE at SIGTERM: $(far_status far)"
pass
