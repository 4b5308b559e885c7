#!/usr/bin/env bash
# RULES B, D: a DNS outage never takes a working line down. The server is a
# name (A record, TTL 2 s; dns_timeout 1 s); the line registers through it.
#  1. dnsmasq stopped (its port closed: lookups fail at once): for longer
#     than 2 TTLs + dns_timeout (and longer than the binding's 10 s expiry,
#     so at least one refresh happens meanwhile) the line stays registered
#     through the same address, the binding stays; status .dns.stale becomes
#     true with an error; history gets a "dns" event whose reason says the
#     last good answer was used.
#  2. `register LINE` (register again now) still succeeds, through the last
#     good address.
#  3. sipuad restarted (same database) with DNS still down: it registers
#     again from the stored last good answer.
#  4. DNS back: the name is fresh again (.dns.stale false). Then dnsmasq
#     paused (silent: lookups time out after dns_timeout): the line stays
#     registered, .dns.stale becomes true again.
# fx-timeout: 90
source "$(dirname "$0")/lib.sh"
fx_init
A=$(fx_ip 1) # kamailio a
NAME=reg.$FX_DNS_DOMAIN
LINE_USER=5315
TTL=2 DNS_TIMEOUT=1 EXPIRES=10

kam_start a "$A" || fail "kamailio a"
dns_set_a "$NAME" "$A"
dns_set_ttl "$TTL"
dns_start || fail "dns_start"
assert_eq "$(dns_query "$NAME" A udp)" "$A" "A of $NAME"
ttl=$(fx__dns_dig tcp 2 +noall +answer "$NAME" A | awk '{ print $2 }')
assert_eq "$ttl" "$TTL" "TTL of $NAME"

{
	sipuad_conf_common 100 "resolv_conf = \"$(dns_resolv_conf)\"; dns_timeout = $DNS_TIMEOUT;"
	cat <<EOF2
lines = (
  { id = "line1"; user = "$LINE_USER"; domain = "$FX_DNS_DOMAIN"; password = "$FX_KAM_PASSWORD";
    servers = ( { host = "$NAME"; port = 5060; expires = $EXPIRES; } );
    heartbeat = { interval = 1; };
    failover  = { retry_count = 3; return_delay = 2; retry_delay = 2; }; }
);
EOF2
} >"$FX_DIR/sipuad.conf"
"$SIPUAD_BIN" -n -c "$FX_DIR/sipuad.conf" >/dev/null || fail "the configuration is refused"

sipuad_start "$FX_DIR/sipuad.conf" || fail "sipuad did not start"
wait_for 5 "line1 registered through a" sipuad_via line1 "$A:5060" ||
	fail "not registered through $A:5060: $(sipuad_line_json line1)"
wait_for 3 "$LINE_USER bound on a" kam_has_contacts a "$LINE_USER" 1 || fail "$LINE_USER not bound on a"
assert_eq "$(sipuad_line line1 '.addresses | join(",")')" "$A:5060" "status addresses"
assert_eq "$(sipuad_line line1 .dns.name)" "$NAME" "dns.name"
assert_eq "$(sipuad_line line1 '.dns.stale | tostring')" false "dns.stale while DNS works"
assert_eq "$(sipuad_line line1 '.dns.error | tostring')" null "dns.error while DNS works"
# refresh_in: seconds until the name is looked up again, at most the TTL
# (null is allowed for a moment, e.g. while a lookup is under way).
refresh_ok() {
	local r
	r=$(sipuad_line line1 .dns.refresh_in) || return 1
	[[ $r =~ ^[0-9]+(\.[0-9]+)?$ ]] && (($(fx__to_ms "$r") <= TTL * 1000)) ||
		{ echo "dns.refresh_in is '$r', want a number of seconds <= the TTL $TTL" >&2; return 1; }
}
wait_for 3 "dns.refresh_in within the TTL" refresh_ok || fail "dns: $(sipuad_line line1 .dns)"
cid=$(kam_contacts a "$LINE_USER" | cut -f3)
assert_eq "$(sipuad_history_count line1 dns)" 0 "dns events while DNS works"

# line1 registered through a, binding in place, same Call-ID.
line_ok() {
	sipuad_via line1 "$A:5060" || return 1
	kam_has_contacts a "$LINE_USER" 1 || return 1
	local c
	c=$(kam_contacts a "$LINE_USER" | cut -f3)
	[[ $c == "$cid" ]] || { echo "binding Call-ID changed: '$c', was '$cid'" >&2; return 1; }
}
stale_is() { sipuad_line_is line1 '.dns.stale | tostring' "$1"; }

# ---- 1. DNS stopped: lookups are refused at once
saved0=$(kam_count_register a "$LINE_USER" saved)
fx_log "stopping dnsmasq"
dns_stop || fail "dns_stop"
t0=$(fx__now_ms)
# window: max(2*TTL + dns_timeout, EXPIRES) + 1 s, so that both the name
# expired twice and the binding was refreshed meanwhile.
win_ms=$(((2 * TTL + DNS_TIMEOUT > EXPIRES ? 2 * TTL + DNS_TIMEOUT : EXPIRES) * 1000 + 1000))
stale_ms=
while (($(fx__now_ms) - t0 < win_ms)); do
	line_ok || fail "line1 disturbed by the DNS outage after $(($(fx__now_ms) - t0)) ms: $(sipuad_line_json line1)"
	if [[ -z $stale_ms ]] && stale_is true 2>/dev/null; then
		stale_ms=$(($(fx__now_ms) - t0))
		fx_log "dns.stale after $stale_ms ms"
	fi
	sleep 0.5
