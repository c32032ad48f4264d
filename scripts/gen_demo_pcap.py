#!/usr/bin/python3
"""Writes the demo capture: a deterministic mix of frames that exercises the
graph (IPv4 UDP to a few ports, TCP, ARP, IPv6, and some malformed frames).
Addresses come from 198.18.0.0/15 and 2001:db8::/32 only.

usage: gen_demo_pcap.py OUT.pcap [COUNT]"""
import random
import struct
import sys

from scapy.all import ARP, IP, UDP, TCP, Ether, IPv6, Raw

def frames(count):
    rnd = random.Random(1995)
    a = "02:00:c6:12:00:01"
    b = "02:00:c6:12:00:02"
    out = []
    for i in range(count):
        kind = rnd.random()
        src = f"198.18.{rnd.randrange(0, 4)}.{rnd.randrange(1, 250)}"
        if kind < 0.55:
            port = rnd.choice([7, 7, 7, 53, 9, 5001])
            f = Ether(src=a, dst=b) / IP(src=src, dst="198.19.0.1") / \
                UDP(sport=rnd.randrange(1024, 65535), dport=port) / Raw(b"x" * 16)
        elif kind < 0.75:
            f = Ether(src=a, dst=b) / IP(src=src, dst="198.19.0.1") / \
                TCP(sport=rnd.randrange(1024, 65535), dport=80, flags="S")
        elif kind < 0.85:
            f = Ether(src=a, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, psrc=src, pdst="198.19.0.1",
                                                            hwsrc=a)
        elif kind < 0.95:
            f = Ether(src=a, dst=b) / IPv6(src="2001:db8::1", dst="2001:db8::2") / \
                UDP(sport=4000, dport=7) / Raw(b"y" * 16)
        else:
            # A runt: an Ethernet header cut short.
            f = Raw(bytes(Ether(src=a, dst=b, type=0x0800))[:10])
        out.append(f)
    return out

if __name__ == "__main__":
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    with open(sys.argv[1], "wb") as out:
        # pcap global header: magic, version 2.4, zone, sigfigs, snaplen, Ethernet.
        out.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for i, f in enumerate(frames(n)):
            data = bytes(f)
            # Fixed timestamps keep the file byte-identical from run to run.
            out.write(struct.pack("<IIII", 1700000000 + i // 1000, (i % 1000) * 1000,
                                  len(data), len(data)))
            out.write(data)
