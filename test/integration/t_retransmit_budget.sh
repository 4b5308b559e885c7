#!/usr/bin/env bash
# SPEC I.2 / RULES I.2: transmissions end at the verdict. The primary
# Kamailio goes silent (SIGSTOP: no answer, no ICMP); a packet capture on lo
# of everything sent to its SIP port counts the copies of each request per
# (method, Call-ID, CSeq). Once sipuad has declared the primary unavailable
# for a request, no more copies of it go there: each re-REGISTER (after
# the heartbeat miss, after the call's INVITE went unanswered), each
# heartbeat OPTIONS and a call's INVITE reach it at most retry_count times,
# where nta on its own would go on to 64*T1 (7 copies with t1 100 ms).
# A failback probe goes to the primary, not the last server: it too gets
# retry_count copies (RULES C.4); the REGISTERs first sent while the line
# sat on the backup are the probes.
# fx-timeout: 120
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_calls.sh"
fx_init
command -v dumpcap >/dev/null && command -v tshark >/dev/null ||
	fail "dumpcap and tshark are needed (Debian: tshark; scripts/deps.sh)"
A=$(fx_ip 1)
B=$(fx_ip 2)
FAR=$(fx_ip 5)
T1=100 N=3 HB=1 FB=2
kam_start a "$A" || fail "kamailio a"
kam_start b "$B" || fail "kamailio b"
kam_far a "sip:$FAR:$FX_KAM_PORT" || fail "kam_far a"
kam_far b "sip:$FAR:$FX_KAM_PORT" || fail "kam_far b"
{
	sipuad_conf_common "$T1"
	cat <<EOF
media = { rtp_ports = [ 20000, 20100 ]; };
lines = (
$(sipuad_conf_calls_line la 6301 "{ host = \"$A\"; expires = 60; }, { host = \"$B\"; expires = 60; }" \
	"heartbeat = { interval = $HB; }; failover = { retry_count = $N; return_delay = 60; retry_delay = 2; };
    failback = { enabled = true; interval = $FB; };")
);
EOF
} >"$FX_DIR/sipuad.conf"

sipuad_start "$FX_DIR/sipuad.conf" || fail "sipuad did not start"
wait_for 5 "la registered on the primary" sipuad_on la 0 || fail "la: $(sipuad_line_json la)"

# Everything that reaches the primary's SIP port over UDP, from now on.
PCAP=$FX_DIR/primary.pcap
dumpcap -q -i lo -f "udp and dst host $A and dst port $FX_KAM_PORT" -w "$PCAP" \
	>"$FX_DIR/dumpcap.log" 2>&1 &
CAP=$!
fx_track "$CAP"
wait_for 5 "dumpcap capturing" grep -q "Capturing on" "$FX_DIR/dumpcap.log" ||
	fail "dumpcap did not start: $(cat "$FX_DIR/dumpcap.log")"

# 1. The heartbeat misses, the re-REGISTER uses its budget, the line moves
#    to the backup; failback probes go to the silent primary.
kam_pause a || fail "pause a"
wait_for 10 "la on the backup" sipuad_on la 1 || fail "no failover: $(sipuad_line_json la)"
probes1=$(date +%s.%N)
for ((i = 0; i < 10; i++)); do # 5 s: two failback probes or more
	sipuad_on la 1 || fail "la left the backup while the primary is silent: $(sipuad_line_json la)"
	sleep 0.5 # the observation window itself
done

# 2. A call's INVITE through the silent primary: back to the primary, then
#    it goes silent again as the call starts; the call goes through the backup.
probes1_end=$(date +%s.%N)
kam_resume a || fail "resume a"
wait_for 10 "la back on the primary" sipuad_on la 0 || fail "no failback: $(sipuad_line_json la)"
far_start far uas_call_answer "$FAR" || fail "far end"
kam_pause a || fail "pause a (call)"
c=$(sipuad_call la 7000) || fail "call"
wait_for 10 "the call established" sipuad_call_is "$c" .state established ||
	fail "call: $(sipuactl_j calls); la: $(sipuad_line_json la)"
assert_eq "$(sipuad_call_field "$c" .server.role)" backup "the call's server"
probes2=$(date +%s.%N)
sipuactl_j hangup "$c" >/dev/null || fail "hangup"
far_wait far 10 || fail "the far end did not see the BYE"

# nta's own copies of an abandoned request would come within 64*T1 (6.4 s)
# of its first transmission: watch that long after the last abandonment.
for ((i = 0; i < 14; i++)); do
	sipuad_on la 1 || fail "la left the backup: $(sipuad_line_json la)"
	sleep 0.5 # the observation window itself
done
kill -INT "$CAP"
wait_for 5 "dumpcap finished" fx__pid_dead "$CAP" || fail "dumpcap did not stop"
fx_untrack "$CAP"

# one line per copy: time, method, Call-ID, CSeq number
tshark -r "$PCAP" -Y 'sip.Method' -T fields -E separator=/t \
	-e frame.time_epoch -e sip.Method -e sip.Call-ID -e sip.CSeq.seq >"$FX_DIR/copies.tsv" 2>"$FX_DIR/tshark.log" ||
	fail "tshark: $(cat "$FX_DIR/tshark.log")"
# per request: method (PROBE for a REGISTER first sent while the line sat
# on the backup), CSeq, copies
counts=$(awk -F'\t' -v a="$probes1" -v b="$probes1_end" -v c="$probes2" '
	{ k = $2 "\t" $3 "\t" $4; if (!(k in first)) { first[k] = $1; order[++n] = k } copies[k]++ }
	END { for (i = 1; i <= n; i++) { k = order[i]; split(k, f, "\t"); m = f[1]
		if (m == "REGISTER" && ((first[k] > a && first[k] < b) || first[k] > c)) m = "PROBE"
		print m, f[3], copies[k] } }' "$FX_DIR/copies.tsv")
fx_log "copies per request at the primary (method, CSeq, copies):"$'\n'"$counts"
max_of() { awk -v m="$1" '$1 == m && $3 > x { x = $3 } END { print x + 0 }' <<<"$counts"; }
for m in REGISTER PROBE OPTIONS INVITE; do
	fx_log "$m: $(awk -v m="$m" '$1 == m' <<<"$counts" | wc -l) requests, at most $(max_of "$m") copies each"
done
# the primary really was silent to the re-REGISTERs: their budget was used up
assert_eq "$(max_of REGISTER)" "$N" "most copies of one re-REGISTER at the silent primary"
(($(awk '$1 == "REGISTER" && $3 == '"$N" <<<"$counts" | wc -l) >= 2)) ||
	fail "want both re-REGISTERs (heartbeat miss, call) unanswered at the primary"
(($(awk '$1 == "PROBE"' <<<"$counts" | wc -l) >= 2)) || fail "want two failback probes or more"
(($(max_of PROBE) >= 1 && $(max_of PROBE) <= N)) || fail "a probe's copies: $(max_of PROBE), want 1..$N"
(($(max_of OPTIONS) >= 1 && $(max_of OPTIONS) <= N)) ||
	fail "OPTIONS copies at the primary: $(max_of OPTIONS), want 1..$N"
(($(max_of INVITE) >= 1 && $(max_of INVITE) <= N)) ||
	fail "INVITE copies at the primary: $(max_of INVITE), want 1..$N"
# nothing answered the INVITE: a CANCEL must not be sent (RFC 3261 9.1)
assert_eq "$(awk '$1 == "CANCEL"' <<<"$counts" | wc -l)" 0 "CANCELs at the silent primary"
sipuad_stop 6 || fail "sipuad exit status $?"
pass
