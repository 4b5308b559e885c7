#!/usr/bin/env bash
# RULES F.8: a re-INVITE in an established call (the far end puts it on
# hold and moves its media: another port, sendonly, PCMA only) is answered
# 200 with our SDP answer (recvonly, PCMA); `calls` shows the new media and
# subscribers get one `media` event; the call stays `established` (no
# state change, no second `established`), and ends with one `closed`.
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

PORT=$(fx_free_port)
HOLD=$(fx_free_port)
far_start far uas_call_reinvite "$FAR" -key audio_port "$PORT" -key hold_port "$HOLD" -d 800 ||
	fail "far end"
c=$(sipuad_call la 7000) || fail "call"
wait_for 5 "established" sipuad_call_is "$c" .state established || fail "$(sipuactl_j calls)"
assert_eq "$(sipuad_call_field "$c" .media.remote.port)" "$PORT" "media before the re-INVITE"
media_event() { jq -ceR --arg id "$c" 'fromjson? | select(.kind == "media" and .call == $id)' "$EV"; }
wait_for 5 "the media event" media_event || fail "no media event: $(cat "$EV")"
m=$(media_event | jq -c .media)
fx_log "media after the re-INVITE: $m"
assert_eq "$(jq -r .remote.port <<<"$m")" "$HOLD" "the far end's new port"
assert_eq "$(jq -r .codec <<<"$m")" "PCMA/8000" "the codec of the re-offer"
assert_eq "$(jq -r .direction <<<"$m")" recvonly "our direction while the far end holds"
assert_eq "$(media_event | jq -r .state)" established "the media event's state"
wait_for 5 "closed by the far end" call_closed "$EV" "$c" || fail "$(call_states "$EV" "$c")"
far_wait far 5 || fail "far end: $(far_status far)"
call_closed_once "$EV" "$c" 200
assert_eq "$(call_states "$EV" "$c")" "calling ringing established closed" "states (one per state change)"
sipuad_stop 6 || fail "sipuad exit status $?"
pass
