"""The config at start and on reload (docs/config.md).

- a bad config at start: one line "FILE:LINE: message" and exit status 2;
- a bad reload (spin ctl reload and SIGHUP) changes nothing: the same
  bindings, the counters not reset, the echo still answering;
- a good reload swaps the service ports at once, and changes the loop mode and
  its linger (a loop back in blocking mode is woken by each frame at once).
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


def timed_echoes(cli, n, gap):
    """n UDP echoes to spin's port 7, gap seconds apart (so a blocking loop
    is asleep when each arrives); returns each round trip in seconds (None
    for no answer)."""
    out = cli.sh("/usr/bin/python3", "-c", f"""
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("198.18.0.1", 41100))
s.settimeout(3)
for i in range({n}):
    time.sleep({gap})
    t = time.monotonic()
    s.sendto(b"x%d" % i, ("198.18.0.2", 7))
    try:
        s.recvfrom(64)
        print(time.monotonic() - t)
    except socket.timeout:
        print("lost")
""", check=False).stdout.split()
    return [None if x == "lost" else float(x) for x in out]


def test_loop_modes_on_reload(lab, build_dir, tmp_path):
    """`loop` changes on reload: linger shows in status and counts turns;
    busy-poll answers; back in blocking mode the sleeping loop is woken by
    each frame at once (the device is watched again), not by its next
    timer or the idle limit."""
    cli, _, p, sock, conf = start_spin(lab, build_dir, tmp_path, extra="loop blocking\n")
    good = conf.read_text()
    assert echo_once(cli) == "ping\n"
    conf.write_text(good.replace("loop blocking\n", "loop blocking linger 20\n"))
    assert ctl(build_dir, sock, "reload").returncode == 0
    assert echo_once(cli, sport=41003) == "ping\n"
    st = ctl(build_dir, sock, "status").stdout
    assert "loop blocking" in st and "loop_linger_us 20" in st, st
    lt = [l for l in st.splitlines() if l.startswith("loop turns")][0].split()
    assert int(lt[lt.index("linger_turns") + 1]) > 0, st
    # A bad linger is refused whole; the loop keeps its settings.
    conf.write_text(good.replace("loop blocking\n", "loop blocking linger 20000\n"))
    r = ctl(build_dir, sock, "reload")
    assert r.returncode == 1 and f"{conf}:6: bad linger '20000'" in r.stderr, r
    assert "loop_linger_us 20" in ctl(build_dir, sock, "status").stdout
    conf.write_text(good.replace("loop blocking\n", "loop busy-poll\n"))
    assert ctl(build_dir, sock, "reload").returncode == 0
    assert "loop busy-poll" in ctl(build_dir, sock, "status").stdout
    assert echo_once(cli, sport=41004) == "ping\n"
    conf.write_text(good)
    assert ctl(build_dir, sock, "reload").returncode == 0
    st = ctl(build_dir, sock, "status").stdout
    assert "loop blocking" in st and "loop_linger_us 0" in st, st
    rtts = timed_echoes(cli, 4, 1.2)
    assert len(rtts) == 4 and None not in rtts, rtts
    assert max(rtts) < 0.3, rtts
    assert p.stop() == 0
