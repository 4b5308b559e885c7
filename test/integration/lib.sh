# shellcheck shell=bash
#
# lib.sh - fixture library of sipuad's integration tests.
#
#   source "$(dirname "$0")/lib.sh"
#   fx_init                      # temp dir + cleanup trap; call first
#   kam_start a 127.0.0.2        # registrar "a" on 127.0.0.2:5060 udp+tcp
#   kam_start_proxy p 127.0.0.4  # loose-routing outbound proxy "p" (RULES B)
#   tls_ca_init; tls_cert reg --dns reg.sipuad.test   # test PKI (SPEC G, "tls")
#   kam_start_tls t 127.0.0.5 reg  # registrar "t", also on tls:127.0.0.5:5061
#   far_start bob uas_call_answer 127.0.0.20   # a sipp far end for calls
#   kam_far a "$(far_addr bob)"  # a relays INVITEs for unknown users there
#   ...
#   pass
#
# Conventions
#   - run.sh exports SIPUAD_BIN and SIPUACTL_BIN (absolute paths of the built
#     binaries, from its BUILD_DIR argument). Tests run one at a time, each in
#     its own bash process (as PID 1 of a private PID namespace when run.sh
#     can make one, so nothing a test started outlives it).
#   - Traffic stays on loopback: registrars listen on $(fx_ip 1), $(fx_ip 2),
#     ... (127.0.0.2, 127.0.0.3, ...); sipp and sipuad use $FX_LOCAL_IP
#     (127.0.0.1). FX_IP_PREFIX=127.0.9. moves the whole test to 127.0.9.x
#     (when someone else holds 127.0.0.2:5060). kam_start refuses addresses
#     outside 127/8.
#   - Every wait is bounded (wait_for). Every process a test starts is known to
#     fx_cleanup: kamailio instances through kam_start, sipuad through
#     sipuad_start, anything else through fx_track / fx_track_group.
#   - Functions return non-zero on failure and print why on stderr; `fail`
#     ends the test. `fail` inside $( ... ) only ends the subshell.
#   - Works under `set -euo pipefail` as well as without it.
#   - Environment knobs: KEEP=1 keeps $FX_DIR; FX_KAM_PORT (5060);
#     FX_KAM_PASSWORD (s3cr3t-pw); FX_SIPP_TIMEOUT (10 s);
#     FX_KAM_START_TIMEOUT (10 s); FX_KAMAILIO (kamailio); FX_KAMCMD (kamcmd);
#     FX_IP_PREFIX (127.0.0.); FX_LOCAL_IP (${FX_IP_PREFIX}1); the tls
#     section's FX_TLS_PORT (5061), FX_TLS_TIMEOUT (5 s), FX_OPENSSL.

FX_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
FX_SIPP_DIR=$FX_LIB_DIR/sipp
FX_KAM_TEMPLATE=$FX_LIB_DIR/kamailio.cfg.in
FX_KAM_PROXY_TEMPLATE=$FX_LIB_DIR/kamailio-proxy.cfg.in
# The ASan build's leak check skips what Sofia-SIP leaks and sipuad cannot
# free (lsan.supp says what); a caller's own LSAN_OPTIONS wins.
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$FX_LIB_DIR/lsan.supp:print_suppressions=0}
FX_KAMAILIO=${FX_KAMAILIO:-kamailio}
FX_KAMCMD=${FX_KAMCMD:-kamcmd}
FX_KAM_PORT=${FX_KAM_PORT:-5060}
FX_KAM_PASSWORD=${FX_KAM_PASSWORD:-s3cr3t-pw}
FX_KAM_START_TIMEOUT=${FX_KAM_START_TIMEOUT:-10}
FX_SIPP_TIMEOUT=${FX_SIPP_TIMEOUT:-10}
FX_TEST=${FX_TEST:-$(basename "$0" .sh)}
FX_DIR=${FX_DIR:-}
FX_IP_PREFIX=${FX_IP_PREFIX:-127.0.0.}
FX_LOCAL_IP=${FX_LOCAL_IP:-${FX_IP_PREFIX}1}
SIPUAD_BIN=${SIPUAD_BIN:-}
SIPUACTL_BIN=${SIPUACTL_BIN:-}
SIPUAD_SOCK=${SIPUAD_SOCK:-}
SIPUAD_PID=${SIPUAD_PID:-}

# ---------------------------------------------------------------- basics

