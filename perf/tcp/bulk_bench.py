#!/usr/bin/python3
"""TCP bulk throughput: Debian's iperf3 client against spin's iperf3 server
(apps/iperf3) and against a Linux iperf3 server, same client, same kind of
path, interleaved (docs/apps/iperf3.md, "Benchmarks").  Run by
perf/tcp/bench_bulk.sh for make bench.

Topology: perf/lab/topo.py's first lab (client ns with c1 to the appliance
ns, c2 to the Linux server ns).  The client (iperf3 -c) runs on CPU 0, spin
(`service iperf3` on a1 through AF_PACKET) and the Linux server (iperf3 -s
in the server ns) on CPU 1, each under taskset.

Offload settings, applied with ethtool -K in every namespace before a block
of runs:
  nooffload  TSO, GSO, GRO off on c1, c2, a1, s2 (and transmit checksum
             offload off on the client ends, as the first lab has it);
             spin's interface line gets `gso`: spin sends 64 KiB segments
             and Linux cuts them in software on a1, as it cuts the Linux
             server's own (Linux TCP builds GSO packets whatever the
             device offers; its profile here shows skb_segment)
  offload    TSO, GSO, GRO and checksum offload on everywhere, and spin's
             interface line gets `tso`; if the appliance refuses that
             option, spin runs without it and the record says so in "note"

Directions: rx = the client sends to the server (spin receives); tx = -R
(the server sends).  A run is `iperf3 -c ADDR -t SECONDS -J [-R]`; its value
is the receiver's figure (end.sum_received.bits_per_second) in Gbit/s, and
the run is discarded when iperf3 reports an error.  Runs alternate spin,
Linux, spin, Linux ...; a record's value and baseline_value are medians,
its ratio the median of per-pair ratios (perf/lab/udp_rtt.py's helpers).

Records: tcp.bulk.rx_gbps.nooffload, tcp.bulk.tx_gbps.nooffload (target
ratio >= 0.5), tcp.bulk.rx_gbps, tcp.bulk.tx_gbps (offloads on, target >=
0.3).  Every run goes to --json.
"""
import argparse
import json
import os
import secrets
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lab"))
import topo  # noqa: E402
from udp_rtt import (CLIENT_CPU, RESPONDER_CPU, med, paired_ratio, spread,  # noqa: E402
                     write_results)

FEATURES = ("tso", "gso", "gro")
TARGET = {"nooffload": 0.5, "offload": 0.3}


class BulkLab:
    def __init__(self, build, tmp, log, seconds, loop="blocking"):
        self.build = os.path.abspath(build)
        self.loop = loop
        self.tmp = tmp
        self.log = log
        self.seconds = seconds
        self.t, self.i = topo.build_first_lab("bulk")
        self.port = 20000 + secrets.randbelow(20000)
        self.spin = self.linux = None
        self.note = None

    def ethtool(self, on):
        i, v = self.i, "on" if on else "off"
        for ns, ifn in ((i["client_ns"], "c1"), (i["client_ns"], "c2"),
                        (i["appl_ns"], "a1"), (i["server_ns"], "s2")):
            args = [x for f in FEATURES for x in (f, v)]
            if on or ifn in ("a1", "s2"):
                # The client ends keep the first lab's finished checksums
                # without offloads; with them, checksum offload is needed.
                args += ["tx", v]
            topo.run(["ip", "netns", "exec", ns, "ethtool", "-K", ifn, *args], check=False)

    def start_spin(self, tso):
        """tso: the offload block's `tso`; otherwise `gso` (send only)."""
        name = f"bulk{os.getpid()}"
        conf = os.path.join(self.tmp, f"{name}.conf")
        with open(conf, "w") as f:
            f.write(f"# written by perf/tcp/bulk_bench.py\nname {name}\n"
                    f"control {self.tmp}/{name}.sock\nloop {self.loop}\nlog quiet\n"
                    f"pool buffers 16384\n"
                    f"interface eth0 driver afpacket dev {self.i['appl_if']}"
                    f"{' tso' if tso else ' gso'}\n"
                    f"address eth0 {self.i['appl']}/24\n"
                    f"arp eth0 {self.i['client_a']} {self.i['client_a_mac']}\n"
                    f"service iperf3 port {self.port}\n")
        p = self.t.spawn(["taskset", "-c", str(RESPONDER_CPU),
                          os.path.join(self.build, "spin"), "run", conf], ns=self.i["appl_ns"])
        try:
            p.wait_line("spin: running", 10)
        except (RuntimeError, TimeoutError) as e:
            p.stop(timeout=5)
            self.t.procs.remove(p)
            return None, str(e)
        return p, None

    def start(self, offload):
        """Starts both servers for a block of runs with the offload setting."""
        self.stop()
        self.ethtool(offload)
        self.note = None
        self.spin, err = self.start_spin(offload)
        if self.spin is None and offload:
            self.note = ("the appliance refused the interface option 'tso' (" +
                         err.splitlines()[0][-200:] + "); spin ran without it")
            self.log(f"  {self.note}")
            self.spin, err = self.start_spin(False)
        if self.spin is None:
            raise RuntimeError(f"spin did not start: {err}")
        self.linux = self.t.spawn(["taskset", "-c", str(RESPONDER_CPU), "iperf3", "-s", "--forceflush", "-p",
                                   str(self.port)], ns=self.i["server_ns"])
        self.linux.wait_line("Server listening", 5)

    def stop(self):
        for p in (self.spin, self.linux):
            if p:
                p.stop(timeout=5)
                if p in self.t.procs:
                    self.t.procs.remove(p)
        self.spin = self.linux = None

    def run(self, row, reverse):
        dst = self.i["appl"] if row == "spin" else self.i["server"]
        cmd = ["ip", "netns", "exec", self.i["client_ns"], "taskset", "-c", str(CLIENT_CPU),
               "iperf3", "-c", dst, "-p", str(self.port), "-t", str(self.seconds), "-J"]
        if reverse:
            cmd.append("-R")
        r = topo.run(cmd, check=False, timeout=self.seconds + 30)
        res = {"row": row, "dir": "tx" if reverse else "rx"}
        try:
            out = json.loads(r.stdout)
        except ValueError:
            res["error"] = f"no JSON (rc {r.returncode}): {r.stderr[-300:]}"
            return res
        if "error" in out:
            res["error"] = out["error"]
            return res
        end = out["end"]
        res.update(gbps=end["sum_received"]["bits_per_second"] / 1e9,
                   sent_bytes=end["sum_sent"]["bytes"], recv_bytes=end["sum_received"]["bytes"],
                   retransmits=end["sum_sent"].get("retransmits"), n=1)
        return res

    def close(self):
        self.stop()
        self.t.close()


