"""UDP through spin on a veth (afpacket), against Linux sockets.

    [client ns: veth-c 198.18.0.1] ---- veth ---- [spin ns: veth-s, spin 198.18.0.2]

- socat sends from an ordinary Linux UDP socket with default offloads, so
  the checksum reaches spin unfinished (PKT_CSUM_PARTIAL); spin's echo must
  answer with a checksum Linux accepts.
- a datagram to a closed port gets ICMP port unreachable (seen by Scapy).
"""
import os
import subprocess
import time

SPIN_MAC = "02:00:c6:12:00:02"


def start_spin(lab, build_dir, tmp_path, extra=""):
    cli = lab.netns("cli")
    srv = lab.netns("spin")
    lab.veth(cli, "veth-c", srv, "veth-s")
    cli.up("veth-c")
    srv.up("veth-s")
    cli.addr("veth-c", "198.18.0.1/24")
    sock = str(tmp_path / "spin.sock")
    conf = tmp_path / "echo.conf"
    conf.write_text(f"name t\ncontrol {sock}\n"
                    f"interface eth0 driver afpacket dev veth-s\n"
                    f"address eth0 198.18.0.2/24\nservice udp-echo port 7\n{extra}")
    p = lab.spawn([str(build_dir / "spin"), "run", str(conf)], ns=srv)
    p.wait_line("spin: running", timeout=10)
    return cli, srv, p, sock, conf


def ctl(build_dir, sock, *cmd):
    return subprocess.run([str(build_dir / "spin"), "ctl", "--socket", sock, *cmd],
                          capture_output=True, text=True, timeout=10)


def test_socat_echo_partial_csum(lab, build_dir, tmp_path):
    cli, _, p, sock, _ = start_spin(lab, build_dir, tmp_path)
    before = cli.snmp("Udp")
    for i in range(3):
        msg = f"hello spin {i}\n"
        r = cli.sh("sh", "-c", f"printf '{msg}' | timeout 5 socat -t 2 - "
                   f"UDP4:198.18.0.2:7,sourceport={40000 + i}")
        assert r.stdout == msg, r
    after = cli.snmp("Udp")
    # Linux verified the checksums spin wrote.
    assert after.get("InCsumErrors", 0) == before.get("InCsumErrors", 0)
    st = ctl(build_dir, sock, "counters", "echo")
    assert st.returncode == 0 and "packets 3" in st.stdout.replace(":", ""), st.stdout
    assert p.stop() == 0
    assert "buffers leaked" not in "\n".join(p.lines)


def test_closed_port_unreachable(lab, build_dir, tmp_path):
    cli, _, p, sock, _ = start_spin(lab, build_dir, tmp_path)
    code = ("from scapy.all import *\n"
            "conf.verb=0\n"
            "r=sr1(IP(dst='198.18.0.2')/UDP(sport=5555,dport=9)/b'x',iface='veth-c',timeout=3)\n"
            "print(r[ICMP].type, r[ICMP].code, r[UDPerror].dport)\n")
    r = cli.sh("/usr/bin/python3", "-c", code, timeout=20)
    assert r.stdout.split() == ["3", "3", "9"], r
    st = ctl(build_dir, sock, "counters", "udp")
    assert "port_unreach" in st.stdout, st.stdout
    assert p.stop() == 0
