#!/usr/bin/python3
"""Writes the seed corpora of fuzz_ether and fuzz_arp (tests/fuzz/corpus/
ether and .../arp).  Each seed is a sequence of records [mode:1][len:2][bytes]
as the targets read them.  Run from anywhere: python3 gen_corpus_l2.py"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
US = bytes([2, 0, 0, 0, 0, 2])
PEER = bytes([2, 0, 0, 0, 0, 1])
BCAST = b"\xff" * 6
ZERO = b"\x00" * 6


def rec(mode, body):
    return struct.pack(">BH", mode, len(body)) + body


def eth(dst, src, etype, payload):
    return dst + src + struct.pack(">H", etype) + payload


def arp(op, sha, spa, tha, tpa, hlen=6, plen=4):
    return struct.pack(">HHBBH", 1, 0x0800, hlen, plen, op) + sha + bytes(spa) + tha + bytes(tpa)


def ip(a, b, c, d):
    return [a, b, c, d]


def write(name, seeds):
    d = os.path.join(HERE, "corpus", name)
    os.makedirs(d, exist_ok=True)
    for k, v in seeds.items():
        with open(os.path.join(d, k), "wb") as f:
            f.write(v)


req = arp(1, PEER, ip(198, 18, 0, 1), ZERO, ip(198, 18, 0, 2))
write("ether", {
    "unicast": rec(0, eth(US, PEER, 0x88b5, b"hello, spin")),
    "bcast_arp": rec(0, eth(BCAST, PEER, 0x0806, req + bytes(18))),
    "vlan": rec(0, eth(US, PEER, 0x8100, struct.pack(">HH", 0xa02a, 0x88b5) + b"tagged")),
    "qinq": rec(0, eth(US, PEER, 0x88a8, struct.pack(">HHHH", 1, 0x8100, 2, 0x88b5))),
    "mcast": rec(2, eth(bytes([1, 0, 0x5e, 0, 0, 1]), PEER, 0x88b5, b"group")),
    "other_promisc": rec(1, eth(bytes([2, 0, 0, 0, 0, 9]), PEER, 0x88b5, b"x"))
    + rec(0, eth(bytes([2, 0, 0, 0, 0, 9]), PEER, 0x88b5, b"y")),
    "short": rec(0, US + PEER[:3]),
    "llc": rec(0, eth(US, PEER, 46, bytes(46))),
})
write("arp", {
    "request": rec(1, req),
    "reply_pending": rec(4 | 0, arp(2, PEER, ip(198, 18, 0, 7), US, ip(198, 18, 0, 2))),
    "gratuitous": rec(1, arp(1, PEER, ip(198, 18, 0, 5), ZERO, ip(198, 18, 0, 5))),
    "probe": rec(1, arp(1, PEER, ip(0, 0, 0, 0), ZERO, ip(198, 18, 0, 2))),
    "vlan_request": rec(3, req),
    "bad_len": rec(1, arp(1, PEER, ip(198, 18, 0, 1), ZERO, ip(198, 18, 0, 2), hlen=8)),
    "truncated": rec(1, req[:20]),
    "conflict": rec(1, arp(1, PEER, ip(198, 18, 0, 2), ZERO, ip(198, 18, 0, 1))),
    "flush": rec(4, b"\x09" + req[1:]) + rec(8, req),
})

# fuzz_pcap also reads its input as [virtio_net_hdr][frame]: a coalesced
# TCP/IPv4 frame as a driver with tso receives it (NEEDS_CSUM at 34/16,
# GSO_TCPV4, gso_size 1448, hdr_len 66).
tcp_payload = bytes(range(256)) * 20
iph = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + 32 + len(tcp_payload), 1, 0x4000, 64, 6, 0,
                  bytes([198, 18, 0, 1]), bytes([198, 18, 0, 2]))
tcph = struct.pack(">HHIIBBHHH", 5001, 80, 1, 1, 8 << 4, 0x18, 512, 0, 0) + \
    b"\x01\x01\x08\x0a" + b"\x00" * 8
vnet = struct.pack("<BBHHHH", 1, 1, 66, 1448, 34, 16)
d = os.path.join(HERE, "corpus", "pcap")
with open(os.path.join(d, "vnet_gso"), "wb") as f:
    f.write(vnet + eth(US, PEER, 0x0800, iph + tcph + tcp_payload))
