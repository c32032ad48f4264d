"""spin's TCP against Linux peers: the services (apps/tcpsvc) from socat,
curl and a Python client; spin's client (tcpfetch) to Linux servers;
thousands of short connections and no state left behind; the config and
control commands of TCP (service lines, reload, `spin ctl tcp`, `spin ctl
fault`).  Topology: tests/wire/lib/tcp_lab.py.

    [cli ns: veth-c 198.18.0.1] ---- veth ---- [spin ns: spin 198.18.0.2]
      socat, curl, tcp_peer.py                  tcp-echo 7, tcp-discard 9,
                                                tcp-chargen 19, udp-echo 7
"""
import time

from lib.tcp_lab import CLI, PEER, PY, SLOW, SPIN, TcpLab, peer_result, random_file, \
    sha256_file
from lib.tcp_peer import chargen_bytes


def test_services_python(lab, build_dir, tmp_path):
    """echo gives back exactly what it got (256 KB, hash compared);
    discard counts every byte; chargen sends the RFC 864 stream."""
    t = TcpLab(lab, build_dir, tmp_path)
    src = random_file(tmp_path / "in.bin", 256 * 1024, seed=3)
    r = peer_result(t.peer("client", "--dst", SPIN, "--port", 7, "--send", src), 30)
    assert r["sent"] == r["received"] == 256 * 1024, r
    assert r["sha256"] == sha256_file(src), r
    r = peer_result(t.peer("client", "--dst", SPIN, "--port", 9, "--send", src), 30)
    assert r["sent"] == 256 * 1024 and r["received"] == 0, r
    r = peer_result(t.peer("client", "--dst", SPIN, "--port", 19, "--recv-max", 100000), 30)
    import hashlib
    assert r["sha256"] == hashlib.sha256(chargen_bytes(0, 100000)).hexdigest(), r
    sv = t.services()
    assert sv["tcp-echo"]["bytes_in"] == sv["tcp-echo"]["bytes_out"] == 256 * 1024, sv
    assert sv["tcp-discard"]["bytes_in"] == 256 * 1024, sv
    assert sv["tcp-chargen"]["bytes_out"] >= 100000, sv
    st = t.wait_idle()
    assert st["live_conns"] == 0 and st["pool_outstanding"] == 0, st
    t.stop_clean()


def test_services_socat_curl(lab, build_dir, tmp_path):
    """socat to echo (half-close: spin finishes sending, then closes);
    curl's telnet:// to discard, echo and chargen (curl does not close, so
    it runs to --max-time; its output is still checked byte for byte)."""
    t = TcpLab(lab, build_dir, tmp_path)
    text = tmp_path / "text.txt"
    text.write_bytes(chargen_bytes(0, 200000))     # printable: no telnet escapes
    out = tmp_path / "socat.out"
    r = t.cli.sh("sh", "-c", f"timeout {20 * SLOW} socat -t 10 - TCP4:{SPIN}:7 "
                 f"< {text} > {out}", check=False, timeout=30 * SLOW)
    assert r.returncode == 0, r
    assert out.read_bytes() == text.read_bytes()
    # curl: telnet:// sends stdin (-T) and prints what comes back.
    cout = tmp_path / "curl.out"
    t.cli.sh("curl", "-s", "--max-time", "3", "-T", str(text), f"telnet://{SPIN}:7",
             "-o", str(cout), check=False, timeout=20 * SLOW)
    assert cout.read_bytes() == text.read_bytes()
    t.cli.sh("curl", "-s", "--max-time", "2", "-T", str(text), f"telnet://{SPIN}:9",
             check=False, timeout=20 * SLOW)
    t.cli.sh("curl", "-s", "--max-time", "1", f"telnet://{SPIN}:19", "-o",
             str(tmp_path / "chargen.out"), check=False, timeout=20 * SLOW)
    got = (tmp_path / "chargen.out").read_bytes()
    assert len(got) > 10000 and got == chargen_bytes(0, len(got))
    sv = t.services()
    assert sv["tcp-discard"]["bytes_in"] == 200000, sv
    # curl's connections end when it exits; spin is left with nothing.
    st = t.wait_idle()
    assert st["live_conns"] == 0, st
    t.stop_clean()


