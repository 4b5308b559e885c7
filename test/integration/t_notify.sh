#!/usr/bin/env bash
# RULES H.2 against the real daemon: under NOTIFY_SOCKET it sends READY=1
# only once its control socket accepts, RELOADING=1 then READY=1 around a
# reload (SIGHUP and the control command alike, a refused one too) and
# STOPPING=1 when SIGTERM begins the un-REGISTER. Read from a test socket.
source "$(dirname "$0")/lib.sh"
fx_init
kam_start a "$(fx_ip 1)" || fail "kamailio a"
A=$(fx_ip 1)
{
	sipuad_conf_common
	cat <<EOF2
lines = ( { id = "line1"; user = "4101"; domain = "sipuad.test"; password = "s3cr3t-pw";
            servers = ( { host = "$A"; expires = 60; } ); heartbeat = { interval = 0; }; } );
EOF2
} >"$FX_DIR/sipuad.conf"

# The test socket: every datagram becomes one line of $FX_DIR/notify.log
# ("\n" inside a message shown as "|"), and at READY=1 the listener notes
# whether the control socket accepted a connection at that moment.
cat >"$FX_DIR/listen.py" <<'EOF2'
import socket, sys
path, out, ctl = sys.argv[1], sys.argv[2], sys.argv[3]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
s.settimeout(60)
with open(out, "a", buffering=1) as f:
    while True:
        try:
            m = s.recv(4096).decode()
        except socket.timeout:
            break
        extra = ""
        if m.startswith("READY=1"):
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                c.connect(ctl)
                extra = " ctl=accepts"
            except OSError as e:
                extra = " ctl=" + type(e).__name__
            c.close()
        f.write(m.replace("\n", "|") + extra + "\n")
EOF2
python3 "$FX_DIR/listen.py" "$FX_DIR/notify.sock" "$FX_DIR/notify.log" "$FX_DIR/sipuad.sock" &
lpid=$!
fx_track "$lpid"
wait_for 5 "notify listener" test -S "$FX_DIR/notify.sock" || fail "listener did not start"
: >"$FX_DIR/notify.log"
count() { grep -c -- "$1" "$FX_DIR/notify.log" || true; }
has() { [[ $(count "$1") -ge $2 ]]; }

NOTIFY_SOCKET=$FX_DIR/notify.sock sipuad_start "$FX_DIR/sipuad.conf" || fail "sipuad did not start"
wait_for 5 "READY=1" has '^READY=1' 1 || fail "no READY=1: $(cat "$FX_DIR/notify.log")"
assert_match "$(head -n 1 "$FX_DIR/notify.log")" "^READY=1\|MAINPID=$SIPUAD_PID ctl=accepts\$" \
	"first message is READY=1 with the daemon's PID, sent when the socket accepts"
wait_for 5 "line1 registered" sipuad_line_is line1 .state registered || fail "line1"

sipuactl_j reload >/dev/null || fail "reload refused"
wait_for 5 "RELOADING=1, READY=1 after reload" has '^READY=1' 2 || fail "$(cat "$FX_DIR/notify.log")"
kill -HUP "$SIPUAD_PID"
wait_for 5 "READY=1 after SIGHUP" has '^READY=1' 3 || fail "$(cat "$FX_DIR/notify.log")"
# A refused reload still ends with READY=1: the running config stays.
echo 'bogus = 1;' >>"$FX_DIR/sipuad.conf"
sipuactl_j reload >/dev/null && fail "a bad config was accepted"
wait_for 5 "READY=1 after a refused reload" has '^READY=1' 4 || fail "$(cat "$FX_DIR/notify.log")"
assert_eq "$(count '^RELOADING=1|MONOTONIC_USEC=[0-9][0-9]*$')" 3 "one RELOADING=1 per reload"
assert_eq "$(count STOPPING)" 0 "no STOPPING=1 before SIGTERM"

sipuad_stop 6 || fail "sipuad exit status $?"
wait_for 3 "STOPPING=1" has '^STOPPING=1$' 1 || fail "no STOPPING=1: $(cat "$FX_DIR/notify.log")"
got=$(cut -d'|' -f1 "$FX_DIR/notify.log" | tr '\n' ' ')
assert_eq "$got" "READY=1 RELOADING=1 READY=1 RELOADING=1 READY=1 RELOADING=1 READY=1 STOPPING=1 " "whole sequence"

# Without NOTIFY_SOCKET (and with a broken one) the daemon starts as before.
sed -i '$d' "$FX_DIR/sipuad.conf"
NOTIFY_SOCKET=relative/nonsense sipuad_start "$FX_DIR/sipuad.conf" || fail "a bad NOTIFY_SOCKET stopped the start"
grep -q 'NOTIFY_SOCKET unusable' "$FX_DIR/sipuad.log" || fail "a bad NOTIFY_SOCKET was not logged"
sipuad_stop 6 || fail "sipuad exit status $?"
pass
