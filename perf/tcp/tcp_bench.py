#!/usr/bin/python3
"""The TCP lab: round trips on an established connection and connections per
second, spin against the Linux kernel in the same mode and placement
(docs/lab.md).  Run by perf/tcp/bench_tcp.sh (--bench) for make bench.

Topology: perf/lab/topo.py's first lab, unchanged (client ns with c1 to the
appliance ns, c2 to the Linux server ns; client on CPU 0, every responder on
CPU 1; client checksum offload, TSO and GSO off).  The client namespace gets
net.ipv4.tcp_tw_reuse=1 so the connection-rate client reuses its ports.

Rows:
  spin   build/spin with `service tcp-echo port P` on a1 (afpacket)
  linux  perf/tcp/tcp_echo_linux in the server ns (Linux kernel TCP)
  floor  perf/lab/rawrefl on a1 with perf/lab/rr in UDP mode: the UDP floor
         reflector in the appliance's slot (tcp.rtt.floor.busy.p50)
  tcpfloor  perf/lab/rawrefl --proto tcp on a1 with rr --tcp: a stateless
         raw reflector that answers TCP with no protocol work, so the
         client's own TCP cost is in it and spin's distance to it is spin's
         (tcp.rtt.tcpfloor.busy.p50, tcp.rtt.over_tcpfloor.busy.p50)
Measurements:
  rtt    perf/lab/rr --tcp: 16-byte request/response, one outstanding,
         exact byte accounting (block and busy modes)
  conn   perf/tcp/tcp_connrate: connect, 1 byte each way, close, one after
         the other (block and busy modes)
Runs are interleaved (spin, linux, floor, spin, linux, floor, ...); values
are medians over runs, ratios medians of per-run ratios (the helpers of
perf/lab/udp_rtt.py).

Records (perf/lib/bench.h keys): tcp.rtt.block.p50, tcp.rtt.busy.p50 (vs
Linux, reported), tcp.rtt.floor.busy.p50 (vs the floor, target <= 1.3),
tcp.rtt.tcpfloor.busy.p50 (the TCP reflector vs the UDP floor: the lowest
ratio the floor record can show with this client), tcp.rtt.over_tcpfloor.busy.p50
(spin vs the TCP reflector),
tcp.connect.per_s (spin's blocking loop with a 20 us linger vs the Linux
listener, target >= 0.8), tcp.connect.block.per_s (plain blocking) and
tcp.connect.busy.per_s (busy polling, both ends), references.
"""
import argparse
import json
import os
import secrets
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lab"))
import topo  # noqa: E402
from udp_rtt import (CLIENT_CPU, RESPONDER_CPU, med, paired_ratio, spread,  # noqa: E402
                     write_results)


# spin's loop line per mode.  "linger" is a blocking loop that polls on for
# LINGER_US after work before it sleeps (docs/config.md): the packets of one
# connection and the next connection's SYN then find it awake.  Only the
# connection rate uses it; every round-trip row keeps its mode's meaning.
LINGER_US = 20
LOOP = {"block": "blocking", "busy": "busy-poll", "linger": f"blocking linger {LINGER_US}"}
# A record's placement when its two ends differ in mode.
ENDS = {"linger": f"linux blocking, spin blocking with linger {LINGER_US} us"}


