"""ICMP through spin on a veth (afpacket), against a Linux peer.

    [cli ns: veth-c 198.18.0.1/24] ---- veth ---- [spin ns: veth-s | spin 198.18.0.2/24]

- echo: ping answered (sizes in test_ip.py);
- protocol unreachable for an unknown protocol, quoting the offending header;
- nothing for a broadcast destination (unknown protocol or echo);
- nothing about an ICMP error, or about a non-first fragment;
- the error rate limit (default 1000/s, burst 50) holds back a burst of
  300 offending packets sent back to back.
"""
import time

from test_ip import ctl, drops, one_if, ping, received, scapy, stop_clean


def test_icmp_rules(lab, build_dir, tmp_path):
    cli, srv, p, sock = one_if(lab, build_dir, tmp_path)
    mac = srv.mac("veth-s")
    assert received(ping(cli, "198.18.0.2", 56)) == 2
    out = scapy(cli, mac, """
r = srp1(E/IP(src=ME, dst=SPIN, proto=99)/Raw(b'p'*20), iface=IFACE, timeout=3)
print('proto', r[ICMP].type, r[ICMP].code, r[IPerror].proto, r[IPerror].dst)
import time
def silent(pkt):
    s = AsyncSniffer(iface=IFACE, filter='icmp and src host ' + SPIN)
    s.start(); time.sleep(0.3)
    send(pkt)
    time.sleep(1.0)
    return len(s.stop())
print('bcast', silent(Ether(dst='ff:ff:ff:ff:ff:ff')/IP(src=ME, dst='198.18.0.255', proto=99)/Raw(b'b'*20)))
print('bcast_echo', silent(Ether(dst='ff:ff:ff:ff:ff:ff')/IP(src=ME, dst='255.255.255.255')/ICMP()))
# An ICMP error is consumed (counted error_rx); nothing is ever sent about it.
print('about_err', silent(E/IP(src=ME, dst=SPIN)/ICMP(type=3, code=3)/IPerror(src=SPIN, dst=ME)/UDPerror()))
print('nonfirst', silent(E/IP(src=ME, dst=SPIN, proto=99, frag=185)/Raw(b'n'*40)))
""")
    res = dict((l.split()[0], l.split()[1:]) for l in out.splitlines())
    assert res["proto"] == ["3", "2", "99", "198.18.0.2"], out
    assert res["bcast"] == ["0"], out
    assert res["bcast_echo"] == ["0"], out
    assert res["about_err"] == ["0"], out
    assert res["nonfirst"] == ["0"], out
    assert drops(build_dir, sock, "icmp").get("echo_bcast", 0) >= 1
    stop_clean(p)


def icmp_stats(build_dir, sock):
    """ICMP's own counters, from `spin ctl icmp`."""
    r = ctl(build_dir, sock, "icmp")
    assert r.returncode == 0, r
    return {k: int(v) for k, v in (l.split() for l in r.stdout.splitlines()
                                   if len(l.split()) == 2 and l.split()[1].isdigit())}


def test_icmp_rate_limit(lab, build_dir, tmp_path):
    cli, srv, p, sock = one_if(lab, build_dir, tmp_path)
    mac = srv.mac("veth-s")
    # 300 datagrams for an unknown protocol as fast as a raw socket sends
    # them.  The bucket holds 50 and refills at 1000/s, so some errors go
    # out and the rest are suppressed.  Spin's own counters tell which: a
    # sniffer on a loaded machine misses frames.
    before = icmp_stats(build_dir, sock)
    out = scapy(cli, mac, """
import socket, time
raw = bytes(E/IP(src=ME, dst=SPIN, proto=99)/Raw(b'r'*20))
so = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
so.bind((IFACE, 0))
t = time.monotonic()
for i in range(300):
    so.send(raw)
print('sent_in', time.monotonic() - t)
""")
    time.sleep(0.5)
    seen = drops(build_dir, sock, "ip").get("no_proto", 0)
    after = icmp_stats(build_dir, sock)
    sent = after["err_tx"] - before["err_tx"]
    limited = after["rate_limited"] - before["rate_limited"]
    assert seen >= 250, (seen, out)
    # Every datagram got an error or was suppressed, and the limit bit:
    # at least the burst went out, and no more than the burst plus the
    # refill over the time the sender took (1000/s) plus slack.
    assert sent + limited == seen, (sent, limited, seen)
    span = float(out.split()[-1])
    assert 50 <= sent <= 50 + 1000 * span + 50, (sent, limited, span)
    assert limited > 0, (sent, limited, span)
    # Tokens come back: one more error a second later.
    time.sleep(1.0)
    out = scapy(cli, mac, """
r = srp1(E/IP(src=ME, dst=SPIN, proto=99)/Raw(b'p'*20), iface=IFACE, timeout=3)
print('again', r[ICMP].type if r else None)
""")
    assert out.split() == ["again", "3"], out
    stop_clean(p)
