#!/usr/bin/env bash
# A malformed SIP message never crashes the daemon (the project's rule):
# garbage, truncated and oversized messages over UDP and TCP at its SIP
# port, a response to nothing, an unsolicited INVITE; afterwards it still
# answers OPTIONS, refuses a stranger's INVITE (403, RULES F.3) and its
# line never noticed. Also run on the ASan build, where it must be clean.
source "$(dirname "$0")/lib.sh"
fx_init
kam_start a "$(fx_ip 1)" || fail "kamailio a"
A=$(fx_ip 1)
PORT=$(fx_free_port)
{
	sipuad_conf_common
	cat <<EOF
lines = ( { id = "line1"; user = "9401"; domain = "sipuad.test"; password = "s3cr3t-pw";
            servers = ( { host = "$A"; expires = 60; } ); } );
EOF
} >"$FX_DIR/sipuad.conf"
sed -i "s/port = 0;/port = $PORT;/" "$FX_DIR/sipuad.conf"
sipuad_start "$FX_DIR/sipuad.conf" || fail "sipuad did not start"
wait_for 5 "line1 registered" sipuad_line_is line1 .state registered || fail "line1"
cid=$(kam_contacts a 9401 | cut -f3)

timeout 60 python3 - "$FX_LOCAL_IP" "$PORT" <<'EOF' || fail "malformed SIP checks failed"
import os, random, socket, sys, time
ip, port = sys.argv[1], int(sys.argv[2])
random.seed(1)

def msg(first, headers, body=b""):
    return first + b"\r\n" + b"".join(h + b"\r\n" for h in headers) + b"\r\n" + body

via = lambda b: b"Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK" + b
good_headers = lambda m, b: [via(b), b"Max-Forwards: 70", b"From: <sip:x@127.0.0.1>;tag=1",
                             b"To: <sip:9401@sipuad.test>", b"Call-ID: " + b + b"@t",
                             b"CSeq: 1 " + m, b"Content-Length: 0"]
bad = [
    b"", b"\x00" * 100, os.urandom(1400), b"SIP/2.0", b"INVITE\r\n\r\n",
    b"INVITE sip:x SIP/2.0\r\n\r\n",                       # no headers at all
    msg(b"OPTIONS sip:x SIP/2.0", [b"Via: garbage", b"CSeq: x"]),
    msg(b"OPTIONS sip:x SIP/2.0", good_headers(b"OPTIONS", b"big") + [b"X-Big: " + b"a" * 60000]),
    msg(b"SIP/2.0 200 OK", good_headers(b"REGISTER", b"nothing")),  # answers no request
    msg(b"REGISTER sip:x SIP/2.0", good_headers(b"REGISTER", b"cl")[:-1] + [b"Content-Length: 99999"]),
    msg(b"OPTIONS sip:x SIP/2.0", good_headers(b"OPTIONS", b"neg")[:-1] + [b"Content-Length: -5"]),
    msg(b"BYE sip:x SIP/2.0", good_headers(b"BYE", b"bye")),  # no such dialog
]
bad += [bytes(random.getrandbits(8) for _ in range(random.randint(1, 600))) for _ in range(200)]
# Mutations of a valid message: flip bytes, cut it short.
base = msg(b"OPTIONS sip:9401@127.0.0.1 SIP/2.0", good_headers(b"OPTIONS", b"mut"))
for _ in range(300):
    m = bytearray(base)
    for _ in range(random.randint(1, 8)):
        m[random.randrange(len(m))] = random.getrandbits(8)
    bad.append(bytes(m[:random.randint(1, len(m))]))

u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind((ip, 0))
for b in bad:
    try:
        u.sendto(b, (ip, port))
    except OSError:
        pass  # over the UDP size limit: fine
for chunk in (bad[:60], bad[60:120]):
    t = socket.create_connection((ip, port), timeout=5)
    for b in chunk:
        try:
            t.sendall(b)
        except OSError:
            break  # the daemon closed a garbage connection: fine
    t.close()

def ask(method, branch):
    # Like any SIP client over UDP (RFC 3261 17.1.2.2): retransmit on the
    # T1-doubling schedule until answered. The flood above can overflow the
    # daemon's socket buffer (the kernel drops datagrams, not the daemon).
    req = msg(method + b" sip:9401@" + ip.encode() + b":" + str(port).encode() + b" SIP/2.0",
              [b"Via: SIP/2.0/UDP %s:%d;branch=z9hG4bK%s" % (ip.encode(), u.getsockname()[1], branch)]
              + good_headers(method, branch)[1:])
    interval, deadline = 0.5, time.time() + 20
    while time.time() < deadline:
        u.sendto(req, (ip, port))
        u.settimeout(interval)
        try:
            while True:
                data, _ = u.recvfrom(65536)
                if branch in data:  # skip late answers to the garbage
                    return data.split(b"\r\n", 1)[0]
        except socket.timeout:
            interval = min(interval * 2, 4.0)
    raise TimeoutError("no answer to %r within 20 s" % method)

r = ask(b"OPTIONS", b"alive1")
print("OPTIONS after the garbage:", r)
assert r.startswith(b"SIP/2.0 200"), r
r = ask(b"INVITE", b"call1")
u.settimeout(10)
while r.startswith(b"SIP/2.0 1"):  # 100 Trying first
    data, _ = u.recvfrom(65536)
    r = data.split(b"\r\n", 1)[0]
print("INVITE:", r)
assert r.startswith(b"SIP/2.0 403"), r
EOF

fx_pid_alive "$SIPUAD_PID" || fail "sipuad died"
assert_eq "$(sipuad_line line1 .state)" registered "the line never noticed"
assert_eq "$(kam_contacts a 9401 | cut -f3)" "$cid" "same registration throughout"
sipuad_stop 6 || fail "sipuad exit status $?"
pass
