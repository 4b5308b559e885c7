# procd-stub.sh - a stand-in for OpenWrt's /etc/rc.common with procd.sh's
# shell functions, for testing init/sipuad.procd on a development box.
#
#   sh procd-stub.sh INITSCRIPT ACTION
#
# Like rc.common it sources INITSCRIPT and runs ACTION (start: open the
# service, start_service, close it; reload: reload_service). Every procd
# call is appended to $PROCD_LOG, one line each, its arguments separated
# by '|': "set_param|command|/usr/sbin/sipuad|-f|-c|/etc/sipuad/sipuad.conf".
# user_exists answers from $STUB_USERS (space-separated names), logger
# writes to the log too.
initscript=$1
action=$2
: "${PROCD_LOG:?}"

rec() {
	(
		IFS='|'
		printf '%s\n' "$*"
	) >>"$PROCD_LOG"
}
user_exists() {
	case " ${STUB_USERS:-} " in *" $1 "*) return 0 ;; esac
	return 1
}
logger() { rec logger "$@"; }
procd_open_service() { rec open_service "$@"; }
procd_close_service() { rec close_service "$@"; }
procd_open_instance() { rec open_instance "$@"; }
procd_close_instance() { rec close_instance "$@"; }
procd_set_param() { rec set_param "$@"; }
procd_append_param() { rec append_param "$@"; }
procd_send_signal() { rec send_signal "$@"; }
procd_kill() { rec kill "$@"; }
procd_add_reload_trigger() { rec add_reload_trigger "$@"; }
procd_open_trigger() { rec open_trigger "$@"; }
procd_close_trigger() { rec close_trigger "$@"; }

# shellcheck disable=SC1090
. "$initscript"
[ "${USE_PROCD:-}" = 1 ] || { echo "procd-stub: $initscript does not set USE_PROCD=1" >&2; exit 2; }
case $action in
start)
	procd_open_service "$(basename "$initscript")" "$initscript"
	start_service
	rc=$?
	procd_close_service
	exit $rc
	;;
reload)
	if type reload_service >/dev/null 2>&1; then reload_service; else exit 3; fi
	;;
stop)
	if type stop_service >/dev/null 2>&1; then stop_service; fi
	procd_kill "$(basename "$initscript")"
	;;
*)
	echo "procd-stub: no action '$action'" >&2
	exit 2
	;;
esac
