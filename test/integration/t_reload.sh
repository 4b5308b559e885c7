#!/usr/bin/env bash
# reload (and SIGHUP) apply a per-line diff: an unchanged line keeps its
# registration untouched (same Call-ID at the registrar, no new binding), a
# changed line restarts, a removed line un-REGISTERs, a new line starts; an
# invalid new config, or one changing what needs a restart, is refused whole
# and the running one stays.
source "$(dirname "$0")/lib.sh"
fx_init
kam_start a "$(fx_ip 1)" || fail "kamailio a"
A=$(fx_ip 1)

line() { # ID USER EXPIRES
	echo "  { id = \"$1\"; user = \"$2\"; domain = \"sipuad.test\"; password = \"s3cr3t-pw\";"
	echo "    servers = ( { host = \"$A\"; expires = $3; } ); heartbeat = { interval = 0; }; },"
}
write_conf() { # LINE-SPECS...
	{
		sipuad_conf_common
		echo "lines = ("
		for spec in "$@"; do
			# shellcheck disable=SC2086
			line $spec
		done | sed '$ s/},$/}/'
		echo ");"
	} >"$FX_DIR/sipuad.conf"
}
callid() { kam_contacts a "$1" | cut -f3; }

write_conf "keep 6001 60" "change 6002 60" "drop 6003 60"
sipuad_start "$FX_DIR/sipuad.conf" || fail "sipuad did not start"
for l in keep change drop; do
	wait_for 5 "$l registered" sipuad_line_is "$l" .state registered || fail "$l"
done
keep_cid=$(callid 6001)
change_cid=$(callid 6002)
[[ -n $keep_cid && -n $change_cid ]] || fail "no bindings: $(kam_contacts a)"

# An invalid file is refused whole: nothing changes.
cp "$FX_DIR/sipuad.conf" "$FX_DIR/good.conf"
echo 'sip = { t1 = 1; };' >>"$FX_DIR/sipuad.conf"
out=$(sipuactl_j reload) && fail "an invalid config was accepted: $out"
assert_match "$(jq -r .error <<<"$out")" "sipuad.conf:[0-9]+: " "error names file and line: $out"
# A change that needs a restart is refused whole too.
sed 's/t1 = 100/t1 = 200/' "$FX_DIR/good.conf" >"$FX_DIR/sipuad.conf"
out=$(sipuactl_j reload) && fail "a sip.t1 change was accepted: $out"
assert_match "$(jq -r .error <<<"$out")" "sip.t1" "refusal names the key"
assert_eq "$(sipuactl_j status | jq '.lines | length')" 3 "still 3 lines"

# keep unchanged, change gets a new expiry, drop removed, add is new.
write_conf "keep 6001 60" "change 6002 120" "add 6004 60"
out=$(sipuactl_j reload) || fail "reload refused: $out"
wait_for 5 "add registered" sipuad_line_is add .state registered || fail "add"
wait_for 5 "change registered again" sipuad_line_is change .state registered || fail "change"
wait_for 5 "drop un-REGISTERed" kam_has_contacts a 6003 0 || fail "drop still bound"
[[ $(sipuactl_j status drop | jq -r .ok) == false ]] || fail "drop still listed"
assert_eq "$(callid 6001)" "$keep_cid" "unchanged line kept its Call-ID"
assert_eq "$(kam_contact_count a 6001)" 1 "unchanged line: still one binding"
assert_eq "$(sipuactl_j history keep | jq '.events | length')" 1 "unchanged line: no new event"
wait_for 5 "change bound once" kam_has_contacts a 6002 1 || fail "change binding"
[[ $(callid 6002) != "$change_cid" ]] || fail "changed line did not restart"
exp=$(sipuad_line change .expires_in)
((exp > 110)) || fail "changed line runs its new config (expires_in $exp)"

# SIGHUP does the same: removing 'add' un-REGISTERs it, 'keep' stays put.
write_conf "keep 6001 60" "change 6002 120"
kill -HUP "$SIPUAD_PID"
wait_for 5 "add removed by SIGHUP" kam_has_contacts a 6004 0 || fail "SIGHUP did not reload"
assert_eq "$(callid 6001)" "$keep_cid" "unchanged line kept its Call-ID across SIGHUP"
sipuactl_j version >/dev/null || fail "daemon not serving after SIGHUP"

sipuad_stop 6 || fail "sipuad exit status $?"
assert_eq "$(kam_contact_count a 6001)" 0 "un-REGISTERed at exit"
pass