class TcpLab:
    def __init__(self, build, tmp, log):
        self.build = os.path.abspath(build)
        self.tmp = tmp
        self.log = log
        self.t, self.i = topo.build_first_lab("tcp")
        self.t.sysctl(self.i["client_ns"], "net.ipv4.tcp_tw_reuse", 1)
        self.port = 20000 + secrets.randbelow(20000)

    def prog(self, sub, name):
        return os.path.join(self.build, "perf", sub, name)

    def start(self, row, mode, seconds):
        """Starts a responder; returns (proc, dst)."""
        if row == "linux":
            p = self.t.spawn([self.prog("tcp", "tcp_echo_linux"), "--port", str(self.port),
                              "--cpu", str(RESPONDER_CPU), "--mode", mode,
                              "--seconds", str(seconds)], ns=self.i["server_ns"])
            p.wait_line("READY", 5)
            return p, self.i["server"]
        if row in ("floor", "tcpfloor"):
            p = self.t.spawn([self.prog("lab", "rawrefl"), "--iface", self.i["appl_if"],
                              "--proto", "udp" if row == "floor" else "tcp",
                              "--port", str(self.port), "--cpu", str(RESPONDER_CPU),
                              "--mode", mode, "--seconds", str(seconds)],
                             ns=self.i["appl_ns"])
            p.wait_line("READY", 5)
            return p, self.i["appl"]
        name = f"tcplab{os.getpid()}"
        conf = os.path.join(self.tmp, f"{name}.conf")
        self.sock = f"{self.tmp}/{name}.sock"
        with open(conf, "w") as f:
            f.write(f"# written by perf/tcp/tcp_bench.py\nname {name}\n"
                    f"control {self.sock}\n"
                    f"loop {LOOP[mode]}\nlog quiet\n"
                    f"interface eth0 driver afpacket dev {self.i['appl_if']}\n"
                    f"address eth0 {self.i['appl']}/24\n"
                    f"arp eth0 {self.i['client_a']} {self.i['client_a_mac']}\n"
                    f"service tcp-echo port {self.port}\n")
        p = self.t.spawn(["timeout", "-s", "TERM", "-k", "5", str(seconds), "taskset", "-c",
                          str(RESPONDER_CPU), os.path.join(self.build, "spin"), "run", conf],
                         ns=self.i["appl_ns"])
        p.wait_line("spin: running", 10)
        return p, self.i["appl"]

    def client(self, cmd, timeout):
        r = topo.run(["ip", "netns", "exec", self.i["client_ns"], *cmd], check=False,
                     timeout=timeout)
        lines = r.stdout.strip().splitlines()
        try:
            res = json.loads(lines[-1]) if lines else {}
        except ValueError:
            res = {}
        res["rc"] = r.returncode
        if r.returncode:
            res["stderr"] = r.stderr[-300:]
        return res

    def measure(self, row, mode, what, count, warmup):
        limit = int(30 + count * (400e-6 if what == "conn" else 200e-6))
        proc, dst = self.start(row, mode, limit + 10)
        try:
            if what == "rtt":
                cmd = [self.prog("lab", "rr"), "--dst", dst, "--port", str(self.port),
                       "--count", str(count), "--warmup", str(warmup), "--mode", mode,
                       "--cpu", str(CLIENT_CPU), "--timeout-ms", "2000"]
                if row != "floor":
                    cmd.append("--tcp")
                # The responder may take a moment to answer the first time.
                for _ in range(20):
                    probe = self.client(cmd[:5] + ["--count", "1", "--warmup", "0"] +
                                        (["--tcp"] if row != "floor" else []), 10)
                    if probe["rc"] == 0:
                        break
                    time.sleep(0.2)
                res = self.client(cmd, limit)
            else:
                res = self.client([self.prog("tcp", "tcp_connrate"), "--dst", dst, "--port",
                                   str(self.port), "--count", str(count), "--cpu",
                                   str(CLIENT_CPU)], limit)
        finally:
            proc.stop(timeout=5)
            if proc in self.t.procs:
                self.t.procs.remove(proc)
        res.update(row=row, mode=mode, what=what)
        if what == "rtt":
            self.log(f"  {row:5} {mode:5} rtt  p50 {res.get('p50_us', float('nan')):8.2f} us "
                     f"p99 {res.get('p99_us', float('nan')):8.2f} us n {res.get('n')} "
                     f"rc {res['rc']}")
        else:
            self.log(f"  {row:5} {mode:5} conn {res.get('per_s', float('nan')):9.1f}/s "
                     f"ok {res.get('ok')} failed {res.get('failed')} rc {res['rc']}")
        return res

    def close(self):
        self.t.close()


