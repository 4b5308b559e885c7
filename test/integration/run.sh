#!/bin/bash
# run.sh BUILD_DIR [PATTERN] - runs sipuad's integration tests.
#
# Runs every test/integration/t_*.sh whose name (without t_ and .sh, or with
# t_) matches the extended regular expression PATTERN (default: all), one
# after the other, each in its own bash process under `timeout` (default
# 120 s; a test may ask for more with a line "# fx-timeout: SECONDS"). When
# possible each test runs as PID 1 of a private PID namespace (unshare --pid
# --fork --mount-proc), so whatever it leaves behind is killed when it ends, and
# orphans are reaped by the test's shell; FX_NO_PIDNS=1 turns that off.
# Prints "PASS name (Ns)" or "FAIL name (Ns)" per test, the output of failed
# tests only, and finally exactly "integration: N passed, N failed".
# Exit status: 0 if all passed, 1 if any failed, 2 if it could not run.
#
# Exports SIPUAD_BIN and SIPUACTL_BIN (BUILD_DIR/sipuad, BUILD_DIR/sipuactl,
# absolute). BUILD_DIR may be missing when only t_fixture_* tests are chosen.
# Needs root, kamailio, kamcmd, sipp, ss, jq, timeout, setsid.
# Logs: $IT_LOG_DIR or a new /tmp/sipuad-it-logs.XXXXXX; removed when all
# passed (unless KEEP=1), kept and named otherwise.
set -u

here=$(cd "$(dirname "$0")" && pwd)
die() {
	echo "run.sh: $*" >&2
	exit 2
}

(($# >= 1 && $# <= 2)) || die "usage: run.sh BUILD_DIR [NAME_PATTERN]"
build=$(realpath -m -- "$1")
pattern=${2:-}

((EUID == 0)) || die "must run as root (kamailio binds 127.0.0.x:5060, tests kill/pause process groups)"
missing=()
for c in kamailio kamcmd sipp ss jq timeout setsid awk; do
	command -v "$c" >/dev/null 2>&1 || missing+=("$c")
done
((${#missing[@]} == 0)) || die "missing tools: ${missing[*]} (Debian: apt-get install kamailio sip-tester iproute2 jq; see scripts/deps.sh)"

tests=()
need_bins=0
for f in "$here"/t_*.sh; do
	[[ -e $f ]] || continue
	name=$(basename "$f" .sh)
	name=${name#t_}
	# the pattern may name a test with its t_ prefix too (t_fixture_calls)
	if [[ -n $pattern ]] && ! [[ $name =~ $pattern || t_$name =~ $pattern ]]; then continue; fi
	tests+=("$f")
	[[ $name == fixture* ]] || need_bins=1
done
((${#tests[@]} > 0)) || die "no test matches '${pattern}'"

export SIPUAD_BIN=$build/sipuad
export SIPUACTL_BIN=$build/sipuactl
if ((need_bins)); then
	[[ -x $SIPUAD_BIN ]] || die "no executable $SIPUAD_BIN (build first: make)"
	[[ -x $SIPUACTL_BIN ]] || die "no executable $SIPUACTL_BIN (build first: make)"
fi

pidns=()
if [[ ${FX_NO_PIDNS:-0} != 1 ]] && unshare --pid --fork --mount-proc true 2>/dev/null; then
	pidns=(unshare --pid --fork --mount-proc)
fi

logdir=${IT_LOG_DIR:-}
if [[ -z $logdir ]]; then
	logdir=$(mktemp -d "${TMPDIR:-/tmp}/sipuad-it-logs.XXXXXX") || die "mktemp failed"
else
	mkdir -p "$logdir" || die "cannot create $logdir"
fi

child=
interrupted=0
on_signal() {
	interrupted=1
	if [[ -n $child ]]; then
		kill -TERM "$child" 2>/dev/null # timeout passes it on to the test
	fi
}
trap on_signal INT TERM HUP

passed=0
failed=0
for f in "${tests[@]}"; do
	name=$(basename "$f" .sh)
	name=${name#t_}
	limit=$(sed -n 's/^# fx-timeout: *\([0-9][0-9]*\).*/\1/p' "$f" | head -n 1)
	limit=${limit:-${IT_TIMEOUT:-120}}
	log=$logdir/$name.log
	t0=$SECONDS
	FX_TEST=$name timeout -k 10 "$limit" "${pidns[@]}" bash "$f" >"$log" 2>&1 </dev/null &
	child=$!
	# wait returns early when a trapped signal arrives; wait again for the end
	rc=0
	while :; do
		wait "$child"
		rc=$?
		kill -0 "$child" 2>/dev/null || break
	done
	child=
	dt=$((SECONDS - t0))
	if ((rc == 0)); then
		echo "PASS $name (${dt}s)"
		passed=$((passed + 1))
	else
		why=
		((rc == 124)) && why=", timed out after ${limit}s"
		((rc == 137)) && why=", killed"
		echo "FAIL $name (${dt}s) (exit $rc$why) - log: $log"
		sed 's/^/    | /' "$log"
		failed=$((failed + 1))
	fi
	((interrupted)) && {
		echo "run.sh: interrupted" >&2
		break
	}
done

if ((failed == 0 && interrupted == 0)) && [[ ${KEEP:-0} != 1 && -z ${IT_LOG_DIR:-} ]]; then
	rm -rf "$logdir"
else
	echo "logs: $logdir"
fi
echo "integration: $passed passed, $failed failed"
((failed == 0 && interrupted == 0))
