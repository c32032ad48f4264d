"""Network namespaces, veth pairs and processes for wire tests.

Everything a test creates is recorded in a Lab and removed by Lab.close(),
which the `lab` fixture (tests/wire/conftest.py) calls in a finalizer, so a
failing test still cleans up.  Names carry the pytest process id so parallel
runs and leftovers of a crashed run never collide:

    ns = lab.netns("peer")                 # spin-peer-<pid>-<n>
    a, b = lab.veth(ns_spin, "sp0", ns, "pe0")
    ns.addr("pe0", "198.18.1.1/24"); ns.up("pe0")
    proc = lab.spawn(["prog", "--seconds", "5"], ns=ns_spin)
    proc.wait_line("READY", timeout=5)

Rules kept here (DESIGN.md, Lab networks): namespaces only, addresses from
198.18.0.0/15 and 2001:db8::/32, nothing touches the root namespace's
interfaces, every wait is bounded, spawned processes are killed by pid.
"""
import itertools
import json
import os
import select
import signal
import subprocess
import time

_counter = itertools.count()


def run(cmd, check=True, timeout=20, **kw):
    """Runs cmd (a list) and returns its CompletedProcess; bounded in time."""
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if check and res.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({res.returncode}): "
                           f"{res.stderr.strip()}")
    return res


class Netns:
    """One network namespace.  Create through Lab.netns."""

    def __init__(self, name):
        self.name = name
        run(["ip", "netns", "add", name])
        self.alive = True
        self.ip("link", "set", "lo", "up")

    def exec_prefix(self):
        return ["ip", "netns", "exec", self.name]

    def sh(self, *cmd, check=True, timeout=20):
        return run(self.exec_prefix() + list(cmd), check=check, timeout=timeout)

    def ip(self, *args, check=True):
        return run(["ip", "-n", self.name] + list(args), check=check)

    def up(self, ifname):
        self.ip("link", "set", ifname, "up")

    def addr(self, ifname, cidr):
        self.ip("addr", "add", cidr, "dev", ifname)

    def neigh(self, ifname, addr, mac):
        """A permanent neighbour entry (the peer of spin does no ARP)."""
        self.ip("neigh", "replace", addr, "lladdr", mac, "dev", ifname, "nud", "permanent")

    def mac(self, ifname):
        out = self.ip("-j", "link", "show", ifname).stdout
        return json.loads(out)[0]["address"]

    def sysctl(self, key, value):
        self.sh("sysctl", "-q", "-w", f"{key}={value}")

    def disable_ipv6(self, ifname):
        self.sysctl(f"net.ipv6.conf.{ifname}.disable_ipv6", 1)

    def offload(self, ifname, **features):
        """ethtool -K ifname feature on|off ...; e.g. offload('pe0', rx=False)."""
        args = []
        for k, v in features.items():
            args += [k.replace("_", "-"), "on" if v else "off"]
        self.sh("ethtool", "-K", ifname, *args)

    def snmp(self, proto="Udp"):
        """The counters of one protocol from /proc/net/snmp, as a dict."""
        lines = [l.split() for l in self.sh("cat", "/proc/net/snmp").stdout.splitlines()
                 if l.startswith(proto + ":")]
        return dict(zip(lines[0][1:], map(int, lines[1][1:])))

    def delete(self):
        if self.alive:
            run(["ip", "netns", "del", self.name], check=False)
            self.alive = False


class Proc:
    """A spawned process with line-oriented stdout.  Create through Lab.spawn."""

    def __init__(self, cmd, ns=None, env=None):
        full = (ns.exec_prefix() if ns else []) + list(cmd)
        self.cmd = full
        self.p = subprocess.Popen(full, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  env=env, start_new_session=True)
        self.lines = []
        self._buf = b""
        self.stderr = ""

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

    def wait_line(self, prefix, timeout=10):
        """Waits until a stdout line starts with prefix; returns the line."""
        end = time.monotonic() + timeout
        seen = 0
        while True:
            for line in self.lines[seen:]:
                if line.startswith(prefix):
                    return line
            seen = len(self.lines)
            left = end - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no '{prefix}' line from {self.cmd} in {timeout} s; "
                                   f"stdout {self.lines}, stderr {self._stderr_now()}")
            if self._read(left) is None:
                raise RuntimeError(f"{self.cmd} exited ({self.p.wait()}) before '{prefix}'; "
                                   f"stdout {self.lines}, stderr {self._stderr_now()}")

    def _stderr_now(self):
        if self.p.poll() is not None and not self.stderr:
            self.stderr = self.p.stderr.read().decode(errors="replace")
        return self.stderr

    def stop(self, timeout=5):
        """SIGTERM, then SIGKILL after timeout; returns the exit status.
        Reads the rest of stdout and stderr."""
        if self.p.poll() is None:
            try:
                os.kill(self.p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        return self.wait(timeout)

    def wait(self, timeout=10):
        end = time.monotonic() + timeout
        while self.p.poll() is None and time.monotonic() < end:
            self._read(0.1)
        if self.p.poll() is None:
            try:
                os.kill(self.p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.p.wait(5)
        while self._read(0) is True:
            pass
        self._stderr_now()
        return self.p.returncode

    def json_line(self, prefix):
        """The JSON object after prefix on the last such stdout line."""
        for line in reversed(self.lines):
            if line.startswith(prefix):
                return json.loads(line[len(prefix):])
        raise KeyError(f"no '{prefix}' line; stdout {self.lines}, stderr {self.stderr}")


class Lab:
    """Everything one test creates; close() removes it all."""

    def __init__(self, tag="t"):
        self.tag = tag
        self.namespaces = []
        self.procs = []

    def netns(self, role):
        ns = Netns(f"spin-{role}-{os.getpid()}-{next(_counter)}")
        self.namespaces.append(ns)
        return ns

    def veth(self, ns_a, if_a, ns_b, if_b):
        """A veth pair with one end in each namespace (created there directly,
        never in the root namespace).  Returns (mac_a, mac_b)."""
        run(["ip", "link", "add", if_a, "netns", ns_a.name, "type", "veth",
             "peer", "name", if_b, "netns", ns_b.name])
        return ns_a.mac(if_a), ns_b.mac(if_b)

    def spawn(self, cmd, ns=None, env=None):
        p = Proc(cmd, ns=ns, env=env)
        self.procs.append(p)
        return p

    def close(self):
        for p in self.procs:
            if p.p.poll() is None:
                p.stop(timeout=3)
        for ns in reversed(self.namespaces):
            ns.delete()


def leftover_namespaces():
    """Namespaces of this process that still exist (a test's own check)."""
    out = run(["ip", "netns", "list"]).stdout
    mine = f"-{os.getpid()}-"
    return [l.split()[0] for l in out.splitlines() if mine in l]
