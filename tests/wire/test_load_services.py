"""Every classic service as a run-time extension object.

    [client ns: veth-c 198.18.0.1] ---- veth ---- [spin ns: veth-s, spin 198.18.0.2]

spin starts with only the built-in `service udp-echo port 7` (the "other
service" that must keep answering) and trusts the build's key.  Each object
is loaded with `spin ctl load build/ext/NAME.o port N`, talked to from the
client namespace, listed by domains/exports/imports, unloaded, and then its
port must be closed:

  udp_discard  port 9   datagrams vanish (no ICMP error), counted on its node
  udp_chargen  port 19  each datagram answered with 0-512 chargen characters
  tcp_echo     port 7   byte-exact echo of 300 KB
  tcp_discard  port 9   takes 300 KB, closes after our FIN
  tcp_chargen  port 19  100 KB of the RFC 864 stream, every byte checked

After unload: UDP ports answer ICMP port unreachable, TCP ports answer a SYN
with RST (connect refused), and a TCP connection still open at unload is
reset by the unload (docs/domains.md: unload resets the service's
connections).
"""
import subprocess

from lib.tcp_lab import PEER, PY

SPIN = "198.18.0.2"


def ctl(build_dir, sock, *cmd):
    return subprocess.run([str(build_dir / "spin"), "ctl", "--socket", sock, *cmd],
                          capture_output=True, text=True, timeout=20)


def start(lab, build_dir, tmp_path):
    cli = lab.netns("cli")
    srv = lab.netns("spin")
    lab.veth(cli, "veth-c", srv, "veth-s")
    cli.up("veth-c")
    srv.up("veth-s")
    cli.addr("veth-c", "198.18.0.1/24")
    # spin's afpacket driver takes frames up to the MTU and drops GSO
    # super-frames (tests/wire/lib/tcp_lab.py): TCP peers send plain ones.
    cli.offload("veth-c", tso=False, gso=False)
    sock = str(tmp_path / "spin.sock")
    conf = tmp_path / "svc.conf"
    conf.write_text(f"name t\ncontrol {sock}\n"
                    f"interface eth0 driver afpacket dev veth-s\n"
                    f"address eth0 198.18.0.2/24\n"
                    f"service udp-echo port 7\n"
                    f"trust {build_dir / 'ext' / 'spin-sign.pub'}\n")
    p = lab.spawn([str(build_dir / "spin"), "run", str(conf)], ns=srv)
    p.wait_line("spin: running", timeout=10)
    return cli, p, sock


def load(build_dir, sock, name, port):
    r = ctl(build_dir, sock, "load", str(build_dir / "ext" / f"{name}.o"), "port", str(port))
    assert r.returncode == 0 and f"loaded {name}" in r.stdout, (r.stdout, r.stderr)


def unload(build_dir, sock, name):
    r = ctl(build_dir, sock, "unload", name)
    assert r.returncode == 0 and f"unloaded {name}" in r.stdout, (r.stdout, r.stderr)


def py(cli, script, *args, timeout=60):
    return cli.sh("/usr/bin/python3", "-c", script, *map(str, args), timeout=timeout)


# Prints "3 3 PORT" when the datagram to PORT draws ICMP port unreachable,
# "none" when nothing comes back.
UNREACH = """
import sys
from scapy.all import *
conf.verb = 0
port = int(sys.argv[1])
r = sr1(IP(dst='198.18.0.2')/UDP(sport=5555, dport=port)/b'x', iface='veth-c', timeout=3)
print('none' if r is None else f'{r[ICMP].type} {r[ICMP].code} {r[UDPerror].dport}')
"""

# The built-in UDP echo on port 7 still answers.
UDP_ECHO = """
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
for i in range(3):
    try:
        s.sendto(b'still serving', ('198.18.0.2', 7))
        print(s.recvfrom(2048)[0].decode())
        break
    except socket.timeout:
        pass
"""

# RFC 864 stream byte k: 72 characters of line k//74 then CR LF.
CHARGEN = """
def chargen_byte(k):
    line, col = divmod(k, 74)
    if col == 72:
        return 13
    if col == 73:
        return 10
    return 32 + (line + col) % 95
"""

UDP_CHARGEN = CHARGEN + """
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
lens, bad, got = [], 0, 0
for i in range(40):
    s.sendto(b'q', ('198.18.0.2', 19))
    try:
        d = s.recvfrom(4096)[0]
    except socket.timeout:
        continue
    got += 1
    lens.append(len(d))
    if len(d) > 512:
        bad += 1
        continue
    if d:
        start = (d[0] - 32) * 74
        if any(d[j] != chargen_byte(start + j) for j in range(len(d))):
            bad += 1
print(got, bad, len(set(lens)), max(lens) if lens else -1)
"""

TCP_DISCARD = """
import socket, sys
n = int(sys.argv[1])
s = socket.create_connection(('198.18.0.2', 9), timeout=20)
s.sendall(b'd' * n)
s.shutdown(socket.SHUT_WR)
print('eof' if s.recv(10) == b'' else 'data')
"""

