#!/usr/bin/env bash
# RULES F.3, D.14: an INVITE from an address that is not one of the line's
# servers or proxies gets 403, raises no event and rings nothing, even with
# the line's user and its ;line= parameter; a flood of them (thousands,
# from sipp) neither disturbs the registration nor grows memory, and is
# logged at a bounded rate. The same INVITE through the line's registrar
# rings the line.
# fx-timeout: 120
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_calls.sh"
fx_init
A=$(fx_ip 1)
STRANGER=$(fx_ip 8)
PORT=$(fx_free_port)
kam_start a "$A" || fail "kamailio a"
{
	sipuad_conf_common 100
	cat <<EOF2
lines = (
$(sipuad_conf_calls_line la 6001 "{ host = \"$A\"; expires = 60; }" "heartbeat = { interval = 1; };")
);
EOF2
} >"$FX_DIR/sipuad.conf"
sed -i "s/port = 0;/port = $PORT;/" "$FX_DIR/sipuad.conf"
sipuad_start "$FX_DIR/sipuad.conf" || fail "sipuad did not start"
wait_for 5 "la registered" sipuad_on la 0 || fail "la: $(sipuad_line_json la)"
EV=$FX_DIR/events.json
sipuad_subscribe "$EV" || fail "subscribe"
cid=$(kam_contacts a 6001 | cut -f3)

rss() { awk '/^VmRSS/ { print $2 }' "/proc/$SIPUAD_PID/status"; }

# flood N RATE: N stranger INVITEs at RATE/s (the line's user, to the
# daemon's port directly), each must get 403
flood() {
	far_call scanner uac_invite_stranger "$STRANGER" "$FX_LOCAL_IP:$PORT" -s 6001 -m "$1" -r "$2" -l 200 &&
		far_wait scanner 60
}

flood 1 1 || fail "a stranger's INVITE did not get 403: $(far_status scanner)"
log0=$(wc -l <"$FX_DIR/sipuad.log")
flood 3000 500 || fail "flood 1: not every INVITE got 403: $(far_status scanner)"
r1=$(rss)
flood 3000 500 || fail "flood 2: not every INVITE got 403: $(far_status scanner)"
r2=$(rss)
fx_log "RSS after the first flood ${r1} kB, after the second ${r2} kB"
# Under ASan the heap is the sanitizer's (freed memory waits in its
# quarantine): the bound is for the real build; LeakSanitizer checks the
# ASan build for leaks at exit (sipuad_stop).
if ldd "$SIPUAD_BIN" | grep -q libasan; then
	fx_log "ASan build: RSS not bounded here (quarantine)"
else
	((r2 - r1 <= 1024)) || fail "memory grew by $((r2 - r1)) kB over 3000 more INVITEs"
fi

# nothing rang, nothing was published, the line never noticed
assert_eq "$(jq -cR 'fromjson? | select(.kind == "call")' "$EV" | wc -l)" 0 "call events"
sipuad_no_calls || fail "calls: $(sipuactl_j calls)"
sipuad_on la 0 || fail "la: $(sipuad_line_json la)"
assert_eq "$(sipuad_line la .failovers)" 0 "failovers"
assert_eq "$(kam_contacts a 6001 | cut -f3)" "$cid" "same registration throughout"
# logged at a bounded rate (one line per 10 s at most, the floods took ~12 s)
n=$(tail -n +"$log0" "$FX_DIR/sipuad.log" | grep -c 'refused .* INVITE')
fx_log "$n log lines about refused INVITEs"
((n <= 4)) || fail "$n log lines for 6000 refused INVITEs"

# from the registrar's own address, an offer with no codec in common (and a
# 300-character From) gets 488 before anything rings
far_call bad uac_invite_bad_offer "$A:$(fx_free_port)" "$FX_LOCAL_IP:$PORT" -s 6001 || fail "bad offer"
far_wait bad 10 || fail "a bad offer from a trusted address did not get 488: $(far_status bad)"
assert_eq "$(jq -cR 'fromjson? | select(.kind == "call")' "$EV" | wc -l)" 0 "call events after a bad offer"

# the line's registrar may ring it (sipp calls 6001 through Kamailio)
far_call caller uac_call_in "$STRANGER" "$A:5060" -s 6001 -key caller 7777 -d 500 || fail "caller"
wait_for 5 "la rings" sipuad_incoming la >/dev/null || fail "no incoming call through the registrar"
c=$(sipuad_incoming la)
sipuactl_j answer "$c" >/dev/null || fail "answer"
far_wait caller 10 || fail "the caller failed: $(far_status caller)"
wait_for 3 "closed" call_closed "$EV" "$c" || fail "not closed"
call_closed_once "$EV" "$c" 200
sipuad_stop 6 || fail "sipuad exit status $?"
pass
