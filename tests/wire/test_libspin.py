"""User-level programs through the system-call interface (libspin).

    [client ns: veth-c 198.18.0.1] ---- veth ---- [spin ns: veth-s, spin 198.18.0.2]
                                                     |  syscall socket
                                                  uecho (UDP port 7007, libspin)
                                                  rpc_server / rpc_client

- socat's datagrams to port 7007 reach uecho, a separate process, through
  the appliance's rings, and come back from port 7007 (blocking and
  busy-poll modes).
- rpc_client calls procedures that rpc_server serves: a cross-address-space
  call through the appliance; killing the server makes calls fail cleanly
  while the appliance keeps serving uecho.
- utcpecho, a user-level TCP echo on libspin's TCP listener (port 7100):
  1 MB from a Linux client comes back byte-exact (blocking and busy-poll
  modes), and so do several concurrent connections.  Killing utcpecho in
  the middle of a transfer resets its connection; the appliance keeps
  serving (its built-in UDP echo on port 7 answers) and a restarted
  utcpecho gets the same port.
"""
import subprocess
import time

from lib.tcp_lab import PEER, PY


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
    sys_sock = str(tmp_path / "sys.sock")
    conf = tmp_path / "libspin.conf"
    conf.write_text(f"name t\ncontrol {sock}\nsyscall {sys_sock}\n"
                    f"interface eth0 driver afpacket dev veth-s\n"
                    f"address eth0 198.18.0.2/24\n"
                    f"service udp-echo port 7\n")
    p = lab.spawn([str(build_dir / "spin"), "run", str(conf)], ns=srv)
    p.wait_line("spin: running", timeout=10)
    return cli, srv, p, sock, sys_sock


def ctl(build_dir, sock, *cmd):
    return subprocess.run([str(build_dir / "spin"), "ctl", "--socket", sock, *cmd],
                          capture_output=True, text=True, timeout=10)


def socat_roundtrip(cli, port, msg, sport):
    return cli.sh("sh", "-c", f"printf '{msg}' | timeout 5 socat -t 2 - "
                  f"UDP4:198.18.0.2:{port},sourceport={sport}")


def run_uecho(lab, build_dir, cli, srv, sys_sock, mode):
    args = [str(build_dir / "libspin" / "uecho"), sys_sock, "7007"]
    if mode == "busy":
        args.append("busy")
    ue = lab.spawn(args, ns=srv)
    ue.wait_line("uecho: port 7007 ready", timeout=10)
    for i in range(3):
        msg = f"user-level echo {mode} {i}\n"
        r = socat_roundtrip(cli, 7007, msg, 41000 + i)
        assert r.stdout == msg, r
    return ue


def test_uecho_answers_socat(lab, build_dir, tmp_path):
    cli, srv, p, sock, sys_sock = start(lab, build_dir, tmp_path)
    before = cli.snmp("Udp")
    ue = run_uecho(lab, build_dir, cli, srv, sys_sock, "blocking")
    st = ctl(build_dir, sock, "syscall")
    assert st.returncode == 0 and "name uecho" in st.stdout, st.stdout
    assert "dgrams_in 3" in st.stdout and "dgrams_out 3" in st.stdout, st.stdout
    ue.stop()
    # The port is released when the program goes: a second program gets it.
    ue = run_uecho(lab, build_dir, cli, srv, sys_sock, "busy")
    ue.stop()
    after = cli.snmp("Udp")
    assert after.get("InCsumErrors", 0) == before.get("InCsumErrors", 0)
    assert p.stop() == 0
    assert "buffers leaked" not in "\n".join(p.lines)


def test_rpc_and_dead_server(lab, build_dir, tmp_path):
    cli, srv, p, sock, sys_sock = start(lab, build_dir, tmp_path)
    rs = lab.spawn([str(build_dir / "libspin" / "rpc_server"), sys_sock], ns=srv)
    rs.wait_line("rpc_server: serving", timeout=10)
    client = str(build_dir / "libspin" / "rpc_client")
    r = srv.sh(client, sys_sock, "add", "40", "2")
    assert r.stdout.strip() == "42", r
    r = srv.sh(client, sys_sock, "echo", "across address spaces")
    assert r.stdout.strip() == "across address spaces", r
    r = srv.sh(client, sys_sock, "time", "rpc.null", "1000")
    assert "1000 calls" in r.stdout, r
    ue = run_uecho(lab, build_dir, cli, srv, sys_sock, "blocking")
    rs.p.kill()
    rs.p.wait(timeout=5)
    time.sleep(0.2)
    r = srv.sh(client, sys_sock, "add", "1", "2", check=False)
    assert r.returncode == 1 and "no such procedure" in r.stderr, r
    # The appliance still serves the other program.
    msg = "still here\n"
    assert socat_roundtrip(cli, 7007, msg, 42000).stdout == msg
    ue.stop()
    assert p.stop() == 0


