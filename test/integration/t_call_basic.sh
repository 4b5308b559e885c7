#!/usr/bin/env bash
# RULES F.1, F.3, F.6: line A calls line B through Kamailio (which routes
# the INVITE to B's registered contact). B rings (`incoming`), `answer`
# makes both `established` with each side's media.remote equal to the
# other's media.local; `hangup` on either side clears both, and every call
# ends with exactly one `closed` event: hung up by the caller, by the
# callee, rejected (603, and 486 by default), cancelled while ringing.
# The calls show in `calls`, in LINE.calls and in `history LINE`.
# fx-timeout: 90
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_calls.sh"
fx_init
A=$(fx_ip 1)
kam_start a "$A" || fail "kamailio a"
{
	sipuad_conf_common 100
	cat <<EOF
media = { rtp_ports = [ 20000, 20100 ]; codecs = [ "PCMU", "PCMA", "telephone-event" ]; };
lines = (
$(sipuad_conf_calls_line la 6001 "{ host = \"$A\"; expires = 60; }"),
$(sipuad_conf_calls_line lb 6002 "{ host = \"$A\"; expires = 60; }")
);
EOF
} >"$FX_DIR/sipuad.conf"

sipuad_start "$FX_DIR/sipuad.conf" || fail "sipuad did not start"
wait_for 5 "la registered" sipuad_on la 0 || fail "la: $(sipuad_line_json la)"
wait_for 5 "lb registered" sipuad_on lb 0 || fail "lb: $(sipuad_line_json lb)"
EV=$FX_DIR/events.json
sipuad_subscribe "$EV" || fail "subscribe"

# --- 1. A calls B, B answers, A hangs up
c1=$(sipuad_call la 6002) || fail "call la 6002"
assert_match "$c1" '^c[0-9]+$' "call id"
wait_for 5 "B rings" sipuad_incoming lb >/dev/null || fail "no incoming call on lb: $(sipuactl_j calls)"
c2=$(sipuad_incoming lb)
wait_for 3 "A hears ringing" sipuad_call_is "$c1" .state ringing || fail "A: $(sipuactl_j calls)"
assert_eq "$(sipuad_call_field "$c2" .direction)" in "B's call direction"
assert_match "$(sipuad_call_field "$c2" .peer)" '^sip:6001@' "B sees the caller"
assert_eq "$(sipuad_line lb .calls)" 1 "LINE.calls of lb while ringing"
sipuactl_j answer "$c2" | jq -e .ok >/dev/null || fail "answer $c2"
wait_for 5 "A established" sipuad_call_is "$c1" .state established || fail "A: $(sipuactl_j calls)"
wait_for 5 "B established" sipuad_call_is "$c2" .state established || fail "B: $(sipuactl_j calls)"
ma=$(sipuad_call_field "$c1" .media)
mb=$(sipuad_call_field "$c2" .media)
fx_log "media A: $ma"
fx_log "media B: $mb"
assert_eq "$(jq -c .remote <<<"$ma")" "$(jq -c .local <<<"$mb")" "A's remote is B's local"
assert_eq "$(jq -c .remote <<<"$mb")" "$(jq -c .local <<<"$ma")" "B's remote is A's local"
assert_eq "$(jq -r .codec <<<"$ma")" "PCMU/8000" "codec"
assert_eq "$(jq -r .dtmf <<<"$ma")" 101 "telephone-event"
pa=$(jq -r .local.port <<<"$ma")
pb=$(jq -r .local.port <<<"$mb")
((pa % 2 == 0 && pb % 2 == 0 && pa >= 20000 && pb <= 20100 && pa != pb)) || fail "RTP ports $pa $pb"
assert_ne "$(sipuad_call_field "$c1" .sip_call_id)" "" "sip_call_id"
assert_eq "$(sipuad_call_field "$c1" .server.role)" primary "A's call server"
sipuactl_j hangup "$c1" | jq -e .ok >/dev/null || fail "hangup $c1"
wait_for 5 "both closed" sipuad_no_calls || fail "calls left: $(sipuactl_j calls)"
wait_for 3 "B's closed event" call_closed "$EV" "$c2" || fail "B not closed"
call_closed_once "$EV" "$c1" 200
call_closed_once "$EV" "$c2" 200
assert_eq "$(call_states "$EV" "$c1")" "calling ringing established closed" "A's states"
assert_eq "$(call_states "$EV" "$c2")" "incoming established closed" "B's states"
assert_eq "$(call_events "$EV" "$c2" | jq -r 'select(.state == "closed") | .reason')" "remote hangup" "B's end"