def records(data, notes, seconds):
    recs = []
    for offload in ("nooffload", "offload"):
        for d in ("rx", "tx"):
            a, b = data.get(("spin", offload, d), []), data.get(("linux", offload, d), [])
            if med(a, "gbps") is None:
                continue
            name = f"tcp.bulk.{d}_gbps" + (".nooffload" if offload == "nooffload" else "")
            ratio = paired_ratio(a, b, "gbps")
            sp = spread(a, "gbps")
            bval = med(b, "gbps")
            rec = {"name": name, "value": round(med(a, "gbps"), 3), "unit": "Gbit/s",
                   "better": "higher", "baseline": "linux-iperf3-server",
                   "baseline_value": None if bval is None else round(bval, 3),
                   "ratio": None if ratio is None else round(ratio, 3),
                   "target": TARGET[offload], "spread": None if sp is None else round(sp, 3),
                   "runs": len([r for r in a if r.get("n")]),
                   "placement": f"client cpu {CLIENT_CPU}, server cpu {RESPONDER_CPU}, veth, "
                                f"iperf3 -t {seconds}, {'TSO/GSO/GRO on, spin tso' if offload == 'offload' else 'TSO/GSO/GRO off, spin gso (Linux cuts in software)'}"}
            if notes.get(offload):
                rec["note"] = notes[offload]
            recs.append(rec)
    return recs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.environ.get("BUILD", "build"))
    ap.add_argument("--runs", type=int, default=5, help="pairs per cell")
    ap.add_argument("--seconds", type=int, default=3, help="iperf3 -t")
    ap.add_argument("--only", choices=("nooffload", "offload"))
    ap.add_argument("--loop", choices=("blocking", "busy-poll"), default="blocking",
                    help="spin's run loop (the records use blocking, like the Linux server)")
    ap.add_argument("--json")
    ap.add_argument("--bench", action="store_true")
    a = ap.parse_args()
    log = lambda s: print(s, file=sys.stderr, flush=True)  # noqa: E731
    if not os.access(os.path.join(a.build, "spin"), os.X_OK) or not shutil.which("iperf3"):
        log(f"bulk_bench: {a.build}/spin or iperf3 is missing; nothing measured")
        return 0
    topo.install_cleanup_signals()
    tmp = tempfile.mkdtemp(prefix="spin-bulk-")
    lab = None
    data, notes = {}, {}
    try:
        lab = BulkLab(a.build, tmp, log, a.seconds, a.loop)
        for offload in ("nooffload", "offload"):
            if a.only and offload != a.only:
                continue
            lab.start(offload == "offload")
            notes[offload] = lab.note
            for k in range(a.runs):
                for d in ("rx", "tx"):
                    for row in ("spin", "linux"):
                        res = lab.run(row, d == "tx")
                        log(f"  {offload:9} {d} {k + 1}/{a.runs} {row:5} "
                            f"{res.get('gbps', float('nan')):7.3f} Gbit/s "
                            f"retr {res.get('retransmits')} {res.get('error', '')}")
                        data.setdefault((row, offload, d), []).append(res)
    except KeyboardInterrupt:
        log("interrupted: everything the run created is removed")
        return 128 + (topo.interrupted() or 2)
    finally:
        if lab:
            lab.close()
        shutil.rmtree(tmp, ignore_errors=True)
    recs = records(data, notes, a.seconds)
    write_results(data, recs, a.json, a.bench)
    return 0


if __name__ == "__main__":
    sys.exit(main())
