#!/usr/bin/env bash
# What init scripts rely on: without -f, sipuad returns only once it serves
# its socket (exit 0) or has failed (exit 1, nothing left running); -p writes
# the daemon's PID and it is removed at exit; -n refuses a bad config; -V.
source "$(dirname "$0")/lib.sh"
fx_init
kam_start a "$(fx_ip 1)" || fail "kamailio a"
A=$(fx_ip 1)
{
	sipuad_conf_common
	cat <<EOF
lines = ( { id = "line1"; user = "4001"; domain = "sipuad.test"; password = "s3cr3t-pw";
            servers = ( { host = "$A"; expires = 60; } ); } );
EOF
} >"$FX_DIR/sipuad.conf"

assert_match "$("$SIPUAD_BIN" -V)" '^sipuad [0-9]+\.[0-9]+\.[0-9]+$' "-V prints the version"
assert_ok "-n accepts the config" "$SIPUAD_BIN" -n -c "$FX_DIR/sipuad.conf"

# A start-up failure (socket in a directory that does not exist) is exit 1.
sed "s|socket = \"[^\"]*\"|socket = \"$FX_DIR/no/such/dir/s.sock\"|" "$FX_DIR/sipuad.conf" >"$FX_DIR/bad.conf"
rc=0
timeout 10 "$SIPUAD_BIN" -c "$FX_DIR/bad.conf" -p "$FX_DIR/bad.pid" || rc=$?
assert_eq "$rc" 1 "exit status of a daemon that cannot start"
[[ ! -e $FX_DIR/bad.pid ]] || fail "pidfile left behind by a failed start"

# A good start: the parent returns 0 with the socket already up.
rc=0
timeout 10 "$SIPUAD_BIN" -c "$FX_DIR/sipuad.conf" -p "$FX_DIR/sipuad.pid" || rc=$?
assert_eq "$rc" 0 "exit status of a daemon that started"
pid=$(cat "$FX_DIR/sipuad.pid") || fail "no pidfile"
fx_track "$pid"
fx_pid_alive "$pid" || fail "pidfile names no live process"
sipuactl_j version >/dev/null || fail "socket not served when the parent returned"
wait_for 5 "line1 registered" sipuad_line_is line1 .state registered || fail "line1"
assert_eq "$(readlink "/proc/$pid/fd/0")" /dev/null "daemon's stdin is /dev/null"

kill -TERM "$pid"
wait_for 6 "daemon gone after SIGTERM" fx__pid_dead "$pid" || fail "still running"
fx_untrack "$pid"
[[ ! -e $FX_DIR/sipuad.pid ]] || fail "pidfile not removed at exit"
assert_eq "$(kam_contact_count a 4001)" 0 "un-REGISTERed at SIGTERM"
pass
