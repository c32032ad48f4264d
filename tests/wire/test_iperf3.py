"""spin's iperf3 server (apps/iperf3) against Debian's stock iperf3 client.

    [cli ns: iperf3 -c 198.18.0.2 -J] ---- veth ---- [spin: service iperf3 port 5201]

The topology is lib/tcp_lab.py's (spin on an AF_PACKET veth, the client's
TSO/GSO off).  Every client run is bounded (-t 2, or -n, plus a subprocess
timeout) and its -J output parsed:
  - forward (the client sends), reverse (-R, spin sends), -P 4, --bidir:
    no "error" field, bytes > 0 on both ends, the sender's and receiver's
    byte counts agree (spin's figures reach the client through the results
    exchange, so a wrong stream id or missing field shows here);
  - -n (a byte count, both directions) and -O (omitted seconds);
  - a UDP test (-u) is refused with iperf3's "not implemented" error;
  - a second client while a test runs gets "the server is busy";
  - garbage instead of a cookie, an oversize JSON length, a client that
    closes mid-test (killed): each ends that test only, and the next stock
    client is served.
After each test spin has no TCP connection left but TIME_WAIT (and the
drained ones), its slots are free (active 0), and it exits cleanly.
"""
import json
import socket
import struct
import subprocess
import time

import pytest

from lib.tcp_lab import SLOW, SPIN, TcpLab

PORT = 5201
SERVICES = f"service iperf3 port {PORT}\n"


def lab_up(lab, build_dir, tmp_path):
    return TcpLab(lab, build_dir, tmp_path, services=SERVICES, name="ip3")


def iperf3(t, *args, timeout=30):
    """Runs the stock client in the client namespace; returns (rc, json)."""
    r = t.cli.sh("iperf3", "-c", SPIN, "-p", str(PORT), "-J", *map(str, args),
                 check=False, timeout=timeout * SLOW)
    try:
        res = json.loads(r.stdout)
    except ValueError:
        res = {"error": f"no JSON: rc {r.returncode} {r.stdout[-500:]} {r.stderr[-500:]}"}
    return r.returncode, res


