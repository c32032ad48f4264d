"""Namespace topologies for the latency lab (docs/lab.md).

The first lab's topology: one Linux client namespace with two veth links,
one to the appliance's namespace and one to a Linux server namespace, built
the same way so the two paths differ only in what answers at the far end.

      client ns (CPU 0)                        appl ns (CPU 1)
    +-------------------+   veth  198.18.1.0/24  +------------------------+
    | c1  198.18.1.1    |------------------------| a1  (no IPv4, no IPv6) |
    |                   |                        |  owned via AF_PACKET by |
    |                   |                        |  spin / rawrefl / DPDK  |
    |                   |   veth  198.18.2.0/24  +------------------------+
    | c2  198.18.2.1    |------------------------| s2  198.18.2.2          |
    +-------------------+                        |  server ns (CPU 1):     |
                                                 |  Linux kernel UDP echo  |
                                                 +------------------------+

The appliance side answers as 198.18.1.2 with a1's MAC; the client has a
static neighbour entry for it (the raw reflector and testpmd do no ARP), and
so does the server side's client entry, so both paths skip ARP alike.  On
both client ends transmit checksum offload is off (ethtool -K c1 tx off), so
frames carry finished checksums and a reflector that does no protocol work
can send them back unchanged (PERF-NOTES, CHECKSUM_PARTIAL); TSO/GSO follow.
IPv6 is disabled on every lab link so no ND/MLD chatter reaches a reflector.

Names carry the process id and a per-run random tag, so parallel runs and
leftovers never collide.  Topology.close() removes every namespace it made
(deleting a namespace deletes its veth ends); it runs from a finally block,
from atexit, and from SIGINT/SIGTERM handlers that install_cleanup_signals()
sets, so an interrupted run leaves nothing behind.  Every command is bounded
in time; processes are started in their own session and killed by pid.

Reuse: Topology(tag).netns(role), .veth(ns_a, if_a, ns_b, if_b),
.spawn(cmd, ns, ...), or build_first_lab(tag) for the layout above.
Python: Debian's /usr/bin/python3, standard library only.
"""
import atexit
import json
import os
import secrets
import select
import signal
import subprocess
import time

ADDR = {
    "client_a": "198.18.1.1", "appl": "198.18.1.2",
    "client_s": "198.18.2.1", "server": "198.18.2.2",
}


def run(cmd, check=True, timeout=20):
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check and res.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {res.returncode}: {res.stderr.strip()}")
    return res


class Proc:
    """A process in a namespace, line-buffered stdout read without blocking."""

    def __init__(self, cmd, ns=None, stdin=subprocess.DEVNULL):
        self.cmd = (["ip", "netns", "exec", ns] if ns else []) + list(cmd)
        self.p = subprocess.Popen(self.cmd, stdin=stdin, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, start_new_session=True)
        self.lines, self._buf, self.err = [], b"", ""

    @property
    def pid(self):
        return self.p.pid

    def _read(self, timeout):
        r, _, _ = select.select([self.p.stdout], [], [], max(timeout, 0))
        if not r:
            return False
        chunk = os.read(self.p.stdout.fileno(), 65536)
        if not chunk:
            return None
        self._buf += chunk
        while b"\n" in self._buf:
            line, self._buf = self._buf.split(b"\n", 1)
            self.lines.append(line.decode(errors="replace"))
        return True

    def wait_line(self, needle, timeout=10):
        """Waits for a stdout line containing needle; returns it."""
        end = time.monotonic() + timeout
        seen = 0
        while True:
            for line in self.lines[seen:]:
                if needle in line:
                    return line
            seen = len(self.lines)
            left = end - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no '{needle}' from {self.cmd[-8:]} in {timeout}s: "
                                   f"{self.lines[-5:]}")
            if self._read(left) is None:
                self.p.wait()
                raise RuntimeError(f"{self.cmd} exited {self.p.returncode} before "
                                   f"'{needle}': {self.lines[-5:]} "
                                   f"{self.p.stderr.read().decode(errors='replace')[-600:]}")

    def stop(self, timeout=5, sig=signal.SIGTERM):
        """Signals the process by pid, waits, then SIGKILLs it; returns its status."""
        if self.p.poll() is None:
            try:
                os.kill(self.p.pid, sig)
            except ProcessLookupError:
                pass
        end = time.monotonic() + timeout
        while self.p.poll() is None and time.monotonic() < end:
            self._read(0.05)
        if self.p.poll() is None:
            try:
                os.killpg(self.p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.p.wait(5)
        while self._read(0) is True:
            pass
        try:
            self.err = self.p.stderr.read().decode(errors="replace")
        except (OSError, ValueError):
            pass
        return self.p.returncode

    def json_after(self, prefix):
        for line in reversed(self.lines):
            if line.startswith(prefix):
                return json.loads(line[len(prefix):])
        return None


class Topology:
    """Namespaces and processes of one lab run; close() removes them all."""

    _live = []

    def __init__(self, tag="lab"):
        self.tag = f"{tag}{os.getpid()}{secrets.token_hex(2)}"
        self.namespaces = []
        self.procs = []
        self.cleanups = []  # callables run by close(), after the processes stop
        Topology._live.append(self)

    def name(self, role):
        return f"spin-{role}-{self.tag}"

    def netns(self, role):
        name = self.name(role)
        run(["ip", "netns", "add", name])
        self.namespaces.append(name)
        self.ip(name, "link", "set", "lo", "up")
        self.sysctl(name, "net.ipv6.conf.all.disable_ipv6", 1)
        self.sysctl(name, "net.ipv6.conf.default.disable_ipv6", 1)
        return name

    @staticmethod
    def ip(ns, *args, check=True):
        return run(["ip", "-n", ns] + [str(a) for a in args], check=check)

    @staticmethod
    def sh(ns, *cmd, check=True, timeout=20):
        return run(["ip", "netns", "exec", ns] + [str(c) for c in cmd], check=check,
                   timeout=timeout)

    @classmethod
    def sysctl(cls, ns, key, value):
        cls.sh(ns, "sysctl", "-q", "-w", f"{key}={value}")

    @classmethod
    def mac(cls, ns, ifname):
        return json.loads(cls.ip(ns, "-j", "link", "show", ifname).stdout)[0]["address"]

    def veth(self, ns_a, if_a, ns_b, if_b):
        """A veth pair created directly inside the two namespaces (never in the
        root namespace); returns (mac_a, mac_b)."""
        run(["ip", "link", "add", if_a, "netns", ns_a, "type", "veth",
             "peer", "name", if_b, "netns", ns_b])
        return self.mac(ns_a, if_a), self.mac(ns_b, if_b)

    def spawn(self, cmd, ns=None, stdin=subprocess.DEVNULL):
        p = Proc(cmd, ns, stdin)
        self.procs.append(p)
        return p

    def close(self):
        for p in self.procs:
            try:
                p.stop(timeout=3)
            except Exception:  # noqa: BLE001 - cleanup must go on
                pass
        self.procs = []
        for fn in self.cleanups:
            try:
                fn()
            except Exception:  # noqa: BLE001 - cleanup must go on
                pass
        self.cleanups = []
        for ns in self.namespaces:
            run(["ip", "netns", "del", ns], check=False)
        self.namespaces = []
        if self in Topology._live:
            Topology._live.remove(self)


def _close_all():
    for t in list(Topology._live):
        t.close()


INTERRUPTED = []


def interrupted():
    """The signal that interrupted the run, or None."""
    return INTERRUPTED[0] if INTERRUPTED else None


def install_cleanup_signals():
    """SIGINT/SIGTERM/SIGHUP remove every live topology at once, then raise
    KeyboardInterrupt in the main thread (callers exit 128 + signal)."""
    def handler(sig, _frame):
        INTERRUPTED.append(sig)
        signal.signal(sig, signal.SIG_IGN)
        _close_all()
        raise KeyboardInterrupt(f"signal {sig}")
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, handler)


