"""IPv4 through spin on veths (afpacket), against Linux peers.

One interface (ping, bad input):

    [cli ns: veth-c 198.18.0.1/24] ---- veth ---- [spin ns: veth-s | spin eth0 198.18.0.2/24]

Two interfaces (forwarding), spin routes between two Linux namespaces; the
right side has MTU 1000 so spin must fragment, or answer DF packets with
"fragmentation needed" carrying 1000:

    [left 198.18.0.1] -- eth0 198.18.0.2 [spin] eth1 198.18.1.2 (mtu 1000) -- [right 198.18.1.1]

Every test stops spin with SIGTERM and requires a clean exit: spin checks
its buffer pool for leaks at shutdown and exits 1 if any buffer is out.
"""
import re
import subprocess
import time

PING_SIZES = [0, 1, 1472, 1473, 2952, 8972, 32000, 65000]


def ctl(build_dir, sock, *cmd):
    return subprocess.run([str(build_dir / "spin"), "ctl", "--socket", sock, *cmd],
                          capture_output=True, text=True, timeout=10)


def drops(build_dir, sock, node):
    """{reason: count} of a node, from `spin ctl counters NODE`."""
    r = ctl(build_dir, sock, "counters", node)
    assert r.returncode == 0, r
    return {m.group(1): int(m.group(2))
            for m in re.finditer(r"^\s+drop (\S+) (\d+)$", r.stdout, re.M)}


def stop_clean(p):
    assert p.stop() == 0, (p.lines, p.stderr)
    assert "leak" not in p.stderr, p.stderr


def one_if(lab, build_dir, tmp_path, extra=""):
    cli = lab.netns("cli")
    srv = lab.netns("spin")
    lab.veth(cli, "veth-c", srv, "veth-s")
    cli.up("veth-c")
    srv.up("veth-s")
    cli.addr("veth-c", "198.18.0.1/24")
    sock = str(tmp_path / "spin.sock")
    conf = tmp_path / "ip.conf"
    conf.write_text(f"name ip1\ncontrol {sock}\n"
                    f"interface eth0 driver afpacket dev veth-s\n"
                    f"address eth0 198.18.0.2/24\n{extra}")
    p = lab.spawn([str(build_dir / "spin"), "run", str(conf)], ns=srv)
    p.wait_line("spin: running", timeout=10)
    return cli, srv, p, sock


def ping(ns, dst, size, count=2, extra=()):
    return ns.sh("ping", "-n", "-c", str(count), "-i", "0.2", "-W", "3", "-s", str(size),
                 *extra, dst, check=False, timeout=30)


def received(res):
    m = re.search(r"(\d+) received", res.stdout)
    return int(m.group(1)) if m else 0


def test_ping_sizes(lab, build_dir, tmp_path):
    """Ping of every size: spin reassembles the request and fragments the
    reply (both directions fragmented above 1472 bytes)."""
    cli, _, p, sock = one_if(lab, build_dir, tmp_path)
    for size in PING_SIZES:
        r = ping(cli, "198.18.0.2", size)
        assert received(r) == 2, (size, r.stdout, r.stderr)
        # The reply carries the whole payload back.
        assert f"{size + 8} bytes from 198.18.0.2" in r.stdout, (size, r.stdout)
    d = drops(build_dir, sock, "ip")
    assert not d, d
    stop_clean(p)


SCAPY_PRELUDE = """
from scapy.all import *
conf.verb = 0
IFACE = 'veth-c'
SPIN = '198.18.0.2'
ME = '198.18.0.1'
MAC = '{mac}'
E = Ether(dst=MAC)
def send(pkts):
    sendp(pkts, iface=IFACE)
"""


