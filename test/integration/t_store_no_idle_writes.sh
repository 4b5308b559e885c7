#!/usr/bin/env bash
# RULES D: writes happen on state changes, not on a clock (these devices
# store to flash). Over several refresh cycles (the registrar grants 10 s)
# and many heartbeats in steady state, the database and its WAL do not
# change by a single byte.
source "$(dirname "$0")/lib.sh"
fx_init
kam_start a "$(fx_ip 1)" || fail "kamailio a"
A=$(fx_ip 1)
{
	sipuad_conf_common
	cat <<EOF
lines = ( { id = "line1"; user = "9101"; domain = "sipuad.test"; password = "s3cr3t-pw";
            servers = ( { host = "$A"; expires = 10; } ); heartbeat = { interval = 1; }; } );
EOF
} >"$FX_DIR/sipuad.conf"
sipuad_start "$FX_DIR/sipuad.conf" || fail "sipuad did not start"
wait_for 5 "line1 registered" sipuad_line_is line1 .state registered || fail "line1"

db() { cat "$FX_DIR"/state.db "$FX_DIR"/state.db-wal 2>/dev/null | md5sum; }
saves() { grep -c 'REGISTER sip:9101@sipuad.test.*saved' "$(kam_log a)"; }
before=$(db)
n0=$(saves)
refreshed() { (($(saves) >= n0 + 2)); }
# Two refreshes of a 10 s registration take up to 20 s; heartbeats every 1 s.
wait_for 25 "two refreshes at the registrar" refreshed || fail "no refreshes: $(saves) saves"
heartbeats=$(sipuad_sent | grep -c '^OPTIONS ')
((heartbeats >= 5)) || fail "only $heartbeats heartbeats"
assert_eq "$(sipuad_line line1 .state)" registered "steady state"
assert_eq "$(db)" "$before" "database bytes after $(($(saves) - n0)) refreshes and $heartbeats heartbeats"
pass
