#!/usr/bin/python3
"""The first latency lab: UDP round trips, 16-byte payloads, between a Linux
client and each responder, on the same kind of veth path and placement
(docs/lab.md).  Used by scripts/demo.sh (--table) and perf/lab/bench_udp_rtt.sh
(--bench).

Rows (responders):
  linux  Linux kernel UDP echo (perf/lab/udp_echo_linux.c) in the server ns
  raw    raw AF_PACKET reflector, no protocol work (perf/lab/rawrefl.c)
  dpdk   DPDK testpmd, --forward-mode=5tswap on net_af_packet (busy only: a
         PMD always polls)
  spin   build/spin run CONFIG with the UDP echo service
Modes: block (both ends sleep when idle) and busy (both ends spin).
Placement: the client on CPU 0, every responder on CPU 1 (testpmd: its
forwarding lcore on CPU 1, its main lcore idle on CPU 0 waiting on stdin).

Each measurement starts its responder, waits until it answers, runs
perf/lab/rr (warm-up, then --count round trips), stops the responder by pid
and keeps its counters.  Runs are interleaved row by row (A B C A B C ...).

Output: --json FILE gets every run's result; --table prints the paper-style
table; --bench prints one bench record (perf/lib/bench.h keys) per line.
"""
import argparse
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import topo  # noqa: E402

CLIENT_CPU, RESPONDER_CPU = 0, 1
# Open-loop request rates (--paced): well below each mode's closed-loop rate.
PACED_RATE = {"block": 2000, "busy": 10000}
PAPER = {"spin_us": 565, "osf1_us": 789}  # SPIN paper Table 6, Ethernet


