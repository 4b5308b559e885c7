#!/usr/bin/env bash
# RULES I.1, clock steps: the daemon runs under libfaketime with only
# CLOCK_REALTIME faked (its offset read from a file this test rewrites), as a
# device whose RTC ran ahead and whose NTP then syncs. Kamailio is not under
# faketime: its expiry clock is the real one.
#  - Wall clock one hour back while the first transmission of a refresh is
#    lost (the primary drops it): Sofia's retransmission timer, set before
#    the step, must still fire T1 later, so the retransmission gets through
#    within the retry budget. For more than a full registration interval
#    the binding stays fresh in Kamailio's own view (its remaining expires
#    goes back up), the line stays on the primary, no failover.
#  - Wall clock one hour forward while a refresh's first transmission is
#    lost: Sofia's timeout (64*T1) must not fire at once; the retransmission
#    gets through. No burst of REGISTERs, the same binding (Call-ID), no
#    failover, no error in the history.
# The daemon's own deadlines (refresh, retry budget, heartbeat) are
# monotonic anyway, and a Sofia timer set after a step runs on the stepped
# clock consistently: what breaks without RULES I.1 is a Sofia timer set
# before the step, i.e. a request in flight when the clock steps. Without
# it, back: no retransmission, the budget runs out, failover to b; forward:
# nta's timeout fires at once (a local 408), failover to b.
# fx-timeout: 150
source "$(dirname "$0")/lib.sh"
fx_init

FAKETIME_LIB=$(dpkg -L libfaketime 2>/dev/null | grep '/libfaketime\.so\.1$' | head -n 1)
[[ -n $FAKETIME_LIB && -f $FAKETIME_LIB ]] ||
	fail "libfaketime not installed (Debian package faketime; sh scripts/deps.sh)"
# A gcc ASan build links libasan dynamically and wants it first among the
# preloaded libraries: preload it ahead of libfaketime.
preload=$FAKETIME_LIB
asan_lib=$(ldd "$SIPUAD_BIN" | awk '/libasan\.so/ { print $3; exit }')
[[ -n $asan_lib ]] && preload=$asan_lib:$FAKETIME_LIB

A=$(fx_ip 1)
B=$(fx_ip 2)
kam_start a "$A" || fail "kamailio a"
kam_start b "$B" || fail "kamailio b"

EXPIRES=20
{
	sipuad_conf_common 500
	cat <<EOF2
lines = (
  { id = "line1"; user = "6201"; domain = "sipuad.test"; password = "s3cr3t-pw";
    servers = ( { host = "$A"; expires = $EXPIRES; }, { host = "$B"; expires = $EXPIRES; } );
    heartbeat = { interval = 2; };
    failover  = { retry_count = 3; return_delay = 2; retry_delay = 2; };
    failback  = { enabled = true; interval = 4; }; }
);
EOF2
} >"$FX_DIR/sipuad.conf"

offset_file=$FX_DIR/faketime.offset
echo "+0" >"$offset_file"
SIPUAD_ENV=(LD_PRELOAD="$preload" FAKETIME_TIMESTAMP_FILE="$offset_file" FAKETIME_NO_CACHE=1
	FAKETIME_DONT_FAKE_MONOTONIC=1)
sipuad_start "$FX_DIR/sipuad.conf" || fail "sipuad did not start"
wait_for 5 "line1 registered on the primary" sipuad_on line1 0 || fail "line1: $(sipuad_line_json line1)"
wait_for 3 "6201 bound on a" kam_has_contacts a 6201 1 || fail "6201 on a"
cid=$(kam_contacts a 6201 | cut -f3)
[[ -n $cid ]] || fail "no Call-ID for 6201's binding on a"