# --- 2. B hangs up this time
c1=$(sipuad_call la 6002) || fail "call 2"
wait_for 5 "B rings" sipuad_incoming lb >/dev/null || fail "no incoming call 2"
c2=$(sipuad_incoming lb)
sipuactl_j answer "$c2" >/dev/null
wait_for 5 "A established" sipuad_call_is "$c1" .state established || fail "call 2: $(sipuactl_j calls)"
sipuactl_j hangup "$c2" | jq -e .ok >/dev/null || fail "hangup $c2"
wait_for 5 "both closed" sipuad_no_calls || fail "calls left: $(sipuactl_j calls)"
wait_for 3 "A's closed" call_closed "$EV" "$c1" || fail "A not closed"
call_closed_once "$EV" "$c1" 200
call_closed_once "$EV" "$c2" 200

# --- 3. rejected: 603, then the default 486
for code in 603 ""; do
	c1=$(sipuad_call la 6002) || fail "call 3"
	wait_for 5 "B rings" sipuad_incoming lb >/dev/null || fail "no incoming call 3"
	c2=$(sipuad_incoming lb)
	sipuactl_j hangup "$c2" $code | jq -e .ok >/dev/null || fail "reject $c2 $code"
	wait_for 5 "both closed" sipuad_no_calls || fail "calls left: $(sipuactl_j calls)"
	wait_for 3 "A's closed" call_closed "$EV" "$c1" || fail "A not closed"
	call_closed_once "$EV" "$c1" "${code:-486}"
	call_closed_once "$EV" "$c2" "${code:-486}"
done

# --- 4. cancelled while ringing
c1=$(sipuad_call la 6002) || fail "call 4"
wait_for 5 "B rings" sipuad_incoming lb >/dev/null || fail "no incoming call 4"
c2=$(sipuad_incoming lb)
wait_for 3 "A hears ringing" sipuad_call_is "$c1" .state ringing || fail "A: $(sipuactl_j calls)"
sipuactl_j hangup "$c1" | jq -e .ok >/dev/null || fail "cancel $c1"
wait_for 5 "both closed" sipuad_no_calls || fail "calls left: $(sipuactl_j calls)"
wait_for 3 "B's closed" call_closed "$EV" "$c2" || fail "B not closed"
call_closed_once "$EV" "$c1" 487
call_closed_once "$EV" "$c2" 487

# --- 5. sipuactl for people: `call` prints the id, `calls` a table, `status LINE` the count
ctl() { timeout 5 "$SIPUACTL_BIN" -s "$SIPUAD_SOCK" "$@"; }
c1=$(ctl call la 6002) || fail "sipuactl call"
assert_match "$c1" '^c[0-9]+$' "sipuactl call prints the id"
wait_for 5 "B rings" sipuad_incoming lb >/dev/null || fail "no incoming call 5"
c2=$(sipuad_incoming lb)
ctl answer "$c2" || fail "sipuactl answer"
wait_for 5 "A established" sipuad_call_is "$c1" .state established || fail "call 5: $(sipuactl_j calls)"
t=$(ctl calls) || fail "sipuactl calls"
fx_log "sipuactl calls:"$'\n'"$t"
assert_match "$(head -n1 <<<"$t")" '^CALL +LINE +DIR +STATE +PEER +SERVER +MEDIA' "calls table header"
assert_match "$(grep "^$c1 " <<<"$t")" "^$c1 +la +out +established +sip:6002@sipuad.test +primary $A:5060/udp +PCMU/8000 " "A's row"
assert_match "$(grep "^$c2 " <<<"$t")" "^$c2 +lb +in +established " "B's row"
assert_match "$(ctl status la)" $'(^|\n)calls: 1($|\n)' "status la shows the open call"
ctl hangup "$c2" || fail "sipuactl hangup"
wait_for 5 "both closed" sipuad_no_calls || fail "calls left: $(sipuactl_j calls)"
out=$(ctl hangup "$c2" 2>&1) && fail "hangup of a closed call succeeded"
assert_match "$out" "no open call $c2" "error for people"

# bad requests get error replies
assert_fails "answer of no call" sipuactl_j answer c999
assert_fails "call of no line" sipuactl_j call nosuch 6002
assert_fails "hangup with a bad code" sipuactl_j hangup c999 99
assert_fails "a target with a quote" sipuactl_j call la '6002"x'

# history keeps one record per ended call
wait_for 3 "calls in la's history" sipuad_history_has la call 6 || fail "history: $(sipuad_history la)"
assert_match "$(sipuad_events la call | head -n1 | jq -r .from)" "^c[0-9]+ out sip:6002@" "history from"
assert_eq "$(sipuad_line la .calls)" 0 "no call open"
sipuad_stop 6 || fail "sipuad exit status $?"
pass
