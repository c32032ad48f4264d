#!/usr/bin/python3
"""Writes the seed corpora of fuzz_ip and fuzz_icmp (tests/fuzz/corpus/ip,
tests/fuzz/corpus/icmp).  Run from anywhere: /usr/bin/python3 gen_corpus_ip.py

fuzz_ip input: frames of [mode:1][len:2][IPv4 datagram]; mode bit 0 fixes
the header checksum, 1 turns forwarding on, 2 advances the clock 31 s,
3 fixes the total length, 4 marks the frame coalesced TCP/IPv4 (GSO) with
the size chosen by bits 6-7, 5 gives the forwarding interface TSO.  fuzz_icmp input: [mode:1][bytes] (see the .c).
"""
import os
import struct

from scapy.all import ICMP, IP, TCP, UDP, Raw, fragment

HERE = os.path.dirname(os.path.abspath(__file__))
US, PEER, FAR = "198.18.0.2", "198.18.0.1", "198.19.7.7"


def frames(pkts, mode=1):
    out = b""
    for p in pkts:
        b = bytes(p)
        out += struct.pack("!BH", mode, len(b)) + b
    return out


def write(sub, name, data):
    d = os.path.join(HERE, "corpus", sub)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


echo = IP(src=PEER, dst=US, id=7) / ICMP(id=1, seq=1) / Raw(b"x" * 3000)
frags = fragment(echo, fragsize=1480)
write("ip", "echo", frames([IP(src=PEER, dst=US) / ICMP() / Raw(b"ping")]))
write("ip", "frags_in_order", frames(frags))
write("ip", "frags_reversed", frames(list(reversed(frags))))
write("ip", "frag_dup", frames([frags[0], frags[0], frags[1], frags[2]]))
ov = IP(src=PEER, dst=US, id=9, flags="MF", frag=0, proto=99) / Raw(b"a" * 1480)
ov2 = IP(src=PEER, dst=US, id=9, frag=170, proto=99) / Raw(b"b" * 200)
write("ip", "frag_overlap", frames([ov, ov2]))
big = IP(src=PEER, dst=US, id=10, frag=8189, proto=99) / Raw(b"c" * 100)
write("ip", "frag_64k", frames([ov, big]))
write("ip", "frag_timeout", frames([frags[0]]) + frames([frags[1]], mode=5))
write("ip", "forward", frames([IP(src=PEER, dst=FAR, ttl=5) / UDP() / Raw(b"f" * 1000)], 3))
write("ip", "forward_ttl1", frames([IP(src=PEER, dst=FAR, ttl=1) / UDP()], 3))
write("ip", "forward_df", frames([IP(src=PEER, dst=FAR, flags="DF") / Raw(b"d" * 1200)], 3))
gso = IP(src=PEER, dst=FAR, flags="DF") / TCP(sport=5001, dport=80, flags="PA", seq=1) / \
    Raw(b"g" * 1460)
write("ip", "forward_gso_sw", frames([gso], 3 | 8 | 0x10 | 0x80))
write("ip", "forward_gso_tso", frames([gso], 3 | 8 | 0x10 | 0x20 | 0x40))
write("ip", "options", frames([IP(src=PEER, dst=US, options=b"\x01\x01\x01\x00") / ICMP()]))
write("ip", "bad_ihl", frames([IP(src=PEER, dst=US, ihl=4) / ICMP()], 0))
write("ip", "bad_csum", frames([IP(src=PEER, dst=US, chksum=0x1234) / ICMP()], 0))

write("icmp", "echo", b"\x01" + bytes(ICMP(id=1, seq=2) / Raw(b"hello")))
write("icmp", "unreach", b"\x01" + bytes(ICMP(type=3, code=3) / Raw(bytes(IP(src=US, dst=PEER) / UDP())[:28])))
write("icmp", "bad_csum", b"\x03" + bytes(ICMP(id=1, seq=2, chksum=1)))
write("icmp", "err_about_udp", bytes([3 << 2 | 0]) + bytes(IP(src=PEER, dst=US) / UDP(dport=9) / Raw(b"u" * 40)))
write("icmp", "err_about_icmp_err", bytes([3 << 2]) + bytes(IP(src=PEER, dst=US) / ICMP(type=3) / Raw(b"e" * 28)))
write("icmp", "err_pulled", bytes([3 << 2 | 2]) + bytes(IP(src=PEER, dst=US) / UDP(dport=9) / Raw(b"v" * 10)))