# The daemon's log stamps lines with its wall clock: the newest one tells how
# far that clock is from the real one (seconds, modulo a day) - proof that
# the preload works, so the test is not vacuous.
daemon_clock_offset() {
	local hms h m s t
	hms=$(grep -oE '^[0-9]{2}:[0-9]{2}:[0-9]{2}' "$FX_DIR/sipuad.log" | tail -n 1)
	[[ -n $hms ]] || return 1
	IFS=: read -r h m s <<<"$hms"
	t=$((10#$h * 3600 + 10#$m * 60 + 10#$s))
	IFS=: read -r h m s <<<"$(date +%T)" # local time, as the daemon's log
	echo $(((t - (10#$h * 3600 + 10#$m * 60 + 10#$s) + 86400 + 43200) % 86400 - 43200))
}
daemon_clock_is() {
	local o
	o=$(daemon_clock_offset) || return 1
	((o >= $1 - 5 && o <= $1 + 5)) || { echo "daemon clock is ${o}s off, want $1" >&2; return 1; }
}
# Everything a clock step may not change, checked at every observation.
steady() {
	sipuad_on line1 0 || fail "$1: line1 left the primary: $(sipuad_line_json line1)"
	local b
	b=$(kam_contacts a 6201) || fail "$1: kamcmd on a"
	[[ -n $b ]] || fail "$1: 6201's binding expired on a while the daemon says $(sipuad_line line1 .state)"
	[[ $(cut -f3 <<<"$b") == "$cid" ]] || fail "$1: the binding changed Call-ID: $b"
	cut -f2 <<<"$b"
}

# lose_next_register OFFSET: the primary drops REGISTERs until it has dropped
# one (the first transmission of the next refresh, due within 75 % of
# EXPIRES), then serves them again: T1 (500 ms) later Sofia retransmits. The
# daemon's clock offset is set to OFFSET right after the drop, while the
# REGISTER is in flight.
dropped() { kam_log_count a 'dropping REGISTER'; }
more_dropped() { (($(dropped) > d0)); }
lose_next_register() {
	d0=$(dropped)
	kam_force a reg_code -1 || fail "kam_force reg_code -1"
	wait_for $((EXPIRES * 3 / 4 + 2)) "a refresh REGISTER dropped by a" more_dropped ||
		{ kam_force a reg_code 0; fail "no refresh REGISTER came: $(sipuad_line_json line1)"; }
	echo "$1" >"$offset_file"
	kam_force a reg_code 0 || fail "kam_force reg_code 0"
	fx_log "a dropped the first transmission of a refresh; clock offset now $1"
}

# --- one hour back, with a REGISTER in flight.
r0=$(kam_count_register a 6201 saved)
fx_log "stepping the daemon's wall clock back by 3600 s with a refresh in flight"
lose_next_register "-3600"
wait_for 5 "the daemon's clock one hour back" daemon_clock_is -3600 ||
	fail "libfaketime did not step the daemon's clock (preload $preload)"
# observation: more than a full registration interval, every 0.5 s
window=$((EXPIRES + 6))
prev=$(steady "back") || exit 1
lowest=$prev
rises=0
end=$(($(fx__now_ms) + window * 1000))
while (($(fx__now_ms) < end)); do
	sleep 0.5
	ex=$(steady "back") || exit 1
	((ex < lowest)) && lowest=$ex
	((ex > prev)) && rises=$((rises + 1))
	prev=$ex
done
r1=$(kam_count_register a 6201 saved)
fx_log "back: ${window}s, binding refreshed $rises time(s) ($((r1 - r0)) REGISTERs saved), lowest remaining expires ${lowest}s"
((rises >= 1)) || fail "the binding was not refreshed in ${window}s after the step back (expires $EXPIRES)"
assert_eq "$(sipuad_line line1 .failovers)" 0 "failovers after the step back"

# --- one hour forward (back to the real time), with a REGISTER in flight.
fx_log "stepping the daemon's wall clock forward by 3600 s with a refresh in flight"
lose_next_register "+0"
wait_for 5 "the daemon's clock back on time" daemon_clock_is 0 ||
	fail "libfaketime did not step the daemon's clock forward"
window=12
end=$(($(fx__now_ms) + window * 1000))
while (($(fx__now_ms) < end)); do
	steady "forward" >/dev/null || exit 1
	sleep 0.5
done
r2=$(kam_count_register a 6201 saved)
# a refresh is due every 50-75 % of 20 s: at most two in 12 s
fx_log "forward: ${window}s, $((r2 - r1)) REGISTERs saved"
(((r2 - r1) <= 2)) || fail "a burst of $((r2 - r1)) REGISTERs in ${window}s after the step forward"
assert_eq "$(sipuad_line line1 .failovers)" 0 "failovers after the step forward"
assert_eq "$(sipuad_history_count line1 failover)" 0 "failover events in the history"
assert_eq "$(sipuad_history_count line1 error)" 0 "error events in the history"
assert_eq "$(kam_contact_count b 6201)" 0 "bindings on b"
grep -q "Sofia-SIP's timers run on CLOCK_MONOTONIC" "$FX_DIR/sipuad.log" ||
	fail "the daemon did not log which clock Sofia-SIP uses"
pass
