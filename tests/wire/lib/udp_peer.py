#!/usr/bin/python3
"""A Linux UDP peer: sends datagrams from an ordinary socket (default
offloads, so on a veth or TAP the checksum leaves unfinished) and waits for
each to come back.  Run inside a namespace:

    ip netns exec NS udp_peer.py --src 198.18.1.1 --dst 198.18.1.2 --port 7 \
        --count 5 --timeout 2

Prints one JSON line: {"sent", "received", "matched", "csum_errors"} where
matched counts replies whose payload equals what was sent and that came from
the address and port sent to; csum_errors is the rise of Udp InCsumErrors in
this namespace while it ran (Linux dropped a reply for a bad checksum).
"""
import argparse
import json
import os
import socket
import time


def udp_snmp():
    with open("/proc/net/snmp") as f:
        lines = [l.split() for l in f if l.startswith("Udp:")]
    return dict(zip(lines[0][1:], map(int, lines[1][1:])))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--src", required=True)
    ap.add_argument("--dst", required=True)
    ap.add_argument("--port", type=int, default=7)
    ap.add_argument("--count", type=int, default=5)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--timeout", type=float, default=2.0)
    a = ap.parse_args()

    before = udp_snmp()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((a.src, 0))
    s.settimeout(a.timeout)
    sent = received = matched = 0
    for i in range(a.count):
        payload = (f"spin-{os.getpid()}-{i}-".encode() * a.size)[:a.size]
        s.sendto(payload, (a.dst, a.port))
        sent += 1
        end = time.monotonic() + a.timeout
        while time.monotonic() < end:
            s.settimeout(max(end - time.monotonic(), 0.001))
            try:
                data, frm = s.recvfrom(65536)
            except socket.timeout:
                break
            received += 1
            if data == payload and frm == (a.dst, a.port):
                matched += 1
                break
    after = udp_snmp()
    print(json.dumps({"sent": sent, "received": received, "matched": matched,
                      "csum_errors": after["InCsumErrors"] - before["InCsumErrors"]}))


if __name__ == "__main__":
    main()
