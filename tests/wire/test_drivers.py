"""Wire tests of the hosted drivers (drivers/, docs/drivers.md).

The device under test is tests/wire/progs/reflect, which opens one driver
and bounces IPv4 UDP datagrams back through the graph (MACs, addresses and
ports swapped, checksum state left alone).

TAP, one namespace:

    [ns spin]  Linux UDP socket 198.18.0.1 -- tap (Linux side) ~~ reflect (spin, 198.18.0.2)

AF_PACKET, two namespaces joined by a veth pair:

    [ns peer] UDP socket 198.18.1.1 pe0 ===== sp0 (no address, IPv6 off) [ns spin] reflect

The peer sends from an ordinary socket with default offloads, so its
checksums leave unfinished (the driver must see PKT_CSUM_PARTIAL).  With
--sw-csum the driver finishes them in software and the peer's Linux verifies
every reply (on veth with receive checksum offload off, since veth would
otherwise trust the frame); with the default, the driver hands the partial
checksum back to Linux through the vnet header.  Either way every datagram
must come back to the socket, intact.

pcap: a Scapy-made capture goes through `reflect --driver pcap --mode pass`
and must come out byte-identical.  Replay: a capture played N times through
the replay device must deliver exactly N x frames to the graph.
"""
import os
import pathlib
import sys

import pytest

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from lib.netns import Lab, leftover_namespaces  # noqa: E402,F401

UDP_PEER = str(HERE / "lib" / "udp_peer.py")
PY = "/usr/bin/python3"
COUNT = 8


def peer_udp(ns, src, dst, port=7, count=COUNT, size=100, timeout=2.0):
    res = ns.sh(PY, UDP_PEER, "--src", src, "--dst", dst, "--port", str(port),
                "--count", str(count), "--size", str(size), "--timeout", str(timeout),
                timeout=count * timeout + 10)
    import json
    return json.loads(res.stdout.strip().splitlines()[-1])


def finish(proc):
    """Stops the reflector and returns its STATS; checks a clean exit."""
    rc = proc.stop(timeout=5)
    stats = proc.json_line("STATS ")
    assert rc == 0, f"reflect exited {rc} (3 = leaked buffers); stats {stats}, " \
                    f"stderr {proc.stderr}"
    assert stats["leaked"] == 0
    return stats


# --- TAP -------------------------------------------------------------------------------
@pytest.mark.parametrize("sw_csum", [False, True], ids=["offload", "sw-csum"])
def test_tap_udp_reflect(lab, prog, sw_csum):
    ns = lab.netns("tap")
    # A persistent TAP made beforehand, so Linux's side can be configured
    # before spin attaches; spin opens it by name in the same namespace.
    ns.ip("tuntap", "add", "dev", "tp0", "mode", "tap", "vnet_hdr")
    ns.disable_ipv6("tp0")
    ns.addr("tp0", "198.18.0.1/24")
    ns.up("tp0")
    cmd = [prog("reflect"), "--driver", "tap", "--if", "tp0", "--seconds", "30"]
    if sw_csum:
        cmd.append("--sw-csum")
    r = lab.spawn(cmd, ns=ns)
    ready = r.wait_line("READY", timeout=10)
    spin_mac = r.json_line("READY ")["mac"]
    ns.neigh("tp0", "198.18.0.2", spin_mac)

    res = peer_udp(ns, "198.18.0.1", "198.18.0.2")
    stats = finish(r)
    assert res["matched"] == COUNT, (res, stats, ready)
    assert res["csum_errors"] == 0
    assert stats["reflected"] == COUNT
    # Linux left the checksums unfinished (default offloads on the TAP).
    assert stats["rx_csum_partial"] >= COUNT
    # Without offload the sum is finished in software, by the graph before
    # xmit or by the driver's xmit; Linux verified every reply above.
    if sw_csum:
        assert stats["tx_csum_offloaded"] == 0
    else:
        assert stats["tx_csum_offloaded"] == COUNT


