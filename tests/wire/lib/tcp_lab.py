"""The TCP wire tests' topology: one Linux namespace, one spin.

    [cli ns: veth-c 198.18.0.1/24] ---- veth ---- [spin ns: veth-s | spin eth0 198.18.0.2/24]

spin runs the TCP services (echo 7, discard 9, chargen 19) and the UDP
echo (7), has a static ARP entry for the client and a route for all of
198.18.0.0/15 through it (so SYN-ACKs to spoofed sources of a SYN flood
leave spin and are dropped by the client's kernel, which does not
forward).  The client's veth has TSO/GSO off: spin's afpacket driver takes
frames up to the MTU and drops GSO super-frames.  Transmit checksum offload
stays on, so segments reach spin with unfinished checksums
(PKT_CSUM_PARTIAL) as they would from any Linux peer.

    t = TcpLab(lab, build_dir, tmp_path, extra="fault f on eth0 both \"loss=1%\"")
    t.cli.sh(...), t.ctl("tcp", "stats"), t.stats()["live_conns"]
    fid = t.fetch("198.18.0.1", 5001, send=path, recv=path)
    st = t.wait_fetch(fid, timeout=30)
    t.stop_clean()

SANITIZER is true in the sanitizer pass (SPIN_SANITIZER=1, or "asan" in
SPIN_BUILD's path): long transfers are left out there.
"""
import hashlib
import os
import pathlib
import re
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
PEER = str(HERE / "tcp_peer.py")
PY = "/usr/bin/python3"
SPIN = "198.18.0.2"
CLI = "198.18.0.1"
SANITIZER = (os.environ.get("SPIN_SANITIZER") == "1"
             or "asan" in os.environ.get("SPIN_BUILD", ""))
# Slower everything under ASan: timeouts scale by this.
SLOW = 3 if SANITIZER else 1


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def random_file(path, size, seed=1):
    """size bytes, reproducible from seed (not cryptographic)."""
    import random
    r = random.Random(seed)
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, 1 << 20)
            f.write(r.randbytes(n))
            left -= n
    return str(path)


