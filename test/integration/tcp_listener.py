#!/usr/bin/env python3
"""tcp_listener.py IP PORT MODE [CERT KEY] - a TCP listener that is not a good
TLS server, for sipuad's SIP over TLS tests (lib.sh: tls_plain_listener,
tls_bad_listener).

Modes:
  silent    accepts and reads whatever comes, never writes: a plain TCP
            service on the TLS port (a TLS client waits for a ServerHello
            that never comes)
  reply     accepts, and answers the first bytes it reads with a plain-text
            SIP "400 Bad Request", then closes: a plain SIP-over-TCP server
            on the TLS port (a TLS client fails at once on a record that is
            not TLS)
  close     accepts and closes at once (FIN before any handshake)
  reset     accepts and resets at once (RST: SO_LINGER 0)
  tls11     a TLS server (CERT, KEY) that speaks TLS 1.1 at most (and
            lowers OpenSSL's security level so that it can): a client that
            wants TLS 1.2 or later fails the handshake
  nocipher  a TLS server (CERT, KEY) that only speaks TLS 1.2 with NULL
            ciphers: every client handshake fails (handshake_failure alert)

Prints one line per event on stdout, flushed: "listening IP:PORT" once bound,
then "accept PEER_IP:PORT", "recv PEER_IP:PORT N bytes tls|text [TEXT]" (what
came, silent and reply: a TLS record, or text with its first words), "closed
PEER_IP:PORT", "handshake failed PEER_IP:PORT: REASON". Runs until killed (SIGTERM).
"""
import select
import signal
import socket
import ssl
import struct
import sys

SIP_400 = b"SIP/2.0 400 Bad Request\r\nContent-Length: 0\r\n\r\n"


def say(msg):
    print(msg, flush=True)


def main():
    if len(sys.argv) < 4:
        sys.exit("usage: tcp_listener.py IP PORT silent|reply|close|reset|nocipher|tls11 [CERT KEY]")
    ip, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    ctx = None
    if mode in ("nocipher", "tls11"):
        if len(sys.argv) < 6:
            sys.exit("tcp_listener.py: %s needs CERT and KEY" % mode)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        if mode == "nocipher":
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
            # no client offers NULL encryption: no shared cipher
            ctx.set_ciphers("ECDHE-ECDSA-NULL-SHA:@SECLEVEL=0")
        else:
            ctx.minimum_version = ssl.TLSVersion.TLSv1
            ctx.maximum_version = ssl.TLSVersion.TLSv1_1
            ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        ctx.load_cert_chain(sys.argv[4], sys.argv[5])
    elif mode not in ("silent", "reply", "close", "reset"):
        sys.exit("tcp_listener.py: unknown mode " + mode)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((ip, port))
    ls.listen(16)
    say("listening %s:%d" % (ip, port))

    conns = {}  # socket -> peer "ip:port", the silent/reply ones still open
    while True:
        ready, _, _ = select.select([ls] + list(conns), [], [])
        for s in ready:
            if s is ls:
                c, addr = ls.accept()
                peer = "%s:%d" % addr
                say("accept " + peer)
                if mode == "close":
                    c.close()
                    say("closed " + peer)
                elif mode == "reset":
                    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    c.close()
                    say("closed " + peer)
                elif mode in ("nocipher", "tls11"):
                    c.settimeout(5)
                    try:
                        t = ctx.wrap_socket(c, server_side=True)
                        t.close()  # not expected: a client with NULL ciphers
                        say("handshake done " + peer)
                    except (ssl.SSLError, OSError) as e:
                        say("handshake failed %s: %s" % (peer, e))
                        c.close()
                    say("closed " + peer)
                else:
                    conns[c] = peer
                continue
            peer = conns[s]
            try:
                data = s.recv(65536)
            except OSError:
                data = b""
            if data:
                # what a client sends first: a TLS record (0x16: handshake)
                # or text (a SIP request in clear)
                kind = "tls" if data[0] == 0x16 else "text"
                head = data[:16].decode("ascii", "replace") if kind == "text" else ""
                say("recv %s %d bytes %s %s" % (peer, len(data), kind, head.split("\r")[0]))
            if data and mode == "reply":
                try:
                    s.sendall(SIP_400)
                except OSError:
                    pass
                data = b""
            if not data:
                del conns[s]
                s.close()
                say("closed " + peer)


if __name__ == "__main__":
    main()
