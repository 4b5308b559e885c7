#!/usr/bin/env bash
# RULES C "Signal Retry Counts": a primary that never answers (sipp,
# uas_register_silent: its socket is open, so no ICMP) has received exactly
# retry_count (3) transmissions of the line's first REGISTER, on the T1
# doubling schedule (0, T1, 3*T1), when the daemon declares it unavailable;
# the line then registers on the backup Kamailio with one failover whose
# reason says the REGISTER timed out. Counted in sipp's message trace
# against the daemon's own failover timestamp.
# After the verdict the abandoned REGISTER sends no more copies (RULES
# I.2; nta alone would go on until its 64*T1), and nothing new goes there.
# fx-timeout: 90
source "$(dirname "$0")/lib.sh"
fx_init
export FX_SIPP_UAS_TIMEOUT=60
P=$(fx_ip 3)
B=$(fx_ip 2)
kam_start b "$B" || fail "kamailio b"
sipp_uas uas_register_silent "$P" -m 1000 || fail "sipp did not start"
msg=$SIPP_UAS_MSG

T1=100 N=3
# Failback off: its probes would go to the silent primary too and blur the
# count (they are tested elsewhere).
{
	sipuad_conf_common "$T1"
	cat <<EOF2
lines = (
  { id = "line1"; user = "5601"; domain = "sipuad.test"; password = "s3cr3t-pw";
    servers = ( { host = "$P"; expires = 60; }, { host = "$B"; expires = 60; } );
    heartbeat = { interval = 1; };
    failover  = { retry_count = $N; return_delay = 2; retry_delay = 2; };
    failback  = { enabled = false; interval = 2; }; }
);
EOF2
} >"$FX_DIR/sipuad.conf"

sipuad_start "$FX_DIR/sipuad.conf" || fail "sipuad did not start"
t0=$(fx__now_ms)
# budget T1*(2^N - 1) = 0.7 s, then the backup's challenge and 200.
wait_for 5 "line1 registered on the backup" sipuad_on line1 1 || fail "line1: $(sipuad_line_json line1)"
fx_log "on the backup $(($(fx__now_ms) - t0)) ms after the start"
wait_for 3 "5601 bound on b" kam_has_contacts b 5601 1 || fail "5601 on b"

# The daemon's verdict, to the millisecond (its log: HH:MM:SS.mmm warn: ...).
fo=$(grep -m1 'warn: line1: failover primary' "$FX_DIR/sipuad.log" | cut -d' ' -f1)
[[ -n $fo ]] || fail "no failover in the daemon log"
fo_ms=$(awk -F: '{ printf "%d", ($1 * 3600 + $2 * 60 + $3) * 1000 }' <<<"$fo")
all=$(sipp_trace "$msg" | awk -F'\t' '$1 == "in" && $2 ~ /^REGISTER /')
regs=$(awk -F'\t' -v fo="$fo_ms" '{ split($8, t, ":"); if ((t[1] * 3600 + t[2] * 60 + t[3]) * 1000 < fo) print }' <<<"$all")
fx_log "REGISTERs at the silent primary before the failover at $fo:"$'\n'"$regs"
assert_eq "$(wc -l <<<"$regs")" "$N" "REGISTER transmissions to the silent primary before it was declared unavailable"
# one transaction: the same Call-ID, CSeq and branch every time
assert_eq "$(cut -f3,4,7 <<<"$regs" | sort -u | wc -l)" 1 "the transmissions are retransmissions of one REGISTER"
assert_match "$(cut -f6 <<<"$regs" | head -n 1)" ';srv=0' "contact of the REGISTER to the primary"
# gaps ~T1 then ~2*T1 (sipp's receive times; generous tolerance)
gaps=$(cut -f8 <<<"$regs" | awk -F: '{ t = ($1 * 3600 + $2 * 60 + $3) * 1000; if (NR > 1) printf "%d ", t - p; p = t }')
fx_log "gaps between transmissions (ms): $gaps"
read -r g1 g2 <<<"$gaps"
((g1 >= T1 - 20 && g1 <= T1 + 150)) || fail "first retransmission after $g1 ms, want ~$T1"
((g2 >= 2 * T1 - 20 && g2 <= 2 * T1 + 150)) || fail "second retransmission after $g2 ms, want ~$((2 * T1))"

assert_eq "$(sipuad_line line1 .failovers)" 1 "failovers"
assert_eq "$(sipuad_history_count line1 failover)" 1 "failover events"
ev=$(sipuad_history line1 | jq -c 'select(.kind == "failover")')
assert_match "$(jq -r .reason <<<"$ev")" "REGISTER.*$P:5060.*timed out.*$N transmissions" "failover reason"

# Nothing more goes to the primary while the line sits on the backup (3 s
# observation window; heartbeats go to the backup; failback is off).
for ((i = 0; i < 6; i++)); do
	sipuad_on line1 1 || fail "line1 left the backup: $(sipuad_line_json line1)"
	sleep 0.5 # the observation window itself
done
all=$(sipp_trace "$msg" | awk -F'\t' '$1 == "in" && $2 ~ /^REGISTER /')
assert_eq "$(cut -f3,4,7 <<<"$all" | sort -u | wc -l)" 1 "only retransmissions of that one REGISTER reach the primary"
assert_eq "$(wc -l <<<"$all")" "$N" "copies of the abandoned REGISTER at the primary (I.2)"
sipuad_stop 6 || fail "sipuad exit status $?"
assert_eq "$(kam_contact_count b 5601)" 0 "5601 un-REGISTERed at SIGTERM"
sipp_uas_stop
pass
