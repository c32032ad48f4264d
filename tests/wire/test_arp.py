"""ARP both ways between spin and a Linux peer on a veth (afpacket).

    [cli ns: veth-c 198.18.0.1] ---- veth ---- [spin ns: veth-s, spin 198.18.0.2]

- spin announces its address with a gratuitous ARP when it starts;
- Linux resolves spin's address with its own ARP (ping), and `ip neigh`
  shows spin's MAC; spin learns Linux from that request;
- spin resolves Linux's address: the client has a permanent neighbour entry
  for spin, so the first packet spin must send back (a UDP echo) makes spin
  broadcast a request; Linux answers; `spin ctl arp` shows the entry;
- malformed ARP (wrong lengths, truncated) is dropped and counted under its
  reason, and spin keeps answering.
A Scapy sniffer in the client namespace records every ARP packet on the link.
"""
import json
import re
import subprocess
import time

SNIFFER = r"""
import sys, time
from scapy.all import AsyncSniffer, ARP, conf
conf.verb = 0
def show(p):
    if ARP in p:
        a = p[ARP]
        print(f"ARP {a.op} {a.hwsrc} {a.psrc} {a.hwdst} {a.pdst} {p.dst}", flush=True)
s = AsyncSniffer(iface=sys.argv[1], filter="arp", prn=show, store=False,
                 started_callback=lambda: print("READY", flush=True))
s.start()
time.sleep(float(sys.argv[2]))
s.stop()
"""


def start_lab(lab, build_dir, tmp_path, extra=""):
    cli = lab.netns("cli")
    srv = lab.netns("spin")
    lab.veth(cli, "veth-c", srv, "veth-s")
    cli.up("veth-c")
    srv.up("veth-s")
    cli.disable_ipv6("veth-c")
    cli.addr("veth-c", "198.18.0.1/24")
    sniff = lab.spawn(["/usr/bin/python3", "-c", SNIFFER, "veth-c", "30"], ns=cli)
    sniff.wait_line("READY", timeout=15)
    sock = str(tmp_path / "spin.sock")
    conf = tmp_path / "arp.conf"
    conf.write_text(f"name arpt\ncontrol {sock}\n"
                    f"interface eth0 driver afpacket dev veth-s\n"
                    f"address eth0 198.18.0.2/24\nservice udp-echo port 7\n{extra}")
    spin = lab.spawn([str(build_dir / "spin"), "run", str(conf)], ns=srv)
    spin.wait_line("spin: running", timeout=10)
    return cli, srv, spin, sniff, sock


