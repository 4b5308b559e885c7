#!/bin/sh
# deps.sh - install the Debian packages sipuad needs to build and test, only
# those missing. Idempotent, no prompts; needs root only when something is missing.
set -eu

# libssl-dev: SIP over TLS (SPEC G) is OpenSSL's, through Sofia's tport.
BUILD="gcc make pkg-config libsofia-sip-ua-dev libevent-dev libconfig-dev libsqlite3-dev libjson-c-dev libssl-dev"
# Test peers and tools: Kamailio registrars, sipp (sip-tester), a DNS server
# (dnsmasq-base) and dig (bind9-dnsutils), jq for JSON in shell tests,
# iproute2 for ss, procps for ps, tshark (with dumpcap) to count what goes
# on the wire (t_retransmit_budget, bench/fleet.sh), faketime to step the
# wall clock (t_clock_step, bench/clock.sh); for SIP over TLS (SPEC G)
# kamailio-tls-modules (tls.so: registrars on tls:IP:5061) and openssl (the
# test PKI made at test time, s_client probes; lib.sh "tls").
TEST="kamailio sip-tester dnsmasq-base bind9-dnsutils jq iproute2 procps sqlite3 python3 util-linux faketime tshark clang libclang-rt-14-dev kamailio-tls-modules openssl"
# What ships (RULES H): mandoc for lint, man-db and systemd for
# systemd-analyze verify, busybox for its ash and start-stop-daemon; the
# armhf cross build's sysroot maker, compiler and emulator (scripts/cross.sh).
SHIP="mandoc man-db systemd busybox mmdebstrap gcc-arm-linux-gnueabihf qemu-user file"

missing=""
for p in $BUILD $TEST $SHIP; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

echo "deps: installing:$missing"
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages and not root; run as root: apt-get install$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing </dev/null
# The kamailio package may start a system instance on 5060 of every address;
# tests run their own on 127.0.0.2/3, so stop one that this install started.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet kamailio 2>/dev/null; then
	systemctl stop kamailio || true
	systemctl disable kamailio >/dev/null 2>&1 || true
fi
