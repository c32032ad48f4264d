"""Segmentation offload (`tso` or `gso` on an interface): the same 10 MB
each way between spin and a Linux peer with offloads off, gso and tso, on
both drivers that carry a virtio-net header.

    afpacket: [cli ns: veth-c 198.18.0.1] ---- veth ---- [spin ns: veth-s | spin 198.18.0.2]
    tap:      [one ns: Linux tp0 198.18.0.1] ~~ TAP ~~ [spin 198.18.0.2]

Each case: spin's client (tcpfetch) uploads 10 MB to a Linux server
(tcp_peer.py, which hashes what it reads) and downloads another 10 MB from
it; both files are compared by SHA-256.

  tso off: the peer's veth has TSO/GSO off (afpacket), the TAP offers only
           checksum offload; `spin ctl interfaces` shows no gso line.
  gso:     the peer as with tso off (TSO/GSO off on its veth, no TSO
           offered by the TAP), spin sends segments larger than the MTU
           all the same (gso tx): Linux cuts them in software on the veth,
           or takes them whole on the TAP; nothing coalesced comes back
           (gso rx 0).
  tso on:  the peer keeps Linux's defaults (TSO, GSO on), the TAP offers
           TSO4/TSO6.  The interface counters must show that spin handed
           Linux segments larger than the MTU to cut (gso tx) and received
           coalesced frames (gso rx); the bytes must be the same as without.

Under the sanitizers the transfers shrink to 2 MB (the counters still have
to move).
"""
import re

import pytest

from lib.tcp_lab import CLI, SANITIZER, SLOW, SPIN, TcpLab, peer_result, random_file, \
    sha256_file

MB = 1 << 20
SIZE = 2 * MB if SANITIZER else 10 * MB
LIMIT = 60
SPIN_MAC = "02:00:00:00:00:02"


class OffloadLab(TcpLab):
    """TcpLab's control helpers (ctl, fetch, wait_fetch, peer, stop_clean)
    over a topology of this file's own: afpacket on a veth or a TAP, tso
    on or off."""

    def __init__(self, lab, build_dir, tmp_path, driver, mode):
        self.lab = lab
        self.build_dir = build_dir
        self.tmp = tmp_path
        self.srv = lab.netns("spin")
        if driver == "afpacket":
            self.cli = lab.netns("cli")
            lab.veth(self.cli, "veth-c", self.srv, "veth-s")
            self.cli.disable_ipv6("veth-c")
            self.srv.disable_ipv6("veth-s")
            self.srv.up("veth-s")
            lif, dev = "veth-c", "veth-s"
            if mode != "tso":
                self.cli.offload("veth-c", tso=False, gso=False)
            iface = f"interface eth0 driver afpacket dev {dev}"
        else:
            self.cli = self.srv
            self.srv.ip("tuntap", "add", "dev", "tp0", "mode", "tap", "vnet_hdr")
            self.srv.disable_ipv6("tp0")
            lif = "tp0"
            iface = f"interface eth0 driver tap dev tp0 mac {SPIN_MAC}"
        self.cli.up(lif)
        self.cli.addr(lif, f"{CLI}/24")
        self.cli.neigh(lif, SPIN, SPIN_MAC if driver == "tap" else self.srv.mac("veth-s"))
        self.cli_mac = self.cli.mac(lif)
        self.sock = str(tmp_path / "spin.sock")
        self.conf = tmp_path / "offload.conf"
        self.conf.write_text(
            f"name offload\ncontrol {self.sock}\nloop blocking\nlog quiet\n"
            f"pool buffers 16384\n"
            f"{iface}{'' if mode == 'off' else ' ' + mode}\n"
            f"address eth0 {SPIN}/24\n"
            f"arp eth0 {CLI} {self.cli_mac}\n"
            f"service tcp-discard port 9\n")
        self.p = lab.spawn([str(build_dir / "spin"), "run", str(self.conf)], ns=self.srv)
        self.p.wait_line("spin: running", timeout=10 * SLOW)

    def gso(self):
        """The eth0 interface's gso counters, or None without a gso line."""
        out = self.ctl("interfaces").stdout
        m = re.search(r"^\s+gso rx (\d+) tx (\d+)$", out, re.M)
        return (int(m.group(1)), int(m.group(2))) if m else None

    def iface_stats(self):
        return self.ctl("interfaces").stdout


def transfer(t, tmp_path, up, down):
    """spin uploads up to a Linux server and downloads down from it (both
    directions on one connection); returns the fetch status."""
    srv = t.peer("server", "--port", 5001, "--send", down, "--timeout", LIMIT * SLOW)
    srv.wait_line("READY", timeout=5 * SLOW)
    got = str(tmp_path / "got.bin")
    fid = t.fetch(CLI, 5001, send=up, recv=got)
    st = t.wait_fetch(fid, LIMIT)
    assert st["state"] == "done" and st["reason"] == "closed", (st, t.diag(),
                                                                 t.iface_stats())
    r = peer_result(srv, 20)
    assert r["received"] == SIZE and r["sha256"] == sha256_file(up), (r, st)
    assert sha256_file(got) == sha256_file(down), (st, t.iface_stats())
    t.ctl("tcp", "forget", fid)
    return st


@pytest.mark.parametrize("driver", ["afpacket", "tap"])
def test_offload_same_bytes(lab, build_dir, tmp_path, driver):
    up = random_file(tmp_path / "up.bin", SIZE, seed=5)
    down = random_file(tmp_path / "down.bin", SIZE, seed=6)
    for mode in ("off", "gso", "tso"):
        sub = tmp_path / mode
        sub.mkdir()
        t = OffloadLab(lab, build_dir, sub, driver, mode)
        try:
            transfer(t, sub, up, down)
            g = t.gso()
            if mode == "gso":
                assert g is not None and g[1] > 0 and g[0] == 0, t.iface_stats()
                drops = t.drops("ip")
                assert drops.get("bad_gso", 0) == 0, drops
            elif mode == "tso":
                # Segments larger than the MTU went to Linux to cut, and
                # Linux's TSO sends / GRO output arrived whole.
                assert g is not None, t.iface_stats()
                rx, tx = g
                assert tx > 0, t.iface_stats()
                assert rx > 0, t.iface_stats()
                drops = t.drops("ip")
                assert drops.get("bad_gso", 0) == 0, drops
            else:
                assert g is None, t.iface_stats()
        finally:
            t.stop_clean()
            for ns in reversed(lab.namespaces):
                ns.delete()
            lab.namespaces.clear()


def test_tso_config_errors(lab, build_dir, tmp_path):
    """`tso` and `gso` are refused with sw-csum and with the capture ring,
    by name."""
    import subprocess
    for extra, msg in (("sw-csum tso", "'tso' needs checksum offload"),
                       ("capture tso", "'tso' needs the latency ring"),
                       ("sw-csum gso", "'gso' needs checksum offload"),
                       ("capture gso", "'gso' needs the latency ring")):
        conf = tmp_path / "bad.conf"
        conf.write_text(f"name bad\ninterface eth0 driver afpacket dev nope0 {extra}\n")
        r = subprocess.run([str(build_dir / "spin"), "run", str(conf)],
                           capture_output=True, text=True, timeout=10)
        assert r.returncode != 0 and msg in (r.stdout + r.stderr), (r.stdout, r.stderr)
    conf = tmp_path / "bad.conf"
    conf.write_text("name bad\ninterface eth0 driver pcap in x.pcap tso\n")
    r = subprocess.run([str(build_dir / "spin"), "run", str(conf)],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode != 0 and "unknown option 'tso'" in (r.stdout + r.stderr), r.stderr
