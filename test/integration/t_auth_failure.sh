#!/usr/bin/env bash
# A wrong password is an authentication failure shown as such, not a loop
# (RULES A.4: one answer per challenge); the good line beside it is not
# disturbed; no password appears in the debug log or in status output.
source "$(dirname "$0")/lib.sh"
fx_init
GOOD=Zq9-good-Secret-Zq9
BAD=Xk7-wrong-Secret-Xk7
kam_start a "$(fx_ip 1)" "$GOOD" || fail "kamailio a"
A=$(fx_ip 1)

{
	sipuad_conf_common
	cat <<EOF
lines = (
  { id = "good"; user = "2001"; domain = "sipuad.test"; password = "$GOOD";
    display_name = "Good \"line\"";
    servers = ( { host = "$A"; expires = 60; } ); },
  { id = "bad"; user = "2002"; domain = "sipuad.test"; auth_user = "2002"; password = "$BAD";
    servers = ( { host = "$A"; expires = 60; } );
    failover = { retry_delay = 60; }; }
);
EOF
} >"$FX_DIR/sipuad.conf"

sipuad_start "$FX_DIR/sipuad.conf" || fail "sipuad did not start"
wait_for 5 "good registered" sipuad_line_is good .state registered || fail "good"
wait_for 5 "bad shows the 401" sipuad_line_is bad .last_error.code 401 || fail "bad shows 401"
assert_eq "$(sipuad_line bad .state)" "failed" "bad shows failed until its retry"
assert_eq "$(sipuad_line bad .registered)" "false" "bad not registered"
assert_match "$(sipuad_line bad .last_error.reason)" "authentication failed" "reason says auth"
# Storm control: timer 2 jittered to a uniform 50-100 % of retry_delay (60 s).
next=$(sipuad_line bad .next_attempt_in)
((next >= 30 && next <= 60)) || fail "next attempt within 50-100 % of retry_delay (60 s), got $next"

# Exactly two REGISTERs from 2002 reached the registrar: the first, and the
# one answering the challenge; the second challenge is not answered.
n=$(grep -c 'REGISTER sip:2002@sipuad.test.*challenge' "$(kam_log a)")
assert_eq "$n" 2 "REGISTERs of the bad line that were challenged"
assert_eq "$(kam_contact_count a 2002)" 0 "no binding for the bad line"
assert_eq "$(kam_contact_count a 2001)" 1 "the good line is bound"

status=$(sipuactl_j status)
sipuad_stop 6 || fail "sipuad exit status $?"
for pw in "$GOOD" "$BAD"; do
	! grep -qF -- "$pw" "$FX_DIR/sipuad.log" || fail "password '$pw' found in the log"
	! grep -qF -- "$pw" <<<"$status" || fail "password '$pw' found in status"
done
# The log is a real debug log with the SIP trace (so the check above means something).
grep -q 'Authorization: Digest' "$FX_DIR/sipuad.log" || fail "debug log has no SIP trace"
pass
