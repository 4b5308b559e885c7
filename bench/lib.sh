# bench/lib.sh - what the timing benchmarks share; sourced after
# test/integration/lib.sh.

# poll_ms TIMEOUT_S CMD...: runs CMD every POLL_STEP s (default 0.05) until
# it succeeds; prints the milliseconds since POLL_T0 (set by the caller
# right after the fault).
poll_ms() {
	local end=$(($(fx__now_ms) + $(fx__to_ms "$1")))
	shift
	while :; do
		if "$@" >/dev/null 2>&1; then
			echo $(($(fx__now_ms) - POLL_T0))
			return 0
		fi
		(($(fx__now_ms) < end)) || return 1
		sleep "${POLL_STEP:-0.05}"
	done
}

# row LABEL BOUND_MS SAMPLES...: "label n min median max bound verdict" (s)
row() {
	local label=$1 bound=$2 v
	shift 2
	v=$(printf '%s\n' "$@" | sort -n | awk -v b="$bound" '
		{ a[NR] = $1 }
		END {
			med = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
			printf "%3d %7.2f %7.2f %7.2f %7.2f  %s", NR, a[1] / 1000, med / 1000,
				a[NR] / 1000, b / 1000, (a[NR] <= b) ? "OK" : "OVER"
		}')
	printf '%-44s %s\n' "$label" "$v"
}

# table_head: the header row() fills
table_head() {
	printf '%-44s %3s %7s %7s %7s %7s  %s\n' "phase" "n" "min" "median" "max" "bound" "verdict"
}
