#!/usr/bin/python3
"""Writes a SYN flood to a pcap file, once, for tcpreplay to inject.

    synflood.py --out FILE --count N --dst 198.18.0.2 --dport 7
                --dst-mac MAC --src-mac MAC [--seed S] [--avoid A,B] [--avoid-net P/LEN]

Every frame is Ethernet + IPv4 + TCP SYN (MSS option), 58 bytes, with a
source address drawn from 198.18.0.0/15 (the benchmarking range; the
addresses in --avoid, comma separated, and the prefix --avoid-net are never
used), a random source
port, sequence number and IP id, and correct checksums, so spin treats each
as a real connection attempt.  Timestamps are 1 us apart (tcpreplay paces
by its own --pps anyway).  Standard library only: 100,000 frames take about
a second.
"""
import argparse
import ipaddress
import random
import struct
import sys


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def mac_bytes(m):
    return bytes(int(x, 16) for x in m.split(":"))


def syn_frame(rng, src, dst, dport, smac, dmac):
    sport = rng.randrange(1024, 65536)
    seq = rng.randrange(0, 1 << 32)
    opts = struct.pack("!BBH", 2, 4, 1460)
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, (5 + 1) << 4, 0x02, 64240, 0, 0) + opts
    pseudo = struct.pack("!4s4sBBH", src, dst, 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), rng.randrange(65536), 0x4000,
                     64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return dmac + smac + b"\x08\x00" + ip + tcp


def write(out, count, dst, dport, dst_mac, src_mac, seed=1, avoid=(), avoid_net=None):
    rng = random.Random(seed)
    net = ipaddress.ip_network("198.18.0.0/15")
    base, size = int(net.network_address), net.num_addresses
    avoid = {int(ipaddress.ip_address(a)) for a in avoid} | {base, base + size - 1}
    if avoid_net:
        an = ipaddress.ip_network(avoid_net)
        avoid |= set(range(int(an.network_address), int(an.broadcast_address) + 1))
    d = ipaddress.ip_address(dst).packed
    smac, dmac = mac_bytes(src_mac), mac_bytes(dst_mac)
    with open(out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i in range(count):
            a = base + rng.randrange(size)
            while a in avoid:
                a = base + rng.randrange(size)
            fr = syn_frame(rng, a.to_bytes(4, "big"), d, dport, smac, dmac)
            f.write(struct.pack("<IIII", i // 1000000, i % 1000000, len(fr), len(fr)))
            f.write(fr)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--count", type=int, default=100000)
    ap.add_argument("--dst", default="198.18.0.2")
    ap.add_argument("--dport", type=int, default=7)
    ap.add_argument("--dst-mac", required=True)
    ap.add_argument("--src-mac", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--avoid", default="")
    ap.add_argument("--avoid-net", help="a prefix never used as source (the lab link)")
    a = ap.parse_args()
    write(a.out, a.count, a.dst, a.dport, a.dst_mac, a.src_mac, a.seed,
          [x for x in a.avoid.split(",") if x], a.avoid_net)
    return 0


if __name__ == "__main__":
    sys.exit(main())