# --- AF_PACKET ---------------------------------------------------------------------------
def afpacket_pair(lab):
    spin = lab.netns("afp-spin")
    peer = lab.netns("afp-peer")
    lab.veth(spin, "sp0", peer, "pe0")
    # Linux's side of sp0 is given an address and IPv6 on purpose: the
    # driver must quiet it (flush IPv4, disable IPv6, never answer ARP).
    spin.addr("sp0", "198.18.1.2/24")
    spin.up("sp0")
    peer.disable_ipv6("pe0")
    peer.addr("pe0", "198.18.1.1/24")
    peer.up("pe0")
    return spin, peer


@pytest.mark.parametrize("mode", ["offload", "sw-csum", "capture"])
def test_afpacket_udp_reflect(lab, prog, mode):
    spin, peer = afpacket_pair(lab)
    cmd = [prog("reflect"), "--driver", "afpacket", "--if", "sp0", "--seconds", "30"]
    if mode == "sw-csum":
        cmd.append("--sw-csum")
    if mode == "capture":
        cmd.append("--capture")
    if mode != "offload":
        # veth marks frames without a checksum state as verified unless
        # receive offload is off; off, Linux checks every reply's sum.
        peer.offload("pe0", rx=False)
    r = lab.spawn(cmd, ns=spin)
    r.wait_line("READY", timeout=10)
    spin_mac = r.json_line("READY ")["mac"]
    peer.neigh("pe0", "198.18.1.2", spin_mac)

    # The driver quieted Linux on sp0.
    addrs = spin.ip("-4", "-o", "addr", "show", "dev", "sp0").stdout
    assert "198.18.1.2" not in addrs
    assert spin.sh("sysctl", "-n", "net.ipv6.conf.sp0.disable_ipv6").stdout.strip() == "1"

    res = peer_udp(peer, "198.18.1.1", "198.18.1.2")
    udp_peer = peer.snmp("Udp")
    stats = finish(r)
    assert res["matched"] == COUNT, (res, stats)
    assert res["csum_errors"] == 0 and udp_peer["InCsumErrors"] == 0
    assert stats["reflected"] == COUNT
    assert stats["rx_csum_partial"] >= COUNT
    if mode == "offload":
        assert stats["tx_csum_offloaded"] == COUNT
    else:
        assert stats["tx_csum_offloaded"] == 0
    assert stats["rx_truncated"] == 0


def test_afpacket_ignores_own_frames_and_linux_stays_quiet(lab, prog):
    """Nothing but the peer's datagrams reaches spin: its own transmissions
    are not read back (PACKET_IGNORE_OUTGOING) and Linux on sp0 sends
    nothing that spin would see as a reply beside its own."""
    spin, peer = afpacket_pair(lab)
    r = lab.spawn([prog("reflect"), "--driver", "afpacket", "--if", "sp0",
                   "--seconds", "30"], ns=spin)
    r.wait_line("READY", timeout=10)
    peer.neigh("pe0", "198.18.1.2", r.json_line("READY ")["mac"])
    res = peer_udp(peer, "198.18.1.1", "198.18.1.2", count=4)
    stats = finish(r)
    assert res["matched"] == 4
    # Exactly one reply per datagram: Linux did not answer too (no ICMP port
    # unreachable, no second copy).
    assert res["received"] == 4
    # Every frame spin saw came from the peer (4 datagrams); a looped-back
    # transmission would have been seen and reflected again.
    assert stats["reflected"] == 4
    assert stats["seen"] == 4, stats


def test_afpacket_busy_poll(lab, prog):
    """The same reflection with the run loop busy-polling the ring."""
    spin, peer = afpacket_pair(lab)
    r = lab.spawn([prog("reflect"), "--driver", "afpacket", "--if", "sp0", "--busy",
                   "--seconds", "30"], ns=spin)
    r.wait_line("READY", timeout=10)
    peer.neigh("pe0", "198.18.1.2", r.json_line("READY ")["mac"])
    res = peer_udp(peer, "198.18.1.1", "198.18.1.2")
    stats = finish(r)
    assert res["matched"] == COUNT, (res, stats)
    assert stats["reflected"] == COUNT


