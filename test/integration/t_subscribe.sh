#!/usr/bin/env bash
# subscribe streams one JSON event per line as the agents publish them
# (sipuactl -j passes them through; without -j one readable line each);
# `failover LINE` is one of them. A stale socket file from a crashed run is
# replaced at start; a second daemon on a live socket refuses to start.
source "$(dirname "$0")/lib.sh"
fx_init
kam_start a "$(fx_ip 1)" || fail "kamailio a"
kam_start b "$(fx_ip 2)" || fail "kamailio b"
A=$(fx_ip 1)
B=$(fx_ip 2)
{
	sipuad_conf_common
	cat <<EOF
lines = ( { id = "line1"; user = "8001"; domain = "sipuad.test"; password = "s3cr3t-pw";
            servers = ( { host = "$A"; expires = 60; }, { host = "$B"; expires = 60; } );
            failback = { enabled = false; }; } );
EOF
} >"$FX_DIR/sipuad.conf"

SIPUAD_SOCK=$FX_DIR/sipuad.sock
# A socket file left behind by a crashed daemon: nobody listens on it.
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$SIPUAD_SOCK"
[[ -S $SIPUAD_SOCK ]] || fail "could not make a stale socket"
sipuad_start "$FX_DIR/sipuad.conf" || fail "sipuad did not replace a stale socket"
wait_for 5 "line1 registered" sipuad_line_is line1 .state registered || fail "line1"

# A second daemon on the same, live, socket must refuse and leave it alone.
rc=0
timeout 10 "$SIPUAD_BIN" -f -c "$FX_DIR/sipuad.conf" >"$FX_DIR/second.log" 2>&1 || rc=$?
assert_eq "$rc" 1 "second daemon's exit status"
grep -q "another daemon" "$FX_DIR/second.log" || fail "second daemon says why: $(cat "$FX_DIR/second.log")"
sipuactl_j version >/dev/null || fail "first daemon lost its socket"

# Two subscribers: raw JSON and the human form.
set +m
timeout 30 "$SIPUACTL_BIN" -s "$SIPUAD_SOCK" -j subscribe >"$FX_DIR/events.json" 2>&1 &
SUB1=$!
timeout 30 "$SIPUACTL_BIN" -s "$SIPUAD_SOCK" subscribe >"$FX_DIR/events.txt" 2>&1 &
SUB2=$!
fx_track "$SUB1"
fx_track "$SUB2"
subscribed() { (($(grep -c '"ok":true' "$FX_DIR/events.json") >= 1)); }
wait_for 5 "subscription acknowledged" subscribed || fail "no {\"ok\":true}: $(cat "$FX_DIR/events.json")"
# The human form prints nothing for the acknowledgement: wait until the
# daemon holds both connections (its side of each names the socket); a
# client's request is read before a later connection's.
accepted() { (($(ss -xnH state established | awk -v p="$SIPUAD_SOCK" '$4 == p' | wc -l) >= 2)); }
wait_for 5 "both subscribers accepted" accepted || fail "subscribers: $(ss -xnH | grep -F "$SIPUAD_SOCK")"

out=$(sipuactl_j failover line1) || fail "failover refused: $out"
got_failover() { grep -q '"kind":"failover"' "$FX_DIR/events.json"; }
wait_for 5 "failover event streamed" got_failover || fail "events: $(cat "$FX_DIR/events.json")"
got_registered() { grep '"kind":"registered"' "$FX_DIR/events.json" | grep -q backup; }
wait_for 5 "registered-on-backup event streamed" got_registered || fail "events: $(cat "$FX_DIR/events.json")"
ev=$(grep '"kind":"failover"' "$FX_DIR/events.json" | head -1)
assert_eq "$(jq -r .line <<<"$ev")" line1 "event names the line"
assert_match "$(jq -r .from <<<"$ev")" "^primary $A:5060/udp$" "event from"
assert_match "$(jq -r .to <<<"$ev")" "^backup $B:5060/udp$" "event to"
assert_match "$(jq -r .reason <<<"$ev")" "requested" "event reason"
human() { grep -q 'failover' "$FX_DIR/events.txt"; }
wait_for 5 "human-readable event" human || fail "human events: $(cat "$FX_DIR/events.txt")"
wait_for 5 "line1 on the backup" sipuad_line_is line1 .server.index 1 || fail "not on backup"
wait_for 5 "primary binding released" kam_has_contacts a 8001 0 || fail "old binding kept"
assert_eq "$(sipuad_line line1 .failovers)" 1 "failovers counted"

# When the daemon goes, subscribers end cleanly (exit 0).
sipuad_stop 6 || fail "sipuad exit status $?"
rc=0; wait "$SUB1" || rc=$?
assert_eq "$rc" 0 "sipuactl -j subscribe exit status"
fx_untrack "$SUB1"
grep -q '"kind":"unregistered"' "$FX_DIR/events.json" || fail "no unregistered event at stop"
pass
