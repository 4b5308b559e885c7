# lib_calls.sh - helpers of the call tests (RULES F), sourced after lib.sh.
# A call's events come from a subscription (sipuad_subscribe FILE); its
# live fields from `calls`.

# sipuad_call LINE TARGET: places a call; prints its id (c1, c2, ...).
sipuad_call() {
	local j
	j=$(sipuactl_j call "$1" "$2") || { echo "call $1 $2: $j" >&2; return 1; }
	jq -er .call <<<"$j"
}

# sipuad_call_field ID JQ_FILTER: prints the field of open call ID (from `calls`).
sipuad_call_field() {
	local j
	j=$(sipuactl_j calls) || return 1
	jq -er --arg id "$1" ".calls[] | select(.id == \$id) | $2" <<<"$j"
}

# sipuad_call_is ID JQ_FILTER VALUE: for wait_for.
sipuad_call_is() {
	local v
	v=$(sipuad_call_field "$1" "$2") || { echo "no open call $1" >&2; return 1; }
	[[ $v == "$3" ]] || { echo "call $1 $2 is '$v', want '$3'" >&2; return 1; }
}

# sipuad_incoming LINE: prints the id of the call ringing on LINE (state incoming).
sipuad_incoming() {
	local j
	j=$(sipuactl_j calls) || return 1
	jq -er --arg l "$1" 'first(.calls[] | select(.line == $l and .state == "incoming") | .id)' <<<"$j"
}

# sipuad_no_calls: succeeds when no call is open (for wait_for).
sipuad_no_calls() {
	local n
	n=$(sipuactl_j calls | jq '.calls | length') || return 1
	[[ $n == 0 ]] || { echo "$n call(s) open" >&2; return 1; }
}

# call_events FILE ID: the call's events in a subscription FILE, one JSON object a line.
call_events() {
	jq -cR --arg id "$2" 'fromjson? | select(.kind == "call" and .call == $id)' "$1"
}

# call_states FILE ID: the call's states in order, space-separated.
call_states() {
	call_events "$1" "$2" | jq -r .state | paste -sd' '
}

# call_closed FILE ID: succeeds once the call's closed event is in FILE (for wait_for).
call_closed() {
	call_events "$1" "$2" | jq -e 'select(.state == "closed")' >/dev/null ||
		{ echo "call $2 not closed: $(call_states "$1" "$2")" >&2; return 1; }
}

# call_closed_once FILE ID CODE: exactly one closed event, with CODE.
call_closed_once() {
	local n code
	n=$(call_events "$1" "$2" | jq -s 'map(select(.state == "closed")) | length')
	[[ $n == 1 ]] || fail "call $2: $n closed events, want 1 ($(call_states "$1" "$2"))"
	code=$(call_events "$1" "$2" | jq -r 'select(.state == "closed") | .code')
	[[ -z ${3:-} || $code == "$3" ]] || fail "call $2 closed with $code, want $3"
}

# sipuad_conf_calls_line ID USER SERVERS [EXTRA]: one line of a call test.
sipuad_conf_calls_line() {
	cat <<EOC
  { id = "$1"; user = "$2"; domain = "sipuad.test"; password = "s3cr3t-pw";
    servers = ( $3 ); ${4:-} }
EOC
}
