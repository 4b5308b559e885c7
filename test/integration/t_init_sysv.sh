#!/usr/bin/env bash
# init/sipuad.sysv's whole life cycle (RULES H.1), with Debian's
# start-stop-daemon and again with BusyBox's: start registers (as an
# unprivileged user, directories made for it), status, reload adds a line
# without touching the other, a config the daemon would refuse is refused
# by reload and start, stop un-REGISTERs every line within its bound.
# fx-timeout: 180
source "$(dirname "$0")/lib.sh"
fx_init
kam_start a "$(fx_ip 1)" || fail "kamailio a"
A=$(fx_ip 1)
SCRIPT=$(cd "$(dirname "$0")/../.." && pwd)/init/sipuad.sysv
RUN_USER=nobody
# The daemon runs as $RUN_USER: it must reach its config through $FX_DIR.
chmod 0755 "$FX_DIR"

line() { # ID USER
	echo "  { id = \"$1\"; user = \"$2\"; domain = \"sipuad.test\"; password = \"s3cr3t-pw\";"
	echo "    servers = ( { host = \"$A\"; expires = 60; } ); heartbeat = { interval = 0; }; },"
}
write_conf() { # DIR LINE-SPECS...
	local dir=$1 spec
	shift
	{
		cat <<EOC
control = { socket = "$dir/run/sipuad.sock"; mode = "0660"; };
storage = { database = "$dir/lib/state.db"; };
log     = { level = "debug"; };
sip     = { listen = "$FX_LOCAL_IP"; port = 0; transports = [ "udp" ]; t1 = 100; start_spread = 0; };
lines = (
EOC
		for spec in "$@"; do
			# shellcheck disable=SC2086
			line $spec
		done | sed '$ s/},$/}/'
		echo ");"
	} >"$dir/sipuad.conf"
	chmod 0640 "$dir/sipuad.conf"
}
callid() { kam_contacts a "$1" | cut -f3; }

# cycle NAME [SSD_DIR]: one whole life cycle; SSD_DIR, if given, holds the
# start-stop-daemon the script must use (first in its PATH).
cycle() {
	local name=$1 ssd_dir=${2:-} dir=$FX_DIR/$1 rc t0 pid out cid
	mkdir -p "$dir"
	chmod 0755 "$dir"
	write_conf "$dir" "l1 7001"
	{
		echo "DAEMON=$SIPUAD_BIN"
		echo "SIPUACTL=$SIPUACTL_BIN"
		echo "CONFIG=$dir/sipuad.conf"
		echo "PIDFILE=$dir/run/sipuad.pid"
		echo "SIPUAD_USER=$RUN_USER"
		echo "STOP_TIMEOUT=8"
		[[ -n $ssd_dir ]] && echo "PATH=$ssd_dir:\$PATH"
	} >"$dir/default"
	export SIPUAD_DEFAULTS=$dir/default
	SIPUAD_SOCK=$dir/run/sipuad.sock
	initd() { sh "$SCRIPT" "$@" >>"$dir/initd.log" 2>&1; }

	fx_log "$name: start"
	rc=0
	initd start || rc=$?
	assert_eq "$rc" 0 "$name: start exit status ($(tail -n 5 "$dir/initd.log"))"
	pid=$(cat "$dir/run/sipuad.pid") || fail "$name: no pidfile"
	fx_track "$pid"
	fx_pid_alive "$pid" || fail "$name: pidfile names no live process"
	assert_eq "$(ps -o user= -p "$pid" | tr -d ' ')" "$RUN_USER" "$name: daemon's user"
	assert_eq "$(stat -c %U "$dir/run")" "$RUN_USER" "$name: run directory made for the user"
	assert_eq "$(stat -c %U "$dir/lib")" "$RUN_USER" "$name: database directory made for the user"
	assert_eq "$(stat -c %G "$dir/sipuad.conf")" "$(id -gn "$RUN_USER")" "$name: config (0640) given to the user's group"
	# start returned: the socket serves already.
	sipuactl_j version >/dev/null || fail "$name: socket not served when start returned"
	wait_for 5 "$name: l1 registered" sipuad_line_is l1 .state registered || fail "$name: l1"
	cid=$(callid 7001)
	rc=0
	initd start || rc=$?
	assert_eq "$rc" 0 "$name: a second start is a no-op"
	assert_eq "$(cat "$dir/run/sipuad.pid")" "$pid" "$name: same daemon after a second start"

	rc=0
	out=$(SIPUAD_DEFAULTS=$dir/default sh "$SCRIPT" status 2>&1) || rc=$?
	assert_eq "$rc" 0 "$name: status of a running daemon ($out)"
	assert_match "$out" "running \\(pid $pid\\)" "$name: status names the pid"
	assert_match "$out" "l1 +registered" "$name: status shows the line table"

	# reload: a new line starts, the unchanged one keeps its binding.
	write_conf "$dir" "l1 7001" "l2 7002"
	rc=0
	initd reload || rc=$?
	assert_eq "$rc" 0 "$name: reload exit status"
	wait_for 5 "$name: l2 registered" sipuad_line_is l2 .state registered || fail "$name: l2"
	assert_eq "$(callid 7001)" "$cid" "$name: l1 untouched by the reload"
	assert_eq "$(kam_contact_count a 7001)" 1 "$name: l1 still one binding"

	# reload with a file the daemon would refuse: refused, daemon unchanged.
	cp "$dir/sipuad.conf" "$dir/good.conf"
	echo 'bogus = 1;' >>"$dir/sipuad.conf"
	rc=0
	initd reload || rc=$?
	assert_eq "$rc" 1 "$name: reload of a broken config fails"
	grep -q 'bogus' "$dir/initd.log" || fail "$name: reload did not show the config error"
	fx_pid_alive "$pid" || fail "$name: daemon gone after a refused reload"
	assert_eq "$(sipuactl_j status | jq '.lines | length')" 2 "$name: still two lines"
	cp "$dir/good.conf" "$dir/sipuad.conf"

	# stop: every line un-REGISTERs, within the bound.
	t0=$(fx__now_ms)
	rc=0
	initd stop || rc=$?
	assert_eq "$rc" 0 "$name: stop exit status ($(tail -n 5 "$dir/initd.log"))"
	(($(fx__now_ms) - t0 < 8000)) || fail "$name: stop took $(($(fx__now_ms) - t0)) ms"
	fx_pid_alive "$pid" && fail "$name: daemon still running after stop"
	fx_untrack "$pid"
	assert_eq "$(kam_contact_count a 7001)" 0 "$name: l1 un-REGISTERed by stop"
	assert_eq "$(kam_contact_count a 7002)" 0 "$name: l2 un-REGISTERed by stop"
	[[ ! -e $dir/run/sipuad.pid ]] || fail "$name: pidfile left after stop"
	rc=0
	initd status || rc=$?
	assert_eq "$rc" 3 "$name: status of a stopped daemon"
	rc=0
	initd stop || rc=$?
	assert_eq "$rc" 0 "$name: stop when stopped"

	# restart from stopped, then a broken config: start fails truthfully.
	rc=0
	initd restart || rc=$?
	assert_eq "$rc" 0 "$name: restart exit status"
	pid=$(cat "$dir/run/sipuad.pid") || fail "$name: no pidfile after restart"
	fx_track "$pid"
	initd stop || fail "$name: stop after restart"
	fx_untrack "$pid"
	echo 'sip = { t1 = 1; };' >>"$dir/sipuad.conf"
	rc=0
	initd start || rc=$?
	assert_eq "$rc" 1 "$name: start with a broken config"
	grep -q 'sip' "$dir/initd.log" || fail "$name: start did not show the config error"
	[[ ! -e $dir/run/sipuad.pid ]] || fail "$name: pidfile after a failed start"
	# A failure only the running daemon can see (its socket served by
	# another process) is exit 1 as well, and leaves nothing behind.
	cp "$dir/good.conf" "$dir/sipuad.conf"
	python3 -c 'import socket,sys,time
s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(); time.sleep(30)' \
		"$dir/run/sipuad.sock" &
	local squat=$!
	fx_track "$squat"
	wait_for 5 "squatter socket" test -S "$dir/run/sipuad.sock" || fail "squatter"
	rc=0
	initd start || rc=$?
	assert_eq "$rc" 1 "$name: start when the daemon cannot serve its socket"
	grep -q "start-up failed" "$dir/initd.log" || fail "$name: start did not say it failed"
	[[ ! -e $dir/run/sipuad.pid ]] || fail "$name: pidfile after a failed start"
	kill "$squat"
	fx_untrack "$squat"
	unset SIPUAD_DEFAULTS
}

cycle debian
if command -v busybox >/dev/null 2>&1 && busybox start-stop-daemon --help >/dev/null 2>&1; then
	mkdir -p "$FX_DIR/bb"
	ln -s "$(command -v busybox)" "$FX_DIR/bb/start-stop-daemon"
	cycle busybox "$FX_DIR/bb"
else
	fail "no busybox start-stop-daemon (scripts/deps.sh installs busybox)"
fi
pass