class Lab:
    def __init__(self, build, tmp, log):
        self.build = os.path.abspath(build)
        self.tmp = tmp
        self.log = log
        self.t, self.i = topo.build_first_lab("rtt")
        self.port = 20000 + secrets.randbelow(20000)
        self.notes = []
        self.paced = False

    def prog(self, name):
        return os.path.join(self.build, "perf", "lab", name)

    # --- responders: each returns (proc, dst address, cleanup callable) ---
    def start_linux(self, mode, seconds):
        p = self.t.spawn([self.prog("udp_echo_linux"), "--port", str(self.port),
                          "--cpu", str(RESPONDER_CPU), "--mode", mode,
                          "--seconds", str(seconds)], ns=self.i["server_ns"])
        p.wait_line("READY", 5)
        return p, self.i["server"], None

    def start_raw(self, mode, seconds):
        p = self.t.spawn([self.prog("rawrefl"), "--iface", self.i["appl_if"],
                          "--port", str(self.port), "--cpu", str(RESPONDER_CPU),
                          "--mode", mode, "--seconds", str(seconds)],
                         ns=self.i["appl_ns"])
        p.wait_line("READY", 5)
        return p, self.i["appl"], None

    def start_dpdk(self, mode, seconds):
        assert mode == "busy"
        prefix = f"spinlab{os.getpid()}{secrets.token_hex(3)}"
        # PERF-NOTES rule 9's recipe, bounded by timeout(1).
        cmd = ["timeout", "-s", "INT", "-k", "5", str(seconds), "stdbuf", "-oL", "dpdk-testpmd",
               "-l", f"{CLIENT_CPU}-{RESPONDER_CPU}", "--no-huge", "-m", "512", "--no-pci",
               f"--file-prefix={prefix}", "--log-level=lib.eal:error",
               f"--vdev=net_af_packet0,iface={self.i['appl_if']}", "--",
               "--forward-mode=5tswap", "--total-num-mbufs=8192"]
        def cleanup():
            shutil.rmtree(f"/var/run/dpdk/{prefix}", ignore_errors=True)
        p = self.t.spawn(cmd, ns=self.i["appl_ns"], stdin=subprocess.PIPE)
        self.t.cleanups.append(cleanup)
        p.wait_line("Press enter to exit", 20)
        return p, self.i["appl"], cleanup

    def start_spin(self, mode, seconds):
        spin = os.path.join(self.build, "spin")
        name = f"lab{os.getpid()}"
        conf = os.path.join(self.tmp, f"{name}.conf")
        self.spin_sock = f"{self.tmp}/{name}.sock"
        with open(conf, "w") as f:
            f.write(f"# written by perf/lab/udp_rtt.py\n"
                    f"name {name}\n"
                    f"control {self.tmp}/{name}.sock\n"
                    f"loop {'busy-poll' if mode == 'busy' else 'blocking'}\n"
                    f"log quiet\n"
                    f"interface eth0 driver afpacket dev {self.i['appl_if']}\n"
                    f"address eth0 {self.i['appl']}/24\n"
                    f"arp eth0 {self.i['client_a']} {self.i['client_a_mac']}\n"
                    f"service udp-echo port {self.port}\n")
        # timeout(1) bounds its life; taskset pins it (and any thread it makes).
        p = self.t.spawn(["timeout", "-s", "TERM", "-k", "5", str(seconds),
                          "taskset", "-c", str(RESPONDER_CPU), spin, "run", conf],
                         ns=self.i["appl_ns"])
        return p, self.i["appl"], None

    def probe(self, dst, proc, timeout=10):
        """Waits until dst answers one round trip; raises if proc dies first."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            r = topo.run(["ip", "netns", "exec", self.i["client_ns"], self.prog("rr"),
                          "--dst", dst, "--port", str(self.port), "--count", "1",
                          "--warmup", "0", "--timeout-ms", "100"], check=False, timeout=10)
            if r.returncode == 0:
                return
            if proc.p.poll() is not None:
                proc.stop(1)
                raise RuntimeError(f"responder exited {proc.p.returncode}: "
                                   f"{' '.join(proc.lines[-3:])} {proc.err[-400:]}")
        raise TimeoutError(f"no answer from {dst}:{self.port} in {timeout}s")

    def measure(self, row, mode, count, warmup):
        start = getattr(self, f"start_{row}")
        limit = 30 + (count + warmup) * (200e-6 if mode == "block" else 50e-6)
        before = len(self.t.procs)
        try:
            proc, dst, cleanup = start(mode, int(limit))
        except BaseException:
            # A responder that did not come up must not keep polling beside
            # the next row.
            for p in self.t.procs[before:]:
                p.stop(timeout=5)
            del self.t.procs[before:]
            raise
        try:
            self.probe(dst, proc)
            r = topo.run(["ip", "netns", "exec", self.i["client_ns"], self.prog("rr"),
                          "--dst", dst, "--port", str(self.port), "--count", str(count),
                          "--warmup", str(warmup), "--mode", mode,
                          "--cpu", str(CLIENT_CPU)], check=False, timeout=limit)
            line = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else "{}"
            res = json.loads(line)
            res.update(row=row, rc=r.returncode)
            if self.paced:
                rate = PACED_RATE[mode]
                r = topo.run(["ip", "netns", "exec", self.i["client_ns"], self.prog("rr"),
                              "--dst", dst, "--port", str(self.port), "--count", str(count),
                              "--warmup", str(warmup), "--mode", mode, "--rate", str(rate),
                              "--cpu", str(CLIENT_CPU)], check=False,
                             timeout=10 + (count + warmup) / rate)
                line = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else "{}"
                res["paced"] = json.loads(line)
            if row == "spin":
                # Every node's counters and drop reasons (PERF-NOTES rule 7).
                c = topo.run([os.path.join(self.build, "spin"), "ctl", "--socket",
                              self.spin_sock, "counters"], check=False, timeout=5)
                res["responder_counters"] = [l for l in c.stdout.splitlines()
                                             if l.strip() and l.strip() != "OK"]
        finally:
            if row == "dpdk" and proc.p.poll() is None:
                try:
                    proc.p.stdin.write(b"\n")
                    proc.p.stdin.flush()
                except OSError:
                    pass
                proc.stop(timeout=10, sig=0)
            else:
                proc.stop(timeout=5)
            if proc in self.t.procs:
                self.t.procs.remove(proc)
            if cleanup:
                cleanup()
        res["responder"] = proc.json_after("DONE ") or {}
        if row == "spin":
            res["responder"] = {"counters": [l for l in res.get("responder_counters", [])
                                             if "drop" in l and not l.endswith("drops 0")]}
        if row == "dpdk":
            res["responder"] = {"stats": [l.strip() for l in proc.lines
                                          if "RX-packets" in l or "TX-packets" in l][-2:]}
        if "paced" in res:
            pr = {k: res["paced"].get(k, float("nan"))
                  for k in ("p50_us", "p99_us", "p999_us", "max_us")}
            self.log(f"  {row:5} {mode:5} paced {PACED_RATE[mode]}/s: p50 {pr['p50_us']:8.2f} "
                     f"p99 {pr['p99_us']:8.2f} p99.9 {pr['p999_us']:8.2f} "
                     f"max {pr['max_us']:8.2f} lost {res['paced'].get('lost')}")
        self.log(f"  {row:5} {mode:5} p50 {res.get('p50_us', float('nan')):8.2f} us  "
                 f"p99 {res.get('p99_us', float('nan')):8.2f} us  n {res.get('n')} "
                 f"lost {res.get('lost')} stale {res.get('stale')} dup {res.get('dup')} "
                 f"responder {json.dumps(res['responder'])}")
        return res

    def close(self):
        self.t.close()


def cells(rows, modes):
    return [(m, r) for m in modes for r in rows if not (r == "dpdk" and m != "busy")]


def collect(lab, rows, modes, runs, count, warmup, log):
    """Returns {(mode,row): [result, ...]} with runs interleaved per mode."""
    out = {}
    for mode in modes:
        mrows = [r for r in rows if not (r == "dpdk" and mode != "busy")]
        for k in range(runs):
            log(f"{mode} run {k + 1}/{runs}")
            for row in mrows:
                try:
                    res = lab.measure(row, mode, count, warmup)
                except Exception as e:  # noqa: BLE001 - a row that fails is reported
                    if topo.interrupted():
                        raise KeyboardInterrupt from e
                    log(f"  {row:5} {mode:5} FAILED: {e}")
                    lab.notes.append(f"{row}/{mode}: {e}")
                    res = {"row": row, "mode": mode, "error": str(e)[:300]}
                out.setdefault((mode, row), []).append(res)
    return out


def med(results, key):
    vals = [r[key] for r in results if key in r and r.get("n")]
    return statistics.median(vals) if vals else None


def write_results(data, recs, json_path, bench):
    """The TCP labs' output: with json_path every run (its cell named by its
    key) and the records to that file; with bench one record per line on
    stdout, for perf/run.sh."""
    if json_path:
        with open(json_path, "w") as f:
            json.dump({"results": [dict(r, cell="/".join(k)) for k, v in data.items()
                                   for r in v], "records": recs}, f, indent=1)
    if bench:
        for r in recs:
            print(json.dumps(r))


def paired_ratio(a, b, key):
    """Median of per-run ratios (run k of a against run k of b, PERF-NOTES 5)."""
    rs = [x[key] / y[key] for x, y in zip(a, b)
          if x.get("n") and y.get("n") and y.get(key)]
    return statistics.median(rs) if rs else None


def spread(results, key):
    vals = [r[key] for r in results if key in r and r.get("n")]
    if len(vals) < 2:
        return 0.0 if vals else None
    m = statistics.median(vals)
    return (max(vals) - min(vals)) / m if m else None


def table(data, rows, modes, placement):
    names = {"linux": "Linux kernel UDP echo", "raw": "raw AF_PACKET reflector (floor)",
             "dpdk": "DPDK testpmd 5tswap", "spin": "spin echo"}
    lines = ["", "UDP round trip, 16-byte payload, application to application (microseconds)",
             f"placement: {placement}", ""]
    hdr = f"{'responder':34} {'mode':6} {'p50':>8} {'p90':>8} {'p99':>8} {'p99.9':>8} " \
          f"{'max':>8} {'vs Linux':>9} {'vs floor':>9}"
    lines += [hdr, "-" * len(hdr)]
    for mode in modes:
        for row in rows:
            res = data.get((mode, row))
            if res is None:
                if row == "dpdk":
                    lines.append(f"{names[row]:34} {mode:6} {'(n/a: a PMD always polls)':>44}")
                continue
            if not any(r.get("n") for r in res):
                err = next((r.get("error", "") for r in res), "")
                lines.append(f"{names[row]:34} {mode:6}   FAILED {err[:60]}")
                continue
            v = {k: med(res, k) for k in ("p50_us", "p90_us", "p99_us", "p999_us", "max_us")}
            lin, flo = data.get((mode, "linux")), data.get((mode, "raw"))
            rl = paired_ratio(res, lin, "p50_us") if lin else None
            rf = paired_ratio(res, flo, "p50_us") if flo else None
            fmt = lambda x: f"{x:8.2f}" if x is not None else f"{'-':>8}"  # noqa: E731
            rfmt = lambda x: f"{x:9.2f}" if x is not None else f"{'-':>9}"  # noqa: E731
            lines.append(f"{names[row]:34} {mode:6} {fmt(v['p50_us'])} {fmt(v['p90_us'])} "
                         f"{fmt(v['p99_us'])} {fmt(v['p999_us'])} {fmt(v['max_us'])} "
                         f"{rfmt(rl)} {rfmt(rf)}")
        lines.append("")
    paced = [(m, r) for m in modes for r in rows
             if any("paced" in x for x in data.get((m, r), []))]
    if paced:
        lines.append("Paced (open loop, latency from each request's due time):")
        for m, r in paced:
            pr = [x["paced"] for x in data[(m, r)] if "paced" in x]
            v = [med(pr, k) for k in ("p50_us", "p99_us", "p999_us", "max_us")]
            lines.append(f"{names[r]:34} {m:6} {PACED_RATE[m]:>6}/s " + " ".join(
                f"{k} {x:8.2f}" if x is not None else f"{k} -" for k, x in
                zip(("p50", "p99", "p99.9", "max"), v)))
        lines.append("")
    lines.append(f"SPIN paper (Table 6, Ethernet, 1995): SPIN {PAPER['spin_us']} us, "
                 f"OSF/1 {PAPER['osf1_us']} us, SPIN/OSF/1 = "
                 f"{PAPER['spin_us'] / PAPER['osf1_us']:.2f}")
    lines.append("Ratios are medians of per-run ratios of p50 (same mode, same run); "
                 "'vs Linux' is the paper's comparison, 'vs floor' is the appliance's own cost.")
    lines.append("Closed loop, one request in flight: tails are under-reported "
                 "(coordinated omission).")
    return "\n".join(lines)


def bench_records(data, runs):
    recs = []

    def rec(name, a, b, key, baseline, target, unit="us"):
        if not a:
            return
        value = med(a, key)
        if value is None:
            return
        bval = med(b, key) if b else None
        sp = spread(a, key)
        ratio = paired_ratio(a, b, key) if b else None
        recs.append({"name": name, "value": round(value, 3), "unit": unit,
                     "better": "lower", "baseline": baseline,
                     "baseline_value": None if bval is None else round(bval, 3),
                     "ratio": None if ratio is None else round(ratio, 3),
                     "target": target, "spread": sp if sp is None else round(sp, 3),
                     "runs": len([r for r in a if r.get("n")]),
                     "mode": a[0].get("mode"),
                     "placement": f"client cpu {CLIENT_CPU}, responder cpu {RESPONDER_CPU}, "
                                  f"veth, {a[0].get('mode')} both ends"})
    for mode in ("block", "busy"):
        s, lx, raw = (data.get((mode, r)) for r in ("spin", "linux", "raw"))
        rec(f"udp.rtt.{mode}.p50", s, lx, "p50_us", "linux-udp-echo", None)
        rec(f"udp.rtt.{mode}.p99", s, lx, "p99_us", "linux-udp-echo", None)
        rec(f"udp.rtt.floor.{mode}.p50", s, raw, "p50_us", "raw-afpacket-reflector", 1.1)
    d = data.get(("busy", "dpdk"))
    rec("udp.rtt.dpdk.busy.p50", d, data.get(("busy", "raw")), "p50_us",
        "raw-afpacket-reflector", None)
    return recs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.environ.get("BUILD", "build"))
    ap.add_argument("--rows", default="linux,raw,dpdk,spin")
    ap.add_argument("--modes", default="block,busy")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--warmup", type=int, default=1000)
    ap.add_argument("--json")
    ap.add_argument("--table", action="store_true")
    ap.add_argument("--bench", action="store_true")
    ap.add_argument("--paced", action="store_true",
                    help="also an open-loop run per cell (rates in PACED_RATE)")
    a = ap.parse_args()
    rows, modes = a.rows.split(","), a.modes.split(",")
    log = (lambda s: print(s, file=sys.stderr, flush=True)) if a.bench else \
        (lambda s: print(s, flush=True))
    spin = os.path.join(a.build, "spin")
    if "spin" in rows and not os.access(spin, os.X_OK):
        log(f"note: {spin} missing; spin row skipped")
        rows.remove("spin")
    if "dpdk" in rows and not shutil.which("dpdk-testpmd"):
        log("note: dpdk-testpmd missing; dpdk row skipped")
        rows.remove("dpdk")
    topo.install_cleanup_signals()
    tmp = tempfile.mkdtemp(prefix="spin-lab-")
    lab = None
    t0 = time.monotonic()
    try:
        lab = Lab(a.build, tmp, log)
        lab.paced = a.paced
        placement = (f"client on CPU {CLIENT_CPU}, responder on CPU {RESPONDER_CPU}; "
                     f"veth between namespaces; client tx checksum offload off")
        log(f"topology: {lab.i['client_ns']} -> {lab.i['appl_ns']} / {lab.i['server_ns']}, "
            f"port {lab.port}; {placement}")
        data = collect(lab, rows, modes, a.runs, a.count, a.warmup, log)
    except KeyboardInterrupt:
        log("interrupted: everything the run created is removed")
        return 128 + (topo.interrupted() or 2)
    finally:
        if lab:
            lab.close()
        shutil.rmtree(tmp, ignore_errors=True)
    elapsed = time.monotonic() - t0
    if a.table:
        print(table(data, rows, modes, placement))
        print(f"({elapsed:.0f} s)")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"placement": placement, "count": a.count, "warmup": a.warmup,
                       "runs": a.runs, "paper": PAPER, "notes": lab.notes,
                       "results": [dict(r, cell=f"{m}/{row}") for (m, row), rs in data.items()
                                   for r in rs],
                       "records": bench_records(data, a.runs)}, f, indent=1)
    if a.bench:
        for r in bench_records(data, a.runs):
            print(json.dumps(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