def scapy(ns, mac, body, timeout=60):
    code = SCAPY_PRELUDE.format(mac=mac) + body
    r = ns.sh("/usr/bin/python3", "-c", code, timeout=timeout, check=False)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_bad_input(lab, build_dir, tmp_path):
    """Each kind of bad packet is dropped and counted under its reason;
    nothing leaks and spin still answers ping afterwards.

        bad checksum      IP(chksum=0x1234)
        IHL < 5           IP(ihl=4)
        total > frame     IP(len=1000) / 100 bytes
        TTL 0             IP(ttl=0)
        truncated         14 + 10 bytes of header
        tiny fragment     MF, 16 bytes
        overlap           [0, 1480) MF  +  [800, 1600) MF   -> whole datagram
        64 KB overflow    [0, 1480) MF  +  [65512, 65612)   -> whole datagram
        flood (source)    5 datagrams x 120 fragments of 64  -> reass_src_limit
        flood (slots)     200 datagrams' first fragments     -> reass_no_slot
    """
    cli, srv, p, sock = one_if(lab, build_dir, tmp_path)
    mac = srv.mac("veth-s")
    assert received(ping(cli, "198.18.0.2", 56)) == 2
    scapy(cli, mac, """
send(E/IP(src=ME, dst=SPIN, chksum=0x1234)/ICMP())
send(E/IP(src=ME, dst=SPIN, ihl=4)/ICMP())
send(E/IP(src=ME, dst=SPIN, len=1000)/ICMP()/Raw(b'x'*100))
send(E/IP(src=ME, dst=SPIN, ttl=0)/ICMP())
send(Ether(dst=MAC, type=0x800)/Raw(bytes(IP(src=ME, dst=SPIN)/ICMP())[:10]))
send(E/IP(src=ME, dst=SPIN, id=100, flags='MF', frag=0, proto=17)/Raw(b't'*16))
send(E/IP(src=ME, dst=SPIN, id=101, flags='MF', frag=0, proto=99)/Raw(b'a'*1480))
send(E/IP(src=ME, dst=SPIN, id=101, flags='MF', frag=100, proto=99)/Raw(b'b'*800))
send(E/IP(src=ME, dst=SPIN, id=102, flags='MF', frag=0, proto=99)/Raw(b'a'*1480))
send(E/IP(src=ME, dst=SPIN, id=102, frag=8189, proto=99)/Raw(b'c'*100))
""")
    time.sleep(0.5)
    d = drops(build_dir, sock, "ip")
    assert d.get("bad_csum") == 1, d
    assert d.get("bad_ihl") == 1, d
    assert d.get("len_beyond_frame") == 1, d
    assert d.get("ttl_zero") == 1, d
    # A 24-byte frame is short; padded by the link to 60 bytes its header
    # has a total length below its header length.
    assert d.get("short", 0) + d.get("bad_len", 0) == 1, d
    assert d.get("frag_tiny") == 1, d
    assert d.get("frag_overlap") == 2, d
    assert d.get("frag_oversize") == 2, d

    # Floods.  Sources are spoofed inside 198.18.0.0/24 so each flood has
    # its own per-source budget.
    scapy(cli, mac, """
fl = [E/IP(src='198.18.0.51', dst=SPIN, id=2000+k, flags='MF', frag=i*8, proto=99)/Raw(b'g'*64)
      for k in range(5) for i in range(120)]
send(fl)
fl = [E/IP(src='198.18.0.50', dst=SPIN, id=1000+i, flags='MF', frag=0, proto=99)/Raw(b'f'*64)
      for i in range(200)]
send(fl)
""", timeout=120)
    time.sleep(0.5)
    d = drops(build_dir, sock, "ip")
    assert d.get("reass_no_slot", 0) >= 100, d
    assert d.get("reass_src_limit", 0) >= 1, d

    # Still answering, with reassembly full of junk, at every size.
    for size in (56, 2952):
        r = ping(cli, "198.18.0.2", size)
        assert received(r) >= 1, (size, r.stdout)
    stop_clean(p)


