#!/usr/bin/python3
"""Linux-side TCP peers for the wire tests, run inside a namespace with
Debian's python (standard library only).

    tcp_peer.py client --dst A --port P [--send FILE] [--send-bytes N]
                       [--recv-max N] [--timeout S]
        connects, sends FILE (or N chargen bytes, or nothing), shuts down
        its write side, reads until EOF (or N bytes), prints
        DONE {"sent":..,"received":..,"sha256":..,"seconds":..}
    tcp_peer.py server --port P [--send FILE] [--timeout S]
        prints READY, accepts one connection, sends FILE while reading
        everything the peer sends until EOF, then closes; prints
        DONE {"sent":..,"received":..,"sha256":..,"seconds":..}
    tcp_peer.py many --dst A --port P --count N [--mode echo|reset|chargen]
        N short connections one after the other: echo: 1 byte each way and
        an orderly close; reset: 1 byte each way, then SO_LINGER 0 (RST);
        chargen: read 1 byte, then close with data in flight.  Prints
        DONE {"ok":..,"failed":..,"seconds":..,"per_s":..}
    tcp_peer.py echo --dst A --port P --send-bytes N [--count C] [--timeout S]
        C connections at once to an echo service, each sending its own N
        random bytes and shutting down its write side, then reading the
        echo until EOF; prints one word per connection on one line: "ok",
        or "mismatch M" (M bytes came back, not the ones sent)

Sending and receiving run in two threads so a peer that pushes back (a
closed window) cannot deadlock the transfer.  Every socket call is bounded
by --timeout.
"""
import argparse
import hashlib
import json
import os
import socket
import struct
import sys
import threading
import time

CHUNK = 65536


def chargen_bytes(off, n):
    """Bytes [off, off+n) of the RFC 864 stream (tcpsvc.h chargen_byte)."""
    out = bytearray(n)
    for i in range(n):
        k = off + i
        line, col = divmod(k, 74)
        out[i] = 13 if col == 72 else 10 if col == 73 else 32 + (line + col) % 95
    return bytes(out)


def pump(sock, args, res):
    """Receives until EOF (or recv_max bytes) into res."""
    h = hashlib.sha256()
    n = 0
    try:
        while True:
            want = CHUNK if not args.recv_max else min(CHUNK, args.recv_max - n)
            if want <= 0:
                break
            d = sock.recv(want)
            if not d:
                break
            h.update(d)
            n += len(d)
    except OSError as e:
        res["recv_error"] = str(e)
    res["received"] = n
    res["sha256"] = h.hexdigest()


def feed(sock, args, res):
    n = 0
    try:
        if args.send:
            with open(args.send, "rb") as f:
                while True:
                    d = f.read(CHUNK)
                    if not d:
                        break
                    sock.sendall(d)
                    n += len(d)
        elif args.send_bytes:
            while n < args.send_bytes:
                k = min(CHUNK, args.send_bytes - n)
                sock.sendall(chargen_bytes(n, k))
                n += k
        sock.shutdown(socket.SHUT_WR)
    except OSError as e:
        res["send_error"] = str(e)
    res["sent"] = n


def transfer(sock, args):
    res = {}
    t0 = time.monotonic()
    sock.settimeout(args.timeout)
    tx = threading.Thread(target=feed, args=(sock, args, res), daemon=True)
    tx.start()
    pump(sock, args, res)
    tx.join(args.timeout)
    res["seconds"] = round(time.monotonic() - t0, 3)
    sock.close()
    return res


def client(args):
    s = socket.create_connection((args.dst, args.port), timeout=args.timeout)
    print("DONE " + json.dumps(transfer(s, args)), flush=True)


def server(args):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", args.port))
    ls.listen(4)
    ls.settimeout(args.timeout)
    print("READY", flush=True)
    s, _ = ls.accept()
    ls.close()
    print("DONE " + json.dumps(transfer(s, args)), flush=True)


def many(args):
    ok = failed = 0
    errors = {}
    t0 = time.monotonic()
    for i in range(args.count):
        try:
            s = socket.create_connection((args.dst, args.port), timeout=args.timeout)
            if args.mode == "chargen":
                if not s.recv(1):
                    raise OSError("no chargen byte")
                s.close()
            else:
                s.sendall(b"%c" % (65 + i % 26))
                d = s.recv(1)
                if d != b"%c" % (65 + i % 26):
                    raise OSError(f"echo gave {d!r}")
                if args.mode == "reset":
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                else:
                    s.shutdown(socket.SHUT_WR)
                    if s.recv(1) != b"":
                        raise OSError("data after the echo")
                s.close()
            ok += 1
        except OSError as e:
            failed += 1
            errors[str(e)[:60]] = errors.get(str(e)[:60], 0) + 1
    dt = time.monotonic() - t0
    print("DONE " + json.dumps({"ok": ok, "failed": failed, "seconds": round(dt, 3),
                                "per_s": round(args.count / dt, 1), "errors": errors}),
          flush=True)


def echo(args):
    res = [None] * args.count

    def one(i):
        data = os.urandom(args.send_bytes)
        s = socket.create_connection((args.dst, args.port), timeout=args.timeout)

        def send():
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        t = threading.Thread(target=send)
        t.start()
        buf = bytearray()
        while True:
            c = s.recv(CHUNK)
            if not c:
                break
            buf += c
        t.join()
        s.close()
        res[i] = "ok" if bytes(buf) == data else f"mismatch {len(buf)}"
    ts = [threading.Thread(target=one, args=(i,)) for i in range(args.count)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print(" ".join(str(r) for r in res), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("role", choices=["client", "server", "many", "echo"])
    ap.add_argument("--dst", default="198.18.0.2")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--send")
    ap.add_argument("--send-bytes", type=int, default=0)
    ap.add_argument("--recv-max", type=int, default=0)
    ap.add_argument("--count", type=int, default=100)
    ap.add_argument("--mode", default="echo", choices=["echo", "reset", "chargen"])
    ap.add_argument("--timeout", type=float, default=30)
    args = ap.parse_args()
    {"client": client, "server": server, "many": many, "echo": echo}[args.role](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
