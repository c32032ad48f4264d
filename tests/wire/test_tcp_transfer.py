"""Byte-exact bulk transfers through spin's TCP, against Linux, with loss
and reordering from a fault node on spin's interface (both directions).

    [cli ns: Linux] ---- veth ---- [spin: fault node lossy.rx/lossy.tx on eth0]

For each loss rate (0%, 1%, 5%; reordering 2% by 3 packets in every row):
  - 1 MB through spin's echo from a Python client (spin receives and sends
    the whole size at once; the service path);
  - 1 MB and 10 MB each way between spin's client (tcpfetch) and a Linux
    server: a download (the server sends, spin writes a file) and an
    upload (spin sends a file, the server hashes it).
Every byte is compared by SHA-256.  spin sending 10 MB at 5% (about 90 s
with this issue's NewReno sender) and 100 MB through the echo with no fault
run in the plain pass only, not under the sanitizers (and in make soak).  On a failure the assertion carries
`spin ctl tcp`, `tcp services` and the fault node's counters.

Interop matrix: the Linux peer with net.ipv4.tcp_sack, tcp_timestamps and
tcp_window_scaling each turned off in its namespace, a 1 MB echo each.
"""
import hashlib
import os
import time

import pytest

from lib.tcp_lab import CLI, SANITIZER, SLOW, SPIN, TcpLab, peer_result, random_file, \
    sha256_file

MB = 1 << 20
# Seconds allowed per transfer (the sanitizer pass multiplies by SLOW).
LIMIT = {(0, 1): 20, (0, 10): 30, (1, 1): 30, (1, 10): 60, (5, 1): 40, (5, 10): 150}
# spin sending 10 MB at 5% loss takes about 90 s (NewReno and 200 ms RTOs;
# SACK-based sender recovery is the next issue), too long to run twice in
# make check's budget: it runs in the plain pass and in make soak, not under
# the sanitizers.  Every other cell runs in both passes.
SOAK = os.environ.get("SPIN_SOAK") == "1"
PLAIN_ONLY = {(5, 10)}


def fault_line(loss):
    return f'fault lossy on eth0 both "loss={loss}% reorder=2%/3 seed={11 + loss}"\n'


def check_echo(t, path, limit):
    r = peer_result(t.peer("client", "--dst", SPIN, "--port", 7, "--send", path,
                           "--timeout", limit * SLOW), limit + 10)
    size = os.path.getsize(path)
    ok = ("send_error" not in r and "recv_error" not in r and r["sent"] == size and
          r["received"] == size)
    assert ok, (r, t.diag())
    assert r["sha256"] == sha256_file(path), r
    return r


def check_fetch(t, tmp_path, limit, up=None, down=None):
    """One transfer between spin's client and a Linux server: spin sends up
    (a file path, or nothing) and receives down (likewise)."""
    args = ["server", "--port", 5001, "--timeout", limit * SLOW]
    if down:
        args += ["--send", down]
    srv = t.peer(*args)
    srv.wait_line("READY", timeout=5)
    got = str(tmp_path / "got.bin")
    fid = t.fetch(CLI, 5001, send=up, recv=got)
    st = t.wait_fetch(fid, limit)
    assert st["state"] == "done" and st["reason"] == "closed", (st, t.diag())
    r = peer_result(srv, 10)
    if up:
        assert r["sha256"] == sha256_file(up), (r, st)
    else:
        assert r["received"] == 0, r
    assert sha256_file(got) == (sha256_file(down) if down else hashlib.sha256().hexdigest()), st
    t.ctl("tcp", "forget", fid)
    return st


@pytest.mark.parametrize("loss", [0, 1, 5])
def test_transfer_loss(lab, build_dir, tmp_path, loss):
    t = TcpLab(lab, build_dir, tmp_path, extra=fault_line(loss))
    a = random_file(tmp_path / "a1.bin", MB, seed=1)
    check_echo(t, a, LIMIT[(loss, 1)])
    for size in (1, 10):
        a = random_file(tmp_path / f"a{size}.bin", size * MB, seed=size)
        b = random_file(tmp_path / f"b{size}.bin", size * MB, seed=100 + size)
        t0 = time.monotonic()
        check_fetch(t, tmp_path, LIMIT[(loss, size)], down=b)
        t1 = time.monotonic()
        if (loss, size) in PLAIN_ONLY and SANITIZER and not SOAK:
            print(f"loss {loss}% {size} MB from spin: plain pass only")
        else:
            check_fetch(t, tmp_path, LIMIT[(loss, size)], up=a)
        print(f"loss {loss}% {size} MB: to spin {t1 - t0:.1f} s, "
              f"from spin {time.monotonic() - t1:.1f} s")
    st = t.stats()
    if loss:
        assert st["retrans_segs"] > 0, st
        fo = t.ctl("fault", "lossy").stdout
        assert "lost=0 " not in fo, fo
    # spin's client closed first, so its connections wait in TIME_WAIT; no
    # other state, queued byte or buffer may remain.
    st = t.wait_idle(timeout=10)
    assert st["curr_estab"] == 0 and st["pool_outstanding"] == 0, (st, t.diag())
    assert t.only_timewait(), t.diag()
    t.stop_clean()


# Defined only outside the sanitizer pass (make check counts a skip as a
# failure, so the test is absent there rather than skipped).
if not SANITIZER:
    def test_transfer_100mb(lab, build_dir, tmp_path):
        t = TcpLab(lab, build_dir, tmp_path)
        a = random_file(tmp_path / "a100.bin", 100 * MB, seed=100)
        r = check_echo(t, a, 120)
        print(f"100 MB echo in {r['seconds']} s")
        t.stop_clean()


@pytest.mark.parametrize("sysctl", ["net.ipv4.tcp_sack", "net.ipv4.tcp_timestamps",
                                    "net.ipv4.tcp_window_scaling"])
def test_interop_matrix(lab, build_dir, tmp_path, sysctl):
    """The Linux peer without one option; 1% loss so recovery runs without
    it too.  Both directions of spin's TCP: echo and the client."""
    t = TcpLab(lab, build_dir, tmp_path, extra=fault_line(1), cli_sysctls={sysctl: 0})
    a = random_file(tmp_path / "a.bin", MB, seed=7)
    b = random_file(tmp_path / "b.bin", MB, seed=8)
    check_echo(t, a, 30)
    check_fetch(t, tmp_path, 30, up=a)
    check_fetch(t, tmp_path, 30, down=b)
    t.stop_clean()
