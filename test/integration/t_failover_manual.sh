#!/usr/bin/env bash
# RULES E "failover LINE": the operator switches a line to its next server
# now. The line registers on the backup at once; history gets exactly one
# "failover" whose reason says it was requested; the failovers counter and
# the subscriber stream agree; the other line is not touched. Unknown lines
# are an error reply (exit 1).
# fx-timeout: 90
source "$(dirname "$0")/lib.sh"
fx_init
A=$(fx_ip 1)
B=$(fx_ip 2)
kam_start a "$A" || fail "kamailio a"
kam_start b "$B" || fail "kamailio b"

# failback interval 60 s: the first probe would come after 30 s at the
# earliest, so the line stays on the backup for the whole test.
{
	sipuad_conf_common 100
	cat <<EOF2
lines = (
  { id = "line1"; user = "5801"; domain = "sipuad.test"; password = "s3cr3t-pw";
    servers = ( { host = "$A"; expires = 60; }, { host = "$B"; expires = 60; } );
    heartbeat = { interval = 1; };
    failover  = { retry_count = 3; return_delay = 2; retry_delay = 2; };
    failback  = { enabled = true; interval = 60; }; },
  { id = "line2"; user = "5802"; domain = "sipuad.test"; password = "s3cr3t-pw";
    servers = ( { host = "$A"; expires = 60; }, { host = "$B"; expires = 60; } );
    heartbeat = { interval = 1; };
    failback  = { enabled = true; interval = 60; }; }
);
EOF2
} >"$FX_DIR/sipuad.conf"

sipuad_start "$FX_DIR/sipuad.conf" || fail "sipuad did not start"
wait_for 5 "line1 registered on the primary" sipuad_on line1 0 || fail "line1: $(sipuad_line_json line1)"
wait_for 5 "line2 registered on the primary" sipuad_on line2 0 || fail "line2: $(sipuad_line_json line2)"
wait_for 3 "5802 bound on a" kam_has_contacts a 5802 1 || fail "5802 on a"
cid2=$(kam_contacts a 5802 | cut -f3)
sipuad_subscribe "$FX_DIR/events.jsonl" || fail "subscribe"

r=$(sipuactl_j failover line1) || fail "failover line1: exit $?: $r"
assert_eq "$(jq -c . <<<"$r")" '{"ok":true}' "reply to failover line1"
wait_for 3 "line1 registered on the backup" sipuad_on line1 1 || fail "line1: $(sipuad_line_json line1)"
assert_eq "$(sipuad_line line1 .address)" "$B:5060" "line1 address"
assert_eq "$(sipuad_line line1 .failovers)" 1 "line1 failovers"
assert_eq "$(sipuad_history_count line1 failover)" 1 "failover events"
ev=$(sipuad_history line1 | jq -c 'select(.kind == "failover")')
assert_match "$(jq -r .from <<<"$ev")" "primary.*$A:5060" "failover from"
assert_match "$(jq -r .to <<<"$ev")" "backup.*$B:5060" "failover to"
assert_match "$(jq -r .reason <<<"$ev")" '[Rr]equest' "failover reason says it was requested"
wait_for 3 "5801 bound on b" kam_has_contacts b 5801 1 || fail "5801 on b"
# (not asserted: whether the old binding at the live primary is released)
fx_log "the primary holds $(kam_contact_count a 5801) binding(s) of line1 after the switch"
wait_for 3 "failover streamed" sipuad_stream_has "$FX_DIR/events.jsonl" failover line1 1 ||
	fail "stream: $(cat "$FX_DIR/events.jsonl")"

# Stays there (3 s observation window), the other line untouched.
for ((i = 0; i < 6; i++)); do
	sipuad_on line1 1 || fail "line1 left the backup: $(sipuad_line_json line1)"
	sleep 0.5
done
assert_eq "$(sipuad_history_count line1 failover)" 1 "failover events after the window"
sipuad_on line2 0 || fail "line2 disturbed: $(sipuad_line_json line2)"
assert_eq "$(sipuad_line line2 .failovers)" 0 "line2 failovers"
assert_eq "$(kam_contacts a 5802 | cut -f3)" "$cid2" "line2's binding (Call-ID) unchanged"
assert_eq "$(sipuad_stream_count "$FX_DIR/events.jsonl" failover line2)" 0 "line2 failovers streamed"

# Unknown line: an error reply, exit status 1.
rc=0
r=$(sipuactl_j failover nosuchline) || rc=$?
assert_eq "$rc" 1 "exit status of failover on an unknown line"
assert_eq "$(jq -r .ok <<<"$r")" false "reply to failover on an unknown line"

sipuad_stop 6 || fail "sipuad exit status $?"
assert_eq "$(kam_contact_count b 5801)" 0 "5801 un-REGISTERed at SIGTERM"
assert_eq "$(kam_contact_count a 5802)" 0 "5802 un-REGISTERed at SIGTERM"
pass
