#!/usr/bin/python3
"""Regenerates the golden test's files (tests/wire/test_golden.py).

in.pcap: Scapy-made frames to spin (MAC 02:00:00:00:00:02, 198.18.0.2) from
198.18.0.1: UDP echo requests of several sizes, one with a zero checksum,
one with a bad checksum, one to a closed port, one with a UDP length that
disagrees with the IP length, and an ARP request.

expected.pcap: what spin answers, produced by running
    spin run examples/golden.conf --until-eof
and then checked here with Scapy (each echo reply swaps the ports and
addresses and carries the request's payload with a valid checksum; the
closed port gets ICMP port unreachable).  Rerun after an intended change of
spin's output and review the diff.

usage: gen_golden.py BUILD_DIR"""
import os
import pathlib
import shutil
import subprocess
import sys

from scapy.all import ARP, ICMP, IP, UDP, Ether, Raw, rdpcap, wrpcap

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent.parent
US, PEER = "02:00:00:00:00:02", "02:00:00:00:00:01"


def frames():
    e = Ether(src=PEER, dst=US)
    ip = IP(src="198.18.0.1", dst="198.18.0.2", id=1)
    out = []
    for i, n in enumerate([0, 1, 16, 100, 1472]):
        out.append(e / ip / UDP(sport=30000 + i, dport=7) / Raw((bytes(range(256)) * 6)[:n])
                   if n else e / ip / UDP(sport=30000 + i, dport=7))
    out.append(e / ip / UDP(sport=31000, dport=7, chksum=0) / b"no checksum")
    out.append(e / ip / UDP(sport=31001, dport=7, chksum=0x1234) / b"bad checksum")
    out.append(e / ip / UDP(sport=31002, dport=9) / b"closed port")
    bad = e / ip / UDP(sport=31003, dport=7, len=30) / b"len mismatch"
    out.append(bad)
    out.append(Ether(src=PEER, dst="ff:ff:ff:ff:ff:ff") /
               ARP(op=1, hwsrc=PEER, psrc="198.18.0.1", pdst="198.18.0.2"))
    # Fixed timestamps: the output pcap takes them from the input.
    for i, f in enumerate(out):
        f.time = 1000000000 + i
    return out


def main():
    build = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "build")
    wrpcap(str(HERE / "in.pcap"), frames())
    out = pathlib.Path("/tmp/spin-golden-out.pcap")
    if out.exists():
        out.unlink()
    subprocess.run([str(build / "spin"), "run", "examples/golden.conf", "--until-eof"],
                   cwd=ROOT, check=True, timeout=30)
    got = rdpcap(str(out))
    replies = [f for f in got if UDP in f]
    assert [f[UDP].dport for f in replies] == [30000, 30001, 30002, 30003, 30004, 31000]
    for f in replies:
        assert f[IP].src == "198.18.0.2" and f[UDP].sport == 7
    icmp = [f for f in got if ICMP in f]
    assert len(icmp) == 1 and icmp[0][ICMP].type == 3 and icmp[0][ICMP].code == 3
    shutil.copy(out, HERE / "expected.pcap")
    print(f"wrote {HERE / 'in.pcap'} and {HERE / 'expected.pcap'} ({len(got)} frames)")


if __name__ == "__main__":
    main()
