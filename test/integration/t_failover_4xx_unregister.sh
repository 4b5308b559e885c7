#!/usr/bin/env bash
# RULES A.4: a 4xx other than 401/407/423 (403, 404) to REGISTER is not a
# server failure: the line first un-REGISTERs (Expires: 0) at the same
# server; when that gets 200 it REGISTERs there again (no failover) and the
# 200 to that registers the line on the primary. When the un-REGISTER draws
# an error (500) the line switches to the backup Kamailio (one failover).
# sipp plays the primary (uas_register_4xx_unreg); its message trace gives
# the order of requests and answers. One daemon per case.
# fx-timeout: 120
source "$(dirname "$0")/lib.sh"
fx_init
export FX_SIPP_UAS_TIMEOUT=90
P=$(fx_ip 3)
B=$(fx_ip 2)
kam_start b "$B" || fail "kamailio b"

# What the primary saw and answered, as "REQ"/"UNREG" and status codes:
# "REG 403,UNREG 200,REG 200" (requests: REG = REGISTER asking for a
# binding, UNREG = Expires: 0; OPTIONS are left out).
primary_story() {
	sipp_trace "$1" | awk -F'\t' '
		$1 == "in" && $2 ~ /^REGISTER / {
			u = ($5 ~ /^ *0 *$/ || $6 ~ /;[ \t]*expires=0([^0-9]|$)/ || $6 ~ /^\*/)
			printf "%s%s", sep, (u ? "UNREG" : "REG"); sep = ","; next
		}
		$1 == "out" && $4 ~ /REGISTER/ { split($2, w, " "); printf " %s", w[2] }
		END { print "" }'
}

user=5500
for case in "403 200" "404 200" "403 500"; do
	read -r first unreg <<<"$case"
	user=$((user + 1))
	id=l${first}u$unreg
	fx_log "--- primary: first REGISTER $first, un-REGISTER $unreg (line $id, user $user)"
	sipp_uas uas_register_4xx_unreg "$P" -m 1000 -set first "$first" -set unreg "$unreg" ||
		fail "sipp did not start ($case)"
	msg=$SIPP_UAS_MSG
	# failback off: in the 500 case a probe to this primary would get 200
	# and move the line back, which is right but not what is tested here.
	{
		sipuad_conf_common 100
		cat <<EOF2
lines = (
  { id = "$id"; user = "$user"; domain = "sipuad.test"; password = "s3cr3t-pw";
    servers = ( { host = "$P"; expires = 60; }, { host = "$B"; expires = 60; } );
    heartbeat = { interval = 0; };
    failover  = { retry_count = 3; return_delay = 2; retry_delay = 2; };
    failback  = { enabled = false; interval = 2; }; }
);
EOF2
	} >"$FX_DIR/sipuad.$id.conf"
	sipuad_start "$FX_DIR/sipuad.$id.conf" || fail "sipuad did not start ($case)"

	if ((unreg == 200)); then
		wait_for 5 "$id registered on the primary" sipuad_on "$id" 0 ||
			fail "$case: $(sipuad_line_json "$id"); primary saw: $(primary_story "$msg")"
		assert_eq "$(primary_story "$msg")" "REG $first,UNREG 200,REG 200" "$case: what the primary saw and answered"
		assert_eq "$(sipuad_line "$id" .failovers)" 0 "$case: failovers"
		assert_eq "$(sipuad_line "$id" .address)" "$P:5060" "$case: address"
		exp=$(sipuad_line "$id" .expires_in)
		((exp > 50 && exp <= 60)) || fail "$case: expires_in $exp, want the granted 60 s"
		assert_eq "$(sipuad_history_count "$id" failover)" 0 "$case: failover events"
		assert_eq "$(kam_contact_count b "$user")" 0 "$case: nothing bound on the backup"
		# the last REGISTER asks for a binding at the primary (;srv=0)
		ct=$(sipp_trace "$msg" | awk -F'\t' '$1 == "in" && $2 ~ /^REGISTER /' | tail -n 1 | cut -f6)
		assert_match "$ct" ";srv=0" "$case: contact of the REGISTER after the un-REGISTER"
	else
		wait_for 5 "$id registered on the backup" sipuad_on "$id" 1 ||
			fail "$case: $(sipuad_line_json "$id"); primary saw: $(primary_story "$msg")"
		assert_eq "$(primary_story "$msg")" "REG $first,UNREG 500" "$case: what the primary saw and answered"
		assert_eq "$(sipuad_line "$id" .failovers)" 1 "$case: failovers"
		assert_eq "$(sipuad_history_count "$id" failover)" 1 "$case: failover events"
		ev=$(sipuad_history "$id" | jq -c 'select(.kind == "failover")')
		assert_match "$(jq -r .from <<<"$ev")" "primary.*$P:5060" "$case: failover from"
		assert_match "$(jq -r .to <<<"$ev")" "backup.*$B:5060" "$case: failover to"
		fx_log "$case: failover reason: $(jq -r .reason <<<"$ev")"
		wait_for 3 "$user bound on b" kam_has_contacts b "$user" 1 || fail "$case: $user on b"
	fi
	# last_error keeps the 4xx or the un-REGISTER's error; log it for the record.
	fx_log "$case: last_error $(sipuad_line "$id" .last_error | jq -c .)"

	sipuad_stop 6 || fail "sipuad exit status $? ($case)"
	sipp_uas_stop
	wait_for 3 "sipp gone from $P:5060" fx__udp_closed "$P" 5060 || fail "sipp still on $P"
	if grep -q 'check_it failed' "${msg%.msg}.err" 2>/dev/null; then
		fail "$case: sipp scenario error: $(tail -n 3 "${msg%.msg}.err")"
	fi
done
pass
