#!/usr/bin/python3
"""Goodput of spin's TCP sender under loss: a 10 MB upload from spin's
client (tcp fetch) to a Linux receiver through the fault node on spin's
interface (loss and reordering both ways, one seed for every run), SACK
loss recovery (RFC 6675 with RACK-TLP) against NewReno without SACK.
Run by perf/tcp/bench_loss.sh for make bench.

Topology: tests/wire/lib/tcp_lab.py's (one Linux namespace, one spin on
AF_PACKET over a veth pair; the Linux side has TSO/GSO off).  Each run
starts a fresh spin with the row's config lines:

  sack     (default: SACK on, NewReno)           the value
  cubic    `tcp cc cubic` (SACK on)              reference record
  nosack   `tcp sack off` (NewReno, no SACK)     the baseline

Runs are interleaved (sack, cubic, nosack, sack, ...).  Elapsed time is
tcpfetch's own (connect to the peer's close), goodput = bytes * 8 /
elapsed in Mbit/s.  Values are medians over runs; ratios the medians of
the per-run ratios (each pair ran back to back, so machine load affects
both alike).  A run that does not finish within --limit seconds counts at
the limit (its goodput is then an upper bound, which only flatters the
baseline).

Records (perf/lib/bench.h keys; "seconds" lists every run's time):
  tcp.loss5.goodput        sack vs nosack, target ratio >= 1.5
  tcp.loss5.goodput.cubic  cubic vs nosack (reference)
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "wire"))
from lib.netns import Lab  # noqa: E402
from lib.tcp_lab import CLI, TcpLab, peer_result, random_file, sha256_file  # noqa: E402

ROWS = {"sack": "", "cubic": "tcp cc cubic\n", "nosack": "tcp sack off\n"}


def one(build, tmp, row, loss, seed, size, limit, log):
    """One upload; returns (seconds, stats)."""
    import pathlib
    lab = Lab(tag=f"loss-{row}")
    sub = pathlib.Path(tempfile.mkdtemp(dir=tmp, prefix=row))
    try:
        fault = f'fault lossy on eth0 both "loss={loss}% reorder=2%/3 seed={seed}"\n'
        t = TcpLab(lab, pathlib.Path(build), sub, extra=fault + ROWS[row], name=row)
        src = random_file(sub / "a.bin", size, seed=5)
        srv = t.peer("server", "--port", 5001, "--timeout", limit + 5)
        srv.wait_line("READY", timeout=5)
        fid = t.fetch(CLI, 5001, send=src, recv=str(sub / "got.bin"))
        st = t.wait_fetch(fid, limit)
        stats = t.stats()
        if st["state"] == "done":
            secs = float(st["elapsed_ms"]) / 1000
            r = peer_result(srv, 10)
            if st["reason"] != "closed" or r["sha256"] != sha256_file(src):
                raise RuntimeError(f"{row}: transfer not byte-exact: {st} {r}")
        else:
            secs = float(limit)
        t.p.stop(timeout=10)
        if os.environ.get("LOSS_DEBUG"):
            print(t.p.stderr[-20000:], file=log)
        print(f"  {row}: {secs:.2f} s, rto {stats['rto_expired']}, retrans "
              f"{stats['retrans_bytes']} B, recoveries {stats['sack_recoveries']}, "
              f"tlp {stats['tlp_probes']}", file=log, flush=True)
        return secs, stats
    finally:
        lab.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--loss", type=int, default=5)
    ap.add_argument("--seed", type=int, default=26)
    ap.add_argument("--size", type=int, default=10 << 20)
    ap.add_argument("--limit", type=int, default=120)
    ap.add_argument("--rows", default="sack,cubic,nosack")
    ap.add_argument("--json")
    a = ap.parse_args()
    rows = a.rows.split(",")
    secs = {r: [] for r in rows}
    log = sys.stderr
    with tempfile.TemporaryDirectory(prefix="spin-loss-") as tmp:
        for i in range(a.runs):
            print(f"loss_bench: run {i + 1}/{a.runs}", file=log, flush=True)
            for r in rows:
                s, _ = one(a.build, tmp, r, a.loss, a.seed, a.size, a.limit, log)
                secs[r].append(s)
    mbps = {r: [a.size * 8 / s / 1e6 for s in v] for r, v in secs.items()}
    out = []
    base = "nosack"
    for r, name, target in (("sack", f"tcp.loss{a.loss}.goodput", 1.5),
                            ("cubic", f"tcp.loss{a.loss}.goodput.cubic", None)):
        if r not in rows or base not in rows:
            continue
        ratios = [x / y for x, y in zip(mbps[r], mbps[base])]
        out.append({"name": name, "value": round(statistics.median(mbps[r]), 3),
                    "unit": "Mbit/s", "better": "higher",
                    "baseline": "spin-newreno-sack-off",
                    "baseline_value": round(statistics.median(mbps[base]), 3),
                    "ratio": round(statistics.median(ratios), 3), "target": target,
                    "runs": a.runs, "size": a.size, "loss_pct": a.loss, "seed": a.seed,
                    "seconds": {k: [round(x, 2) for x in v] for k, v in secs.items()}})
    for rec in out:
        print(json.dumps(rec))
    if a.json:
        with open(a.json, "w") as f:
            for rec in out:
                f.write(json.dumps(rec) + "\n")


if __name__ == "__main__":
    main()
