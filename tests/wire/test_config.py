"""The config at start and on reload (docs/config.md).

- a bad config at start: one line "FILE:LINE: message" and exit status 2;
- a bad reload (spin ctl reload and SIGHUP) changes nothing: the same
  bindings, the counters not reset, the echo still answering;
- a good reload swaps the service ports at once.
"""
import signal
import subprocess

from test_udp import ctl, start_spin


def test_bad_config_at_start(build_dir, tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text("name x\n# fine so far\ninterface e0 driver afpackt dev veth0\n")
    r = subprocess.run([str(build_dir / "spin"), "run", str(conf)], capture_output=True,
                       text=True, timeout=10)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{conf}:3: unknown driver"), r.stderr


def test_missing_config(build_dir, tmp_path):
    r = subprocess.run([str(build_dir / "spin"), "run", str(tmp_path / "none.conf")],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 2 and "none.conf:0:" in r.stderr


def echo_once(cli, port=7, sport=41000):
    return cli.sh("sh", "-c", f"printf 'ping\\n' | timeout 5 socat -t 2 - "
                  f"UDP4:198.18.0.2:{port},sourceport={sport}", check=False).stdout


def test_bad_reload_changes_nothing(lab, build_dir, tmp_path):
    cli, _, p, sock, conf = start_spin(lab, build_dir, tmp_path)
    assert echo_once(cli) == "ping\n"
    b0 = ctl(build_dir, sock, "bindings", "UDP_PacketArrived").stdout
    c0 = ctl(build_dir, sock, "counters", "echo").stdout
    good = conf.read_text()
    conf.write_text(good + "service udp-echo port 9\nroute 198.19.0.1/16 via 198.18.0.1\n")
    r = ctl(build_dir, sock, "reload")
    assert r.returncode == 1 and f"{conf}:7: prefix" in r.stderr, r
    p.p.send_signal(signal.SIGHUP)
    assert ctl(build_dir, sock, "bindings", "UDP_PacketArrived").stdout == b0
    assert ctl(build_dir, sock, "counters", "echo").stdout == c0
    assert echo_once(cli) == "ping\n"
    assert echo_once(cli, port=9) == ""
    # A good reload moves the service from 7 to 9 in one swap.
    conf.write_text(good.replace("port 7", "port 9"))
    assert ctl(build_dir, sock, "reload").returncode == 0
    assert echo_once(cli, port=9, sport=41001) == "ping\n"
    assert echo_once(cli, port=7, sport=41002) == ""
    st = ctl(build_dir, sock, "status").stdout
    assert "reloads 1" in st and "reloads_refused 2" in st, st
    assert p.stop() == 0
