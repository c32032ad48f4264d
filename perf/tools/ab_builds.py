#!/usr/bin/python3
"""Interleaved A/B of spin builds on one lab row: how a change moves a
figure, measured side by side with the row's baseline in the same run
(PERF-NOTES: this machine's figures move between hours, so only runs made
back to back compare).  Not part of make bench; the notes in the issues
quote it as

  /usr/bin/python3 perf/tools/ab_builds.py --builds OLD,NEW --what W [--rounds N]

Each round measures every build and then the baseline, rotating the order
from round to round; it prints each round, then per build the median value
and the median of its per-round ratios to the baseline.  W is one of:

  udp-busy     perf/lab/udp_rtt.py's lab: spin udp-echo, busy, vs the raw
               AF_PACKET reflector (p50 us)
  tcp-busy     perf/tcp/tcp_bench.py's lab: spin tcp-echo, busy, vs the
               TCP-answering raw reflector (p50 us)
  tcp-block    the same lab, blocking, vs Linux's TCP echo (p50 us)
  conn-block   connections per second, spin blocking vs the Linux listener
  conn-linger  the same, spin `loop blocking linger 20`
  bulk-tx, bulk-rx
               perf/tcp/bulk_bench.py's lab without offloads (spin `gso`)
               vs the Linux iperf3 server (Gbit/s)

A build is a build directory (its spin and lab programs are used); the
lab's own programs (rr, rawrefl, ...) come from the first build.  Needs
root (network namespaces); everything it creates is removed at the end.
"""
import argparse
import os
import statistics
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lab"))
sys.path.insert(0, os.path.join(HERE, "..", "tcp"))
import bulk_bench  # noqa: E402
import tcp_bench  # noqa: E402
import topo  # noqa: E402
import udp_rtt  # noqa: E402

WHAT = ("udp-busy", "tcp-busy", "tcp-block", "conn-block", "conn-linger", "bulk-tx", "bulk-rx")


class Runner:
    """One lab for the whole run; measure(build or None) gives one figure
    (None: the baseline)."""

    def __init__(self, what, first, tmp, count):
        self.what, self.count = what, count
        self.first = os.path.abspath(first)
        if what == "udp-busy":
            self.lab = udp_rtt.Lab(first, tmp, lambda *a: None)
        elif what.startswith("bulk"):
            self.lab = bulk_bench.BulkLab(first, tmp, lambda *a: None, 3)
            self.lab.ethtool(False)
            self.lab.linux = self.lab.t.spawn(
                ["taskset", "-c", str(udp_rtt.RESPONDER_CPU), "iperf3", "-s", "--forceflush",
                 "-p", str(self.lab.port)], ns=self.lab.i["server_ns"])
            self.lab.linux.wait_line("Server listening", 5)
        else:
            self.lab = tcp_bench.TcpLab(first, tmp, lambda *a: None)

    def measure(self, build):
        w, lab = self.what, self.lab
        if w == "udp-busy":
            lab.build = os.path.abspath(build or self.first)
            return lab.measure("spin" if build else "raw", "busy", self.count, 1000)["p50_us"]
        if w.startswith("bulk"):
            if not build:
                return lab.run("linux", w == "bulk-tx").get("gbps")
            lab.build = os.path.abspath(build)
            lab.spin, err = lab.start_spin(False)
            if lab.spin is None:
                raise RuntimeError(err)
            try:
                return lab.run("spin", w == "bulk-tx").get("gbps")
            finally:
                lab.spin.stop(timeout=5)
                lab.t.procs.remove(lab.spin)
                lab.spin = None
        lab.build = os.path.abspath(build or self.first)
        if w == "tcp-busy":
            return lab.measure("spin" if build else "tcpfloor", "busy", "rtt", self.count,
                               1000).get("p50_us")
        if w == "tcp-block":
            return lab.measure("spin" if build else "linux", "block", "rtt", self.count,
                               1000).get("p50_us")
        mode = "linger" if w == "conn-linger" and build else "block"
        return lab.measure("spin" if build else "linux", mode, "conn", self.count,
                           0).get("per_s")

    def close(self):
        if self.what.startswith("bulk"):
            self.lab.stop()
        self.lab.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--builds", required=True, help="build directories, comma-separated")
    ap.add_argument("--what", required=True, choices=WHAT)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--count", type=int, default=0,
                    help="round trips (default 10000) or connections (3000) per run")
    a = ap.parse_args()
    builds = a.builds.split(",")
    for b in builds:
        if not os.access(os.path.join(b, "spin"), os.X_OK):
            print(f"ab_builds: {b}/spin is not built", file=sys.stderr)
            return 2
    count = a.count or (3000 if a.what.startswith("conn") else 10000)
    topo.install_cleanup_signals()
    rows = builds + ["baseline"]
    got = {r: [] for r in rows}
    with tempfile.TemporaryDirectory(prefix="spin-ab-") as tmp:
        run = Runner(a.what, builds[0], tmp, count)
        try:
            for k in range(a.rounds):
                order = rows[k % len(rows):] + rows[:k % len(rows)]
                this = {r: run.measure(None if r == "baseline" else r) for r in order}
                for r in rows:
                    got[r].append(this[r])
                print(f"round {k + 1}: " + ", ".join(f"{r} {this[r]:.3f}" for r in rows),
                      flush=True)
        finally:
            run.close()
    for r in rows:
        vals = [v for v in got[r] if v]
        ratios = [v / b for v, b in zip(got[r], got["baseline"]) if v and b]
        print(f"{r:40} median {statistics.median(vals):.3f}  ratio to baseline "
              f"{statistics.median(ratios):.3f}" if vals else f"{r:40} no figure")
    return 0


if __name__ == "__main__":
    sys.exit(main())
