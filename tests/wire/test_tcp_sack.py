"""spin's sender-side loss recovery against a Linux receiver: SACK (RFC 6675)
against NewReno without SACK (`tcp sack off`), with CUBIC too.

    [cli ns: Linux server, receives] ---- veth ---- [spin: tcpfetch sends 10 MB;
                                                     fault node lossy on eth0]

For 1% and 5% loss with 2% reordering by 3 packets (the same fault seed for
every run of a row), spin's client (tcp fetch) uploads a 10 MB file to a
Linux server that hashes it.  Each run is byte-exact (SHA-256).  The SACK
runs must be faster than the runs without SACK, interleaved in pairs: their
summed elapsed time (tcpfetch's own clock) times MARGIN must stay below the
others'.  Without SACK a loss in a small window, a lost retransmission or
a tail loss costs a 200 ms timeout; with SACK, RACK-TLP repairs most of
them within a few round trips.  The gap measured here (about 1.5 to 2x at
1%, 3x and more at 5%) is well above the margins, and load on the machine
slows both runs of a pair about alike.

The baseline run without SACK at 5% is bounded: it may stop at
LIMIT_SLOW seconds (then it is slower by construction, and the bytes of
that transfer are not compared; the byte-exact NewReno run is in
test_tcp_transfer.py).  Under the sanitizers only the 1% row runs.
"""
import time

import pytest

from lib.tcp_lab import CLI, SANITIZER, SLOW, TcpLab, peer_result, random_file, sha256_file

MB = 1 << 20
SIZE = 10 * MB
# Seconds for a SACK run, and the cap for a run without SACK.
LIMIT_FAST = {1: 60, 5: 90}
LIMIT_SLOW = {1: 120, 5: 150}


def fault_line(loss):
    return f'fault lossy on eth0 both "loss={loss}% reorder=2%/3 seed={21 + loss}"\n'


def upload(lab, build_dir, tmp_path, loss, extra, name, limit, must_finish=True):
    """One 10 MB upload from spin; returns (seconds, finished, tcp stats)."""
    sub = tmp_path / name
    sub.mkdir()
    t = TcpLab(lab, build_dir, sub, extra=fault_line(loss) + extra, name=name)
    try:
        a = random_file(sub / "a.bin", SIZE, seed=5)
        srv = t.peer("server", "--port", 5001, "--timeout", limit * SLOW + 5)
        srv.wait_line("READY", timeout=5)
        t0 = time.monotonic()
        fid = t.fetch(CLI, 5001, send=a, recv=str(sub / "got.bin"))
        # The connection's row (cc, sack) while it runs.
        conns, end = "", time.monotonic() + limit * SLOW
        while True:
            if f"{CLI}:5001" not in conns:
                conns = t.ctl("tcp", "conns").stdout
            st = t.fetch_status(fid)
            if st["state"] == "done" or time.monotonic() > end:
                break
            time.sleep(0.05)
        done = st["state"] == "done"
        secs = float(st["elapsed_ms"]) / 1000 if done else time.monotonic() - t0
        stats = t.stats()
        if must_finish or done:
            assert done and st["reason"] == "closed", (name, st, t.diag())
            r = peer_result(srv, 10)
            assert r["received"] == SIZE and r["sha256"] == sha256_file(a), (name, r)
    finally:
        rc = t.p.stop(timeout=10 * SLOW)
    assert rc == 0, (rc, t.p.stderr[-2000:])
    assert "ERROR: AddressSanitizer" not in t.p.stderr, t.p.stderr[-3000:]
    print(f"{name}: loss {loss}% {secs:.1f} s, done {done}, rto {stats['rto_expired']}, "
          f"retrans {stats['retrans_bytes']} B, sack recoveries {stats['sack_recoveries']}, "
          f"fast {stats['fast_retrans']} tlp {stats['tlp_probes']} "
          f"lost_rxt {stats['lost_retrans']} rescues {stats['sack_rescues']} undo {stats['sack_undos']} "
          f"dsack {stats['dsacks_recv']} out {stats['out_segs']} in {stats['in_segs']}")
    return secs, done, stats, conns


ROWS = [1] if SANITIZER else [1, 5]
# Interleaved pairs per row (a 1% run takes a second or two, so two pairs
# average out a lucky or unlucky one), and the margin the summed times
# must clear.
PAIRS = {1: 2, 5: 1}
MARGIN = {1: 1.2, 5: 1.5}


def compare(lab, build_dir, tmp_path, loss, extra, name, want_row):
    fast, slow = [], []
    for k in range(PAIRS[loss]):
        t, _, st, conns = upload(lab, build_dir, tmp_path, loss, extra, f"{name}{k}",
                                 LIMIT_FAST[loss])
        assert st["sack_recoveries"] > 0 and st["sack_blocks_recv"] > 0, st
        assert want_row in conns, conns
        fast.append(t)
        t, done, st, conns = upload(lab, build_dir, tmp_path, loss, "tcp sack off\n",
                                    f"nosack{k}", min(LIMIT_SLOW[loss], max(30, t * 8)),
                                    must_finish=False)
        assert st["sack_recoveries"] == 0 and st["sack_blocks_recv"] == 0, st
        assert " sack off" in conns and " sack on" not in conns, conns
        slow.append(t)
    assert sum(fast) * MARGIN[loss] < sum(slow), (fast, slow)


@pytest.mark.parametrize("loss", ROWS)
def test_sack_faster(lab, build_dir, tmp_path, loss):
    """NewReno with SACK recovery against NewReno without SACK."""
    compare(lab, build_dir, tmp_path, loss, "", "sack", " cc newreno sack on")


@pytest.mark.parametrize("loss", ROWS)
def test_sack_cubic(lab, build_dir, tmp_path, loss):
    """CUBIC with SACK: byte-exact, and faster than NewReno without SACK
    (the baseline of the benchmark)."""
    compare(lab, build_dir, tmp_path, loss, "tcp cc cubic\n", "cubic", " cc cubic sack on")