# Streams into the echo without end; says "midway" once 64 KB came back,
# then reports how the connection ended.  Linux reports a reset to
# whichever call comes first (then later calls see a plain close), so a
# reset seen by the sending thread counts too.
TCP_HELD_CLIENT = """
import socket, threading
s = socket.create_connection(('198.18.0.2', 7100), timeout=30)
seen = []
def send():
    try:
        for _ in range(8192):       # bounded: 128 MB at most
            s.sendall(b'z' * 16384)
    except (ConnectionResetError, BrokenPipeError) as e:
        seen.append('reset')
    except OSError:
        pass
t = threading.Thread(target=send, daemon=True)
t.start()
got, said = 0, False
try:
    while True:
        c = s.recv(65536)
        if not c:
            t.join(5)
            print('reset' if seen else 'fin', flush=True)
            break
        got += len(c)
        if got >= 65536 and not said:
            print('midway', flush=True)
            said = True
except ConnectionResetError:
    print('reset', flush=True)
except socket.timeout:
    print('timeout', flush=True)
"""

UDP_ECHO_CLIENT = """
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


def run_utcpecho(lab, build_dir, srv, sys_sock, mode="blocking"):
    args = [str(build_dir / "libspin" / "utcpecho"), sys_sock, "7100"]
    if mode == "busy":
        args.append("busy")
    ue = lab.spawn(args, ns=srv)
    ue.wait_line("utcpecho: port 7100 ready", timeout=10)
    return ue


def tcp_echo(cli, size, n, diag=None):
    try:
        r = cli.sh(PY, PEER, "echo", "--port", "7100", "--send-bytes", str(size), "--count",
                   str(n), "--timeout", "60", timeout=120)
    except subprocess.TimeoutExpired:
        return ["timeout", diag() if diag else ""]
    return r.stdout.split()


def test_utcpecho_megabyte_and_concurrent(lab, build_dir, tmp_path):
    cli, srv, p, sock, sys_sock = start(lab, build_dir, tmp_path)
    ue = run_utcpecho(lab, build_dir, srv, sys_sock)

    def diag():
        return (ctl(build_dir, sock, "syscall").stdout + ctl(build_dir, sock, "tcp", "conns").stdout)
    assert tcp_echo(cli, 1 << 20, 1, diag) == ["ok"]
    assert tcp_echo(cli, 256 << 10, 4, diag) == ["ok"] * 4
    st = ctl(build_dir, sock, "syscall").stdout
    assert "name utcpecho" in st and "tcp_accepted 5" in st, st
    assert ue.stop() == 0
    # Busy-poll mode, and the port came free when the first program left.
    ue = run_utcpecho(lab, build_dir, srv, sys_sock, "busy")
    assert tcp_echo(cli, 1 << 20, 1, diag) == ["ok"]
    assert ue.stop() == 0
    assert p.stop() == 0
    assert "buffers leaked" not in "\n".join(p.lines)


def test_utcpecho_killed_midtransfer(lab, build_dir, tmp_path):
    cli, srv, p, sock, sys_sock = start(lab, build_dir, tmp_path)
    ue = run_utcpecho(lab, build_dir, srv, sys_sock)
    held = lab.spawn(["/usr/bin/python3", "-c", TCP_HELD_CLIENT], ns=cli)
    held.wait_line("midway", timeout=30)
    ue.p.kill()
    ue.p.wait(timeout=5)
    held.wait_line("reset", timeout=30)
    # The appliance serves on: its own UDP echo, and a new program on the
    # same port.
    assert cli.sh("/usr/bin/python3", "-c", UDP_ECHO_CLIENT).stdout.strip() == "still serving"
    ue = run_utcpecho(lab, build_dir, srv, sys_sock)
    assert tcp_echo(cli, 64 << 10, 2) == ["ok", "ok"]
    st = ctl(build_dir, sock, "syscall").stdout
    assert "programs 1" in st and "detached 1" in st, st
    assert ue.stop() == 0
    assert p.stop() == 0
    assert "buffers leaked" not in "\n".join(p.lines)