done
[[ -n $stale_ms ]] || fail "dns.stale never became true during the outage: $(sipuad_line_json line1)"
((stale_ms <= (TTL + DNS_TIMEOUT + 2) * 1000)) || fail "dns.stale only after $stale_ms ms, want <= TTL + dns_timeout + 2 s"
err=$(sipuad_line line1 .dns.error)
[[ -n $err && $err != null ]] || fail "dns.error is '$err' while stale"
fx_log "dns.error: $err"
assert_eq "$(sipuad_line line1 '.addresses | join(",")')" "$A:5060" "status addresses during the outage (last good answer)"
assert_eq "$(sipuad_line line1 '.address_index | tostring')" 0 "status address_index during the outage"
saved1=$(kam_count_register a "$LINE_USER" saved)
((saved1 > saved0)) || fail "no refresh reached a during the $((win_ms / 1000)) s outage (expires $EXPIRES s)"
fx_log "$((saved1 - saved0)) refresh(es) through a during the outage"
(($(sipuad_history_count line1 dns) >= 1)) || fail "no dns event in the history: $(sipuad_history line1 20)"
ev=$(sipuad_events line1 dns | head -n 1)
fx_log "dns event: $ev"
assert_match "$(jq -r .reason <<<"$ev")" '[Ll]ast[ -]good' "dns event reason (says the last good answer was used)"
assert_eq "$(sipuad_history_count line1 failover)" 0 "failover events during the outage"
assert_eq "$(sipuad_history_count line1 address)" 0 "address events during the outage"

# ---- 2. register again now, DNS still down
saved0=$(kam_count_register a "$LINE_USER" saved)
j=$(sipuactl_j register line1) || fail "sipuactl register line1: $j"
assert_eq "$(jq -r .ok <<<"$j")" true "reply to register"
more_saved() { (($(kam_count_register a "$LINE_USER" saved) > saved0)); }
wait_for 3 "a REGISTER of line1 saved at a" more_saved || fail "register did not reach a: $(sipuad_line_json line1)"
wait_for 3 "line1 registered through a after register" sipuad_via line1 "$A:5060" ||
	fail "not registered after register: $(sipuad_line_json line1)"
assert_eq "$(kam_contact_count a "$LINE_USER")" 1 "bindings at a after register"
fx_log "register ok with DNS down"

# ---- 3. restart with DNS down: the stored last good answer
fx_log "restarting sipuad"
sipuad_stop 6 || fail "sipuad exit status $?"
wait_for 3 "$LINE_USER un-REGISTERed at SIGTERM" kam_has_contacts a "$LINE_USER" 0 ||
	fail "$LINE_USER still bound: $(kam_contacts a "$LINE_USER")"
sipuad_start "$FX_DIR/sipuad.conf" || fail "sipuad did not start again"
t0=$(fx__now_ms)
# dns_timeout (a refused lookup fails at once) + REGISTER: 1 s; 6 s bound.
wait_for 6 "line1 registered through a from the stored answer" sipuad_via line1 "$A:5060" ||
	fail "not registered with DNS down after a restart: $(sipuad_line_json line1)"
fx_log "registered again after $(($(fx__now_ms) - t0)) ms, DNS down"
wait_for 3 "$LINE_USER bound on a again" kam_has_contacts a "$LINE_USER" 1 || fail "$LINE_USER not bound after the restart"
cid=$(kam_contacts a "$LINE_USER" | cut -f3)
assert_eq "$(sipuad_line line1 '.addresses | join(",")')" "$A:5060" "status addresses after the restart (stored)"
wait_for 3 "dns.stale after the restart" stale_is true || fail "dns.stale: $(sipuad_line_json line1)"

# ---- 4. DNS back, then silent
fx_log "starting dnsmasq again"
dns_start || fail "dns_start again"
wait_for $((2 * TTL + DNS_TIMEOUT + 3)) "the name fresh again" stale_is false || fail "still stale: $(sipuad_line_json line1)"
assert_eq "$(sipuad_line line1 '.dns.error | tostring')" null "dns.error with DNS back"
line_ok || fail "line1 after DNS came back: $(sipuad_line_json line1)"

fx_log "pausing dnsmasq"
dns_pause || fail "dns_pause"
t0=$(fx__now_ms)
win_ms=$(((2 * TTL + DNS_TIMEOUT + 1) * 1000))
stale_ms=
while (($(fx__now_ms) - t0 < win_ms)); do
	line_ok || fail "line1 disturbed by the silent nameserver after $(($(fx__now_ms) - t0)) ms: $(sipuad_line_json line1)"
	if [[ -z $stale_ms ]] && stale_is true 2>/dev/null; then
		stale_ms=$(($(fx__now_ms) - t0))
		fx_log "dns.stale after $stale_ms ms (silent nameserver)"
	fi
	sleep 0.5
done
[[ -n $stale_ms ]] || fail "dns.stale never became true with the nameserver silent: $(sipuad_line_json line1)"
((stale_ms <= (TTL + DNS_TIMEOUT + 2) * 1000)) || fail "dns.stale only after $stale_ms ms, want <= TTL + dns_timeout + 2 s"
assert_eq "$(sipuad_history_count line1 failover)" 0 "failover events overall"
dns_resume || fail "dns_resume"

sipuad_stop 6 || fail "sipuad exit status $?"
assert_eq "$(kam_contact_count a "$LINE_USER")" 0 "$LINE_USER un-REGISTERed at SIGTERM"
pass
