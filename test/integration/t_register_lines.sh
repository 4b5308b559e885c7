#!/usr/bin/env bash
# Several lines register independently on the first server (UDP and TCP),
# with digest auth; Kamailio's own location table shows each binding; a
# disabled line stays quiet; SIGTERM removes every binding before exit.
source "$(dirname "$0")/lib.sh"
fx_init
kam_start a "$(fx_ip 1)" || fail "kamailio a"
kam_start b "$(fx_ip 2)" || fail "kamailio b"
A=$(fx_ip 1)
B=$(fx_ip 2)

{
	sipuad_conf_common
	cat <<EOF
lines = (
  { id = "udp1"; user = "1001"; domain = "sipuad.test"; password = "s3cr3t-pw";
    servers = ( { host = "$A"; port = 5060; transport = "udp"; expires = 60; },
                { host = "$B"; port = 5060; transport = "udp"; expires = 60; } ); },
  { id = "tcp1"; user = "1002"; domain = "sipuad.test"; password = "s3cr3t-pw";
    servers = ( { host = "$A"; transport = "tcp"; expires = 120; } ); },
  { id = "off1"; enabled = false; user = "1003"; domain = "sipuad.test"; password = "s3cr3t-pw";
    servers = ( { host = "$A"; } ); }
);
EOF
} >"$FX_DIR/sipuad.conf"

sipuad_start "$FX_DIR/sipuad.conf" || fail "sipuad did not start"
wait_for 5 "udp1 registered" sipuad_line_is udp1 .state registered || fail "udp1"
wait_for 5 "tcp1 registered" sipuad_line_is tcp1 .state registered || fail "tcp1"

assert_eq "$(sipuad_line udp1 .address)" "$A:5060" "udp1 address"
assert_eq "$(sipuad_line udp1 .server.role)" "primary" "udp1 role"
assert_eq "$(sipuad_line udp1 .registered)" "true" "udp1 registered flag"
assert_eq "$(sipuad_line tcp1 .server.transport)" "tcp" "tcp1 transport"
assert_eq "$(sipuad_line tcp1 .server.port)" "5060" "omitted port on an IP literal is 5060"
exp=$(sipuad_line udp1 .expires_in)
((exp > 50 && exp <= 60)) || fail "udp1 expires_in $exp, want the granted 60 s minus a little"
exp=$(sipuad_line tcp1 .expires_in)
((exp > 110 && exp <= 120)) || fail "tcp1 expires_in $exp, want about 120"
assert_eq "$(sipuad_line off1 .state)" "disabled" "off1 state"
assert_eq "$(sipuactl_j status off1 | jq -r .line.next_attempt_in)" "null" "off1 schedules nothing"
assert_eq "$(sipuactl_j status | jq '.lines | length')" 3 "status lists 3 lines"
assert_eq "$(sipuactl_j status | jq -r '.lines | map(.id) | join(",")')" "udp1,tcp1,off1" \
	"status keeps config order"

# The registrar's view: one binding each, on the primary only; the TCP line's
# contact says so; the disabled line has none.
wait_for 3 "kamailio a: 1001 bound once" kam_has_contacts a 1001 1 || fail "1001 on a"
wait_for 3 "kamailio a: 1002 bound once" kam_has_contacts a 1002 1 || fail "1002 on a"
assert_eq "$(kam_contact_count a 1003)" 0 "disabled line bound nothing"
assert_eq "$(kam_contact_count b 1001)" 0 "nothing on the backup"
kam_contacts a 1001 | grep -q ';line=udp1' || fail "contact carries ;line=udp1: $(kam_contacts a 1001)"
kam_contacts a 1002 | grep -q 'transport=tcp' || fail "TCP contact: $(kam_contacts a 1002)"

sipuad_stop 6 || fail "sipuad exit status $? (0 expected, within 6 s)"
assert_eq "$(kam_contact_count a 1001)" 0 "1001 un-REGISTERed at SIGTERM"
assert_eq "$(kam_contact_count a 1002)" 0 "1002 un-REGISTERed at SIGTERM"
[[ ! -e $SIPUAD_SOCK ]] || fail "control socket removed at exit"
pass