def records(data):
    recs = []

    def rec(name, a, b, key, baseline, target, better, unit, mode):
        if not a or med(a, key) is None:
            return
        bval = med(b, key) if b else None
        ratio = paired_ratio(a, b, key) if b else None
        sp = spread(a, key)
        recs.append({"name": name, "value": round(med(a, key), 3), "unit": unit,
                     "better": better, "baseline": baseline,
                     "baseline_value": None if bval is None else round(bval, 3),
                     "ratio": None if ratio is None else round(ratio, 3), "target": target,
                     "spread": None if sp is None else round(sp, 3),
                     "runs": len([r for r in a if r.get("n")]), "mode": mode,
                     "placement": f"client cpu {CLIENT_CPU}, responder cpu {RESPONDER_CPU}, "
                                  f"veth, {ENDS.get(mode, f'{mode} both ends')}"})
    for mode in ("block", "busy"):
        rec(f"tcp.rtt.{mode}.p50", data.get(("spin", mode, "rtt")),
            data.get(("linux", mode, "rtt")), "p50_us", "linux-tcp-echo", None, "lower", "us",
            mode)
    rec("tcp.rtt.floor.busy.p50", data.get(("spin", "busy", "rtt")),
        data.get(("floor", "busy", "rtt")), "p50_us", "raw-afpacket-reflector-udp", 1.3,
        "lower", "us", "busy")
    rec("tcp.rtt.tcpfloor.busy.p50", data.get(("tcpfloor", "busy", "rtt")),
        data.get(("floor", "busy", "rtt")), "p50_us", "raw-afpacket-reflector-udp", None,
        "lower", "us", "busy")
    rec("tcp.rtt.over_tcpfloor.busy.p50", data.get(("spin", "busy", "rtt")),
        data.get(("tcpfloor", "busy", "rtt")), "p50_us", "raw-afpacket-reflector-tcp", None,
        "lower", "us", "busy")
    # Connection rate: per_s is "higher is better"; n must be set for med().
    # The Linux listener blocks in accept() while its kernel answers the
    # handshake in softirq without waking anyone; spin's counterpart is a
    # blocking loop that lingers (tcp.connect.per_s, the target).  Plain
    # blocking and busy polling are reported beside it.
    for smode, lmode, name, target in (
            ("linger", "block", "tcp.connect.per_s", 0.8),
            ("block", "block", "tcp.connect.block.per_s", None),
            ("busy", "busy", "tcp.connect.busy.per_s", None)):
        a = [dict(r, n=r.get("ok")) for r in data.get(("spin", smode, "conn"), [])]
        b = [dict(r, n=r.get("ok")) for r in data.get(("linux", lmode, "conn"), [])]
        rec(name, a, b, "per_s", "linux-tcp-listener", target, "higher", "conn/s", smode)
    return recs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.environ.get("BUILD", "build"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--count", type=int, default=10000, help="round trips per run")
    ap.add_argument("--warmup", type=int, default=1000)
    ap.add_argument("--conns", type=int, default=3000, help="connections per run")
    ap.add_argument("--json")
    ap.add_argument("--bench", action="store_true")
    a = ap.parse_args()
    log = lambda s: print(s, file=sys.stderr, flush=True)  # noqa: E731
    for need in ("spin", "perf/lab/rr", "perf/lab/rawrefl", "perf/tcp/tcp_echo_linux",
                 "perf/tcp/tcp_connrate"):
        if not os.access(os.path.join(a.build, need), os.X_OK):
            log(f"tcp_bench: {a.build}/{need} is not built; nothing measured")
            return 0
    topo.install_cleanup_signals()
    tmp = tempfile.mkdtemp(prefix="spin-tcplab-")
    lab = None
    data = {}
    try:
        lab = TcpLab(a.build, tmp, log)
        for k in range(a.runs):
            for mode in ("block", "busy"):
                log(f"{mode} run {k + 1}/{a.runs}")
                for row in ("spin", "linux", "floor", "tcpfloor"):
                    if row in ("floor", "tcpfloor") and mode != "busy":
                        continue
                    try:
                        res = lab.measure(row, mode, "rtt", a.count, a.warmup)
                    except Exception as e:  # noqa: BLE001 - a failed cell is reported
                        if topo.interrupted():
                            raise KeyboardInterrupt from e
                        log(f"  {row} {mode} rtt FAILED: {e}")
                        res = {"row": row, "error": str(e)[:300]}
                    data.setdefault((row, mode, "rtt"), []).append(res)
                conn_rows = [("spin", mode), ("linux", mode)]
                if mode == "block":
                    conn_rows.insert(1, ("spin", "linger"))
                for row, cmode in conn_rows:
                    try:
                        res = lab.measure(row, cmode, "conn", a.conns, 0)
                    except Exception as e:  # noqa: BLE001
                        if topo.interrupted():
                            raise KeyboardInterrupt from e
                        log(f"  {row} {cmode} conn FAILED: {e}")
                        res = {"row": row, "error": str(e)[:300]}
                    data.setdefault((row, cmode, "conn"), []).append(res)
    except KeyboardInterrupt:
        log("interrupted: everything the run created is removed")
        return 128 + (topo.interrupted() or 2)
    finally:
        if lab:
            lab.close()
        shutil.rmtree(tmp, ignore_errors=True)
    recs = records(data)
    write_results(data, recs, a.json, a.bench)
    return 0


if __name__ == "__main__":
    sys.exit(main())