TCP_CHARGEN = CHARGEN + """
import socket, sys
n = int(sys.argv[1])
s = socket.create_connection(('198.18.0.2', 19), timeout=20)
buf = bytearray()
while len(buf) < n:
    c = s.recv(65536)
    if not c:
        break
    buf += c
s.close()
bad = sum(1 for k in range(n) if buf[k] != chargen_byte(k)) if len(buf) >= n else -1
print(len(buf) >= n, bad)
"""

# Connects, proves the connection works, then reads until the unload ends
# the connection and reports how it ended.
TCP_HELD = """
import socket, sys
port = int(sys.argv[1])
s = socket.create_connection(('198.18.0.2', port), timeout=20)
if port == 7:
    s.sendall(b'ping')
    assert s.recv(10) == b'ping'
print('connected', flush=True)
try:
    while s.recv(65536):
        pass
    print('fin')
except ConnectionResetError:
    print('reset')
"""

TCP_REFUSED = """
import socket, sys
try:
    socket.create_connection(('198.18.0.2', int(sys.argv[1])), timeout=5)
    print('connected')
except ConnectionRefusedError:
    print('refused')
except socket.timeout:
    print('timeout')
"""


def assert_still_serving(cli):
    assert py(cli, UDP_ECHO).stdout.strip() == "still serving"


def test_udp_discard_and_chargen(lab, build_dir, tmp_path):
    cli, p, sock = start(lab, build_dir, tmp_path)
    load(build_dir, sock, "udp_discard", 9)
    load(build_dir, sock, "udp_chargen", 19)
    d = ctl(build_dir, sock, "domains").stdout
    assert "udp_discard object" in d and "udp_chargen object" in d, d
    assert "echo builtin" in d, d
    # Discard: nothing comes back, not even an ICMP error; the node counts.
    assert py(cli, UNREACH, 9).stdout.split() == ["none"]
    c = ctl(build_dir, sock, "counters", "udp_discard")
    assert c.returncode == 0 and "udp_discard" in c.stdout, c.stdout
    # Chargen: every answer at most 512 bytes of the stream, lengths vary.
    got, bad, distinct, longest = py(cli, UDP_CHARGEN).stdout.split()
    assert int(got) >= 35 and bad == "0", (got, bad)
    assert int(distinct) > 5 and int(longest) <= 512, (distinct, longest)
    im = ctl(build_dir, sock, "imports", "udp_chargen").stdout
    assert "udp_send" in im or "UDP_SendPacket" in im, im
    assert "(unbound)" not in im, im
    unload(build_dir, sock, "udp_discard")
    unload(build_dir, sock, "udp_chargen")
    assert py(cli, UNREACH, 9).stdout.split() == ["3", "3", "9"]
    assert py(cli, UNREACH, 19).stdout.split() == ["3", "3", "19"]
    assert_still_serving(cli)
    assert p.stop() == 0
    assert "buffers leaked" not in "\n".join(p.lines)


def test_tcp_services_load_serve_unload(lab, build_dir, tmp_path):
    cli, p, sock = start(lab, build_dir, tmp_path)
    for name, port in (("tcp_echo", 7), ("tcp_discard", 9), ("tcp_chargen", 19)):
        load(build_dir, sock, name, port)
    d = ctl(build_dir, sock, "domains").stdout
    for name in ("tcp_echo", "tcp_discard", "tcp_chargen"):
        assert f"{name} object" in d and "args 'port" in d, d
    # The built-in modules keep their own names: no two modules share one.
    assert "tcpecho builtin" in d, d
    names = [line.split()[0] for line in d.splitlines()]
    assert len(names) == len(set(names)), d
    ex = ctl(build_dir, sock, "exports").stdout
    assert "tcp_echo 1.0 exporter tcp_echo" in ex and "tcp 1.0" in ex, ex
    im = ctl(build_dir, sock, "imports").stdout
    assert "tcp_chargen imports tcp 1.0" in im, im
    im = ctl(build_dir, sock, "imports", "tcp_echo").stdout
    assert "tcp_listen" in im and "(unbound)" not in im, im

    r = cli.sh(PY, PEER, "echo", "--port", "7", "--send-bytes", "300000", "--count", "1",
               "--timeout", "20", timeout=60)
    assert r.stdout.strip() == "ok", r
    assert py(cli, TCP_DISCARD, 300000).stdout.strip() == "eof"
    assert py(cli, TCP_CHARGEN, 100000).stdout.split() == ["True", "0"]
    c = ctl(build_dir, sock, "counters", "tcp_discard").stdout
    assert "tcp_discard" in c, c

    # A connection open at unload is reset; afterwards a SYN gets RST.
    for name, port in (("tcp_echo", 7), ("tcp_discard", 9), ("tcp_chargen", 19)):
        held = lab.spawn(["/usr/bin/python3", "-c", TCP_HELD, str(port)], ns=cli)
        held.wait_line("connected", timeout=20)
        unload(build_dir, sock, name)
        held.wait_line("reset", timeout=20)
        assert py(cli, TCP_REFUSED, port).stdout.strip() == "refused"
    assert ctl(build_dir, sock, "tcp", "conns").returncode == 0
    assert_still_serving(cli)
    assert p.stop() == 0
    assert "buffers leaked" not in "\n".join(p.lines)
