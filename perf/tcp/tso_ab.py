#!/usr/bin/python3
"""Segmentation offload, before and after: bulk TCP throughput between a
Linux client and spin with `tso` off and on, interleaved in one run.

    [cli ns: veth-c 198.18.0.1, CPU 0] ---- veth ---- [spin ns: spin on veth-s 198.18.0.2, CPU 1]

    rx: the client sends BYTES to spin's tcp-discard (port 9), shuts down
        its write side and waits for spin's FIN: Linux -> spin.
    tx: the client reads BYTES from spin's tcp-chargen (port 19) and
        closes: spin -> Linux.

tso off: spin's interface without `tso`, the client's veth with TSO and
GSO off (spin's afpacket ring holds only MTU frames then), as the TCP lab
runs.  tso on: `tso` on spin's interface, the client's veth with Linux's
defaults.  Each run starts spin afresh for each setting; runs alternate
off, on, off, on, ...  Every socket call is bounded by a timeout.

    /usr/bin/python3 perf/tcp/tso_ab.py --build build [--runs 5] [--mb 256]

Prints one line per measurement and, at the end, the medians and the
on/off ratio as JSON lines (perf/lib/bench.h keys; tcp.tso.*, reference
records with no target).  Needs root (network namespaces).
"""
import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

CLI, SPIN = "198.18.0.1", "198.18.0.2"
TIMEOUT = 60


def sh(*cmd, check=True):
    return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=30)


def nsx(ns, *cmd, check=True):
    return sh("ip", "netns", "exec", ns, *cmd, check=check)


def rx_once(nbytes):
    """Client -> spin discard; seconds from connect to spin's FIN."""
    buf = b"\x5a" * (1 << 20)
    s = socket.create_connection((SPIN, 9), timeout=TIMEOUT)
    t0 = time.monotonic()
    left = nbytes
    while left:
        n = min(left, len(buf))
        s.sendall(buf[:n])
        left -= n
    s.shutdown(socket.SHUT_WR)
    while s.recv(65536):
        pass
    dt = time.monotonic() - t0
    s.close()
    return dt


def tx_once(nbytes):
    """spin chargen -> client; seconds from connect to the last byte."""
    s = socket.create_connection((SPIN, 19), timeout=TIMEOUT)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    buf = bytearray(1 << 20)
    t0 = time.monotonic()
    got = 0
    while got < nbytes:
        n = s.recv_into(buf, min(len(buf), nbytes - got))
        if not n:
            raise RuntimeError(f"chargen closed after {got} bytes")
        got += n
    dt = time.monotonic() - t0
    s.close()
    return dt


def client_main(args):
    """Runs inside the client namespace (re-executed by the parent)."""
    os.sched_setaffinity(0, {0})
    f = rx_once if args.client == "rx" else tx_once
    dt = f(args.mb << 20)
    print(json.dumps({"seconds": dt}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--mb", type=int, default=256)
    ap.add_argument("--client", choices=["rx", "tx"])
    args = ap.parse_args()
    if args.client:
        return client_main(args)
    if os.geteuid() != 0:
        print("tso_ab: needs root; skipped", file=sys.stderr)
        return 0
    tag = f"{os.getpid()}"
    cli, srv = f"spin-tsoc-{tag}", f"spin-tsos-{tag}"
    tmp = tempfile.mkdtemp(prefix="tso_ab.")
    res = {("rx", False): [], ("rx", True): [], ("tx", False): [], ("tx", True): []}
    spin = None
    try:
        sh("ip", "netns", "add", cli)
        sh("ip", "netns", "add", srv)
        sh("ip", "link", "add", "veth-c", "netns", cli, "type", "veth", "peer", "name",
           "veth-s", "netns", srv)
        for ns, ifn in ((cli, "veth-c"), (srv, "veth-s")):
            nsx(ns, "sysctl", "-q", "-w", f"net.ipv6.conf.{ifn}.disable_ipv6=1")
            nsx(ns, "ip", "link", "set", ifn, "up")
        nsx(cli, "ip", "addr", "add", f"{CLI}/24", "dev", "veth-c")
        smac = nsx(srv, "cat", "/sys/class/net/veth-s/address").stdout.strip()
        cmac = nsx(cli, "cat", "/sys/class/net/veth-c/address").stdout.strip()
        nsx(cli, "ip", "neigh", "replace", SPIN, "lladdr", smac, "dev", "veth-c", "nud",
            "permanent")
        for run in range(args.runs):
            for tso in (False, True):
                onoff = "on" if tso else "off"
                nsx(cli, "ethtool", "-K", "veth-c", "tso", onoff, "gso", onoff)
                sock = f"{tmp}/spin.sock"
                conf = f"{tmp}/tso.conf"
                with open(conf, "w") as f:
                    f.write(f"name tsoab{tag}\ncontrol {sock}\nloop blocking\nlog quiet\n"
                            f"pool buffers 16384\n"
                            f"interface eth0 driver afpacket dev veth-s"
                            f"{' tso' if tso else ''}\n"
                            f"address eth0 {SPIN}/24\narp eth0 {CLI} {cmac}\n"
                            f"service tcp-discard port 9\nservice tcp-chargen port 19\n")
                spin = subprocess.Popen(["ip", "netns", "exec", srv, "taskset", "-c", "1",
                                         os.path.join(args.build, "spin"), "run", conf],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True)
                end = time.monotonic() + 10
                while not os.path.exists(sock) and time.monotonic() < end:
                    time.sleep(0.05)
                time.sleep(0.2)
                for d in ("rx", "tx"):
                    r = nsx(cli, sys.executable, os.path.abspath(__file__), "--client", d,
                            "--mb", str(args.mb))
                    dt = json.loads(r.stdout)["seconds"]
                    gbps = args.mb * 8 * (1 << 20) / dt / 1e9
                    res[(d, tso)].append(gbps)
                    print(f"run {run} tso {onoff} {d} {gbps:.2f} Gbit/s", file=sys.stderr,
                          flush=True)
                if tso:
                    out = sh(os.path.join(args.build, "spin"), "ctl", "--socket", sock,
                             "interfaces").stdout
                    gso = [l.strip() for l in out.splitlines() if "gso" in l]
                    print(f"run {run} {gso}", file=sys.stderr, flush=True)
                spin.terminate()
                spin.wait(timeout=10)
                spin = None
    finally:
        if spin:
            spin.kill()
            spin.wait()
        sh("ip", "netns", "del", cli, check=False)
        sh("ip", "netns", "del", srv, check=False)
    for d in ("rx", "tx"):
        off = statistics.median(res[(d, False)])
        on = statistics.median(res[(d, True)])
        ratios = [b / a for a, b in zip(res[(d, False)], res[(d, True)])]
        print(json.dumps({"name": f"tcp.tso.{d}_gbps", "value": round(on, 3),
                          "baseline": round(off, 3),
                          "ratio": round(statistics.median(ratios), 3), "unit": "Gbit/s",
                          "runs": args.runs, "mb": args.mb}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