def test_client_to_linux_servers(lab, build_dir, tmp_path):
    """spin's client API (tcpfetch) to Linux servers: upload and download
    at once, to a Python server and to socat."""
    t = TcpLab(lab, build_dir, tmp_path)
    up = random_file(tmp_path / "up.bin", 512 * 1024, seed=5)
    down = random_file(tmp_path / "down.bin", 300 * 1024, seed=6)
    srv = t.peer("server", "--port", 5001, "--send", down)
    srv.wait_line("READY", timeout=5)
    fid = t.fetch(CLI, 5001, send=up, recv=str(tmp_path / "got.bin"))
    st = t.wait_fetch(fid, 30)
    assert st["state"] == "done" and st["reason"] == "closed", st
    r = peer_result(srv, 10)
    assert r["received"] == 512 * 1024 and r["sha256"] == sha256_file(up), r
    assert sha256_file(tmp_path / "got.bin") == sha256_file(down)
    assert int(st["sent"]) == 512 * 1024 and int(st["received"]) == 300 * 1024, st
    # socat as a Linux echo server; spin sends chargen bytes and gets them back.
    sp = lab.spawn(["timeout", str(20 * SLOW), "socat", "TCP4-LISTEN:5002,reuseaddr",
                    "EXEC:cat"], ns=t.cli)
    time.sleep(0.3)
    fid = t.fetch(CLI, 5002, send_bytes=100000, recv=str(tmp_path / "echoed.bin"))
    st = t.wait_fetch(fid, 20)
    assert st["state"] == "done" and st["reason"] == "closed", st
    assert (tmp_path / "echoed.bin").read_bytes() == chargen_bytes(0, 100000)
    sp.wait(5)
    # A closed port: refused.
    fid = t.fetch(CLI, 5003)
    st = t.wait_fetch(fid, 10)
    assert st["reason"] == "refused", st
    t.ctl("tcp", "forget", fid)
    t.stop_clean()


