#!/usr/bin/env bash
# RULES A.3, C: a primary that answers REGISTER with 500, 503 (Retry-After:
# 20) or 600 is unavailable: the line switches to the backup Kamailio at
# once and registers there, with exactly one failover whose reason gives
# the code. 503 with Retry-After: that server is not tried again before
# Retry-After has passed - not even by a failback probe, though the probe
# interval is 1 s (3 s observation window: still exactly one REGISTER at
# the primary). sipp plays the primary (uas_register_reply); one daemon
# per code.
# fx-timeout: 120
source "$(dirname "$0")/lib.sh"
fx_init
export FX_SIPP_UAS_TIMEOUT=90
P=$(fx_ip 3)
B=$(fx_ip 2)
kam_start b "$B" || fail "kamailio b"

declare -A phrase=([500]="Server Internal Error" [503]="Service Unavailable" [600]="Busy Everywhere")
user=5400
for code in 500 600 503; do
	user=$((user + 1))
	id=l$code
	fx_log "--- primary answers $code (line $id, user $user)"
	sipp_uas uas_register_reply "$P" -m 1000 -set code "$code" || fail "sipp $code did not start"
	msg=$SIPP_UAS_MSG
	{
		sipuad_conf_common 100
		cat <<EOF2
lines = (
  { id = "$id"; user = "$user"; domain = "sipuad.test"; password = "s3cr3t-pw";
    servers = ( { host = "$P"; expires = 60; }, { host = "$B"; expires = 60; } );
    heartbeat = { interval = 1; };
    failover  = { retry_count = 3; return_delay = 2; retry_delay = 2; };
    failback  = { enabled = true; interval = 1; }; }
);
EOF2
	} >"$FX_DIR/sipuad.$code.conf"
	sipuad_start "$FX_DIR/sipuad.$code.conf" || fail "sipuad did not start ($code)"

	wait_for 5 "$id registered on the backup" sipuad_on "$id" 1 || fail "$code: $(sipuad_line_json "$id")"
	assert_eq "$(sipuad_line "$id" .failovers)" 1 "$code: failovers"
	assert_eq "$(sipuad_line "$id" .server.role)" backup "$code: role"
	wait_for 3 "$user bound on b" kam_has_contacts b "$user" 1 || fail "$code: $user on b"
	assert_match "$(kam_contacts b "$user" | cut -f1)" ';srv=1' "$code: contact at the backup"
	ev=$(sipuad_history "$id" | jq -c 'select(.kind == "failover")')
	assert_eq "$(wc -l <<<"$ev")" 1 "$code: failover events"
	assert_match "$(jq -r .from <<<"$ev")" "primary.*$P:5060" "$code: failover from"
	assert_match "$(jq -r .to <<<"$ev")" "backup.*$B:5060" "$code: failover to"
	assert_match "$(jq -r .reason <<<"$ev")" "$code ${phrase[$code]}" "$code: failover reason"
	first=$(sipp_trace "$msg" | awk -F'\t' '$1 == "out" && $2 ~ /^SIP\/2.0 /' | head -n 1 | cut -f2)
	assert_eq "$first" "SIP/2.0 $code ${phrase[$code]}" "$code: what the primary answered"

	if ((code == 503)); then
		# Retry-After: 20 holds the primary: no probe within a 3 s
		# observation window although failback.interval is 1 s.
		n0=$(sipp_count_in "$msg" REGISTER)
		assert_eq "$n0" 1 "503: REGISTERs at the primary before the window"
		for ((i = 0; i < 6; i++)); do
			sipuad_on "$id" 1 || fail "503: line left the backup: $(sipuad_line_json "$id")"
			sleep 0.5
		done
		assert_eq "$(sipp_count_in "$msg" REGISTER)" 1 \
			"503: REGISTERs at the primary within Retry-After (3 s window)"
	else
		# Failback probes do reach the primary and keep drawing $code:
		# no flapping (3 s observation window).
		for ((i = 0; i < 6; i++)); do
			sipuad_on "$id" 1 || fail "$code: line left the backup: $(sipuad_line_json "$id")"
			sleep 0.5
		done
		fx_log "$code: $(sipp_count_in "$msg" REGISTER) REGISTERs reached the primary"
	fi
	assert_eq "$(sipuad_history_count "$id" failover)" 1 "$code: failover events at the end"
	assert_eq "$(sipuad_history_count "$id" failback)" 0 "$code: failback events at the end"

	sipuad_stop 6 || fail "sipuad exit status $? ($code)"
	assert_eq "$(kam_contact_count b "$user")" 0 "$code: $user un-REGISTERed at SIGTERM"
	sipp_uas_stop
	wait_for 3 "sipp gone from $P:5060" fx__udp_closed "$P" 5060 || fail "sipp still on $P"
	if grep -q 'check_it failed' "${msg%.msg}.err" 2>/dev/null; then
		fail "$code: sipp scenario error: $(tail -n 3 "${msg%.msg}.err")"
	fi
done
pass