def test_pcap_live_reflect(lab, prog):
    """Live capture through libpcap on a veth end.  libpcap reports no
    checksum state, so the peer sends finished checksums (tx offload off)
    and verifies the replies (rx offload off)."""
    spin, peer = afpacket_pair(lab)
    spin.ip("addr", "flush", "dev", "sp0")
    spin.disable_ipv6("sp0")
    peer.offload("pe0", tx=False, rx=False)
    r = lab.spawn([prog("reflect"), "--driver", "pcap", "--live", "sp0",
                   "--seconds", "30"], ns=spin)
    r.wait_line("READY", timeout=10)
    peer.neigh("pe0", "198.18.1.2", spin.mac("sp0"))
    res = peer_udp(peer, "198.18.1.1", "198.18.1.2")
    stats = finish(r)
    assert res["matched"] == COUNT, (res, stats)
    assert res["csum_errors"] == 0
    assert stats["reflected"] == COUNT


# --- pcap and replay ------------------------------------------------------------------------
def make_capture(path, count=40):
    from scapy.all import ARP, IP, TCP, UDP, Ether, IPv6, Raw, wrpcap
    frames = []
    a, b = "02:00:c6:12:00:01", "02:00:c6:12:00:02"
    for i in range(count):
        k = i % 4
        if k == 0:
            f = Ether(src=a, dst=b) / IP(src="198.18.0.1", dst="198.18.0.2") / \
                UDP(sport=1000 + i, dport=7) / Raw(bytes([i]) * (i * 31 % 1400))
        elif k == 1:
            f = Ether(src=a, dst=b) / IP(src="198.18.0.1", dst="198.18.0.2") / \
                TCP(sport=2000 + i, dport=80, flags="S")
        elif k == 2:
            f = Ether(src=a, dst="ff:ff:ff:ff:ff:ff") / ARP(psrc="198.18.0.1",
                                                            pdst="198.18.0.2", hwsrc=a)
        else:
            f = Ether(src=a, dst=b) / IPv6(src="2001:db8::1", dst="2001:db8::2") / \
                UDP(sport=3000 + i, dport=9) / Raw(b"v6" * i)
        f.time = 1700000000 + i + (i * 1013 % 1000000) / 1e6
        frames.append(f)
    wrpcap(str(path), frames)
    return count


def test_pcap_in_pcap_out_identical(lab, prog, tmp_path):
    src = tmp_path / "in.pcap"
    dst = tmp_path / "out.pcap"
    n = make_capture(src)
    r = lab.spawn([prog("reflect"), "--driver", "pcap", "--in", str(src),
                   "--out", str(dst), "--mode", "pass", "--seconds", "20"])
    assert r.wait(timeout=25) == 0, r.stderr
    stats = r.json_line("STATS ")
    assert stats["passed"] == n and stats["tx_written"] == n
    assert dst.read_bytes() == src.read_bytes()


@pytest.mark.parametrize("loops", [1, 3, 50])
def test_replay_loops_exactly(lab, prog, tmp_path, loops):
    src = tmp_path / "in.pcap"
    n = make_capture(src, count=13)
    r = lab.spawn([prog("reflect"), "--driver", "replay", "--in", str(src),
                   "--loops", str(loops), "--seconds", "20"])
    assert r.wait(timeout=25) == 0, r.stderr
    stats = r.json_line("STATS ")
    assert stats["counted"] == n * loops
    assert stats["fed"] == n * loops
    assert stats["loops_done"] == loops
    assert stats["rx_packets"] == n * loops


def test_no_namespace_left_behind():
    """Runs last in this file: every namespace the tests above made is gone."""
    assert leftover_namespaces() == []