def ctl(build_dir, sock, *cmd):
    r = subprocess.run([str(build_dir / "spin"), "ctl", "--socket", sock, *cmd],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r
    return r.stdout


def arp_lines(sniff, pattern, timeout=5):
    """Waits until a sniffed ARP line matches pattern; returns all matches."""
    rx = re.compile(pattern)
    end = time.monotonic() + timeout
    while True:
        hits = [l for l in sniff.lines if rx.match(l)]
        if hits or time.monotonic() > end:
            return hits
        sniff._read(0.2)


def neigh(ns, addr):
    out = ns.ip("-j", "neigh", "show", addr, "dev", "veth-c").stdout
    entries = json.loads(out or "[]")
    return entries[0] if entries else {}


def test_gratuitous_and_linux_resolves_spin(lab, build_dir, tmp_path):
    cli, srv, spin, sniff, sock = start_lab(lab, build_dir, tmp_path)
    spin_mac = srv.mac("veth-s")
    # The announcement: sender = target = 198.18.0.2, to broadcast.
    hits = arp_lines(sniff, rf"ARP 1 {spin_mac} 198\.18\.0\.2 \S+ 198\.18\.0\.2 ff:ff:ff:ff:ff:ff")
    assert hits, sniff.lines

    # Linux asks (the ping needs spin's MAC); spin answers.
    cli.sh("ping", "-c", "1", "-W", "2", "198.18.0.2", check=False)
    n = neigh(cli, "198.18.0.2")
    assert n.get("lladdr") == spin_mac, n
    assert set(n.get("state", [])) & {"REACHABLE", "STALE", "DELAY", "PROBE"}, n
    assert arp_lines(sniff, rf"ARP 2 {spin_mac} 198\.18\.0\.2 \S+ 198\.18\.0\.1 ")
    # spin learned the asker.
    cli_mac = cli.mac("veth-c")
    table = ctl(build_dir, sock, "arp")
    assert re.search(rf"198\.18\.0\.1 {cli_mac} eth0 (stale|reachable)", table), table
    assert spin.stop() == 0
    assert "buffers leaked" not in "\n".join(spin.lines)


def test_spin_resolves_linux(lab, build_dir, tmp_path):
    cli, srv, spin, sniff, sock = start_lab(lab, build_dir, tmp_path)
    spin_mac = srv.mac("veth-s")
    cli_mac = cli.mac("veth-c")
    # Linux must not ask: spin then knows nothing about 198.18.0.1.
    cli.neigh("veth-c", "198.18.0.2", spin_mac)
    assert "198.18.0.1" not in ctl(build_dir, sock, "arp")
    r = cli.sh("sh", "-c", "printf 'who is there\\n' | timeout 5 socat -t 3 - "
               "UDP4:198.18.0.2:7,sourceport=40100", check=False)
    assert r.stdout == "who is there\n", r
    # spin broadcast a request for 198.18.0.1 and Linux answered it.
    req = arp_lines(sniff, rf"ARP 1 {spin_mac} 198\.18\.0\.2 \S+ 198\.18\.0\.1 ff:ff:ff:ff:ff:ff")
    assert req, sniff.lines
    assert arp_lines(sniff, rf"ARP 2 {cli_mac} 198\.18\.0\.1 {spin_mac} 198\.18\.0\.2 ")
    table = ctl(build_dir, sock, "arp")
    assert re.search(rf"198\.18\.0\.1 {cli_mac} eth0 reachable", table), table
    assert spin.stop() == 0
    assert "buffers leaked" not in "\n".join(spin.lines)


def test_bad_arp_dropped_by_reason(lab, build_dir, tmp_path):
    cli, srv, spin, sniff, sock = start_lab(lab, build_dir, tmp_path)
    spin_mac = srv.mac("veth-s")
    code = (
        "from scapy.all import *\n"
        "conf.verb=0\n"
        "e=Ether(dst='ff:ff:ff:ff:ff:ff', src=get_if_hwaddr('veth-c'), type=0x0806)\n"
        "good=ARP(op=1, psrc='198.18.0.1', pdst='198.18.0.2', hwsrc=get_if_hwaddr('veth-c'))\n"
        "bad_hlen=bytes(good); bad_hlen=bad_hlen[:4]+b'\\x08'+bad_hlen[5:]\n"
        "bad_plen=bytes(good); bad_plen=bad_plen[:5]+b'\\x10'+bad_plen[6:]\n"
        "sendp(e/Raw(bad_hlen), iface='veth-c')\n"
        "sendp(e/Raw(bad_plen), iface='veth-c')\n"
        "sendp(e/Raw(bytes(good)[:20]), iface='veth-c')\n"
        "sendp(e/Raw(bytes(good)[:6]), iface='veth-c')\n"
    )
    cli.sh("/usr/bin/python3", "-c", code, timeout=30)
    # A veth does not pad frames to 60 bytes, so the cut ones reach spin short.
    deadline = time.monotonic() + 5
    while True:
        out = ctl(build_dir, sock, "counters", "arp")
        if ("bad_len" in out and "short" in out) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert re.search(r"bad_len\D+2\b", out), out
    assert re.search(r"short\D+2\b", out), out
    # Still answering.
    cli.sh("ping", "-c", "1", "-W", "2", "198.18.0.2", check=False)
    assert neigh(cli, "198.18.0.2").get("lladdr") == spin_mac
    assert spin.stop() == 0
    assert "buffers leaked" not in "\n".join(spin.lines)