def test_short_connections_no_leak(lab, build_dir, tmp_path):
    """Thousands of short connections, three ways of ending them (orderly,
    reset by the client, closed with data in flight), then nothing is left:
    connections, queued bytes, buffers, service slots."""
    t = TcpLab(lab, build_dir, tmp_path)
    n = 1000 if SLOW > 1 else 2000
    for mode, port, count in (("echo", 7, n), ("reset", 7, n // 2), ("chargen", 19, n // 4)):
        r = peer_result(t.peer("many", "--dst", SPIN, "--port", port, "--count", count,
                               "--mode", mode, "--timeout", 5), 120)
        assert r["ok"] == count and r["failed"] == 0, (mode, r)
    st = t.wait_idle(timeout=15)
    for k in ("live_conns", "curr_estab", "sndq_bytes", "ooo_bytes", "pool_outstanding"):
        assert st[k] == 0, (k, st)
    assert st["passive_opens"] >= n + n // 2 + n // 4, st
    sv = t.services()
    assert sv["tcp-echo"]["active"] == 0 and sv["tcp-chargen"]["active"] == 0, sv
    assert sv["tcp-echo"]["accepted"] == n + n // 2, sv
    # The receive pool is back to (nearly) full: only the buffers the driver
    # holds for its ring are out.
    status = t.ctl("status").stdout
    assert "outstanding" in status
    assert "CLOSED" not in t.ctl("tcp", "conns").stdout
    t.stop_clean()


def test_ctl_and_reload(lab, build_dir, tmp_path):
    """`spin ctl tcp` lists listeners and connections; a reload moves a
    TCP service to another port and the old port is refused (RST)."""
    t = TcpLab(lab, build_dir, tmp_path)
    out = t.ctl("tcp").stdout
    assert "listen 0.0.0.0:7" in out and "listen 0.0.0.0:19" in out, out
    # A connection held open shows up as ESTABLISHED.
    held = lab.spawn([PY, "-c", "import socket,time,sys\n"
                      f"s=socket.create_connection(('{SPIN}',9))\n"
                      "print('UP',flush=True); time.sleep(30)"], ns=t.cli)
    held.wait_line("UP", timeout=5)
    out = t.ctl("tcp", "conns").stdout
    assert f"ESTABLISHED {SPIN}:9 {CLI}:" in out, out
    held.stop()
    text = t.conf.read_text().replace("service tcp-discard port 9", "service tcp-discard port 99")
    t.conf.write_text(text)
    assert "reloaded" in t.ctl("reload").stdout
    out = t.ctl("tcp", "conns").stdout
    assert "listen 0.0.0.0:99" in out and "listen 0.0.0.0:9\n" not in out, out
    r = t.cli.sh(PY, "-c", "import socket\ntry:\n"
                 f"  socket.create_connection(('{SPIN}',9),timeout=3)\n  print('open')\n"
                 "except ConnectionRefusedError:\n  print('refused')", check=False)
    assert r.stdout.strip() == "refused", r
    r = peer_result(t.peer("client", "--dst", SPIN, "--port", 99, "--send-bytes", 5000), 10)
    assert r["sent"] == 5000, r
    # A bad TCP service line refuses the reload and changes nothing.
    t.conf.write_text(text + "service tcp-bogus port 5\n")
    r = t.ctl("reload", check=False)
    assert r.returncode == 1 and "unknown service 'tcp-bogus'" in r.stderr, r
    assert "listen 0.0.0.0:99" in t.ctl("tcp", "conns").stdout
    t.stop_clean()


def test_ctl_fault(lab, build_dir, tmp_path):
    """A fault node from the config, then changed at run time with
    `spin ctl fault`; 100% loss on receive stops ping, `off` restores it."""
    t = TcpLab(lab, build_dir, tmp_path,
               extra='fault lossy on eth0 both "loss=0% seed=7"\n')
    out = t.ctl("fault").stdout
    assert "lossy.rx" in out and "lossy.tx" in out, out
    assert t.cli.sh("ping", "-c", "2", "-i", "0.2", "-W", "2", SPIN, check=False).returncode == 0
    out = t.ctl("fault", "lossy.rx", "loss=100%").stdout
    assert "loss=100.0000%" in out, out
    assert t.cli.sh("ping", "-c", "2", "-i", "0.2", "-W", "1", SPIN, check=False).returncode != 0
    out = t.ctl("fault", "lossy", "off").stdout
    assert out.count("\n") == 2, out
    assert t.cli.sh("ping", "-c", "2", "-i", "0.2", "-W", "2", SPIN, check=False).returncode == 0
    r = t.ctl("fault", "nosuch", check=False)
    assert r.returncode == 1 and "no fault node" in r.stderr, r
    r = t.ctl("fault", "lossy", "loss=200%", check=False)
    assert r.returncode == 1, r
    t.ctl("fault", "lossy", "clear")
    # A reload that changes the spec applies it to the running nodes.
    t.conf.write_text(t.conf.read_text().replace("loss=0%", "loss=100%"))
    t.ctl("reload")
    assert "loss=100.0000%" in t.ctl("fault", "lossy.tx").stdout
    t.stop_clean()


def test_config_errors(build_dir, tmp_path):
    """The new directives refuse bad lines with FILE:LINE."""
    import subprocess
    cases = [
        ("service tcp-echo port 0\n", "bad port"),
        ("service tcp-echo port 7\nservice tcp-discard port 7\n", "TCP port 7 already used"),
        ('fault f on eth9 rx "loss=1%"\n', "unknown interface"),
        ('fault f on eth0 up "loss=1%"\n', "fault direction"),
        ('fault f on eth0 rx "loss=1"\n', "fault 'f'"),
        ('fault f on eth0 rx "loss=1%\n', "unterminated quote"),
        ('fault f on eth0 rx "loss=1%"\nfault g on eth0 both "dup=1%"\n', "already has"),
    ]
    for body, msg in cases:
        conf = tmp_path / "bad.conf"
        conf.write_text("name x\ninterface eth0 driver pcap out /dev/null\n" + body)
        r = subprocess.run([str(build_dir / "spin"), "run", str(conf)], capture_output=True,
                           text=True, timeout=10)
        assert r.returncode == 2 and msg in r.stderr and f"{conf}:" in r.stderr, (body, r.stderr)
