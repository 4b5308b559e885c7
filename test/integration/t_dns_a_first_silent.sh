#!/usr/bin/env bash
# RULES B.2/B.4: the line's only server is a name with a port: A records
# [A, B], both Kamailio registrars, A paused (SIGSTOP: its socket is open,
# nothing answers, no ICMP). The REGISTER through A uses up its
# retry_count transmissions (T1 100 ms, 3: T1*(2^3-1) = 0.7 s), then the
# line registers through B - well before RFC 3261's 64*T1 (6.4 s) - with one
# history event "address" from A:5060 to B:5060 and no failover (.failovers
# 0: an address walk is not a server failover). A really got the REGISTERs:
# they wait in its socket while it is paused, and once resumed (after sipuad
# is stopped) it processes at least retry_count of them; it never binds the
# line.
# fx-timeout: 60
source "$(dirname "$0")/lib.sh"
fx_init
A=$(fx_ip 1) # kamailio a, paused
B=$(fx_ip 2) # kamailio b
NAME=reg.$FX_DNS_DOMAIN
LINE_USER=5312
T1=100 N=3

kam_start a "$A" || fail "kamailio a"
kam_start b "$B" || fail "kamailio b"
dns_set_a "$NAME" "$A" "$B"
dns_start || fail "dns_start"
assert_eq "$(dns_query "$NAME" A udp)" "$A"$'\n'"$B" "A records of $NAME (record order)"

{
	sipuad_conf_common "$T1" "resolv_conf = \"$(dns_resolv_conf)\"; dns_timeout = 1;"
	cat <<EOF2
lines = (
  { id = "line1"; user = "$LINE_USER"; domain = "$FX_DNS_DOMAIN"; password = "$FX_KAM_PASSWORD";
    servers = ( { host = "$NAME"; port = 5060; expires = 60; } );
    heartbeat = { interval = 1; };
    failover  = { retry_count = $N; return_delay = 2; retry_delay = 2; }; }
);
EOF2
} >"$FX_DIR/sipuad.conf"
"$SIPUAD_BIN" -n -c "$FX_DIR/sipuad.conf" >/dev/null || fail "the configuration is refused"

a_before=$(kam_count_register a "$LINE_USER")
kam_pause a || fail "kam_pause a"
q0=$(fx_udp_recvq "$A" 5060)
assert_eq "$q0" 0 "receive queue of the paused a before sipuad starts"

sipuad_start "$FX_DIR/sipuad.conf" || fail "sipuad did not start"
t0=$(fx__now_ms)
# Bound: the lookup + the budget at A (T1*(2^N-1) = 0.7 s) + 2 s of slack
# (the REGISTER and challenge at B, polling) - far below 64*T1 = 6.4 s.
bound_ms=$((T1 * ((1 << N) - 1) + 2000))
wait_for 8 "line1 registered through B" sipuad_via line1 "$B:5060" ||
	fail "not registered through $B:5060: $(sipuad_line_json line1)"
dt=$(($(fx__now_ms) - t0))
fx_log "registered through $B:5060 after $dt ms (bound $bound_ms ms)"
((dt <= bound_ms)) || fail "the silent first address held the line $dt ms, more than $bound_ms ms"

q=$(fx_udp_recvq "$A" 5060)
fx_log "paused a holds $q bytes unread"
[[ $q =~ ^[0-9]+$ ]] && ((q > 0)) || fail "the paused a got nothing (receive queue '$q'): the first address was not tried"

assert_eq "$(sipuad_line line1 .failovers)" 0 "failovers (an address walk is no failover)"
assert_eq "$(sipuad_line line1 .server.index)" 0 "server index"
assert_eq "$(sipuad_line line1 '.addresses | join(",")')" "$A:5060,$B:5060" "status addresses"
assert_eq "$(sipuad_line line1 '.address_index | tostring')" 1 "status address_index"
assert_eq "$(sipuad_history_count line1 address)" 1 "address events"
assert_eq "$(sipuad_history_count line1 failover)" 0 "failover events"
ev=$(sipuad_events line1 address | head -n 1)
assert_eq "$(jq -r .from <<<"$ev")" "$A:5060" "address event from"
assert_eq "$(jq -r .to <<<"$ev")" "$B:5060" "address event to"
assert_match "$(jq -r .reason <<<"$ev")" '[Tt]imed? ?out|[Tt]imeout' "address event reason (no answer)"
wait_for 3 "$LINE_USER bound on b" kam_has_contacts b "$LINE_USER" 1 || fail "$LINE_USER not bound on b"

# It stays on B while A stays silent (2 s window, checked every 0.5 s).
for ((i = 0; i < 4; i++)); do
	sipuad_via line1 "$B:5060" || fail "line1 moved: $(sipuad_line_json line1)"
	sleep 0.5
done
assert_eq "$(sipuad_history_count line1 address)" 1 "address events after 2 s"

sipuad_stop 6 || fail "sipuad exit status $?"
assert_eq "$(kam_contact_count b "$LINE_USER")" 0 "$LINE_USER un-REGISTERed at SIGTERM"

# A processes what queued up while it was paused: the line's REGISTERs
# (each transmission is answered statelessly, so each is logged).
kam_resume a || fail "kam_resume a"
need=$((a_before + N))
a_got() { (($(kam_count_register a "$LINE_USER") >= need)); }
wait_for 5 "a to process at least $N queued REGISTERs of $LINE_USER" a_got ||
	fail "a processed $(($(kam_count_register a "$LINE_USER") - a_before)) REGISTERs of $LINE_USER, want >= $N"
fx_log "a processed $(($(kam_count_register a "$LINE_USER") - a_before)) queued REGISTERs"
assert_eq "$(kam_count_register a "$LINE_USER" saved)" 0 "REGISTERs a saved (it never answered in time)"
assert_eq "$(kam_contact_count a "$LINE_USER")" 0 "bindings at a"
pass