# fx__now_ms: milliseconds since the epoch (no fork).
fx__now_ms() {
	local t=${EPOCHREALTIME//[!0-9]/}
	echo $((10#$t / 1000))
}

# fx__to_ms SECONDS: "1", "1.5", "0.25" -> milliseconds.
fx__to_ms() {
	local s=$1 i f=
	i=${s%%.*}
	[[ $s == *.* ]] && f=${s#*.}
	f=${f}000
	f=${f:0:3}
	echo $((10#${i:-0} * 1000 + 10#$f))
}

FX_T0_MS=$(fx__now_ms)

# fx_log MSG...: prints "[ seconds since the test started] MSG" on stdout.
fx_log() {
	local d=$(($(fx__now_ms) - FX_T0_MS))
	printf '[%3d.%03d] %s\n' $((d / 1000)) $((d % 1000)) "$*"
}

# fail MSG...: prints "FAIL: MSG" on stderr and ends the test with status 1
# (the EXIT trap of fx_init cleans up and dumps log tails).
fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# pass [MSG]: prints "PASS" (and MSG) and ends the test with status 0.
# shellcheck disable=SC2120
pass() {
	# a daemon still running is stopped here, not killed by fx_cleanup: its
	# exit status and the sanitizers' reports at exit (LeakSanitizer) count
	if [[ -n ${SIPUAD_PID:-} ]] && fx_pid_alive "$SIPUAD_PID"; then
		local rc=0
		sipuad_stop 10 || rc=$?
		((rc == 0)) || fail "sipuad at the end of the test: exit status $rc (99: a sanitizer report)"
	fi
	echo "PASS${1:+: $*}"
	exit 0
}

# assert_eq ACTUAL EXPECTED MSG: fails the test unless the strings are equal.
assert_eq() {
	[[ "$1" == "$2" ]] || fail "${3:-assert_eq}: expected '$2', got '$1'"
}

# assert_ne ACTUAL UNEXPECTED MSG: fails the test if the strings are equal.
assert_ne() {
	[[ "$1" != "$2" ]] || fail "${3:-assert_ne}: did not expect '$2'"
}

# assert_match STRING ERE MSG: fails the test unless STRING matches the
# extended regular expression ERE.
assert_match() {
	[[ "$1" =~ $2 ]] || fail "${3:-assert_match}: '$1' does not match /$2/"
}

# assert_ok MSG CMD...: runs CMD; fails the test (with MSG) if it fails.
assert_ok() {
	local msg=$1
	shift
	"$@" || fail "$msg (command failed: $*)"
}

# assert_fails MSG CMD...: runs CMD; fails the test (with MSG) if it succeeds.
assert_fails() {
	local msg=$1
	shift
	if "$@"; then fail "$msg (command succeeded: $*)"; fi
}

# wait_for TIMEOUT_S DESCRIPTION CMD...: runs CMD (stdout discarded) every
# 0.1 s until it succeeds (returns 0) or TIMEOUT_S (may be fractional) has
# passed; then prints "timeout after Ns waiting for DESCRIPTION" plus the last
# stderr of CMD on stderr and returns 1. CMD runs in this shell, so it may
# be a function. At least one attempt is always made.
wait_for() {
	local timeout=$1 desc=$2
	shift 2
	local end errf=${FX_DIR:-/tmp}/.wait_for.err.$$
	end=$(($(fx__now_ms) + $(fx__to_ms "$timeout")))
	while :; do
		if "$@" >/dev/null 2>"$errf"; then
			rm -f "$errf"
			return 0
		fi
		(($(fx__now_ms) < end)) || break
		sleep 0.1
	done
	echo "timeout after ${timeout}s waiting for $desc" >&2
	if [[ -s $errf ]]; then sed 's/^/  last stderr: /' "$errf" | tail -n 5 >&2; fi
	rm -f "$errf"
	return 1
}

# fx_ip N: prints the loopback address of server N (1 -> 127.0.0.2,
# 2 -> 127.0.0.3, ...; ${FX_IP_PREFIX}(N+1)).
fx_ip() {
	echo "${FX_IP_PREFIX}$(($1 + 1))"
}

# ---------------------------------------------------------------- lifecycle

# fx_init: creates the per-test temp dir $FX_DIR (mktemp under $TMPDIR or
# /tmp) and installs the cleanup trap on EXIT, INT, TERM and HUP. Call it
# once, first, in the test's main shell.
fx_init() {
	if [[ -n $FX_DIR && -d $FX_DIR/.fx ]]; then return 0; fi
	FX_DIR=$(mktemp -d "${TMPDIR:-/tmp}/sipuad-it.$FX_TEST.XXXXXX") ||
		{ echo "fx_init: mktemp failed" >&2; exit 1; }
	mkdir -p "$FX_DIR/.fx/track" "$FX_DIR/kam"
	export FX_DIR
	trap 'fx__on_exit' EXIT
	trap 'fx__on_signal INT 2' INT
	trap 'fx__on_signal TERM 15' TERM
	trap 'fx__on_signal HUP 1' HUP
}

fx__on_exit() {
	local rc=$?
	set +e
	trap - EXIT
	if ((rc != 0)); then fx__dump_logs; fi
	fx_cleanup
	exit "$rc"
}

fx__on_signal() {
	trap - INT TERM HUP
	echo "interrupted by SIG$1" >&2
	exit $((128 + $2)) # runs fx__on_exit
}

# fx__dump_logs: on failure, prints the tails of the logs in $FX_DIR.
fx__dump_logs() {
	[[ -n $FX_DIR && -d $FX_DIR ]] || return 0
	local f
	for f in "$FX_DIR"/kam/*/kamailio.log "$FX_DIR"/*.log; do
		[[ -s $f ]] || continue
		echo "----- tail of ${f#"$FX_DIR"/} -----" >&2
		tail -n "${FX_LOG_TAIL:-40}" "$f" >&2
	done
	echo "----- (fixture dir $FX_DIR${KEEP:+ kept}) -----" >&2
}

# fx_track PID: registers a process that fx_cleanup must stop (TERM, bounded
# wait, KILL).
fx_track() {
	: >"$FX_DIR/.fx/track/pid.$1"
}

# fx_track_group PGID: registers a process group that fx_cleanup must stop.
fx_track_group() {
	: >"$FX_DIR/.fx/track/pgid.$1"
}

# fx_untrack PID|PGID: forgets a registration (after the test stopped it).
fx_untrack() {
	rm -f "$FX_DIR/.fx/track/pid.$1" "$FX_DIR/.fx/track/pgid.$1"
}

# fx_cleanup: stops every kamailio instance, sipuad and tracked process or
# group (TERM, up to 5 s, then KILL), then removes $FX_DIR unless KEEP=1.
# Idempotent: a second call finds nothing left to do.
fx_cleanup() {
	[[ -n $FX_DIR && -d $FX_DIR/.fx ]] || return 0
	local - d f
	set +e
	for d in "$FX_DIR"/kam/*/; do
		if [[ -f $d/pgid ]]; then kam_stop "$(basename "$d")" >/dev/null 2>&1; fi
	done
	for f in "$FX_DIR"/.fx/track/pgid.*; do
		[[ -e $f ]] || continue
		fx_stop_group "${f##*.}" 5
		rm -f "$f"
	done
	for f in "$FX_DIR"/.fx/track/pid.*; do
		[[ -e $f ]] || continue
		fx_stop_pid "${f##*.}" 5
		rm -f "$f"
	done
	if [[ ${KEEP:-0} == 1 ]]; then
		echo "KEEP=1: fixture dir kept: $FX_DIR" >&2
		rm -rf "$FX_DIR/.fx"
	else
		rm -rf "$FX_DIR"
	fi
	FX_DIR=
}

# fx_group_members PGID: prints the PIDs of the live (non-zombie) processes of
# process group PGID. Zombies do not count: they hold no sockets.
fx_group_members() {
	ps -e -o pid=,pgid=,stat= | awk -v g="$1" '$2 == g && $3 !~ /^Z/ { print $1 }'
}

# fx_group_alive PGID: succeeds while process group PGID has a live member.
fx_group_alive() {
	[[ -n $(fx_group_members "$1") ]]
}

# fx_pid_alive PID: succeeds while PID exists and is not a zombie.
fx_pid_alive() {
	local st
	st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	[[ -n $st && $st != Z* ]]
}

fx__group_dead() { ! fx_group_alive "$1"; }
fx__pid_dead() { ! fx_pid_alive "$1"; }

# fx_stop_group PGID [GRACE_S]: SIGTERM (+SIGCONT, so a paused group can act on
# it) to the group, waits up to GRACE_S (5) for it to go, then SIGKILL and
# waits up to 2 s more. Returns 1 only if something survived SIGKILL.
fx_stop_group() {
	local g=$1 grace=${2:-5}
	[[ $g =~ ^[0-9]+$ && $g -gt 1 ]] || return 1
	fx_group_alive "$g" || return 0
	kill -TERM -- "-$g" 2>/dev/null || true
	kill -CONT -- "-$g" 2>/dev/null || true
	wait_for "$grace" "process group $g to exit" fx__group_dead "$g" 2>/dev/null && return 0
	kill -KILL -- "-$g" 2>/dev/null || true
	wait_for 2 "process group $g to die" fx__group_dead "$g"
}

# fx_stop_pid PID [GRACE_S]: like fx_stop_group for one process.
fx_stop_pid() {
	local p=$1 grace=${2:-5}
	[[ $p =~ ^[0-9]+$ && $p -gt 1 ]] || return 1
	fx_pid_alive "$p" || return 0
	kill -TERM "$p" 2>/dev/null || true
	kill -CONT "$p" 2>/dev/null || true
	wait_for "$grace" "process $p to exit" fx__pid_dead "$p" 2>/dev/null && return 0
	kill -KILL "$p" 2>/dev/null || true
	wait_for 2 "process $p to die" fx__pid_dead "$p"
}

# fx_free_port: prints a port in 20000-39999 that has no udp nor
# tcp socket bound on it right now (racy, but good enough on a test box).
fx_free_port() {
	local p i
	for ((i = 0; i < 200; i++)); do
		p=$((20000 + RANDOM % 20000))
		if [[ -z $(ss -Hanu "sport = :$p" 2>/dev/null) && -z $(ss -Hant "sport = :$p" 2>/dev/null) ]]; then
			echo "$p"
			return 0
		fi
	done
	echo "fx_free_port: no free port found" >&2
	return 1
}

# fx_udp_listening IP PORT: succeeds if a UDP socket is bound to IP:PORT.
fx_udp_listening() {
	[[ -n $(ss -Hlun "src $1:$2" 2>/dev/null) ]]
}

# fx_tcp_listening IP PORT: succeeds if a TCP socket listens on IP:PORT.
fx_tcp_listening() {
	[[ -n $(ss -Hltn "src $1:$2" 2>/dev/null) ]]
}

fx__udp_closed() { ! fx_udp_listening "$1" "$2"; }

# fx_udp_recvq IP PORT: prints the bytes waiting in the receive queue of the
# UDP socket bound to IP:PORT (what a paused server has not read yet; summed
# over sockets), nothing if none is bound.
fx_udp_recvq() {
	ss -Hlun "src $1:$2" 2>/dev/null | awk '{ n += $2; f = 1 } END { if (f) print n }'
}

# ---------------------------------------------------------------- kamailio

# Per instance NAME, $FX_DIR/kam/NAME/ holds kamailio.cfg, kamailio.log,
# run/ (runtime dir, -Y), ctl.sock, kamailio.pid and, while it runs, the
# files pgid, ip, port.

fx__kam_dir() {
	[[ -n $FX_DIR ]] || { echo "fx_init was not called" >&2; return 1; }
	[[ $1 =~ ^[A-Za-z0-9_.-]+$ ]] || { echo "bad kamailio instance name '$1'" >&2; return 1; }
	echo "$FX_DIR/kam/$1"
}

fx__kam_pgid() {
	local d
	d=$(fx__kam_dir "$1") || return 1
	[[ -s $d/pgid ]] || { echo "kamailio '$1' is not running (no kam_start)" >&2; return 1; }
	cat "$d/pgid"
}

# kam_ip NAME / kam_port NAME / kam_addr NAME: prints the instance's IP, port,
# IP:PORT.
kam_ip() { local d; d=$(fx__kam_dir "$1") && cat "$d/ip"; }
kam_port() { local d; d=$(fx__kam_dir "$1") && cat "$d/port"; }
kam_addr() { echo "$(kam_ip "$1"):$(kam_port "$1")"; }

# kam_log NAME: prints the path of the instance's log (kamailio's stderr).
kam_log() { local d; d=$(fx__kam_dir "$1") && echo "$d/kamailio.log"; }

# kam_pgid NAME: prints the process group id (= PID of kamailio's main
# process) of a running instance.
kam_pgid() { fx__kam_pgid "$1"; }

# kam_rpc NAME CMD [ARGS...]: runs `kamcmd CMD ARGS` against the instance's
# binrpc socket, bounded to 5 s (kamcmd itself would hang forever on a
# paused instance).
kam_rpc() {
	local d
	d=$(fx__kam_dir "$1") || return 1
	shift
	timeout 5 "$FX_KAMCMD" -s "unix:$d/ctl.sock" "$@"
}

# kam_start NAME IP [PASSWORD] [PORT]: starts a Kamailio registrar NAME on
# IP:PORT (udp and tcp; PORT defaults to $FX_KAM_PORT = 5060; PASSWORD, the
# digest password of every user, to $FX_KAM_PASSWORD = s3cr3t-pw; an empty
# PASSWORD means the default too). kamailio
# runs in the foreground (-DD -E) under setsid, so it leads its own process
# group. Waits (bounded, $FX_KAM_START_TIMEOUT s) until the udp and tcp
# sockets are bound and `kamcmd core.uptime` answers; on failure prints the
# log tail and returns 1. Restarting a stopped NAME reuses its dir (the log
# is appended to; the location table starts empty).
kam_start() {
	local pw=${3:-$FX_KAM_PASSWORD}
	fx__kam_launch kam_start "$1" "$2" "${4:-$FX_KAM_PORT}" "$FX_KAM_TEMPLATE" \
		-e "s|@PASSWORD@|$pw|g"
}

# kam_start_proxy NAME IP [PORT]: starts a Kamailio outbound proxy NAME on
# IP:PORT (udp and tcp, PORT defaults to $FX_KAM_PORT) from
# kamailio-proxy.cfg.in: a transaction-stateful loose router that relays
# every request with a Route header to the next hop the Route names (a
# preloaded Route <sip:REGISTRAR;lr>, as sipuad sends it, is followed) and
# answers a request without Route with 404. It answers nothing itself but
# errors. Its log has one line "relay METHOD R-URI to NEXT-HOP (from IP:PORT)"
# per relayed request and "reply CODE REASON to METHOD from IP:PORT" per
# response it relays back. Started, waited for and stopped like a registrar:
# kam_stop, kam_kill, kam_pause, kam_resume, kam_running, kam_addr, kam_log,
# kam_rpc and fx_cleanup work on it (kam_contacts and kam_force do not: it
# has no location table and no knobs).
kam_start_proxy() {
	fx__kam_launch kam_start_proxy "$1" "$2" "${3:-$FX_KAM_PORT}" "$FX_KAM_PROXY_TEMPLATE"
}

# fx__kam_launch WHO NAME IP PORT TEMPLATE [SED_ARGS...] [-- KAMAILIO_ARGS...]:
# the common part of kam_start, kam_start_proxy and kam_start_tls (WHO names
# the caller in messages): renders TEMPLATE into $FX_DIR/kam/NAME/kamailio.cfg
# (@NAME@, @IP@, @PORT@, @RUNDIR@, @CTL_SOCK@, plus whatever SED_ARGS
# replace), starts kamailio (with KAMAILIO_ARGS, e.g. -A WITH_TLS) in its own
# process group and waits until it answers.
fx__kam_launch() {
	local who=$1 name=$2 ip=$3 port=$4 tmpl=$5
	local d pid pgid jc=0 ok=0 sedargs=() kargs=()
	shift 5
	while (($# > 0)) && [[ $1 != -- ]]; do
		sedargs+=("$1")
		shift
	done
	(($# > 0)) && shift
	kargs=("$@")
	d=$(fx__kam_dir "$name") || return 1
	[[ $ip =~ ^127\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]] ||
		{ echo "$who $name: '$ip' is not a loopback IPv4 address" >&2; return 1; }
	if ! [[ $port =~ ^[0-9]{1,5}$ ]] || ((port < 1 || port > 65535)); then
		echo "$who $name: bad port '$port'" >&2
		return 1
	fi
	[[ -r $tmpl ]] || { echo "$who $name: no template '$tmpl'" >&2; return 1; }
	if [[ -s $d/pgid ]] && fx_group_alive "$(cat "$d/pgid")"; then
		echo "$who $name: already running" >&2
		return 1
	fi
	if fx_udp_listening "$ip" "$port" || fx_tcp_listening "$ip" "$port"; then
		echo "$who $name: $ip:$port is already in use (a leftover instance? someone else's? FX_IP_PREFIX=127.0.9. moves the test to other addresses):" >&2
		ss -Hlnpu "src $ip:$port" >&2
		ss -Hlnpt "src $ip:$port" >&2
		return 1
	fi
	mkdir -p "$d/run"
	rm -f "$d/ctl.sock" "$d/kamailio.pid" "$d/pgid" "$d/tls_port"
	sed -e "s|@NAME@|$name|g" -e "s|@IP@|$ip|g" -e "s|@PORT@|$port|g" \
		-e "s|@RUNDIR@|$d/run|g" -e "s|@CTL_SOCK@|$d/ctl.sock|g" \
		"${sedargs[@]}" "$tmpl" >"$d/kamailio.cfg" || return 1
	echo "$ip" >"$d/ip"
	echo "$port" >"$d/port"
	echo "===== $who $name $ip:$port at $(date '+%T.%N') =====" >>"$d/kamailio.log"

	# Without job control, `cmd &` stays in our process group, so setsid(1)
	# need not fork: $! is kamailio's main process and leads the new group.
	[[ $- == *m* ]] && { jc=1; set +m; }
	setsid "$FX_KAMAILIO" -DD -E -f "$d/kamailio.cfg" -Y "$d/run" \
		-P "$d/kamailio.pid" -m 32 ${kargs[@]+"${kargs[@]}"} </dev/null >>"$d/kamailio.log" 2>&1 &
	pid=$!
	((jc)) && set -m
	disown "$pid" 2>/dev/null || true
	pgid=$pid
	echo "$pgid" >"$d/pgid"

	local end=$(($(fx__now_ms) + $(fx__to_ms "$FX_KAM_START_TIMEOUT")))
	while (($(fx__now_ms) < end)); do
		if ! fx_group_alive "$pgid"; then break; fi
		if fx_udp_listening "$ip" "$port" && fx_tcp_listening "$ip" "$port" &&
			kam_rpc "$name" core.uptime >/dev/null 2>&1; then
			ok=1
			break
		fi
		sleep 0.1
	done
	if ((ok)); then
		local ppid
		ppid=$(cat "$d/kamailio.pid" 2>/dev/null)
		if [[ $ppid != "$pgid" ]]; then
			echo "$who $name: warning: pidfile says '$ppid', process group is $pgid" >&2
		fi
		return 0
	fi
	if fx_group_alive "$pgid"; then
		echo "$who $name: not answering after ${FX_KAM_START_TIMEOUT}s on $ip:$port" >&2
	else
		echo "$who $name: kamailio exited during start-up" >&2
	fi
	fx_stop_group "$pgid" 2 >/dev/null 2>&1
	rm -f "$d/pgid"
	echo "----- tail of $d/kamailio.log -----" >&2
	tail -n 30 "$d/kamailio.log" >&2
	return 1
}

# kam_stop NAME: graceful stop: SIGTERM (+SIGCONT) to the group, waits up to
# 5 s, then SIGKILL. The instance's dir and log stay; kam_start NAME again
# restarts it (with an empty location table).
kam_stop() {
	local d pgid rc=0
	d=$(fx__kam_dir "$1") || return 1
	[[ -s $d/pgid ]] || return 0
	pgid=$(cat "$d/pgid")
	fx_stop_group "$pgid" 5 || rc=1
	rm -f "$d/pgid"
	return "$rc"
}

# kam_kill NAME: SIGKILL to the whole group at once (a crash: the sockets
# close, UDP clients then get ICMP port unreachable, TCP connects get RST).
# Waits (bounded, 2 s) until no process of the group is left.
kam_kill() {
	local d pgid
	d=$(fx__kam_dir "$1") || return 1
	pgid=$(fx__kam_pgid "$1") || return 1
	kill -KILL -- "-$pgid" 2>/dev/null
	wait_for 2 "kamailio '$1' (group $pgid) to die" fx__group_dead "$pgid" || return 1
	rm -f "$d/pgid"
}

# kam_pause NAME: SIGSTOP to the group: the sockets stay open but nothing
# answers (a silent server: requests time out, no ICMP). kamcmd does not
# answer either while paused.
kam_pause() {
	local pgid
	pgid=$(fx__kam_pgid "$1") || return 1
	kill -STOP -- "-$pgid"
}

# kam_resume NAME: SIGCONT to the group of a paused instance.
kam_resume() {
	local pgid
	pgid=$(fx__kam_pgid "$1") || return 1
	kill -CONT -- "-$pgid"
}

# kam_running NAME: succeeds if the instance's process group is alive.
kam_running() {
	local d
	d=$(fx__kam_dir "$1") || return 1
	[[ -s $d/pgid ]] && fx_group_alive "$(cat "$d/pgid")"
}

# kam_force NAME VAR VALUE: sets an integer test knob of the registrar at run
# time (see kamailio.cfg.in): reg_code (0 normal, >0 answer REGISTER with
# this code, -1 drop REGISTER), opt_code (same for OPTIONS), min_exp
# (Min-Expires of a forced 423), log_opt (1: log every OPTIONS, see
# kam_count_options); the call knobs inv_code, bye_code, inv_auth, log_inv
# have helpers of their own (kam_inv_code ..., "calls" below).
kam_force() {
	# `--`: kamcmd would take a negative value (-1: drop) for an option.
	kam_rpc "$1" pv.shvSet "$2" int -- "$3" >/dev/null
}

# kam_contacts NAME [AOR_USER]: prints the live bindings of the instance, one
# per line, tab-separated: contact URI, expires (seconds left, or
# "permanent"), Call-ID; without AOR_USER a 4th column gives the AoR.
# Expired/deleted bindings that usrloc has not purged yet are left out.
# Parsed from `kamcmd ul.dump`, whose output looks like
#     AoR: alice
#     ...
#         Contact: {
#             Address: sip:alice@127.0.0.1:5060;transport=UDP
#             Expires: 3600
#             Q: -1
#             Call-ID: 1-3859@127.0.0.1
#             ...
# (usrloc has use_domain=0: the AoR is the user part only; AOR_USER may be
# given as user or user@domain). Returns 1 if kamcmd fails (instance down or
# paused) or answers an error (a proxy: no usrloc); no bindings is success
# with no output.
kam_contacts() {
	local name=$1 user=${2:-} out
	user=${user%%@*}
	out=$(kam_rpc "$name" ul.dump) || {
		echo "kam_contacts $name: kamcmd ul.dump failed" >&2
		return 1
	}
	# kamcmd exits 0 on an error reply (e.g. a proxy, which has no usrloc)
	if [[ $out == [Ee]rror:* ]]; then
		echo "kam_contacts $name: ${out%%$'\n'*}" >&2
		return 1
	fi
	awk -v want="$user" '
		function flush() {
			if (addr != "" && ex != "expired" && ex != "deleted" &&
			    (want == "" || aor == want || index(aor, want "@") == 1)) {
				if (want == "") printf "%s\t%s\t%s\t%s\n", addr, ex, cid, aor
				else printf "%s\t%s\t%s\n", addr, ex, cid
			}
			addr = ""; ex = ""; cid = ""
		}
		{ sub(/^[ \t]+/, "") }
		/^Info: \{/     { flush(); aor = ""; next }
		/^AoR: /        { aor = substr($0, 6); next }
		/^Contact: \{/  { flush(); next }
		/^Address: /    { addr = substr($0, 10); next }
		/^Expires: /    { ex = substr($0, 10); next }
		/^Call-ID: /    { cid = substr($0, 10); next }
		END             { flush() }
	' <<<"$out"
}

# kam_contact_count NAME USER: prints the number of live bindings of USER.
kam_contact_count() {
	local c
	c=$(kam_contacts "$1" "$2") || return 1
	if [[ -z $c ]]; then echo 0; else wc -l <<<"$c" | tr -d ' '; fi
}

# kam_has_contacts NAME USER N: succeeds if USER has exactly N bindings
# (for wait_for: wait_for 5 "one binding" kam_has_contacts a 1001 1).
kam_has_contacts() {
	local c
	c=$(kam_contact_count "$1" "$2") || return 1
	[[ $c == "$3" ]] || { echo "kam $1: $2 has $c bindings, want $3" >&2; return 1; }
}

# kam_log_count NAME ERE: prints how many lines of the instance's log (all its
# runs: kam_start of the same NAME appends) match the extended regular
# expression ERE. Counts are cumulative: compare a count before and after.
kam_log_count() {
	local f
	f=$(kam_log "$1") || return 1
	[[ -f $f ]] || { echo 0; return 0; }
	grep -cE -- "$2" "$f" || true
}

# kam_count_register NAME USER [challenge|saved] [udp|tcp|tls]: prints how
# many REGISTERs for USER the registrar NAME processed (each transmission
# counts: it answers statelessly), only those it challenged or saved if told
# (an empty 3rd argument: both), only those that came over the given
# transport if told. A paused instance processes what queued up only after
# kam_resume.
kam_count_register() {
	local what=${3:-challenge|saved}
	kam_log_count "$1" "REGISTER sip:${2%%@*}@[^ ]* from [^ ]*: ($what).* over ${4:-[a-z]+}\$"
}

# kam_count_options NAME [FROM_IP]: prints how many OPTIONS the registrar NAME
# logged (from FROM_IP, if given). OPTIONS are logged only after
# `kam_force NAME log_opt 1`.
kam_count_options() {
	local from='[^ ]*'
	[[ -n ${2:-} ]] && from=${2//./\\.}
	kam_log_count "$1" "OPTIONS [^ ]* from $from:[0-9]+\$"
}

# kam_count_relayed NAME METHOD [NEXT_HOP_ERE]: prints how many METHOD requests
# the proxy NAME (kam_start_proxy) relayed (to a next hop matching
# NEXT_HOP_ERE, e.g. "sip:127\\.0\\.0\\.2:5060", if given).
kam_count_relayed() {
	kam_log_count "$1" "relay $2 [^ ]* to ${3:-[^ ]*}[^ ]* \\(from "
}

# ---------------------------------------------------------------- sipp

# sipp_uac SCENARIO TARGET [SIPP_ARGS...]: runs one call (-m 1) of the sipp
# scenario SCENARIO (a file, or a name in test/integration/sipp/ without
# .xml) against TARGET (IP or IP:PORT) from $FX_LOCAL_IP on a free port, with a
# global timeout of $FX_SIPP_TIMEOUT s, a 5 s receive timeout and an outer
# `timeout` guard. Output, errors and the SIP messages go to
# $FX_DIR/sipp.N.*. Returns sipp's status: 0 when the scenario completed.
sipp_uac() {
	local sf=$1 target=$2 port n log
	shift 2
	[[ -f $sf ]] || sf=$FX_SIPP_DIR/$sf.xml
	[[ -f $sf ]] || { echo "sipp_uac: no scenario '$sf'" >&2; return 1; }
	port=$(fx_free_port) || return 1
	n=$(fx__seq sipp)
	log=$FX_DIR/sipp.$n
	echo "sipp $n: $(basename "$sf") -> $target $*" >"$log.out"
	timeout -k 2 $((FX_SIPP_TIMEOUT + 5)) sipp "$target" -sf "$sf" -i "$FX_LOCAL_IP" -p "$port" \
		-m 1 -nostdin -timeout "${FX_SIPP_TIMEOUT}s" -timeout_error -recv_timeout 5000 \
		-trace_err -error_file "$log.err" -trace_msg -message_file "$log.msg" \
		"$@" </dev/null >>"$log.out" 2>&1
}

fx__seq() {
	local f=$FX_DIR/.fx/seq.$1 n=0
	[[ -s $f ]] && n=$(cat "$f")
	n=$((n + 1))
	echo "$n" >"$f"
	echo "$n"
}

# sipp_register TARGET USER [PASSWORD] [SIPP_ARGS...]: REGISTER USER
# (To/From sip:USER@TARGET_IP, Expires 3600) answering the digest challenge;
# succeeds on 200 OK.
sipp_register() {
	local target=$1 user=$2 pw=${3:-$FX_KAM_PASSWORD}
	shift 2
	(($# > 0)) && shift
	sipp_uac uac_register_auth "$target" -s "$user" -au "$user" -ap "$pw" "$@"
}

# sipp_register_route PROXY REGISTRAR USER [PASSWORD] [DOMAIN] [SIPP_ARGS...]:
# REGISTER sip:DOMAIN (default $FX_DNS_DOMAIN) for USER sent to PROXY (IP or
# IP:PORT) with a preloaded "Route: <sip:REGISTRAR;lr>" (REGISTRAR is
# IP:PORT), as sipuad sends it through an outbound proxy; answers the digest
# challenge (realm DOMAIN); succeeds on 200 OK.
sipp_register_route() {
	local proxy=$1 reg=$2 user=$3 pw=${4:-$FX_KAM_PASSWORD} dom=${5:-$FX_DNS_DOMAIN}
	shift 3
	(($# > 0)) && shift
	(($# > 0)) && shift
	sipp_uac uac_register_route "$proxy" -s "$user" -au "$user" -ap "$pw" \
		-key domain "$dom" -key route "sip:$reg;lr" "$@"
}

# sipp_register_rejected TARGET USER PASSWORD [SIPP_ARGS...]: REGISTER with
# a (wrong) password; succeeds if the authenticated REGISTER draws a second
# 401.
sipp_register_rejected() {
	local target=$1 user=$2 pw=$3
	shift 3
	sipp_uac uac_register_auth_reject "$target" -s "$user" -au "$user" -ap "$pw" "$@"
}

# sipp_options TARGET [SIPP_ARGS...]: sends one OPTIONS; succeeds on 200 OK.
sipp_options() {
	local target=$1
	shift
	sipp_uac uac_options "$target" "$@"
}

# ---------------------------------------------------------------- sipuad
# Conventions (to be completed by the lead against the real daemon):
#   SIPUAD_BIN, SIPUACTL_BIN  exported by run.sh
#   SIPUAD_SOCK               control socket; default $FX_DIR/sipuad.sock,
#                             the test's config must use it (control.socket)
#   SIPUAD_PID                PID (and process group) of the running daemon
#   $FX_DIR/sipuad.log        its stderr (-f -d)
# Tests should give sipuad  sip.listen = "$FX_LOCAL_IP"; sip.port = 0;  (the
# registrars own $(fx_ip N):5060; sipp picks a free port on $FX_LOCAL_IP).

# sipuad_start CONF [EXTRA_ARGS...]: starts `$SIPUAD_BIN -f -d -c CONF` in its
# own process group (log: $FX_DIR/sipuad.log), then waits (bounded, 10 s)
# until `sipuactl -s $SIPUAD_SOCK version` answers. Sets SIPUAD_PID.
# SIPUAD_ENV (an array of NAME=VALUE) is given to the daemon only, not to
# sipuactl or the fixtures: e.g. an LD_PRELOAD of libfaketime (t_clock_step).
sipuad_start() {
	local conf=$1 jc=0
	shift
	[[ -x $SIPUAD_BIN ]] || { echo "sipuad_start: SIPUAD_BIN '$SIPUAD_BIN' is not executable" >&2; return 1; }
	: "${SIPUAD_SOCK:=$FX_DIR/sipuad.sock}"
	echo "===== sipuad_start $conf at $(date '+%T.%N') =====" >>"$FX_DIR/sipuad.log"
	[[ $- == *m* ]] && { jc=1; set +m; }
	setsid env ${SIPUAD_ENV+"${SIPUAD_ENV[@]}"} "$SIPUAD_BIN" -f -d -c "$conf" "$@" \
		</dev/null >>"$FX_DIR/sipuad.log" 2>&1 &
	SIPUAD_PID=$!
	((jc)) && set -m
	fx_track_group "$SIPUAD_PID"
	if ! wait_for 10 "sipuad control socket $SIPUAD_SOCK" \
		"$SIPUACTL_BIN" -s "$SIPUAD_SOCK" version; then
		echo "----- tail of $FX_DIR/sipuad.log -----" >&2
		tail -n 30 "$FX_DIR/sipuad.log" >&2
		return 1
	fi
}

# sipuad_stop [GRACE_S]: SIGTERM to sipuad, waits up to GRACE_S (10) for it to
# exit (it un-registers first), then SIGKILL. Returns the daemon's exit
# status (via wait), 137 if it had to be killed.
sipuad_stop() {
	local grace=${1:-10} rc=0
	[[ -n $SIPUAD_PID ]] || return 0
	kill -TERM "$SIPUAD_PID" 2>/dev/null
	if ! wait_for "$grace" "sipuad to exit after SIGTERM" fx__pid_dead "$SIPUAD_PID"; then
		kill -KILL -- "-$SIPUAD_PID" 2>/dev/null
	fi
	wait "$SIPUAD_PID" 2>/dev/null || rc=$?
	fx_stop_group "$SIPUAD_PID" 2 # helpers, if any
	fx_untrack "$SIPUAD_PID"
	SIPUAD_PID=
	sipuad_sanitizer_clean || rc=99
	return "$rc"
}

# sipuad_sanitizer_clean: fails (and prints the report) if sipuad.log holds
# an AddressSanitizer, LeakSanitizer or UBSan report: the ASan build of the
# suite must end with zero of them.
sipuad_sanitizer_clean() {
	[[ -f $FX_DIR/sipuad.log ]] || return 0
	if grep -nE 'ERROR: (Address|Leak)Sanitizer|runtime error:|SUMMARY: (Address|Leak|Undefined)' \
		"$FX_DIR/sipuad.log" >&2; then
		echo "sipuad: sanitizer report in $FX_DIR/sipuad.log" >&2
		return 1
	fi
}

# sipuad_conf_common [T1_MS] [SIP_SETTINGS] [TRANSPORTS]: prints the control,
# storage, log and sip sections every test config starts with: the test's
# own socket and database, listening on $FX_LOCAL_IP on a free port, no
# start spread, and T1 scaled down (default 100 ms) so failures take
# seconds, not minutes. SIP_SETTINGS, if given, is added inside the sip
# group (libconfig allows no second sip group), e.g. for the DNS tests:
#   sipuad_conf_common 100 "resolv_conf = \"$(dns_resolv_conf)\"; dns_timeout = 1;"
# TRANSPORTS is sip.transports' list (default "udp", "tcp").
sipuad_conf_common() {
	local tps='"udp", "tcp"'
	[[ -n ${3:-} ]] && tps=$3
	cat <<EOC
control = { socket = "${SIPUAD_SOCK:-$FX_DIR/sipuad.sock}"; mode = "0600"; };
storage = { database = "$FX_DIR/state.db"; };
log     = { level = "debug"; };
sip     = { listen = "$FX_LOCAL_IP"; port = 0; transports = [ $tps ];
            t1 = ${1:-100}; t2 = 4000; start_spread = 0;${2:+
            $2} };
EOC
}

# sipp_uas SCENARIO IP [SIPP_ARGS...]: starts sipp as a server running the
# scenario SCENARIO (file, or name in test/integration/sipp/) once (-m 1) on
# IP:$FX_KAM_PORT in the background, bounded by $FX_SIPP_UAS_TIMEOUT s (30).
# Sets SIPP_UAS_PID; sipp_uas_wait collects its exit status.
sipp_uas() {
	local sf=$1 ip=$2 jc=0 n
	shift 2
	[[ -f $sf ]] || sf=$FX_SIPP_DIR/$sf.xml
	[[ -f $sf ]] || { echo "sipp_uas: no scenario '$sf'" >&2; return 1; }
	n=uas.$(fx__seq uas)
	[[ $- == *m* ]] && { jc=1; set +m; }
	timeout "${FX_SIPP_UAS_TIMEOUT:-30}" sipp -sf "$sf" -i "$ip" -p "$FX_KAM_PORT" -m 1 \
		-timeout "${FX_SIPP_UAS_TIMEOUT:-30}s" -timeout_error -nostdin \
		-trace_msg -message_file "$FX_DIR/sipp.$n.msg" \
		-trace_err -error_file "$FX_DIR/sipp.$n.err" "$@" \
		</dev/null >"$FX_DIR/sipp.$n.out" 2>&1 &
	SIPP_UAS_PID=$!
	((jc)) && set -m
	fx_track "$SIPP_UAS_PID"
	SIPP_UAS_MSG=$FX_DIR/sipp.$n.msg
	wait_for 5 "sipp UAS on $ip:$FX_KAM_PORT" fx_udp_listening "$ip" "$FX_KAM_PORT"
}

# sipp_uas_wait [TIMEOUT_S]: waits (bounded, default 15 s) for the sipp
# started by sipp_uas to finish; returns its exit status (0: scenario done).
sipp_uas_wait() {
	local rc=0
	wait_for "${1:-15}" "sipp UAS to finish its scenario" fx__pid_dead "$SIPP_UAS_PID" || return 1
	wait "$SIPP_UAS_PID" 2>/dev/null || rc=$?
	fx_untrack "$SIPP_UAS_PID"
	return "$rc"
}

# sipuactl_j ARGS...: `sipuactl -s $SIPUAD_SOCK -j ARGS` (bounded to 5 s);
# prints the daemon's JSON reply.
sipuactl_j() {
	timeout 5 "$SIPUACTL_BIN" -s "${SIPUAD_SOCK:-$FX_DIR/sipuad.sock}" -j "$@"
}

# sipuad_line LINE JQ_FILTER: prints JQ_FILTER (jq -r) applied to the LINE
# object of `status LINE`, e.g. sipuad_line line1 .state
sipuad_line() {
	local j
	j=$(sipuactl_j status "$1") || return 1
	jq -er ".line | $2" <<<"$j"
}

# sipuad_line_is LINE JQ_FILTER VALUE: succeeds if the field equals VALUE
# (for wait_for: wait_for 5 "line1 registered" sipuad_line_is line1 .state registered).
sipuad_line_is() {
	local v
	v=$(sipuad_line "$1" "$2") || return 1
	[[ $v == "$3" ]] || { echo "line $1 $2 is '$v', want '$3'" >&2; return 1; }
}

# ---------------------------------------------------------------- failover helpers

# sipuad_on LINE INDEX: succeeds if LINE is registered (state "registered"
# and registered true) on server INDEX (0 primary, 1 backup, ...); for
# wait_for: wait_for 8 "line1 on the backup" sipuad_on line1 1.
sipuad_on() {
	local j
	j=$(sipuactl_j status "$1") || return 1
	jq -e --argjson i "$2" '.line.state == "registered" and .line.registered == true and
		.line.server.index == $i' <<<"$j" >/dev/null ||
		{ echo "line $1 is not registered on server $2: $(jq -c .line <<<"$j")" >&2; return 1; }
}

# sipuad_sent [FROM_LINE]: one line per request the daemon sent, read from
# its -d message trace (tport's dump), from line FROM_LINE of its log on:
# "METHOD PROTO/IP:PORT", e.g. "REGISTER udp/127.0.0.3:5060".
sipuad_sent() {
	tail -n +"${1:-1}" "$FX_DIR/sipuad.log" | awk '
		/ sofia: send [0-9]+ bytes to / {
			match($0, /to [a-z]+\/\[[^]]*\]:[0-9]+/)
			dest = substr($0, RSTART + 3, RLENGTH - 3)
			gsub(/[][]/, "", dest)
			left = 2
			next
		}
		left > 0 {
			left--
			if (left == 0 && match($0, /sofia: +[A-Z]+ sips?:/)) {
				m = $0
				sub(/.*sofia: +/, "", m)
				split(m, w, " ")
				print w[1], dest
			}
		}'
}

# sipuad_via LINE ADDR: succeeds if LINE is registered (state "registered"
# and registered true) and sends through ADDR ("IP:PORT", status .address:
# the server's address, or the outbound proxy's); for wait_for:
# wait_for 5 "line1 registered through b" sipuad_via line1 127.0.0.3:5060.
sipuad_via() {
	local j
	j=$(sipuactl_j status "$1") || return 1
	jq -e --arg a "$2" '.line.state == "registered" and .line.registered == true and
		.line.address == $a' <<<"$j" >/dev/null ||
		{ echo "line $1 is not registered through $2: $(jq -c .line <<<"$j")" >&2; return 1; }
}

# sipuad_events LINE KIND: prints the line's history events of KIND, one JSON
# object a line, oldest first.
sipuad_events() {
	local h
	h=$(sipuad_history "$1") || return 1
	jq -c --arg k "$2" 'select(.kind == $k)' <<<"$h" | tac
}

# sipuad_line_json LINE: prints the LINE object of `status LINE` on one line
# (for failure messages and logs).
sipuad_line_json() {
	sipuactl_j status "$1" | jq -c .line
}

# sipuad_history LINE [N]: prints the line's history (`history LINE N`, N
# defaults to 1000, the most the daemon gives), one JSON event per line,
# newest first.
sipuad_history() {
	local j
	j=$(sipuactl_j history "$1" "${2:-1000}") || return 1
	jq -ec '.events[]' <<<"$j" 2>/dev/null || jq -e '.events' <<<"$j" >/dev/null
}

# sipuad_history_count LINE KIND: prints the number of events of KIND
# ("failover", "failback", "registered", ...) in the line's history.
sipuad_history_count() {
	local h
	h=$(sipuad_history "$1") || return 1
	jq -s --arg k "$2" 'map(select(.kind == $k)) | length' <<<"$h"
}

# sipuad_history_has LINE KIND N: succeeds if the history holds exactly N
# events of KIND (for wait_for).
sipuad_history_has() {
	local c
	c=$(sipuad_history_count "$1" "$2") || return 1
	[[ $c == "$3" ]] || { echo "line $1 has $c $2 events, want $3" >&2; return 1; }
}

# sipuad_subscribe FILE: starts `sipuactl -j subscribe` in the background
# (bounded by $FX_SUBSCRIBE_TIMEOUT s, default 120; tracked, so fx_cleanup
# stops it) writing to FILE, and waits (bounded, 5 s) until the daemon's
# {"ok":true} is in FILE: from then on every event is streamed. Sets
# SIPUAD_SUB_PID.
sipuad_subscribe() {
	local f=$1 jc=0
	: >"$f"
	[[ $- == *m* ]] && { jc=1; set +m; }
	timeout "${FX_SUBSCRIBE_TIMEOUT:-120}" "$SIPUACTL_BIN" -s "${SIPUAD_SOCK:-$FX_DIR/sipuad.sock}" \
		-j subscribe </dev/null >"$f" 2>>"$FX_DIR/subscribe.err" &
	SIPUAD_SUB_PID=$!
	((jc)) && set -m
	fx_track "$SIPUAD_SUB_PID"
	wait_for 5 "subscription acknowledged in $f" grep -q '"ok": *true' "$f"
}

# sipuad_stream_count FILE KIND [LINE]: prints how many events of KIND (of
# LINE, if given) a sipuad_subscribe FILE holds.
sipuad_stream_count() {
	jq -R --arg k "$2" --arg l "${3:-}" 'fromjson? | select(.kind == $k and ($l == "" or .line == $l))' \
		"$1" | jq -s length
}

# sipuad_stream_has FILE KIND LINE N: succeeds if the sipuad_subscribe FILE
# holds exactly N events of KIND for LINE (for wait_for).
sipuad_stream_has() {
	local c
	c=$(sipuad_stream_count "$1" "$2" "$3") || return 1
	[[ $c == "$4" ]] || { echo "stream: $c $2 events of $3, want $4" >&2; return 1; }
}

# sipp_uas_stop: stops the sipp of the last sipp_uas (for the looping
# scenarios that never finish by themselves: TERM, bounded, then KILL).
sipp_uas_stop() {
	[[ -n ${SIPP_UAS_PID:-} ]] || return 0
	fx_stop_pid "$SIPP_UAS_PID" 3
	wait "$SIPP_UAS_PID" 2>/dev/null
	fx_untrack "$SIPP_UAS_PID"
	return 0
}

# sipp_trace MSGFILE: one line per SIP message of a sipp message trace
# (-trace_msg; sipp_uas sets SIPP_UAS_MSG), in the order sipp saw them,
# tab-separated: "in" or "out", the start line, Call-ID, CSeq, the
# Expires header ("-" if none), the Contact header ("-" if none), the
# Via branch ("-" if none), the time sipp logged it (HH:MM:SS.micro).
# E.g. count the REGISTERs that arrived:
#   sipp_trace "$SIPP_UAS_MSG" | awk -F'\t' '$1 == "in" && $2 ~ /^REGISTER /' | wc -l
sipp_trace() {
	[[ -f $1 ]] || { echo "sipp_trace: no trace '$1'" >&2; return 1; }
	awk '
		function flush() {
			if (dir != "" && start != "")
				printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", dir, start, cid, cseq,
					ex, ct, br, ts
			dir = ""; start = ""; cid = "-"; cseq = "-"; ex = "-"; ct = "-"; br = "-"; inhdr = 0
		}
		function val(s) { sub(/^[^:]*:[ \t]*/, "", s); return s }
		{ sub(/\r$/, "") }
		/^------------------------------/ && NF == 3 { flush(); ts = $3; next }
		/message received \[[0-9]+\] bytes/ { flush(); dir = "in"; next }
		/message sent \([0-9]+ bytes\)/ { flush(); dir = "out"; next }
		dir == "" { next }
		start == "" { if ($0 != "") { start = $0; inhdr = 1 } ; next }
		inhdr && $0 == "" { inhdr = 0; next }
		!inhdr { next }
		tolower($0) ~ /^(call-id|i)[ \t]*:/ { cid = val($0); next }
		tolower($0) ~ /^cseq[ \t]*:/ { cseq = val($0); next }
		tolower($0) ~ /^expires[ \t]*:/ { ex = val($0); next }
		tolower($0) ~ /^(contact|m)[ \t]*:/ { ct = val($0); next }
		tolower($0) ~ /^(via|v)[ \t]*:/ {
			if (br == "-" && match($0, /branch=[^;, \t]+/)) br = substr($0, RSTART + 7, RLENGTH - 7)
			next
		}
		END { flush() }
	' "$1"
}

# sipp_count_in MSGFILE METHOD: prints how many METHOD requests (every
# transmission, retransmissions included) the sipp of MSGFILE received.
sipp_count_in() {
	local t
	t=$(sipp_trace "$1") || return 1
	awk -F'\t' -v m="$2" '$1 == "in" && index($2, m " ") == 1 { n++ } END { print n + 0 }' <<<"$t"
}

# kam_force_int NAME VAR VALUE: kam_force that also takes negative values
# (reg_code/opt_code -1 = drop): kamcmd reads a bare "-1" as an option, so
# the value goes after "--".
kam_force_int() { kam_force "$@"; } # the name earlier tests use

# ---------------------------------------------------------------- calls
# Call fixtures (SPEC F): the registrar also routes calls (kamailio.cfg.in:
# record_route on initial INVITEs, loose_route in dialog, lookup("location")
# or the `far` knob for the target), and sipp "far ends" play the other
# party. A far end is one sipp process running a scenario of
# test/integration/sipp/ in the background: uas_call_*.xml answer, reject,
# ring, answer after early media or hang up themselves (far_start);
# uac_call_*.xml and uac_invite_stranger.xml call (far_call). Each scenario
# says at its top what it does and which -key/-set variables it takes.
#
#   far_start bob uas_call_answer "$(fx_ip 19)"  # UAS on 127.0.0.20:5060
#   kam_far a "$(far_addr bob)"   # a sends INVITEs for unknown users there
#   ... the daemon calls 2000 through a ...
#   far_wait bob 10 || fail "far end bob: $(far_status bob)"
#
# Per far end NAME, $FX_DIR/far/NAME/ (an earlier far end of the same NAME
# moves to NAME.1, NAME.2, ...) holds addr (IP:PORT), scenario, pid
# (sipp's PID, tracked: fx_cleanup stops it), rc (sipp's exit status, once it
# ended: 0 = scenario completed, 1 = a call failed, 97/99/255 see sipp(1)),
# and sipp's files: out (stdout+stderr), msg (-trace_msg: every message,
# for sipp_trace / sipp_count_in), err (-trace_err: unexpected messages).
# Every sipp gets: -m 1 (one call), -nostdin, a global -timeout of
# $FX_FAR_TIMEOUT s (150) with -timeout_error, -d 1000 (the <pause/> length),
# then the caller's SIPP_ARGS, which override these (sipp takes the last -m,
# -d, -timeout, -i, -p given), and -key audio_port with a free port (the m=
# port of its SDP) unless SIPP_ARGS has one (sipp takes the FIRST -key NAME).

FX_FAR_TIMEOUT=${FX_FAR_TIMEOUT:-150}

fx__far_dir() {
	[[ -n $FX_DIR ]] || { echo "fx_init was not called" >&2; return 1; }
	[[ $1 =~ ^[A-Za-z0-9_.-]+$ ]] || { echo "bad far end name '$1'" >&2; return 1; }
	echo "$FX_DIR/far/$1"
}

# fx__far_launch WHO NAME SCENARIO IP PORT REMOTE [SIPP_ARGS...]: the common
# part of far_start (REMOTE empty: a server) and far_call.
fx__far_launch() {
	local who=$1 name=$2 sf=$3 ip=$4 port=$5 remote=$6 d jc=0 apt
	shift 6
	d=$(fx__far_dir "$name") || return 1
	[[ -f $sf ]] || sf=$FX_SIPP_DIR/$sf.xml
	[[ -f $sf ]] || { echo "$who $name: no scenario '$sf'" >&2; return 1; }
	[[ $ip =~ ^127\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]] ||
		{ echo "$who $name: '$ip' is not a loopback IPv4 address" >&2; return 1; }
	if [[ -s $d/pid ]] && fx_pid_alive "$(cat "$d/pid")"; then
		echo "$who $name: already running (PID $(cat "$d/pid"))" >&2
		return 1
	fi
	if fx_udp_listening "$ip" "$port" || fx_tcp_listening "$ip" "$port"; then
		echo "$who $name: $ip:$port is already in use" >&2
		return 1
	fi
	# sipp takes the FIRST -key NAME given (and the last of other options):
	# the default audio port goes only where the caller gave none
	apt=()
	if [[ " $* " != *" -key audio_port "* ]]; then
		apt=(-key audio_port "$(fx_free_port)") || return 1
	fi
	# an earlier run of NAME keeps its files, as NAME.1, NAME.2, ...
	if [[ -d $d ]]; then mv "$d" "$d.$(fx__seq "far.$name")" || return 1; fi
	mkdir -p "$d"
	echo "$ip:$port" >"$d/addr"
	basename "$sf" .xml >"$d/scenario"
	echo "===== $who $name: $(basename "$sf") on $ip:$port${remote:+ -> $remote} $* at $(date '+%T.%N') =====" >"$d/out"
	# The subshell waits for sipp and records its exit status in rc, so
	# far_wait works from any shell (even a $( ) one). It ends with sipp.
	[[ $- == *m* ]] && { jc=1; set +m; }
	(
		trap - EXIT INT TERM HUP
		sipp ${remote:+"$remote"} -sf "$sf" -i "$ip" -p "$port" -m 1 -nostdin \
			-timeout "${FX_FAR_TIMEOUT}s" -timeout_error "${apt[@]}" -d 1000 \
			-trace_msg -message_file "$d/msg" -trace_err -error_file "$d/err" \
			"$@" </dev/null >>"$d/out" 2>&1 &
		echo "$!" >"$d/pid.new" && mv -f "$d/pid.new" "$d/pid"
		rc=0
		wait "$!" || rc=$?
		echo "$rc" >"$d/rc.new" && mv -f "$d/rc.new" "$d/rc"
	) </dev/null >/dev/null 2>&1 &
	((jc)) && set -m
	wait_for 2 "$who $name: sipp's PID" test -s "$d/pid" || return 1
	fx_track "$(cat "$d/pid")"
}

fx__far_ready() {
	fx_udp_listening "$1" "$2" || fx_tcp_listening "$1" "$2" || [[ -e $3/rc ]]
}

# far_start NAME SCENARIO IP[:PORT] [SIPP_ARGS...]: starts a far end NAME: sipp
# as a server (UAS) running SCENARIO (a file, or a name in
# test/integration/sipp/ without .xml) on IP:PORT (PORT defaults to
# $FX_KAM_PORT, 5060), in the background (see "calls" above for the default
# sipp arguments; SIPP_ARGS come last, e.g. -key code 486, -d 3000, -t t1).
# Waits (bounded, 5 s) until its socket is bound. Give each far end its own
# address, e.g. $(fx_ip 19) (127.0.0.20).
far_start() {
	local name=$1 sf=$2 addr=$3 ip port d
	(($# >= 3)) || { echo "usage: far_start NAME SCENARIO IP[:PORT] [SIPP_ARGS...]" >&2; return 1; }
	shift 3
	ip=${addr%%:*}
	port=$FX_KAM_PORT
	[[ $addr == *:* ]] && port=${addr#*:}
	fx__far_launch far_start "$name" "$sf" "$ip" "$port" "" "$@" || return 1
	d=$(fx__far_dir "$name")
	if ! wait_for 5 "far end $name listening on $ip:$port" fx__far_ready "$ip" "$port" "$d" ||
		[[ -e $d/rc ]]; then
		echo "far_start $name: sipp did not start: $(tail -n 5 "$d/out")" >&2
		return 1
	fi
}

# far_call NAME SCENARIO IP[:PORT] TARGET [SIPP_ARGS...]: starts a far end
# NAME that calls: sipp as a client running SCENARIO from IP:PORT (PORT: a
# free one if not given) against TARGET (IP or IP:PORT: the remote_ip and
# remote_port of the scenario), in the background, like far_start. E.g. an
# incoming call for the daemon's user 1001 through registrar a:
#   far_call carol uac_call_in "$(fx_ip 20)" "$(kam_addr a)" -s 1001 -key caller carol -d 2000
# a flood of strangers: far_call scan uac_invite_stranger "$(fx_ip 21)" \
#   "$FX_LOCAL_IP:$port" -s 1001 -r 500 -m 3000
far_call() {
	local name=$1 sf=$2 addr=$3 target=$4 ip port
	(($# >= 4)) || { echo "usage: far_call NAME SCENARIO IP[:PORT] TARGET [SIPP_ARGS...]" >&2; return 1; }
	shift 4
	ip=${addr%%:*}
	if [[ $addr == *:* ]]; then port=${addr#*:}; else port=$(fx_free_port) || return 1; fi
	fx__far_launch far_call "$name" "$sf" "$ip" "$port" "$target" "$@"
}

# far_addr NAME: prints the far end's IP:PORT; far_uri NAME: sip:IP:PORT.
far_addr() { local d; d=$(fx__far_dir "$1") && cat "$d/addr"; }
far_uri() { local a; a=$(far_addr "$1") && echo "sip:$a"; }

# far_msg NAME: prints the path of the far end's message trace (sipp_trace,
# sipp_count_in).
far_msg() { local d; d=$(fx__far_dir "$1") && echo "$d/msg"; }

# far_running NAME: succeeds while the far end's sipp runs.
far_running() {
	local d
	d=$(fx__far_dir "$1") || return 1
	[[ -s $d/pid && ! -e $d/rc ]] && fx_pid_alive "$(cat "$d/pid")"
}

fx__far_done() { [[ -s $1/rc ]]; }

# far_wait NAME [TIMEOUT_S]: waits (bounded, default 15 s) until the far end's
# sipp has exited and returns its exit status (0: the scenario completed);
# on a non-zero status prints "far end NAME (SCENARIO): sipp exit N" and the
# tail of its error trace on stderr. Returns 125 (and says so) if it still
# runs at the deadline (it is left running: far_stop stops it).
far_wait() {
	local name=$1 d rc
	d=$(fx__far_dir "$name") || return 1
	[[ -s $d/pid ]] || { echo "far_wait: far end $name was not started" >&2; return 1; }
	if ! wait_for "${2:-15}" "far end $name ($(cat "$d/scenario")) to finish" fx__far_done "$d"; then
		return 125
	fi
	rc=$(cat "$d/rc")
	fx_untrack "$(cat "$d/pid")"
	if ((rc != 0)); then
		echo "far end $name ($(cat "$d/scenario")): sipp exit $rc" >&2
		if [[ -s $d/err ]]; then tail -n 15 "$d/err" | sed 's/^/  /' >&2; fi
		tail -n 3 "$d/out" | sed 's/^/  /' >&2
	fi
	return "$rc"
}

# far_status NAME: prints "running", or "exit N" once sipp ended.
far_status() {
	local d
	d=$(fx__far_dir "$1") || return 1
	if [[ -s $d/rc ]]; then echo "exit $(cat "$d/rc")"; else echo running; fi
}

# far_stop NAME: stops the far end's sipp (by its PID: TERM, up to 3 s, then
# KILL) if it still runs. Its files stay (far_msg).
far_stop() {
	local d pid
	d=$(fx__far_dir "$1") || return 1
	[[ -s $d/pid ]] || return 0
	pid=$(cat "$d/pid")
	fx_stop_pid "$pid" 3
	fx_untrack "$pid"
	wait_for 2 "far end $1 to be reaped" fx__far_done "$d" >/dev/null 2>&1 || true
}

# kam_far NAME [IP:PORT|sip:IP:PORT]: INVITEs to the registrar NAME for a user
# it has no binding for are relayed there (a far end that never registers:
# kam_far a "$(far_addr bob)"); without an address: 404 again.
kam_far() {
	local v=${2:-none}
	[[ $v == none || $v == sip:* ]] || v=sip:$v
	kam_rpc "$1" pv.shvSet far str "$v" >/dev/null
}

# fx__kam_code WHO NAME VAR VALUE: kam_force of a response code knob.
fx__kam_code() {
	[[ $4 =~ ^(-1|0|[1-6][0-9][0-9])$ ]] ||
		{ echo "$1 $2: '$4' is not 0, -1 or a response code" >&2; return 1; }
	kam_force "$2" "$3" "$4"
}

# kam_inv_code NAME CODE: 0 normal; >0 the registrar NAME answers every initial
# INVITE with CODE (e.g. 503, statelessly, before auth); -1 drops them.
kam_inv_code() { fx__kam_code kam_inv_code "$1" inv_code "$2"; }

# kam_bye_code NAME CODE: the same for every BYE (in dialog or not).
kam_bye_code() { fx__kam_code kam_bye_code "$1" bye_code "$2"; }

# kam_inv_auth NAME 0|401|407: digest-challenge initial INVITEs with a 401
# (WWW-Authenticate) or a 407 (Proxy-Authenticate), realm = the From domain,
# the registrar's password; the credentials' user must be the From user. 0:
# no auth (default).
kam_inv_auth() {
	[[ $2 =~ ^(0|401|407)$ ]] || { echo "kam_inv_auth $1: '$2' is not 0, 401 or 407" >&2; return 1; }
	kam_force "$1" inv_auth "$2"
}

# kam_log_inv NAME 0|1: turns the INVITE/BYE/CANCEL and reply log lines (the
# kam_count_* below count them) off or on (default on).
kam_log_inv() { kam_force "$1" log_inv "$2"; }

# kam_count_request NAME METHOD [FROM_IP]: prints how many METHOD (INVITE, BYE,
# CANCEL) requests reached the registrar NAME (from FROM_IP, if given): every
# transmission counts, retransmissions included, and so do the ones a knob
# then answered or dropped. Counts are cumulative over the instance's runs.
kam_count_request() {
	local from='[^ ]*'
	[[ -n ${3:-} ]] && from=${3//./\\.}
	kam_log_count "$1" "<script>: $2 [^ ]+ from $from:[0-9]+\$"
}

# kam_count_invite NAME [FROM_IP] / kam_count_bye NAME [FROM_IP]: the same for
# INVITE and BYE.
kam_count_invite() { kam_count_request "$1" INVITE "${2:-}"; }
kam_count_bye() { kam_count_request "$1" BYE "${2:-}"; }

# kam_count_reply NAME CODE METHOD: prints how many CODE replies to METHOD the
# registrar NAME relayed back (e.g. kam_count_reply a 200 BYE: the far end
# was cleared through a). CODE may be an ERE (e.g. "18[03]").
kam_count_reply() {
	kam_log_count "$1" "reply ($2) .* to $3 from [^ ]+\$"
}

# kam_has_count NAME METHOD N [FROM_IP]: succeeds if exactly N METHOD requests
# reached NAME (for wait_for: wait_for 5 "the BYE on b" kam_has_count b BYE 1).
kam_has_count() {
	local c
	c=$(kam_count_request "$1" "$2" "${4:-}") || return 1
	[[ $c == "$3" ]] || { echo "kam $1: $c $2 requests, want $3" >&2; return 1; }
}

# ---------------------------------------------------------------- dns
# A test DNS server: dnsmasq (from dnsmasq-base) in the foreground, answering
# only from the records the test sets and NXDOMAIN for every other name
# (--local=/#/ --no-resolv: it never forwards anything), udp and tcp on
# $FX_DNS_IP:$FX_DNS_PORT. Sofia's resolver asks port 53 (ARCHITECTURE.md
# "DNS"), hence a loopback address of its own: 127.0.0.53
# (${FX_IP_PREFIX}53; FX_DNS_IP moves it). dns_start refuses an address
# whose port something else already binds.
#
#   dns_set_a proxy.$FX_DNS_DOMAIN 127.0.0.2 127.0.0.3
#   dns_set_srv _sip._udp.$FX_DNS_DOMAIN proxy.$FX_DNS_DOMAIN 5060 10 50
#   dns_start                   # also writes $FX_DIR/resolv.conf
#   ... sip = { resolv_conf = "$FX_DIR/resolv.conf"; ... }
#   dns_set_a proxy.$FX_DNS_DOMAIN 127.0.0.3; dns_reload
#
# dns_set_*, dns_clear and dns_set_ttl only edit the fixture's record list
# ($FX_DIR/dns/records, one record a line); dns_start and dns_reload make
# dnsmasq serve it. $FX_DIR/dns/ also holds what dnsmasq reads: hosts (the
# A/AAAA records, --addn-hosts) and dnsmasq.conf (options, --srv-host,
# --local-ttl), plus dnsmasq.pid, pgid, ip, port, serial. dnsmasq's log
# (every query, --log-queries) and stderr: $FX_DIR/dnsmasq.log.
#
# What dnsmasq 2.90 answers (checked by t_fixture_dns.sh):
#   - A, AAAA: always in the order given to dns_set_a / dns_set_aaaa
#     (--no-round-robin; without it dnsmasq rotates them on every query).
#   - SRV: --no-round-robin does not cover SRV: every UDP query rotates the
#     SRV records of the name by one. The first UDP query after dns_start or
#     a dns_reload that restarted dnsmasq gets them in the order dns_set_srv
#     added them, the k-th query gets them rotated by k-1. Priority and
#     weight are not used to order them (Sofia's sres_sort_answers sorts:
#     priority ascending, then weight descending, then target, then port).
#     dns_query asks over TCP, which dnsmasq answers in a forked child, so it
#     never moves the rotation that UDP clients (sipuad) see. A SIGHUP
#     reload keeps the rotation. An SRV answer carries the targets' A/AAAA
#     records in its additional section (Sofia's sres caches those too).
#   - A name without records: NXDOMAIN; a name with records of other types
#     only (or names below it): NOERROR with no answer. Neither carries an
#     SOA, so a resolver caches the negative answer for its own default
#     (Sofia's sres: 600 s).
#   - TTL of every record: dns_set_ttl (default $FX_DNS_TTL; 0 is dnsmasq's
#     own default: do not cache).
#   - Each A/AAAA record also gives a PTR record for its address.
# Reload: SIGHUP makes dnsmasq re-read the hosts file (A/AAAA) only; SRV
# records and the TTL are options, read at start. So dns_reload sends SIGHUP
# when only A/AAAA records changed, and restarts dnsmasq (same address; the
# port is closed for some milliseconds, a query then draws ICMP port
# unreachable) when SRV records or the TTL changed. Either way it waits until
# the marker record fx-serial.fixture.invalid (A 127.x.y.z, x.y.z = serial)
# shows the new serial: then all the new records are served.
#
# Knobs: FX_DNS_IP (${FX_IP_PREFIX}53), FX_DNS_PORT (53; Sofia's sres does
# read a `port N` line of resolv.conf, which dns_start writes when this is
# not 53),
# FX_DNS_DOMAIN (sipuad.test, a convention for test names: only the records
# the test sets exist), FX_DNS_TTL (0), FX_DNS_START_TIMEOUT (5 s, also
# bounds dns_reload), FX_DNS_QUERY_TIMEOUT (2 s, whole seconds, per
# dns_query), FX_DNSMASQ (dnsmasq), FX_DIG (dig, from bind9-dnsutils).

FX_DNS_IP=${FX_DNS_IP:-${FX_IP_PREFIX}53}
FX_DNS_PORT=${FX_DNS_PORT:-53}
FX_DNS_DOMAIN=${FX_DNS_DOMAIN:-sipuad.test}
FX_DNS_TTL=${FX_DNS_TTL:-0}
FX_DNS_START_TIMEOUT=${FX_DNS_START_TIMEOUT:-5}
FX_DNS_QUERY_TIMEOUT=${FX_DNS_QUERY_TIMEOUT:-2}
FX_DNSMASQ=${FX_DNSMASQ:-dnsmasq}
FX_DIG=${FX_DIG:-dig}
FX_DNS_MARKER=fx-serial.fixture.invalid

fx__dns_dir() {
	[[ -n $FX_DIR && -d $FX_DIR/.fx ]] || { echo "fx_init was not called" >&2; return 1; }
	mkdir -p "$FX_DIR/dns" && touch "$FX_DIR/dns/records" && echo "$FX_DIR/dns"
}

# fx__dns_name NAME: prints NAME lower-cased without a final dot; fails on
# anything that is not a plain DNS name (letters, digits, '-', '_', dots).
fx__dns_name() {
	local n=${1%.}
	n=${n,,}
	if [[ $n =~ ^[a-z0-9_]([a-z0-9_.-]*[a-z0-9_])?$ && $n != *..* ]]; then
		echo "$n"
	else
		echo "dns: bad name '$1'" >&2
		return 1
	fi
}

fx__is_ipv4() {
	local o IFS=.
	[[ $1 =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]] || return 1
	for o in $1; do ((10#$o <= 255)) || return 1; done
}

fx__is_ipv6() { [[ $1 == *:* && $1 =~ ^[0-9A-Fa-f:.]+$ ]]; }

fx__is_u16() { [[ $1 =~ ^[0-9]{1,5}$ ]] && ((10#$1 <= 65535)); }

# fx__dns_drop TYPES NAME [TARGET PORT]: removes from the record list the
# records of NAME whose type matches the ERE alternation TYPES (and, given
# TARGET PORT, only the SRV record with that target and port).
fx__dns_drop() {
	local d
	d=$(fx__dns_dir) || return 1
	awk -v t="^($1)\$" -v n="$2" -v tg="${3:-}" -v p="${4:-}" \
		'!($1 ~ t && $2 == n && (tg == "" || ($3 == tg && $4 == p)))' \
		"$d/records" >"$d/records.new" && mv -f "$d/records.new" "$d/records"
}

fx__dns_set_addr() {
	local type=$1 fn=dns_set_${1,,} name ip d
	(($# >= 3)) || { echo "usage: $fn NAME IP..." >&2; return 1; }
	name=$(fx__dns_name "$2") || return 1
	shift 2
	for ip in "$@"; do
		if [[ $type == A ]] && ! fx__is_ipv4 "$ip"; then
			echo "$fn $name: '$ip' is not an IPv4 address" >&2
			return 1
		fi
		if [[ $type == AAAA ]] && ! fx__is_ipv6 "$ip"; then
			echo "$fn $name: '$ip' is not an IPv6 address" >&2
			return 1
		fi
	done
	d=$(fx__dns_dir) || return 1
	fx__dns_drop "$type|NX" "$name" || return 1
	for ip in "$@"; do echo "$type $name $ip"; done >>"$d/records"
}

# dns_set_a NAME IP...: NAME gets exactly these A records (replacing its
# earlier ones), answered in this order. Applied by dns_start/dns_reload.
dns_set_a() { fx__dns_set_addr A "$@"; }

# dns_set_aaaa NAME IP6...: like dns_set_a for AAAA records.
dns_set_aaaa() { fx__dns_set_addr AAAA "$@"; }

# dns_set_srv NAME TARGET PORT PRIORITY WEIGHT: adds an SRV record to NAME
# (e.g. _sip._udp.sipuad.test); one with the same TARGET and PORT is
# replaced. The target's addresses are separate records (dns_set_a).
# Applied by dns_start/dns_reload (which then restarts dnsmasq).
dns_set_srv() {
	local name target v
	(($# == 5)) || { echo "usage: dns_set_srv NAME TARGET PORT PRIORITY WEIGHT" >&2; return 1; }
	name=$(fx__dns_name "$1") || return 1
	target=$(fx__dns_name "$2") || return 1
	for v in "$3" "$4" "$5"; do
		fx__is_u16 "$v" || { echo "dns_set_srv $name: '$v' is not a number 0-65535" >&2; return 1; }
	done
	fx__dns_drop SRV "$name" "$target" "$((10#$3))" || return 1
	fx__dns_drop "NX" "$name" || return 1
	echo "SRV $name $target $((10#$3)) $((10#$4)) $((10#$5))" >>"$FX_DIR/dns/records"
}

# dns_clear NAME [A|AAAA|SRV]: removes NAME's records (of that type only,
# given TYPE). A name left with no record answers NXDOMAIN. Applied by
# dns_reload.
dns_clear() {
	local name types="A|AAAA|SRV|NX"
	name=$(fx__dns_name "$1") || return 1
	if (($# > 1)); then
		[[ ${2^^} =~ ^(A|AAAA|SRV)$ ]] || { echo "dns_clear $name: type must be A, AAAA or SRV, not '$2'" >&2; return 1; }
		types=${2^^}
	fi
	fx__dns_drop "$types" "$name"
}

# dns_set_nxdomain NAME: removes all of NAME's records, and dns_reload then
# also checks that NAME answers NXDOMAIN (until a dns_set_* gives it records
# again). A name that was never set answers NXDOMAIN anyway.
dns_set_nxdomain() {
	local name
	name=$(fx__dns_name "$1") || return 1
	fx__dns_drop "A|AAAA|SRV|NX" "$name" || return 1
	echo "NX $name" >>"$FX_DIR/dns/records"
}

# dns_set_ttl SECONDS: the TTL of every record dnsmasq serves (--local-ttl;
# default $FX_DNS_TTL). Applied by dns_start/dns_reload (a restart).
dns_set_ttl() {
	local d
	[[ ${1:-} =~ ^[0-9]{1,9}$ ]] || { echo "usage: dns_set_ttl SECONDS (0-999999999)" >&2; return 1; }
	d=$(fx__dns_dir) || return 1
	echo "$((10#$1))" >"$d/ttl"
}

# dns_records: prints the fixture's record list (what dns_reload would
# serve): "A NAME IP", "AAAA NAME IP6", "SRV NAME TARGET PORT PRIO WEIGHT",
# "NX NAME", in the order given.
dns_records() {
	local d
	d=$(fx__dns_dir) || return 1
	cat "$d/records"
}

# dns_ip / dns_port: the address dnsmasq listens on (after dns_start).
dns_ip() { cat "$FX_DIR/dns/ip" 2>/dev/null || { echo "dns: not started" >&2; return 1; }; }
dns_port() { cat "$FX_DIR/dns/port" 2>/dev/null || { echo "dns: not started" >&2; return 1; }; }

# dns_resolv_conf: prints the path of the resolv.conf written by dns_start.
dns_resolv_conf() { echo "$FX_DIR/resolv.conf"; }

# dns_log: prints the path of dnsmasq's log (one line per query and answer).
dns_log() { echo "$FX_DIR/dnsmasq.log"; }

# dns_running: succeeds if dnsmasq's process group is alive (paused or not).
dns_running() {
	[[ -n $FX_DIR && -s $FX_DIR/dns/pgid ]] && fx_group_alive "$(cat "$FX_DIR/dns/pgid")"
}

# fx__dns_dig PROTO TIMEOUT_S DIG_ARGS...: dig against the fixture's server
# over udp or tcp, one try of TIMEOUT_S, under an outer timeout guard.
fx__dns_dig() {
	local proto=$1 t=$2 ip port tcp=+notcp
	shift 2
	ip=$(dns_ip) || return 1
	port=$(dns_port) || return 1
	[[ $proto == tcp ]] && tcp=+tcp
	timeout -k 1 $((t + 3)) "$FX_DIG" -r "@$ip" -p "$port" "$tcp" +time="$t" +tries=1 "$@"
}

# dns_query NAME [TYPE] [tcp|udp]: asks the fixture's server (TYPE defaults
# to A; over tcp unless told, see SRV above) and prints the answers one a
# line as dig +short does, names without the final dot: "127.0.0.2",
# "10 50 5060 proxy.sipuad.test" (SRV: priority weight port target).
# NXDOMAIN and NODATA print nothing and succeed (dns_rcode tells them
# apart). Fails, after at most $FX_DNS_QUERY_TIMEOUT s, when no answer came.
dns_query() {
	local name=${1%.} type=${2:-A} proto=${3:-tcp} out rc=0
	[[ -n $name ]] || { echo "usage: dns_query NAME [TYPE] [tcp|udp]" >&2; return 1; }
	out=$(fx__dns_dig "$proto" "$FX_DNS_QUERY_TIMEOUT" +short "$name" "$type" 2>&1) || rc=$?
	if ((rc != 0)) || grep -q '^;' <<<"$out"; then
		echo "dns_query $name $type ($proto): no answer (dig exit $rc): $(grep '^;' <<<"$out" | head -n 2 | tr '\n' ' ')" >&2
		return 1
	fi
	[[ -z $out ]] || awk '{ sub(/\.$/, ""); print }' <<<"$out"
}

# dns_rcode NAME [TYPE] [tcp|udp]: prints the response code of the answer:
# NOERROR, NXDOMAIN, REFUSED, SERVFAIL, ...; fails when no answer came.
dns_rcode() {
	local name=${1%.} type=${2:-A} proto=${3:-tcp} out rc=0 st
	out=$(fx__dns_dig "$proto" "$FX_DNS_QUERY_TIMEOUT" +noall +comments "$name" "$type" 2>&1) || rc=$?
	st=$(sed -n 's/.*status: \([A-Z]*\).*/\1/p' <<<"$out" | head -n 1)
	if ((rc != 0)) || [[ -z $st ]]; then
		echo "dns_rcode $name $type ($proto): no answer (dig exit $rc): $(grep '^;;.*\(error\|timed out\|refused\)' <<<"$out" | head -n 2 | tr '\n' ' ')" >&2
		return 1
	fi
	echo "$st"
}

fx__dns_serial_ip() { echo "127.$((($1 >> 16) & 255)).$((($1 >> 8) & 255)).$(($1 & 255))"; }

# fx__dns_render DIR SERIAL: writes DIR/hosts.new and DIR/dnsmasq.conf.new
# from the record list. The SRV lines go in reverse: dnsmasq answers them
# last-read first.
fx__dns_render() {
	local d=$1 serial=$2 ip port ttl=$FX_DNS_TTL
	ip=$(cat "$d/ip") && port=$(cat "$d/port") || return 1
	[[ -s $d/ttl ]] && ttl=$(cat "$d/ttl")
	{
		echo "# generated by lib.sh (dns_start/dns_reload), serial $serial"
		echo "$(fx__dns_serial_ip "$serial") $FX_DNS_MARKER"
		awk '$1 == "A" || $1 == "AAAA" { print $3, $2 }' "$d/records"
	} >"$d/hosts.new" || return 1
	{
		cat <<EOC
# generated by lib.sh (dns_start/dns_reload); set records with dns_set_*
listen-address=$ip
port=$port
bind-interfaces
no-resolv
no-hosts
no-poll
local=/#/
no-round-robin
user=root
group=root
pid-file=$d/dnsmasq.pid
log-facility=$FX_DIR/dnsmasq.log
log-queries
local-ttl=$ttl
addn-hosts=$d/hosts
EOC
		awk '$1 == "SRV" { l[n++] = sprintf("srv-host=%s,%s,%s,%s,%s", $2, $3, $4, $5, $6) }
			END { while (n > 0) print l[--n] }' "$d/records"
	} >"$d/dnsmasq.conf.new"
}

fx__dns_next_serial() {
	local n=0
	[[ -s $1/serial ]] && n=$(cat "$1/serial")
	n=$((n + 1))
	echo "$n" >"$1/serial"
	echo "$n"
}

# fx__dns_serves DIR SERIAL: succeeds when dnsmasq answers the marker with
# SERIAL over udp and listens on tcp.
fx__dns_serves() {
	local want got
	want=$(fx__dns_serial_ip "$2")
	got=$(fx__dns_dig udp 1 +short "$FX_DNS_MARKER" A 2>&1) || { echo "$got" >&2; return 1; }
	[[ $got == "$want" ]] || { echo "marker answers '$got', want '$want'" >&2; return 1; }
	fx_tcp_listening "$(cat "$1/ip")" "$(cat "$1/port")" || { echo "no tcp listener" >&2; return 1; }
}

fx__dns_serves_or_dead() {
	fx__dns_serves "$1" "$2" || ! fx_group_alive "$(cat "$1/pgid")"
}

# fx__dns_launch DIR: renders the config and starts dnsmasq; waits (bounded)
# until it serves it.
fx__dns_launch() {
	local d=$1 serial pid jc=0 ppid
	serial=$(fx__dns_next_serial "$d")
	fx__dns_render "$d" "$serial" || return 1
	mv -f "$d/hosts.new" "$d/hosts" && mv -f "$d/dnsmasq.conf.new" "$d/dnsmasq.conf" || return 1
	rm -f "$d/dnsmasq.pid" "$d/pgid" "$d/paused"
	echo "===== dns_start $(cat "$d/ip"):$(cat "$d/port") serial $serial at $(date '+%T.%N') =====" >>"$FX_DIR/dnsmasq.log"
	# As in kam_start: without job control setsid need not fork, so $! is
	# dnsmasq itself, leading its own group (with its tcp children).
	# --keep-in-foreground, not --no-daemon: that one writes no pid file and
	# answers tcp in the main process.
	[[ $- == *m* ]] && { jc=1; set +m; }
	setsid "$FX_DNSMASQ" --keep-in-foreground --conf-file="$d/dnsmasq.conf" \
		</dev/null >>"$FX_DIR/dnsmasq.log" 2>&1 &
	pid=$!
	((jc)) && set -m
	disown "$pid" 2>/dev/null || true
	echo "$pid" >"$d/pgid"
	fx_track_group "$pid"
	if wait_for "$FX_DNS_START_TIMEOUT" "dnsmasq on $(cat "$d/ip"):$(cat "$d/port") to serve serial $serial" \
		fx__dns_serves_or_dead "$d" "$serial" && fx_group_alive "$pid"; then
		ppid=$(cat "$d/dnsmasq.pid" 2>/dev/null)
		[[ $ppid == "$pid" ]] || echo "dns_start: warning: pid file says '$ppid', process group is $pid" >&2
		return 0
	fi
	if fx_group_alive "$pid"; then
		echo "dns_start: dnsmasq not answering after ${FX_DNS_START_TIMEOUT}s" >&2
	else
		echo "dns_start: dnsmasq exited during start-up" >&2
	fi
	fx_stop_group "$pid" 2 >/dev/null 2>&1
	fx_untrack "$pid"
	rm -f "$d/pgid"
	echo "----- tail of $FX_DIR/dnsmasq.log -----" >&2
	tail -n 20 "$FX_DIR/dnsmasq.log" >&2
	return 1
}

# fx__dns_port_busy IP PORT: prints (and succeeds) what binds IP:PORT or the
# wildcard address on PORT, udp or tcp.
fx__dns_port_busy() {
	local out
	out=$( {
		ss -Hlnpu "sport = :$2"
		ss -Hlnpt "sport = :$2"
	} 2>/dev/null | awk -v a="$1:$2" -v p=":$2" '$4 == a || $4 == "0.0.0.0" p || $4 == "*" p || $4 == "[::]" p')
	[[ -n $out ]] && echo "$out"
}

# dns_start [IP]: starts dnsmasq on IP (default $FX_DNS_IP) port $FX_DNS_PORT
# serving the records set so far, in its own process group (tracked: fx_cleanup
# stops it). Waits (bounded, $FX_DNS_START_TIMEOUT s) until it answers, then
# writes $FX_DIR/resolv.conf ("nameserver IP"; plus "port N" if the port is
# not 53). Refuses an address outside 127/8 or one something already uses.
# After dns_stop, dns_start starts it again with the current records.
# shellcheck disable=SC2120
dns_start() {
	local ip=${1:-$FX_DNS_IP} port=$FX_DNS_PORT d c busy
	d=$(fx__dns_dir) || return 1
	for c in "$FX_DNSMASQ" "$FX_DIG" ss setsid timeout; do
		command -v "$c" >/dev/null 2>&1 ||
			{ echo "dns_start: '$c' not found (Debian: dnsmasq-base, bind9-dnsutils; scripts/deps.sh)" >&2; return 1; }
	done
	if ! fx__is_ipv4 "$ip" || [[ $ip != 127.* ]]; then
		echo "dns_start: '$ip' is not a loopback IPv4 address" >&2
		return 1
	fi
	if ! fx__is_u16 "$port" || ((10#$port == 0)); then
		echo "dns_start: bad FX_DNS_PORT '$port'" >&2
		return 1
	fi
	[[ $FX_DNS_QUERY_TIMEOUT =~ ^[1-9][0-9]*$ ]] ||
		{ echo "dns_start: FX_DNS_QUERY_TIMEOUT must be whole seconds >= 1, not '$FX_DNS_QUERY_TIMEOUT'" >&2; return 1; }
	if dns_running; then
		echo "dns_start: already running (process group $(cat "$d/pgid"))" >&2
		return 1
	fi
	if busy=$(fx__dns_port_busy "$ip" "$port"); then
		echo "dns_start: $ip:$port is already in use (FX_DNS_IP=127.0.0.x picks another address):" >&2
		echo "$busy" >&2
		return 1
	fi
	echo "$ip" >"$d/ip"
	echo "$((10#$port))" >"$d/port"
	fx__dns_launch "$d" || return 1
	{
		echo "nameserver $ip"
		((10#$port == 53)) || echo "port $((10#$port))"
	} >"$FX_DIR/resolv.conf"
}

# fx__dns_check_nx DIR: every dns_set_nxdomain name answers NXDOMAIN.
fx__dns_check_nx() {
	local n rc bad=0
	while read -r n; do
		rc=$(dns_rcode "$n" A) || return 1
		if [[ $rc != NXDOMAIN ]]; then
			echo "dns_reload: $n answers $rc, not NXDOMAIN (records below it?)" >&2
			bad=1
		fi
	done < <(awk '$1 == "NX" { print $2 }' "$1/records")
	return "$bad"
}

# dns_reload: makes the running dnsmasq serve the current record list:
# SIGHUP (it re-reads the hosts file) when only A/AAAA records changed, a
# restart (dns_stop + start, same address) when SRV records or the TTL
# changed. Waits (bounded, $FX_DNS_START_TIMEOUT s) until the new serial is
# served, then checks the dns_set_nxdomain names. Refuses while paused.
dns_reload() {
	local d serial pgid
	d=$(fx__dns_dir) || return 1
	dns_running || { echo "dns_reload: dnsmasq is not running (dns_start first)" >&2; return 1; }
	[[ -e $d/paused ]] && { echo "dns_reload: dnsmasq is paused (dns_resume first)" >&2; return 1; }
	pgid=$(cat "$d/pgid")
	serial=$(fx__dns_next_serial "$d")
	fx__dns_render "$d" "$serial" || return 1
	if cmp -s "$d/dnsmasq.conf.new" "$d/dnsmasq.conf"; then
		rm -f "$d/dnsmasq.conf.new"
		mv -f "$d/hosts.new" "$d/hosts" || return 1
		echo "===== dns_reload: SIGHUP, serial $serial at $(date '+%T.%N') =====" >>"$FX_DIR/dnsmasq.log"
		kill -HUP "$pgid" || return 1
		wait_for "$FX_DNS_START_TIMEOUT" "dnsmasq to re-read its hosts file (serial $serial)" \
			fx__dns_serves "$d" "$serial" || return 1
	else
		rm -f "$d/dnsmasq.conf.new" "$d/hosts.new"
		echo "===== dns_reload: SRV records or TTL changed: restart =====" >>"$FX_DIR/dnsmasq.log"
		dns_stop || return 1
		fx__dns_launch "$d" || return 1
	fi
	fx__dns_check_nx "$d"
}

# dns_stop: stops dnsmasq (SIGTERM + SIGCONT to its group, up to 5 s, then
# SIGKILL) and waits (bounded, 2 s) until its udp and tcp ports are closed.
# The records and resolv.conf stay; dns_start starts it again.
dns_stop() {
	local d pgid ip port rc=0
	d=$(fx__dns_dir) || return 1
	[[ -s $d/pgid ]] || return 0
	pgid=$(cat "$d/pgid")
	fx_stop_group "$pgid" 5 || rc=1
	fx_untrack "$pgid"
	rm -f "$d/pgid" "$d/paused"
	ip=$(cat "$d/ip") port=$(cat "$d/port")
	wait_for 2 "udp $ip:$port to close" fx__udp_closed "$ip" "$port" || rc=1
	wait_for 2 "tcp $ip:$port to close" fx__tcp_closed "$ip" "$port" || rc=1
	return "$rc"
}

fx__tcp_closed() { ! fx_tcp_listening "$1" "$2"; }

# dns_pause: SIGSTOP to dnsmasq's group: its sockets stay open but nothing
# answers (a silent nameserver: queries time out, no ICMP). Queries that
# arrive meanwhile wait in the socket and are answered on dns_resume.
dns_pause() {
	local d
	d=$(fx__dns_dir) || return 1
	dns_running || { echo "dns_pause: dnsmasq is not running" >&2; return 1; }
	kill -STOP -- "-$(cat "$d/pgid")" || return 1
	touch "$d/paused"
}

# dns_resume: SIGCONT to a paused dnsmasq; waits (bounded, $FX_DNS_START_TIMEOUT
# s) until it answers again.
dns_resume() {
	local d
	d=$(fx__dns_dir) || return 1
	dns_running || { echo "dns_resume: dnsmasq is not running" >&2; return 1; }
	kill -CONT -- "-$(cat "$d/pgid")" || return 1
	rm -f "$d/paused"
	wait_for "$FX_DNS_START_TIMEOUT" "dnsmasq to answer after SIGCONT" \
		fx__dns_serves "$d" "$(cat "$d/serial")"
}

# ---------------------------------------------------------------- tls
# SIP over TLS fixtures (SPEC G): a test PKI made with openssl at test time,
# Kamailio registrars that also listen on tls:IP:5061, listeners that are not
# (good) TLS servers, and an openssl s_client toolkit to check them.
#
#   tls_ca_init                               # $FX_DIR/pki: CAs, client certs
#   tls_cert reg --dns reg.sipuad.test --ip "$(fx_ip 1)"
#   kam_start_tls a "$(fx_ip 1)" reg          # udp+tcp :5060, tls :5061
#   ... sip = { tls = { ca_file = "$(tls_ca_file)"; }; ... }
#   ... server host reg.sipuad.test, transport "tls", port 5061 ...
#   kam_count_register a 1001 saved tls       # REGISTERs that came over TLS
#   kam_drop_conns a                          # RST every tcp/tls connection
#
# The PKI, $FX_DIR/pki/ (all keys EC P-256, unencrypted PEM, PKCS#8):
#   ca.crt, ca.key          the test CA, "sipuad test CA": the file to trust
#                           (tls_ca_file prints its path)
#   unknown-ca.crt, .key    a second root, "sipuad unknown CA", that nothing
#                           trusts (tls_cert --issuer unknown)
#   inter.crt, inter.key    an intermediate CA signed by the test CA,
#                           "sipuad test intermediate CA" (--issuer inter)
#   NAME.crt, NAME.key      what tls_cert NAME made: the certificate (for an
#                           --issuer inter leaf: the leaf then the
#                           intermediate, the chain a server must send), its
#                           key; NAME.pem: the key then NAME.crt in one file
#   NAME.leaf.crt/.key      --issuer inter only: the leaf alone (a server that
#                           forgets to send its intermediate) and its key
#   client.crt, client.key  made by tls_ca_init: sipuad's client certificate
#                           (CN "sipuad client", test CA)
#   client-unknown.crt/.key made by tls_ca_init: a client certificate from the
#                           unknown CA (a server that verifies refuses it)
#   wrongkey.crt/.key       made by tls_ca_init: a good certificate and a key
#                           that does NOT belong to it (sip.tls.key mismatch)
#   .ca/, openssl.cnf       openssl ca's databases and configuration
# Every certificate's subject is "O=sipuad test, OU=NAME" plus "CN=..." only
# when --cn is given, so no name matches by accident. Leaves carry
# basicConstraints CA:FALSE, keyUsage digitalSignature, extendedKeyUsage
# serverAuth+clientAuth; valid from 1 day ago for 365 days unless told.
#
# Knobs: FX_TLS_PORT (5061, the tls port of kam_start_tls), FX_OPENSSL
# (openssl), FX_TLS_TIMEOUT (5 s: bounds every s_client handshake).

FX_TLS_PORT=${FX_TLS_PORT:-5061}
FX_OPENSSL=${FX_OPENSSL:-openssl}
FX_TLS_TIMEOUT=${FX_TLS_TIMEOUT:-5}
FX_TCP_LISTENER=$FX_LIB_DIR/tcp_listener.py

fx__pki_dir() {
	[[ -n $FX_DIR ]] || { echo "fx_init was not called" >&2; return 1; }
	echo "$FX_DIR/pki"
}

# fx__tls_date OFFSET: prints now+OFFSET (a date(1) relative time, e.g.
# "-1 day") as openssl ca's -startdate/-enddate want it (YYYYMMDDHHMMSSZ).
fx__tls_date() {
	date -u -d "$1" +%Y%m%d%H%M%SZ
}

# fx__tls_key FILE: makes an EC P-256 private key (fast, unlike RSA).
fx__tls_key() {
	"$FX_OPENSSL" genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null ||
		{ echo "tls: openssl genpkey $1 failed" >&2; return 1; }
}

# fx__tls_sign CA SUBJECT KEY OUT EXTFILE EXTSECTION START END: openssl ca of
# CA (test, unknown, inter; "self:test"/"self:unknown" self-signs that root)
# signs a request for SUBJECT/KEY into OUT, valid START to END (date(1)
# relative times), with the extensions of EXTSECTION in EXTFILE.
fx__tls_sign() {
	local ca=$1 subj=$2 key=$3 out=$4 ext=$5 sect=$6 start=$7 end=$8 pki csr self=()
	pki=$(fx__pki_dir) || return 1
	csr=$out.csr
	"$FX_OPENSSL" req -new -config "$pki/openssl.cnf" -key "$key" -subj "$subj" -out "$csr" 2>"$out.err" ||
		{ echo "tls: openssl req for $subj failed: $(cat "$out.err")" >&2; return 1; }
	if [[ $ca == self:* ]]; then
		ca=${ca#self:}
		self=(-selfsign -keyfile "$key")
	fi
	if ! "$FX_OPENSSL" ca -batch -notext -preserveDN -config "$pki/openssl.cnf" -name "$ca" \
		"${self[@]}" -startdate "$(fx__tls_date "$start")" -enddate "$(fx__tls_date "$end")" \
		-extfile "$ext" -extensions "$sect" -in "$csr" -out "$out" >"$out.err" 2>&1; then
		echo "tls: openssl ca ($ca) for $subj failed: $(tail -n 5 "$out.err")" >&2
		return 1
	fi
	rm -f "$csr" "$out.err"
}

# tls_ca_init: makes the test PKI under $FX_DIR/pki (see "tls" above): the
# test CA, the unknown CA, the intermediate CA, and the certificates client,
# client-unknown and wrongkey. Takes well under a second (EC keys).
# Idempotent: a second call keeps what exists.
tls_ca_init() {
	local pki ca
	pki=$(fx__pki_dir) || return 1
	[[ -s $pki/ca.crt && -s $pki/wrongkey.crt ]] && return 0
	command -v "$FX_OPENSSL" >/dev/null 2>&1 ||
		{ echo "tls_ca_init: '$FX_OPENSSL' not found (Debian: openssl; scripts/deps.sh)" >&2; return 1; }
	mkdir -p "$pki" || return 1
	chmod 700 "$pki"
	for ca in test unknown inter; do
		mkdir -p "$pki/.ca/$ca/new"
		: >"$pki/.ca/$ca/index.txt"
		# distinct serial ranges: no two certificates of the PKI share one
		case $ca in
		test) echo 1000 ;;
		unknown) echo 5000 ;;
		inter) echo 9000 ;;
		esac >"$pki/.ca/$ca/serial"
	done
	{
		cat <<EOC
# written by lib.sh tls_ca_init: openssl ca's view of the test PKI
[ req ]
distinguished_name = req_dn
prompt = no
[ req_dn ]
O = unused
EOC
		# one section per CA: its files under $pki (ca, unknown-ca, inter)
		for ca in test:ca unknown:unknown-ca inter:inter; do
			cat <<EOC
[ ${ca%%:*} ]
dir = $pki/.ca/${ca%%:*}
certificate = $pki/${ca#*:}.crt
private_key = $pki/${ca#*:}.key
database = \$dir/index.txt
new_certs_dir = \$dir/new
serial = \$dir/serial
default_md = sha256
policy = policy_any
unique_subject = no
copy_extensions = none
email_in_dn = no
EOC
		done
		cat <<EOC
[ policy_any ]
organizationName = optional
organizationalUnitName = optional
commonName = optional
[ ext_ca ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EOC
	} >"$pki/openssl.cnf"
	fx__tls_key "$pki/ca.key" &&
		fx__tls_sign self:test "/O=sipuad test/CN=sipuad test CA" "$pki/ca.key" "$pki/ca.crt" \
			"$pki/openssl.cnf" ext_ca "-1 day" "+10 years" || return 1
	fx__tls_key "$pki/unknown-ca.key" &&
		fx__tls_sign self:unknown "/O=sipuad test/CN=sipuad unknown CA" "$pki/unknown-ca.key" \
			"$pki/unknown-ca.crt" "$pki/openssl.cnf" ext_ca "-1 day" "+10 years" || return 1
	fx__tls_key "$pki/inter.key" &&
		fx__tls_sign test "/O=sipuad test/CN=sipuad test intermediate CA" "$pki/inter.key" \
			"$pki/inter.crt" "$pki/openssl.cnf" ext_ca "-1 day" "+5 years" || return 1
	tls_cert client --cn "sipuad client" || return 1
	tls_cert client-unknown --cn "sipuad client" --issuer unknown || return 1
	tls_cert wrongkey --cn "sipuad wrong key" --mismatched-key || return 1
}

# tls_ca_file: prints the path of the test CA's certificate, the one file a
# client (sip.tls.ca_file) or a server (kam_start_tls ... require) trusts.
tls_ca_file() { local pki; pki=$(fx__pki_dir) && echo "$pki/ca.crt"; }

# tls_crt NAME / tls_key NAME / tls_pem NAME: print the paths of what
# tls_cert NAME made (certificate or chain, key, key+certificate).
tls_crt() { local pki; pki=$(fx__pki_dir) && echo "$pki/$1.crt"; }
tls_key() { local pki; pki=$(fx__pki_dir) && echo "$pki/$1.key"; }
tls_pem() { local pki; pki=$(fx__pki_dir) && echo "$pki/$1.pem"; }

# tls_cert NAME [OPTIONS...]: issues a certificate into $FX_DIR/pki/NAME.crt
# with its key NAME.key and both in NAME.pem (after tls_ca_init). Options:
#   --dns HOST         a subjectAltName DNS entry (repeatable)
#   --uri URI          a subjectAltName URI entry, e.g. sip:reg.sipuad.test
#                      (repeatable)
#   --ip ADDR          a subjectAltName IP entry (repeatable)
#   --cn NAME          the subject's CN (default: none); without any --dns,
#                      --uri, --ip the certificate has no subjectAltName at
#                      all (RFC 5922: then the CN is the name to check)
#   --expired          valid from 30 days ago until 1 day ago
#   --not-yet-valid    valid from 1 day from now for 30 days
#   --days N           valid from 1 day ago for N days (default 365)
#   --issuer CA        test (default), unknown (the CA nobody trusts) or inter
#                      (the intermediate: NAME.crt is then leaf +
#                      intermediate; NAME.leaf.crt/.key the leaf alone)
#   --mismatched-key   NAME.key (and NAME.pem) hold a key that is NOT the one
#                      of NAME.crt
# E.g. tls_cert reg --dns reg.sipuad.test --uri sip:reg.sipuad.test
#      tls_cert old --dns reg.sipuad.test --expired
#      tls_cert cnonly --cn reg.sipuad.test
tls_cert() {
	local name=$1 pki cn='' issuer=test start="-1 day" end="+365 days" mism=0
	local san=() subj ext key
	shift || { echo "usage: tls_cert NAME [OPTIONS...]" >&2; return 1; }
	[[ $name =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]*$ ]] || { echo "tls_cert: bad name '$name'" >&2; return 1; }
	pki=$(fx__pki_dir) || return 1
	[[ -s $pki/openssl.cnf ]] || { echo "tls_cert $name: no PKI (tls_ca_init first)" >&2; return 1; }
	while (($# > 0)); do
		case $1 in
		--dns) san+=("DNS:$2"); shift ;;
		--uri) san+=("URI:$2"); shift ;;
		--ip) san+=("IP:$2"); shift ;;
		--cn) cn=$2; shift ;;
		--expired) start="-30 days" end="-1 day" ;;
		--not-yet-valid) start="+1 day" end="+31 days" ;;
		--days) end="-1 day +$2 days"; shift ;;
		--issuer)
			[[ ${2:-} =~ ^(test|unknown|inter)$ ]] ||
				{ echo "tls_cert $name: --issuer test|unknown|inter, not '${2:-}'" >&2; return 1; }
			issuer=$2
			shift
			;;
		--mismatched-key) mism=1 ;;
		*) echo "tls_cert $name: unknown option '$1'" >&2; return 1 ;;
		esac
		shift || { echo "tls_cert $name: option without its value" >&2; return 1; }
	done
	[[ $cn != */* ]] || { echo "tls_cert $name: a CN with '/' is not supported" >&2; return 1; }
	subj="/O=sipuad test/OU=$name${cn:+/CN=$cn}"
	ext=$pki/$name.ext
	{
		echo "[ leaf ]"
		echo "basicConstraints = critical, CA:FALSE"
		echo "keyUsage = critical, digitalSignature"
		echo "extendedKeyUsage = serverAuth, clientAuth"
		echo "subjectKeyIdentifier = hash"
		echo "authorityKeyIdentifier = keyid"
		if ((${#san[@]} > 0)); then
			local e sep=
			printf 'subjectAltName = '
			for e in "${san[@]}"; do
				printf '%s%s' "$sep" "$e"
				sep=', '
			done
			echo
		fi
	} >"$ext"
	key=$pki/$name.key
	fx__tls_key "$key" || return 1
	fx__tls_sign "$issuer" "$subj" "$key" "$pki/$name.crt" "$ext" leaf "$start" "$end" || return 1
	rm -f "$ext"
	if [[ $issuer == inter ]]; then
		mv -f "$pki/$name.crt" "$pki/$name.leaf.crt" && cp -f "$key" "$pki/$name.leaf.key" &&
			cat "$pki/$name.leaf.crt" "$pki/inter.crt" >"$pki/$name.crt" || return 1
	fi
	if ((mism)); then
		fx__tls_key "$key" || return 1
	fi
	cat "$key" "$pki/$name.crt" >"$pki/$name.pem"
	chmod 600 "$key" "$pki/$name.pem"
}

# fx__kam_tls_profile WHO NAME IP CERT VERIFY REQUIRE: checks that the TLS
# port of IP is free and writes $FX_DIR/kam/NAME/tls.cfg, the tls module's
# profile: the server side sends CERT (tls_cert), verifies client
# certificates against the test CA if VERIFY (yes|no), demands one if
# REQUIRE; the client side (a proxy relaying over TLS) verifies nothing.
fx__kam_tls_profile() {
	local who=$1 name=$2 ip=$3 cert=$4 d pki
	d=$(fx__kam_dir "$name") && pki=$(fx__pki_dir) || return 1
	if fx_tcp_listening "$ip" "$FX_TLS_PORT"; then
		echo "$who $name: $ip:$FX_TLS_PORT is already in use:" >&2
		ss -Hlnpt "src $ip:$FX_TLS_PORT" >&2
		return 1
	fi
	mkdir -p "$d"
	cat >"$d/tls.cfg" <<EOC
# written by lib.sh $who: kamailio tls module profile of $name
[server:default]
method = TLSv1.2+
certificate = $pki/$cert.crt
private_key = $pki/$cert.key
ca_list = $pki/ca.crt
verify_certificate = $5
require_certificate = $6

[client:default]
method = TLSv1.2+
verify_certificate = no
require_certificate = no
EOC
}

# kam_start_proxy_tls NAME IP CERT: kam_start_proxy's outbound proxy that
# also listens on tls:IP:$FX_TLS_PORT with the tls_cert CERT, and relays
# over TLS where the Route says transport=tls.
kam_start_proxy_tls() {
	local d pki
	(($# == 3)) || { echo "usage: kam_start_proxy_tls NAME IP CERT" >&2; return 1; }
	d=$(fx__kam_dir "$1") && pki=$(fx__pki_dir) || return 1
	[[ -s $pki/$3.crt && -s $pki/$3.key ]] ||
		{ echo "kam_start_proxy_tls $1: no certificate '$3' (tls_cert $3 ...)" >&2; return 1; }
	fx__kam_tls_profile kam_start_proxy_tls "$1" "$2" "$3" no no || return 1
	fx__kam_launch kam_start_proxy_tls "$1" "$2" "$FX_KAM_PORT" "$FX_KAM_PROXY_TEMPLATE" \
		-e "s|@TLS_PORT@|$FX_TLS_PORT|g" -e "s|@TLS_CFG@|$d/tls.cfg|g" -- -A WITH_TLS || return 1
	fx_tcp_listening "$2" "$FX_TLS_PORT" ||
		{ echo "kam_start_proxy_tls $1: nothing listens on $2:$FX_TLS_PORT" >&2; return 1; }
}

# kam_start_tls NAME IP CERT [none|optional|require] [PASSWORD]: starts the
# registrar NAME like kam_start (udp and tcp on IP:$FX_KAM_PORT, same
# behaviour and knobs) that also listens on tls:IP:$FX_TLS_PORT (5061) with
# the tls_cert CERT: it sends $FX_DIR/pki/CERT.crt (with the intermediate
# for an --issuer inter CERT; CERT may be NAME.leaf for the leaf alone) and
# uses CERT.key. TLS 1.2 or later. Client certificates: none (default: not
# asked for), optional (asked for, verified against the test CA if sent),
# require (verified, and a client without one is refused: with TLS 1.3 the
# client's handshake completes first and the server's "certificate
# required" alert comes after). The profile is $FX_DIR/kam/NAME/tls.cfg
# (kamailio's tls module "config" file). Its REGISTER log lines end in
# "over tls" for what came over TLS (kam_count_register NAME USER "" tls).
# kam_start NAME later restarts it without TLS.
kam_start_tls() {
	local name=$1 ip=$2 cert=${3:-} mode=${4:-none} pw=${5:-$FX_KAM_PASSWORD} d pki vc=no rc=no
	(($# >= 3)) || { echo "usage: kam_start_tls NAME IP CERT [none|optional|require] [PASSWORD]" >&2; return 1; }
	d=$(fx__kam_dir "$name") || return 1
	pki=$(fx__pki_dir) || return 1
	[[ -s $pki/$cert.crt && -s $pki/$cert.key ]] ||
		{ echo "kam_start_tls $name: no certificate '$cert' (tls_ca_init, tls_cert $cert ...)" >&2; return 1; }
	case $mode in
	none) ;;
	optional) vc=yes ;;
	require) vc=yes rc=yes ;;
	*) echo "kam_start_tls $name: client mode none|optional|require, not '$mode'" >&2; return 1 ;;
	esac
	fx__kam_tls_profile kam_start_tls "$name" "$ip" "$cert" "$vc" "$rc" || return 1
	fx__kam_launch kam_start_tls "$name" "$ip" "$FX_KAM_PORT" "$FX_KAM_TEMPLATE" \
		-e "s|@PASSWORD@|$pw|g" -e "s|@TLS_PORT@|$FX_TLS_PORT|g" -e "s|@TLS_CFG@|$d/tls.cfg|g" \
		-- -A WITH_TLS || return 1
	# kamailio binds every listener before it forks: bound once it answers
	if ! fx_tcp_listening "$ip" "$FX_TLS_PORT"; then
		echo "kam_start_tls $name: answers, but nothing listens on $ip:$FX_TLS_PORT" >&2
		return 1
	fi
	echo "$FX_TLS_PORT" >"$d/tls_port"
}

# kam_tls_port NAME / kam_tls_addr NAME: the tls port (IP:port) of an instance
# kam_start_tls started (fails for one without TLS).
kam_tls_port() {
	local d
	d=$(fx__kam_dir "$1") || return 1
	[[ -s $d/tls_port ]] || { echo "kamailio '$1' has no tls listener (kam_start_tls)" >&2; return 1; }
	cat "$d/tls_port"
}
kam_tls_addr() { local p; p=$(kam_tls_port "$1") && echo "$(kam_ip "$1"):$p"; }

# kam_conns NAME: prints the established tcp connections of the instance's
# listeners (tcp port, and the tls port if it has one), one a line, as
# "LOCAL_IP:PORT PEER_IP:PORT".
kam_conns() {
	local ip port tport f
	ip=$(kam_ip "$1") && port=$(kam_port "$1") || return 1
	f="( sport = :$port"
	tport=$(kam_tls_port "$1" 2>/dev/null) && f="$f or sport = :$tport"
	f="$f ) and src $ip"
	ss -Htn state established "$f" 2>/dev/null | awk '{ print $(NF-1), $NF }'
}

# fx__kam_conns_gone NAME CONN...: none of the kam_conns lines CONN is left
# (a client may have connected again meanwhile: new lines do not count).
fx__kam_conns_gone() {
	local now c
	now=$(kam_conns "$1") || return 1
	shift
	for c in "$@"; do
		grep -qxF -- "$c" <<<"$now" && return 1
	done
	return 0
}

# kam_drop_conns NAME: resets every established tcp and tls connection of the
# instance (kamailio itself keeps running and listening): `ss -K` destroys
# the server side socket (SOCK_DESTROY, CONFIG_INET_DIAG_DESTROY, needs
# root), the kernel sends the peer an RST, kamailio sees the connection
# fail and forgets it. Prints how many it reset; waits (bounded, 2 s) until
# none of those is left (a client that connects again at once, as sipuad
# does, RULES G.4, makes a new one). A crash (kam_kill) closes them too,
# with a FIN as the process dies.
kam_drop_conns() {
	local ip port tport f n
	ip=$(kam_ip "$1") && port=$(kam_port "$1") || return 1
	f="( sport = :$port"
	tport=$(kam_tls_port "$1" 2>/dev/null) && f="$f or sport = :$tport"
	f="$f ) and src $ip"
	local -a old
	mapfile -t old < <(kam_conns "$1")
	n=$(ss -Htn -K state established "$f" 2>/dev/null | grep -c . || true)
	echo "$n"
	wait_for 2 "the connections of kamailio '$1' to be gone" fx__kam_conns_gone "$1" "${old[@]}"
}

# ---- listeners that are not (good) TLS servers
# Per listener on IP:PORT, $FX_DIR/listen/IP_PORT/ holds pid (tracked:
# fx_cleanup stops it), mode and log: tcp_listener.py's events, one a line:
# "listening IP:PORT", "accept PEER", "closed PEER", "handshake failed
# PEER: REASON" (tls_listener_accepts counts the accepts).

fx__listen_dir() {
	[[ -n $FX_DIR ]] || { echo "fx_init was not called" >&2; return 1; }
	echo "$FX_DIR/listen/$1_$2"
}

fx__listen_ready() { grep -q '^listening ' "$1/log" 2>/dev/null || ! fx_pid_alive "$(cat "$1/pid")"; }

# fx__listen_start WHO IP PORT MODE [CERT KEY]: starts tcp_listener.py in
# the background and waits (bounded, 5 s) until it listens.
fx__listen_start() {
	local who=$1 ip=$2 port=$3 mode=$4 d jc=0 pid
	shift 4
	[[ $ip =~ ^127\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]] ||
		{ echo "$who: '$ip' is not a loopback IPv4 address" >&2; return 1; }
	fx__is_u16 "$port" || { echo "$who: bad port '$port'" >&2; return 1; }
	d=$(fx__listen_dir "$ip" "$port") || return 1
	if [[ -s $d/pid ]] && fx_pid_alive "$(cat "$d/pid")"; then
		echo "$who: a listener already runs on $ip:$port" >&2
		return 1
	fi
	if fx_tcp_listening "$ip" "$port"; then
		echo "$who: $ip:$port is already in use:" >&2
		ss -Hlnpt "src $ip:$port" >&2
		return 1
	fi
	mkdir -p "$d"
	echo "$mode" >"$d/mode"
	[[ $- == *m* ]] && { jc=1; set +m; }
	python3 "$FX_TCP_LISTENER" "$ip" "$port" "$mode" "$@" </dev/null >>"$d/log" 2>&1 &
	pid=$!
	((jc)) && set -m
	echo "$pid" >"$d/pid"
	fx_track "$pid"
	if ! wait_for 5 "$who on $ip:$port" fx__listen_ready "$d" || ! fx_pid_alive "$pid"; then
		echo "$who: tcp_listener.py did not start: $(tail -n 5 "$d/log")" >&2
		return 1
	fi
}

# tls_plain_listener IP [PORT] [silent|reply]: a plain TCP listener on
# IP:PORT (default $FX_TLS_PORT, 5061) that speaks no TLS: silent (default)
# accepts and reads, never answers (a TLS client's handshake times out);
# reply answers the ClientHello with a plain-text "SIP/2.0 400" and closes
# (the client's handshake fails at once: not a TLS record). Runs until
# tls_listener_stop or fx_cleanup.
tls_plain_listener() {
	local mode=${3:-silent}
	[[ $mode =~ ^(silent|reply)$ ]] || { echo "tls_plain_listener: mode silent|reply, not '$mode'" >&2; return 1; }
	fx__listen_start tls_plain_listener "$1" "${2:-$FX_TLS_PORT}" "$mode"
}

# tls_bad_listener IP [PORT] [nocipher|tls11|close|reset]: a listener on
# IP:PORT (default $FX_TLS_PORT) where every TLS handshake fails: nocipher
# (default) is a TLS server (certificate tls_cert "listener", made if
# missing) that offers TLS 1.2 with NULL ciphers only, so the handshake ends
# with a handshake_failure alert ("no shared cipher"); tls11 the same server
# speaking TLS 1.1 at most (a client that wants 1.2 or later refuses it);
# close accepts and closes at once (FIN before a ServerHello); reset accepts
# and resets (RST).
tls_bad_listener() {
	local mode=${3:-nocipher} pki
	case $mode in
	nocipher | tls11)
		pki=$(fx__pki_dir) || return 1
		[[ -s $pki/listener.crt ]] || tls_cert listener --cn "sipuad bad listener" || return 1
		fx__listen_start tls_bad_listener "$1" "${2:-$FX_TLS_PORT}" "$mode" "$pki/listener.crt" "$pki/listener.key"
		;;
	close | reset) fx__listen_start tls_bad_listener "$1" "${2:-$FX_TLS_PORT}" "$mode" ;;
	*) echo "tls_bad_listener: mode nocipher|tls11|close|reset, not '$mode'" >&2; return 1 ;;
	esac
}

# tls_listener_accepts IP [PORT]: prints how many connections the listener on
# IP:PORT (default $FX_TLS_PORT) accepted so far.
tls_listener_accepts() {
	local d
	d=$(fx__listen_dir "$1" "${2:-$FX_TLS_PORT}") || return 1
	[[ -f $d/log ]] || { echo "no listener on $1:${2:-$FX_TLS_PORT}" >&2; return 1; }
	grep -c '^accept ' "$d/log" || true
}

# tls_listener_log IP [PORT]: prints the path of the listener's event log.
tls_listener_log() { local d; d=$(fx__listen_dir "$1" "${2:-$FX_TLS_PORT}") && echo "$d/log"; }

# tls_listener_stop IP [PORT]: stops the listener on IP:PORT (TERM, up to 3 s,
# then KILL); its log stays.
tls_listener_stop() {
	local d pid
	d=$(fx__listen_dir "$1" "${2:-$FX_TLS_PORT}") || return 1
	[[ -s $d/pid ]] || return 0
	pid=$(cat "$d/pid")
	fx_stop_pid "$pid" 3
	fx_untrack "$pid"
	rm -f "$d/pid"
}

# ---- openssl s_client probes

# tls_probe IP:PORT [S_CLIENT_ARGS...]: one TLS handshake with openssl
# s_client from $FX_LOCAL_IP (-nocommands, stdin /dev/null: it hangs up right after the
# handshake), bounded by $FX_TLS_TIMEOUT s; prints s_client's output (stdout
# and stderr) and returns its status. E.g. what sipuad must do:
#   tls_probe "$(kam_tls_addr a)" -CAfile "$(tls_ca_file)" -verify_return_error \
#       -verify_hostname reg.sipuad.test
# fails (status 1) with "verify error:num=10:certificate has expired" for an
# --expired certificate, num=62 "hostname mismatch" for a wrong name, num=20
# "unable to get local issuer certificate" for the unknown CA. With a
# client certificate: -cert "$(tls_crt client)" -key "$(tls_key client)".
tls_probe() {
	local addr=$1
	shift
	timeout -k 1 "$FX_TLS_TIMEOUT" "$FX_OPENSSL" s_client -connect "$addr" -bind "$FX_LOCAL_IP:0" \
		-nocommands "$@" </dev/null 2>&1
}

# Sessions: an s_client kept open in the background, for what a one-shot
# probe cannot show (the server's alert after a TLS 1.3 handshake, SIP
# requests over the connection, a connection that a fixture drops). Per
# session NAME, $FX_DIR/tls/NAME/ holds in (a FIFO: s_client's stdin), out
# (its stdout and stderr), pid (s_client's) and holder (the PID of what
# keeps the FIFO open, so s_client reads no EOF until tls_session_close).
# A session lives at most $FX_TLS_SESSION_MAX s (120).
FX_TLS_SESSION_MAX=${FX_TLS_SESSION_MAX:-120}

fx__tls_session_dir() {
	[[ -n $FX_DIR ]] || { echo "fx_init was not called" >&2; return 1; }
	[[ $1 =~ ^[A-Za-z0-9_.-]+$ ]] || { echo "bad tls session name '$1'" >&2; return 1; }
	echo "$FX_DIR/tls/$1"
}

fx__tls_session_up() {
	grep -q '^Verify return code' "$1/out" 2>/dev/null || ! fx_pid_alive "$(cat "$1/pid")"
}

# tls_session_open NAME IP:PORT [S_CLIENT_ARGS...]: starts s_client -connect
# IP:PORT (from $FX_LOCAL_IP) -nocommands S_CLIENT_ARGS in the background (bounded by
# $FX_TLS_SESSION_MAX) and waits (bounded, $FX_TLS_TIMEOUT s) until its
# handshake is done or it ended. Succeeds if the handshake completed and
# s_client still runs (with TLS 1.3, a server's refusal of the client's
# certificate comes only after that: tls_session_ended then tells).
tls_session_open() {
	local name=$1 addr=$2 d jc=0 pid
	shift 2
	d=$(fx__tls_session_dir "$name") || return 1
	if [[ -s $d/pid ]] && fx_pid_alive "$(cat "$d/pid")"; then
		echo "tls_session_open $name: already open" >&2
		return 1
	fi
	rm -rf "$d"
	mkdir -p "$d" && mkfifo "$d/in" || return 1
	[[ $- == *m* ]] && { jc=1; set +m; }
	timeout -k 1 "$FX_TLS_SESSION_MAX" "$FX_OPENSSL" s_client -connect "$addr" -bind "$FX_LOCAL_IP:0" -nocommands "$@" \
		<"$d/in" >"$d/out" 2>&1 &
	pid=$!
	echo "$pid" >"$d/pid"
	fx_track "$pid"
	# opening the FIFO for writing waits for s_client's end; the holder
	# keeps it open (and writes nothing) until tls_session_close
	sleep "$FX_TLS_SESSION_MAX" >"$d/in" &
	echo "$!" >"$d/holder"
	fx_track "$!"
	((jc)) && set -m
	wait_for "$FX_TLS_TIMEOUT" "tls session $name to $addr: handshake" fx__tls_session_up "$d" || return 1
	fx_pid_alive "$pid" || { echo "tls_session_open $name: s_client ended: $(tail -n 3 "$d/out")" >&2; return 1; }
}

# tls_session_send NAME [TEXT]: sends TEXT, or without it its stdin, as is
# over the session (give SIP its CRLFs; note that $( ) strips the final
# newline of a message: pipe it in instead).
tls_session_send() {
	local d
	d=$(fx__tls_session_dir "$1") || return 1
	tls_session_alive "$1" || { echo "tls_session_send $1: the session has ended" >&2; return 1; }
	if (($# >= 2)); then
		printf '%s' "$2" >"$d/in"
	else
		cat >"$d/in"
	fi
}

# tls_session_out NAME: prints the path of the session's output (s_client's
# stdout and stderr: handshake details, what the server sent, errors).
tls_session_out() { local d; d=$(fx__tls_session_dir "$1") && echo "$d/out"; }

# tls_session_has NAME ERE: succeeds if the session's output has a line
# matching ERE (for wait_for: wait_for 3 "the 401" tls_session_has s
# 'SIP/2\.0 401'). Do not anchor ERE at ^: s_client's own messages (e.g.
# "Post-Handshake New Session Ticket arrived") may run into a line of what
# the server sent.
tls_session_has() {
	local d
	d=$(fx__tls_session_dir "$1") || return 1
	grep -qE -- "$2" "$d/out"
}

# tls_session_alive NAME: succeeds while the session's s_client runs (the
# connection is up); tls_session_ended NAME: the opposite (for wait_for).
tls_session_alive() {
	local d
	d=$(fx__tls_session_dir "$1") || return 1
	[[ -s $d/pid ]] && fx_pid_alive "$(cat "$d/pid")"
}
tls_session_ended() { ! tls_session_alive "$1"; }

# tls_session_close NAME: ends the session: EOF on s_client's stdin (it sends
# close_notify and hangs up), then waits (bounded, 2 s) for it to exit, else
# kills it.
tls_session_close() {
	local d p
	d=$(fx__tls_session_dir "$1") || return 1
	if [[ -s $d/holder ]]; then
		fx_stop_pid "$(cat "$d/holder")" 2 >/dev/null 2>&1
		fx_untrack "$(cat "$d/holder")"
	fi
	[[ -s $d/pid ]] || return 0
	p=$(cat "$d/pid")
	wait_for 2 "s_client of tls session $1 to hang up" fx__pid_dead "$p" 2>/dev/null ||
		fx_stop_pid "$p" 2 >/dev/null 2>&1
	fx_untrack "$p"
}
