#!/usr/bin/env bash
# 423: the retry asks for the server's Min-Expires and is granted it; the
# registration refreshes before the expiry the server granted, which may be
# shorter than the one asked for (RULES A.4, A.5). sipp plays the registrar
# and fails its scenario when a request does not come as required.
source "$(dirname "$0")/lib.sh"
fx_init
C=$(fx_ip 3)
D=$(fx_ip 4)

{
	sipuad_conf_common
	cat <<EOF
lines = (
  { id = "l423"; user = "3001"; domain = "sipuad.test"; password = "pw-423";
    servers = ( { host = "$C"; expires = 60; } ); },
  { id = "short"; user = "3002"; domain = "sipuad.test"; password = "pw-short";
    servers = ( { host = "$D"; expires = 3600; } ); }
);
EOF
} >"$FX_DIR/sipuad.conf"

sipp_uas uas_register_423 "$C" || fail "sipp 423 did not start"
P423=$SIPP_UAS_PID
M423=$SIPP_UAS_MSG
sipp_uas uas_register_grant_short "$D" || fail "sipp short did not start"
PSHORT=$SIPP_UAS_PID
MSHORT=$SIPP_UAS_MSG
sipuad_start "$FX_DIR/sipuad.conf" || fail "sipuad did not start"

wait_for 5 "l423 registered" sipuad_line_is l423 .state registered || fail "l423"
exp=$(sipuad_line l423 .expires_in)
((exp > 110 && exp <= 120)) || fail "l423 expires_in $exp, want Min-Expires 120"
# Learned and kept (RULES D): after a restart the line asks for 120 at once.
assert_eq "$(sqlite3 "$FX_DIR/state.db" "SELECT min_expires FROM line_state WHERE id = 'l423'")" 120 \
	"learned Min-Expires stored"

wait_for 5 "short registered" sipuad_line_is short .state registered || fail "short"
exp=$(sipuad_line short .expires_in)
((exp <= 10)) || fail "short expires_in $exp: must follow the granted 10 s, not the 3600 asked"

# The scenario waits at most 10 s for the refresh; the line must still be
# registered after it.
refreshes() { (($(grep -c '^REGISTER ' "$MSHORT") >= 2)); }
wait_for 12 "a refresh within the granted 10 s" refreshes || fail "no refresh reached sipp"
wait_for 2 "short registered after its refresh" sipuad_line_is short .state registered ||
	fail "short lost its registration"

sipuad_stop 6 || fail "sipuad exit status $?"
SIPP_UAS_PID=$P423 sipp_uas_wait 5 || fail "sipp 423 scenario failed: $(grep -v '^$' "${M423%.msg}.err" 2>/dev/null | tail -5)"
SIPP_UAS_PID=$PSHORT sipp_uas_wait 5 || fail "sipp short scenario failed: $(grep -v '^$' "${MSHORT%.msg}.err" 2>/dev/null | tail -5)"
pass
