"""UDP echo as a run-time extension: `spin ctl load build/ext/udp_echo.o 7`.

    [client ns: veth-c 198.18.0.1] ---- veth ---- [spin ns: veth-s, spin 198.18.0.2]

spin starts with no service; the build's public key is trusted by the
config.  Loading the signed echo object (module "udp_echo") binds UDP port 7
(socat gets its line back); unloading it removes the binding (a datagram to
port 7 then gets ICMP port unreachable).  A tampered copy is refused.
"""
import shutil
import subprocess


def ctl(build_dir, sock, *cmd):
    return subprocess.run([str(build_dir / "spin"), "ctl", "--socket", sock, *cmd],
                          capture_output=True, text=True, timeout=10)


def start(lab, build_dir, tmp_path):
    cli = lab.netns("cli")
    srv = lab.netns("spin")
    lab.veth(cli, "veth-c", srv, "veth-s")
    cli.up("veth-c")
    srv.up("veth-s")
    cli.addr("veth-c", "198.18.0.1/24")
    sock = str(tmp_path / "spin.sock")
    conf = tmp_path / "load.conf"
    conf.write_text(f"name t\ncontrol {sock}\n"
                    f"interface eth0 driver afpacket dev veth-s\n"
                    f"address eth0 198.18.0.2/24\n"
                    f"trust {build_dir / 'ext' / 'spin-sign.pub'}\n")
    p = lab.spawn([str(build_dir / "spin"), "run", str(conf)], ns=srv)
    p.wait_line("spin: running", timeout=10)
    return cli, p, sock


def echo(cli, port, msg):
    return cli.sh("sh", "-c", f"printf '{msg}' | timeout 5 socat -t 2 - "
                  f"UDP4:198.18.0.2:7,sourceport={port}").stdout


UNREACH = ("from scapy.all import *\n"
           "conf.verb=0\n"
           "r=sr1(IP(dst='198.18.0.2')/UDP(sport=5555,dport=7)/b'x',iface='veth-c',timeout=3)\n"
           "print(r[ICMP].type, r[ICMP].code, r[UDPerror].dport)\n")


def test_load_echo_then_unload(lab, build_dir, tmp_path):
    cli, p, sock = start(lab, build_dir, tmp_path)
    obj = str(build_dir / "ext" / "udp_echo.o")
    r = ctl(build_dir, sock, "load", obj, "7")
    assert r.returncode == 0 and "loaded udp_echo" in r.stdout, (r.stdout, r.stderr)
    assert echo(cli, 41000, "hello extension\n") == "hello extension\n"
    d = ctl(build_dir, sock, "domains")
    assert "udp_echo object" in d.stdout, d.stdout
    im = ctl(build_dir, sock, "imports", "udp_echo")
    assert "udp_peer" in im.stdout and "(unbound)" not in im.stdout, im.stdout
    ex = ctl(build_dir, sock, "exports")
    assert "udp 1.0" in ex.stdout, ex.stdout
    r = ctl(build_dir, sock, "unload", "udp_echo")
    assert r.returncode == 0 and "unloaded udp_echo" in r.stdout, r.stdout
    r = cli.sh("/usr/bin/python3", "-c", UNREACH, timeout=20)
    assert r.stdout.split() == ["3", "3", "7"], r
    assert p.stop() == 0
    assert "buffers leaked" not in "\n".join(p.lines)


def test_tampered_object_refused(lab, build_dir, tmp_path):
    cli, p, sock = start(lab, build_dir, tmp_path)
    bad = tmp_path / "echo.o"
    shutil.copy(build_dir / "ext" / "udp_echo.o", bad)
    shutil.copy(build_dir / "ext" / "udp_echo.o.sig", str(bad) + ".sig")
    b = bytearray(bad.read_bytes())
    b[len(b) // 2] ^= 0x01
    bad.write_bytes(bytes(b))
    r = ctl(build_dir, sock, "load", str(bad), "7")
    assert r.returncode != 0 and "signature" in r.stderr, r.stderr
    (tmp_path / "echo.o.sig").unlink()
    r = ctl(build_dir, sock, "load", str(bad), "7")
    assert r.returncode != 0 and "unsigned" in r.stderr, r.stderr
    assert p.stop() == 0
