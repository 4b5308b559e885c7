#!/usr/bin/env bash
# The control socket under bad input and load (issue: garbage, overlong
# lines, NUL bytes, half lines, hundreds of clients, disconnects mid-reply):
# every bad request gets {"ok":false,...}, the daemon keeps serving and its
# line stays registered. Peers that are neither root, our user nor in
# control.group are refused (SO_PEERCRED). sipuactl's exit codes.
source "$(dirname "$0")/lib.sh"
fx_init
kam_start a "$(fx_ip 1)" || fail "kamailio a"
A=$(fx_ip 1)
{
	sipuad_conf_common
	cat <<EOF
lines = ( { id = "line1"; user = "7001"; domain = "sipuad.test"; password = "s3cr3t-pw";
            servers = ( { host = "$A"; expires = 60; } ); } );
EOF
} >"$FX_DIR/sipuad.conf"
# World-connectable socket, so that only the credential check stands
# between another user and the daemon.
sed -i 's/mode = "0600"/mode = "0666"/' "$FX_DIR/sipuad.conf"
sipuad_start "$FX_DIR/sipuad.conf" || fail "sipuad did not start"
wait_for 5 "line1 registered" sipuad_line_is line1 .state registered || fail "line1"
cid=$(kam_contacts a 7001 | cut -f3)

timeout 90 python3 "$FX_LIB_DIR/ctl_abuse.py" "$SIPUAD_SOCK" || fail "control socket abuse checks failed"
drops=$(grep -c "closing a client that does not read" "$FX_DIR/sipuad.log")
((drops >= 64)) || fail "only $drops clients dropped for not reading (want >= 64)"

# Another user: connect works (mode 0666, the directory traversable) but
# the daemon refuses.
chmod 0711 "$FX_DIR"
assert_eq "$(stat -c %a "$SIPUAD_SOCK")" 666 "socket mode from the config"
out=$(timeout 5 setpriv --reuid=65534 --regid=65534 --clear-groups \
	"$SIPUACTL_BIN" -s "$SIPUAD_SOCK" -j version 2>&1) && fail "nobody was served: $out"
assert_match "$out" "permission denied" "nobody is refused"

# sipuactl: 0 ok, 1 error reply, 2 no daemon.
rc=0; "$SIPUACTL_BIN" -s "$SIPUAD_SOCK" status >/dev/null || rc=$?
assert_eq "$rc" 0 "sipuactl status"
rc=0; "$SIPUACTL_BIN" -s "$SIPUAD_SOCK" status nosuch >/dev/null 2>&1 || rc=$?
assert_eq "$rc" 1 "sipuactl error reply"
rc=0; "$SIPUACTL_BIN" -s "$FX_DIR/none.sock" status >/dev/null 2>&1 || rc=$?
assert_eq "$rc" 2 "sipuactl without a daemon"

assert_eq "$(sipuad_line line1 .state)" registered "the line never noticed"
assert_eq "$(kam_contacts a 7001 | cut -f3)" "$cid" "same registration throughout"
sipuad_stop 6 || fail "sipuad exit status $?"
pass
