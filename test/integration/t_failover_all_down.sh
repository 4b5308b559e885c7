#!/usr/bin/env bash
# RULES C "all servers unavailable": both Kamailio crash. The line tries the
# primary, then the backup, then reports the failure: state failed, not
# registered, last_error and next_attempt_in set (no more than return_delay
# away at first). It starts over from the primary after return_delay
# (jittered, backing off on repeated full failures): once the primary is
# back the line registers there again, within a bounded time.
# fx-timeout: 90
source "$(dirname "$0")/lib.sh"
fx_init
A=$(fx_ip 1)
B=$(fx_ip 2)
kam_start a "$A" || fail "kamailio a"
kam_start b "$B" || fail "kamailio b"

RD=2
{
	sipuad_conf_common 100
	cat <<EOF2
lines = (
  { id = "line1"; user = "5901"; domain = "sipuad.test"; password = "s3cr3t-pw";
    servers = ( { host = "$A"; expires = 60; }, { host = "$B"; expires = 60; } );
    heartbeat = { interval = 1; };
    failover  = { retry_count = 3; return_delay = $RD; retry_delay = 2; };
    failback  = { enabled = true; interval = 2; }; }
);
EOF2
} >"$FX_DIR/sipuad.conf"

sipuad_start "$FX_DIR/sipuad.conf" || fail "sipuad did not start"
wait_for 5 "line1 registered on the primary" sipuad_on line1 0 || fail "line1: $(sipuad_line_json line1)"

fx_log "killing both servers"
# both at once: killed one after the other (each waits for its group to
# die), a heartbeat in between could still register on the backup, and
# the line would count one more pass (seen with the ASan suite beside)
kam_kill a &
ka=$!
kam_kill b || fail "kam_kill b"
wait "$ka" || fail "kam_kill a"

# heartbeat 1 s, ICMP on the primary and then on the backup: a few seconds.
failed_with_error() {
	local j
	j=$(sipuad_line_json line1) || return 1
	jq -e '.state == "failed" and .registered == false and .last_error != null and
		.next_attempt_in != null' <<<"$j" >/dev/null || { echo "line1: $j" >&2; return 1; }
}
wait_for 6 "line1 failed after both failed" failed_with_error || fail "line1 does not report the failure"
j=$(sipuad_line_json line1)
fx_log "failed: $j"
next=$(jq -r .next_attempt_in <<<"$j")
((next >= 0 && next <= RD)) || fail "next_attempt_in $next, want at most return_delay ($RD s) after the first full failure"
assert_match "$(jq -r .last_error.reason <<<"$j")" "$B:5060" "last_error names the last server tried"
assert_ne "$(jq -r .last_error.at <<<"$j")" null "last_error.at"
fx_log "history: $(sipuad_history line1 | jq -c '[.kind, .from, .to, .reason]' | paste -sd' ')"
(($(sipuad_history_count line1 failover) >= 1)) || fail "no failover event on the way to the backup"

# One more full pass fails: a second "error" event (the attempts hit ICMP
# errors at once, too quickly to catch the state in between).
e0=$(sipuad_history_count line1 error)
(( e0 >= 1 )) || fail "no error event for the first full failure"
t0=$(fx__now_ms)
more_errors() { (($(sipuad_history_count line1 error) > e0)); }
wait_for $((RD + 4)) "line1 fails a second full pass" more_errors ||
	fail "line1 never tried again: $(sipuad_line_json line1)"
wait_for 2 "line1 failed again" failed_with_error || fail "line1 does not report the second failure"
j=$(sipuad_line_json line1)
fx_log "second failure after $(($(fx__now_ms) - t0)) ms: next_attempt_in $(jq -r .next_attempt_in <<<"$j") s (backing off)"
assert_eq "$(sipuad_line line1 .registered)" false "registered after the second pass"

fx_log "restarting the primary"
kam_start a "$A" || fail "restart of kamailio a"
# next_attempt_in (backoff: at most 2*RD after two failures) + the attempt.
bound=$(($(sipuad_line line1 .next_attempt_in) + 4))
t0=$(fx__now_ms)
wait_for "$bound" "line1 registered on the primary again" sipuad_on line1 0 ||
	fail "line1 did not come back: $(sipuad_line_json line1)"
fx_log "registered on the primary $(($(fx__now_ms) - t0)) ms after its restart"
assert_eq "$(sipuad_line line1 .address)" "$A:5060" "address"
assert_eq "$(sipuad_line line1 .next_attempt_in)" null "nothing scheduled once registered"
wait_for 3 "5901 bound on a" kam_has_contacts a 5901 1 || fail "5901 on a"
assert_match "$(kam_contacts a 5901 | cut -f1)" ';srv=0' "contact at the primary"

sipuad_stop 6 || fail "sipuad exit status $?"
assert_eq "$(kam_contact_count a 5901)" 0 "5901 un-REGISTERed at SIGTERM"
pass