def check_ok(t, rc, res, streams=1, omit=False):
    assert rc == 0 and "error" not in res, (res.get("error"), t.diag())
    end = res["end"]
    sent, recv = end["sum_sent"]["bytes"], end["sum_received"]["bytes"]
    assert sent > 0 and recv > 0, end
    # The receiver cannot have more than was sent; what was still in flight
    # when the test ended (a few windows) is the only difference allowed.
    # With omitted seconds each end starts counting on its own timer, so
    # either may count a little more.
    assert omit or recv <= sent, (sent, recv)
    assert abs(sent - recv) <= max(sent // 5, 8 << 20), (sent, recv)
    assert len(end["streams"]) == streams, end["streams"]
    for s in end["streams"]:
        side = s.get("sender") or s.get("receiver")
        assert side["bytes"] > 0, s
    return sent, recv


def services(t):
    return t.services()["iperf3"]


def wait_idle(t):
    end = time.monotonic() + 10 * SLOW
    while services(t)["active"] and time.monotonic() < end:
        time.sleep(0.1)
    assert services(t)["active"] == 0, services(t)


def test_forward(lab, build_dir, tmp_path):
    t = lab_up(lab, build_dir, tmp_path)
    rc, res = iperf3(t, "-t", 2)
    check_ok(t, rc, res)
    # spin counted what the client says it received (the server's figure).
    assert res["end"]["sum_received"]["bytes"] <= services(t)["bytes_in"]
    assert res["start"]["test_start"]["reverse"] == 0
    wait_idle(t)
    t.stop_clean()


def test_reverse(lab, build_dir, tmp_path):
    t = lab_up(lab, build_dir, tmp_path)
    rc, res = iperf3(t, "-t", 2, "-R")
    sent, _ = check_ok(t, rc, res)
    assert res["start"]["test_start"]["reverse"] == 1
    assert services(t)["bytes_out"] >= sent
    wait_idle(t)
    t.stop_clean()


def test_parallel_4(lab, build_dir, tmp_path):
    t = lab_up(lab, build_dir, tmp_path)
    rc, res = iperf3(t, "-t", 2, "-P", 4)
    check_ok(t, rc, res, streams=4)
    rc, res = iperf3(t, "-t", 2, "-P", 4, "-R")
    check_ok(t, rc, res, streams=4)
    wait_idle(t)
    t.stop_clean()


def test_128_streams_bidir(lab, build_dir, tmp_path):
    """iperf3's stream limit both ways at once: 256 data connections whose
    send queues together could exceed TCP's pool (spin caps each sender's
    share so the control connection can still send the results)."""
    t = lab_up(lab, build_dir, tmp_path)
    rc, res = iperf3(t, "-t", 1, "-P", 128, "--bidir", timeout=60)
    assert rc == 0 and "error" not in res, (res.get("error"), t.diag())
    end = res["end"]
    assert len(end["streams"]) == 256, len(end["streams"])
    assert end["sum_sent"]["bytes"] > 0 and end["sum_received_bidir_reverse"]["bytes"] > 0, end
    wait_idle(t)
    t.stop_clean()


def test_bidir_bytes_omit(lab, build_dir, tmp_path):
    t = lab_up(lab, build_dir, tmp_path)
    rc, res = iperf3(t, "-t", 2, "--bidir")
    assert rc == 0 and "error" not in res, (res.get("error"), t.diag())
    end = res["end"]
    assert end["sum_sent"]["bytes"] > 0 and end["sum_received"]["bytes"] > 0, end
    assert end["sum_sent_bidir_reverse"]["bytes"] > 0, end
    assert end["sum_received_bidir_reverse"]["bytes"] > 0, end
    # A byte count each way: the sender stops at (about) that count.
    for extra in ((), ("-R",)):
        rc, res = iperf3(t, "-n", "3M", *extra)
        sent, _ = check_ok(t, rc, res)
        assert 3 << 20 <= sent <= (3 << 20) + (1 << 20), sent
    # One omitted second: the client shows it and the test still ends.
    rc, res = iperf3(t, "-t", 2, "-O", 1)
    check_ok(t, rc, res, omit=True)
    assert res["start"]["test_start"]["omit"] == 1
    wait_idle(t)
    t.stop_clean()


def test_udp_refused_and_busy(lab, build_dir, tmp_path):
    t = lab_up(lab, build_dir, tmp_path)
    rc, res = iperf3(t, "-u", "-t", 1)
    # (iperf3 -J exits 0 on a server's error; the JSON carries it.)
    assert "not implemented" in res.get("error", ""), res
    # A test runs; a second client is turned away while it does.
    first = t.lab.spawn(["iperf3", "-c", SPIN, "-p", str(PORT), "-t", "4", "-J"], ns=t.cli)
    end = time.monotonic() + 10 * SLOW
    while services(t)["active"] < 2 and time.monotonic() < end:
        time.sleep(0.05)
    rc, res = iperf3(t, "-t", 1)
    assert "busy" in res.get("error", ""), res
    first.wait(timeout=20 * SLOW)
    assert first.p.returncode == 0, first.lines[-20:]
    out = json.loads("\n".join(first.lines))
    assert "error" not in out and out["end"]["sum_received"]["bytes"] > 0, out.get("error")
    assert services(t)["refused"] >= 1
    rc, res = iperf3(t, "-t", 1)
    check_ok(t, rc, res)
    wait_idle(t)
    t.stop_clean()


def raw_client(t, script):
    """Runs a small Python client in the client namespace; returns its stdout."""
    r = t.cli.sh("/usr/bin/python3", "-c", script, check=False, timeout=30 * SLOW)
    assert r.returncode == 0, (r.stdout, r.stderr)
    return r.stdout


CONNECT = f"""
import socket, struct, sys
s = socket.create_connection(("{SPIN}", {PORT}), timeout=15)
def state():
    b = s.recv(1)
    return b[0] if b else None
"""


def test_bad_input_then_served(lab, build_dir, tmp_path):
    """Garbage, an oversize length and a vanished client each end their
    test only; the stock client is served after each."""
    t = lab_up(lab, build_dir, tmp_path)
    # Not a cookie: spin resets the connection without a state byte.
    out = raw_client(t, CONNECT + """
s.sendall(b"GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n" + b"y" * 20)
try:
    print("state", state())
except ConnectionResetError:
    print("reset")
""")
    assert out.split() in (["reset"], ["state", "None"]), out
    rc, res = iperf3(t, "-t", 1)
    check_ok(t, rc, res)
    # A real cookie, then a JSON length of 1 GB: SERVER_ERROR (254) with
    # iperf3's "unable to receive parameters" code (114).
    out = raw_client(t, CONNECT + """
s.sendall(b"a" * 36 + b"\\0")
print("state", state())
s.sendall(struct.pack("!I", 1 << 30) + b"{")
rest = b""
while len(rest) < 9:
    b = s.recv(9 - len(rest))
    if not b:
        break
    rest += b
print("error", rest[0], *struct.unpack("!ii", rest[1:9]))
""")
    assert out.split() == ["state", "9", "error", "254", "114", "90"], out
    # Parameters that are not JSON: the same code, errno EINVAL.
    out = raw_client(t, CONNECT + """
s.sendall(b"b" * 36 + b"\\0")
print("state", state())
body = b'{"tcp":true,"time":'
s.sendall(struct.pack("!I", len(body)) + body)
rest = s.recv(9)
print("error", rest[0], *struct.unpack("!ii", rest[1:9]))
""")
    assert out.split() == ["state", "9", "error", "254", "114", "22"], out
    rc, res = iperf3(t, "-t", 1, "-R")
    check_ok(t, rc, res)
    # A client killed mid-test (reverse, so spin is sending): spin resets
    # the test's connections and serves the next client.
    victim = t.lab.spawn(["iperf3", "-c", SPIN, "-p", str(PORT), "-t", "10", "-R", "-P", "2"],
                         ns=t.cli)
    end = time.monotonic() + 10 * SLOW
    while services(t)["active"] < 3 and time.monotonic() < end:
        time.sleep(0.05)
    assert services(t)["active"] == 3, services(t)
    time.sleep(0.5)
    victim.stop(timeout=5)
    wait_idle(t)
    rc, res = iperf3(t, "-t", 1, "-P", 2)
    check_ok(t, rc, res, streams=2)
    wait_idle(t)
    t.stop_clean()


def test_reload_mid_test(lab, build_dir, tmp_path):
    """A reload that moves the service to another port while a test runs:
    the client is told the server terminated (SERVER_TERMINATE), the new
    port serves the next test."""
    t = lab_up(lab, build_dir, tmp_path)
    victim = t.lab.spawn(["iperf3", "-c", SPIN, "-p", str(PORT), "-t", "8", "-R", "-J"],
                         ns=t.cli)
    end = time.monotonic() + 10 * SLOW
    while services(t)["active"] < 2 and time.monotonic() < end:
        time.sleep(0.05)
    assert services(t)["active"] == 2, services(t)
    t.conf.write_text(t.conf.read_text().replace(f"port {PORT}", f"port {PORT + 1}"))
    assert "reloaded" in t.ctl("reload").stdout
    victim.wait(timeout=20 * SLOW)
    out = json.loads("\n".join(victim.lines))
    assert "server has terminated" in out.get("error", ""), out.get("error")
    r = t.cli.sh("iperf3", "-c", SPIN, "-p", str(PORT + 1), "-t", "1", "-J", check=False,
                 timeout=30 * SLOW)
    res = json.loads(r.stdout)
    assert "error" not in res and res["end"]["sum_received"]["bytes"] > 0, res.get("error")
    t.stop_clean()


def test_second_test_after_first(lab, build_dir, tmp_path):
    """Back-to-back tests on one listener, and TCP keeps nothing of them
    but TIME_WAIT."""
    t = lab_up(lab, build_dir, tmp_path)
    totals = []
    for args in (("-t", 1), ("-t", 1, "-R"), ("-t", 1, "-P", 3)):
        rc, res = iperf3(t, *args)
        totals.append(check_ok(t, rc, res, streams=3 if "-P" in args else 1))
    st = t.wait_idle()
    assert st["curr_estab"] == 0 and st["sndq_bytes"] == 0, st
    assert services(t)["accepted"] >= 2 + 2 + 4, services(t)
    t.stop_clean()


def test_next_client_before_iperf_done(lab, build_dir, tmp_path):
    """A client that got its results but whose IPERF_DONE has not arrived
    (lost, or behind a backlog) does not keep the next client out: the old
    test ends as done and the newcomer is served."""
    t = lab_up(lab, build_dir, tmp_path)
    script = CONNECT + f"""
import json, time
def recv_exact(k, n):
    b = b""
    while len(b) < n:
        x = k.recv(n - len(b))
        if not x:
            sys.exit("closed after %d bytes" % len(b))
        b += x
    return b
cookie = b"d" * 36 + b"\\0"
s.sendall(cookie)
assert state() == 9
p = json.dumps({{"tcp": True, "time": 1, "parallel": 1, "len": 1024}}).encode()
s.sendall(struct.pack("!I", len(p)) + p)
assert state() == 10
d = socket.create_connection(("{SPIN}", {PORT}), timeout=15)
d.sendall(cookie)
assert state() == 1 and state() == 2
d.sendall(b"x" * 4096)
s.sendall(bytes([4]))
assert state() == 13
r = json.dumps({{"cpu_util_total": 0, "cpu_util_user": 0, "cpu_util_system": 0,
                "sender_has_retransmits": 0, "streams": []}}).encode()
s.sendall(struct.pack("!I", len(r)) + r)
n = struct.unpack("!I", recv_exact(s, 4))[0]
recv_exact(s, n)
assert state() == 14
print("display", flush=True)
time.sleep(60)
"""
    holder = t.lab.spawn(["/usr/bin/python3", "-c", script], ns=t.cli)
    try:
        holder.wait_line("display", timeout=15 * SLOW)
        rc, res = iperf3(t, "-t", 1)
        check_ok(t, rc, res)
    finally:
        holder.stop(timeout=5)
    wait_idle(t)
    t.stop_clean()