atexit.register(_close_all)


def build_first_lab(tag="lab"):
    """Builds the layout in the module docstring; returns (topology, info dict)."""
    t = Topology(tag)
    try:
        cl, ap, sv = t.netns("cl"), t.netns("ap"), t.netns("sv")
        _, appl_mac = t.veth(cl, "c1", ap, "a1")
        client_s_mac, server_mac = t.veth(cl, "c2", sv, "s2")
        client_a_mac = t.mac(cl, "c1")
        # The appliance end: up, quiet (no IPv4 address, IPv6 off), owned by
        # whatever runs there through AF_PACKET.
        t.sysctl(ap, "net.ipv6.conf.a1.disable_ipv6", 1)
        t.ip(ap, "link", "set", "a1", "up")
        t.ip(cl, "addr", "add", f"{ADDR['client_a']}/24", "dev", "c1")
        t.ip(cl, "addr", "add", f"{ADDR['client_s']}/24", "dev", "c2")
        t.ip(sv, "addr", "add", f"{ADDR['server']}/24", "dev", "s2")
        for ns, ifn in ((cl, "c1"), (cl, "c2"), (sv, "s2")):
            t.sysctl(ns, f"net.ipv6.conf.{ifn}.disable_ipv6", 1)
            t.ip(ns, "link", "set", ifn, "up")
        # Same client settings on both paths: finished checksums, no TSO/GSO.
        for ifn in ("c1", "c2"):
            t.sh(cl, "ethtool", "-K", ifn, "tx", "off", "tso", "off", "gso", "off")
        t.ip(cl, "neigh", "replace", ADDR["appl"], "lladdr", appl_mac, "dev", "c1",
             "nud", "permanent")
        t.ip(cl, "neigh", "replace", ADDR["server"], "lladdr", server_mac, "dev", "c2",
             "nud", "permanent")
        t.ip(sv, "neigh", "replace", ADDR["client_s"], "lladdr", client_s_mac, "dev", "s2",
             "nud", "permanent")
        info = {"client_ns": cl, "appl_ns": ap, "server_ns": sv,
                "appl_if": "a1", "appl_mac": appl_mac, "client_a_if": "c1",
                "client_a_mac": client_a_mac, "client_s_if": "c2",
                "server_if": "s2", "server_mac": server_mac, **ADDR}
        return t, info
    except BaseException:
        t.close()
        raise


if __name__ == "__main__":
    # Self-check: build, print, remove.
    install_cleanup_signals()
    topo, inf = build_first_lab("chk")
    try:
        print(json.dumps(inf, indent=1))
        print(Topology.ip(inf["client_ns"], "-br", "addr").stdout)
    finally:
        topo.close()
