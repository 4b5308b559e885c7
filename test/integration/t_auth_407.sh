#!/usr/bin/env bash
# Digest auth answers a 407 (Proxy-Authenticate) as well as a 401: sipp
# plays a challenging proxy; the digest in the Proxy-Authorization it
# received is recomputed here (RFC 2617) from the known password. The
# password never reaches the log.
source "$(dirname "$0")/lib.sh"
fx_init
P=$(fx_ip 5)
{
	sipuad_conf_common
	cat <<EOC
lines = ( { id = "l407"; user = "3003"; domain = "sipuad.test"; password = "pw-407-Secret";
            servers = ( { host = "$P"; expires = 60; } ); } );
EOC
} >"$FX_DIR/sipuad.conf"
sipp_uas uas_register_407 "$P" || fail "sipp did not start"
sipuad_start "$FX_DIR/sipuad.conf" || fail "sipuad did not start"
wait_for 5 "l407 registered after the 407" sipuad_line_is l407 .state registered ||
	fail "not registered: $(sipuactl_j status l407)"
python3 - "$SIPP_UAS_MSG" <<'PY' || fail "the Proxy-Authorization digest is wrong"
import hashlib, re, sys
m = lambda s: hashlib.md5(s.encode()).hexdigest()
trace = open(sys.argv[1], errors="replace").read()
h = re.search(r"^Proxy-Authorization: Digest (.*)$", trace, re.M).group(1)
p = dict(re.findall(r'(\w+)="?([^",]*)"?', h))
want = m(m("3003:%s:pw-407-Secret" % p["realm"]) + ":" + p["nonce"] + ":" + m("REGISTER:" + p["uri"]))
print("digest", p["response"], "expected", want)
sys.exit(p["response"] != want)
PY
sipuad_stop 6 || fail "sipuad exit status $?"
sipp_uas_wait 5 || fail "sipp scenario failed (digest not verified?): $(grep -v '^$' "${SIPP_UAS_MSG%.msg}.err" 2>/dev/null | tail -5)"
! grep -qF 'pw-407-Secret' "$FX_DIR/sipuad.log" || fail "password in the log"
pass