class TcpLab:
    def __init__(self, lab, build_dir, tmp_path, extra="", loop="blocking", name="tcp",
                 cli_sysctls=None, services=None):
        self.lab = lab
        self.build_dir = build_dir
        self.tmp = tmp_path
        self.cli = lab.netns("cli")
        self.srv = lab.netns("spin")
        lab.veth(self.cli, "veth-c", self.srv, "veth-s")
        self.cli.disable_ipv6("veth-c")
        self.srv.disable_ipv6("veth-s")
        self.cli.up("veth-c")
        self.srv.up("veth-s")
        self.cli.addr("veth-c", f"{CLI}/24")
        self.cli.offload("veth-c", tso=False, gso=False)
        for k, v in (cli_sysctls or {}).items():
            self.cli.sysctl(k, v)
        self.cli_mac = self.cli.mac("veth-c")
        self.spin_mac = self.srv.mac("veth-s")
        self.sock = str(tmp_path / "spin.sock")
        if services is None:
            services = ("service tcp-echo port 7\nservice tcp-discard port 9\n"
                        "service tcp-chargen port 19\nservice udp-echo port 7\n")
        self.conf = tmp_path / f"{name}.conf"
        self.conf.write_text(
            f"name {name}\ncontrol {self.sock}\nloop {loop}\nlog quiet\n"
            f"pool buffers 16384\n"
            f"interface eth0 driver afpacket dev veth-s\n"
            f"address eth0 {SPIN}/24\n"
            f"arp eth0 {CLI} {self.cli_mac}\n"
            f"route 198.18.0.0/15 via {CLI}\n"
            f"{services}{extra}\n")
        self.p = lab.spawn([str(build_dir / "spin"), "run", str(self.conf)], ns=self.srv)
        self.p.wait_line("spin: running", timeout=10 * SLOW)

    # --- control ------------------------------------------------------------
    def ctl(self, *cmd, check=True):
        r = subprocess.run([str(self.build_dir / "spin"), "ctl", "--socket", self.sock,
                            *map(str, cmd)], capture_output=True, text=True, timeout=10 * SLOW)
        if check:
            assert r.returncode == 0, (cmd, r.stdout, r.stderr)
        return r

    def stats(self):
        """`spin ctl tcp stats` as {name: int}."""
        out = self.ctl("tcp", "stats").stdout
        return {l.split()[0]: int(l.split()[1]) for l in out.splitlines() if len(l.split()) == 2}

    def drops(self, node="tcp"):
        out = self.ctl("counters", node).stdout
        return {m.group(1): int(m.group(2))
                for m in re.finditer(r"^\s+drop (\S+) (\d+)$", out, re.M)}

    def services(self):
        """`spin ctl tcp services` as {name: {field: int}}."""
        res = {}
        for l in self.ctl("tcp", "services").stdout.splitlines():
            w = l.split()
            res[w[0]] = {w[i]: int(w[i + 1]) for i in range(1, len(w) - 1, 2)}
        return res

    def diag(self):
        """What to look at when a transfer failed: TCP's counters and
        connections, the services, the fault nodes (best effort)."""
        out = []
        for cmd in (("tcp",), ("tcp", "services"), ("fault",)):
            try:
                r = self.ctl(*cmd, check=False)
                out.append(f"$ spin ctl {' '.join(cmd)}\n" +
                           "\n".join(l for l in r.stdout.splitlines() if not l.endswith(" 0")))
            except Exception as e:  # noqa: BLE001 - diagnostics only
                out.append(f"{cmd}: {e}")
        return "\n".join(out)

    def fetch(self, dst, port, send=None, recv=None, send_bytes=None):
        cmd = ["tcp", "fetch", dst, port]
        if send:
            cmd += ["send", send]
        if send_bytes:
            cmd += ["send-bytes", send_bytes]
        if recv:
            cmd += ["recv", recv]
        out = self.ctl(*cmd).stdout.split()
        assert out[0] == "fetch", out
        return int(out[1])

    def fetch_status(self, fid):
        w = self.ctl("tcp", "fetch", fid).stdout.split()
        return {w[i]: w[i + 1] for i in range(0, len(w) - 1, 2)}

    def wait_fetch(self, fid, timeout):
        end = time.monotonic() + timeout * SLOW
        while True:
            st = self.fetch_status(fid)
            if st["state"] == "done" or time.monotonic() > end:
                return st
            time.sleep(0.1)

    def only_timewait(self):
        """True when every connection left (listeners aside) is in
        TIME_WAIT: what an active close by spin legitimately leaves."""
        rows = [l.split()[0] for l in self.ctl("tcp", "conns").stdout.splitlines()
                if l and not l.startswith("listen ")]
        return all(r == "TIME_WAIT" for r in rows)

    def wait_idle(self, timeout=10, keys=("curr_estab", "sndq_bytes", "ooo_bytes",
                                          "pool_outstanding")):
        """Waits until every key of `tcp stats` is 0 (and live_conns counts
        only TIME_WAIT connections); returns the last stats."""
        end = time.monotonic() + timeout * SLOW
        while True:
            st = self.stats()
            if (all(st.get(k, 0) == 0 for k in keys) and self.only_timewait()) or \
                    time.monotonic() > end:
                return st
            time.sleep(0.2)

    # --- Linux peers --------------------------------------------------------
    def peer(self, *args, ns=None):
        """Spawns tcp_peer.py in the client namespace (or ns)."""
        return self.lab.spawn([PY, PEER, *map(str, args)], ns=ns or self.cli)

    def stop_clean(self):
        rc = self.p.stop(timeout=10 * SLOW)
        assert rc == 0, (rc, self.p.lines[-5:], self.p.stderr[-2000:])
        assert "leak" not in self.p.stderr, self.p.stderr[-2000:]
        assert "ERROR: AddressSanitizer" not in self.p.stderr, self.p.stderr[-3000:]


def peer_result(proc, timeout):
    """The DONE json of a tcp_peer.py process."""
    proc.wait_line("DONE", timeout=timeout * SLOW)
    return proc.json_line("DONE ")


sys.path.insert(0, str(HERE))
