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
"""
import subprocess
import time


def start(lab, build_dir, tmp_path):
    cli = lab.netns("cli")
    srv = lab.netns("spin")
    lab.veth(cli, "veth-c", srv, "veth-s")
    cli.up("veth-c")
    srv.up("veth-s")
    cli.addr("veth-c", "198.18.0.1/24")
    sock = str(tmp_path / "spin.sock")
    sys_sock = str(tmp_path / "sys.sock")
    conf = tmp_path / "libspin.conf"
    conf.write_text(f"name t\ncontrol {sock}\nsyscall {sys_sock}\n"
                    f"interface eth0 driver afpacket dev veth-s\n"
                    f"address eth0 198.18.0.2/24\n")
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