def two_ifs(lab, build_dir, tmp_path):
    left = lab.netns("left")
    srv = lab.netns("spin")
    right = lab.netns("right")
    lab.veth(left, "veth-l", srv, "veth-s0")
    lab.veth(right, "veth-r", srv, "veth-s1")
    for ns, ifn in ((left, "veth-l"), (srv, "veth-s0"), (srv, "veth-s1"), (right, "veth-r")):
        ns.up(ifn)
    srv.ip("link", "set", "veth-s1", "mtu", "1000")
    right.ip("link", "set", "veth-r", "mtu", "1000")
    left.addr("veth-l", "198.18.0.1/24")
    right.addr("veth-r", "198.18.1.1/24")
    left.ip("route", "add", "198.18.1.0/24", "via", "198.18.0.2")
    right.ip("route", "add", "198.18.0.0/24", "via", "198.18.1.2")
    sock = str(tmp_path / "spin.sock")
    conf = tmp_path / "fwd.conf"
    conf.write_text(f"name fwd\ncontrol {sock}\n"
                    f"interface eth0 driver afpacket dev veth-s0\n"
                    f"interface eth1 driver afpacket dev veth-s1 mtu 1000\n"
                    f"address eth0 198.18.0.2/24\naddress eth1 198.18.1.2/24\n"
                    f"forwarding on\n")
    p = lab.spawn([str(build_dir / "spin"), "run", str(conf)], ns=srv)
    p.wait_line("spin: running", timeout=10)
    return left, srv, right, p, sock


def test_forwarding(lab, build_dir, tmp_path):
    """Forwarding between two interfaces: TTL decremented, time exceeded at
    TTL 1, fragmentation for the smaller MTU, fragmentation needed (with
    the next-hop MTU 1000) for DF packets that do not fit."""
    left, srv, right, p, sock = two_ifs(lab, build_dir, tmp_path)
    r = ping(left, "198.18.1.1", 56)
    assert received(r) == 2, r.stdout
    # The right side answers with TTL 64; spin took one off.
    assert "ttl=63" in r.stdout, r.stdout
    # Larger than eth1's MTU, DF off: spin fragments towards the right; the
    # right's reply comes back in fragments spin forwards as they are.
    for size in (1400, 2952, 8972):
        r = ping(left, "198.18.1.1", size, extra=("-M", "dont"))
        assert received(r) == 2, (size, r.stdout)
    mac = srv.mac("veth-s0")
    out = scapy(left, mac, """
IFACE = 'veth-l'
r = srp1(Ether(dst=MAC)/IP(src='198.18.0.1', dst='198.18.1.1', ttl=1)/ICMP(), iface=IFACE, timeout=3)
print('ttl', r[IP].src, r[ICMP].type, r[ICMP].code)
r = srp1(Ether(dst=MAC)/IP(src='198.18.0.1', dst='198.18.1.1', flags='DF')/ICMP()/Raw(b'd'*1400),
         iface=IFACE, timeout=3)
print('df', r[IP].src, r[ICMP].type, r[ICMP].code, r[ICMP].nexthopmtu)
""")
    lines = dict((l.split()[0], l.split()[1:]) for l in out.splitlines())
    assert lines["ttl"] == ["198.18.0.2", "11", "0"], out
    assert lines["df"] == ["198.18.0.2", "3", "4", "1000"], out
    # Linux's own DF ping learns the MTU from spin's answer.
    r = ping(left, "198.18.1.1", 1400, count=1, extra=("-M", "do"))
    assert "mtu = 1000" in r.stdout or "mtu=1000" in r.stdout + r.stderr, r
    d = drops(build_dir, sock, "ip")
    assert d.get("ttl_exceeded", 0) >= 1, d
    assert d.get("frag_needed", 0) >= 1, d
    stop_clean(p)


def test_forwarding_off(lab, build_dir, tmp_path):
    """Without `forwarding on`, packets for other hosts are dropped as
    not_ours and no ICMP comes back."""
    cli, srv, p, sock = one_if(lab, build_dir, tmp_path)
    cli.ip("route", "add", "198.19.0.0/16", "via", "198.18.0.2")
    r = ping(cli, "198.19.0.9", 56, count=1)
    assert received(r) == 0
    assert drops(build_dir, sock, "ip").get("not_ours", 0) >= 1
    stop_clean(p)
