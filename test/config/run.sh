#!/bin/sh
# run.sh - golden tests of the config parser (RULES E): good/*.conf must pass
# `sipuad -nv` printing exactly good/NAME.ok; bad/*.conf must fail `sipuad -n`
# with exit 1 and exactly bad/NAME.err on stderr.
#
# usage: sh test/config/run.sh path/to/sipuad
# Each file runs from inside its directory, so messages name it relatively
# (bad/t1_low.conf runs as `cd bad && sipuad -n -c t1_low.conf`).
# UPDATE=1 rewrites the .ok/.err files from the current output instead of
# comparing (review the git diff afterwards).
#
# A file too big to commit (a thousand lines) is written by a NAME.gen
# script instead: `sh NAME.gen` prints NAME.conf, which runs from a scratch
# directory. bad/NAME.gen is checked against bad/NAME.err as above;
# good/NAME.gen must pass `sipuad -n` printing nothing (its canonical form
# would be as big as the file).

if [ $# -ne 1 ]; then
	echo "usage: $0 SIPUAD" >&2
	exit 2
fi
case $1 in
/*) bin=$1 ;;
*) bin=$(pwd)/$1 ;;
esac
if [ ! -x "$bin" ]; then
	echo "$0: $bin is not an executable" >&2
	exit 2
fi

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sipuad-config.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
trap 'exit 2' HUP INT TERM

passed=0
failed=0
# A password of bad/password_not_shown.conf: RULES D says it never shows.
secret=hunter2-secret

pass() {
	passed=$((passed + 1))
	echo "ok   $1"
}

fail() {
	failed=$((failed + 1))
	echo "FAIL $1: $2"
}

# check NAME WANT_RC GOT_RC EXPECTED ACTUAL OTHER_STREAM
# Compares exit code and output; OTHER_STREAM (the stream that must stay
# empty) is shown when it is not.
check() {
	name=$1 want_rc=$2 got_rc=$3 expected=$4 actual=$5 other=$6
	if [ "$got_rc" -ne "$want_rc" ]; then
		fail "$name" "exit code $got_rc, expected $want_rc"
		sed 's/^/    | /' "$actual" "$other"
		return
	fi
	if [ -s "$other" ]; then
		fail "$name" "unexpected output on the other stream"
		sed 's/^/    | /' "$other"
		return
	fi
	if grep -q "$secret" "$actual" "$other"; then
		fail "$name" "the password \"$secret\" appears in the output"
		return
	fi
	if [ ! -f "$expected" ]; then
		fail "$name" "no golden file $(basename "$expected")"
		sed 's/^/    | /' "$actual"
		return
	fi
	if ! diff -u "$expected" "$actual" > "$tmp/diff"; then
		fail "$name" "output differs from $(basename "$expected")"
		sed 's/^/    /' "$tmp/diff"
		return
	fi
	pass "$name"
}

for conf in "$here"/good/*.conf; do
	[ -e "$conf" ] || continue
	f=$(basename "$conf")
	n=${f%.conf}
	(cd "$here/good" && "$bin" -nv -c "$f") > "$tmp/out" 2> "$tmp/err"
	rc=$?
	if [ "${UPDATE:-0}" = 1 ] && [ $rc -eq 0 ]; then
		cp "$tmp/out" "$here/good/$n.ok"
	fi
	check "good/$f" 0 $rc "$here/good/$n.ok" "$tmp/out" "$tmp/err"
done

for conf in "$here"/bad/*.conf; do
	[ -e "$conf" ] || continue
	f=$(basename "$conf")
	n=${f%.conf}
	(cd "$here/bad" && "$bin" -n -c "$f") > "$tmp/out" 2> "$tmp/err"
	rc=$?
	if [ "${UPDATE:-0}" = 1 ] && [ $rc -eq 1 ]; then
		cp "$tmp/err" "$here/bad/$n.err"
	fi
	check "bad/$f" 1 $rc "$here/bad/$n.err" "$tmp/err" "$tmp/out"
done

mkdir "$tmp/gen" || exit 2

for gen in "$here"/good/*.gen; do
	[ -e "$gen" ] || continue
	n=$(basename "$gen" .gen)
	sh "$gen" > "$tmp/gen/$n.conf" || { fail "good/$n.gen" "generator failed"; continue; }
	(cd "$tmp/gen" && "$bin" -n -c "$n.conf") > "$tmp/out" 2> "$tmp/err"
	rc=$?
	if [ $rc -ne 0 ] || [ -s "$tmp/out" ] || [ -s "$tmp/err" ]; then
		fail "good/$n.gen" "sipuad -n: exit code $rc"
		sed 's/^/    | /' "$tmp/out" "$tmp/err"
	else
		pass "good/$n.gen"
	fi
done

for gen in "$here"/bad/*.gen; do
	[ -e "$gen" ] || continue
	n=$(basename "$gen" .gen)
	sh "$gen" > "$tmp/gen/$n.conf" || { fail "bad/$n.gen" "generator failed"; continue; }
	(cd "$tmp/gen" && "$bin" -n -c "$n.conf") > "$tmp/out" 2> "$tmp/err"
	rc=$?
	if [ "${UPDATE:-0}" = 1 ] && [ $rc -eq 1 ]; then
		cp "$tmp/err" "$here/bad/$n.err"
	fi
	check "bad/$n.gen" 1 $rc "$here/bad/$n.err" "$tmp/err" "$tmp/out"
done

# The shipped example must load as it is (without -v: nothing printed).
(cd "$top/config" && "$bin" -n -c sipuad.conf) > "$tmp/out" 2> "$tmp/err"
rc=$?
if [ $rc -ne 0 ] || [ -s "$tmp/out" ] || [ -s "$tmp/err" ]; then
	fail "config/sipuad.conf" "sipuad -n: exit code $rc"
	sed 's/^/    | /' "$tmp/out" "$tmp/err"
else
	pass "config/sipuad.conf"
fi

# A file that does not exist is an error too, not a daemon with defaults.
(cd "$tmp" && "$bin" -n -c no-such-file.conf) > "$tmp/out" 2> "$tmp/err"
rc=$?
if [ $rc -ne 1 ] || [ -s "$tmp/out" ] || ! grep -q "^no-such-file.conf: " "$tmp/err"; then
	fail "missing file" "sipuad -n: exit code $rc"
	sed 's/^/    | /' "$tmp/out" "$tmp/err"
else
	pass "missing file"
fi

echo "config: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
